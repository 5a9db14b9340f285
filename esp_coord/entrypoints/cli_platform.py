"""The platform's commands: serve on PostgreSQL (one team or many), status,
migrate, import.

``esp-coord serve --teams DIR`` (and ``serve --config FILE`` on PostgreSQL:
one team is a platform of one) runs a worker (esp_coord.platform.worker).
``esp-coord status`` shows workers, leases, teams, backlog and the last
error per team; ``esp-coord migrate`` brings the schema to this version's,
as the database's owner role, before the workers of a new version start;
``esp-coord import`` moves a team that ran alone on SQLite onto the platform
(``store.transfer``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from esp_coord.config import Config
from esp_coord.store.engine import make_engine, upgrade_to_head

DATABASE_ENV = "ESP_COORD_DATABASE_URL"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("status", help="the platform's workers, leases, teams, backlog and "
                                      "last errors")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--teams", help="the folder of team configurations")
    source.add_argument("--database-url",
                        help=f"the platform's database (default: ${DATABASE_ENV})")
    p.set_defaults(run=_status)
    p = sub.add_parser("migrate", help="bring the database schema to this version's "
                                       "(as the owner role)")
    p.add_argument("--database-url", help=f"default: ${DATABASE_ENV}")
    p.set_defaults(run=_migrate)
    p = sub.add_parser("import", help="move a team's own SQLite database onto the platform "
                                      "(once, before the team's first worker)")
    p.add_argument("--config", required=True,
                   help="the team's file in the platform's folder (its id and key file)")
    p.add_argument("--from", dest="source", required=True,
                   help="the team's SQLite database (a file, or a sqlite:/// URL)")
    p.add_argument("--database-url", help="the platform's database, overriding the team "
                   f"file's (default: ${DATABASE_ENV})")
    p.set_defaults(run=_import)


def _url(args: argparse.Namespace) -> str | None:
    return getattr(args, "database_url", None) or os.environ.get(DATABASE_ENV)


async def serve(configs: list[Config], url: str, *, migrate: bool) -> int:
    """Run one worker until SIGINT/SIGTERM."""
    from esp_coord.entrypoints.cli import _tuning_from_env
    from esp_coord.platform import logs
    from esp_coord.platform.teams import team_specs
    from esp_coord.platform.worker import IDLE_TIMEOUT, Worker
    from esp_coord.store.database import Database

    specs = team_specs(configs)
    errors = logs.install()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tuning = _tuning_from_env()
    beat = float(os.environ.get("ESP_COORD_BEAT", "2"))
    ttl = float(os.environ.get("ESP_COORD_LEASE_TTL", "10"))
    async with AsyncExitStack() as stack:
        database = Database(url, migrate=migrate, idle_timeout=IDLE_TIMEOUT)
        await database.start(stack)
        worker = Worker(database, specs, tuning=tuning, beat=beat,
                        ttl=timedelta(seconds=ttl), errors=errors.of)
        await worker.run(stop)
    return 0


def _status(args: argparse.Namespace) -> int:
    from esp_coord.platform.leases import snapshot
    from esp_coord.platform.teams import load_teams, platform_database

    url = _url(args)
    if args.teams:
        url = platform_database(load_teams(Path(args.teams)), url)
    if url is None:
        print(f"Give --teams DIR or --database-url URL (or set {DATABASE_ENV}).",
              file=sys.stderr)
        return 2
    engine = make_engine(url, busy_timeout=5.0)
    try:
        with engine.connect() as conn:
            snap = snapshot(conn, timedelta(seconds=float(os.environ.get(
                "ESP_COORD_LEASE_TTL", "10"))))
    finally:
        engine.dispose()
    print(render_status(snap))
    return 0


def _age(now: datetime, then: datetime | None) -> str:
    if then is None:
        return "-"
    seconds = (now - then).total_seconds()
    return f"{seconds:.0f} s ago" if seconds >= 0 else f"in {-seconds:.0f} s"


def render_status(snap: object) -> str:
    from esp_coord.platform.leases import Snapshot

    assert isinstance(snap, Snapshot)
    lines = [f"Workers ({len(snap.live_workers)} alive):"]
    held = snap.held()
    for w in snap.workers:
        state = "alive" if w.live else "silent"
        teams = len(held.get(w.id, []))
        lines.append(f"  {w.id:<40} {w.host:<20} pid {w.pid:<7} {state:<7} "
                     f"heartbeat {_age(snap.now, w.heartbeat_at)}, {teams} team(s)")
    if not snap.workers:
        lines.append("  (none)")
    lines.append(f"Teams ({len(snap.leases)}):")
    for lease in snap.leases:
        holder = lease.worker if lease.live else "(nobody)"
        expires = _age(snap.now, lease.expires_at) if lease.live else "-"
        backlog = "-" if lease.backlog is None else str(lease.backlog)
        lines.append(f"  {lease.team:<24} {holder:<40} token {lease.token:<5} "
                     f"lease ends {expires:<10} backlog {backlog}")
        if lease.last_error:
            lines.append(f"    last error {_age(snap.now, lease.last_error_at)}: "
                         f"{lease.last_error}")
    return "\n".join(lines)


def _migrate(args: argparse.Namespace) -> int:
    url = _url(args)
    if url is None:
        print(f"Give --database-url URL (or set {DATABASE_ENV}).", file=sys.stderr)
        return 2
    from esp_coord.store.database import head_revision

    engine = make_engine(url, busy_timeout=30.0)
    try:
        with engine.connect() as conn:
            upgrade_to_head(conn)
            conn.commit()
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()
    print(f"The schema is at revision {version} (this esp-coord: {head_revision()}).")
    return 0


def _import(args: argparse.Namespace) -> int:
    from esp_coord.config import load_config
    from esp_coord.crypto import Keyring
    from esp_coord.entrypoints.cli import FileInUse, hold_sqlite_file
    from esp_coord.store.transfer import TransferRefused, transfer_team

    path = Path(args.config)
    config = load_config(path, default_id=path.stem.lower())
    target = _url(args) or config.database_url
    source = args.source if "://" in args.source else f"sqlite:///{Path(args.source).resolve()}"
    database = Path(make_url(source).database or "")
    if not database.is_file():
        print(f"{args.source}: no database there", file=sys.stderr)
        return 2
    try:
        with hold_sqlite_file(database):
            moved = transfer_team(source, target, team=config.team_id,
                                  keyring=Keyring.load(config.key_file))
    except FileInUse:
        print(f"esp-coord import: nothing moved: an esp-coord serve still uses "
              f"{args.source}: stop it first", file=sys.stderr)
        return 1
    except TransferRefused as e:
        print(f"esp-coord import: nothing moved: {e}", file=sys.stderr)
        return 1
    total = sum(moved.rows.values())
    print(f"Team {moved.team}: {total} rows moved onto the platform "
          f"({', '.join(f'{t} {n}' for t, n in sorted(moved.rows.items()))}).")
    print("Check it with: esp-coord audit verify --config " + str(path))
    print(f"From now on the team is served by the platform's workers; keep {args.source} "
          "as a backup and do not serve it again.")
    return 0
