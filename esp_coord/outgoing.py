"""Building the mails the service sends: answers, notices, invitations.

Pure: bytes out, no I/O. Every value that may come from a user (names,
subject, text) is reduced to one clean line before it becomes a header, so
no CR/LF can inject a header (a Bcc, say). The header block is always pure
ASCII (the service sends without SMTPUTF8), whatever the incoming mail held
(RFC 6532 allows UTF-8 there): its subject and names become RFC 2047 encoded
words, and an id of its Message-ID or References that an ASCII header cannot
carry is left out of the threading headers, never a reason for an answer
not to go out. The HTML version is the escaped text: nothing a user wrote is
ever markup.

The MIME is written directly for the one shape the service sends (text and
HTML alternatives, maybe attachments): the standard library's
``EmailMessage`` with ``policy.default`` parses back every header it is given
and cost several milliseconds per answer, the largest single item of a mail's
processing. Headers: ASCII words as typed, other words as RFC 2047 encoded
words (base64 UTF-8), folded at spaces; bodies quoted-printable (attachments
base64), lines CRLF and at most 76 characters. tests/unit/test_outgoing_mime.py
checks that the standard library reads back what was meant.
"""

from __future__ import annotations

import binascii
import html
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import quote

from esp_coord.intake import IncomingMail
from esp_coord.intake.text_clean import normalise_text, one_line

_TAG_CHARS = re.compile(r"[^A-Za-z0-9.-]+")
# RFC 5322 3.6.4 msg-id in ASCII: dot-atom-text on both sides of "@" (runs of
# dots tolerated, as some servers write them), or a domain literal on the
# right. RFC 6532 lets a mail carry UTF-8 ids; a header of an answer sent
# without SMTPUTF8 cannot, and an id with specials ('"', ',', '(', '\\'...)
# may be misread by the recipient's client: such an id is left out of
# In-Reply-To and References (the subject tag "[PPS-...]" still threads).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"\.*{_ATEXT}(?:\.+{_ATEXT})*\.*"
_MSG_ID = re.compile(rf"<{_DOT_ATOM}@(?:{_DOT_ATOM}|\[[!-Z^-~]*\])>")
# Longer ids are cut by the intake anyway (500), and would crowd a line.
_MAX_ID_CHARS = 500
_ADDR = re.compile(r"[^\s@<>()\[\],;:\\\"]+@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+")
_TOKEN = re.compile(r"[A-Za-z0-9!#$&^_.+-]+")
_AUTO_SUBMITTED = frozenset(("auto-replied", "auto-generated", "auto-notified"))
_MAX_REFERENCES = 20
_MAX_SUBJECT = 250
_MAX_NAME = 200
# A word that needs no quoting in a display name (RFC 5322 atext).
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# UTF-8 bytes per encoded word: "=?utf-8?b?...?=" stays within 64 characters,
# so that a line holding one stays under RFC 2047's 76.
_WORD_BYTES = 39
_FOLD_AT = 78


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


def _encoded_words(text: str) -> list[str]:
    """``text`` as RFC 2047 encoded words, never splitting a character."""
    data = text.encode()
    words: list[str] = []
    start = 0
    while start < len(data):
        end = min(start + _WORD_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # inside a UTF-8 sequence
            end -= 1
        words.append(f"=?utf-8?b?{binascii.b2a_base64(data[start:end], newline=False).decode()}?=")
        start = end
    return words


def _unstructured(value: str) -> list[str]:
    """Words of a Subject: ASCII words as typed, each run of other words
    encoded (the space between two encoded words is not part of the text,
    so a run and its inner spaces are encoded together)."""
    words: list[str] = []
    run: list[str] = []
    for word in value.split(" "):
        if word.isascii():
            if run:
                words += _encoded_words(" ".join(run))
                run = []
            words.append(word)
        else:
            run.append(word)
    if run:
        words += _encoded_words(" ".join(run))
    return words


def _phrase(name: str) -> list[str]:
    """A display name: atoms as typed, else one quoted string, else (any
    character beyond ASCII) encoded words."""
    if not name.isascii():
        return _encoded_words(name)
    words = name.split(" ")
    if all(_ATOM.fullmatch(word) for word in words):
        return words
    return ('"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"').split(" ")


def _mailbox(name: str, address: str) -> list[str]:
    """``Name <address>`` as header words. Raises ValueError on anything but
    one plain ASCII address."""
    addr = one_line(address)
    if not (addr.isascii() and _ADDR.fullmatch(addr)):
        raise ValueError("not a plain e-mail address")  # no value: it may be personal data
    display = _literal(name)[:_MAX_NAME].rstrip()
    return [*_phrase(display), f"<{addr}>"] if display else [addr]


def _header(name: str, words: list[str]) -> str:
    """One header line, folded before a word once a line would pass 78
    characters (a longer word keeps a line of its own)."""
    line, lines, bare = f"{name}:", [], True
    for word in words:
        if _CONTROL.search(word):
            raise ValueError(f"control character in the {name} header")
        if not bare and word and len(line) + 1 + len(word) > _FOLD_AT:
            lines.append(line)
            line = ""
        line += " " + word
        bare = False
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def _param(key: str, value: str) -> str:
    """``; key="value"``, or RFC 2231 ``key*=utf-8''...`` beyond ASCII."""
    if value.isascii():
        return f'; {key}="' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"; {key}*=utf-8''{quote(value, safe='')}"


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


def valid_message_id(value: str | None) -> bool:
    """Whether ``value`` is a msg-id that an ASCII header can carry as is."""
    return bool(value) and len(value or "") <= _MAX_ID_CHARS and bool(
        _MSG_ID.fullmatch(value or ""))


def _references(mail: IncomingMail) -> list[str]:
    ids = [i for i in (*mail.references, mail.message_id) if i is not None and valid_message_id(i)]
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


def _qp(text: str) -> bytes:
    """Quoted-printable UTF-8 with CRLF line ends; always ends with a line end."""
    if not text.endswith("\n"):
        text += "\n"
    return binascii.b2a_qp(text.encode(), istext=True).replace(b"\n", b"\r\n")


def _base64(data: bytes) -> bytes:
    return b"".join(binascii.b2a_base64(data[i:i + 57]).replace(b"\n", b"\r\n")
                    for i in range(0, len(data), 57))


def _part(content_type: str, encoding: str, body: bytes, extra: str = "") -> bytes:
    head = f"Content-Type: {content_type}\r\nContent-Transfer-Encoding: {encoding}\r\n{extra}\r\n"
    return head.encode("ascii") + body


def _multipart(subtype: str, parts: list[bytes]) -> tuple[str, bytes]:
    """(Content-Type value, body). "=_" never occurs in quoted-printable nor
    base64 text, so the boundary cannot collide with a part's content."""
    boundary = f"=_{uuid.uuid4().hex}"
    delimiter = f"--{boundary}\r\n".encode()
    body = b"".join(delimiter + part + b"\r\n" for part in parts) + f"--{boundary}--\r\n".encode()
    return f'multipart/{subtype};\r\n boundary="{boundary}"', body


def _text_type(subtype: str, params: dict[str, str]) -> str:
    return f'text/{subtype}; charset="utf-8"' + "".join(
        _param(k, v) for k, v in params.items() if k != "charset")


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
    product_reference: str | None = None,
) -> bytes:
    """One complete message, CRLF line endings, ready for SMTP DATA.

    ``to`` holds (name, address) pairs. Raises ValueError on programming
    errors (bad address, message id, content type, Auto-Submitted value).
    """
    if not to:
        raise ValueError("no recipient")
    if not valid_message_id(message_id):
        raise ValueError("message_id must look like <id@domain>, in ASCII")
    if auto_submitted not in _AUTO_SUBMITTED:
        raise ValueError(f"Auto-Submitted must be one of {sorted(_AUTO_SUBMITTED)}")
    recipients: list[str] = []
    for name, address in to:
        if recipients:
            recipients[-1] += ","
        recipients += _mailbox(name, address)
    head = [
        _header("From", _mailbox(sender_name, sender_address)),
        _header("To", recipients),
        _header("Subject", _unstructured(_literal(subject)[:_MAX_SUBJECT].rstrip())),
        _header("Date", [format_datetime(date if date.tzinfo is not None
                                         else date.replace(tzinfo=UTC))]),
        # Folded between ids, never encoded: an encoded id breaks threading.
        _header("Message-ID", [message_id]),
    ]
    if reply_to_mail is not None:
        # Values of the incoming mail: an id that an ASCII header cannot
        # carry is left out, never a reason for the answer not to go out.
        if valid_message_id(reply_to_mail.message_id):
            head.append(_header("In-Reply-To", [reply_to_mail.message_id or ""]))
        references = _references(reply_to_mail)
        if references:
            head.append(_header("References", references))
    head.append(f"Auto-Submitted: {auto_submitted}\r\nX-Auto-Response-Suppress: All\r\n")
    if product_reference:
        head.append(_header("X-MSS-NIL", _unstructured(_literal(product_reference))))
    head.append("MIME-Version: 1.0\r\n")

    clean_text = normalise_text(text)
    alternatives = [
        _part('text/plain; charset="utf-8"', "quoted-printable", _qp(clean_text)),
        _part('text/html; charset="utf-8"', "quoted-printable",
              _qp(render_html(clean_text, one_line(subject)))),
    ]
    files: list[bytes] = []
    for attachment in attachments:
        maintype, subtype, params = _content_type(attachment.content_type)
        if attachment.inline_alternative and maintype == "text":
            # As text: lines re-ended with CRLF, as RFC 2046 wants for text/*.
            lines = attachment.data.decode("utf-8", "replace").encode().splitlines()
            alternatives.append(_part(_text_type(subtype, params), "base64",
                                      _base64(b"".join(line + b"\r\n" for line in lines))))
        filename = one_line(attachment.filename).replace("/", "_").replace("\\", "_")
        files.append(_part(
            f"{maintype}/{subtype}" + "".join(_param(k, v) for k, v in params.items()),
            "base64", _base64(attachment.data),
            "Content-Disposition: attachment" + _param("filename", filename or "piece-jointe")
            + "\r\n"))
    content_type, body = _multipart("alternative", alternatives)
    if files:
        inner = f"Content-Type: {content_type}\r\n\r\n".encode() + body
        content_type, body = _multipart("mixed", [inner, *files])
    head.append(f"Content-Type: {content_type}\r\n\r\n")
    return "".join(head).encode("ascii") + body
