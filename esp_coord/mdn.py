"""Acknowledgements of the members' mails: message disposition notifications
(MDN, RFC 8098) shaped as the MSSanté space expects them.

Sources:

- RFC 8098 (Message Disposition Notification, STD 85): the request
  (``Disposition-Notification-To``, 2.1), the report
  (``multipart/report; report-type=disposition-notification``, 3), its
  fields (``Reporting-UA``, ``Original-Recipient``, ``Final-Recipient``,
  ``Original-Message-ID``, ``Disposition``, ``Error``: 3.2).
- ANS, CI-SIS, volet « Transmission au LPS de documents CDA provenant d'un
  courriel MSSanté » (v1.1.3), pages « Structure du MDN (MSSanté) »
  (https://interop.esante.gouv.fr/ig/hl7v2/trans-cda-mss/struct-msg-mdn.html)
  and « Codes erreurs de traitement du message HL7 MDM »
  (https://interop.esante.gouv.fr/ig/hl7v2/trans-cda-mss/error-codes.html);
  their source: github.com/ansforge/IG-hl7v2-volet-trans-lps-doc-cda-courriel-mss,
  input/pagecontent/struct-msg-mdn.md and error-codes.md (commit bb83dc2,
  2025-04-02). What it asks, and what this module does:

  * an MDN only when the mail asked for one (``Disposition-Notification-To``),
    and not automatically when that address differs from ``Return-Path``
    (against loops);
  * ``Disposition: automatic-action/MDN-sent-automatically; processed`` when
    the mail was integrated, ``...; processed/Error: <code>^<libellé>`` when
    it was not;
  * the subject ``[KO Intégration système !][<code>] <objet>`` for an error,
    the mail's own subject otherwise (the guide's ``XDM/1.0/DDM+...`` is the
    subject of the document mail being acknowledged);
  * part 1 human-readable, holding the error's code and label; part 2
    ``message/disposition-notification`` with ``Final-Recipient``,
    ``Original-Message-ID`` and, when the mail carried it,
    ``Original-Recipient``; part 3 the original. The guide puts the original
    body and its attachments there; this service sends back its header block
    only (``text/rfc822-headers``, RFC 8098 3.1 allows either): the member
    wrote the body, a second copy of a patient's data in the outbox and on
    the wire serves nobody.

When an MDN is sent (``receipt_address``): only for a member's mail that the
service answered (the processor decides: never a stranger's, an automatic
mail, a report, a mail left unanswered), whose ``Disposition-Notification-To``
is exactly one plain address equal to its ``Return-Path``, compared without
case (RFC 8098 wants the local part compared with case; MSSanté mailboxes and
our intake are case-blind), in a trusted domain, and not the bot's own. A mail
without ``Return-Path`` gets none, and ``From`` is not used in its place: RFC
8098 2.1 says to send no automatic MDN without a ``Return-Path``; the final
MTA always writes one (RFC 5321 4.4), so its absence means the mail did not
come the ordinary way; and ``From`` already decided who wrote, it must not
decide where robots write too. ``Disposition-Notification-Options`` is not
read (no option changes what this service reports).

The error codes of the ANS table, and the ones this service uses:

====  =====================================================  =====================
code  libellé (ANS)                                          used by esp-coord
====  =====================================================  =====================
900   Version du document incorrecte lors d'une demande de   a replacement that is
      remplacement/suppression                               not a later version
901   Auteur non autorisé à remplacer ou supprimer un        a replacement from
      document                                               another organisation
902   Identifiant patient inconnu                            a document whose INS no
                                                             active plan has (never
                                                             for a member's command:
                                                             "not yours" and "does
                                                             not exist" look alike)
903   INS non présent dans le document                       a document without INS
904   L'INS transmis ne correspond pas exactement à celui    a document whose two INS,
      stocké dans la base du consommateur                    or traits and INS, or
                                                             traits and plan differ
905   L'INS transmis n'est pas complet                       a document's INS without
                                                             all its traits
906   Erreur 'Autre'                                         every mail answered with
                                                             ``Answer.refused``: not
                                                             understood, malformed
                                                             (INS included), refused,
                                                             too large, or failed;
                                                             an archive refused
                                                             (hostile, unreadable)
====  =====================================================  =====================

The documents' codes (900 to 906) are decided by ``esp_coord.received``.

The MDN is built with ``outgoing``'s header helpers: the same ASCII header
block, folding and encodings as every other mail of the service, plus
``Auto-Submitted: auto-replied`` (RFC 3834), ``X-MSS-NIL`` (the product, as on
every mail of the service), threading to the original, and never a
``Disposition-Notification-To`` of its own (RFC 8098 2.1). ``Reporting-UA``
names the bot's domain and that same product.
"""

from __future__ import annotations

import binascii
import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from esp_coord.answers import OutgoingMail
from esp_coord.config import Config, domain_is_trusted
from esp_coord.intake import IncomingMail
from esp_coord.intake.head import block_end
from esp_coord.intake.text_clean import normalise_text
from esp_coord.outgoing import (
    _header,
    _literal,
    _mailbox,
    _multipart,
    _part,
    _qp,
    _references,
    _unstructured,
    valid_message_id,
)
from plans.dates import format_time
from plans.typography import french

__all__ = ["ERROR_CODES", "INTEGRATION_ERROR", "KO_PREFIX", "build_mdn", "disposition",
           "header_block", "mdn_message_id", "mdn_subject", "mdn_text", "receipt_address",
           "render_mdn"]

ERROR_CODES: dict[int, str] = {
    900: "Version du document incorrecte lors d'une demande de remplacement/suppression",
    901: "Auteur non autorisé à remplacer ou supprimer un document",
    902: "Identifiant patient inconnu",
    903: "INS non présent dans le document",
    904: "L'INS transmis ne correspond pas exactement à celui stocké dans la base du "
         "consommateur",
    905: "L'INS transmis n'est pas complet",
    906: "Erreur 'Autre'",
}
# What the service reports for a mail it answered without acting on it.
INTEGRATION_ERROR = 906
KO_PREFIX = "[KO Intégration système !]"
_MODE = "automatic-action/MDN-sent-automatically"
# The original's header block sent back in part 3: a real one is a few kB.
MAX_ORIGINAL_HEADERS = 32 * 1024
_MAX_LINE = 998
_PRODUCT = "esp-coord"


def receipt_address(mail: IncomingMail, config: Config) -> str | None:
    """Where the MDN that ``mail`` asks for goes, or None when none may be
    sent automatically (see the module doc). For a member's answered mail
    only: the caller checks that."""
    to = mail.disposition_to
    if not to or not mail.return_path:  # no request; no Return-Path, or the null one
        return None
    if to != mail.return_path.lower() or to == config.bot_address:
        return None
    if not domain_is_trusted(to, config.trusted_domains):
        return None
    return to


def _ascii(text: str) -> str:
    """``text`` for a field of the report, which is ASCII (RFC 8098 3.1):
    accents folded, anything else dropped."""
    folded = unicodedata.normalize("NFKD", text)
    return "".join(c for c in folded if " " <= c <= "~")


def disposition(error: int | None) -> str:
    """The value of the Disposition field (ANS: ``processed/Error: code^libellé``)."""
    if error is None:
        return f"{_MODE}; processed"
    return f"{_MODE}; processed/Error: {error}^{_ascii(ERROR_CODES[error])}"


def header_block(raw: bytes, limit: int = MAX_ORIGINAL_HEADERS) -> bytes:
    """The header block of ``raw`` (without the blank line), its fields kept
    whole up to ``limit`` bytes: the first field that would pass it, and all
    that follow, are left out. Line ends are LF. Linear."""
    end = block_end(raw)
    block = raw[: end[0]] if end else raw[:limit]
    lines = block.replace(b"\r\n", b"\n").split(b"\n")
    if end is None:
        lines = lines[:-1]  # no blank line within reach: the last line may be cut
    kept: list[bytes] = []
    size = 0
    field: list[bytes] = []
    for line in lines:
        if line[:1] in (b" ", b"\t") and field:
            field.append(line)
            continue
        if field:
            length = sum(len(part) + 1 for part in field)
            if size + length > limit:
                field = []
                break
            kept += field
            size += length
        field = [line] if line else []
    if field and size + sum(len(part) + 1 for part in field) <= limit:
        kept += field
    return b"".join(part + b"\n" for part in kept)


def _headers_part(block: bytes) -> bytes:
    """``text/rfc822-headers``: as it came when it is 7-bit and its lines
    short, else quoted-printable (8-bit or overlong lines)."""
    lines = block.split(b"\n")
    if block.isascii() and all(len(line) <= _MAX_LINE for line in lines) and b"\r" not in block:
        return _part("text/rfc822-headers", "7bit", block.replace(b"\n", b"\r\n"))
    encoded = binascii.b2a_qp(block, istext=True).replace(b"\n", b"\r\n")
    return _part('text/rfc822-headers; charset="utf-8"', "quoted-printable", encoded)


@dataclass(frozen=True)
class _Report:
    reporting_ua: str
    final_recipient: str
    original_recipient: str | None
    original_message_id: str | None
    error: int | None

    def fields(self) -> bytes:
        lines = [f"Reporting-UA: {self.reporting_ua}"]
        if self.original_recipient:
            lines.append(f"Original-Recipient: rfc822;{self.original_recipient}")
        lines.append(f"Final-Recipient: rfc822;{self.final_recipient}")
        if self.original_message_id:
            lines.append(f"Original-Message-ID: {self.original_message_id}")
        lines.append(f"Disposition: {disposition(self.error)}")
        if self.error is not None:
            # RFC 8098 3.2.7: readers of the RFC's grammar find the code here.
            lines.append(f"Error: {self.error}^{_ascii(ERROR_CODES[self.error])}")
        return "".join(line + "\r\n" for line in lines).encode("ascii")


def build_mdn(
    *,
    sender_address: str,
    sender_name: str,
    to: tuple[str, str],
    subject: str,
    text: str,
    message_id: str,
    date: datetime,
    original: IncomingMail,
    reporting_ua: str,
    error: int | None = None,
    original_headers: bytes = b"",
    product_reference: str | None = None,
) -> bytes:
    """One MDN about ``original``, CRLF line ends, ready for SMTP DATA.

    ``to`` is the (name, address) it goes to; ``sender_address`` is the
    Final-Recipient (the mailbox that processed the mail); ``error`` a code
    of ``ERROR_CODES`` or None; ``original_headers`` the original's header
    block (``header_block``), sent back as part 3 when given;
    ``product_reference`` the X-MSS-NIL value, as on every mail. Raises
    ValueError on programming errors (bad address, message id, code).
    """
    if not valid_message_id(message_id):
        raise ValueError("message_id must look like <id@domain>, in ASCII")
    if error is not None and error not in ERROR_CODES:
        raise ValueError(f"unknown MDN error code {error}")
    reporting = _ascii(reporting_ua)
    if not reporting.split(";", 1)[0].strip() or reporting.count(";") > 1 or len(reporting) > 200:
        raise ValueError("Reporting-UA must be 'ua-name[; ua-product]' in ASCII")
    head = [
        _header("From", _mailbox(sender_name, sender_address)),
        _header("To", _mailbox(*to)),
        _header("Subject", _unstructured(_literal(subject)[:250].rstrip())),
        _header("Date", [format_datetime(date if date.tzinfo is not None
                                         else date.replace(tzinfo=UTC))]),
        _header("Message-ID", [message_id]),
    ]
    if valid_message_id(original.message_id):
        head.append(_header("In-Reply-To", [original.message_id or ""]))
    references = _references(original)
    if references:
        head.append(_header("References", references))
    head.append("Auto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\n")
    if product_reference:
        head.append(_header("X-MSS-NIL", _unstructured(_literal(product_reference))))
    head.append("MIME-Version: 1.0\r\n")
    report = _Report(
        reporting_ua=reporting,
        final_recipient=_mailbox("", sender_address)[0],
        original_recipient=original.original_recipient,
        original_message_id=original.message_id if valid_message_id(
            original.message_id) else None,
        error=error,
    )
    parts = [
        _part('text/plain; charset="utf-8"', "quoted-printable", _qp(normalise_text(text))),
        _part("message/disposition-notification", "7bit", report.fields()),
    ]
    if original_headers:
        parts.append(_headers_part(original_headers))
    content_type, body = _multipart("report", parts)
    # RFC 6522: report-type names the second part's type.
    content_type = content_type.replace(
        "multipart/report;", "multipart/report; report-type=disposition-notification;", 1)
    head.append(f"Content-Type: {content_type}\r\n\r\n")
    return "".join(head).encode("ascii") + body


def mdn_subject(subject: str, error: int | None) -> str:
    """The original's subject; with the ANS prefix and the code for an error."""
    subject = " ".join(subject.split()) or "Accusé de traitement"
    return subject if error is None else f"{KO_PREFIX}[{error}] {subject}"


def mdn_text(mail: IncomingMail, config: Config, error: int | None) -> str:
    """Part 1, in French: what became of the mail, and for an error the
    code and label of the ANS table (the guide asks for both)."""
    when = ""
    if mail.date is not None:
        local = mail.date.astimezone(config.timezone)
        when = f" du {local:%d/%m/%Y} à {format_time(local.time())}"
    team = f"de l'équipe {config.team_name}" if config.team_name else "de l'équipe"
    if error is None:
        body = (f"Votre message{when} a été reçu et traité automatiquement par le service "
                f"de coordination {team}. Sa réponse vous est envoyée dans un message "
                "séparé.")
    else:
        body = (f"Votre message{when} n'a pas pu être intégré automatiquement par le "
                f"service de coordination {team}, pour la raison suivante : il n'a pas été "
                f"compris, ou sa demande a été refusée (erreur {error} : "
                f"« {ERROR_CODES[error]} »). Rien n'a été enregistré.\n\n"
                "La réponse du service, envoyée dans un message séparé, dit pourquoi et "
                "comment écrire la demande.")
    return french(f"Bonjour,\n\n{body}\n\n"
                  "Cet accusé de traitement répond à la demande d'accusé de réception de "
                  "votre logiciel de messagerie.\n")


def mdn_message_id(mail: IncomingMail, config: Config) -> str:
    """One id per mail acknowledged: the outbox keeps at most one MDN of it,
    whatever happens."""
    digest = hashlib.sha256(mail.dedup_key.encode("utf-8", "surrogateescape")).hexdigest()
    return f"<mdn.{digest[:32]}@{config.message_id_domain}>"


def render_mdn(mail: IncomingMail, *, config: Config, now: datetime, refused: bool,
               raw: bytes = b"", error: int | None = None,
               text: str | None = None) -> OutgoingMail | None:
    """The MDN ``mail`` asks for, or None when none is to be sent
    (``receipt_address``). ``refused``: the mail was answered without being
    acted on (error 906). ``raw``: the mail, for its header block in part 3.
    A document mail (``esp_coord.received``) gives its own ``error`` (an ANS
    code, None when integrated) and ``text`` (part 1)."""
    to = receipt_address(mail, config)
    if to is None:
        return None
    if error is None:
        error = INTEGRATION_ERROR if refused else None
    names = {m.email: m.name for m in config.members}
    message_id = mdn_message_id(mail, config)
    data = build_mdn(
        sender_address=config.bot_address,
        sender_name=config.bot_name,
        to=(names.get(to, ""), to),
        subject=mdn_subject(mail.subject, error),
        text=text if text is not None else mdn_text(mail, config, error),
        message_id=message_id,
        date=now.astimezone(config.timezone),
        original=mail,
        reporting_ua=f"{config.message_id_domain}; "
                     f"{config.product_reference.replace(';', ' ') or _PRODUCT}",
        error=error,
        original_headers=header_block(raw) if raw else b"",
        product_reference=config.product_reference,
    )
    return OutgoingMail(message_id=message_id, recipients=(to,), raw=data)
