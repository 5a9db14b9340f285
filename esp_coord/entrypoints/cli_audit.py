"""``esp-coord audit verify|show``: check the audit chain, list a plan's records.

``verify`` walks the whole chain and exits 0 with "N records, chain intact"
and the head (last position and hash). Note the head somewhere outside the
database (a notebook, a mail to oneself): ``--anchor N:HASH`` later proves
that the chain was not rewritten up to there, which the database alone cannot
prove against someone able to write every row. Exit 1 names the first broken
record and why; exit 2 for an unreadable configuration or a missing database.
``show`` exits 1 when the plan has no record.

Audit records hold no patient data and are stored in clear: neither command
needs the data key. Where the configured key file exists, though, it must be
the one that wrote the database (exit 4 otherwise, as for every command that
opens the store); without it, nothing is checked nor recorded about keys.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from esp_coord.config import Config, ConfigError
from esp_coord.crypto import Keyring
from esp_coord.entrypoints.exits import EXIT_STATUS
from esp_coord.offline_config import load_offline_config
from esp_coord.store import Store
from esp_coord.store.audit import AuditRecord, ChainReport

_ANCHOR = re.compile(r"^(\d+):([0-9a-f]{64})$")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("audit", help="verify the audit trail or list a plan's records",
                              description=__doc__, epilog=EXIT_STATUS)
    sub = p.add_subparsers(dest="audit_command", required=True)
    v = sub.add_parser("verify", help="check the hash chain; exit 1 at the first broken record")
    v.add_argument("--config", required=True)
    v.add_argument("--anchor", help="N:HASH, a head printed by an earlier verify")
    v.set_defaults(run=run_verify)
    s = sub.add_parser("show", help="the records of one plan (or one person), one per line")
    s.add_argument("ref", nargs="?", help="a plan reference, e.g. PPS-2026-0001")
    s.add_argument("--actor", help="only what this address did (without REF: everywhere)")
    s.add_argument("--config", required=True)
    s.set_defaults(run=run_show)


def _config(path: str) -> Config | None:
    try:
        config = load_offline_config(path)
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return None
    url = make_url(config.database_url)
    database = url.database or ""
    if (url.get_backend_name() == "sqlite" and database and database != ":memory:"
            and not database.startswith("file:") and not Path(database).exists()):
        # Opening it would create an empty database and report an empty chain.
        print(f"{database}: no database there (check [storage] database_url)", file=sys.stderr)
        return None
    return config


def _store(config: Config) -> Store:
    # The audit is in clear and never decrypted: an auditor needs no data key.
    # A key file that is there is checked, like everywhere else (a wrong one
    # is an operator's mistake worth stopping at); one that is not is no
    # error, and a stand-in keyring neither is checked nor leaves a trace.
    if config.key_file.exists():
        return Store(config.database_url, Keyring.load(config.key_file), team=config.team_id)
    return Store(config.database_url, Keyring.generate(), check_keys=False,
                 team=config.team_id)


async def _verify(config: Config, anchor: tuple[int, str] | None) -> ChainReport:
    async with AsyncExitStack() as stack:
        store = _store(config)
        await store.start(stack)
        return await store.run(lambda tx: tx.verify_audit(anchor=anchor), readonly=True)


async def _records(config: Config, ref: str | None, actor: str | None) -> list[AuditRecord]:
    async with AsyncExitStack() as stack:
        store = _store(config)
        await store.start(stack)
        return await store.run(lambda tx: tx.audit_records(ref, actor=actor), readonly=True)


def run_verify(args: argparse.Namespace) -> int:
    anchor = None
    if args.anchor:
        m = _ANCHOR.match(args.anchor.strip().lower())
        if not m:
            print("--anchor: expected N:HASH as printed by verify (e.g. 42:3fa1…, 64 hex "
                  "digits)", file=sys.stderr)
            return 2
        anchor = (int(m.group(1)), m.group(2))
    config = _config(args.config)
    if config is None:
        return 2
    report = asyncio.run(_verify(config, anchor))
    if report.broken is not None:
        print(f"Audit chain BROKEN at record {report.broken.id}: {report.broken.reason}.")
        print(f"{report.records} records verified before it.")
        return 1
    seq, digest = report.head
    print(f"{report.records} records, chain intact.")
    print(f"Head: {seq}:{digest}")
    if anchor is not None:
        print(f"Anchor {anchor[0]} found with the noted hash.")
    return 0


def run_show(args: argparse.Namespace) -> int:
    if not args.ref and not args.actor:
        print("Give a plan reference (REF), --actor ADDRESS, or both.", file=sys.stderr)
        return 2
    config = _config(args.config)
    if config is None:
        return 2
    ref = args.ref.strip().upper() if args.ref else None
    records = asyncio.run(_records(config, ref, args.actor))
    for r in records:
        when = r.at.astimezone(config.timezone).strftime("%Y-%m-%d %H:%M:%S %Z")
        print(f"#{r.id}\t{when}\t{r.actor}\t{r.action}\t{r.ref or '-'}\t{r.detail or '-'}\t"
              f"{r.source_message_id or '-'}")
    if not records:
        print(f"No audit record for {' by '.join(filter(None, (ref, args.actor)))}.",
              file=sys.stderr)
        return 1
    return 0
