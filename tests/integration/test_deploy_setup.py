"""deploy/postgres-setup.sql, run as docs/deployment.md says, on the real server.

It makes a database owned by ``esp_owner``, worker roles that may read and
write but not alter tables, and row level security that binds the owner
too: only a transaction that set its team sees that team's rows.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from contextlib import AsyncExitStack
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from esp_coord.crypto import Keyring
from esp_coord.entrypoints.cli import main
from esp_coord.store import Tx
from esp_coord.store.database import Database
from esp_coord.store.engine import make_engine
from tests.support.store import PG_DATABASE, PG_HOST, PG_PORT, call

pytestmark = pytest.mark.postgres
SETUP = Path(__file__).resolve().parents[2] / "deploy" / "postgres-setup.sql"


def psql(user: str, *args: str) -> str:
    result = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", PG_HOST,
                             "-p", str(PG_PORT), "-U", user, "-d", PG_DATABASE, *args],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def setup_database(postgres_user: str) -> str:  # type: ignore[misc]
    if shutil.which("psql") is None:
        pytest.skip("NOTICE: psql is not installed: the set-up script is not tested")
    name = f"esp_setup_{secrets.token_hex(4)}"
    try:
        psql(postgres_user, "-v", "workers=2", "-v", f"dbname={name}", "-f", str(SETUP))
        yield name
    finally:
        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=postgres_user,
                             dbname=PG_DATABASE, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_the_setup_script_gives_an_owner_workers_and_binding_row_security(
        setup_database: str, postgres_user: str, capsys: pytest.CaptureFixture[str]) -> None:
    def url(role: str) -> str:
        return f"postgresql+psycopg://{role}@{PG_HOST}:{PG_PORT}/{setup_database}"

    with pytest.raises(SystemExit) as done:
        main(["migrate", "--database-url", url("esp_owner")])
    assert done.value.code == 0, capsys.readouterr()
    assert "The schema is at revision" in capsys.readouterr().out
    # Grants on the tables the migration created: the script again (idempotent).
    psql(postgres_user, "-v", "workers=2", "-v", f"dbname={setup_database}", "-f", str(SETUP))

    async with AsyncExitStack() as stack:
        database = Database(url("esp_worker_1"))
        await database.start(stack)  # the schema is at head: no migration needed
        store = database.store("esp-nord", Keyring.generate())
        await store.start(stack)
        assert await store.run(call(Tx.next_number, "pps", 2026)) == 1

    for role in ("esp_worker_2", "esp_owner"):
        engine = make_engine(url(role), busy_timeout=5)
        try:
            with engine.connect() as conn:
                # Row security binds the owner too (FORCE): no team, no row.
                assert conn.execute(text("SELECT count(*) FROM counters")).scalar_one() == 0
                conn.execute(text("SELECT set_config('app.team', 'esp-nord', true)"))
                assert conn.execute(text("SELECT value FROM counters")).scalar_one() == 1
        finally:
            engine.dispose()
    engine = make_engine(url("esp_worker_2"), busy_timeout=5)
    try:
        with engine.connect() as conn, pytest.raises(ProgrammingError, match="owner"):
            conn.execute(text("ALTER TABLE counters ADD COLUMN x integer"))
    finally:
        engine.dispose()
