"""A wrong key file, end to end, through the real ``esp-coord`` command: every
command that opens the store refuses it (exit 4) before touching anything,
and operator errors are one plain line, never a traceback."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import make_msgid
from pathlib import Path

import pytest

from esp_coord.bootstrap import make_processor
from esp_coord.config import load_config
from esp_coord.crypto import Keyring
from esp_coord.entrypoints.cli import _check, main
from esp_coord.offline_config import load_offline_config
from esp_coord.store import Store

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_CONFIG = ROOT / "config" / "esp.example.toml"
ESP_COORD = Path(sys.executable).parent / "esp-coord"
ANA = "ana.costa@esp-valdelorge.mssante.test"  # the coordinator of the example team
CREATED = datetime(2026, 11, 23, 8, 15, tzinfo=UTC)  # a minute after 01-nouveau-pps
PATIENT = ("MARTIN", "Jeanne", "248037505611878")


def write_config(folder: Path, *, database_url: str | None = None, imap_port: int = 1,
                 smtp_port: int = 1) -> Path:
    """The example team, its database in var/, its key file in keys/, and
    mail servers on loopback ports (nothing listens there unless a test does)."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    head, _, rest = text.partition("[imap]")
    _, _, tail = rest.partition("[folders]")
    servers = "".join(f'[{name}]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
                      'auth = "none"\n\n'
                      for name, port in (("imap", imap_port), ("smtp", smtp_port)))
    text = head + servers + "[folders]" + tail
    database_url = database_url or f"sqlite:///{folder / 'var' / 'esp.db'}"
    text = text.replace('database_url = "sqlite:///../var/esp-coord.db"',
                        f'database_url = "{database_url}"')
    text = text.replace('key_file = "../var/esp-coord.key"',
                        f'key_file = "{folder / "keys" / "esp.key"}"')
    path = folder / "esp.toml"
    path.write_text(text, encoding="utf-8")
    return path


def esp_coord(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed command, importing this checkout's code."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
    # The timeout only keeps a service that should have refused from hanging the run.
    return subprocess.run([str(ESP_COORD), *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=120, check=False)


@contextmanager
def listeners() -> Iterator[tuple[int, int, list[socket.socket]]]:
    """Two loopback ports that accept connections, for IMAP and SMTP: a client
    that connects is found in their backlog afterwards."""
    socks = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    try:
        yield socks[0].getsockname()[1], socks[1].getsockname()[1], socks
    finally:
        for s in socks:
            s.close()


def connected(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        client, _ = sock.accept()
    except BlockingIOError:
        return False
    client.close()
    return True


def mail(subject: str, body: str) -> bytes:
    return (f"From: Ana COSTA <{ANA}>\r\nTo: coordination@esp-valdelorge.mssante.test\r\n"
            f"Subject: {subject}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\n"
            f"Message-ID: {make_msgid(domain='esp-valdelorge.mssante.test')}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{body}\r\n").encode()


async def process(config_path: Path, raw: bytes, at: datetime) -> list[bytes]:
    """What the service does with ``raw``, with the configured key file: the
    answers it would send."""
    config = load_offline_config(config_path)
    store = Store(config.database_url, Keyring.load(config.key_file))
    async with AsyncExitStack() as stack:
        await store.start(stack)
        before = {i.id for i in await store.run(lambda tx: tx.outbox_due(at, limit=1000))}
        processor = make_processor(config, store, now=lambda: at)
        outcome = await processor.process(raw)
        assert outcome.outcome == "answered"
        items = await store.run(lambda tx: tx.outbox_due(at, limit=1000))
        return [i.raw for i in items if i.id not in before]


def secrets_of(key_file: Path) -> list[str]:
    """Every spelling of the key file's keys, and their fingerprints."""
    doc = json.loads(key_file.read_text(encoding="utf-8"))
    encoded = [*doc["keys"].values(), doc["index_key"]]
    raw = [base64.b64decode(e) for e in encoded]
    return [*encoded, *(r.hex() for r in raw), *Keyring.load(key_file).fingerprints().values()]


def folder_state(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.slow
def test_a_wrong_key_file_is_refused_by_every_command_and_changes_nothing(
        tmp_path: Path, example_messages: dict[str, bytes],
        capsys: pytest.CaptureFixture[str]) -> None:
    config_path = write_config(tmp_path)
    key_file = tmp_path / "keys" / "esp.key"
    db = tmp_path / "var" / "esp.db"
    right = Keyring.generate()
    right.save(key_file)
    answers = asyncio.run(process(config_path, example_messages["01-nouveau-pps"], CREATED))
    assert any(b"PPS-2026-0001" in a for a in answers)
    secrets = secrets_of(key_file)
    Keyring.generate().save(key_file, overwrite=True)  # a fresh keygen, a wrong backup...
    secrets += secrets_of(key_file)
    before = folder_state(db.parent)
    assert list(before) == ["esp.db"]
    expected = (f"esp-coord: the key file {key_file} does not match the database {db}: "
                "key id 1 differs, the blind-index key differs; the database was written "
                "with another key file. Restore the right key file; nothing was changed.")
    cfg = str(config_path)
    commands = [["plans", "list", "--config", cfg],
                ["plans", "show", "--config", cfg, "PPS-2026-0001"],
                ["plans", "export", "--fhir", "--config", cfg, "PPS-2026-0001"],
                ["audit", "verify", "--config", cfg],
                ["audit", "show", "PPS-2026-0001", "--config", cfg],
                ["-v", "plans", "list", "--config", cfg]]
    for argv in commands:
        done = esp_coord(*argv)
        assert done.returncode == 4, (argv, done.stderr)
        assert done.stdout == "", argv
        if "-v" not in argv:
            assert done.stderr == expected + "\n", argv
        assert expected in done.stderr
        for secret in (*secrets, *PATIENT):
            assert secret not in done.stderr, (argv, "a key or patient data in the output")
    # The service too, before it connects to a mail server.
    with listeners() as (imap_port, smtp_port, socks):
        serve_config = write_config(tmp_path, imap_port=imap_port, smtp_port=smtp_port)
        done = esp_coord("serve", "--config", str(serve_config))
        assert (done.returncode, done.stderr.splitlines()[-1:]) == (4, [expected])
        assert "Traceback" not in done.stderr
        assert not any(connected(s) for s in socks), "the refused service touched the mail"
    # check says so too, among its other findings (the mail servers are down).
    assert asyncio.run(_check(load_config(config_path))) == 1
    assert f"Database: {expected.removeprefix('esp-coord: ')}\n" in capsys.readouterr().out
    assert folder_state(db.parent) == before  # byte for byte, no -wal or -shm left

    # The right key file back: everything works, and there is one plan only.
    right.save(key_file, overwrite=True)
    done = esp_coord("plans", "list", "--config", cfg)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith("PPS-2026-0001") and "MARTIN Jeanne" in line
    (answer,) = asyncio.run(process(config_path, mail("LISTE", "liste"),
                                    CREATED + timedelta(hours=1)))
    assert b"PPS-2026-0001" in answer and b"MARTIN Jeanne" in answer
    assert b"PPS-2026-0002" not in answer
    assert esp_coord("audit", "verify", "--config", cfg).returncode == 0
    asyncio.run(_check(load_config(config_path)))
    assert "Database: the key file is the one that wrote it." in capsys.readouterr().out
    # A rotation keeps the old key: accepted, and the new key id is recorded.
    assert esp_coord("keygen", "--rotate", "--config", cfg).returncode == 0
    assert esp_coord("plans", "list", "--config", cfg).returncode == 0
    with sqlite3.connect(db) as conn:
        recorded = conn.execute("SELECT kind, key_id FROM key_fingerprints").fetchall()
    assert sorted(recorded) == [("data", 1), ("data", 2), ("index", 0)]
    right.save(key_file, overwrite=True)  # the key file from before the rotation
    assert esp_coord("plans", "list", "--config", cfg).returncode == 4


def test_check_before_the_first_start_creates_no_database(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_path = write_config(tmp_path)
    Keyring.generate().save(tmp_path / "keys" / "esp.key")
    asyncio.run(_check(load_config(config_path)))
    assert "Database: none yet" in capsys.readouterr().out
    assert not (tmp_path / "var").exists()


GARBAGE = b"this is not a database, whatever its name says\n" * 100


def _unusable(tmp_path: Path, case: str) -> tuple[list[str], str]:
    """Set up ``case``; the command to run and what its one line must say."""
    key_file = tmp_path / "keys" / "esp.key"
    db = tmp_path / "var" / "esp.db"
    db.parent.mkdir()
    if case.startswith("keygen"):
        if case == "keygen-rotate-corrupt":
            key_file.parent.mkdir()
            key_file.write_text("{not json", encoding="utf-8")
            key_file.chmod(0o600)
        return ["keygen", "--rotate", "--key-file", str(key_file)], (
            "key file not found" if case == "keygen-rotate-missing" else "not valid JSON")
    Keyring.generate().save(key_file)
    database_url = None
    if case.endswith("garbage-database"):
        db.write_bytes(GARBAGE)
        db.chmod(0o600)  # or the start says, first, that it made it private
        why = f"cannot open the database {db}: file is not a database"
    elif case.endswith("directory-database"):
        db.mkdir()
        why = f"cannot open the database {db}: Is a directory"
    elif case.endswith("unreachable-postgres"):
        database_url = "postgresql+asyncpg://esp@127.0.0.1:1/esp"
        why = "cannot open the database postgresql://esp@127.0.0.1:1/esp: "
    elif case.endswith("corrupt-key"):
        db.write_bytes(b"")
        db.chmod(0o600)
        key_file.write_text("{not json", encoding="utf-8")
        why = f"{key_file}: the key file is not valid JSON"
    cfg = str(write_config(tmp_path, database_url=database_url))
    command = case.split("-", 1)[0]
    argv = {"plans": ["plans", "list", "--config", cfg], "audit": ["audit", "verify", "--config",
            cfg], "serve": ["serve", "--config", cfg]}[command]
    return argv, why


@pytest.mark.parametrize("case", [
    "keygen-rotate-missing", "keygen-rotate-corrupt", "plans-garbage-database",
    "audit-garbage-database", "serve-garbage-database", "plans-directory-database",
    "plans-unreachable-postgres", "audit-corrupt-key"])
def test_operator_errors_are_one_plain_line_and_a_non_zero_status(
        tmp_path: Path, case: str) -> None:
    argv, why = _unusable(tmp_path, case)
    done = esp_coord(*argv)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    (line,) = done.stderr.splitlines()
    assert line.startswith("esp-coord: ") and why in line


@pytest.mark.parametrize("command", [[], ["plans"], ["audit"]])
def test_the_help_documents_the_exit_status_of_a_wrong_key_file(
        command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "4 the key file does not match the database" in help_text
    assert "2 configuration, key file or database missing, unreadable or malformed" in help_text


def test_keygen_writes_private_key_files_whatever_the_umask(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "esp.key"
    old = os.umask(0)
    try:
        for argv in (["keygen", "--key-file", str(key_file)],
                     ["keygen", "--rotate", "--key-file", str(key_file)]):
            with pytest.raises(SystemExit) as done:
                main(argv)
            assert done.value.code == 0
            assert key_file.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)
    assert Keyring.load(key_file).key_ids == (1, 2)
