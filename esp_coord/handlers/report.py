"""INDICATEURS: the evaluation report by mail, for the coordination.

The figures and the files of ``esp_coord.report.mail``. For anyone else the
command does not exist: the answer is the one an unknown command gets.
"""

from __future__ import annotations

from esp_coord.answers import Answer, reply_subject
from esp_coord.processing import Request
from esp_coord.report.gather import build_report
from esp_coord.report.mail import report_answer
from plans.commands import Detected
from plans.errors import FieldError
from plans.periods import parse_period

from .basics import not_understood_answer


def indicators(request: Request, detected: Detected) -> list[Answer]:
    if not request.sender.is_coordinator:
        return not_understood_answer(request, detected)
    today = request.now.astimezone(request.config.timezone).date()
    try:
        period = parse_period(detected.raw_args, today=today)
    except FieldError as e:
        return [Answer(subject=reply_subject(request.mail.subject, "Période non reconnue"),
                       text=(f"Bonjour {request.sender.name},\n\nLa période n’a pas été "
                             f"comprise : {e.problem}.\nAttendu : {e.expected}.\n"
                             f"Exemple : INDICATEURS {e.example}\n"), refused=True)]
    report = build_report(request.tx, request.config, period)
    request.tx.audit(request.sender.email, "indicators", None, request.mail.message_id,
                     period.label, request.now)
    return [report_answer(report, name=request.sender.name,
                          subject=reply_subject(request.mail.subject,
                                                f"Rapport d’activité {period.label}"))]
