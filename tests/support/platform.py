"""A platform database for tests: a fresh PostgreSQL schema, migrated by the
owner (the test's superuser), used by a worker role that is neither owner
nor superuser, so that row level security applies to it as in production
(deploy/postgres-setup.sql gives the same grants)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from esp_coord.crypto import Keyring
from esp_coord.store.database import Database
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp_front import SmtpFront
from tests.support.paths import EXAMPLE_CONFIG
from tests.support.store import PG_DATABASE, PG_HOST, PG_PORT, _pg_admin

WORKER_ROLE = "esp_test_worker"


@dataclass
class PlatformDb:
    schema: str
    admin_url: str
    worker_url: str

    def options(self) -> dict[str, Any]:
        return {"connect_args": {"options": f"-c search_path={self.schema}",
                                 "application_name": self.schema}}

    @property
    def search_path_url(self) -> str:
        """The worker's URL with the schema in it, for a child process."""
        return (f"{self.worker_url}?options=-csearch_path%3D{self.schema}"
                f"&application_name={self.schema}")


def grant_worker(admin: Any, schema: str, role: str = WORKER_ROLE) -> None:
    exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    if exists is None:
        admin.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS')
    admin.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
    admin.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" '
                  f'TO "{role}"')
    admin.execute(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{role}"')


@asynccontextmanager
async def new_platform_db(postgres_user: str) -> AsyncIterator[PlatformDb]:
    """A fresh schema, migrated, granted to the worker role; dropped after."""
    schema = f"p_{secrets.token_hex(6)}"
    admin = _pg_admin(postgres_user)
    base = f"postgresql+psycopg://{{}}@{PG_HOST}:{PG_PORT}/{PG_DATABASE}"
    db = PlatformDb(schema, base.format(postgres_user), base.format(WORKER_ROLE))
    try:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        async with AsyncExitStack() as stack:
            owner = Database(db.admin_url, migrate=True, engine_options=db.options())
            await owner.start(stack)
        grant_worker(admin, schema)
        yield db
        for _ in range(50):  # a closed connection's server process ends a moment later
            row = admin.execute("SELECT count(*) FROM pg_stat_activity "
                                "WHERE application_name = %s", (schema,)).fetchone()
            if not row or row[0] == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


@pytest.fixture
async def platform_db(postgres_user: str) -> AsyncIterator[PlatformDb]:
    async with new_platform_db(postgres_user) as db:
        yield db


def bot(i: int) -> str:
    return f"coordination@equipe-{i}.mssante.test"


def write_team(folder: Path, i: int, dovecot: DovecotServer, front: SmtpFront,
               database_url: str, reminder_hour: str) -> Path:
    """Team ``i``: the example team's roster, its own mailbox, key and id."""
    head = EXAMPLE_CONFIG.read_text(encoding="utf-8").split("# The applicative MSSanté")[0]
    head = head.replace('name = "ESP du Val de Lorge"',
                        f'id = "equipe-{i}"\nname = "ESP numéro {i}"')
    head = head.replace('bot_address = "coordination@esp-valdelorge.mssante.test"',
                        f'bot_address = "{bot(i)}"')
    Keyring.generate().save(folder / f"equipe-{i}.key")
    path = folder / f"equipe-{i}.toml"
    path.write_text(head + f"""
[imap]
host = "{dovecot.host}"
port = {dovecot.imap_port}
security = "implicit"
ca_file = "{dovecot.ca_file}"
revocation = "when-named"
username = "{bot(i)}"
password_file = "imap.pw"
timeout = 10

[smtp]
host = "{front.host}"
port = {front.port}
security = "starttls"
ca_file = "{dovecot.ca_file}"
revocation = "when-named"
auth = "none"
timeout = 10

[reminders]
hour = "{reminder_hour}"
digest = false  # one mail per reminder row: counted by its stable Message-ID

[storage]
database_url = "{database_url}"
key_file = "equipe-{i}.key"
""", encoding="utf-8")
    return path


def offline_team_file(folder: Path, team_id: str, *, database_url: str, ca_file: Path,
                      bot: str = "coordination@esp-valdelorge.mssante.test",
                      key_file: str = "esp.key") -> Path:
    """``folder/esp.toml``: the example team's roster under its own id and
    mailbox, on the platform's database, with mail servers never reached (a
    closed port). The key file is the caller's to write."""
    head = EXAMPLE_CONFIG.read_text(encoding="utf-8").split("# The applicative MSSanté")[0]
    head = head.replace("[team]\n", f'[team]\nid = "{team_id}"\n', 1).replace(
        "coordination@esp-valdelorge.mssante.test", bot)
    (folder / "imap.pw").write_text("pw", encoding="utf-8")
    path = folder / "esp.toml"
    path.write_text(head + f"""
[imap]
host = "127.0.0.1"
port = 1
security = "implicit"
ca_file = "{ca_file}"
username = "bot"
password_file = "imap.pw"
[smtp]
host = "127.0.0.1"
port = 1
security = "implicit"
ca_file = "{ca_file}"
auth = "none"
[storage]
database_url = "{database_url}"
key_file = "{key_file}"
""", encoding="utf-8")
    return path
