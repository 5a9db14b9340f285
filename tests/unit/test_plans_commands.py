"""Command detection: subject first, then the first body line."""

from __future__ import annotations

import pytest

from plans.commands import COMMANDS, closest_commands, detect_command, strip_subject


@pytest.mark.parametrize(
    ("subject", "name", "ref", "args"),
    [
        ("NOUVEAU PPS", "NOUVEAU_PPS", None, ""),
        ("nouveau pps", "NOUVEAU_PPS", None, ""),
        ("Nouveau  plan", "NOUVEAU_PPS", None, ""),
        ("PPS", "NOUVEAU_PPS", None, ""),
        ("MAJ PPS-2026-0001", "MAJ", "PPS-2026-0001", ""),
        ("Mise à jour pps-2026-0001", "MAJ", "PPS-2026-0001", ""),
        ("MISE A JOUR", "MAJ", None, ""),
        ("Clôturer PPS-2026-0002", "CLORE", "PPS-2026-0002", ""),
        ("CLORE PPS-2026-0002", "CLORE", "PPS-2026-0002", ""),
        ("État", "STATUT", None, ""),
        ("status PPS-2026-0001", "STATUT", "PPS-2026-0001", ""),
        ("LISTE", "LISTE", None, ""),
        ("FAIT 3 PPS-2026-0001", "FAIT", "PPS-2026-0001", "3"),
        ("Faite 2", "FAIT", None, "2"),
        ("REPORTER 2 au 15/12/2026 PPS-2026-0001", "REPORTER", "PPS-2026-0001",
         "2 au 15/12/2026"),
        ("Aide", "AIDE", None, ""),
        ("help", "AIDE", None, ""),
        ("?", "AIDE", None, ""),
        ("RCP nouvelle", "RCP_NOUVELLE", None, ""),
        ("Nouvelle RCP", "RCP_NOUVELLE", None, ""),
        ("RCP planifier", "RCP_NOUVELLE", None, ""),
        ("RCP", "RCP", None, ""),
        ("ANNULER RCP-2026-001", "ANNULER_RCP", "RCP-2026-001", ""),
        ("Compte-rendu RCP-2026-001", "COMPTE_RENDU", "RCP-2026-001", ""),
        ("compte rendu RCP-2026-001", "COMPTE_RENDU", "RCP-2026-001", ""),
        ("CR RCP-2026-001", "COMPTE_RENDU", "RCP-2026-001", ""),
        ("RE: TR : Fwd: [ext] FAIT 1", "FAIT", None, "1"),
        ("AW: Re : statut", "STATUT", None, ""),
    ],
)
def test_subject_commands(subject: str, name: str, ref: str | None, args: str) -> None:
    found = detect_command(subject, "Un commentaire.\n")
    assert (found.name, found.ref, found.args, found.source) == (name, ref, args, "subject")
    assert found.lines == [(1, "Un commentaire.")]


def test_reply_to_acknowledgement_reads_the_body() -> None:
    found = detect_command("RE: [PPS-2026-0001] Plan créé - MARTIN Jeanne",
                           "MAJ\nAction : IDE | x | demain\nNote : y\n")
    assert found.name == "MAJ" and found.source == "body"
    assert found.ref is None and found.subject_tag_ref == "PPS-2026-0001"
    assert found.lines == [(2, "Action : IDE | x | demain"), (3, "Note : y")]


def test_one_word_reply_after_blank_lines() -> None:
    found = detect_command("Re: [PPS-2026-0001] Plan créé - MARTIN Jeanne", "\n  statut \n\nAna\n")
    assert (found.name, found.source, found.subject_tag_ref) == ("STATUT", "body", "PPS-2026-0001")
    assert (2, "  statut ") not in found.lines and (4, "Ana") in found.lines


def test_latin1_subject_as_decoded() -> None:
    assert detect_command("MAJ PPS-2026-0001", "PROBLEME : x").ref == "PPS-2026-0001"


@pytest.mark.parametrize(
    "body",
    ["Patient : MARTIN Jeanne", "Fait le nécessaire hier.", "Liste des courses à prévoir",
     "Statut : actif", "Bonjour, pouvez-vous m'envoyer le plan ?", "CR de la réunion"],
)
def test_body_sentences_are_not_commands(body: str) -> None:
    assert detect_command("Question", body).name is None


def test_no_command_keeps_every_line() -> None:
    found = detect_command("Réponse automatique : [PPS-2026-0001] Rappel", "Je suis absente.\n")
    assert found.name is None and found.source is None
    assert found.lines == [(1, "Je suis absente.")]
    assert found.subject_tag_ref == "PPS-2026-0001"


def test_reference_is_not_the_pps_command() -> None:
    assert detect_command("PPS-2026-0001", "").name is None


def test_strip_subject() -> None:
    assert strip_subject("RE: RE:[PPS-2026-0001] Re : TR: Statut") == "statut"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("stauts", "STATUT"), ("fiat 3", "FAIT"), ("nouvo pps", "NOUVEAU_PPS"),
     ("rapporter", "REPORTER"),
     ("listes", "LISTE")],
)
def test_closest_commands(typed: str, expected: str) -> None:
    assert closest_commands(typed)[0] == expected


def test_closest_commands_for_nonsense() -> None:
    assert closest_commands("xyzzy") == [] and closest_commands("") == []
    assert set(COMMANDS) >= set(closest_commands("rcp nouvele"))
