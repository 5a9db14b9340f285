"""``esp-coord plans list | show REF | export --fhir REF``: the stored care plans.

Reads the configured database with the key file (no mail server needed);
a key file other than the one that wrote the database is refused (exit 4)
before anything is read or written.
``show`` and ``export`` are reads of a patient's plan: each is written to the
audit trail with the actor ``cli:<system user>``, in the same transaction as
the read, so a read that is not recorded does not happen.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from esp_coord.config import Config, ConfigError
from esp_coord.crypto import KeyFileError, Keyring
from esp_coord.entrypoints.exits import EXIT_STATUS
from esp_coord.fhir_export import plan_bundle_json
from esp_coord.offline_config import load_offline_config
from esp_coord.plan_repo import KIND
from esp_coord.roster import people_of
from esp_coord.store import Store, Tx
from plans.dates import format_date
from plans.model import Plan
from plans.render import counted, render_status


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("plans", help="list, show or export the stored care plans",
                              epilog=EXIT_STATUS)
    sub = p.add_subparsers(dest="plans_command", required=True)
    q = sub.add_parser("list", help="one line per plan")
    q.add_argument("--config", required=True)
    q.add_argument("--active", action="store_true", help="only the active plans")
    q.add_argument("--json", action="store_true", help="JSON instead of text")
    q.set_defaults(run=run_list)
    q = sub.add_parser("show", help="one plan in full (recorded in the audit trail)")
    q.add_argument("--config", required=True)
    q.add_argument("ref", help="PPS-AAAA-NNNN")
    q.add_argument("--json", action="store_true", help="the stored plan as JSON")
    q.set_defaults(run=run_show)
    q = sub.add_parser("export", help="one plan as a FHIR R4 Bundle (recorded in the audit "
                       "trail)")
    q.add_argument("--config", required=True)
    q.add_argument("--fhir", action="store_true", required=True,
                   help="FHIR R4 Bundle of type collection (the only format)")
    q.add_argument("ref", help="PPS-AAAA-NNNN")
    q.set_defaults(run=run_export)


def actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (container without passwd entry)
        user = "unknown"
    return f"cli:{user}"


def _open(config_path: str) -> tuple[Config, Keyring] | int:
    try:
        config = load_offline_config(config_path)
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return 2
    url = make_url(config.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:") \
            and not Path(url.database).exists():
        # Opening would create an empty database: say there is none instead.
        print(f"{url.database}: no database yet (the service creates it when it starts).",
              file=sys.stderr)
        return 2
    try:
        return config, Keyring.load(config.key_file)
    except KeyFileError as e:
        print(str(e), file=sys.stderr)
        return 2


async def _with_store(config: Config, keyring: Keyring, fn: Any) -> Any:
    async with AsyncExitStack() as stack:
        store = Store(config.database_url, keyring, team=config.team_id)
        await store.start(stack)
        return await store.run(fn)


def _today(config: Config) -> datetime:
    return datetime.now(config.timezone)


def _summary(plan: Plan, config: Config) -> dict[str, Any]:
    today = _today(config).date()
    nxt = plan.next_due(today)
    return {"ref": plan.ref, "status": plan.status, "version": plan.version,
            "patient": plan.patient.display_name, "referent": plan.referent,
            "team": len(plan.team), "open_actions": len(plan.open_actions()),
            "overdue": len(plan.overdue(today)),
            "next_due": nxt.due.isoformat() if nxt and nxt.due else None}


def run_list(args: argparse.Namespace) -> int:
    opened = _open(args.config)
    if isinstance(opened, int):
        return opened
    config, keyring = opened

    def read(tx: Tx) -> list[Plan]:
        docs = tx.find_documents(KIND, status="active" if args.active else None)
        tx.audit(actor(), "cli-list", None, None, f"{len(docs)} plans",
                       datetime.now(UTC))
        return [Plan.from_dict(d.data) for d in docs]

    plans = asyncio.run(_with_store(config, keyring, read))
    rows = [_summary(p, config) for p in plans]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("Aucun plan.")
    for r in rows:
        due = f"prochaine échéance {format_date(datetime.fromisoformat(r['next_due']).date())}" \
            if r["next_due"] else "aucune échéance"
        state = "actif" if r["status"] == "active" else "clos"
        print(f"{r['ref']}  {state:5}  v{r['version']:<3} {r['patient']}  "
              f"{counted(r['open_actions'], 'action')} en cours, {r['overdue']} en retard, "
              f"{due}")
    return 0


async def _read_plan(config: Config, keyring: Keyring, ref: str, action: str
                     ) -> Plan | None:
    def read(tx: Tx) -> Plan | None:
        doc = tx.load_document(KIND, ref)
        if doc is None:
            return None
        plan = Plan.from_dict(doc.data)
        tx.audit(actor(), action, plan.ref, None, f"version {plan.version}",
                       datetime.now(UTC))
        return plan

    result: Plan | None = await _with_store(config, keyring, read)
    return result


def _normalised(ref: str) -> str:
    return ref.strip().upper()


def _plan_of(args: argparse.Namespace, action: str) -> tuple[Config, Plan] | int:
    """The configuration and the plan ``args.ref`` (read as ``action`` in the
    audit log), or the exit code when either is missing."""
    opened = _open(args.config)
    if isinstance(opened, int):
        return opened
    config, keyring = opened
    plan = asyncio.run(_read_plan(config, keyring, _normalised(args.ref), action))
    if plan is None:
        print(f"{_normalised(args.ref)}: no such plan.", file=sys.stderr)
        return 1
    return config, plan


def run_show(args: argparse.Namespace) -> int:
    found = _plan_of(args, "cli-show")
    if isinstance(found, int):
        return found
    config, plan = found
    if args.json:
        print(json.dumps(plan.to_dict(), ensure_ascii=False, indent=2))
        return 0
    text = render_status(plan, people=people_of(config), today=_today(config).date(),
                         tz=config.timezone).text
    # The status answer ends with how to reply by mail: not for a terminal.
    print(text.split("Pour répondre, gardez", 1)[0].rstrip())
    return 0


def run_export(args: argparse.Namespace) -> int:
    found = _plan_of(args, "cli-export")
    if isinstance(found, int):
        return found
    config, plan = found
    print(plan_bundle_json(plan, config.members, timestamp=datetime.now(UTC)))
    return 0
