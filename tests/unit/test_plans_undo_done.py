"""``Plan.undo_done``: a FAIT sent by mistake is taken back (ANNULER FAIT)."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest

from plans.commands import detect_command
from plans.grammar import parse_update
from plans.model import Plan, PlanError
from plans.render import render_undone
from plans.typography import NBSP
from tests.support.plans_examples import (
    BENALI,
    BODY_10,
    DURAND,
    MARIE,
    PARIS,
    ROSTER,
    TEAM_01,
    plan_01,
)

AT = datetime(2026, 11, 27, 10, 5, tzinfo=PARIS)


def test_one_off_done_then_undone_is_to_do_again_with_its_date() -> None:
    plan = plan_01()
    plan.mark_done(2, by=DURAND.email, on=date(2026, 12, 14), comment="bilan fait",
                   at=datetime(2026, 12, 14, 17, tzinfo=PARIS), source_message_id="<fait>")
    version = plan.version
    undone = plan.undo_done(2, by=MARIE.email, at=AT, source_message_id="<annule>")
    action = plan.action(2)
    assert (undone.on, undone.by, undone.comment) == (date(2026, 12, 14), DURAND.email,
                                                      "bilan fait")
    assert action.status == "todo" and action.due == date(2026, 12, 15) and action.done == []
    assert plan.version == version + 1
    last = plan.versions[-1]
    assert (last.author, last.at, last.source_message_id) == (MARIE.email, AT, "<annule>")
    assert last.summary == "action 2 remise à faire (FAIT du 14/12/2026 annulé)"
    assert "bilan" not in last.summary  # no free text in the summary
    assert (action.history[-1].event, action.history[-1].by) == ("undone", MARIE.email)
    # The comment is not lost: a note of its author, at its time.
    note = plan.notes[-1]
    assert note.text.endswith(": bilan fait") and note.author == DURAND.email
    assert note.at == datetime(2026, 12, 14, 17, tzinfo=PARIS)
    # To do again: it can be done again.
    assert plan.mark_done(2, by=DURAND.email, on=date(2026, 12, 15)).status == "done"


def test_a_postponed_one_off_gets_its_postponed_date_back() -> None:
    plan = plan_01()
    plan.postpone(2, date(2026, 12, 20), by=MARIE.email, at=AT)
    plan.mark_done(2, by=MARIE.email, on=date(2026, 12, 19))
    plan.undo_done(2, by=MARIE.email, at=AT)
    assert plan.action(2).due == date(2026, 12, 20)


def test_recurring_undo_restores_the_previous_due_date() -> None:
    plan = plan_01()
    before = plan.action(3).due
    assert before == date(2026, 11, 23)
    plan.mark_done(3, by=BENALI.email, on=date(2026, 11, 26), comment="50 m",
                   at=datetime(2026, 11, 26, 19, 20, tzinfo=PARIS))
    plan.mark_done(3, by=BENALI.email, on=date(2026, 11, 29))
    assert plan.action(3).due == date(2026, 12, 3)
    # The last FAIT (the 29th, for the 30th) first, then the one before.
    assert plan.undo_done(3, by=BENALI.email, at=AT).on == date(2026, 11, 29)
    action = plan.action(3)
    assert action.status == "todo" and action.due == date(2026, 11, 30)
    assert [o.on for o in action.done] == [date(2026, 11, 26)]
    assert plan.undo_done(3, by=BENALI.email, at=AT).on == date(2026, 11, 26)
    assert action.due == before and action.done == []
    with pytest.raises(PlanError) as excinfo:
        plan.undo_done(3, by=BENALI.email, at=AT)
    assert (excinfo.value.code, excinfo.value.number) == ("not_done", 3)


def test_a_recurring_action_that_had_ended_goes_on_again() -> None:
    plan = plan_01()
    parsed = parse_update(detect_command("MAJ PPS-2026-0001", BODY_10).lines,
                          today=date(2026, 11, 30), sender=MARIE, team=TEAM_01, roster=ROSTER)
    assert parsed.ok and parsed.value is not None
    plan.apply(parsed.value, author=MARIE.email, at=datetime(2026, 11, 30, 20, 41, tzinfo=PARIS),
               source_message_id=None)
    number = plan.actions[-1].number
    due = plan.action(number).due
    plan.mark_done(number, by=MARIE.email, on=date(2026, 12, 30))
    assert plan.action(number).status == "done"
    plan.undo_done(number, by=MARIE.email, at=AT)
    # Due again when it was before that FAIT (never done: its first occurrence).
    assert plan.action(number).status == "todo" and plan.action(number).due == due


def test_not_done_unknown_and_closed_are_refused_without_change() -> None:
    plan = plan_01()
    state = json.dumps(plan.to_dict(), sort_keys=True)
    for number, code in ((2, "not_done"), (99, "no_action")):
        with pytest.raises(PlanError) as excinfo:
            plan.undo_done(number, by=MARIE.email, at=AT)
        assert (excinfo.value.code, excinfo.value.ref) == (code, plan.ref)
    assert json.dumps(plan.to_dict(), sort_keys=True) == state
    plan.mark_done(2, by=DURAND.email, on=date(2026, 12, 14))
    plan.close(by=DURAND.email, at=AT, source_message_id=None)
    closed = json.dumps(plan.to_dict(), sort_keys=True)
    with pytest.raises(PlanError) as excinfo:
        plan.undo_done(2, by=DURAND.email, at=AT)
    assert excinfo.value.code == "closed"
    assert json.dumps(plan.to_dict(), sort_keys=True) == closed


def test_a_cancelled_action_is_refused() -> None:
    plan = plan_01()
    plan.mark_done(2, by=DURAND.email, on=date(2026, 12, 14))
    plan.action(2).status = "cancelled"
    with pytest.raises(PlanError) as excinfo:
        plan.undo_done(2, by=DURAND.email, at=AT)
    assert excinfo.value.code == "cancelled"


def test_the_due_date_of_a_fait_survives_storage() -> None:
    plan = plan_01()
    plan.mark_done(3, by=BENALI.email, on=date(2026, 11, 26))
    again = Plan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again.action(3).done[-1].due == date(2026, 11, 23)
    again.undo_done(3, by=BENALI.email, at=AT)
    assert again.action(3).due == date(2026, 11, 23)


def test_a_fait_stored_before_due_dates_were_kept() -> None:
    """Older occurrences have no due date: a one-off gets the date it had, a
    recurring one the day it was done."""
    plan = plan_01()
    plan.mark_done(2, by=DURAND.email, on=date(2026, 12, 14))
    plan.mark_done(3, by=BENALI.email, on=date(2026, 11, 24))
    data = plan.to_dict()
    for action in data["actions"]:
        for occurrence in action["done"]:
            del occurrence["due"]
    old = Plan.from_dict(data)
    old.undo_done(2, by=DURAND.email, at=AT)
    old.undo_done(3, by=BENALI.email, at=AT)
    assert old.action(2).due == date(2026, 12, 15) and old.action(2).status == "todo"
    assert old.action(3).due == date(2026, 11, 24)


def test_the_acknowledgement_says_the_action_is_to_do_again() -> None:
    plan = plan_01()
    plan.mark_done(3, by=BENALI.email, on=date(2026, 11, 26), comment="50 m")
    undone = plan.undo_done(3, by=BENALI.email, at=AT)
    out = render_undone(plan, plan.action(3), undone, people=ROSTER)
    assert out.subject == "[PPS-2026-0001] Action 3 remise à faire"
    assert out.text.startswith("Action 3 du plan PPS-2026-0001 (")
    assert ") remise à faire.\n" in out.text
    assert f"La mention «{NBSP}faite le 26/11/2026 par kiné Karim BENALI{NBSP}» est annulée." \
        in out.text
    assert f"Échéance{NBSP}: le 23/11/2026 (2 fois par semaine" in out.text
    assert "Les rappels de cette action reprennent." in out.text
    assert "Son commentaire est gardé dans les notes du plan." in out.text
    assert "50 m" not in out.text
    # A one-off action: its date, no rhythm; no comment, nothing said of one.
    plan.mark_done(2, by=DURAND.email, on=date(2026, 12, 14))
    one_off = render_undone(plan, plan.action(2), plan.undo_done(2, by=DURAND.email, at=AT),
                            people=ROSTER)
    assert f"Échéance{NBSP}: le 15/12/2026." in one_off.text
    assert "commentaire" not in one_off.text
