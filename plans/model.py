"""The care plan (PPS / PPCS) and what happens to it.

A ``Plan`` is built from a validated ``PlanDraft`` (see ``plans.grammar``) with
``Plan.create``, then changed only through its methods, each of which appends
to the action's or the plan's history so that the state answers "who did what,
when, from which mail":

- ``apply(update, ...)``: a ``MAJ`` mail (adds problems, actions, notes...);
  a new ``Version`` is recorded;
- ``close(...)``; ``mark_done(number, ...)``; ``postpone(number, ..., at_time=)``;
  ``undo_done(number, ...)`` (a ``FAIT`` sent by mistake);
- ``next_due(today)``, ``overdue(today)``: what is coming and what is late.

Dates of care are ``date``; instants (``at``) are aware ``datetime``.
``to_dict()``/``from_dict()`` give a JSON-safe form (ISO strings) for the
encrypted store; the round trip is lossless.

An action's ``due`` is its next due date: for a one-off action the date asked;
for a recurring action the next occurrence, moved on by ``mark_done`` (an
occurrence done early counts for the one that was due, one done late moves on
from the day it was done). ``start`` anchors the rhythm. A recurring action
ends (status "done") when no occurrence is left before its ``until``.
Each ``Occurrence`` keeps the due date it was done for, so that
``undo_done`` puts that date back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from plans.dates import format_date, format_time
from plans.rhythm import When

if TYPE_CHECKING:  # annotations only: drafts and protocols import the model
    from plans.drafts import ActionDraft, PlanDraft, PlanUpdate
    from plans.protocols import ProtocolDef

__all__ = ["Action", "AppliedProtocol", "Entry", "Note", "Occurrence", "Patient", "Plan",
           "PlanError", "Postponement", "Version"]

ACTIVE, CLOSED = "active", "closed"
TODO, DONE, CANCELLED = "todo", "done", "cancelled"


class PlanError(ValueError):
    """An operation the plan's state forbids. ``code`` is stable, for answers:
    "closed" (plan closed), "no_action" (no such action number),
    "not_todo" (action already done or cancelled), "not_done" (no FAIT to
    undo), "cancelled" (the action was cancelled)."""

    def __init__(self, code: str, ref: str, number: int | None = None) -> None:
        self.code, self.ref, self.number = code, ref, number
        super().__init__(f"{ref}: {code}" + (f" (action {number})" if number else ""))


def _d(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _pd(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _pdt(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass
class Patient:
    family_name: str
    given_name: str
    birth_date: date
    sex: str  # "F" | "M"
    ins: str  # 15 characters, no spaces

    @property
    def display_name(self) -> str:
        return f"{self.family_name} {self.given_name}"

    def to_dict(self) -> dict[str, Any]:
        return {"family_name": self.family_name, "given_name": self.given_name,
                "birth_date": self.birth_date.isoformat(), "sex": self.sex, "ins": self.ins}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Patient:
        return cls(d["family_name"], d["given_name"], date.fromisoformat(d["birth_date"]),
                   d["sex"], d["ins"])


@dataclass
class Occurrence:
    on: date
    by: str
    comment: str = ""
    at: datetime | None = None
    due: date | None = None
    """The action's due date when it was done (None: it had none, or the
    occurrence was recorded before due dates were kept)."""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"on": self.on.isoformat(), "by": self.by, "comment": self.comment,
                             "at": self.at.isoformat() if self.at else None}
        if self.due is not None:  # absent rather than null: occurrences stored before
            d["due"] = self.due.isoformat()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Occurrence:
        return cls(date.fromisoformat(d["on"]), d["by"], d.get("comment", ""),
                   _pdt(d["at"]) if d.get("at") else None, _pd(d.get("due")))


@dataclass
class Postponement:
    previous: date | None
    new: date
    by: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"previous": _d(self.previous), "new": self.new.isoformat(), "by": self.by,
                "at": self.at.isoformat()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Postponement:
        return cls(_pd(d.get("previous")), date.fromisoformat(d["new"]), d["by"], _pdt(d["at"]))


@dataclass
class Entry:
    """One line of history: who did what, when (``event`` is a stable code)."""

    at: datetime
    by: str
    event: str  # "created", "done", "undone", "postponed", "closed", "cancelled"
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "by": self.by, "event": self.event,
                "detail": self.detail}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Entry:
        return cls(_pdt(d["at"]), d["by"], d["event"], d.get("detail", ""))


@dataclass
class Action:
    number: int
    assignee: str | None  # e-mail address; None when no one could be found
    what: str
    when: When
    start: date | None = None
    due: date | None = None
    status: str = TODO
    protocol: str | None = None  # name of the protocol that added it
    done: list[Occurrence] = field(default_factory=list)
    postponements: list[Postponement] = field(default_factory=list)
    history: list[Entry] = field(default_factory=list)

    @property
    def recurring(self) -> bool:
        return self.when.rhythm is not None

    def is_overdue(self, today: date) -> bool:
        return self.status == TODO and self.due is not None and self.due < today

    def _next_occurrence(self, after: date) -> date | None:
        rhythm = self.when.rhythm
        if rhythm is None:
            return None
        nxt = rhythm.next_after(self.start or after, after)
        if nxt is not None and self.when.until is not None and nxt > self.when.until:
            return None
        return nxt

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number, "assignee": self.assignee, "what": self.what,
            "when": self.when.to_dict(), "start": _d(self.start), "due": _d(self.due),
            "status": self.status, "protocol": self.protocol,
            "done": [o.to_dict() for o in self.done],
            "postponements": [p.to_dict() for p in self.postponements],
            "history": [h.to_dict() for h in self.history],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Action:
        return cls(
            number=d["number"], assignee=d.get("assignee"), what=d["what"],
            when=When.from_dict(d["when"]), start=_pd(d.get("start")), due=_pd(d.get("due")),
            status=d.get("status", TODO), protocol=d.get("protocol"),
            done=[Occurrence.from_dict(o) for o in d.get("done", [])],
            postponements=[Postponement.from_dict(p) for p in d.get("postponements", [])],
            history=[Entry.from_dict(h) for h in d.get("history", [])],
        )


@dataclass
class Note:
    text: str
    author: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "author": self.author, "at": self.at.isoformat()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Note:
        return cls(d["text"], d["author"], _pdt(d["at"]))


@dataclass
class Version:
    number: int
    author: str
    at: datetime
    source_message_id: str | None
    summary: str

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "author": self.author, "at": self.at.isoformat(),
                "source_message_id": self.source_message_id, "summary": self.summary}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Version:
        return cls(d["number"], d["author"], _pdt(d["at"]), d.get("source_message_id"),
                   d.get("summary", ""))


@dataclass
class AppliedProtocol:
    name: str
    title: str
    applied_on: date

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "applied_on": self.applied_on.isoformat()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AppliedProtocol:
        return cls(d["name"], d.get("title", d["name"]), date.fromisoformat(d["applied_on"]))


@dataclass
class Plan:
    ref: str
    patient: Patient
    consent: bool
    referent: str
    team: list[str]
    created_at: datetime
    status: str = ACTIVE
    problems: list[str] = field(default_factory=list)
    preferences: list[str] = field(default_factory=list)
    objectives: list[str] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    protocols: list[AppliedProtocol] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    review_date: date | None = None
    notes: list[Note] = field(default_factory=list)
    versions: list[Version] = field(default_factory=list)
    closed_at: datetime | None = None
    closed_by: str | None = None
    close_reason: str = ""
    # The team's problem themes the plan belongs to (``[team] themes``), for
    # the evaluation report's figures by theme.
    themes: list[str] = field(default_factory=list)

    # --- creation and changes -------------------------------------------------

    @classmethod
    def create(cls, draft: PlanDraft, *, ref: str, author: str, at: datetime,
               source_message_id: str | None,
               protocols: Mapping[str, ProtocolDef] | None = None) -> Plan:
        """A new active plan, version 1. ``protocols`` (the library) gives the
        titles of the protocols the draft names; their follow-ups are already
        among ``draft.actions`` (the grammar resolved them to people)."""
        plan = cls(ref=ref, patient=draft.patient, consent=draft.consent,
                   referent=draft.referent, team=[], created_at=at)
        plan._join(draft.team)
        plan._join([draft.referent, author])
        plan.problems = list(draft.problems)
        plan.preferences = list(draft.preferences)
        plan.objectives = list(draft.objectives)
        plan.alerts = list(draft.alerts)
        plan.review_date = draft.review_date
        plan.themes = list(dict.fromkeys(draft.themes))
        plan.notes = [Note(text, author, at) for text in draft.notes]
        plan._add_protocols(draft.protocols, protocols, at.date())
        for action in draft.actions:
            plan._add_action(action, author=author, at=at)
        plan.versions.append(Version(1, author, at, source_message_id, "création du plan"))
        return plan

    def apply(self, update: PlanUpdate, *, author: str, at: datetime,
              source_message_id: str | None,
              protocols: Mapping[str, ProtocolDef] | None = None) -> list[tuple[str, str]]:
        """Apply a ``MAJ``. Returns the changes as (kind, value) pairs, kinds:
        "team" and "referent" (value: an address), "problem", "objective",
        "preference", "alert", "note", "review_date" (ISO), "protocol", "theme",
        "action" (value: the action number as text). The new version's summary
        names the kinds and counts in French, never the free text (patient data)."""
        self._require_active()
        changes: list[tuple[str, str]] = []
        new_members = [m for m in [*update.team, author] if m not in self.team]
        self._join(new_members)
        changes += [("team", m) for m in new_members]
        if update.referent and update.referent != self.referent:
            self.referent = update.referent
            self._join([update.referent])
            changes.append(("referent", update.referent))
        for kind, target, items in (("problem", self.problems, update.problems),
                                    ("objective", self.objectives, update.objectives),
                                    ("preference", self.preferences, update.preferences),
                                    ("alert", self.alerts, update.alerts)):
            target.extend(items)
            changes += [(kind, item) for item in items]
        for text in update.notes:
            self.notes.append(Note(text, author, at))
            changes.append(("note", text))
        if update.review_date and update.review_date != self.review_date:
            self.review_date = update.review_date
            changes.append(("review_date", update.review_date.isoformat()))
        fresh_themes = [t for t in dict.fromkeys(update.themes) if t not in self.themes]
        self.themes.extend(fresh_themes)
        changes += [("theme", t) for t in fresh_themes]
        known = {p.name for p in self.protocols}
        fresh = [n for n in update.protocols if n not in known]
        self._add_protocols(fresh, protocols, at.date())
        changes += [("protocol", n) for n in fresh]
        for draft in update.actions:
            action = self._add_action(draft, author=author, at=at)
            changes.append(("action", str(action.number)))
        self._new_version(author, at, source_message_id, _summary(changes))
        return changes

    def close(self, *, by: str, at: datetime, source_message_id: str | None,
              reason: str = "") -> None:
        self._require_active()
        self.status, self.closed_at, self.closed_by, self.close_reason = CLOSED, at, by, reason
        self._new_version(by, at, source_message_id, "clôture du plan")

    def mark_done(self, number: int, *, by: str, on: date, comment: str = "",
                  at: datetime | None = None, source_message_id: str | None = None) -> Action:
        """Record that action ``number`` was done on ``on``. A recurring action
        stays "todo" with its next due date moved on; a one-off one is "done"."""
        self._require_active()
        action = self.action(number)
        if action.status != TODO:
            raise PlanError("not_todo", self.ref, number)
        # Without the mail's instant, noon of that day in the plan's own zone.
        when = at or datetime.combine(on, time(12), tzinfo=self.created_at.tzinfo)
        action.done.append(Occurrence(on, by, comment, when, action.due))
        nxt = action._next_occurrence(max(on, action.due or on))
        if nxt is None:
            action.status, action.due = DONE, None
        else:
            action.due = nxt
        action.history.append(Entry(when, by, "done", on.isoformat()))
        self._new_version(by, when, source_message_id, f"action {number} faite le {on:%d/%m/%Y}")
        return action

    def undo_done(self, number: int, *, by: str, at: datetime,
                  source_message_id: str | None = None) -> Occurrence:
        """Undo the last ``FAIT`` of action ``number`` (sent by mistake) and
        return the occurrence taken back: the action is "todo" again, due when
        it was before that ``FAIT`` (a recurring action that had ended goes on
        again). Undone again, a recurring action loses its previous ``FAIT``
        too, the latest first. A comment written with the ``FAIT`` is kept as
        a note of its author: nothing written is lost."""
        self._require_active()
        action = self.action(number)
        if action.status == CANCELLED:
            raise PlanError("cancelled", self.ref, number)
        if not action.done:
            raise PlanError("not_done", self.ref, number)
        undone = action.done.pop()
        action.status = TODO
        action.due = undone.due if undone.due is not None else _due_when_done(action, undone)
        action.history.append(Entry(at, by, "undone", undone.on.isoformat()))
        if undone.comment:
            self.notes.append(Note(f"Action {number}, notée faite le {undone.on:%d/%m/%Y} puis "
                                   f"remise à faire : {undone.comment}", undone.by,
                                   undone.at or at))
        self._new_version(by, at, source_message_id,
                          f"action {number} remise à faire (FAIT du {undone.on:%d/%m/%Y} annulé)")
        return undone

    def postpone(self, number: int, new_date: date, *, by: str, at: datetime,
                 source_message_id: str | None = None, at_time: time | None = None) -> Action:
        """Move the next due date of action ``number`` (for a recurring action,
        this occurrence only: the rhythm goes on from the new date).

        A one-off action's time goes with its date: ``at_time``, or none. A
        recurring action keeps its rhythm's time; ``at_time``, the time of this
        occurrence only, is kept in a note so that it is not lost. The version's
        summary names the time when one is given."""
        self._require_active()
        action = self.action(number)
        if action.status != TODO:
            raise PlanError("not_todo", self.ref, number)
        action.postponements.append(Postponement(action.due, new_date, by, at))
        action.history.append(Entry(at, by, "postponed", new_date.isoformat()))
        action.due = new_date
        summary = f"action {number} reportée au {new_date:%d/%m/%Y}"
        if not action.recurring:
            action.when = dataclasses.replace(action.when, time_of_day=at_time)
        if at_time is not None:
            summary += f" à {format_time(at_time)}"
            if action.recurring:
                self.notes.append(Note(f"Action {number} ({action.what}) : reportée au "
                                       f"{format_date(new_date)} à {format_time(at_time)}.",
                                       by, at))
        self._new_version(by, at, source_message_id, summary)
        return action

    # --- queries ----------------------------------------------------------------

    @property
    def version(self) -> int:
        return self.versions[-1].number if self.versions else 0

    @property
    def is_active(self) -> bool:
        return self.status == ACTIVE

    def action(self, number: int) -> Action:
        for action in self.actions:
            if action.number == number:
                return action
        raise PlanError("no_action", self.ref, number)

    def open_actions(self) -> list[Action]:
        return [a for a in self.actions if a.status == TODO]

    def overdue(self, today: date) -> list[Action]:
        """Open actions whose due date is before ``today``, oldest first."""
        late = [a for a in self.open_actions() if a.is_overdue(today)]
        return sorted(late, key=lambda a: (a.due, a.number))

    def next_due(self, today: date) -> Action | None:
        """The open action due soonest on or after ``today``."""
        coming = [a for a in self.open_actions() if a.due is not None and a.due >= today]
        return min(coming, key=lambda a: (a.due, a.number), default=None)

    def due_on(self, day: date) -> list[Action]:
        return [a for a in self.open_actions() if a.due == day]

    # --- storage ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref, "status": self.status, "patient": self.patient.to_dict(),
            "consent": self.consent, "referent": self.referent, "team": list(self.team),
            "problems": list(self.problems), "preferences": list(self.preferences),
            "objectives": list(self.objectives), "actions": [a.to_dict() for a in self.actions],
            "protocols": [p.to_dict() for p in self.protocols], "alerts": list(self.alerts),
            "review_date": _d(self.review_date), "notes": [n.to_dict() for n in self.notes],
            "versions": [v.to_dict() for v in self.versions],
            "created_at": self.created_at.isoformat(),
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "closed_by": self.closed_by, "close_reason": self.close_reason,
            "themes": list(self.themes),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Plan:
        return cls(
            ref=d["ref"], status=d.get("status", ACTIVE), patient=Patient.from_dict(d["patient"]),
            consent=d["consent"], referent=d["referent"], team=list(d["team"]),
            problems=list(d.get("problems", [])), preferences=list(d.get("preferences", [])),
            objectives=list(d.get("objectives", [])),
            actions=[Action.from_dict(a) for a in d.get("actions", [])],
            protocols=[AppliedProtocol.from_dict(p) for p in d.get("protocols", [])],
            alerts=list(d.get("alerts", [])), review_date=_pd(d.get("review_date")),
            notes=[Note.from_dict(n) for n in d.get("notes", [])],
            versions=[Version.from_dict(v) for v in d.get("versions", [])],
            created_at=_pdt(d["created_at"]),
            closed_at=_pdt(d["closed_at"]) if d.get("closed_at") else None,
            closed_by=d.get("closed_by"), close_reason=d.get("close_reason", ""),
            themes=list(d.get("themes", [])),
        )

    # --- internals --------------------------------------------------------------

    def _require_active(self) -> None:
        if self.status != ACTIVE:
            raise PlanError("closed", self.ref)

    def _join(self, members: list[str]) -> None:
        for member in members:
            if member and member not in self.team:
                self.team.append(member)

    def _add_protocols(self, names: list[str], library: Mapping[str, ProtocolDef] | None,
                       on: date) -> None:
        for name in names:
            title = library[name].title if library and name in library else name
            self.protocols.append(AppliedProtocol(name, title, on))

    def _add_action(self, draft: ActionDraft, *, author: str, at: datetime) -> Action:
        number = max((a.number for a in self.actions), default=0) + 1
        start = draft.when.due or at.date()
        action = Action(number=number, assignee=draft.assignee, what=draft.what,
                        when=draft.when, start=start, protocol=draft.protocol)
        if draft.when.rhythm is None:
            action.due = draft.when.due
        else:
            first = next(draft.when.rhythm.occurrences(start, until=draft.when.until), None)
            action.due = first
            if first is None:
                action.status = DONE
        if draft.assignee:
            self._join([draft.assignee])
        action.history.append(Entry(at, author, "created"))
        self.actions.append(action)
        return action

    def _new_version(self, author: str, at: datetime, source_message_id: str | None,
                     summary: str) -> None:
        self.versions.append(Version(self.version + 1, author, at, source_message_id, summary))


def _due_when_done(action: Action, occurrence: Occurrence) -> date | None:
    """The due date ``action`` had when ``occurrence`` was done, for an
    occurrence stored before they kept it: for a one-off action the date asked
    or its last postponement (it cannot move once done); for a recurring one,
    the day it was done (most are done on the day they are due)."""
    if action.recurring:
        return occurrence.on
    return action.postponements[-1].new if action.postponements else action.when.due


_KIND_WORDS = {"team": ("membre d'équipe", "membres d'équipe"),
               "referent": ("référent", "référent"),
               "problem": ("problème", "problèmes"), "objective": ("objectif", "objectifs"),
               "preference": ("souhait", "souhaits"), "alert": ("alerte", "alertes"),
               "note": ("note", "notes"), "review_date": ("réévaluation", "réévaluation"),
               "protocol": ("protocole", "protocoles"), "action": ("action", "actions"),
               "theme": ("thème", "thèmes")}


def _summary(changes: list[tuple[str, str]]) -> str:
    counts: dict[str, int] = {}
    for kind, _ in changes:
        counts[kind] = counts.get(kind, 0) + 1
    parts = [f"{n} {_KIND_WORDS[k][n > 1]}" for k, n in counts.items()]
    return "mise à jour : " + (", ".join(parts) if parts else "aucun changement")
