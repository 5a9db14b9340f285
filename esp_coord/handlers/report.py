"""INDICATEURS: the evaluation report by mail, for the coordination.

The figures and the files of ``esp_coord.report.mail``. For anyone else the
command does not exist: the answer is the one an unknown command gets.

Known cost, left as it is: the files are rendered inside the mail's
transaction, since an answer becomes an outbox row in that transaction (the
exactly-once rule of ``processing``). The figures are read in a few
milliseconds, the HTML in under one, but the PDF (WeasyPrint) takes 0.3 to
1 s of CPU, during which the write transaction stays open (SQLite's write
lock; on PostgreSQL, the audit head's row lock), and the scheduled report
(``scheduling.report_schedule``) does the same once per coordinator. Moving
it out is not a local change: it needs an outbox row whose attachment is
rendered later, outside any transaction (by the delivery, or by a job that
renders and then enqueues under the row's key, to stay exactly-once). Worth
doing if INDICATEURS becomes frequent or the team large.
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
