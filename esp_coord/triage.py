"""Which incoming mails the service acts on at all, decided from the header block alone.

One rule for the processor (which then records, quarantines or hands the mail
to a handler) and for ``esp-coord parse`` (which reports why a mail would be
left aside), so that the two cannot disagree. ``read_and_triage`` is the
processor's way in: it reads the body only of a mail from a team member, so
that whatever a stranger or a robot puts in a body costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from esp_coord import witness
from esp_coord.config import Config, Member, domain_is_trusted
from esp_coord.crypto import Keyring
from esp_coord.intake import IncomingMail, content_key, parse_head, read_body

__all__ = ["Triage", "claims_own_copy", "read_and_triage", "triage"]


@dataclass(frozen=True)
class Triage:
    outcome: str  # own-copy | ignored | quarantined | accepted
    reason: str | None  # English, for ``esp-coord parse``; None when accepted
    member: Member | None  # the sender, when accepted
    # Stable name of the reason, recorded with the mail (the coordinator's
    # quarantine notice words it): forged-copy | no-sender | not-on-roster |
    # untrusted-domain; None otherwise.
    code: str | None = None


def claims_own_copy(mail: IncomingMail, config: Config) -> bool:
    """Looks like the copy of one of the service's answers (it sends itself a
    blind copy); only its witness tag proves it is one."""
    own_domain = "@" + config.message_id_domain + ">"
    return mail.from_address == config.bot_address and (mail.message_id or "").endswith(
        own_domain)


def triage(mail: IncomingMail, config: Config, keyring: Keyring | None) -> Triage:
    """``keyring`` None (``esp-coord parse`` without the key file): a mail
    claiming to be an own copy is taken as one, its tag unchecked."""
    if claims_own_copy(mail, config):
        if keyring is None:
            return Triage("own-copy", "own copy of an answer of the service "
                          "(witness tag not checked without the key)", None)
        if witness.is_genuine(keyring, mail.message_id, mail.witness, mail.body_digest):
            return Triage("own-copy", "own copy of an answer of the service", None)
        # Never answered: it would be a mail to ourselves, and a forger learns nothing.
        return Triage("quarantined", "from the service's own address without its witness "
                      "tag: forged, quarantined, no answer", None, "forged-copy")
    if mail.automatic:
        # Auto-replies, bounces, receipts, lists: never answered (no loops).
        return Triage("ignored", f"automatic mail ({mail.automatic}): never answered", None)
    # No answer at all to unknown senders: no backscatter, nothing revealed.
    if not mail.from_address:
        return Triage("quarantined", "no usable sender address: quarantined", None,
                      "no-sender")
    member = config.member(mail.from_address)
    if member is None:
        return Triage("quarantined", "sender not on the team roster: quarantined, no answer",
                      None, "not-on-roster")
    if not domain_is_trusted(mail.from_address, config.trusted_domains):
        return Triage("quarantined", "sender domain not trusted: quarantined, no answer", None,
                      "untrusted-domain")
    return Triage("accepted", None, member)


def read_and_triage(raw: bytes, config: Config, keyring: Keyring | None
                    ) -> tuple[IncomingMail, Triage]:
    """The mail as far as the service needs to read it, and its verdict: the
    header block always, the body only when a team member sent it."""
    limits = config.limits
    mail = parse_head(raw, max_message_bytes=limits.max_message_bytes)
    verdict = triage(mail, config, keyring)
    if verdict.outcome == "quarantined":
        # Keyed by its content, not by a Message-ID anyone can write: a
        # stranger's mail (or a forged copy of our own) can then never make a
        # member's mail, or our real copy, look already processed.
        mail = replace(mail, dedup_key=content_key(raw))
    elif verdict.outcome == "accepted":
        mail = read_body(raw, mail, max_attachment_bytes=limits.max_attachment_bytes)
    return mail, verdict
