"""build_mail writes its MIME by hand: for varied and hostile values, the
standard library must read back what the stdlib-built message of the same
values said (the reference below is the former implementation, EmailMessage
with policy.SMTP), and the output must keep to the line limits."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import Address, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage, Message
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esp_coord.intake import parse_mail
from esp_coord.intake.text_clean import normalise_text, one_line
from esp_coord.outgoing import OutAttachment, build_mail, render_html

BOT = "coordination@esp-valdelorge.mssante.test"
WHEN = datetime(2026, 11, 24, 18, 5, tzinfo=UTC)
ICS = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n"
       b"UID:RCP-2026-001@esp-valdelorge.mssante.test\r\nSUMMARY:R\xc3\xa9union\r\n"
       b"END:VEVENT\r\nEND:VCALENDAR\r\n")


class _Ids(UnstructuredHeader):
    max_count = 1

    def fold(self, *, policy: policy.Policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"  # type: ignore[attr-defined]


_REGISTRY = HeaderRegistry()
for _name in ("message-id", "in-reply-to", "references"):
    _REGISTRY.map_to_type(_name, _Ids)  # type: ignore[arg-type]
_POLICY = policy.SMTP.clone(header_factory=_REGISTRY)


def reference(*, sender_name: str, to: list[tuple[str, str]], subject: str, text: str,
              message_id: str, date: datetime, in_reply_to: str | None = None,
              references: list[str] | None = None,
              attachments: tuple[OutAttachment, ...] = ()) -> bytes:
    """The former build_mail, on already valid values."""
    def literal(value: str) -> str:
        return one_line(value).replace("=?", "=\u2060?")

    def address(name: str, addr: str) -> Address:
        local, domain = addr.rsplit("@", 1)
        return Address(display_name=literal(name)[:200], username=local, domain=domain)

    msg = EmailMessage(policy=_POLICY)
    msg["From"] = address(sender_name, BOT)
    msg["To"] = [address(n, a) for n, a in to]
    msg["Subject"] = literal(subject)[:250]
    msg["Date"] = date
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    clean = normalise_text(text)
    msg.set_content(clean, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(render_html(clean, one_line(subject)), subtype="html",
                        charset="utf-8", cte="quoted-printable")
    for a in attachments:
        if a.inline_alternative:
            msg.add_alternative(a.data.decode("utf-8", "replace"), subtype="calendar",
                                charset="utf-8", cte="base64", params={"method": "REQUEST"})
    for a in attachments:
        main, sub = a.content_type.split(";")[0].split("/")
        msg.add_attachment(a.data, maintype=main, subtype=sub, filename=a.filename,
                           params={"method": "REQUEST"} if sub == "calendar" else {})
    return msg.as_bytes(policy=_POLICY)


class _Replied:
    """What build_mail reads of the mail it answers."""

    def __init__(self, message_id: str, references: tuple[str, ...]) -> None:
        self.message_id = message_id
        self.references = references


def _squash(value: str) -> str:
    # The stdlib keeps the space between two encoded words of a display name
    # (RFC 2047 says drop it); the two builders split names differently.
    return value.replace(" ", "").replace("\u2060", "")


def _leaves(msg: Message) -> list[tuple[Any, ...]]:
    out = []
    for part in msg.walk():
        if part.is_multipart():
            out.append((part.get_content_type(),))
            continue
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            content = content.replace("\r\n", "\n")
        params = sorted((k, v) for k, v in part.get_params() or [] if k != part.get_content_type())
        out.append((part.get_content_type(), params, part.get_filename(), content,
                    part.get_content_disposition()))
    return out


def parts(raw: bytes) -> list[tuple[Any, ...]]:
    msg = email.message_from_bytes(raw, policy=policy.default)
    for part in msg.walk():
        assert not part.defects, part.defects
    return _leaves(msg)


def semantics(raw: bytes) -> dict[str, Any]:
    msg = email.message_from_bytes(raw, policy=policy.default)
    return {
        "names": sorted(k for k in msg),
        "from": [(_squash(a.display_name), a.addr_spec) for a in msg["From"].addresses],
        "to": [(_squash(a.display_name), a.addr_spec) for a in msg["To"].addresses],
        "subject": str(msg["Subject"]).replace("\u2060", ""),
        "date": msg["Date"].datetime,
        "ids": [" ".join(str(msg[h]).split()) if msg[h] else None
                for h in ("Message-ID", "In-Reply-To", "References")],
        "auto": (str(msg["Auto-Submitted"]), str(msg["X-Auto-Response-Suppress"])),
        "parts": parts(raw),
    }


def check_lines(raw: bytes) -> None:
    raw.decode("ascii")
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    head, _, body = raw.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        # Only a single word that cannot be folded may pass 78 (a long id).
        assert len(line) <= 78 or len(line.split()) <= 2, line
        assert len(line) <= 998
        assert line.strip(), "a whitespace-only header line"
    for line in body.split(b"\r\n"):
        assert len(line) <= 76 or line.startswith(b"Content-"), line


def both(**values: Any) -> tuple[bytes, bytes]:
    replied = values.pop("replied", None)
    new = build_mail(sender_address=BOT, date=WHEN, reply_to_mail=replied,  # type: ignore[arg-type]
                     **values)
    extra: dict[str, Any] = {}
    if replied is not None:
        ids = list(dict.fromkeys((*replied.references, replied.message_id)))
        extra = {"in_reply_to": replied.message_id, "references": ids}
    return new, reference(date=WHEN, **values, **extra)


def _shown(value: str, limit: int) -> str:
    return one_line(value).replace("=?", "=\u2060?")[:limit].strip().replace("\u2060", "")


def assert_same(**values: Any) -> bytes:
    """Headers as meant, bodies and structure as the former build. (The former
    build's headers are no oracle: folding a long display name it dropped the
    quotes, and after some encoded names the stdlib's parser lost an address.)"""
    new, old = both(**values)
    check_lines(new)
    read = semantics(new)
    assert read["from"] == [(_squash(_shown(values["sender_name"], 200)), BOT)]
    assert read["to"] == [(_squash(_shown(n, 200)), a) for n, a in values["to"]]
    assert read["subject"] == _shown(values["subject"], 250)
    assert read["date"] == WHEN
    replied = values.get("replied")
    ids = [values["message_id"], None, None]
    if replied is not None:
        refs = list(dict.fromkeys((*replied.references, replied.message_id)))
        refs = refs[:1] + refs[-19:] if len(refs) > 20 else refs
        ids = [values["message_id"], replied.message_id, " ".join(refs)]
    assert read["ids"] == ids
    if _header_block_intact(old):
        assert read["parts"] == parts(old)
    else:
        # The stdlib's build folded a long display name into an empty line,
        # ending its own header block early: no oracle for the parts there.
        assert read["parts"][0][0].startswith("multipart/")
    return new


def _header_block_intact(raw: bytes) -> bool:
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return b"\nContent-Type:" in head


_HOSTILE = ["\r\nBcc: victim@evil.test", "=?utf-8?q?=0D=0ABcc:_x@evil.test?=", '"', "\\",
            "<a@b.test>", ",", ";", "(", ")", "é", "😀", "\u2028", "\x00", "\t", "  ",
            "=?", "?=", "\u00a0", "\u202f", "ｅ", "Ω", "\ufeff", "a" * 80, "é" * 50]
_chars = st.text(max_size=40) | st.sampled_from(_HOSTILE)
_values = st.lists(_chars, max_size=6).map("".join)
# Valid msg-ids (RFC 5322: some atext on each side of "@"; others are left
# out of the threading headers, see tests/unit/test_outgoing_ids.py).
_ids = st.from_regex(r"<[A-Za-z0-9$%_-][A-Za-z0-9.$%_-]{0,89}@[a-z0-9-][a-z0-9.-]{0,29}>",
                     fullmatch=True)
_address = st.from_regex(r"[a-z0-9_+-]{1,12}(\.[a-z0-9_+-]{1,8})?@[a-z0-9-]{1,15}\.(test|fr)",
                         fullmatch=True)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sender_name=_values, names=st.lists(st.tuples(_values, _address), min_size=1, max_size=4),
       subject=_values, text=_values | st.text(max_size=3000), message_id=_ids,
       replied=st.none() | st.builds(_Replied, _ids, st.lists(_ids, max_size=5).map(tuple)))
def test_same_meaning_as_the_stdlib_build(sender_name: str, names: list[tuple[str, str]],
                                          subject: str, text: str, message_id: str,
                                          replied: _Replied | None) -> None:
    raw = assert_same(sender_name=sender_name, to=names, subject=subject, text=text,
                      message_id=message_id, replied=replied)
    header_names = [line.split(b":")[0] for line in raw.partition(b"\r\n\r\n")[0].split(b"\r\n")
                    if not line.startswith(b" ")]
    assert b"Bcc" not in header_names


def test_typical_answer_and_invitation() -> None:
    text = ("Bonjour Claire DURAND,\n\nPlan PPS-2026-0001 créé pour MARTIN Jeanne"
            " (née le 12/03/1941).\n\n" + "Action 1 : passage IDE à domicile\u00a0; " * 8
            + "\n\n-- \nESP du Val de Lorge\n")
    invitation = OutAttachment("invitation.ics", "text/calendar; method=REQUEST", ICS,
                               inline_alternative=True)
    for attachments in ((), (invitation,)):
        assert_same(sender_name="ESP du Val de Lorge",
                    to=[("Claire DURAND", "claire.durand@medecin.mssante.test"),
                        ("Léa FONTAINE", "lea.fontaine@dieteticien.mssante.test"),
                        ("", "ana.costa@esp-valdelorge.mssante.test")],
                    subject="RE: [PPS-2026-0001] Plan créé - MARTIN Jeanne", text=text,
                    message_id="<PPS-2026-0001.ack.1@esp-valdelorge.mssante.test>",
                    replied=_Replied("<" + "a" * 90 + "@mail.test>",
                                     tuple(f"<r{i}@x.test>" for i in range(30))),
                    attachments=attachments)


def test_encoded_names_read_exactly_by_an_rfc_2047_decoder() -> None:
    name = "Équipe de soins primaires du Val de Lorge et des communes alentour"
    raw = build_mail(sender_address=BOT, sender_name=name, to=[("Éva", "eva@x.test")],
                     subject="é " * 60, text="x", message_id="<a@b.test>", date=WHEN)
    msg = email.message_from_bytes(raw, policy=policy.compat32)
    assert str(make_header(decode_header(msg["From"]))) == f"{name} <{BOT}>"
    assert str(make_header(decode_header(msg["Subject"]))) == ("é " * 60).strip()
    assert parse_mail(raw).subject == ("é " * 60).strip()


def test_date_keeps_its_offset_and_a_naive_date_is_utc() -> None:
    paris = datetime(2026, 11, 24, 19, 5, tzinfo=timezone(timedelta(hours=1)))
    for date, shown in ((paris, "+0100"), (datetime(2026, 11, 24, 18, 5), "+0000")):
        raw = build_mail(sender_address=BOT, sender_name="", to=[("", "a@x.test")],
                         subject="x", text="x", message_id="<a@b.test>", date=date)
        assert re.search(rb"\r\nDate: Tue, 24 Nov 2026 1\d:05:00 " + re.escape(shown.encode()), raw)
        assert parse_mail(raw).date == WHEN


def test_non_ascii_addresses_are_refused() -> None:
    for address in ("é@x.test", "a@é.test"):
        try:
            build_mail(sender_address=BOT, sender_name="", to=[("", address)], subject="x",
                       text="x", message_id="<a@b.test>", date=WHEN)
        except ValueError:
            continue
        raise AssertionError("accepted a non-ASCII address")
