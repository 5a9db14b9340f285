"""Which incoming mails the service acts on at all, decided from the header block alone.

One rule for the processor (which then records, quarantines or hands the mail
to a handler) and for ``esp-coord parse`` (which reports why a mail would be
left aside), so that the two cannot disagree. ``read_and_triage`` is the
processor's way in: it reads the body only of a mail from a team member, or
of a mail from a trusted domain whose header block announces a document
archive (``received.convention``), so that whatever a stranger or a robot
puts in a body costs nothing.

A **document** (outcome ``document``) is a mail from a trusted domain that
carries an ``IHE_XDM.ZIP`` archive and whose header block announced it (the
subject convention or ``X-MSS-CODECDA``): a hospital, a laboratory, any
professional of the trust space who is not on the roster (a correspondent)
may send documents, never commands. A correspondent's mail that is not such
a document stays quarantined as before. A member's document takes the same
path (``member`` is then set).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from esp_coord import witness
from esp_coord.config import Config, Member, domain_is_trusted
from esp_coord.crypto import Keyring
from esp_coord.intake import IncomingMail, content_key, parse_head, read_body
from esp_coord.received.convention import announces_xdm, carries_xdm

__all__ = ["Triage", "claims_own_copy", "may_be_document", "read_and_triage", "triage"]


@dataclass(frozen=True)
class Triage:
    outcome: str  # own-copy | ignored | quarantined | accepted | document
    reason: str | None  # English, for ``esp-coord parse``; None when accepted
    member: Member | None  # the sender, when accepted (or a member's document)
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
    member = config.member(mail.from_address) if mail.from_address else None
    trusted = bool(mail.from_address) and domain_is_trusted(mail.from_address,
                                                            config.trusted_domains)
    if trusted and announces_xdm(mail) and carries_xdm(mail):
        # Before the robot signs: a hospital's platform sends its documents as
        # an automatic mail (Auto-Submitted, a no-reply address); the document
        # is what matters, and it is never answered but by the MDN it asks for.
        who = "a member" if member is not None else "a correspondent of the trust space"
        return Triage("document", f"document archive (IHE XDM) from {who}", member)
    if mail.automatic:
        # Auto-replies, bounces, receipts, lists: never answered (no loops).
        return Triage("ignored", f"automatic mail ({mail.automatic}): never answered", None)
    # No answer at all to unknown senders: no backscatter, nothing revealed.
    if not mail.from_address:
        return Triage("quarantined", "no usable sender address: quarantined", None,
                      "no-sender")
    if member is None:
        return Triage("quarantined", "sender not on the team roster: quarantined, no answer",
                      None, "not-on-roster")
    if not trusted:
        return Triage("quarantined", "sender domain not trusted: quarantined, no answer", None,
                      "untrusted-domain")
    return Triage("accepted", None, member)


def may_be_document(mail: IncomingMail, config: Config) -> bool:
    """From the header block alone: a trusted domain announcing an archive."""
    return (bool(mail.from_address) and announces_xdm(mail)
            and domain_is_trusted(mail.from_address, config.trusted_domains))


def read_and_triage(raw: bytes, config: Config, keyring: Keyring | None
                    ) -> tuple[IncomingMail, Triage]:
    """The mail as far as the service needs to read it, and its verdict: the
    header block always, the body only when a team member sent it or the
    header block announces a document from a trusted domain (then its MIME
    structure tells whether the archive is there)."""
    limits = config.limits
    mail = parse_head(raw, max_message_bytes=limits.max_message_bytes)
    verdict = triage(mail, config, keyring)
    if (verdict.code == "not-on-roster" or verdict.outcome == "ignored") \
            and may_be_document(mail, config):
        mail = read_body(raw, mail, max_attachment_bytes=limits.max_attachment_bytes)
        verdict = triage(mail, config, keyring)
    elif verdict.outcome == "accepted":
        mail = read_body(raw, mail, max_attachment_bytes=limits.max_attachment_bytes)
        verdict = triage(mail, config, keyring)
    if verdict.outcome == "quarantined":
        # Keyed by its content, not by a Message-ID anyone can write: a
        # stranger's mail (or a forged copy of our own) can then never make a
        # member's mail, or our real copy, look already processed.
        mail = replace(mail, dedup_key=content_key(raw))
    return mail, verdict
