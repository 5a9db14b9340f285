"""A plan's reminder rows are reconciled when its follow-ups change, and only then.

Through the real Processor and handlers into a SQLite store; the handler
sees a unit of work that counts ``replace_reminders`` calls per source. A new
plan always reconciles; a MAJ that only adds a note leaves the rows alone
(not even a no-op reconcile); a REPORTER that moves an action's date, or a
MAJ that adds an action, reconciles them.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from esp_coord.bootstrap import make_processor
from esp_coord.crypto import Keyring
from esp_coord.handlers import make_handler
from esp_coord.ports import UnitOfWork
from esp_coord.processing import Request
from esp_coord.store.reminders import Reminder
from tests.integration.test_access_matrix import CLAIRE, P1, Desk, team_config

PHARMACIST_ACTION = 2  # « pharmacien | bilan partagé de médication | 15/12/2026 »


class Counting:
    """A unit of work that counts ``replace_reminders`` calls, by source."""

    def __init__(self, tx: UnitOfWork, calls: Counter[str]) -> None:
        self._tx, self._calls = tx, calls

    def replace_reminders(self, source_ref: str, specs: Any, now: Any) -> Any:
        self._calls[source_ref] += 1
        return self._tx.replace_reminders(source_ref, specs, now)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)


@pytest.fixture
async def desk(tmp_path: Path, example_messages: dict[str, bytes]
               ) -> AsyncIterator[tuple[Desk, Counter[str]]]:
    desk = Desk(team_config(tmp_path), Keyring.generate())
    calls: Counter[str] = Counter()
    handler = make_handler(desk.config)

    def counting(request: Request) -> Any:
        return handler(dataclasses.replace(request, tx=Counting(request.tx, calls)))

    desk.processor = make_processor(desk.config, desk.store, handler=counting, now=desk.now)
    async with AsyncExitStack() as stack:
        await desk.store.start(stack)
        outcome = await desk.processor.process(example_messages["01-nouveau-pps"])
        assert outcome.outcome == "answered"
        await desk.drain()
        yield desk, calls


async def _rows(desk: Desk) -> list[Reminder]:
    async with desk.store.transaction(readonly=True) as tx:
        return tx.reminders_of(P1)


async def test_a_new_plan_reconciles_its_rows(desk: tuple[Desk, Counter[str]]) -> None:
    d, calls = desk
    assert calls[P1] == 1
    assert await _rows(d)  # its actions are due: reminder rows were made


async def test_a_note_leaves_the_reminder_rows_alone(desk: tuple[Desk, Counter[str]]) -> None:
    d, calls = desk
    before = await _rows(d)
    _, answers = await d.send(CLAIRE, f"MAJ {P1}", "Note : la patiente part une semaine")
    assert answers and "Rien n'a été fait" not in answers[0].text
    assert (await d.plan(P1)).version == 2
    assert calls[P1] == 1  # the creation's only
    assert await _rows(d) == before


async def test_a_postponed_action_reconciles_the_rows(desk: tuple[Desk, Counter[str]]
                                                      ) -> None:
    d, calls = desk
    before = {r.key for r in await _rows(d) if r.status == "pending"}
    _, answers = await d.send(CLAIRE, f"REPORTER {PHARMACIST_ACTION} au 22/12/2026 {P1}")
    assert "reportée au 22/12/2026" in " ".join(answers[0].text.split())
    assert calls[P1] == 2
    after = {r.key for r in await _rows(d) if r.status == "pending"}
    moved = f"{P1}:{PHARMACIST_ACTION}:2026-12-22:plan_due:"
    assert any(k.startswith(moved) for k in after) and not any(
        k.startswith(moved) for k in before)
    assert not any(k.startswith(f"{P1}:{PHARMACIST_ACTION}:2026-12-15:") for k in after)


async def test_a_new_action_reconciles_the_rows(desk: tuple[Desk, Counter[str]]) -> None:
    d, calls = desk
    await d.send(CLAIRE, f"MAJ {P1}", "Action : Dr DURAND | bilan biologique | 10/12/2026")
    assert calls[P1] == 2
    assert any(":2026-12-10:plan_due:" in r.key for r in await _rows(d))
