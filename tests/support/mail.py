"""Raw test mails, and the addresses of the example team they go between."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

from tests.support.paths import EXAMPLE_MESSAGES

BOT = "coordination@esp-valdelorge.mssante.test"
CLAIRE = "claire.durand@medecin.mssante.test"
JULIEN = "julien.marie@infirmier.mssante.test"
SOPHIE = "sophie.leroy@pharmacien.mssante.test"
KARIM = "karim.benali@mk.mssante.test"
ANA = "ana.costa@esp-valdelorge.mssante.test"
# Not in the example roster: the recipient of the SMTP adapter's tests.
NURSE = "sophie.leroy@infirmiers-lorge.mssante.test"
SECRET_BODY = "Patiente MARTIN Jeanne, INS 248067512345687"
# The login the SMTP front of the integration tests asks for.
SMTP_USER = ("coordination", "s3cret-pass")


def mail(subject: str, body: str, *, sender: str = CLAIRE, name: str = "Claire DURAND",
         extra: str = "") -> bytes:
    """A plain-text mail from a member to the bot, with a fresh Message-ID;
    ``extra`` is more header lines (each ending in CRLF)."""
    mid = make_msgid(domain=sender.split("@")[1])
    return (f"From: {name} <{sender}>\r\nTo: {BOT}\r\n"
            f"Subject: {subject}\r\nDate: Mon, 23 Nov 2026 09:12:44 +0100\r\n"
            f"Message-ID: {mid}\r\n{extra}MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            f"{body}\r\n").encode()


def numbered_mail(i: int, *, mid: str | None = None) -> bytes:
    """Mail number ``i`` of a mailbox test: its Message-ID and body tell which."""
    mid = mid or f"<contract-{i}@cabinet.mssante.test>"
    return (f"From: Infirmière {i} <ide{i}@cabinet.mssante.test>\r\n"
            f"To: {BOT}\r\n"
            f"Subject: message {i}\r\nMessage-ID: {mid}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            f"Corps du message n° {i}, accentué.\r\n").encode()


def padded(i: int, size: int) -> bytes:
    """``numbered_mail(i)`` grown to about ``size`` bytes of body lines."""
    line = b"Ligne de compte rendu, sans rien de particulier.\r\n"
    return numbered_mail(i) + line * (size // len(line))


def answer_mail(to: str = NURSE, body: str = SECRET_BODY) -> bytes:
    """An answer of the bot as the SMTP adapter sends it (LF line ends)."""
    msg = EmailMessage()
    msg["From"] = BOT
    msg["To"] = to
    msg["Subject"] = "[PPS-2026-0001] Accusé de réception"
    msg.set_content(body)
    return msg.as_bytes()


def example(name: str) -> bytes:
    """An example mail of the repository (``config/examples/messages``), by file name."""
    return (EXAMPLE_MESSAGES / name).read_bytes()
