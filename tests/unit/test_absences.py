"""Absences (``plans.absences``): declared, read, cancelled, who covers; the
ABSENCE command's period; an out-of-office reply's dates (``absence_dates``)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from esp_coord.absence_dates import read_period
from plans.absences import AUTO_REPLY, DECLARED, Absence, Absences, parse_absence
from plans.errors import FieldError
from tests.support.plans_examples import COSTA, DURAND, GIRARD, MARIE, ROSTER

TODAY = date(2026, 12, 15)
AT = datetime(2026, 12, 15, 9, tzinfo=UTC)
JULIEN, PAUL, CLAIRE, ANA = MARIE.email, GIRARD.email, DURAND.email, COSTA.email


def _away(member: str, start: date, end: date, substitute: str | None = None,
          source: str = DECLARED) -> Absence:
    return Absence(member, start, end, substitute, source, AT)


def test_who_covers_the_substitute_else_the_referent_and_coordination() -> None:
    absences = Absences()
    absences.declare(_away(JULIEN, date(2026, 12, 20), date(2027, 1, 4), PAUL), TODAY)
    christmas = (date(2026, 12, 24),)
    assert absences.cover(JULIEN, christmas, [CLAIRE, ANA]) == [PAUL]
    assert absences.cover(JULIEN, (date(2027, 1, 5),), [CLAIRE, ANA]) == [JULIEN]
    assert absences.covered_by(PAUL, date(2026, 12, 24)) == {JULIEN}
    # The substitute away too: the referent and the coordination, never the absent.
    absences.declare(_away(PAUL, date(2026, 12, 23), date(2026, 12, 27)), TODAY)
    assert absences.cover(JULIEN, christmas, [CLAIRE, ANA, JULIEN]) == [CLAIRE, ANA]
    # Either day counts (the day it goes out, the day it is due).
    assert absences.away(JULIEN, date(2026, 12, 18), date(2026, 12, 21)) is not None


def test_a_declaration_replaces_what_it_overlaps_and_wins_over_an_auto_reply() -> None:
    absences = Absences()
    read = _away(JULIEN, TODAY, date(2027, 1, 4), source=AUTO_REPLY)
    absences.declare(read, TODAY)
    declared = _away(JULIEN, date(2026, 12, 18), date(2027, 1, 2))
    assert absences.declare(declared, TODAY) == [read]
    assert absences.of(JULIEN) == [declared]
    # A later auto-reply gives way to what the member wrote.
    assert absences.declare(_away(JULIEN, TODAY, date(2027, 1, 9), source=AUTO_REPLY),
                            TODAY) == []
    assert absences.of(JULIEN) == [declared]
    assert absences.cancel(JULIEN, TODAY) == [declared] and absences.of(JULIEN) == []


def test_old_absences_are_forgotten_and_the_list_round_trips() -> None:
    absences = Absences()
    absences.declare(_away(ANA, date(2026, 1, 5), date(2026, 1, 9)), date(2026, 1, 1))
    absences.declare(_away(JULIEN, date(2026, 12, 20), date(2027, 1, 4), PAUL), TODAY)
    assert [a.member for a in absences.items] == [JULIEN]     # Ana's, a year ago, is gone
    assert Absences.from_dict(absences.to_dict()) == absences
    assert absences.current_and_coming(date(2027, 1, 5)) == []


@pytest.mark.parametrize(("args", "start", "end"), [
    ("du 20/12/2026 au 04/01/2027", date(2026, 12, 20), date(2027, 1, 4)),
    ("du 20/12 au 4/01", date(2026, 12, 20), date(2027, 1, 4)),
    ("du lundi 21 décembre au 4 janvier 2027", date(2026, 12, 21), date(2027, 1, 4)),
    ("jusqu'au 4 janvier", TODAY, date(2027, 1, 4)),
    ("le 24/12/2026", date(2026, 12, 24), date(2026, 12, 24)),
    ("à partir du 20/12 au 22/12", date(2026, 12, 20), date(2026, 12, 22)),
    ("du 10/12/2026 au 18/12/2026", TODAY, date(2026, 12, 18)),   # begun: from today
])
def test_the_absence_command_reads_its_period(args: str, start: date, end: date) -> None:
    asked = parse_absence(args, [(2, "Remplaçant : Dr GIRARD")], today=TODAY, sender=MARIE,
                          roster=ROSTER)
    assert (asked.start, asked.end) == (start, end)
    assert asked.substitute is not None and asked.substitute.email == PAUL


def test_the_period_may_repeat_the_command_on_the_body_line() -> None:
    # Subject « Absence », body « ABSENCE du … au … »: what a member writes
    # when the subject was filled in first.
    lines = [(1, "ABSENCE du 20/12/2026 au 04/01/2027"), (2, "Remplaçant : Dr GIRARD")]
    asked = parse_absence("", lines, today=TODAY, sender=MARIE, roster=ROSTER)
    assert (asked.start, asked.end) == (date(2026, 12, 20), date(2027, 1, 4))
    assert asked.substitute is not None and asked.substitute.email == PAUL


@pytest.mark.parametrize(("args", "problem"), [
    ("", "la période d'absence manque"),
    ("du 04/01/2027 au 20/12/2026", "précède le début"),
    ("du 01/12/2026 au 05/12/2026", "déjà finie"),
    ("du 20/12/2026 au 20/12/2028", "plus d'un an"),
    ("bientôt", "n'est pas une date"),
])
def test_what_the_absence_command_refuses(args: str, problem: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_absence(args, [], today=TODAY, sender=MARIE, roster=ROSTER)
    assert problem in caught.value.problem
    assert "ABSENCE du" in caught.value.example


def test_a_substitute_must_be_someone_else_on_the_roster() -> None:
    with pytest.raises(FieldError):
        parse_absence("du 20/12 au 4/01", [(2, "Remplaçant : Julien MARIE")], today=TODAY,
                      sender=MARIE, roster=ROSTER)
    with pytest.raises(FieldError):
        parse_absence("du 20/12 au 4/01", [(2, "Remplaçante : Dr INCONNU")], today=TODAY,
                      sender=MARIE, roster=ROSTER)


@pytest.mark.parametrize(("subject", "body", "start", "end"), [
    ("Réponse automatique : [PPS-2026-0001] Rappel",
     "Je suis absente jusqu'au 4 janvier. En cas d'urgence, contactez la pharmacie.",
     TODAY, date(2027, 1, 4)),
    ("Absence du 20/12 au 04/01", "", date(2026, 12, 20), date(2027, 1, 4)),
    ("Absent(e)", "Absente du lundi 14 décembre au vendredi 18 décembre inclus.",
     date(2026, 12, 14), date(2026, 12, 18)),
    ("Congés", "En congés entre le 20/12 et le 3/01, contactez le Dr GIRARD.",
     date(2026, 12, 20), date(2027, 1, 3)),
    ("Message d'absence", "Je serai de retour au cabinet le lundi 4 janvier 2027.",
     TODAY, date(2027, 1, 3)),
    ("Out of Office", "I am out of the office from December 20 to January 4th, 2027.",
     date(2026, 12, 20), date(2027, 1, 4)),
    ("Automatic reply: Rappels", "I will be back on Monday, January 4.",
     TODAY, date(2027, 1, 3)),
    ("Away", "Away until 18/12/2026 with limited access to email.", TODAY, date(2026, 12, 18)),
    ("Absence du 20/12/2026 - 04/01/2027", "", date(2026, 12, 20), date(2027, 1, 4)),
])
def test_an_out_of_office_reply_gives_its_period(subject: str, body: str, start: date,
                                                 end: date) -> None:
    found = read_period(subject, body, received=TODAY)
    assert found is not None and (found.start, found.end) == (start, end)


@pytest.mark.parametrize(("subject", "body"), [
    ("Réponse automatique", "Merci pour votre message, je vous réponds sous 48 h."),
    ("Accusé de réception", "Votre message du 15/12/2026 a bien été reçu."),
    ("Absence", "Absente jusqu'au 4 décembre."),           # already over: nothing
    ("Out of office", "Back soon. " * 2000 + "until 04/01/2027"),  # past what is read
])
def test_no_period_no_absence(subject: str, body: str) -> None:
    assert read_period(subject, body, received=TODAY) is None
