"""Building the mails the service sends: answers, notices, invitations.

Pure: bytes out, no I/O. Every value that may come from a user (names,
subject, text) is reduced to one clean line before it becomes a header, so
no CR/LF can inject a header (a Bcc, say). The HTML version is the escaped
text: nothing a user wrote is ever markup.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage

from esp_coord.intake import IncomingMail
from esp_coord.intake.text_clean import normalise_text, one_line

_TAG_CHARS = re.compile(r"[^A-Za-z0-9.-]+")
_MSG_ID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")
_ADDR = re.compile(r"[^\s@<>()\[\],;:\\\"]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+")
_TOKEN = re.compile(r"[A-Za-z0-9!#$&^_.+-]+")
_AUTO_SUBMITTED = frozenset(("auto-replied", "auto-generated", "auto-notified"))
_MAX_REFERENCES = 20
_MAX_SUBJECT = 250


class _MessageIdsHeader(UnstructuredHeader):
    """Message-ID, In-Reply-To, References: folded between ids, never encoded.

    The stdlib folds a long id of these headers into RFC 2047 encoded words,
    which breaks threading in every mail client.
    """

    max_count = 1

    def fold(self, *, policy: policy.Policy) -> str:
        name = self.name  # type: ignore[attr-defined]
        lines = [f"{name}:"]
        for msg_id in str(self).split():
            if len(lines[-1]) + 1 + len(msg_id) > 78 and lines[-1] != f"{name}:":
                lines.append("")
            lines[-1] += " " + msg_id
        return policy.linesep.join(lines) + policy.linesep


_REGISTRY = HeaderRegistry()
for _name in ("message-id", "in-reply-to", "references"):
    # A mixin, as HeaderRegistry documents; typeshed wants a BaseHeader.
    _REGISTRY.map_to_type(_name, _MessageIdsHeader)  # type: ignore[arg-type]
_POLICY = policy.SMTP.clone(header_factory=_REGISTRY)


def make_message_id(domain: str, tag: str = "") -> str:
    """A unique "<tag.uuid@domain>"; the tag tells what the message is about."""
    clean_tag = re.sub(r"\.{2,}", ".", _TAG_CHARS.sub("", tag)).strip(".")[:64]
    clean_domain = re.sub(r"\.{2,}", ".", _TAG_CHARS.sub("", domain)).strip(".") or "localhost"
    unique = uuid.uuid4().hex
    return f"<{clean_tag}.{unique}@{clean_domain}>" if clean_tag else f"<{unique}@{clean_domain}>"


@dataclass(frozen=True)
class OutAttachment:
    filename: str
    content_type: str  # e.g. "text/calendar; method=REQUEST"
    data: bytes
    # True for an iCalendar invitation: also added as a text/calendar
    # alternative so that mail clients show "add to calendar".
    inline_alternative: bool = False


def _literal(value: str) -> str:
    """One line of user text for a header, shown as typed.

    The header parser (and every mail client) decodes "=?charset?q?...?="
    found in a header as RFC 2047: text that only looks like an encoded word
    would be shown decoded (a sender's "=?utf-8?q?=0D=0A...?=" as a line
    break) or, with an unknown charset, crash the rendering. An invisible
    word joiner after each "=" of "=?" keeps the text literal.
    """
    return one_line(value).replace("=?", "=\u2060?")


def _address(name: str, address: str) -> Address:
    addr = one_line(address)
    if not _ADDR.fullmatch(addr):
        raise ValueError("not a plain e-mail address")  # no value: it may be personal data
    local, domain = addr.rsplit("@", 1)
    return Address(display_name=_literal(name)[:200], username=local, domain=domain)


def _content_type(value: str) -> tuple[str, str, dict[str, str]]:
    main, _, rest = value.partition(";")
    maintype, _, subtype = main.strip().lower().partition("/")
    if not (_TOKEN.fullmatch(maintype) and _TOKEN.fullmatch(subtype)):
        raise ValueError(f"bad content type {value!r}")
    params: dict[str, str] = {}
    for item in rest.split(";"):
        key, sep, val = item.partition("=")
        if sep and _TOKEN.fullmatch(key.strip()):
            params[key.strip().lower()] = one_line(val).strip('"')
    return maintype, subtype, params


def _references(mail: IncomingMail) -> list[str]:
    ids = [i for i in (*mail.references, mail.message_id) if i and _MSG_ID.fullmatch(i)]
    ids = list(dict.fromkeys(ids))
    if len(ids) > _MAX_REFERENCES:  # RFC 5322 3.6.4: keep the root and the latest
        ids = ids[:1] + ids[-(_MAX_REFERENCES - 1) :]
    return ids


def render_html(text: str, title: str) -> str:
    """The text as a simple HTML page: one paragraph per block of lines."""
    paragraphs = re.split(r"\n[ \t]*\n", text.strip("\n"))
    body = "\n".join(
        '<p style="margin:0 0 1em 0;white-space:pre-wrap">'
        + "<br>\n".join(html.escape(line) for line in paragraph.split("\n"))
        + "</p>"
        for paragraph in paragraphs
        if paragraph.strip()
    )
    return (
        '<!DOCTYPE html>\n<html lang="fr">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n"
        '<body style="font-family:Arial,Helvetica,sans-serif;font-size:14px;'
        'line-height:1.4;color:#222">\n'
        f"{body}\n</body>\n</html>\n"
    )


def build_mail(
    *,
    sender_address: str,
    sender_name: str,
    to: Sequence[tuple[str, str]],
    subject: str,
    text: str,
    message_id: str,
    date: datetime,
    reply_to_mail: IncomingMail | None = None,
    auto_submitted: str = "auto-replied",
    attachments: Sequence[OutAttachment] = (),
) -> bytes:
    """One complete message, CRLF line endings, ready for SMTP DATA.

    ``to`` holds (name, address) pairs. Raises ValueError on programming
    errors (bad address, message id, content type, Auto-Submitted value).
    """
    if not to:
        raise ValueError("no recipient")
    if not _MSG_ID.fullmatch(message_id):
        raise ValueError("message_id must look like <id@domain>")
    if auto_submitted not in _AUTO_SUBMITTED:
        raise ValueError(f"Auto-Submitted must be one of {sorted(_AUTO_SUBMITTED)}")
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = _address(sender_name, sender_address)
    msg["To"] = [_address(name, address) for name, address in to]
    msg["Subject"] = _literal(subject)[:_MAX_SUBJECT]
    msg["Date"] = date if date.tzinfo is not None else date.replace(tzinfo=UTC)
    msg["Message-ID"] = message_id
    if reply_to_mail is not None:
        if reply_to_mail.message_id and _MSG_ID.fullmatch(reply_to_mail.message_id):
            msg["In-Reply-To"] = reply_to_mail.message_id
        references = _references(reply_to_mail)
        if references:
            msg["References"] = " ".join(references)
    msg["Auto-Submitted"] = auto_submitted
    msg["X-Auto-Response-Suppress"] = "All"

    clean_text = normalise_text(text)
    msg.set_content(clean_text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(
        render_html(clean_text, one_line(subject)),
        subtype="html",
        charset="utf-8",
        cte="quoted-printable",
    )
    for attachment in attachments:
        maintype, subtype, params = _content_type(attachment.content_type)
        if attachment.inline_alternative and maintype == "text":
            msg.add_alternative(
                attachment.data.decode("utf-8", "replace"),
                subtype=subtype,
                charset="utf-8",
                cte="base64",
                params=params,
            )
    for attachment in attachments:
        maintype, subtype, params = _content_type(attachment.content_type)
        filename = one_line(attachment.filename).replace("/", "_").replace("\\", "_")
        msg.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype,
            filename=filename or "piece-jointe",
            params=params,
        )
    return msg.as_bytes(policy=_POLICY)
