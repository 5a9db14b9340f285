"""Answers to mails whose header values no ASCII header can carry.

RFC 6532 lets a mail carry UTF-8 in its Message-ID, References, Subject and
display names; the service sends without SMTPUTF8. Whatever the incoming mail
holds, the answer is built: pure ASCII in its header block, read back by the
standard library as meant; an id that cannot be written (or is no valid
msg-id) is left out of In-Reply-To and References.
"""

from __future__ import annotations

import dataclasses
import email
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esp_coord.answers import Answer, render_answer
from esp_coord.config import Config
from esp_coord.entrypoints.demo import example_config
from esp_coord.intake import IncomingMail, parse_mail
from esp_coord.intake.text_clean import one_line
from esp_coord.outgoing import build_mail, valid_message_id
from esp_coord.processing import failure_answer

NOW = datetime(2026, 11, 25, 7, 30, tzinfo=UTC)
CONFIG = example_config(Path("/nonexistent"), "ids")
MEMBER = CONFIG.members[2]  # Julien MARIE


def incoming(*, message_id: str | None, references: tuple[str, ...] = (), subject: str = "AIDE",
             from_name: str = "") -> IncomingMail:
    return IncomingMail(
        dedup_key="mid:x", message_id=message_id, from_address=MEMBER.email,
        from_name=from_name, return_path=MEMBER.email, subject=subject, date=NOW,
        in_reply_to=(), references=references, text="AIDE\n", body="AIDE", automatic=None,
        witness=None, size=100, attachments=(), too_large=None, defects=(), body_digest="")


def config_named(name: str) -> Config:
    members = tuple(dataclasses.replace(m, name=name) if m.email == MEMBER.email else m
                    for m in CONFIG.members)
    return dataclasses.replace(CONFIG, members=members)


def readable(raw: bytes) -> EmailMessage:
    """The answer as the recipient's client reads it; its header block is ASCII
    and keeps to the line limit of RFC 5322."""
    head, sep, _ = raw.partition(b"\r\n\r\n")
    assert sep and head.isascii()
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert not message.defects, message.defects
    return message


def literal(value: str, limit: int) -> str:
    """What a header shows of a user's value (see outgoing._literal)."""
    return one_line(value).replace("=?", "=\u2060?")[:limit].rstrip()


HOSTILE_IDS = [
    "<idé@exemple.fr>",  # RFC 6532
    "<id@médecin.mssante.fr>",
    "<\u4e2d\u6587@example.cn>",
    "<a\udcc3\udca9@x.test>",  # raw 8-bit header bytes, as the parser gives them
    "<a\ufffd\ufffd@x.test>",
    "<a b@x.test>",
    "<a\x00b@x.test>",
    "<a\tb@x.test>",
    '<"quoted"@x.test>',
    "<a,b@x.test>",
    "<a(comment)@x.test>",
    "<no-at-sign>",
    "<@x.test>",
    "<a@>",
    "<a@b@c>",
    "<" + "a" * 600 + "@x.test>",
    "",
    "<>",
    "<a@x.test",
    "a@x.test",
]
VALID_IDS = ["<a@x.test>", "<CAE=1a+b/c?d@mail.gmail.com>", "<1234..5678@old.host>",
             "<abc.@x.test>", "<id@[192.0.2.1]>", "<PPS-2026-0001.ack.1@esp.test>"]


@pytest.mark.parametrize("bad", HOSTILE_IDS)
def test_an_id_no_ascii_header_can_carry_is_left_out(bad: str) -> None:
    mail = incoming(message_id=bad, references=("<root@x.test>", bad, "<ok@x.test>"))
    out = render_answer(failure_answer(mail), config=CONFIG, now=NOW, incoming=mail)
    message = readable(out.raw)
    assert message["In-Reply-To"] is None
    assert str(message["References"]).split() == ["<root@x.test>", "<ok@x.test>"]
    assert out.recipients == (MEMBER.email,)


@pytest.mark.parametrize("good", VALID_IDS)
def test_valid_ids_thread_the_answer(good: str) -> None:
    assert valid_message_id(good)
    mail = incoming(message_id=good, references=(good,))
    message = readable(render_answer(failure_answer(mail), config=CONFIG, now=NOW,
                                     incoming=mail).raw)
    assert str(message["In-Reply-To"]) == good
    assert str(message["References"]) == good


def test_the_answer_to_a_mail_in_utf8_goes_out() -> None:
    """Observed: a UTF-8 Message-ID and References (RFC 6532) made both the
    answer and the failure answer fail: the member got no answer at all."""
    raw = ("From: Julien MARIE <julien.marie@infirmier.mssante.test>\r\n"
           "To: coordination@esp-valdelorge.mssante.test\r\n"
           "Subject: Réunion d'équipe « RCP » =?utf-8?q?caf=C3=A9?=\r\n"
           "Message-ID: <idé.1@infirmier.mssante.test>\r\n"
           "In-Reply-To: <ré@infirmier.mssante.test>\r\n"
           "References: <root@x.test> <ré@infirmier.mssante.test>\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\nAIDE\r\n").encode()
    mail = parse_mail(raw)
    assert mail.message_id is not None and not mail.message_id.isascii()
    for answer in (failure_answer(mail), Answer(subject="RE: " + mail.subject, text="Aide")):
        out = render_answer(answer, config=CONFIG, now=NOW, incoming=mail)
        message = readable(out.raw)
        assert message["In-Reply-To"] is None
        assert str(message["References"]) == "<root@x.test>"
        assert str(message["Subject"]) == "RE: Réunion d'équipe « RCP » café"


_ID_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
_IDS = st.one_of(
    st.none(),
    _ID_TEXT,
    _ID_TEXT.map(lambda t: f"<{t}>"),
    st.tuples(_ID_TEXT, _ID_TEXT).map(lambda p: f"<{p[0]}@{p[1]}>"),
    st.sampled_from(VALID_IDS + HOSTILE_IDS),
)
_TEXT = st.one_of(st.text(max_size=300),
                  st.sampled_from(["=?utf-8?q?=0D=0ABcc:_x@y?=", "é" * 300, "a" * 400,
                                   "RE: « PPS » : c’est ça", "\u2028\x00\ud800"]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message_id=_IDS, references=st.lists(_IDS, max_size=25), subject=_TEXT, name=_TEXT)
def test_any_unicode_ids_subject_and_name(message_id: str | None, references: list[str | None],
                                         subject: str, name: str) -> None:
    refs = tuple(r for r in references if r)
    mail = incoming(message_id=message_id, references=refs, subject=subject, from_name=name)
    config = config_named(name)
    for answer in (failure_answer(mail), Answer(subject=subject, text="Bonjour " + name)):
        out = render_answer(answer, config=config, now=NOW, incoming=mail)
        message = readable(out.raw)
        assert str(message["Subject"]) == literal(answer.subject, 250)
        (to,) = message["To"].addresses
        assert to.addr_spec == MEMBER.email
        # The stdlib keeps the space between two encoded words of a display
        # name (RFC 2047 says drop it; mail clients and the intake do).
        assert to.display_name.replace(" ", "") == literal(name, 200).replace(" ", "")
        threaded = message_id if message_id and valid_message_id(message_id) else None
        assert (str(message["In-Reply-To"]) if message["In-Reply-To"] else None) == threaded
        kept = str(message["References"] or "").split()
        assert all(valid_message_id(i) for i in kept)
        assert set(kept) <= {*refs, message_id}
        assert len(kept) <= 20


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(message_id=_ID_TEXT, references=st.lists(_ID_TEXT, max_size=5), subject=_ID_TEXT,
       name=_ID_TEXT)
def test_any_utf8_header_of_a_parsed_mail(message_id: str, references: list[str], subject: str,
                                          name: str) -> None:
    """The same, from a raw mail with 8-bit UTF-8 headers through the intake."""
    def clean(text: str) -> str:
        return text.replace("\r", " ").replace("\n", " ")

    raw = (f"From: {clean(name)} <{MEMBER.email}>\r\nSubject: {clean(subject)}\r\n"
           f"Message-ID: <{clean(message_id)}>\r\n"
           f"References: {' '.join(f'<{clean(r)}>' for r in references)}\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\nAIDE\r\n"
           ).encode()
    # The sender is a member (the triage answers no one else), whatever its name.
    mail = dataclasses.replace(parse_mail(raw), from_address=MEMBER.email)
    out = render_answer(failure_answer(mail), config=CONFIG, now=NOW, incoming=mail)
    readable(out.raw)


def test_build_mail_refuses_its_own_bad_message_id() -> None:
    with pytest.raises(ValueError):
        build_mail(sender_address=CONFIG.bot_address, sender_name="x",
                   to=[("", MEMBER.email)], subject="x", text="x",
                   message_id="<idé@esp.test>", date=NOW)
