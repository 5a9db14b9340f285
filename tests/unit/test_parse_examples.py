"""``interpret`` (what ``esp-coord parse`` prints) on the ten example mails and
on the rules the issue names: each example gives what its README line says."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from esp_coord.config import Config
from esp_coord.interpret import COMMAND_NAMES, exit_code, interpret
from esp_coord.offline_config import load_offline_config
from plans.commands import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config" / "esp.example.toml"
DURAND = "claire.durand@medecin.mssante.test"
GIRARD = "paul.girard@medecin.mssante.test"
MARIE = "julien.marie@infirmier.mssante.test"
LEROY = "sophie.leroy@pharmacien.mssante.test"
BENALI = "karim.benali@mk.mssante.test"
COSTA = "ana.costa@esp-valdelorge.mssante.test"


@pytest.fixture(scope="module")
def config() -> Config:
    return load_offline_config(CONFIG)


@pytest.fixture(scope="module")
def reports(config: Config, example_messages: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    return {stem[:2]: interpret(raw, config) for stem, raw in example_messages.items()}


def mail(body: str, *, subject: str = "NOUVEAU PPS", sender: str = DURAND,
         date: str = "Mon, 23 Nov 2026 09:12:44 +0100", headers: str = "") -> bytes:
    head = (f"From: {sender}\nTo: coordination@esp-valdelorge.mssante.test\n"
            f"Subject: {subject}\nDate: {date}\nMessage-ID: <t1@medecin.mssante.test>\n"
            f"{headers}MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n")
    return (head + body).encode("utf-8")


IDENTITY = ("Patient : MARTIN Jeanne\nNée le : 12/03/1948\nINS : 2 48 03 75 056 118 78\n"
            "Consentement : oui\n")


def test_every_command_has_a_report_name() -> None:
    assert set(COMMANDS) <= set(COMMAND_NAMES)
    assert set(COMMAND_NAMES.values()) >= {
        "create_plan", "update_plan", "close_plan", "status", "list", "done", "postpone",
        "schedule_meeting", "list_meetings", "cancel_meeting", "meeting_report", "help",
        "unknown"}


def test_01_new_plan(reports: dict[str, dict[str, Any]]) -> None:
    r = reports["01"]
    assert (r["command"], r["errors"], exit_code(r)) == ("create_plan", [], 0)
    assert r["patient"] == {"family_name": "MARTIN", "given_name": "Jeanne",
                            "birth_date": "1948-03-12", "sex": "F", "ins": "248037505611878"}
    assert r["consent"] is True
    assert r["sender"] == r["referent"] == DURAND
    assert set(r["team"]) >= {DURAND, MARIE, LEROY, BENALI}
    assert len(r["problems"]) == 3 and len(r["objectives"]) == 2 and len(r["alerts"]) == 1
    assert r["protocols"] == ["diabete-type-2"]
    assert r["review_date"] == "2027-05-15"
    written = [a for a in r["actions"] if a["protocol"] is None]
    follow_ups = [a for a in r["actions"] if a["protocol"] == "diabete-type-2"]
    assert len(written) == 4 and follow_ups
    weekly = written[0]
    # Written at 09:12, after that day's reminders (08:00): the rhythm starts
    # the next day, its first occurrence one the nurse is told of.
    assert (weekly["assignee"], weekly["rhythm"], weekly["due"]) == (
        MARIE, "FREQ=WEEKLY;INTERVAL=1", "2026-11-24")
    assert (written[1]["assignee"], written[1]["due"], written[1]["rhythm"]) == (
        LEROY, "2026-12-15", None)
    # "2 fois par semaine pendant 3 mois": a weekly rule with two days, and its end.
    twice = next(a for a in written if a["assignee"] == BENALI)
    assert re.fullmatch(r"FREQ=WEEKLY;BYDAY=[A-Z]{2},[A-Z]{2}", twice["rhythm"])
    assert twice["until"] == "2027-02-24"   # three months from its start, 24/11


def test_02_update_found_by_subject_tag_and_by_in_reply_to(
        reports: dict[str, dict[str, Any]], config: Config,
        example_messages: dict[str, bytes]) -> None:
    r = reports["02"]
    assert (r["command"], r["plan_ref"], r["errors"]) == ("update_plan", "PPS-2026-0001", [])
    assert [(a["assignee"], a["due"]) for a in r["actions"]] == [(MARIE, "2026-12-01")]
    assert r["notes"] == ["patiente motivée, fille présente le mercredi"]
    # Only the lines above the quote count: nothing of the quoted plan came in.
    assert not r["problems"] and len(r["actions"]) == 1
    raw = example_messages["02-maj-pps-reponse"]
    untagged = raw.replace(b"Subject: RE: [PPS-2026-0001] Plan cr", b"Subject: RE: Plan cr")
    assert untagged != raw
    assert interpret(untagged, config)["plan_ref"] == "PPS-2026-0001"  # In-Reply-To alone
    foreign = untagged.replace(b"@esp-valdelorge.mssante.test>", b"@elsewhere.test>")
    report = interpret(foreign, config)
    assert report["plan_ref"] is None
    assert [e["field"] for e in report["errors"]] == ["plan_ref"]


def test_03_status_reply(reports: dict[str, dict[str, Any]]) -> None:
    r = reports["03"]
    assert (r["command"], r["plan_ref"], r["errors"], exit_code(r)) == (
        "status", "PPS-2026-0001", [], 0)


def test_04_meeting(reports: dict[str, dict[str, Any]]) -> None:
    r = reports["04"]
    assert (r["command"], r["errors"]) == ("schedule_meeting", [])
    assert r["meeting"] == {
        "start": "2026-12-03T12:30:00+01:00", "duration_minutes": 90,
        "location": "Maison de santé, salle de réunion du 1er étage",
        "participants": r["meeting"]["participants"],
        "recurrence": "FREQ=MONTHLY;BYDAY=TH;BYSETPOS=1", "plans": ["PPS-2026-0001"]}
    assert set(r["meeting"]["participants"]) == {DURAND, GIRARD, MARIE, LEROY, BENALI,
                                                 "lea.fontaine@dieteticien.mssante.test", COSTA}


def test_05_done(reports: dict[str, dict[str, Any]]) -> None:
    r = reports["05"]
    assert (r["command"], r["plan_ref"], r["action_number"], r["errors"]) == (
        "done", "PPS-2026-0001", 3, [])
    assert r["comment"].startswith("Séance de la semaine faite")


def test_06_every_error_with_its_line(reports: dict[str, dict[str, Any]]) -> None:
    r = reports["06"]
    assert r["command"] == "create_plan" and exit_code(r) == 1
    assert r["patient"] is None and r["actions"] == []
    by_field = [(e["line"], e["field"]) for e in r["errors"]]
    assert by_field == [(2, "birth_date"), (3, "ins"), (5, "action"), (6, "action")]
    birth, ins, podologue, jeudis = r["errors"]
    assert "31/02/1937" in birth["text"] and "n'existe pas" in birth["message"]
    assert "87" in ins["message"]
    assert "podologue" in podologue["message"]
    assert "la semaine des quatre jeudis" in jeudis["message"]


def test_07_html_outlook_corsica(reports: dict[str, dict[str, Any]]) -> None:
    r = reports["07"]
    assert (r["command"], r["errors"]) == ("create_plan", [])
    assert r["patient"]["family_name"] == "PETIT" and r["patient"]["given_name"] == "Odette"
    assert r["patient"]["birth_date"] == "1941-06-25"
    assert "2A" in r["patient"]["ins"] and " " not in r["patient"]["ins"]
    assert r["actions"][0]["assignee"] == MARIE  # "IDE": the only nurse on the roster


def test_08_unknown_sender_is_ignored(reports: dict[str, dict[str, Any]]) -> None:
    r = reports["08"]
    assert r["command"] == "ignored" and "roster" in r["ignored_reason"]
    assert r["errors"] == [] and exit_code(r) == 3


def test_09_auto_reply_is_ignored(reports: dict[str, dict[str, Any]]) -> None:
    r = reports["09"]
    assert r["command"] == "ignored" and r["ignored_reason"].startswith("automatic")
    assert r["errors"] == [] and exit_code(r) == 3


def test_10_latin1_update(reports: dict[str, dict[str, Any]]) -> None:
    r = reports["10"]
    assert (r["command"], r["plan_ref"], r["errors"]) == ("update_plan", "PPS-2026-0001", [])
    assert r["problems"] == ["plaie du talon droit, apparue le 28/11"]
    assert r["notes"] == ["prévenir le médecin si signes d'infection"]
    (action,) = r["actions"]
    # Written at 20:41: from the next day.
    assert (action["assignee"], action["rhythm"], action["until"], action["due"]) == (
        MARIE, "FREQ=DAILY;INTERVAL=2", "2026-12-31", "2026-12-01")


def test_relative_dates_count_from_the_date_header(config: Config) -> None:
    body = IDENTITY + "Action : IDE | pansement | J+10\nAction : MK | bilan | demain\n"
    late = interpret(mail(body, date="Tue, 01 Dec 2026 23:30:00 +0100"), config)
    assert [a["due"] for a in late["actions"]] == ["2026-12-11", "2026-12-02"]
    # 23:30 UTC is already the next day in Paris: the team's day counts.
    utc = interpret(mail(body, date="Tue, 01 Dec 2026 23:30:00 +0000"), config)
    assert [a["due"] for a in utc["actions"]] == ["2026-12-12", "2026-12-03"]


def test_action_times_in_iso(config: Config) -> None:
    body = IDENTITY + ("Action : IDE | pansement | 15/12/2026 à 14h\n"
                       "Action : MK | marche | chaque lundi à 9h\n"
                       "Action : IDE | prise de sang | demain 8h30\n"
                       "Action : MK | bilan | J+10\n")
    r = interpret(mail(body), config)
    assert r["errors"] == []
    assert [(a["due"], a["time"]) for a in r["actions"]] == [
        # « chaque lundi », on a Monday after its 08:00 reminders: the next Monday.
        ("2026-12-15", "14:00"), ("2026-11-30", "09:00"), ("2026-11-24", "08:30"),
        ("2026-12-03", None)]
    assert r["actions"][1]["rhythm"] == "FREQ=WEEKLY;BYDAY=MO"


@pytest.mark.parametrize(("words", "rule"), [
    ("chaque semaine", "FREQ=WEEKLY;INTERVAL=1"),
    ("chaque lundi", "FREQ=WEEKLY;BYDAY=MO"),
    ("3 fois par semaine", "FREQ=WEEKLY;BYDAY=MO,WE,FR"),
    ("tous les 3 mois", "FREQ=MONTHLY;INTERVAL=3"),
    ("tous les jours", "FREQ=DAILY;INTERVAL=1"),
])
def test_rhythms_as_rrules(config: Config, words: str, rule: str) -> None:
    r = interpret(mail(IDENTITY + f"Action : IDE | soins | {words}\n"), config)
    assert r["errors"] == []
    assert r["actions"][0]["rhythm"] == rule


def test_untrusted_domain_and_unknown_command(config: Config) -> None:
    strict = dataclasses.replace(config, trusted_domains=("*.mssante.fr",))
    r = interpret(mail(IDENTITY), strict)
    assert r["command"] == "ignored" and "domain" in r["ignored_reason"]
    r = interpret(mail("Bonjour, pouvez-vous me rappeler ?\n", subject="stauts"), config)
    assert r["command"] == "unknown" and exit_code(r) == 1
    assert r["errors"][0]["field"] == "command" and "STATUT" in r["errors"][0]["message"]


def test_action_commands(config: Config) -> None:
    r = interpret(mail("", subject="REPORTER 2 au 15/12/2026 PPS-2026-0001"), config)
    assert (r["command"], r["action_number"], r["date"], r["plan_ref"], r["errors"]) == (
        "postpone", 2, "2026-12-15", "PPS-2026-0001", [])
    assert r["time"] is None
    r = interpret(mail("", subject="REPORTER 2 au 15/12/2026 à 8h30 PPS-2026-0001"), config)
    assert (r["date"], r["time"], r["errors"]) == ("2026-12-15", "08:30", [])  # as actions[]
    r = interpret(mail("", subject="REPORTER 2 au 31/02/2027 PPS-2026-0001"), config)
    assert [e["field"] for e in r["errors"]] == ["date"]
    r = interpret(mail("", subject="FAIT PPS-2026-0001"), config)
    assert [e["field"] for e in r["errors"]] == ["action_number"]
    r = interpret(mail("décès de la patiente\n", subject="CLORE PPS-2026-0001"), config)
    assert (r["command"], r["plan_ref"], r["comment"], r["errors"]) == (
        "close_plan", "PPS-2026-0001", "décès de la patiente", [])
    r = interpret(mail("", subject="LISTE"), config)
    assert (r["command"], r["errors"]) == ("list", [])


def test_undo_done(config: Config) -> None:
    r = interpret(mail("", subject="ANNULER FAIT 3 PPS-2026-0001"), config)
    assert (r["command"], r["action_number"], r["plan_ref"], r["meeting_ref"], r["errors"]) == (
        "undo_done", 3, "PPS-2026-0001", None, [])
    assert exit_code(r) == 0
    # In the body of a reply to an acknowledgement: the plan from In-Reply-To.
    r = interpret(mail("Annuler fait 2\nerreur de patient\n",
                       subject="RE: [PPS-2026-0001] Action 2 faite",
                       headers="In-Reply-To: <PPS-2026-0001.done.3@esp-valdelorge.mssante.test>\n"),
                  config)
    assert (r["command"], r["action_number"], r["plan_ref"], r["errors"]) == (
        "undo_done", 2, "PPS-2026-0001", [])
    r = interpret(mail("", subject="ANNULER FAIT PPS-2026-0001"), config)
    assert (r["command"], [e["field"] for e in r["errors"]]) == ("undo_done", ["action_number"])
    r = interpret(mail("", subject="ANNULER FAIT 3"), config)
    assert (r["command"], [e["field"] for e in r["errors"]]) == ("undo_done", ["plan_ref"])


def test_meeting_commands(config: Config) -> None:
    r = interpret(mail("Motif : congés\n", subject="ANNULER RCP-2026-001 du 07/01/2027",
                       sender=COSTA), config)
    assert (r["command"], r["meeting_ref"], r["date"], r["errors"]) == (
        "cancel_meeting", "RCP-2026-001", "2027-01-07", [])
    r = interpret(mail("PPS-2026-0001 : poursuite du plan\n",
                       subject="COMPTE-RENDU RCP-2026-001", sender=COSTA), config)
    assert r["command"] == "meeting_report" and r["errors"] == []
    assert r["decisions"] == [{"line": 1, "plan_ref": "PPS-2026-0001",
                               "text": "poursuite du plan"}]


def test_unknown_keys_are_warnings_not_errors(config: Config) -> None:
    r = interpret(mail(IDENTITY + "Allergie : pénicilline\n"), config)
    assert r["errors"] == [] and exit_code(r) == 0
    assert any("Allergie" in w["message"] for w in r["warnings"])
    assert "Allergie : pénicilline" in r["notes"]


def test_referent_change_is_flagged_unless_from_the_coordination(config: Config) -> None:
    body = "Référent : Dr GIRARD\n"
    nurse = interpret(mail(body, subject="MAJ PPS-2026-0001", sender=MARIE), config)
    assert nurse["referent"] == GIRARD and nurse["errors"] == []
    assert any("référent" in w["message"] for w in nurse["warnings"])
    coordination = interpret(mail(body, subject="MAJ PPS-2026-0001", sender=COSTA), config)
    assert coordination["referent"] == GIRARD and coordination["warnings"] == []


def test_calendar_answer_is_ignored(config: Config) -> None:
    raw = (f"From: {MARIE}\nTo: coordination@esp-valdelorge.mssante.test\n"
           "Subject: Accepté : Concertation\nDate: Wed, 25 Nov 2026 09:00:00 +0100\n"
           "Message-ID: <cal-1@infirmier.mssante.test>\nMIME-Version: 1.0\n"
           'Content-Type: multipart/mixed; boundary="b"\n\n--b\n'
           "Content-Type: text/plain; charset=utf-8\n\nJ'y serai.\n--b\n"
           "Content-Type: text/calendar; method=REPLY; charset=utf-8\n\n"
           "BEGIN:VCALENDAR\nMETHOD:REPLY\nEND:VCALENDAR\n--b--\n").encode()
    r = interpret(raw, config)
    assert r["command"] == "ignored" and "calendar" in r["ignored_reason"]
    assert exit_code(r) == 3


def test_meeting_agenda_and_list(config: Config) -> None:
    r = interpret(mail("Patients : PPS-2026-0001, PPS 2026 0002\n", subject="RCP RCP-2026-001",
                       sender=COSTA), config)
    assert (r["command"], r["meeting_ref"], r["agenda_plans"], r["errors"]) == (
        "list_meetings", "RCP-2026-001", ["PPS-2026-0001", "PPS-2026-0002"], [])
    r = interpret(mail("Patients : Mme MARTIN\n", subject="RCP RCP-2026-001", sender=COSTA),
                  config)
    assert [e["field"] for e in r["errors"]] == ["patients"]
    r = interpret(mail("", subject="RCP", sender=COSTA), config)
    assert (r["command"], r["meeting_ref"], r["agenda_plans"], r["errors"]) == (
        "list_meetings", None, [], [])
