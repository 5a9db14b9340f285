"""French answers: acknowledgement, update, errors, status, help, not understood."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from esp_coord.outgoing import render_html
from plans.commands import closest_commands, detect_command
from plans.grammar import parse_new_plan, parse_update
from plans.render import (
    COMMAND_EXAMPLES,
    render_closed,
    render_created,
    render_done,
    render_errors,
    render_help,
    render_list,
    render_not_understood,
    render_postponed,
    render_status,
    render_updated,
)
from plans.typography import NBSP
from tests.support.plans_examples import (
    BENALI,
    BODY_02,
    BODY_06,
    DURAND,
    GIRARD,
    MARIE,
    PARIS,
    ROSTER,
    TEAM_01,
    plan_01,
)

TZ = ZoneInfo("Europe/Paris")


def plain(text: str) -> str:
    return text.replace(NBSP, " ").replace("\u202f", " ")


def test_created_acknowledgement() -> None:
    out = render_created(plan_01(), people=ROSTER, tz=TZ)
    assert plain(out.subject) == "[PPS-2026-0001] Plan créé - MARTIN Jeanne"
    text = plain(out.text)
    assert "MARTIN Jeanne (née le 12/03/1948)" in text
    assert ("1. IDE Julien MARIE : surveillance glycémies et poids, examen des pieds - "
            "chaque semaine, prochaine le 23/11/2026") in text
    assert "2. pharmacien Sophie LEROY : bilan partagé de médication - le 15/12/2026" in text
    assert "Réévaluation : 15/05/2027" in text and "23/11/2026 à 9h12" in text
    assert ("Équipe : Dr Claire DURAND, IDE Julien MARIE, pharmacien Sophie LEROY, "
            "kiné Karim BENALI") in text
    assert "MAJ" in text and "FAIT 1" in text and "STATUT" in text
    assert f"Référent{NBSP}:" in out.text  # French typography applied
    html_part = render_html(out.text, out.subject)  # the mail's HTML part
    assert "&lt; 7,5" in html_part and "< 7,5" not in html_part  # escaped


def test_updated_acknowledgement_lists_changes() -> None:
    plan = plan_01()
    found = detect_command("RE: [PPS-2026-0001] Plan créé", BODY_02)
    update = parse_update(found.lines, today=date(2026, 11, 24), sender=MARIE, team=TEAM_01,
                          roster=ROSTER).value
    changes = plan.apply(update, author=MARIE.email, at=datetime(2026, 11, 24, 18, 3, tzinfo=PARIS),
                         source_message_id="<m>")
    out = render_updated(plan, changes, people=ROSTER, tz=TZ)
    text = plain(out.text)
    assert "version 2" in text and "IDE Julien MARIE" in text
    number = len(plan.actions)
    assert (f"Nouvelle action : {number}. IDE Julien MARIE : éducation à l'autosurveillance "
            "glycémique - le 01/12/2026") in text
    assert "Note : patiente motivée" in text
    assert plain(out.subject).startswith("[PPS-2026-0001] Plan mis à jour")


def test_error_answer_for_example_06() -> None:
    parsed = parse_new_plan(detect_command("nouveau pps", BODY_06).lines,
                            today=date(2026, 11, 26), sender=GIRARD, roster=ROSTER)
    out = render_errors(parsed.errors, parsed.warnings, command="NOUVEAU_PPS")
    text = plain(out.text)
    assert text.startswith("Rien n'a été enregistré.")
    assert "Ligne 2 : « Né le : 31/02/1937 »" in text
    assert "Exemple : Né le : 28/02/1937" in text
    assert text.count("Ligne ") == 4 and "4 erreurs" in text
    for word in ("BERNARD", "Louis", "1937"):
        assert word not in out.subject


def test_missing_line_block() -> None:
    parsed = parse_new_plan([(1, "Problème : chutes")], today=date(2026, 11, 26), sender=GIRARD,
                            roster=ROSTER)
    text = plain(render_errors(parsed.errors, ref=None).text)
    assert "Ligne manquante :" in text and "Exemple : INS : " in text


def test_status_shows_done_due_and_overdue() -> None:
    plan = plan_01()
    plan.mark_done(3, by=BENALI.email, on=date(2026, 11, 26), comment="ok",
                   at=datetime(2026, 11, 26, 19, 20, tzinfo=PARIS))
    out = render_status(plan, people=ROSTER, today=date(2026, 11, 30), tz=TZ,
                        next_meeting="jeudi 3 décembre 2026 à 12h30")
    text = plain(out.text)
    assert "EN RETARD depuis le 23/11/2026" in text
    assert "prévue le 15/12/2026" in text
    assert "dernière fois fait le 26/11/2026 par kiné Karim BENALI" in text
    assert "Prochaine concertation : jeudi 3 décembre 2026" in text
    assert "26/11/2026 à 19h20, kiné Karim BENALI : action 3 faite" in text
    assert plain(out.subject) == "[PPS-2026-0001] Statut"


def test_done_postponed_closed_list() -> None:
    plan = plan_01()
    action = plan.mark_done(3, by=BENALI.email, on=date(2026, 11, 26), comment="50 m")
    assert "Prochaine fois : le 30/11/2026" in plain(render_done(plan, action, people=ROSTER).text)
    moved = plan.postpone(2, date(2026, 12, 20), by=MARIE.email,
                          at=datetime(2026, 11, 30, tzinfo=PARIS))
    assert "reportée au 20/12/2026" in plain(render_postponed(plan, moved, people=ROSTER).text)
    listing = plain(render_list([plan], people=ROSTER, today=date(2026, 11, 30)).text)
    assert "PPS-2026-0001 MARTIN Jeanne" in listing and "en retard" in listing
    plan.close(by=DURAND.email, at=datetime(2027, 1, 5, 10, tzinfo=PARIS), source_message_id=None)
    assert "clos le 05/01/2027" in plain(render_closed(plan, people=ROSTER, tz=TZ).text)


def test_help_has_one_example_per_command() -> None:
    text = plain(render_help("Ana COSTA").text)
    assert text.startswith("Bonjour Ana COSTA,")
    for name, (_, example) in COMMAND_EXAMPLES.items():
        first = example.split("\n")[0]
        assert first in text, name
        # Each help example is understood as the command it illustrates.
        if name not in ("NOUVEAU_PPS", "RCP_NOUVELLE"):
            assert detect_command("", example).name == name


def test_not_understood_shows_closest_commands() -> None:
    out = render_not_understood("stauts", closest_commands("stauts"))
    text = plain(out.text)
    assert "« stauts »" in text and "STATUT PPS-2026-0001" in text
    assert "Rien n'a été enregistré." in text


def test_notes_in_acknowledgement_and_status() -> None:
    parsed = parse_new_plan(detect_command("NOUVEAU PPS", "Patient : MARTIN Jeanne\n"
                                           "Née le : 12/03/1948\nINS : 2 48 03 75 056 118 78\n"
                                           "Consentement : oui\nNote : fille présente le mercredi\n"
                                           "Aidant : sa fille\nAllergie pénicilline\n").lines,
                            today=date(2026, 11, 23), sender=DURAND, roster=ROSTER)
    plan = plan_01()
    plan.notes = []
    created_at = datetime(2026, 11, 23, 9, 12, tzinfo=PARIS)
    for text in parsed.value.notes:
        plan.apply(parse_update([(1, f"Note : {text}")], today=date(2026, 11, 23), sender=DURAND,
                                team=TEAM_01, roster=ROSTER).value,
                   author=DURAND.email, at=created_at, source_message_id=None)
    ack = plain(render_created(plan, people=ROSTER, tz=TZ).text)
    assert ("Notes :\n - fille présente le mercredi\n - Aidant : sa fille\n"
            " - Allergie pénicilline\n") in ack
    for day in range(24, 28):
        plan.apply(parse_update([(1, f"Note : passage du {day}")], today=date(2026, 11, day),
                                sender=MARIE, team=TEAM_01, roster=ROSTER).value,
                   author=MARIE.email, at=datetime(2026, 11, day, 8, 5, tzinfo=PARIS),
                   source_message_id=None)
    plan.mark_done(3, by=BENALI.email, on=date(2026, 11, 28), comment="marche 50 m",
                   at=datetime(2026, 11, 28, 18, 0, tzinfo=PARIS))
    status = plain(render_status(plan, people=ROSTER, today=date(2026, 11, 30), tz=TZ).text)
    notes = status.split("Notes :\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert notes == [
        " - 28/11/2026 à 18h00, kiné Karim BENALI : action 3 faite le 28/11/2026 : marche 50 m",
        " - 27/11/2026 à 8h05, IDE Julien MARIE : passage du 27",
        " - 26/11/2026 à 8h05, IDE Julien MARIE : passage du 26",
        " - 25/11/2026 à 8h05, IDE Julien MARIE : passage du 25",
        " - 24/11/2026 à 8h05, IDE Julien MARIE : passage du 24",
        " - … et 3 notes plus anciennes"]


def test_counts_are_real_singulars_and_plurals() -> None:
    plan = plan_01()
    listing = plain(render_list([plan], people=ROSTER, today=date(2026, 11, 30)).text)
    assert listing.startswith("1 plan actif au 30/11/2026")
    assert plain(render_list([], people=ROSTER, today=date(2026, 11, 30)).text).startswith(
        "Aucun plan actif")
    status = plain(render_status(plan, people=ROSTER, today=date(2026, 11, 30), tz=TZ).text)
    assert f"{len(plan.open_actions())} actions en cours" in status and "(s)" not in status


def test_action_times_in_answers() -> None:
    plan = plan_01()
    update = parse_update([(1, "Action : IDE | prise de sang | 15/12/2026 à 8h")],
                          today=date(2026, 11, 24), sender=MARIE, team=TEAM_01,
                          roster=ROSTER).value
    changes = plan.apply(update, author=MARIE.email, at=datetime(2026, 11, 24, 9, tzinfo=PARIS),
                         source_message_id=None)
    number = int(changes[-1][1])
    line = f"{number}. IDE Julien MARIE : prise de sang - "
    assert line + "le 15/12/2026 à 8h00" in plain(
        render_updated(plan, changes, people=ROSTER, tz=TZ).text)
    status = plain(render_status(plan, people=ROSTER, today=date(2026, 11, 30), tz=TZ).text)
    assert line + "prévue le 15/12/2026 à 8h00" in status
    # REPORTER stores the new time on a one-off action, and it is shown.
    plan.postpone(number, date(2026, 12, 18), by=MARIE.email,
                  at=datetime(2026, 11, 30, tzinfo=PARIS), at_time=time(10, 30))
    status = plain(render_status(plan, people=ROSTER, today=date(2026, 11, 30), tz=TZ).text)
    assert line + "prévue le 18/12/2026 à 10h30" in status
    # REPORTER without a time clears the old one: no time shown.
    plan.postpone(number, date(2026, 12, 21), by=MARIE.email,
                  at=datetime(2026, 12, 1, tzinfo=PARIS))
    status = plain(render_status(plan, people=ROSTER, today=date(2026, 12, 1), tz=TZ).text)
    assert line + "prévue le 21/12/2026\n" in status
