"""``esp-coord report --config FILE [--period P | --from D --to D] --format
html|pdf|csv --output FILE [--annex]``: the team's evaluation report.

Reads the configured database with the key file (no mail server needed). The
HTML and PDF are meant to leave the team: counts of patients under 5 are
shown as « < 5 », and nothing names a patient; ``--annex`` adds the plans'
references and dates, for the coordination only. The read is written to the
audit trail with the actor ``cli:<system user>``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from esp_coord.entrypoints.cli_plans import _open, _with_store, actor
from esp_coord.entrypoints.exits import EXIT_STATUS
from esp_coord.report.gather import build_report
from esp_coord.report.indicators import Report
from esp_coord.report.render import headline, to_csv, to_html
from esp_coord.store import Tx
from plans.errors import FieldError
from plans.periods import Period, parse_period


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("report", help="the team's evaluation report (HTML, PDF, CSV)",
                              description=__doc__, epilog=EXIT_STATUS)
    p.add_argument("--config", required=True)
    p.add_argument("--period", default="",
                   help="« 2026 », « T3 2026 » (default: the last full quarter)")
    p.add_argument("--from", dest="start", help="first day, DD/MM/YYYY")
    p.add_argument("--to", dest="end", help="last day, DD/MM/YYYY")
    p.add_argument("--format", choices=("html", "pdf", "csv"), default="html")
    p.add_argument("--output", required=True, help="the file to write")
    p.add_argument("--annex", action="store_true",
                   help="add the plans' references and dates (for the coordination only)")
    p.set_defaults(run=run)


def period_of(args: argparse.Namespace, today: datetime) -> Period:
    if args.start or args.end:
        if not (args.start and args.end):
            raise FieldError(problem="--from et --to vont ensemble",
                             expected="les deux dates", example="--from 01/01/2026 --to 30/06/2026")
        return parse_period(f"du {args.start} au {args.end}", today=today.date())
    return parse_period(args.period, today=today.date())


def write(report: Report, fmt: str, output: Path, *, annex: bool) -> None:
    if fmt == "csv":
        output.write_text(to_csv(report), encoding="utf-8")
        return
    html = to_html(report, external=True, annex=annex)
    if fmt == "html":
        output.write_text(html, encoding="utf-8")
        return
    from esp_coord.report.pdf import html_to_pdf

    output.write_bytes(html_to_pdf(html))


def run(args: argparse.Namespace) -> int:
    opened = _open(args.config)
    if isinstance(opened, int):
        return opened
    config, keyring = opened
    try:
        period = period_of(args, datetime.now(config.timezone))
    except FieldError as e:
        print(f"Period: {e}", file=sys.stderr)
        return 2

    def read(tx: Tx) -> Report:
        tx.audit(actor(), "cli-report", None, None, period.label, datetime.now(UTC))
        return build_report(tx, config, period)

    report = asyncio.run(_with_store(config, keyring, read))
    output = Path(args.output)
    try:
        write(report, args.format, output, annex=args.annex)
    except OSError as e:
        print(f"{output}: cannot be written ({e.strerror or e})", file=sys.stderr)
        return 2
    print(f"{output}: report {period.label} ({args.format}) written.")
    for label, value in headline(report).items():
        print(f"  {label} : {value}")
    return 0
