"""``ANNULER FAIT``: detected as itself, never as ``ANNULER`` (a meeting), and
the table of commands (``SYNTAXES``) that drives detection."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plans.commands import (
    COMMANDS,
    DISPLAY,
    SYNTAXES,
    After,
    Syntax,
    closest_commands,
    detect_command,
)
from plans.normalize import fold


@pytest.mark.parametrize(
    ("subject", "body", "name", "ref", "args", "source"),
    [
        ("ANNULER FAIT 3 PPS-2026-0001", "", "ANNULER_FAIT", "PPS-2026-0001", "3", "subject"),
        ("Annuler fait n°3 [PPS-2026-0001]", "", "ANNULER_FAIT", "PPS-2026-0001", "n°3",
         "subject"),
        ("annuler faite 2", "", "ANNULER_FAIT", None, "2", "subject"),
        ("Défaire 2 PPS-2026-0001", "", "ANNULER_FAIT", "PPS-2026-0001", "2", "subject"),
        ("", "ANNULER FAIT 3 PPS-2026-0001", "ANNULER_FAIT", "PPS-2026-0001", "3", "body"),
        ("", "annuler fait 3 : erreur de patient", "ANNULER_FAIT", None, "3 : erreur de patient",
         "body"),
        ("RE: [PPS-2026-0001] Action 3 faite", "Annuler fait 3\nerreur, pas encore passé",
         "ANNULER_FAIT", None, "3", "body"),
        # A meeting is still a meeting.
        ("ANNULER RCP-2026-001", "", "ANNULER_RCP", "RCP-2026-001", "", "subject"),
        ("Annuler rcp RCP-2026-001", "", "ANNULER_RCP", "RCP-2026-001", "", "subject"),
        ("", "ANNULER RCP-2026-001", "ANNULER_RCP", "RCP-2026-001", "", "body"),
        # FAIT is still FAIT.
        ("FAIT 3 PPS-2026-0001", "", "FAIT", "PPS-2026-0001", "3", "subject"),
    ],
)
def test_undo_and_cancel_are_told_apart(subject: str, body: str, name: str, ref: str | None,
                                        args: str, source: str) -> None:
    found = detect_command(subject, body)
    assert (found.name, found.ref, found.args, found.source) == (name, ref, args, source)


def test_the_reply_finds_the_plan_from_the_subject_tag() -> None:
    found = detect_command("RE: [PPS-2026-0001] Action 3 faite", "ANNULER FAIT 3\n")
    assert (found.name, found.ref, found.subject_tag_ref) == ("ANNULER_FAIT", None,
                                                             "PPS-2026-0001")
    # Without a reply prefix, only In-Reply-To says it is a reply (the caller).
    kept = detect_command("[PPS-2026-0001] Action 3 faite", "ANNULER FAIT 3", replying=True)
    assert (kept.name, kept.args) == ("ANNULER_FAIT", "3")


@pytest.mark.parametrize(
    ("subject", "body"),
    [("ANNULER", ""),                              # a meeting needs its reference
     ("", "ANNULER FAIT"),                         # a body line needs the action number
     ("", "ANNULER FAIT PPS-2026-0001"),           # ... never a meeting without it
     ("", "Annuler fait hier, patiente absente"),  # a sentence
     ("", "Défaire le pansement demain")],
)
def test_no_command(subject: str, body: str) -> None:
    assert detect_command(subject, body).name is None


def test_undo_without_a_number_in_the_subject_is_still_undo() -> None:
    """The handler then asks for the number: never a meeting cancelled."""
    found = detect_command("ANNULER FAIT PPS-2026-0001", "")
    assert (found.name, found.args) == ("ANNULER_FAIT", "")


@settings(max_examples=300, deadline=None)
@given(number=st.integers(min_value=0, max_value=999),
       year=st.integers(min_value=2000, max_value=2099),
       serial=st.integers(min_value=1, max_value=9999),
       word=st.sampled_from(["ANNULER FAIT", "annuler fait", "Annuler  Fait", "ANNULER FAITE",
                             "annuler fait n°", "Annuler fait #"]),
       where=st.sampled_from(["subject", "body", "reply"]),
       tail=st.sampled_from(["", " merci", "\nerreur", " : erreur"]))
def test_annuler_fait_is_never_a_meeting(number: int, year: int, serial: int, word: str,
                                         where: str, tail: str) -> None:
    sep = "" if word.endswith(("°", "#")) else " "
    line = f"{word}{sep}{number} PPS-{year}-{serial:04d}{tail}"
    if where == "subject":
        found = detect_command(line.split("\n")[0], "")
    elif where == "body":
        found = detect_command("", line)
    else:
        found = detect_command("RE: [PPS-2026-0001] Statut", line)
    assert found.name == "ANNULER_FAIT", line
    assert found.ref == f"PPS-{year}-{serial:04d}"


def test_closest_commands_suggest_undo() -> None:
    assert closest_commands("anuler fait 3")[0] == "ANNULER_FAIT"


# --- the table -----------------------------------------------------------------


def test_one_declaration_per_command() -> None:
    names = [s.name for s in SYNTAXES]
    assert len(set(names)) == len(names) and tuple(names) == COMMANDS
    assert DISPLAY == {s.name: s.display for s in SYNTAXES}
    synonyms = [syn for s in SYNTAXES for syn in s.synonyms]
    assert len(set(synonyms)) == len(synonyms)
    assert all(syn == fold(syn) for syn in synonyms)


@pytest.mark.parametrize("syntax", SYNTAXES, ids=lambda s: s.name)
def test_each_example_is_its_own_command(syntax: Syntax) -> None:
    """The help example, as a subject and (but for free-form ones) as a body's
    first line, is detected as the command it illustrates."""
    first = syntax.example.split("\n")[0]
    if syntax.after is not After.FREE and syntax.name != "NOUVEAU_PPS":
        assert detect_command(first, "").name == syntax.name
        assert detect_command("", syntax.example).name == syntax.name
    # The display word alone, in a subject, is the command (with a reference
    # when its synonym only counts with one).
    word = syntax.display
    needs_ref = fold(word) in syntax.only_with_ref
    assert detect_command(word + (" RCP-2026-001" if needs_ref else ""), "").name == syntax.name


def test_a_synonym_is_refused_when_folded_wrong() -> None:
    with pytest.raises(ValueError, match="not folded"):
        Syntax("X", "X", ("Annuler",), "", "X")
    with pytest.raises(ValueError, match="only_with_ref"):
        Syntax("X", "X", ("x",), "", "X", only_with_ref=frozenset({"y"}))
