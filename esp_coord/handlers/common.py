"""What the plan, action and meeting handlers all need: the protocol library,
the mail's day, the sender as the grammar knows people, the plan a mail is
about once its access is checked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cache

from esp_coord import absence_repo, access
from esp_coord.answers import Answer
from esp_coord.plan_repo import Loaded, PlanRepository
from esp_coord.processing import Request
from esp_coord.references import plan_ref_of
from plans.commands import Detected
from plans.people import Person
from plans.protocols import ProtocolDef, load_library

from .replies import missing_ref, refusal
from .trail import record

__all__ = ["library", "plan_for", "sender_of", "today_of"]


@cache
def library() -> dict[str, ProtocolDef]:
    return load_library()


def today_of(request: Request) -> date:
    """Relative dates ("demain", "J+10") count from the mail's own date."""
    moment = request.mail.date or request.now
    return moment.astimezone(request.config.timezone).date()


def sender_of(request: Request, people: Sequence[Person]) -> Person:
    """The sender among ``people`` (the roster: a trusted sender is on it)."""
    return next(p for p in people if p.email == request.sender.email)


def plan_for(request: Request, plans: PlanRepository, detected: Detected, command: str
             ) -> tuple[Loaded | None, list[Answer]]:
    """The plan the mail is about if the sender may read it, else the answer
    that says it is missing or not found (the same for unknown and not theirs)."""
    ref = plan_ref_of(request.mail, request.config, detected)
    if ref is None:
        return None, missing_ref(request, command)
    loaded = plans.get(ref)
    covering: set[str] = set()
    if loaded is not None and not access.may_read(request.sender, loaded.plan):
        absences, _ = absence_repo.load(request.tx)
        covering = absences.covered_by(request.sender.email, today_of(request))
    if loaded is None or not access.may_read(request.sender, loaded.plan, covering):
        # The answer is the same either way; the audit keeps which it was.
        why = "no such plan" if loaded is None else "not on the care team"
        record(request, "refused", ref, f"{command}: {why}")
        return None, refusal(request, ref)
    return loaded, []
