"""The minutes' « Présents : » line names people as every other line does."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from esp_coord.report.attendance import present
from plans.meetings import Held, Meeting
from tests.support.config import offline_config

CONFIG = offline_config()
DAY = date(2026, 12, 3)


def meeting(participants: list[str]) -> Meeting:
    at = datetime(2026, 12, 3, 11, 30, tzinfo=UTC)
    return Meeting(ref="RCP-2026-001", start=at, duration_minutes=90, location="MSP",
                   participants=participants, organizer="ana.costa@esp-valdelorge.mssante.test",
                   created_at=at, timezone="Europe/Paris")


def came(line: str, participants: list[str] | None = None) -> list[str]:
    everyone = [m.email for m in CONFIG.members]
    held = Held(day=DAY, by="ana.costa@esp-valdelorge.mssante.test",
                at=datetime(2026, 12, 3, 14, 0, tzinfo=UTC), notes=["Excusés : IDE", line])
    found = present(meeting(everyone if participants is None else participants), held,
                    CONFIG.members)
    return sorted(m.email.split("@")[0] for m in found)


@pytest.mark.parametrize("line", [
    "Présents : Dr DURAND, IDE MARIE, kiné BENALI",
    "présents : Claire Durand ; Julien MARIE et M. Benali",
    "Présent : claire.durand@medecin.mssante.test, julien.marie@infirmier.mssante.test, "
    "BENALI",
])
def test_people_are_named_as_in_any_other_line(line: str) -> None:
    assert came(line) == ["claire.durand", "julien.marie", "karim.benali"]


def test_tous_is_every_participant() -> None:
    invited = ["claire.durand@medecin.mssante.test", "karim.benali@mk.mssante.test"]
    assert came("Présents : tous", invited) == ["claire.durand", "karim.benali"]


def test_a_name_that_designates_nobody_or_several_counts_no_one() -> None:
    assert came("Présents : Dr DURAND, Mme INCONNUE, Dr") == ["claire.durand"]
    assert came("Présents : 5 personnes") == []


def test_no_line_no_one() -> None:
    assert came("Remarques : aucune") == []
