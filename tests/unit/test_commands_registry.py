"""The service's registry of commands: one entry per syntax, read by the
dispatcher, AIDE and ``esp-coord parse``."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from esp_coord.handlers import REGISTRY
from esp_coord.handlers.registry import UNKNOWN, Command, build
from esp_coord.interpret import COMMAND_NAMES
from plans.commands import SYNTAX, SYNTAXES, Syntax
from plans.render import render_help
from plans.typography import french


def test_every_syntax_has_exactly_one_entry_in_its_order() -> None:
    assert list(REGISTRY) == [s.name for s in SYNTAXES]
    assert all(REGISTRY[s.name].syntax is s for s in SYNTAXES)


def test_report_names_are_unique_and_parse_uses_them() -> None:
    reports = [c.report for c in REGISTRY.values()]
    assert len(set(reports)) == len(reports) and UNKNOWN not in reports
    assert COMMAND_NAMES == {**{n: c.report for n, c in REGISTRY.items()}, None: UNKNOWN}
    assert REGISTRY["ANNULER_FAIT"].report == "undo_done"


def test_handlers_keep_their_signature() -> None:
    for command in REGISTRY.values():
        # Synchronous: a handler runs inside the mail's trip to the database thread.
        assert not inspect.iscoroutinefunction(command.handler), command.name
        assert list(inspect.signature(command.handler).parameters) == ["request", "detected"]
        assert callable(command.parse_step)


def _entries() -> list[Command]:
    return list(REGISTRY.values())


def test_build_refuses_a_missing_entry() -> None:
    with pytest.raises(ValueError, match="without a registry entry: ANNULER_FAIT"):
        build([c for c in _entries() if c.name != "ANNULER_FAIT"])


def test_build_refuses_an_entry_twice() -> None:
    with pytest.raises(ValueError, match="FAIT registered twice"):
        build([*_entries(), dataclasses.replace(REGISTRY["FAIT"], report="done_again")])


def test_build_refuses_a_shared_report_name() -> None:
    entries = [dataclasses.replace(c, report="done") if c.name == "REPORTER" else c
               for c in _entries()]
    with pytest.raises(ValueError, match="report name 'done'"):
        build(entries)


def test_build_refuses_a_syntax_outside_the_table() -> None:
    stray = Syntax("ENVOYER", "ENVOYER", ("envoyer",), "envoyer", "ENVOYER")
    with pytest.raises(ValueError, match="ENVOYER: its syntax is not in SYNTAXES"):
        build([*_entries(), Command(stray, REGISTRY["AIDE"].handler, "send",
                                    REGISTRY["AIDE"].parse_step)])


def test_a_new_syntax_with_its_entry_is_accepted() -> None:
    """Adding a command: its syntax and its entry, nothing else here."""
    extra = Syntax("ENVOYER", "ENVOYER", ("envoyer",), "envoyer", "ENVOYER")
    built = build([*_entries(), Command(extra, REGISTRY["AIDE"].handler, "send",
                                        REGISTRY["AIDE"].parse_step)],
                  syntaxes=(*SYNTAXES, extra))
    assert list(built)[-1] == "ENVOYER"


def test_help_shows_every_registered_command_in_order() -> None:
    text = render_help("Ana COSTA", [c.syntax for c in REGISTRY.values()]).text
    positions = [text.index(french(f"{c.syntax.display} : {c.syntax.purpose}"))
                 for c in REGISTRY.values()]
    assert positions == sorted(positions)
    assert french("ANNULER FAIT : remettre à faire une action notée faite par erreur") in text
    assert "ANNULER FAIT 3 PPS-2026-0001" in text
    assert SYNTAX["ANNULER_FAIT"].display == "ANNULER FAIT"
