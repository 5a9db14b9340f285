"""The evaluation report from a scripted team history
(``tests.support.report_history``), through the service's own processor on a
real SQLite store, then `esp-coord report`."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import sqlite3
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from esp_coord.config import Config
from esp_coord.crypto import Keyring
from esp_coord.entrypoints.cli import main
from esp_coord.entrypoints.cli_plans import _with_store
from esp_coord.intake import parse_mail
from esp_coord.meeting_repo import KIND as MEETING
from esp_coord.report.indicators import Report
from esp_coord.report.render import to_csv, to_html, to_text
from esp_coord.store import Tx
from plans.meetings import Meeting
from plans.model import Plan
from plans.periods import parse_period
from tests.support.config import offline_config
from tests.support.mail import example
from tests.support.paths import EXAMPLE_CONFIG
from tests.support.report_history import THEMES, calendar_answers, scripted_history

PARIS = ZoneInfo("Europe/Paris")
T4 = parse_period("T4 2026", today=date(2027, 1, 5))
@pytest.fixture
async def history(tmp_path: Path) -> tuple[Report, Plan, Config, Keyring]:
    config = offline_config(tmp_path, key_file=tmp_path / "esp.key",
                            report_targets={"share_reviewed": 80.0}, themes=THEMES)
    keyring = Keyring.generate()
    keyring.save(config.key_file)
    report, plan = await scripted_history(config, keyring, T4)
    return report, plan, config, keyring


async def test_the_figures_of_the_scripted_history(history: tuple) -> None:
    report, plan, _, _ = history
    value = {f.key: f.value for s in report.sections for f in s.figures}
    assert (value["plans_created"], value["plans_active"], value["plans_closed"]) == (1, 1, 0)
    assert report.figure("plans_by_protocol").breakdown == {
        p.title: 1 for p in plan.protocols}
    assert plan.themes == ["Diabète et maladies chroniques"]
    assert report.figure("plans_by_theme").breakdown == {"Diabète et maladies chroniques": 1}
    assert (value["meetings_held"], value["patients_per_meeting"], value["decisions"]) == (
        1, 1, 1)
    assert value["share_reviewed"] == 100.0
    assert report.figure("share_reviewed").target == 80.0
    # Actual attendance from the minutes, announced attendance from the
    # calendar answers: never mixed (tests.support.report_history).
    assert report.figure("attendance").breakdown == {"03/12/2026": 3}
    assert report.figure("attendance_by_profession").breakdown == {
        "médecin": 1, "infirmier": 1, "kinésithérapeute": 1}
    assert report.figure("attendance_intended").breakdown == {"03/12/2026": 3}
    assert report.figure("attendance_intended_by_profession").breakdown == {
        "médecin": 1, "infirmier": 1, "diététicien": 1}
    assert report.figure("calendar_answers").breakdown == {"acceptées": 3, "refusées": 1}
    assert "pas la présence effective" in report.figure("attendance_intended").how
    assert "Présence effective" in report.figure("attendance").how
    # The one FAIT of the period, on time or late as its own due date says.
    [occurrence] = [o for a in plan.actions for o in a.done]
    late = occurrence.due is not None and occurrence.on > occurrence.due
    assert (value["followups_on_time"], value["followups_late"]) == (
        (0, 1) if late else (1, 0))
    if late:
        assert value["followups_delay"] == (occurrence.on - occurrence.due).days
    assert report.figure("actions_by_profession").breakdown == {"kinésithérapeute": 1}
    assert value["coordination"] == "Ana COSTA"
    # The five calendar answers are handled, never answered.
    assert (value["mails_handled"], value["mails_answered"], value["mails_quarantined"]) == (
        11, 5, 1)
    assert value["answer_time"] == 1.5  # minutes: the one answer sent, 90 s after its mail
    assert value["hospital_documents"] is None
    # Every figure says how it is computed.
    assert all(f.how.endswith(".") for s in report.sections for f in s.figures)
    assert report.annex == (("PPS-2026-0001", "24/11/2026", ""),)


async def test_calendar_answers_are_recorded_never_answered(history: tuple) -> None:
    """Outlook's and Thunderbird's answers land on the meeting and the audit
    trail; none gets a mail back; the one naming someone else is not
    recorded, and the coordination is told of it."""
    _, _, config, keyring = history
    paul = "paul.girard@medecin.mssante.test"

    def read(tx: Tx) -> tuple:  # type: ignore[type-arg]
        meeting = Meeting.from_dict(tx.load_document(MEETING, "RCP-2026-001").data)
        trail = [(r.actor, r.action, r.ref, r.detail) for r in tx.audit_records()
                 if r.action.startswith("calendar")]
        paul_mail = tx.recent_of_sender(paul, datetime(2026, 11, 1, tzinfo=PARIS))
        outbox = [i.cause for i in tx.outbox_due(datetime(2027, 1, 1, tzinfo=PARIS))]
        return meeting, trail, paul_mail, outbox, tx.unreported_quarantine()

    meeting, trail, paul_mail, outbox, told = await _with_store(config, keyring, read)
    assert {(r.attendee.split("@")[0], r.status, r.day) for r in meeting.replies} == {
        ("claire.durand", "accepted", None), ("julien.marie", "accepted", None),
        ("julien.marie", "declined", date(2027, 1, 7)), ("lea.fontaine", "accepted", None),
        ("sophie.leroy", "declined", date(2026, 12, 3))}
    assert ("sophie.leroy@pharmacien.mssante.test", "calendar-reply", "RCP-2026-001",
            "declined 2026-12-03") in trail
    assert (paul, "calendar-reply-refused", None, "no-attendee") in trail
    assert len([t for t in trail if t[1] == "calendar-reply"]) == 5
    assert [(m.outcome, m.reason) for m in paul_mail] == [("ignored", "calendar-unmatched")]
    assert told  # Paul's answer waits for the coordination's morning notice
    answers = {parse_mail(raw).dedup_key for raw, _ in calendar_answers()}
    assert len(answers) == 5 and not answers & set(outbox)  # nothing sent back, no receipt
    assert parse_mail(example("04-rcp-nouvelle.eml")).dedup_key in outbox  # the invitations


async def test_what_leaves_the_team_names_nobody(history: tuple) -> None:
    report, plan, _, _ = history
    html = to_html(report)
    for private in (plan.patient.family_name, plan.patient.given_name, "1948",
                    "PPS-2026-0001"):
        assert private not in html
    # One plan is a count under 5: hidden outside the team, exact inside.
    assert re.search(r'id="plans_created".*?<span class="value">&lt;\xa05</span>', html, re.S)
    assert "- Plans créés : 1" in to_text(report)
    assert 'class="chart"' in html and 'class="bar"' in html
    assert "objectif de l’équipe : 80\xa0%" in html
    assert "PPS-2026-0001" in to_html(report, annex=True)
    rows = list(csv.reader(io.StringIO(to_csv(report)), delimiter=";"))
    assert rows[0][:4] == ["section", "indicateur", "clé", "valeur"]
    assert ["Patients suivis", "Plans créés", "plans_created", "<5"] == rows[1][:4]


def write_config(folder: Path) -> Path:
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    text = text.replace('database_url = "sqlite:///../var/esp-coord.db"',
                        f'database_url = "sqlite:///{folder / "esp.db"}"')
    text = text.replace('key_file = "../var/esp-coord.key"', f'key_file = "{folder / "esp.key"}"')
    path = folder / "esp.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["html", "csv", "pdf"])
def test_the_report_command_writes_each_format(
        history: tuple, tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path)
    output = tmp_path / f"rapport.{fmt}"
    with pytest.raises(SystemExit) as done:
        main(["report", "--config", str(path), "--from", "01/10/2026", "--to", "31/12/2026",
              "--format", fmt, "--output", str(output)])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "Plans actifs en fin de période : 1" in out
    data = output.read_bytes()
    if fmt == "pdf":
        assert data.startswith(b"%PDF-")
    elif fmt == "html":
        assert b"Rapport d\xe2\x80\x99activit\xc3\xa9" in data
    else:
        assert b"plans_created" in data


def test_a_wrong_period_is_refused_plainly(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    Keyring.generate().save(tmp_path / "esp.key")
    (tmp_path / "esp.db").touch()
    path = write_config(tmp_path)
    with pytest.raises(SystemExit) as done:
        main(["report", "--config", str(path), "--period", "l'an dernier",
              "--output", str(tmp_path / "r.html")])
    assert done.value.code == 2
    assert "n’est pas une période reconnue" in capsys.readouterr().err


def _verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = write_config(tmp_path)
    with pytest.raises(SystemExit) as done:
        main(["report", "--config", str(path), "--from", "01/10/2026", "--to", "31/12/2026",
              "--verify"])
    assert isinstance(done.value.code, int)
    return done.value.code, capsys.readouterr().out


def test_every_figure_the_trail_records_is_recounted_from_it(
        history: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _verify(tmp_path, capsys)
    assert code == 0, out
    assert "chaîne intacte" in out
    for line in ("concorde     Plans créés : 1", "concorde     Plans actifs en fin de période : 1",
                 "concorde     Réunions tenues : 1", "concorde     Décisions par patient "
                 "enregistrées : 1", "concorde     Part des patients revus en réunion : 100\xa0%",
                 "concorde     Participations annoncées par réunion : 3 (03/12/2026 : 3)",
                 "concorde     Réponses aux invitations : 4 (acceptées : 3, refusées : 1)",
                 "hors journal Présents par réunion : la ligne « Présents : » des comptes rendus"):
        assert line in out, line
    assert "10 chiffre(s) sur 10 recomptés concordent." in out


def test_a_meeting_changed_behind_the_trail_s_back_is_told(
        history: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Léa's answer taken out of the stored meeting without any record: the
    recount from the trail still has it, and says where the two part."""
    _, _, config, keyring = history

    def forget_lea(tx: Tx) -> None:
        doc = tx.load_document(MEETING, "RCP-2026-001")
        meeting = Meeting.from_dict(doc.data)
        meeting.replies = [r for r in meeting.replies if not r.attendee.startswith("lea.")]
        tx.save_document(kind=MEETING, ref=meeting.ref, data=meeting.to_dict(),
                         status=meeting.status, expected_version=doc.version,
                         members={meeting.organizer, *meeting.participants},
                         at=datetime(2026, 12, 4, tzinfo=PARIS))

    asyncio.run(_with_store(config, keyring, forget_lea))
    code, out = _verify(tmp_path, capsys)
    assert code == 1
    assert ("écart        Participations annoncées par réunion : rapport 2 (03/12/2026 : 2), "
            "journal 3 (03/12/2026 : 3)") in out
    assert "concorde     Plans créés : 1" in out


def test_a_broken_trail_recounts_nothing(history: tuple, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(tmp_path / "esp.db") as db:
        db.execute("UPDATE audit_log SET detail = 'version 9' WHERE id = 3")
    code, out = _verify(tmp_path, capsys)
    assert code == 1
    assert "chaîne rompue à l’enregistrement 3" in out and "concorde" not in out
