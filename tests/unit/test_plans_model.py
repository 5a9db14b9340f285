"""The care plan: creation, updates, actions done and postponed, storage round trip."""

from __future__ import annotations

import json
from datetime import date, datetime, time

import pytest

from plans.commands import detect_command
from plans.grammar import parse_update
from plans.model import Plan, PlanError
from plans.protocols import load_library
from tests.support.plans_examples import (
    BENALI,
    BODY_02,
    BODY_10,
    DURAND,
    MARIE,
    PARIS,
    ROSTER,
    TEAM_01,
    plan_01,
)


def update(body: str, subject: str, today: date, sender=MARIE):
    parsed = parse_update(detect_command(subject, body).lines, today=today, sender=sender,
                          team=TEAM_01, roster=ROSTER)
    assert parsed.ok, parsed.errors
    return parsed.value


def test_create_from_example_01() -> None:
    plan = plan_01()
    assert plan.ref == "PPS-2026-0001" and plan.status == "active" and plan.version == 1
    assert plan.team == [p.email for p in TEAM_01] and plan.referent == DURAND.email
    assert [a.number for a in plan.actions] == list(range(1, len(plan.actions) + 1))
    assert len(plan.actions) > 4 and plan.actions[2].assignee == BENALI.email
    assert plan.actions[0].due == date(2026, 11, 23)  # weekly from the mail's date
    assert plan.actions[1].due == date(2026, 12, 15)
    assert [p.name for p in plan.protocols] == ["diabete-type-2"]
    assert plan.versions[0].source_message_id == "<20261123091244.4411@medecin.mssante.test>"


def test_create_with_library_keeps_protocol_title() -> None:
    plan = plan_01()
    again = Plan.create(_draft(plan), ref="PPS-2026-0003", author=DURAND.email,
                        at=plan.created_at, source_message_id=None, protocols=load_library())
    assert again.protocols[0].title == "Suivi du diabète de type 2"


def _draft(plan: Plan):
    from plans.drafts import PlanDraft
    return PlanDraft(plan.patient, True, plan.referent, list(plan.team),
                     protocols=["diabete-type-2"])


def test_apply_updates_02_and_10() -> None:
    plan = plan_01()
    count = len(plan.actions)
    at = datetime(2026, 11, 24, 18, 3, 10, tzinfo=PARIS)
    changes = plan.apply(update(BODY_02, "RE: [PPS-2026-0001] Plan créé", date(2026, 11, 24)),
                         author=MARIE.email, at=at, source_message_id="<CAJm5xYz>")
    assert ("action", str(count + 1)) in changes and ("note", "patiente motivée, fille présente "
                                                      "le mercredi") in changes
    assert plan.version == 2 and plan.versions[-1].author == MARIE.email
    assert "motivée" not in plan.versions[-1].summary  # no free text in the summary
    assert plan.notes[-1].author == MARIE.email
    plan.apply(update(BODY_10, "MAJ PPS-2026-0001", date(2026, 11, 30)), author=MARIE.email,
               at=datetime(2026, 11, 30, 20, 41, tzinfo=PARIS), source_message_id="<jm>")
    last = plan.actions[-1]
    assert last.due == date(2026, 11, 30) and last.when.until == date(2026, 12, 31)
    assert plan.problems[-1].startswith("plaie du talon") and plan.version == 3


def test_recurring_done_moves_next_due_on() -> None:
    plan = plan_01()
    action = plan.mark_done(3, by=BENALI.email, on=date(2026, 11, 26), comment="50 m",
                            at=datetime(2026, 11, 26, 19, 20, tzinfo=PARIS))
    # Twice a week (Monday, Thursday): done on Thursday 26 covers Monday 23's due visit.
    assert action.status == "todo" and action.due == date(2026, 11, 30)
    assert action.done[-1].comment == "50 m" and action.done[-1].by == BENALI.email
    again = plan.mark_done(3, by=BENALI.email, on=date(2026, 11, 29))
    assert again.due == date(2026, 12, 3)  # done early: counts for the 30th


def test_one_off_done_and_errors() -> None:
    plan = plan_01()
    assert plan.mark_done(2, by=DURAND.email, on=date(2026, 12, 14)).status == "done"
    with pytest.raises(PlanError) as excinfo:
        plan.mark_done(2, by=DURAND.email, on=date(2026, 12, 15))
    assert excinfo.value.code == "not_todo"
    with pytest.raises(PlanError):
        plan.mark_done(99, by=DURAND.email, on=date(2026, 12, 15))


def test_recurring_action_ends_at_until() -> None:
    plan = plan_01()
    plan.apply(update(BODY_10, "MAJ PPS-2026-0001", date(2026, 11, 30)), author=MARIE.email,
               at=datetime(2026, 11, 30, 20, 41, tzinfo=PARIS), source_message_id=None)
    number = plan.actions[-1].number
    action = plan.mark_done(number, by=MARIE.email, on=date(2026, 12, 30))
    assert action.status == "done" and action.due is None


def test_postpone_overdue_next_due() -> None:
    plan = plan_01()
    today = date(2026, 11, 30)
    late = plan.overdue(today)
    assert [a.number for a in late][:1] == [1] and all(a.due < today for a in late)
    plan.postpone(2, date(2026, 12, 20), by=MARIE.email, at=datetime(2026, 11, 30, tzinfo=PARIS))
    assert plan.action(2).due == date(2026, 12, 20)
    assert plan.action(2).postponements[0].previous == date(2026, 12, 15)
    nxt = plan.next_due(today)
    assert nxt is not None and nxt.due >= today
    assert all(a.due is None or a.due >= nxt.due for a in plan.open_actions() if a.due >= today)


def test_postpone_with_a_time() -> None:
    """A one-off action takes the new time (or loses its old one); a recurring
    one keeps its rhythm's and the time of this occurrence goes in a note."""
    plan = plan_01()
    at = datetime(2026, 11, 30, 9, tzinfo=PARIS)
    one_off = plan.postpone(2, date(2026, 12, 20), by=MARIE.email, at=at, at_time=time(10, 30))
    assert one_off.when.time_of_day == time(10, 30) and not one_off.recurring
    assert plan.versions[-1].summary == "action 2 reportée au 20/12/2026 à 10h30"
    notes = len(plan.notes)
    plan.postpone(2, date(2026, 12, 21), by=MARIE.email, at=at)
    assert plan.action(2).when.time_of_day is None
    assert plan.versions[-1].summary == "action 2 reportée au 21/12/2026"
    recurring = plan.postpone(1, date(2026, 12, 2), by=MARIE.email, at=at, at_time=time(8))
    assert recurring.recurring and recurring.when.time_of_day is None
    assert plan.versions[-1].summary == "action 1 reportée au 02/12/2026 à 8h00"
    assert len(plan.notes) == notes + 1
    assert plan.notes[-1].text == (f"Action 1 ({recurring.what}) : reportée au 02/12/2026 "
                                   "à 8h00.")
    assert plan.notes[-1].author == MARIE.email and plan.notes[-1].at == at


def test_close_blocks_changes() -> None:
    plan = plan_01()
    plan.close(by=DURAND.email, at=datetime(2027, 1, 5, tzinfo=PARIS), source_message_id="<c>")
    assert plan.status == "closed" and plan.closed_by == DURAND.email
    with pytest.raises(PlanError) as excinfo:
        plan.mark_done(1, by=MARIE.email, on=date(2027, 1, 6))
    assert excinfo.value.code == "closed"
    assert "MARTIN" not in str(excinfo.value)


def test_round_trip_is_lossless_and_json_safe() -> None:
    plan = plan_01()
    plan.apply(update(BODY_10, "MAJ PPS-2026-0001", date(2026, 11, 30)), author=MARIE.email,
               at=datetime(2026, 11, 30, 20, 41, tzinfo=PARIS), source_message_id="<jm>")
    plan.mark_done(3, by=BENALI.email, on=date(2026, 11, 26), comment="ok")
    plan.postpone(2, date(2026, 12, 20), by=MARIE.email, at=datetime(2026, 12, 1, tzinfo=PARIS))
    plan.close(by=DURAND.email, at=datetime(2027, 1, 5, tzinfo=PARIS), source_message_id=None)
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["patient"]["birth_date"] == "1948-03-12"
    again = Plan.from_dict(data)
    assert again == plan and again.to_dict() == plan.to_dict()


def test_action_time_is_kept_shown_and_leaves_the_due_day_alone() -> None:
    plan = plan_01()
    body = ("MAJ\nAction : IDE | pansement | 15/12/2026 à 14h\n"
            "Action : kiné | marche | demain 8h30\n")
    changes = plan.apply(update(body, "MAJ PPS-2026-0001", date(2026, 11, 30)),
                         author=MARIE.email, at=datetime(2026, 11, 30, 9, tzinfo=PARIS),
                         source_message_id="<t>")
    first, second = (plan.action(int(n)) for kind, n in changes if kind == "action")
    assert first.due == date(2026, 12, 15) and first.when.time_of_day == time(14, 0)
    assert first.when.describe() == "le 15/12/2026 à 14h00"
    assert second.due == date(2026, 12, 1) and second.when.describe() == "le 01/12/2026 à 8h30"
    # Reminders look for the day only: the action is due that day, whatever its time.
    assert first in plan.due_on(date(2026, 12, 15))
    again = Plan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again.action(first.number).when.time_of_day == time(14, 0)
