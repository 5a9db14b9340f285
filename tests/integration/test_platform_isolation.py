"""Two teams on one PostgreSQL database: nothing of one reaches the other,
through any command a member can mail nor any command of the CLI.

Team A (the example team) creates plans, a meeting and an absence by mail.
Team B has the same professionals (a nurse may work with two ESP) under its
own mailbox and key: every command of the registry, mailed by B's
coordinator with A's references, and ``plans``, ``audit`` and ``report``
run on B's configuration, must show nothing of A: no patient name, no INS,
no plan, meeting or absence of A's. The stores connect as a worker role, as
in production, so that row level security is what is tested.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from esp_coord.bootstrap import make_processor
from esp_coord.config import Config, load_config
from esp_coord.crypto import Keyring
from esp_coord.entrypoints.cli import main
from esp_coord.store import Store
from esp_coord.store.database import Database
from plans.commands import SYNTAXES
from tests.faults.backlog import plan_body
from tests.servers.tls import TLSMaterial
from tests.support.platform import PlatformDb, offline_team_file, platform_db

__all__ = ["platform_db"]
pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 25, 7, 30, tzinfo=UTC)
COORDINATOR = ("Ana COSTA", "ana.costa@esp-valdelorge.mssante.test")
REFERENT = ("Claire DURAND", "claire.durand@medecin.mssante.test")
A_PATIENTS = ("ALPHAVILLE-001", "ALPHAVILLE-002")


def readable(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    parts = [message["Subject"] or ""]
    for part in message.walk():
        if part.get_content_maintype() == "text" or part.get_filename():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                parts.append(payload.decode("utf-8", errors="replace"))
    return "\n".join(parts)


class Desk:
    """One team's processor on the platform: raw mail in, its answers out."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config, self.store = config, store
        self.count = 0
        self.processor = make_processor(config, store, now=self.now)

    def now(self) -> datetime:
        return NOW + timedelta(minutes=self.count)

    async def send(self, sender: tuple[str, str], subject: str, body: str = "") -> list[str]:
        self.count += 1
        raw = (f"From: {sender[0]} <{sender[1]}>\r\nTo: {self.config.bot_address}\r\n"
               f"Subject: {subject}\r\nDate: Wed, 25 Nov 2026 08:30:00 +0100\r\n"
               f"Message-ID: <{uuid.uuid4().hex}@mssante.test>\r\nMIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=utf-8\r\n"
               f"Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n").encode()
        await self.processor.process(raw)

        def take(tx):  # type: ignore[no-untyped-def]
            items = tx.outbox_due(NOW + timedelta(days=365))
            for item in items:
                tx.mark_sent(item.id, NOW)
            return items

        return [readable(item.raw) for item in await self.store.run(take)]


def team(folder: Path, team_id: str, bot: str, database_url: str, ca_file: Path) -> Config:
    """The example team's roster under its own id, mailbox, key and file."""
    folder.mkdir()
    Keyring.generate().save(folder / "esp.key")
    return load_config(offline_team_file(folder, team_id, bot=bot, database_url=database_url,
                                         ca_file=ca_file))


async def test_nothing_of_one_team_reaches_another_by_mail_or_cli(
        tmp_path: Path, platform_db: PlatformDb, tls_material: TLSMaterial,
        capsys: pytest.CaptureFixture[str]) -> None:
    url = platform_db.search_path_url
    ca = tls_material.ca_file
    a = team(tmp_path / "a", "esp-a", "coordination@esp-a.mssante.test", url, ca)
    b = team(tmp_path / "b", "esp-b", "coordination@esp-b.mssante.test", url, ca)
    a_secrets: list[str] = []
    async with AsyncExitStack() as stack:
        database = Database(platform_db.worker_url, engine_options=platform_db.options())
        await database.start(stack)
        stores = {}
        for config in (a, b):
            stores[config.team_id] = database.store(config.team_id, Keyring.load(config.key_file))
            await stores[config.team_id].start(stack)
        desk_a, desk_b = Desk(a, stores["esp-a"]), Desk(b, stores["esp-b"])

        for order, family in enumerate(A_PATIENTS, start=1):
            answers = await desk_a.send(REFERENT, "NOUVEAU PPS", plan_body(family, "Jeanne", order))
            assert any(f"PPS-2026-000{order}" in text for text in answers), answers
            a_secrets.append(family)
        rcp = next(s for s in SYNTAXES if s.name == "RCP_NOUVELLE")
        answers = await desk_a.send(COORDINATOR, rcp.display, rcp.example)
        assert any("RCP-2026-001" in text for text in answers), answers
        absent = await desk_a.send(REFERENT, "ABSENCE du 08/02/2027 au 19/02/2027")
        assert any("08/02/2027" in text for text in absent), absent
        status = await desk_a.send(REFERENT, "STATUT PPS-2026-0001")
        assert any(A_PATIENTS[0] in text for text in status)  # A sees its own plan
        # A's INS prefix, name root and absence (B declares the example's own).
        a_secrets += ["248037505600", "ALPHAVILLE", "08/02/2027"]

        # Every command, as team B's coordinator (and referent), with A's refs.
        seen: list[str] = []
        for syntax in SYNTAXES:
            if syntax.name == "NOUVEAU_PPS":
                continue  # B's own first plan would take PPS-2026-0001: below
            subject, _, body = syntax.example.partition("\n")
            if syntax.name == "RCP_NOUVELLE":
                subject, body = syntax.display, syntax.example
            for sender in (COORDINATOR, REFERENT):
                seen += await desk_b.send(sender, subject, body)
        seen += await desk_b.send(COORDINATOR, "INDICATEURS 2026")
        seen += await desk_b.send(COORDINATOR, "ABSENCES")
        assert seen, "team B got no answer at all"
        leaked = [s for s in a_secrets for text in seen if s in text]
        assert not leaked, f"team B was shown team A's data: {sorted(set(leaked))}"
        status_b = await desk_b.send(COORDINATOR, "STATUT PPS-2026-0001")
        assert any("PPS-2026-0001" in t and A_PATIENTS[0] not in t for t in status_b)
        # B's own first plan is numbered 1 in its own sequence.
        created = await desk_b.send(REFERENT, "NOUVEAU PPS", plan_body("BETA", "Louise", 7))
        assert any("PPS-2026-0001" in t for t in created) and not any(
            A_PATIENTS[0] in t for t in created)

    # The CLI on B's configuration (B's key, B's team): nothing of A either.
    b_file = tmp_path / "b" / "esp.toml"
    outputs = []
    for argv, code in ((["plans", "list", "--config", str(b_file)], 0),
                       # A's second plan: B has no such plan.
                       (["plans", "show", "PPS-2026-0002", "--config", str(b_file)], 1),
                       (["audit", "verify", "--config", str(b_file)], 0),
                       (["audit", "show", "--actor", REFERENT[1], "--config", str(b_file)], 0),
                       (["report", "--config", str(b_file), "--period", "2026", "--format",
                         "csv", "--output", str(tmp_path / "b.csv")], 0)):
        with pytest.raises(SystemExit) as done:
            await asyncio.to_thread(main, argv)  # main runs its own event loop
        captured = capsys.readouterr()
        assert done.value.code == code, (argv, captured.out + captured.err)
        outputs.append(captured.out + captured.err)
    outputs.append((tmp_path / "b.csv").read_text(encoding="utf-8"))
    assert "BETA" in outputs[0]  # B's list shows B's plan...
    leaked = [s for s in a_secrets for text in outputs if s in text]
    assert not leaked, f"B's CLI showed team A's data: {leaked}"
