"""Which incoming mails the service acts on at all, decided from the mail alone.

One rule for the processor (which then records, quarantines or hands the mail
to a handler) and for ``esp-coord parse`` (which reports why a mail would be
left aside), so that the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from esp_coord.config import Config, Member, domain_is_trusted
from esp_coord.intake import IncomingMail

__all__ = ["Triage", "is_own_copy", "triage"]


@dataclass(frozen=True)
class Triage:
    outcome: str  # own-copy | ignored | quarantined | accepted
    reason: str | None  # English, for ``esp-coord parse``; None when accepted
    member: Member | None  # the sender, when accepted


def is_own_copy(mail: IncomingMail, config: Config) -> bool:
    """The copy of one of the service's answers (it sends itself a blind copy)."""
    own_domain = "@" + config.message_id_domain + ">"
    return mail.from_address == config.bot_address and (mail.message_id or "").endswith(
        own_domain)


def triage(mail: IncomingMail, config: Config) -> Triage:
    if is_own_copy(mail, config):
        return Triage("own-copy", "own copy of an answer of the service", None)
    if mail.automatic:
        # Auto-replies, bounces, receipts, lists: never answered (no loops).
        return Triage("ignored", f"automatic mail ({mail.automatic}): never answered", None)
    # No answer at all to unknown senders: no backscatter, nothing revealed.
    if not mail.from_address:
        return Triage("quarantined", "no usable sender address: quarantined", None)
    member = config.member(mail.from_address)
    if member is None:
        return Triage("quarantined", "sender not on the team roster: quarantined, no answer",
                      None)
    if not domain_is_trusted(mail.from_address, config.trusted_domains):
        return Triage("quarantined", "sender domain not trusted: quarantined, no answer", None)
    return Triage("accepted", None, member)
