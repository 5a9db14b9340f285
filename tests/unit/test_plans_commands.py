"""Command detection: subject first, then the first body line."""

from __future__ import annotations

import pytest

from plans.commands import (
    COMMANDS,
    action_comment,
    closest_commands,
    detect_command,
    split_action_number,
    strip_subject,
)
from plans.people import Person


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


# --- replies: what the person wrote in the body wins over the answered subject ---


@pytest.mark.parametrize(
    ("subject", "body", "name", "args"),
    [("RE: [PPS-2026-0001] Statut", "FAIT 1\nvu ce matin", "FAIT", "1"),
     ("RE: [PPS-2026-0001] Statut", "MAJ\nNote : x", "MAJ", ""),
     ("RE: [PPS-2026-0001] Statut", "REPORTER 2 au 15/12/2026", "REPORTER", "2 au 15/12/2026"),
     ("RE: LISTE", "STATUT PPS-2026-0001", "STATUT", ""),
     ("Re: Aide - commandes du service de coordination", "LISTE", "LISTE", ""),
     ("TR: RE: [PPS-2026-0001] Action 3 faite", "REPORTER 3 au 15/12/2026", "REPORTER",
      "3 au 15/12/2026")],
)
def test_a_command_in_the_body_of_a_reply_wins(subject: str, body: str, name: str,
                                                args: str) -> None:
    found = detect_command(subject, body)
    assert (found.name, found.args, found.source) == (name, args, "body")


def test_a_reply_without_prefix_is_told_by_the_caller() -> None:
    """A client that keeps the subject as is: In-Reply-To says it is a reply."""
    assert detect_command("[PPS-2026-0001] Statut", "FAIT 1").name == "STATUT"
    found = detect_command("[PPS-2026-0001] Statut", "FAIT 1", replying=True)
    assert (found.name, found.args, found.subject_tag_ref) == ("FAIT", "1", "PPS-2026-0001")


def test_a_reply_without_a_command_in_the_body_keeps_the_subject_command() -> None:
    found = detect_command("RE: STATUT PPS-2026-0001", "Bonjour, où en est-on ?\n")
    assert (found.name, found.ref, found.source) == ("STATUT", "PPS-2026-0001", "subject")


def test_quoted_text_never_counts_even_in_a_reply() -> None:
    found = detect_command("RE: [PPS-2026-0001] Statut", "> FAIT 2\n")
    assert found.name == "STATUT"
    assert detect_command("RE: [PPS-2026-0001] Plan créé", "> FAIT 2\n").name is None


def test_not_understood_quotes_what_the_person_wrote() -> None:
    reply = detect_command("Re: [PPS-2026-0001] Plan créé - MARTIN Jeanne",
                           "\nMerci, c'est noté.\n")
    assert (reply.name, reply.text) == (None, "Merci, c'est noté.")
    fresh = detect_command("Où en est Mme MARTIN ?", "Bonjour")
    assert fresh.text == "Où en est Mme MARTIN ?"
    assert detect_command("RE: [PPS-2026-0001] Rappel - bilan partagé", "").text == \
        "Rappel - bilan partagé"


# --- arguments: references anywhere, as written, action numbers -------------------


@pytest.mark.parametrize(
    "subject",
    ["REPORTER 2 au 15/12/2026 [PPS-2026-0001]", "REPORTER 2 [PPS-2026-0001] au 15/12/2026",
     "REPORTER 2 PPS-2026-0001 au 15/12/2026", "reporter 2 au 15/12/2026 [ pps-2026-0001 ]"],
)
def test_a_reference_anywhere_on_the_command_line(subject: str) -> None:
    found = detect_command(subject, "")
    assert (found.name, found.ref, found.args) == ("REPORTER", "PPS-2026-0001", "2 au 15/12/2026")
    assert found.raw_args.lower() == "2 au 15/12/2026"


def test_raw_arguments_keep_accents_and_case() -> None:
    found = detect_command("RE: [PPS-2026-0001] Rappel", "REPORTER 2 au 15 Décembre à 14h")
    assert found.args == "2 au 15 decembre a 14h"
    assert found.raw_args == "2 au 15 Décembre à 14h"
    assert (found.line, found.text) == (1, "REPORTER 2 au 15 Décembre à 14h")
    assert detect_command("FAIT 3 PPS-2026-0001", "").line is None


@pytest.mark.parametrize("line", ["FAIT n°3", "Fait n° 3", "FAIT N°3.", "fait no 3", "FAIT #3"])
def test_numbered_action_in_the_body(line: str) -> None:
    found = detect_command("RE: [PPS-2026-0001] Rappel", line)
    assert found.name == "FAIT"
    assert split_action_number(found.raw_args)[0] == 3


def test_a_number_is_still_needed_in_the_body() -> None:
    assert detect_command("Question", "Fait non").name is None


# --- FAIT comments -----------------------------------------------------------------

JULIEN = Person(name="Julien MARIE", email="julien.marie@infirmier.mssante.test",
                profession="infirmier")


@pytest.mark.parametrize(
    ("body", "comment"),
    [("fait 3, RAS", "RAS"),
     ("FAIT 3 : RAS", "RAS"),
     ("FAIT 3 - pansement refait\nPlaie propre.", "pansement refait\nPlaie propre."),
     ("Fait 3.", ""),
     ("FAIT 3\nFait ce matin\n\nJulien MARIE\nInfirmier libéral\n06 12 34 56 78",
      "Fait ce matin"),
     ("FAIT 3\nBonjour,\nPatiente vue, glycémie 1,20 g/l.\nCordialement\nJulien",
      "Patiente vue, glycémie 1,20 g/l."),
     ("FAIT 3\nRAS\nTension 13/8", "RAS\nTension 13/8")],
)
def test_fait_comment(body: str, comment: str) -> None:
    found = detect_command("RE: [PPS-2026-0001] Rappel", body)
    assert found.name == "FAIT"
    assert action_comment(found, [JULIEN]) == comment


def test_fait_comment_on_the_subject_line() -> None:
    found = detect_command("FAIT 3 PPS-2026-0001 : séance faite", "Marche avec déambulateur.")
    assert action_comment(found) == "séance faite\nMarche avec déambulateur."


@pytest.mark.parametrize(
    ("body", "comment"),
    [("FAIT 3\nPlaie propre.\nCordialement,\nJulien MARIE\nInfirmier libéral - 06 12 34 56 78",
      "Plaie propre."),
     ("FAIT 3\nPlaie propre.\nInfirmier libéral, 06 12 34 56 78", "Plaie propre."),
     ("FAIT 3\nRAS\nGlycémie à jeun 1,32 g/l", "RAS\nGlycémie à jeun 1,32 g/l")],
)
def test_fait_comment_leaves_out_a_composite_sign_off_line(body: str, comment: str) -> None:
    found = detect_command("RE: [PPS-2026-0001] Rappel", body)
    assert action_comment(found, [JULIEN]) == comment


@pytest.mark.parametrize(("line", "first"), [
    ("MAJ Protocole : sortie-hospitalisation", "Protocole : sortie-hospitalisation"),
    ("maj : Note : patiente plus fatiguée", "Note : patiente plus fatiguée"),
    ("MAJ PPS-2026-0001 Action : IDE | pansement | demain", "Action : IDE | pansement | demain"),
])
def test_maj_with_one_line_is_a_one_line_reply(line: str, first: str) -> None:
    found = detect_command("RE: [PPS-2026-0001] Document reçu", f"{line}\nNote : suite")
    assert found.name == "MAJ" and found.source == "body"
    assert found.lines[0] == (1, first) and found.lines[1] == (2, "Note : suite")


@pytest.mark.parametrize("line", ["MAJ patiente plus fatiguée", "Mise à jour : patiente vue"])
def test_maj_followed_by_a_sentence_is_still_not_a_command(line: str) -> None:
    assert detect_command("RE: [PPS-2026-0001] Statut", line).name != "MAJ"
