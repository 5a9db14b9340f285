"""Fuzzing the whole decision path: Processor + handlers + a real SQLite store.

Hostile mails from team members (so that the handlers run) and from
strangers: each one ends answered, quarantined or ignored; no handler ever
fails; every answer is a well-formed mail to team members only, with no
injected header and no live HTML from the sender. Fewer examples than the
pure targets: each one is a committed SQLite transaction.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esp_coord.bootstrap import make_processor
from esp_coord.config import Config
from esp_coord.crypto import Keyring
from esp_coord.store import Store
from tests.fuzz.strategies import MEMBERS, hostile_mail
from tests.support.config import offline_config

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
FEWER = max(100, settings.default.max_examples // 15)
OUTCOMES = {"answered", "quarantined", "ignored"}


class Rig:
    def __init__(self, folder: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.config = offline_config(folder, database="fuzz.db")
        self.store = Store(self.config.database_url, Keyring.generate())
        self.stack = AsyncExitStack()
        self.loop.run_until_complete(self.store.start(self.stack))
        self.processor = make_processor(self.config, self.store, now=lambda: NOW)
        self.seen: set[int] = set()

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.loop.run_until_complete(coro)

    def new_answers(self):  # type: ignore[no-untyped-def]
        rows = self.run(self.store.run(lambda tx: tx.outbox_due(datetime(2100, 1, 1, tzinfo=UTC),
                                                                limit=10_000)))
        fresh = [r for r in rows if r.id not in self.seen]
        self.seen.update(r.id for r in fresh)
        return fresh

    def close(self) -> None:
        self.run(self.stack.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    rig = Rig(tmp_path_factory.mktemp("fuzz-processor"))
    yield rig
    rig.close()


def _mail(seed: int) -> bytes:
    rng = random.Random(seed)
    sender = rng.choice(MEMBERS) if rng.random() < 0.85 else None
    return hostile_mail(rng, sender)


def _check_answer(row, config: Config, incoming: bytes) -> None:  # type: ignore[no-untyped-def]
    allowed = {m.email for m in config.members} | {config.bot_address}
    assert set(row.recipients) <= allowed
    head, _, _ = row.raw.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        assert b"\r" not in line and b"\n" not in line
        assert line[:1] in b" \t" or b":" in line, line[:80]
    names = [line.split(b":", 1)[0].lower() for line in head.split(b"\r\n")
             if line[:1] not in b" \t"]
    assert b"bcc" not in names
    for once in (b"from", b"to", b"subject", b"message-id", b"in-reply-to"):
        assert names.count(once) <= 1, once
    message = message_from_bytes(row.raw, policy=policy.default)
    for part in message.walk():
        if part.get_content_type() == "text/html":
            html = part.get_content()
            assert "<script" not in html.lower()


@settings(max_examples=FEWER)
@given(st.integers(0, 2**64 - 1))
def test_every_mail_ends_answered_quarantined_or_ignored(rig: Rig, seed: int) -> None:
    raw = _mail(seed)
    outcome = rig.run(rig.processor.process(raw))
    assert outcome.outcome in OUTCOMES, (seed, outcome)
    for row in rig.new_answers():
        _check_answer(row, rig.config, raw)
