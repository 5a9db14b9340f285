"""Property tests: parse_mail never raises and always returns clean values."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esp_coord.intake import parse_mail
from tests.support.intake import SEEDS, check, mutate, mutations


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_arbitrary_bytes(raw: bytes) -> None:
    check(parse_mail(raw), raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), mutations)
def test_mutated_examples(seed: bytes, ops: list[tuple[str, int, object]]) -> None:
    raw = mutate(seed, ops)
    check(parse_mail(raw), raw)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300), st.text(max_size=300))
def test_arbitrary_text_in_headers_and_body(subject: str, body: str) -> None:
    raw = (
        b"From: " + subject.encode("utf-8", "surrogatepass") + b" <a@b.test>\r\n"
        b"Subject: " + subject.encode("utf-8", "surrogatepass") + b"\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + body.encode("utf-8", "surrogatepass")
    )
    check(parse_mail(raw), raw)
