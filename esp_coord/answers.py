"""What a handler asks the service to send, and how it becomes an outbox row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from esp_coord.config import Config
from esp_coord.intake import IncomingMail
from esp_coord.outgoing import OutAttachment, build_mail, make_message_id


@dataclass(frozen=True)
class Answer:
    """One mail to send.

    With no ``to``, it answers the incoming mail: to its sender, threaded under
    it. ``message_id_tag`` names what the mail is about (e.g.
    ``PPS-2026-0001.ack.1``): when ``stable_id`` is set the Message-ID is
    exactly ``<tag@domain>``, so a later reply to it finds the plan again from
    In-Reply-To alone.

    ``refused``: the answer says that the mail was not acted on (not
    understood, malformed, refused: « Rien n'a été fait »); the MDN the
    sender's client asked for then reports an integration error
    (``esp_coord.mdn``).
    """

    subject: str
    text: str
    to: tuple[str, ...] = ()
    attachments: tuple[OutAttachment, ...] = ()
    message_id_tag: str = "ans"
    stable_id: bool = False
    auto_submitted: str = "auto-replied"
    refused: bool = False


def reply_subject(subject: str, fallback: str) -> str:
    """``RE: <subject>`` for an answer, without piling up prefixes."""
    subject = " ".join(subject.split())
    if not subject:
        return fallback
    if subject[:3].lower() in ("re:", "re "):
        return subject
    return f"RE: {subject}"


@dataclass(frozen=True)
class OutgoingMail:
    message_id: str
    recipients: tuple[str, ...]
    raw: bytes


def render_answer(answer: Answer, *, config: Config, now: datetime,
                  incoming: IncomingMail | None) -> OutgoingMail:
    domain = config.message_id_domain
    if answer.stable_id:
        message_id = f"<{answer.message_id_tag}@{domain}>"
    else:
        message_id = make_message_id(domain, answer.message_id_tag)
    threaded = incoming is not None and not answer.to
    recipients: Sequence[str] = answer.to if answer.to else (
        (incoming.from_address,) if incoming is not None else ())
    if not recipients:
        raise ValueError("an answer needs recipients")
    names = {m.email: m.name for m in config.members}
    raw = build_mail(
        sender_address=config.bot_address,
        sender_name=config.bot_name,
        to=[(names.get(a, ""), a) for a in recipients],
        subject=answer.subject,
        text=answer.text,
        message_id=message_id,
        date=now.astimezone(config.timezone),
        reply_to_mail=incoming if threaded else None,
        auto_submitted=answer.auto_submitted,
        attachments=answer.attachments,
        product_reference=config.product_reference,
    )
    return OutgoingMail(message_id=message_id, recipients=tuple(recipients), raw=raw)
