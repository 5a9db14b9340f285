"""What the sender of a document is told: the acknowledgement, and nothing else.

Sources: the ANS CI-SIS volet « Transmission au LPS de documents CDA
provenant d'un courriel MSSanté », pages « Structure du MDN » (an MDN when
``Disposition-Notification-To`` asks for one: ``processed``, or
``processed/Error: <code>^<libellé>`` with the subject
``[KO Intégration système !][<code>] <objet>`` and the code and label in the
human-readable part) and « Structure d'un courriel standard » (when no MDN
was asked, an error is told by an ordinary mail with that same subject and
text). ``esp_coord.mdn`` builds the MDN; this module writes its part 1 for
a document, and the ordinary mail.

A correspondent is outside the care team: the text names the document's
fate, never the plan, the patient or who in the team received it. For 902
(no plan has that INS) it says how long the document is kept.
"""

from __future__ import annotations

from datetime import date

from esp_coord.answers import Answer
from esp_coord.config import Config
from esp_coord.intake import IncomingMail
from esp_coord.mdn import ERROR_CODES, mdn_subject
from plans.dates import format_date, format_time
from plans.typography import french

__all__ = ["ko_answer", "receipt_text"]


def _when(mail: IncomingMail, config: Config) -> str:
    if mail.date is None:
        return ""
    local = mail.date.astimezone(config.timezone)
    return f" du {local:%d/%m/%Y} à {format_time(local.time())}"


def receipt_text(mail: IncomingMail, config: Config, error: int | None, *,
                 kept_until: date | None = None) -> str:
    """Part 1 of the MDN of a document mail (and the body of ``ko_answer``)."""
    team = f"de l'équipe {config.team_name}" if config.team_name else "de l'équipe"
    if error is None:
        body = (f"Le document joint à votre message{_when(mail, config)} a été reçu et "
                f"intégré automatiquement par le service de coordination {team}.")
    else:
        body = (f"Le document joint à votre message{_when(mail, config)} n'a pas pu être "
                f"intégré automatiquement par le service de coordination {team}, pour la "
                f"raison suivante : erreur {error} : « {ERROR_CODES[error]} ».")
        if error == 902 and kept_until is not None:
            body += (" La coordination de l'équipe en est informée ; le document est "
                     f"conservé jusqu'au {format_date(kept_until)}.")
        else:
            body += (" La coordination de l'équipe en est informée. Rien n'a été "
                     "enregistré : vous pouvez renvoyer le document corrigé.")
    return french(f"Bonjour,\n\n{body}\n\n"
                  "Ce message est un accusé de traitement automatique ; n'y répondez pas.\n")


def ko_answer(mail: IncomingMail, config: Config, error: int, text: str) -> Answer:
    """The ordinary mail that tells an error when no MDN was asked for."""
    return Answer(subject=mdn_subject(mail.subject, error), text=text,
                  message_id_tag="ko", refused=True)
