"""Each document a command needs is loaded (hence decrypted) once per mail.

Through the real Processor and handlers into a SQLite store; the handler
sees a unit of work that records which documents it loads. STATUT loads its
plan once (the next meeting is looked for with the plan already loaded); RCP
NOUVELLE naming a plan on its agenda finds it among the active plans it loads
for the acknowledgement; RCP about one meeting loads that meeting alone.
"""

from __future__ import annotations

import dataclasses
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
from tests.integration.test_access_matrix import ANA, CLAIRE, P1, Desk, team_config

MEETING = "RCP-2026-001"


class Recording:
    """A unit of work that records the documents loaded through it."""

    def __init__(self, tx: UnitOfWork, loads: list[tuple[str, ...]]) -> None:
        self._tx, self._loads = tx, loads

    def load_document(self, kind: str, ref: str) -> Any:
        self._loads.append(("load", kind, ref))
        return self._tx.load_document(kind, ref)

    def find_documents(self, kind: str, **filters: Any) -> Any:
        found = self._tx.find_documents(kind, **filters)
        self._loads.append(("find", kind, *(d.ref for d in found)))
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)


@pytest.fixture
async def desk(tmp_path: Path, example_messages: dict[str, bytes]
               ) -> AsyncIterator[tuple[Desk, list[tuple[str, ...]]]]:
    desk = Desk(team_config(tmp_path), Keyring.generate())
    loads: list[tuple[str, ...]] = []
    handler = make_handler(desk.config)

    def recording(request: Request) -> Any:
        return handler(dataclasses.replace(request, tx=Recording(request.tx, loads)))

    desk.processor = make_processor(desk.config, desk.store, handler=recording, now=desk.now)
    async with AsyncExitStack() as stack:
        await desk.store.start(stack)
        for name in ("01-nouveau-pps", "04-rcp-nouvelle"):
            outcome = await desk.processor.process(example_messages[name])
            assert outcome.outcome == "answered", name
        await desk.drain()
        yield desk, loads


def _times_loaded(loads: list[tuple[str, ...]], kind: str, ref: str) -> int:
    return sum(1 for op, k, *refs in loads if k == kind and ref in refs)


async def test_rcp_nouvelle_loads_the_plan_on_its_agenda_once(
        desk: tuple[Desk, list[tuple[str, ...]]]) -> None:
    _, loads = desk
    # The fixture's two mails: NOUVEAU PPS looked for the patient (no plan
    # yet); RCP NOUVELLE, whose agenda names P1, loaded the active plans once.
    assert _times_loaded(loads, "plan", P1) == 1
    assert ("load", "plan", P1) not in loads


async def test_statut_loads_its_plan_once(desk: tuple[Desk, list[tuple[str, ...]]]) -> None:
    d, loads = desk
    loads.clear()
    _, (answer,) = await d.send(CLAIRE, f"STATUT {P1}")
    assert MEETING in answer.text  # the next meeting, found with the plan loaded
    assert _times_loaded(loads, "plan", P1) == 1
    assert _times_loaded(loads, "meeting", MEETING) == 1


async def test_rcp_about_one_meeting_loads_that_meeting_alone(
        desk: tuple[Desk, list[tuple[str, ...]]]) -> None:
    d, loads = desk
    loads.clear()
    _, (answer,) = await d.send(ANA, f"RCP {MEETING}")
    assert MEETING in answer.subject
    assert loads[0] == ("load", "meeting", MEETING)
    assert not any(op == "find" and kind == "meeting" for op, kind, *_ in loads)
