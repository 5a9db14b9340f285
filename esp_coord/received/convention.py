"""How an MSSanté document mail says what it is, from its header block.

Sources: ANS CI-SIS volet « Transmission au LPS de documents CDA provenant
d'un courriel MSSanté » (the subject ``XDM/1.0/DDM+<libellé> <NOM> <prénom>
<date de naissance>``, ``[Annule et remplace]`` before it for a replacement,
``[KO Intégration système !][code]`` before it for an error acknowledgement)
and the Référentiel socle MSSanté #2 as quoted by the DevBox-Santé guide
(doc.devbox-sante.fr, « Entête spécifiques X-MSS »: ECO.2.4.1 ``X-MSS-CODECDA``
carries the code of each CDA document of an attached IHE_XDM archive;
ECO.2.4.2 ``X-MSS-INS``); the archive itself is the attachment
``IHE_XDM.ZIP``.

``announces_xdm`` reads the header block alone: it decides whether the body
of a mail from outside the roster is worth reading at all. ``carries_xdm``
then needs the MIME structure (the attachments' names, never their content).
"""

from __future__ import annotations

import re

from esp_coord.intake import IncomingMail
from plans.normalize import fold

__all__ = ["XDM_ATTACHMENT", "announces_xdm", "carries_xdm", "is_replacement"]

XDM_ATTACHMENT = "IHE_XDM.ZIP"
# Leading tags (« [Annule et remplace] », « [TR] ») and forward prefixes
# before the convention; bounded, matched at the start only.
_LEADING = re.compile(r"(?:\s*(?:\[[^\]\[]{0,40}\]|(?:tr|fwd?|fw|re)\s?:))*\s*", re.IGNORECASE)
_CONVENTION = "XDM/1.0/DDM"
_REPLACEMENT = "[annule et remplace]"


def announces_xdm(mail: IncomingMail) -> bool:
    """The subject convention, or an ``X-MSS-CODECDA`` field."""
    if mail.mss_cda_codes:
        return True
    subject = mail.subject[:512]
    start = _LEADING.match(subject)
    rest = subject[start.end():] if start else subject
    return rest[: len(_CONVENTION)].upper() == _CONVENTION


def carries_xdm(mail: IncomingMail) -> bool:
    """An attachment named ``IHE_XDM.ZIP`` (once the body was read)."""
    return any((a.filename or "").upper() == XDM_ATTACHMENT for a in mail.attachments)


def is_replacement(mail: IncomingMail) -> bool:
    """``[Annule et remplace]`` in the subject (case and accents aside)."""
    return _REPLACEMENT in fold(mail.subject[:512])
