"""Fuzzing intake: whatever the bytes, parse_mail returns clean values, never raises."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from esp_coord.intake import parse_mail
from tests.fuzz.strategies import deep_nesting, hostile_mail, mime, seeded
from tests.support.intake import SEEDS, check, mutate, mutations


@given(st.binary(max_size=3000))
def test_arbitrary_bytes(raw: bytes) -> None:
    check(parse_mail(raw), raw)


@given(seeded(hostile_mail))
def test_hostile_mail(raw: bytes) -> None:
    check(parse_mail(raw), raw)


@given(seeded(mime))
def test_broken_mime_without_headers(raw: bytes) -> None:
    check(parse_mail(raw), raw)


@given(seeded(deep_nesting), st.integers(1, 30))
def test_deep_nesting_and_small_limits(raw: bytes, limit: int) -> None:
    mail = parse_mail(raw, max_message_bytes=limit * 200, max_attachment_bytes=limit)
    check(mail, raw)
    if len(raw) > limit * 200:
        assert mail.too_large is not None and mail.text == ""


@given(st.sampled_from(SEEDS), mutations)
def test_mutated_examples(seed: bytes, ops: list[tuple[str, int, object]]) -> None:
    raw = mutate(seed, ops)
    check(parse_mail(raw), raw)
