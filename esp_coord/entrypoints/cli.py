"""Command line: esp-coord check | serve | demo | keygen, and the subcommands
of the modules listed in ``EXTRA_COMMANDS`` (parse, plans, audit).

An operator error (a configuration, key file or database that cannot be used,
a key file that does not match the database) is one plain line on standard
error and an exit status (``EXIT_STATUS``), never a traceback: a traceback can
carry what an exception was raised with, and says nothing an operator can act on.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from esp_coord.config import Config, ConfigError, load_config
from esp_coord.crypto import DecryptionError, KeyFileError, Keyring
from esp_coord.entrypoints import (
    cli_audit,
    cli_discover,
    cli_parse,
    cli_plans,
    cli_platform,
    cli_report,
    cli_roster,
)
from esp_coord.entrypoints.exits import (
    EXIT_INTERNAL,
    EXIT_KEY_MISMATCH,
    EXIT_STATUS,
    EXIT_UNUSABLE,
)
from esp_coord.offline_config import load_offline_config
from esp_coord.store.errors import KeyMismatch, StoreBusy, StoreError, StoreUnavailable

if TYPE_CHECKING:
    from esp_coord.bootstrap import Tuning

log = logging.getLogger("esp_coord")


# Each module has ``register(subparsers)``, which adds its subcommand(s) and
# sets ``run=<function(args) -> int>`` as the parser's default.
EXTRA_COMMANDS = (cli_parse, cli_audit, cli_plans, cli_roster, cli_report, cli_platform)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Library loggers can print protocol lines, hence mail content, and SQL
    # parameters: keep them quiet.
    for noisy in ("aioimaplib", "aiosmtplib", "mail.log", "pymap", "sqlalchemy", "alembic",
                  "psycopg"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _load(path: str) -> Config:
    try:
        return load_config(path)
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        raise SystemExit(2) from None


async def _check(config: Config) -> int:
    from adapters.imap import ImapMailbox
    from adapters.smtp import SmtpSender

    ok = True
    print(f"{config.path}: configuration valid ({len(config.members)} members, "
          f"timezone {config.timezone.key}).")
    try:
        keyring = Keyring.load(config.key_file)
        print(f"Key file {config.key_file}: readable.")
    except KeyFileError as e:
        ok = False
        print(f"Key file: {e} Create one with: esp-coord keygen --config {config.path}")
    else:
        from esp_coord.store.keycheck import database_keys_match

        try:
            if await asyncio.to_thread(database_keys_match, config.database_url, keyring):
                print("Database: the key file is the one that wrote it.")
            else:
                print("Database: none yet (the service creates it and records the key file's "
                      "fingerprints when it starts).")
        except StoreError as e:
            ok = False
            print(f"Database: {e}")
    mailbox = ImapMailbox(config.imap, config.folders)
    try:
        await mailbox.connect()
        folders = (config.folders.processed, config.folders.quarantine, config.folders.sent)
        created = [f for f in folders if f in mailbox.created_folders]
        found = [f for f in folders if f not in created]
        said = "; ".join(part for part in (
            f"folders created: {', '.join(created)}" if created else "",
            f"folders present: {', '.join(found)}" if found else "") if part)
        print(f"IMAP {config.imap.host}:{config.imap.port} ({config.imap.security}): "
              f"connected, logged in; {said}.")
    except Exception as e:  # every failure is reported in plain words
        ok = False
        print(f"IMAP {config.imap.host}:{config.imap.port}: {e}")
    finally:
        await mailbox.close()
    sender = SmtpSender(config.smtp)
    try:
        await sender.check()
        print(f"SMTP {config.smtp.host}:{config.smtp.port} ({config.smtp.security}): "
              "connected and accepted our credentials.")
    except Exception as e:
        ok = False
        print(f"SMTP {config.smtp.host}:{config.smtp.port}: {e}")
    finally:
        await sender.close()
    print("Everything is ready." if ok else "Some checks failed: see above.")
    return 0 if ok else 1


def _tuning_from_env() -> Tuning:
    """``ESP_COORD_TUNING="witness_grace=1,outbox_poll=0.2"``: the knobs of
    ``Tuning`` for tests and benchmarks that run the real command (durations
    in seconds). Unset: the production defaults."""
    from dataclasses import fields, replace
    from datetime import timedelta

    from esp_coord.bootstrap import Tuning

    tuning = Tuning()
    text = os.environ.get("ESP_COORD_TUNING", "").strip()
    kinds = {f.name: type(getattr(tuning, f.name)) for f in fields(Tuning)}
    changes: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        kind = kinds.get(name.strip())
        if kind is None:
            raise ConfigError("ESP_COORD_TUNING", [f"unknown knob {name.strip()!r}"])
        try:
            if kind is timedelta:
                changes[name.strip()] = timedelta(seconds=float(value))
            elif kind is bool:
                changes[name.strip()] = value.strip().lower() in ("1", "true", "yes")
            else:
                changes[name.strip()] = kind(value)
        except ValueError:
            raise ConfigError("ESP_COORD_TUNING", [f"{item!r}: not a number"]) from None
    return replace(tuning, **changes)


async def _serve(config: Config) -> int:
    from esp_coord.bootstrap import build_service
    from esp_coord.progress import backlog_progress

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        keyring = Keyring.load(config.key_file)
    except KeyFileError as e:
        print(f"{e} Create one with: esp-coord keygen --config {config.path}", file=sys.stderr)
        return 2
    try:
        tuning = _tuning_from_env()
    except ConfigError as e:
        print(str(e), file=sys.stderr)
        return 2
    with backlog_progress() as progress:
        service = build_service(config, keyring=keyring, progress=progress, tuning=tuning)
        async with AsyncExitStack() as stack:
            await service.start(stack)
            log.info("esp-coord serving %s as %s", config.team_name, config.bot_address)
            await stop.wait()
            log.info("stopping")
    return 0


def _serve_command(args: argparse.Namespace) -> int:
    """One team on SQLite: this process alone. On PostgreSQL, one team or
    many: a platform worker, so that any number of them share the teams."""
    from sqlalchemy.engine import make_url

    from esp_coord.platform.teams import load_teams, platform_database

    override = args.database_url or os.environ.get(cli_platform.DATABASE_ENV)
    if args.teams:
        configs = load_teams(Path(args.teams))
        migrate = args.migrate
    else:
        configs = [_load(args.config)]
        migrate = True  # as it always did: one team's process owns its schema
    url = platform_database(configs, override)
    if make_url(url).get_backend_name() == "postgresql":
        return asyncio.run(cli_platform.serve(configs, url, migrate=migrate))
    config = replace(configs[0], database_url=url)
    with single_process(config):
        return asyncio.run(_serve(config))


@contextlib.contextmanager
def single_process(config: Config) -> Iterator[None]:
    """SQLite serves one process: a second ``serve`` on the same file would
    fetch, answer and remind twice. Refused, plainly."""
    from sqlalchemy.engine import make_url

    from esp_coord.store.engine import private_database_file

    database = make_url(config.database_url).database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The lock is on the database file itself (created 0600 as the store
    # would): no file of its own left behind. flock does not meet SQLite's
    # own locks, which are POSIX record locks.
    private_database_file(path)
    try:
        with hold_sqlite_file(path):
            yield
    except FileInUse:  # raised by the lock only, never by what runs under it
        raise ConfigError(config.path, [
            f"another esp-coord serve already uses {database}: SQLite serves one team "
            "in one process; several workers need PostgreSQL (docs/deployment.md)"]
        ) from None


class FileInUse(Exception):
    """Another process holds the SQLite file's lock (``hold_sqlite_file``)."""


@contextlib.contextmanager
def hold_sqlite_file(path: Path) -> Iterator[None]:
    """The lock a ``serve`` holds on its SQLite file, for as long as it runs
    (``import`` takes it too); ``FileInUse`` at once if another process has it."""
    import fcntl

    with path.open("rb") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FileInUse(str(path)) from None
        yield


def _keygen(config_path: str | None, key_path: str | None, rotate: bool) -> int:
    if key_path:
        path = Path(key_path)
    elif config_path:
        # Only the key file's place is needed: no certificate, no password yet.
        try:
            path = load_offline_config(config_path).key_file
        except ConfigError as e:
            print(str(e), file=sys.stderr)
            return 2
    else:
        print("Give --config FILE or --key-file PATH.", file=sys.stderr)
        return 2
    if rotate:
        keyring = Keyring.load(path).rotate()
        keyring.save(path, overwrite=True)
        print(f"{path}: new current key added; older keys kept to read existing data.")
        return 0
    if path.exists():
        print(f"{path} already exists: keep it (the data cannot be read without it), "
              "or use --rotate.", file=sys.stderr)
        return 1
    Keyring.generate().save(path)
    print(f"{path}: key file written (mode 600). Back it up apart from the database.")
    return 0


def _operator_error(exc: Exception) -> int:
    """Print ``exc`` as one line for the operator; its exit status."""
    if isinstance(exc, KeyMismatch):
        print(f"esp-coord: {exc}", file=sys.stderr)
        return EXIT_KEY_MISMATCH
    if isinstance(exc, (KeyFileError, ConfigError, StoreUnavailable, StoreBusy)):
        # ConfigError lists its problems one per line: they stay readable.
        print(f"esp-coord: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"esp-coord: {where}{exc.strerror or type(exc).__name__}", file=sys.stderr)
        return EXIT_UNUSABLE
    if isinstance(exc, (StoreError, DecryptionError)):
        # Our own messages hold ids and references, never patient data.
        print(f"esp-coord: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL
    # Anyone else's message may quote data it was given: the type only.
    print(f"esp-coord: unexpected error ({type(exc).__name__}); nothing more is shown "
          "to keep stored data off the terminal", file=sys.stderr)
    return EXIT_INTERNAL


def _thread_error(args: threading.ExceptHookArgs) -> None:
    """A worker thread that fails (a library's, or one of the store's) may
    outlive the event loop: one line, no traceback."""
    name = args.thread.name if args.thread is not None else "?"
    print(f"esp-coord: background thread {name} stopped "
          f"({args.exc_type.__name__})", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="esp-coord", description=__doc__.split("\n\n")[0],
                                     epilog=EXIT_STATUS)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="validate the configuration and try IMAP and SMTP "
                                     "(or, with --discover DOMAIN, find the servers in DNS)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--config")
    cli_discover.add_arguments(p, source)
    p = sub.add_parser("serve", help="run the service until SIGINT/SIGTERM")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="one team's configuration")
    source.add_argument("--teams", help="a folder of team configurations (PostgreSQL)")
    p.add_argument("--database-url", help="the platform's database, overriding the team "
                   f"files' (default: ${cli_platform.DATABASE_ENV})")
    p.add_argument("--migrate", action="store_true",
                   help="with --teams: bring the schema up to date first (owner role)")
    p = sub.add_parser("demo", help="run the example team on an embedded mail server")
    p.add_argument("--messages", help="folder of .eml files "
                   "(default: config/examples/messages and config/demo)")
    p = sub.add_parser("keygen", help="write the data key file")
    p.add_argument("--config")
    p.add_argument("--key-file")
    p.add_argument("--rotate", action="store_true", help="add a new current key")
    for module in EXTRA_COMMANDS:
        module.register(sub)
    args = parser.parse_args(argv)
    cli_discover.check_usage(parser, args)
    _setup_logging(args.verbose)
    threading.excepthook = _thread_error
    try:
        code = _dispatch(args)
    except Exception as exc:  # noqa: BLE001 - every error ends as one line and a status
        code = _operator_error(exc)
    raise SystemExit(code)


def _dispatch(args: argparse.Namespace) -> int:
    code: int
    if getattr(args, "run", None) is not None:
        code = args.run(args)
    elif args.command == "check" and args.discover is not None:
        code = cli_discover.run(args)
    elif args.command == "check":
        code = asyncio.run(_check(_load(args.config)))
    elif args.command == "serve":
        code = 0
        with contextlib.suppress(KeyboardInterrupt):
            code = _serve_command(args)
    elif args.command == "demo":
        from esp_coord.entrypoints.demo import run_demo

        code = asyncio.run(run_demo(Path(args.messages) if args.messages else None))
    else:
        code = _keygen(args.config, args.key_file, args.rotate)
    return code
