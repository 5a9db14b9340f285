"""What every parsed mail must look like, and mutations of the example mails:
the property tests of intake (tests/unit) and its fuzzing (tests/fuzz) share them."""

from __future__ import annotations

from hypothesis import strategies as st

from esp_coord.intake import IncomingMail
from tests.support.paths import EXAMPLES

__all__ = ["FRAGMENTS", "SEEDS", "check", "mutate", "mutations"]

EXAMPLE_MAILS = EXAMPLES / "messages"
SEEDS = [p.read_bytes() for p in sorted(EXAMPLE_MAILS.glob("*.eml"))] or [
    b"From: a@b.test\r\nSubject: x\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
]
FRAGMENTS = [
    b"\r\n",
    b"\n\n",
    b"\r",
    b"\x00",
    b"\xff\xfe",
    b"=?",
    b"?=",
    b"=?utf-8?b?",
    b"=?x-bad?q?=E9?=",
    b"<",
    b">",
    b"\r\n> ",
    b"\r\n-- \r\n",
    b"Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\n",
    b"Content-Type: text/html; charset=foo\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"--z--",
    b"<p>",
    b"<blockquote>",
    b"&nbsp;",
    b"From: x, y <z>\r\n",
    b"Return-Path: <>\r\n",
    "é".encode(),
    "\u2028".encode(),
]

mutations = st.lists(
    st.one_of(
        st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(0, 255)),
        st.tuples(st.just("insert"), st.integers(0, 10**6), st.sampled_from(FRAGMENTS)),
        st.tuples(st.just("cut"), st.integers(0, 10**6), st.integers(0, 200)),
    ),
    max_size=8,
)


def mutate(raw: bytes, ops: list[tuple[str, int, object]]) -> bytes:
    data = bytearray(raw)
    for kind, position, arg in ops:
        pos = position % (len(data) + 1)
        if kind == "flip" and data:
            data[pos % len(data)] = int(arg)  # type: ignore[call-overload]
        elif kind == "insert":
            data[pos:pos] = arg  # type: ignore[assignment]
        elif kind == "cut":
            del data[pos : pos + int(arg)]  # type: ignore[call-overload]
    return bytes(data)


def check(mail: IncomingMail, raw: bytes) -> None:
    assert mail.size == len(raw)
    for one_line in (mail.subject, mail.from_name, mail.from_address, mail.message_id or ""):
        assert "\r" not in one_line and "\n" not in one_line
        one_line.encode("utf-8")  # no lone surrogate
    for field in (*mail.in_reply_to, *mail.references):
        assert field.startswith("<") and field.endswith(">") and "\n" not in field
    assert mail.from_address == mail.from_address.lower()
    assert mail.date is None or mail.date.tzinfo is not None
    assert mail.dedup_key.startswith(("mid:", "sha256:"))
    mail.text.encode("utf-8")
    assert "\r" not in mail.text
    text_lines = mail.text.split("\n")
    assert (mail.text + "x").splitlines() == mail.text.split("\n")[:-1] + [text_lines[-1] + "x"]
    if mail.body:
        for number, line in enumerate(mail.body.split("\n")):
            assert line == text_lines[number] or not line.strip()
        assert mail.body.split("\n")[-1].strip()
    for attachment in mail.attachments:
        assert attachment.size >= 0
