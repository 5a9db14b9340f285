"""Meeting answers: agendas name patients only for their readers; French typography."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from plans.meeting_render import AgendaView, render_meeting_cancelled, render_reminder
from plans.meetings import AgendaItem, Meeting
from plans.recurrence import Rhythm
from tests.support.plans_examples import DURAND, ROSTER

PARIS = ZoneInfo("Europe/Paris")
MEETING = Meeting(ref="RCP-2026-001", start=datetime(2026, 12, 3, 12, 30, tzinfo=PARIS),
                  duration_minutes=90, location="Salle 1", participants=[DURAND.email],
                  organizer=DURAND.email, created_at=datetime(2026, 11, 25, tzinfo=PARIS),
                  timezone="Europe/Paris", rhythm=Rhythm("MONTHLY", byweekday=(3,), bysetpos=1))
ITEMS = [AgendaItem("PPS-2026-0001", ("review", "hand"), date(2026, 12, 1)),
         AgendaItem("PPS-2026-0002", ("overdue",), None, 2)]


def test_reminder_names_only_readable_patients() -> None:
    view = AgendaView(ITEMS, {"PPS-2026-0001": "MARTIN Jeanne"})
    rendered = render_reminder(MEETING, start=MEETING.start, days_before=1, people=ROSTER,
                               view=view)
    assert rendered.subject == "[RCP-2026-001] Rappel J-1\u00a0: concertation le 03/12/2026 à 12h30"
    assert "MARTIN Jeanne\u00a0: réévaluation prévue le 01/12/2026, inscrit" in rendered.text
    assert "PPS-2026-0002\u00a0: détails réservés à l'équipe de soins" in rendered.text
    assert "2 actions en retard" not in rendered.text       # a reason says something
    assert "demain, le jeudi 3 décembre 2026 à 12h30" in rendered.text
    assert "MARTIN" not in rendered.subject


def test_cancellation_of_one_day_or_all() -> None:
    one = render_meeting_cancelled(MEETING, day=date(2027, 1, 7), by=DURAND.email,
                                   people=ROSTER)
    assert one.subject == "[RCP-2026-001] Réunion du 07/01/2027 annulée"
    assert "les autres dates sont maintenues" in one.text and "retire cette date" in one.text
    everything = render_meeting_cancelled(MEETING, day=None, by=DURAND.email, people=ROSTER)
    assert "(toutes les dates)" in everything.text and "retire la réunion" in everything.text
