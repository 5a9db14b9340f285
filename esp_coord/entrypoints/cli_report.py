"""``esp-coord report --config FILE [--period P | --from D --to D] --format
html|pdf|csv --output FILE [--annex] [--verify]``: the team's evaluation report.

Reads the configured database with the key file (no mail server needed). The
HTML and PDF are meant to leave the team: counts of patients under 5 are
shown as « < 5 », and nothing names a patient; ``--annex`` adds the plans'
references and dates, for the coordination only. The read is written to the
audit trail with the actor ``cli:<system user>``.

``--verify`` checks the audit trail's hash chain, then recounts from it alone
every figure it can (``report.verify``) and prints, figure by figure, whether
it agrees with the report (« concorde ») or not (« écart », both values), or
where the figure is read when the trail holds no trace of it. ``--output`` is
then optional. Exit 1 when the chain is broken or a figure disagrees.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from esp_coord.config import Config
from esp_coord.entrypoints.cli_plans import _open, _with_store, actor
from esp_coord.entrypoints.exits import EXIT_STATUS
from esp_coord.meeting_repo import KIND as MEETING
from esp_coord.report.gather import build_report
from esp_coord.report.indicators import Report
from esp_coord.report.render import headline, to_csv, to_html
from esp_coord.report.verify import DIFFERS, ELSEWHERE, MATCH, Check, Recount, recount, verify
from esp_coord.store import Tx
from esp_coord.store.audit import ChainReport
from plans.errors import FieldError
from plans.meetings import Meeting
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
    p.add_argument("--output", help="the file to write (required without --verify)")
    p.add_argument("--annex", action="store_true",
                   help="add the plans' references and dates (for the coordination only)")
    p.add_argument("--verify", action="store_true",
                   help="recount the figures from the audit trail and say which agree")
    p.set_defaults(run=run)


# The audit chain's state and, when intact, the recount from it.
Verification = tuple[ChainReport, Recount | None]


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
    if args.output is None and not args.verify:
        print("--output FILE is required (or --verify alone)", file=sys.stderr)
        return 2
    try:
        period = period_of(args, datetime.now(config.timezone))
    except FieldError as e:
        print(f"Period: {e}", file=sys.stderr)
        return 2

    def read(tx: Tx) -> tuple[Report, Verification | None]:
        checked = _verification(tx, config, period) if args.verify else None
        tx.audit(actor(), "cli-report", None, None, period.label, datetime.now(UTC))
        return build_report(tx, config, period), checked

    report, checked = asyncio.run(_with_store(config, keyring, read))
    if args.output is not None:
        output = Path(args.output)
        try:
            write(report, args.format, output, annex=args.annex)
        except OSError as e:
            print(f"{output}: cannot be written ({e.strerror or e})", file=sys.stderr)
            return 2
        print(f"{output}: report {period.label} ({args.format}) written.")
        for label, value in headline(report).items():
            print(f"  {label} : {value}")
    if checked is None:
        return 0
    chain, counted = checked
    checks = verify(report, counted) if counted is not None else []
    print(render_verification(checks, chain,
                              unreadable=counted.unreadable if counted is not None else 0))
    agrees = chain.intact and counted is not None and counted.unreadable == 0 and all(
        c.status != DIFFERS for c in checks)
    return 0 if agrees else 1


def _verification(tx: Tx, config: Config, period: Period) -> Verification:
    """The chain's state and, when intact, the recount (before the report's
    own read is audited: the trail is read as it stood)."""
    chain = tx.verify_audit()
    if not chain.intact:
        return chain, None
    meetings = [Meeting.from_dict(doc.data) for doc in tx.find_documents(MEETING)]
    return chain, recount(tx.audit_records(), meetings, config.members, period,
                          config.timezone)


def render_verification(checks: list[Check], chain: ChainReport, *, unreadable: int = 0
                        ) -> str:
    """The verification, in French: the chain, then one line per figure."""
    if not chain.intact:
        assert chain.broken is not None
        return (f"Journal d’audit : chaîne rompue à l’enregistrement {chain.broken.id} "
                f"({chain.broken.reason}) : les chiffres ne peuvent pas en être recomptés.")
    lines = [f"Journal d’audit : {chain.records} enregistrements, chaîne intacte "
             f"(tête {chain.head[0]}:{chain.head[1][:16]}…). Chiffres recomptés depuis le "
             "journal :"]
    for c in checks:
        if c.status == MATCH:
            lines.append(f"  {MATCH:12} {c.label} : {c.report}")
        elif c.status == DIFFERS:
            lines.append(f"  {DIFFERS:12} {c.label} : rapport {c.report}, journal {c.trail}")
        else:
            lines.append(f"  {'hors journal':12} {c.label} : {c.source}")
    compared = [c for c in checks if c.status != ELSEWHERE]
    agreeing = sum(c.status == MATCH for c in compared)
    lines.append(f"{agreeing} chiffre(s) sur {len(compared)} recomptés concordent.")
    if unreadable:
        lines.append(f"{unreadable} enregistrement(s) illisible(s) : à signaler à la personne "
                     "qui administre le service.")
    return "\n".join(lines)
