"""Care plans in the store: load, find and save them over one unit of work.

Plans are encrypted documents of kind ``plan`` (``PPS-2026-0001``). The
patient's INS and identity are kept only as blind indexes, the plan's
referent and care team as the document's members, in clear (they are not
patient data): LISTE and the access checks need no decryption to filter.

A ``PlanRepository`` lives as long as one unit of work (one mail, one
reminder) and is an identity map: a plan it has loaded is not loaded nor
decrypted again, whether asked by reference (``get``) or among the active
plans (``active``), and the object it returns is the one the handler changes
and saves. Saving records the history line; it does nothing else (reminders
are the caller's: ``scheduling.plan_reminders.plan_changed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from esp_coord.ports import UnitOfWork
from esp_coord.store.records import Document
from plans.model import Patient, Plan

if TYPE_CHECKING:
    from esp_coord.processing import Request

__all__ = ["KIND", "Loaded", "PlanRepository", "identity_key"]

KIND = "plan"


def identity_key(patient: Patient) -> str:
    """The clear value of the ``identity`` blind index: same name and birth date."""
    return (f"{patient.family_name.upper()}|{patient.given_name.upper()}|"
            f"{patient.birth_date.isoformat()}")


@dataclass
class Loaded:
    plan: Plan
    version: int
    doc: Document | None = None
    """As first loaded in this unit of work: lets ``save`` skip unchanged
    indexes, and gives the plan as it was before the request (``original``)."""

    def original(self) -> Plan | None:
        """The plan as stored when this unit of work first loaded it, read again
        from its already decrypted data (no decryption); None for a new plan."""
        return Plan.from_dict(self.doc.data) if self.doc is not None else None


class PlanRepository:
    """The plans of one unit of work (see the module docstring). ``author``,
    ``message_id`` and ``at`` sign the history lines of what it saves."""

    def __init__(self, tx: UnitOfWork, *, author: str | None = None,
                 message_id: str | None = None, at: datetime | None = None) -> None:
        self.tx = tx
        self._author, self._message_id, self._at = author, message_id, at
        self._by_ref: dict[str, Loaded | None] = {}
        self._active: list[str] | None = None

    @classmethod
    def of(cls, request: Request) -> PlanRepository:
        """The repository of a mail's handler: changes signed by its sender and mail."""
        return cls(request.tx, author=request.sender.email,
                   message_id=request.mail.message_id, at=request.now)

    def _known(self, doc: Document) -> Loaded:
        """The loaded plan of ``doc``, the one already in the map if any."""
        loaded = self._by_ref.get(doc.ref)
        if loaded is None:
            loaded = self._by_ref[doc.ref] = Loaded(Plan.from_dict(doc.data), doc.version, doc)
        return loaded

    # --- reading ---------------------------------------------------------------------

    def get(self, ref: str) -> Loaded | None:
        """The plan ``ref`` with its stored version, None if there is none."""
        if ref not in self._by_ref:
            # Once ``active`` ran, only a closed or unknown plan is left to ask for.
            doc = self.tx.load_document(KIND, ref)
            self._by_ref[ref] = None if doc is None else Loaded(
                Plan.from_dict(doc.data), doc.version, doc)
        return self._by_ref[ref]

    def active(self) -> list[Plan]:
        """Every active plan of the team, oldest first. Decrypts them all once per
        unit of work: call it before ``get`` when both are needed."""
        if self._active is None:
            docs = self.tx.find_documents(KIND, status="active")
            self._active = [self._known(doc).plan.ref for doc in docs]
        found = [self._by_ref[ref] for ref in self._active]
        return [loaded.plan for loaded in found if loaded is not None and loaded.plan.is_active]

    def listed(self, member: str | None) -> list[Plan]:
        """The active plans whose referent or care team holds ``member`` (all of
        them for None), oldest first: filtered in clear, only those decrypted."""
        if member is None:
            return self.active()
        docs = self.tx.find_documents(KIND, status="active", member=member)
        return [self._known(doc).plan for doc in docs]

    def active_with_ins(self, ins: str) -> Plan | None:
        """The patient's active plan (there is at most one), found by blind index."""
        docs = self.tx.find_documents(KIND, blind=("ins", ins), status="active")
        return self._known(docs[0]).plan if docs else None

    def refs_with_identity(self, patient: Patient) -> list[str]:
        """Plans, active or closed, of a patient with the same name and birth date."""
        return [d.ref for d in self.tx.find_documents(KIND,
                                                      blind=("identity", identity_key(patient)))]

    # --- writing ---------------------------------------------------------------------

    def add(self, plan: Plan, *, summary: str) -> int:
        """Store a new plan (version 1) with its history line."""
        version = self._write(plan, expected=None, previous=None, summary=summary)
        self._by_ref[plan.ref] = Loaded(plan, version)
        return version

    def save(self, plan: Plan, *, summary: str) -> int:
        """Store the changes of a plan loaded through this repository, with its
        history line; returns the new version. ``ConflictError`` if the plan
        changed in the store since it was loaded."""
        loaded = self._by_ref.get(plan.ref)
        if loaded is None or loaded.plan is not plan:
            raise ValueError(f"plan {plan.ref} was not loaded through this repository")
        loaded.version = self._write(plan, expected=loaded.version, previous=loaded.doc,
                                     summary=summary)
        return loaded.version

    def _write(self, plan: Plan, *, expected: int | None, previous: Document | None,
               summary: str) -> int:
        if self._author is None or self._at is None:
            raise ValueError("a repository without an author does not save")
        patient = plan.patient
        version = self.tx.save_document(
            kind=KIND, ref=plan.ref, data=plan.to_dict(), status=plan.status,
            expected_version=expected,
            blind={"ins": patient.ins, "identity": identity_key(patient)},
            members={plan.referent, *plan.team}, at=self._at, previous=previous)
        self.tx.add_history(kind=KIND, ref=plan.ref, version=version, author=self._author,
                            source_message_id=self._message_id, at=self._at,
                            change={"summary": summary})
        return version
