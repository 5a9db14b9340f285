"""The demo shows a meeting invitation, meeting reminders and follow-up
reminders, on its driven clock (issue 5: done when the demo shows them), in
the daily digests (issue 17)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from esp_coord.entrypoints.demo import run_demo


@pytest.mark.slow
async def test_demo_shows_invitation_and_reminders() -> None:
    out = io.StringIO()
    console = Console(file=out, width=240, highlight=False, soft_wrap=True, color_system=None)
    # What `make demo` replays: the shared examples and the demo's own scenes.
    assert await run_demo(console=console) == 0
    text = out.getvalue()
    # Example 04: the invitation, read back from the mail as iCalendar.
    assert "[RCP-2026-001] Invitation : concertation le 03/12/2026" in text
    assert ("📎 invitation.ics : METHOD:REQUEST  UID:RCP-2026-001@esp-valdelorge.mssante.test"
            in text)
    assert "DTSTART;TZID=Europe/Paris:20261203T123000" in text
    # The clock runs: J-7 and J-1 of the first two meetings, each on its day at
    # 08:00, in each participant's daily digest, follow-ups in between.
    mornings = [line for line in text.splitlines() if line.startswith("⏰ ")
                and "réunion RCP-2026-001 " in line]
    said = [(line.split("⏰ ")[1][:16],
             line.split("réunion RCP-2026-001 ")[1].split(" ")[0].rstrip(")"))
            for line in mornings]
    assert sorted(set(said)) == [
        ("02/12/2026 08:00", "demain"), ("06/01/2027 08:00", "demain"),
        ("26/11/2026 08:00", "dans"), ("31/12/2026 08:00", "dans")]
    # In full: the first digest with a meeting (and the first with actions,
    # if that is the same one).
    assert 1 <= text.count("Dans 7 jours, le jeudi 3 décembre 2026 à 12h30") <= 2
    assert "Dans 7 jours, le jeudi 7 janvier 2027" not in text
    # The patient's name goes to the plan's team only, and the demo says so:
    # one text per variant, with who received it.
    first = text.split("Objet : Rappels du 26/11/2026 : réunion RCP-2026-001 dans 7 jours\n")[1]
    first = first.split("📎 invitation.ics")[0]
    variants = {}
    for part in first.split("Texte reçu par ")[1:]:
        names, _, body = part.partition(":")
        # French typography: no-break spaces before the colons.
        variants[frozenset(n.strip() for n in names.split(","))] = body.replace(
            "\xa0", " ").replace("\u202f", " ")
    assert frozenset({"Lea FONTAINE", "Paul GIRARD"}) <= set().union(*variants)
    for names, body in variants.items():
        if "Lea FONTAINE" in names or "Paul GIRARD" in names:
            assert "MARTIN" not in body
            assert "PPS-2026-0001 : détails réservés à l'équipe de soins" in body
        elif body.startswith(" le même, sauf"):
            assert "détails réservés" not in body
        else:
            assert "PPS-2026-0001 MARTIN Jeanne :" in body
    # A person's digest with actions, and the team follow-up, in full once
    # each; so are the first digest covering for someone absent (18/12) and
    # the first moved before a holiday (24/12, for Christmas).
    assert text.count("Quand c'est fait, répondez à ce message en recopiant la ligne FAIT") == 3
    assert text.count("Ce suivi ne part que les jours où une action passe en retard") == 1
    assert "(rappels : " in text and "(suivi : " in text
    # The stranger of example 08 (27/11 at 12:00): the coordinator is told the
    # next morning, without the mail's subject.
    notice = text.split("⏰ 28/11/2026 08:00 service → Ana COSTA   Objet : Messages en quarantaine")
    assert len(notice) == 2, "the quarantine notice is not shown in full"
    shown = notice[1].split("⏰")[0]
    assert "marc.petit" in shown.lower() and "STATUT PPS-2026-0001" not in shown
    assert "Le temps passe : horloge avancée jusqu'au 11/01/2027" in text
    # Issue 17: absences (read from example 09's out-of-office reply, declared
    # in the demo's scene 11) and a holiday shift (scene 12's action, due on
    # Fridays). Answers carry French typography: no-break spaces.
    text = text.replace("\xa0", " ").replace("\u202f", " ")
    assert ("(absence enregistrée : Sophie LEROY, du 15/12/2026 au 04/01/2027, lue dans la "
            "réponse automatique") in text
    assert "Absence enregistrée : Julien MARIE, du 21/12/2026 au 27/12/2026." in text
    covering = text.split("⏰ 18/12/2026 08:00 service → Ana COSTA, Claire DURAND   Objet : "
                          "Rappels du 18/12/2026")
    assert len(covering) == 2, "the first covering digest is not shown in full"
    assert "En remplacement de Sophie LEROY (absence jusqu'au 04/01/2027)." in covering[1]
    shifted = text.split("⏰ 24/12/2026 08:00 service → Ana COSTA, Claire DURAND   Objet : "
                         "Rappels du 24/12/2026")
    assert len(shifted) == 2, "the digest moved before Christmas is not shown in full"
    assert ("Prévue le vendredi 25 décembre 2026, jour férié (Noël) : ce rappel part le "
            "dernier jour ouvré d'avant.") in shifted[1].split("⏰")[0]
    # Nobody gets a reminder while away; and no weasyprint chatter.
    for day in ("22/12/2026", "23/12/2026", "24/12/2026"):
        for line in text.splitlines():
            if line.startswith(f"⏰ {day}"):
                assert "Julien MARIE" not in line and "Sophie LEROY" not in line
    assert "weasyprint" not in text
    # Issue 15: two calendar answers (scenes 13 and 14), never answered, and
    # the compte-rendu (scene 15) that says whom the report counts present;
    # the demo's report then has a meeting held, with its attendance.
    assert ("(aucune réponse : réponse à l'invitation RCP-2026-001 enregistrée, Karim BENALI "
            "accepte pour toute la série") in text
    assert ("RCP-2026-001 enregistrée, Sophie LEROY décline pour le 03/12/2026") in text
    assert ("Comptés présents dans le rapport d'activité : Claire DURAND, Julien MARIE, "
            "Karim BENALI, Ana COSTA.") in text
    assert "pas compté : « Dr ROUX (cardiologue du CH) »" in text
    assert "Réunions tenues : 1" in text.split("Rapport d'activité de la période")[1]
