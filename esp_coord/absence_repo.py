"""The team's absences in the store, and what changes when they change.

One encrypted document of kind ``absences`` (``plans.absences.Absences``);
its members are the absent members and their substitutes (in clear: not
patient data). Any change reconciles the reminder rows of every active plan
and meeting (``reconcile_all``), in the same transaction: what falls due for
the absent member goes to whoever covers for them from now on, and back to
them when the absence is cancelled.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from esp_coord.config import Config
from esp_coord.ports import UnitOfWork
from plans.absences import Absence, Absences

if TYPE_CHECKING:
    from esp_coord.store.records import Document

__all__ = ["KIND", "REF", "absence_words", "load", "reconcile_all", "save"]

KIND, REF = "absences", "equipe"


def load(tx: UnitOfWork) -> tuple[Absences, Document | None]:
    doc = tx.load_document(KIND, REF)
    return (Absences() if doc is None else Absences.from_dict(doc.data)), doc


def save(tx: UnitOfWork, absences: Absences, previous: Document | None, *, author: str,
         at: datetime, message_id: str | None, summary: str) -> None:
    """Store ``absences`` (``previous``: as loaded) with a history line that
    names no date (``summary``: « absence déclarée », « absence lue dans une
    réponse automatique »)."""
    members = {a.member for a in absences.items} | {
        a.substitute for a in absences.items if a.substitute}
    version = tx.save_document(kind=KIND, ref=REF, data=absences.to_dict(), status="active",
                               expected_version=None if previous is None else previous.version,
                               members=members, at=at, previous=previous)
    tx.add_history(kind=KIND, ref=REF, version=version, author=author,
                   source_message_id=message_id, at=at, change={"summary": summary})


def reconcile_all(tx: UnitOfWork, config: Config, now: datetime) -> None:
    """Every active plan's and meeting's reminder rows, from now on, with the
    absences as they now are."""
    # Imported here: the schedulers import this module for the absences.
    from esp_coord.meeting_repo import MeetingRepository
    from esp_coord.plan_repo import PlanRepository
    from esp_coord.scheduling import meeting_reminders, plan_reminders

    absences, _ = load(tx)
    for plan in PlanRepository(tx).active():
        plan_reminders.schedule_plan(tx, plan, config, now, absences=absences)
    for meeting in MeetingRepository(tx).active():
        meeting_reminders.schedule(tx, meeting, config, now, absences=absences)


def absence_words(absence: Absence, config: Config, *, with_name: bool = True) -> str:
    """« Julien MARIE, du 20/12/2026 au 04/01/2027 (remplacement : Paul GIRARD) »."""
    def name(address: str) -> str:
        member = config.member(address)
        return member.name if member else address

    said = f"{name(absence.member)}, {absence.describe()}" if with_name else absence.describe()
    if absence.substitute:
        said += f" (remplacement : {name(absence.substitute)})"
    return said
