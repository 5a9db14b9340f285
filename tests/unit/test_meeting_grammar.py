"""The meeting-mail grammar: example 04 and how people really type."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from esp_coord.intake import parse_mail
from plans.commands import detect_command
from plans.meeting_grammar import parse_cancel, parse_new_meeting, parse_report
from tests.support.plans_examples import COSTA, MARIE, ROSTER

PARIS = ZoneInfo("Europe/Paris")
TODAY = date(2026, 11, 25)


def lines(text: str) -> list[tuple[int, str]]:
    return list(enumerate(text.splitlines(), start=1))


def new(text: str, sender=COSTA, tz=PARIS, now: datetime | None = None):
    return parse_new_meeting(lines(text), today=TODAY, tz=tz, sender=sender, roster=ROSTER,
                             now=now)


def test_example_04(example_messages: dict[str, bytes]) -> None:
    mail = parse_mail(example_messages["04-rcp-nouvelle"])
    detected = detect_command(mail.subject, mail.body)
    assert detected.name == "RCP_NOUVELLE"
    assert mail.date is not None
    parsed = parse_new_meeting(detected.lines, today=mail.date.astimezone(PARIS).date(),
                               tz=PARIS, sender=COSTA, roster=ROSTER, now=mail.date)
    assert parsed.ok, parsed.errors
    assert parsed.warnings == []
    draft = parsed.value
    assert draft is not None
    assert draft.start == datetime(2026, 12, 3, 12, 30, tzinfo=PARIS)
    assert draft.start + draft.duration == datetime(2026, 12, 3, 14, 0, tzinfo=PARIS)
    assert draft.everyone and set(draft.participants) == {p.email for p in ROSTER}
    assert draft.recurrence == "FREQ=MONTHLY;BYDAY=TH;BYSETPOS=1"
    assert draft.plans == ["PPS-2026-0001"]
    assert draft.to_json() == {
        "start": "2026-12-03T12:30:00+01:00", "duration_minutes": 90,
        "location": "Maison de santé, salle de réunion du 1er étage",
        "participants": draft.participants,
        "recurrence": "FREQ=MONTHLY;BYDAY=TH;BYSETPOS=1", "plans": ["PPS-2026-0001"]}


def test_defaults_people_and_the_sender_always_takes_part() -> None:
    parsed = new("Date : 10/12/2026 à 13h\nParticipants : IDE, kiné BENALI\n"
                 "Lieu : https://visio.example.test/rcp", sender=MARIE)
    draft = parsed.value
    assert draft is not None, parsed.errors
    assert draft.duration == timedelta(hours=1) and draft.rhythm is None
    assert draft.participants == [MARIE.email, "karim.benali@mk.mssante.test"]
    assert not draft.everyone
    assert draft.location == "https://visio.example.test/rcp"
    assert draft.to_json()["recurrence"] is None


def test_rhythms_in_words() -> None:
    cases = {
        "tous les mois": "FREQ=MONTHLY;INTERVAL=1",
        "toutes les 2 semaines": "FREQ=WEEKLY;INTERVAL=2",
        "chaque semaine": "FREQ=WEEKLY;INTERVAL=1",
        "chaque jeudi": "FREQ=WEEKLY;BYDAY=TH",
        "le dernier jeudi de chaque mois": "FREQ=MONTHLY;BYDAY=TH;BYSETPOS=-1",
    }
    for words, rule in cases.items():
        day = "31/12/2026" if "dernier" in words else "03/12/2026"
        parsed = new(f"Date : {day} à 12h30\nRécurrence : {words}")
        assert parsed.value is not None, (words, parsed.errors)
        assert parsed.value.recurrence == rule, words
    parsed = new("Date : 03/12/2026 à 12h30\nRécurrence : aucune")
    assert parsed.value is not None and parsed.value.rhythm is None


def test_monthly_from_the_31st_is_the_last_day_in_the_calendar_too() -> None:
    from dateutil.rrule import rrulestr

    parsed = new("Date : 31/12/2026 à 12h30\nRécurrence : tous les mois")
    assert parsed.value is not None
    rule = parsed.value.recurrence
    assert rule == "FREQ=MONTHLY;INTERVAL=1;BYMONTHDAY=28,29,30,31;BYSETPOS=-1"
    start = parsed.value.start.replace(tzinfo=None)
    calendar = [d.date() for d in rrulestr(rule, dtstart=start)[:3]]
    assert calendar == [date(2026, 12, 31), date(2027, 1, 31), date(2027, 2, 28)]
    assert parsed.value.rhythm is not None
    assert list(parsed.value.rhythm.occurrences(start.date(), count=3)) == calendar


def test_until_is_written_in_utc() -> None:
    parsed = new("Date : 03/12/2026 à 12h30\nRécurrence : chaque mois jusqu'au 03/06/2027")
    assert parsed.value is not None, parsed.errors
    # 12:30 in June in Paris is 10:30 UTC.
    assert parsed.value.recurrence == "FREQ=MONTHLY;INTERVAL=1;UNTIL=20270603T103000Z"


def test_every_error_with_line_expected_and_example() -> None:
    parsed = new("Date : 04/12/2026 à 12h30\nDurée : deux heures et demie\n"
                 "Participants : podologue\nRécurrence : le premier jeudi de chaque mois\n"
                 "Patients : PPS-2026-0001, Mme MARTIN")
    assert not parsed.ok
    by_field = {e.field: e for e in parsed.errors}
    assert set(by_field) == {"date", "duration", "participants", "patients"}
    date_error = by_field["date"]
    assert date_error.line == 1 and "04/12/2026" in date_error.problem
    assert date_error.example == "Date : 03/12/2026 à 12h30"   # the first Thursday
    assert by_field["duration"].line == 2 and by_field["duration"].example == "Durée : 1h30"
    assert "podologue" in by_field["participants"].problem
    assert "MARTIN" in by_field["patients"].problem
    assert by_field["patients"].example == "Patients : PPS-2026-0001"


def test_missing_or_past_date_and_missing_time() -> None:
    missing = new("Lieu : salle")
    assert [(e.line, e.field) for e in missing.errors] == [(None, "date")]
    past = new("Date : 20/11/2026 à 12h30")
    assert "déjà passé" in past.errors[0].problem
    no_time = new("Date : 03/12/2026")
    assert "heure" in no_time.errors[0].problem
    assert no_time.errors[0].example == "Date : 03/12/2026 à 12h30"
    today_but_past = new("Date : 25/11/2026 à 8h",
                         now=datetime(2026, 11, 25, 9, 0, tzinfo=PARIS))
    assert not today_but_past.ok


def test_unknown_keys_and_sentences_are_kept_with_a_warning() -> None:
    parsed = new("Bonjour,\nDate : 03/12/2026 à 12h30\nDurre : 1h\n"
                 "Prévoir le vidéoprojecteur pour les résultats\nCordialement")
    assert parsed.value is not None
    assert len(parsed.warnings) == 2
    assert "Durée" in parsed.warnings[0].message
    assert parsed.value.notes == ["Durre : 1h", "Prévoir le vidéoprojecteur pour les résultats"]


def test_overseas_meeting_keeps_its_own_offset() -> None:
    martinique = ZoneInfo("America/Martinique")
    parsed = new("Date : 03/12/2026 à 12h30\nRécurrence : chaque semaine", tz=martinique)
    assert parsed.value is not None
    assert parsed.value.to_json()["start"] == "2026-12-03T12:30:00-04:00"


def test_cancel_series_or_one_day() -> None:
    series = parse_cancel("", lines("Réunion annulée : congés"), today=TODAY)
    assert series.value is not None and series.value.day is None
    assert series.value.reason == "Réunion annulée : congés"
    one = parse_cancel("du 07/01/2027", [], today=TODAY)
    assert one.value is not None and one.value.day == date(2027, 1, 7)
    by_line = parse_cancel("", lines("Date : 07/01/2027"), today=TODAY)
    assert by_line.value is not None and by_line.value.day == date(2027, 1, 7)
    wrong = parse_cancel("du 31/02/2027", [], today=TODAY)
    assert not wrong.ok and "31 février" in wrong.errors[0].problem


def test_report_lines() -> None:
    parsed = parse_report("", lines(
        "Bonjour,\nPPS-2026-0001 : poursuite du plan, HbA1c à recontrôler\n"
        "dans 3 mois\n- PPS 2026 0002 - kiné à renforcer\nPrésents : 5 personnes\n"
        "Remarque : salle trop petite\nCordialement"), today=TODAY)
    report = parsed.value
    assert report is not None, parsed.errors
    assert report.day is None
    assert report.decisions == [
        (2, "PPS-2026-0001", "poursuite du plan, HbA1c à recontrôler dans 3 mois"),
        (4, "PPS-2026-0002", "kiné à renforcer")]
    assert report.notes == ["Présents : 5 personnes", "Remarque : salle trop petite"]
    # Attendance lines are the meeting's (the answer says who they count); any
    # other line without a plan is kept with a warning.
    assert [w.line for w in parsed.warnings] == [6]


def test_a_key_line_never_continues_a_decision() -> None:
    # Audit of issue 5: « Présents : tous » went into the patient's plan.
    for key_line in ("Présents : tous", "excusés : kiné", "présents : Dr DURAND, IDE",
                     "lieu : salle 2"):
        parsed = parse_report("", lines(f"PPS-2026-0001 : poursuite\n{key_line}"),
                              today=TODAY)
        report = parsed.value
        assert report is not None, parsed.errors
        assert report.decisions == [(1, "PPS-2026-0001", "poursuite")], key_line
        assert report.notes == [key_line]
    # A plain lower-case line still continues the decision.
    going_on = parse_report("", lines("PPS-2026-0001 : poursuite\navec kiné"), today=TODAY)
    assert going_on.value is not None
    assert going_on.value.decisions == [(1, "PPS-2026-0001", "poursuite avec kiné")]


def test_report_errors() -> None:
    empty = parse_report("du 03/12/2026", lines("PPS-2026-0001 :"), today=TODAY)
    assert [(e.line, e.field) for e in empty.errors] == [(1, "decision")]
    nothing = parse_report("", lines("merci"), today=TODAY)
    assert nothing.errors[0].line is None
    assert nothing.errors[0].example.startswith("PPS-2026-0001 : ")
    dated = parse_report("du 03/12/2026", lines("PPS-2026-0001 : ok"), today=TODAY)
    assert dated.value is not None and dated.value.day == date(2026, 12, 3)


def test_short_free_lines_are_kept_as_notes_not_dropped() -> None:
    parsed = new("Bonjour à tous,\nDate : 03/12/2026 à 12h30\nAllergie pénicilline\n"
                 "Patiente absente\nMerci\nCordialement,\nAna COSTA\nCoordinatrice ESP\n"
                 "Médecin généraliste - 02 41 52 00 00\n")
    assert parsed.value is not None, parsed.errors
    assert parsed.value.notes == ["Allergie pénicilline", "Patiente absente"]
    assert [w.line for w in parsed.warnings] == [3, 4]
    assert all("gardée en note" in w.message for w in parsed.warnings)
