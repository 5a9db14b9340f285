"""INDICATEURS: the evaluation report by mail, for the coordination.

The figures come in the mail's text (exact: the coordination is inside the
team), the report as attachments meant to leave it: the HTML page, its PDF
(the file for the ARS) and the CSV, where counts of patients under 5 read
« < 5 ». For anyone else the command does not exist: the answer is the one
an unknown command gets.
"""

from __future__ import annotations

from esp_coord.answers import Answer, reply_subject
from esp_coord.outgoing import OutAttachment
from esp_coord.processing import Request
from esp_coord.report.gather import build_report
from esp_coord.report.pdf import html_to_pdf
from esp_coord.report.render import to_csv, to_html, to_text
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
    html = to_html(report, external=True)
    stem = "rapport-activite-" + period.label.replace(" ", "-").replace("/", "-")
    text = (f"Bonjour {request.sender.name},\n\n{to_text(report)}\n"
            "En pièces jointes, le rapport à transmettre : la page HTML (graphiques, "
            "imprimable), le PDF et le tableau CSV. Les effectifs de patients inférieurs à 5 "
            "y sont affichés « < 5 » et aucun patient n’y est nommé.\n")
    return [Answer(subject=reply_subject(request.mail.subject,
                                         f"Rapport d’activité {period.label}"),
                   text=text, attachments=(
                       OutAttachment(f"{stem}.html", "text/html; charset=utf-8",
                                     html.encode("utf-8")),
                       OutAttachment(f"{stem}.pdf", "application/pdf", html_to_pdf(html)),
                       OutAttachment(f"{stem}.csv", "text/csv; charset=utf-8",
                                     to_csv(report).encode("utf-8"))))]
