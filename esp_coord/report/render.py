"""The report as a self-contained HTML page (inline SVG charts, printable), as
CSV, and as plain text for the mail.

Outside the team (the default), a count of patients under 5 is shown as
« < 5 »: the ARS gets the figures, never a number small enough to point at
someone. The per-patient annex (plan references and dates, nothing else) is
only for the coordination (``annex=True``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from html import escape

from esp_coord.report.indicators import Figure, Report
from plans.dates import format_date

SMALL = 5
NBSP = "\u00a0"
_BAR_COLOURS = ("#2b6cb0", "#2f855a", "#b7791f", "#9b2c2c", "#553c9a", "#2c7a7b")


def number(value: float | int) -> str:
    """French style: decimal comma, thin spaces between thousands."""
    if isinstance(value, float) and not value.is_integer():
        whole, _, decimals = f"{value:,.1f}".partition(".")
        return whole.replace(",", "\u202f") + "," + decimals
    return f"{int(value):,}".replace(",", "\u202f")


def shown(figure: Figure, value: float | int | str | None, *, external: bool) -> str:
    if value is None:
        return "non disponible"
    if isinstance(value, str):
        return value
    if external and figure.count and 0 < value < SMALL:
        return f"<{NBSP}{SMALL}"
    unit = f"{NBSP}{figure.unit}" if figure.unit else ""
    return number(value) + unit


def _chart(figure: Figure, *, external: bool) -> str:
    """Horizontal bars, one per entry of the breakdown, in inline SVG."""
    items = list(figure.breakdown.items())[:12]
    if not items:
        return ""
    top = max(v for _, v in items) or 1
    row, label_w, bar_w = 22, 210, 300
    height = row * len(items) + 8
    parts = [f'<svg class="chart" role="img" aria-label="{escape(figure.label)}" '
             f'width="{label_w + bar_w + 70}" height="{height}" '
             f'viewBox="0 0 {label_w + bar_w + 70} {height}" xmlns="http://www.w3.org/2000/svg">']
    for i, (name, value) in enumerate(items):
        y = 4 + i * row
        hidden = external and figure.count and 0 < value < SMALL
        width = max(2, round(bar_w * (SMALL if hidden else value) / max(top, SMALL if hidden
                                                                         else 1)))
        text = f"<{NBSP}{SMALL}" if hidden else number(value)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="12">'
            f'{escape(str(name)[:40])}</text>'
            f'<rect class="bar" x="{label_w}" y="{y}" width="{width}" height="{row - 6}" '
            f'fill="{_BAR_COLOURS[i % len(_BAR_COLOURS)]}"/>'
            f'<text x="{label_w + width + 6}" y="{y + 14}" font-size="12">{text}</text>')
    parts.append("</svg>")
    return "".join(parts)


_STYLE = """
@page { size: A4; margin: 18mm 15mm; }
body { font-family: "DejaVu Sans", Arial, sans-serif; color: #1a202c; max-width: 60em;
       margin: 2em auto; line-height: 1.4; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; border-bottom: 2px solid #2b6cb0; padding-bottom: 0.2em;
     margin-top: 1.6em; page-break-after: avoid; }
.figure { margin: 0.7em 0; page-break-inside: avoid; }
.value { font-size: 1.25em; font-weight: bold; }
.how { color: #4a5568; font-size: 0.9em; margin: 0.1em 0 0.3em; }
.target { color: #2f855a; font-size: 0.9em; }
table.annex { border-collapse: collapse; font-size: 0.9em; }
table.annex td, table.annex th { border: 1px solid #cbd5e0; padding: 2px 8px; }
.note { color: #4a5568; font-size: 0.85em; }
"""


def to_html(report: Report, *, external: bool = True, annex: bool = False) -> str:
    p = report.period
    out = ['<!DOCTYPE html>\n<html lang="fr"><head><meta charset="utf-8">',
           f"<title>Rapport d’activité — {escape(report.team)} — {escape(p.label)}</title>",
           f"<style>{_STYLE}</style></head><body>",
           "<h1>Rapport d’activité de l’équipe de soins primaires</h1>",
           f'<p class="team">{escape(report.team)} — période : {escape(p.label)} '
           f"(du {format_date(p.start)} au {format_date(p.end)})</p>"]
    if external:
        out.append(f'<p class="note">Les effectifs de patients inférieurs à {SMALL} sont '
                   f"affichés «{NBSP}<{NBSP}{SMALL}{NBSP}». Ce rapport ne contient ni nom, ni "
                   "date de naissance, ni INS.</p>")
    for section in report.sections:
        out.append(f'<section><h2>{escape(section.title)}</h2>')
        for f in section.figures:
            out.append(f'<div class="figure" id="{f.key}"><div><span class="label">'
                       f"{escape(f.label)} : </span><span class=\"value\">"
                       f"{escape(shown(f, f.value, external=external))}</span>")
            if f.target is not None:
                out.append(f' <span class="target">(objectif de l’équipe : '
                           f"{escape(shown(f, f.target, external=False))})</span>")
            out.append(f'</div><p class="how">{escape(f.how)}</p>')
            out.append(_chart(f, external=external))
            out.append("</div>")
        out.append("</section>")
    if annex:
        out.append("<section><h2>Annexe : plans de la période</h2>"
                   '<table class="annex"><tr><th>Plan</th><th>Créé le</th><th>Clos le</th></tr>')
        out += [f"<tr><td>{escape(ref)}</td><td>{created}</td><td>{closed}</td></tr>"
                for ref, created, closed in report.annex]
        out.append("</table></section>")
    out.append("</body></html>\n")
    return "".join(out)


def to_csv(report: Report, *, external: bool = True) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(["section", "indicateur", "clé", "valeur", "unité", "objectif", "détail",
                     "méthode"])
    for section in report.sections:
        for f in section.figures:
            detail = " | ".join(f"{k} : {_csv_value(f, v, external)}"
                                for k, v in f.breakdown.items())
            writer.writerow([section.title, f.label, f.key, _csv_value(f, f.value, external),
                             f.unit, "" if f.target is None else number(f.target), detail,
                             f.how])
    return buffer.getvalue()


def _csv_value(f: Figure, value: float | int | str | None, external: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if external and f.count and 0 < value < SMALL:
        return f"<{SMALL}"
    return number(value).replace("\u202f", "")


def to_text(report: Report) -> str:
    """The figures in the mail's text (for the coordination: exact counts)."""
    lines = [f"Rapport d’activité — {report.team} — {report.period.label}", ""]
    for section in report.sections:
        lines.append(section.title)
        for f in section.figures:
            lines.append(f"- {f.label} : {shown(f, f.value, external=False)}")
        lines.append("")
    return "\n".join(lines)


def headline(report: Report) -> Mapping[str, str]:
    keys = ("plans_active", "meetings_held", "share_reviewed", "followups_on_time")
    return {report.figure(k).label: shown(report.figure(k), report.figure(k).value,
                                          external=False) for k in keys}
