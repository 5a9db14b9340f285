"""The report as a mail to a coordinator: the figures in the text (exact: the
coordination is inside the team), and as attachments the files meant to
leave it, where counts of patients under 5 read « < 5 »: the HTML page, its
PDF (the file for the ARS) and the CSV. Used by INDICATEURS and by the
scheduled report."""

from __future__ import annotations

from esp_coord.answers import Answer
from esp_coord.outgoing import OutAttachment
from esp_coord.report.indicators import Report
from esp_coord.report.pdf import html_to_pdf
from esp_coord.report.render import to_csv, to_html, to_text


def report_answer(report: Report, *, name: str, subject: str,
                  to: tuple[str, ...] = (), auto_submitted: str = "auto-replied",
                  message_id_tag: str = "rapport") -> Answer:
    html = to_html(report, external=True)
    stem = "rapport-activite-" + report.period.label.replace(" ", "-").replace("/", "-")
    text = (f"Bonjour {name},\n\n{to_text(report)}\n"
            "En pièces jointes, le rapport à transmettre : la page HTML (graphiques, "
            "imprimable), le PDF et le tableau CSV. Les effectifs de patients inférieurs à 5 "
            "y sont affichés « < 5 » et aucun patient n’y est nommé.\n")
    return Answer(subject=subject, text=text, to=to, auto_submitted=auto_submitted,
                  message_id_tag=message_id_tag, attachments=(
                      OutAttachment(f"{stem}.html", "text/html; charset=utf-8",
                                    html.encode("utf-8")),
                      OutAttachment(f"{stem}.pdf", "application/pdf", html_to_pdf(html)),
                      OutAttachment(f"{stem}.csv", "text/csv; charset=utf-8",
                                    to_csv(report).encode("utf-8"))))
