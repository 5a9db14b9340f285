"""Fixtures (no tests here) running the store's contract tests on SQLite,
PostgreSQL and the memory store.

SQLite always runs (a fresh file per test). PostgreSQL runs when a server
answers on 127.0.0.1:5432 (trust auth, user postgres or root, database
``test``); each test gets its own schema, dropped afterwards, so runs never
see each other's rows. Every test ends with a leak check: no connection
still checked out, and after ``close()`` none left open on the server (by
application name) or on the SQLite file (its WAL is removed on last close);
on memory, no transaction left holding the writers' lock.

``backend`` (every integration test has it, tests/integration/conftest.py)
is SQLite and PostgreSQL. A module of contract tests imports
``contract_backend``, named ``backend`` too so that it overrides the
conftest's, to run on the memory store as well (``esp_coord.store.memory``);
its tests about the SQL implementation itself are marked
``@pytest.mark.sql_only("why")``: not run on memory.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from esp_coord.crypto import Keyring
from esp_coord.store import Store
from esp_coord.store.memory import MemoryData, MemoryStore

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_DATABASE = "test"
PG_USERS = ("postgres", "root")


@dataclass
class Backend:
    """How to open (and reopen) stores on one fresh database or schema."""

    name: str
    url: str
    options: dict[str, Any]
    memory: MemoryData | None = None  # the memory backend's "database"

    def store(self, keyring: Keyring, **kwargs: Any) -> Any:
        """A ``Store`` (a ``MemoryStore`` on the memory backend), not started."""
        if self.memory is not None:
            return MemoryStore(keyring, data=self.memory, **kwargs)
        return Store(self.url, keyring, engine_options=self.options, **kwargs)


def _find_postgres_user() -> tuple[str | None, str]:
    import psycopg

    reason = ""
    for user in PG_USERS:
        try:
            psycopg.connect(host=PG_HOST, port=PG_PORT, user=user, dbname=PG_DATABASE,
                            connect_timeout=3).close()
        except Exception as exc:  # noqa: BLE001 - any failure means "skip"
            reason = f"{type(exc).__name__}: {exc}"
            continue
        return user, ""
    return None, reason


@pytest.fixture(scope="session")
def postgres_user() -> str:
    user, reason = _find_postgres_user()
    if user is None and os.environ.get("ESP_REQUIRE_POSTGRES"):
        pytest.fail(f"PostgreSQL is required here (ESP_REQUIRE_POSTGRES) and unreachable at "
                    f"{PG_HOST}:{PG_PORT}/{PG_DATABASE}: {reason}")
    if user is None:
        pytest.skip(
            f"NOTICE: PostgreSQL is unreachable at {PG_HOST}:{PG_PORT}/{PG_DATABASE} "
            f"as {' or '.join(PG_USERS)} ({reason}): PostgreSQL contract tests skip"
        )
    return user


def _pg_admin(user: str) -> Any:
    import psycopg

    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=user, dbname=PG_DATABASE,
                           autocommit=True)


SQL_BACKENDS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.postgres))


@pytest.fixture(params=SQL_BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async for opened in _open(request, tmp_path):
        yield opened


@pytest.fixture(params=(*SQL_BACKENDS, "memory"), name="backend")
async def contract_backend(request: pytest.FixtureRequest,
                           tmp_path: Path) -> AsyncIterator[Backend]:
    """``backend`` and the memory store, for the modules of contract tests."""
    # (A ``sql_only`` test never gets the memory one: tests/conftest.py.)
    async for opened in _open(request, tmp_path):
        yield opened


async def _open(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "memory":
        data = MemoryData()
        yield Backend("memory", "memory:", {}, data)
        assert not data.lock.locked(), "a memory transaction was left open"
        return
    if request.param == "sqlite":
        db = tmp_path / "var" / "store.db"
        yield Backend("sqlite", f"sqlite:///{db}", {})
        assert not Path(f"{db}-wal").exists(), "a SQLite connection was left open"
        return
    user = request.getfixturevalue("postgres_user")
    schema = f"t_{secrets.token_hex(6)}"
    admin = _pg_admin(user)
    try:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        options = {
            "connect_args": {
                "options": f"-c search_path={schema}", "application_name": schema
            }
        }
        url = f"postgresql+psycopg://{user}@{PG_HOST}:{PG_PORT}/{PG_DATABASE}"
        yield Backend("postgresql", url, options)
        # A closed connection's server process ends a moment after the client
        # hangs up: look again for a while before calling it left open.
        for _ in range(50):
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (schema,)
            ).fetchone()
            left = row[0] if row else 0
            if left == 0:
                break
            await asyncio.sleep(0.1)
        assert left == 0, f"{left} PostgreSQL connection(s) left open"
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate()


@pytest.fixture
async def store(backend: Backend, keyring: Keyring) -> AsyncIterator[Store]:
    async with AsyncExitStack() as stack:
        store = backend.store(keyring)
        await store.start(stack)
        yield store
        if backend.memory is not None:
            assert not backend.memory.lock.locked(), "a memory transaction is still open"
            return
        pool = store.engine.pool
        assert pool.checkedout() == 0, "a connection is still checked out"  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="not started"):
        store.engine  # noqa: B018 - disposed and forgotten on close


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
    """``store.run(call(Tx.method, ...))`` without a lambda per call site: the
    method of that name on whichever unit of work ``run`` gives (``MemoryTx``)."""
    name = fn.__name__
    return lambda tx: getattr(tx, name)(*args, **kwargs)
