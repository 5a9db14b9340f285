"""Fuzzing the grammars: commands, plan and meeting bodies with mixed-up keys and values.

Every input gives a ``Detected`` and a ``Parsed`` (value or errors), and the
error answer renders; nothing raises.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from esp_coord.handlers.common import library
from plans.commands import detect_command
from plans.grammar import parse_new_plan, parse_update
from plans.meeting_grammar import parse_new_meeting
from plans.render import render_errors
from tests.fuzz.strategies import COMMAND_WORDS, header_value, plan_body, seeded
from tests.support.plans_examples import DURAND, MARIE, ROSTER

LIBRARY = library()
TODAY = date(2026, 11, 23)
PARIS = ZoneInfo("Europe/Paris")


def _lines(body: str) -> list[tuple[int, str]]:
    return list(enumerate(body.split("\n"), start=1))


@given(st.one_of(st.sampled_from(COMMAND_WORDS), seeded(header_value)), seeded(plan_body))
def test_detect_command_then_parse(subject: str, body: str) -> None:
    detected = detect_command(subject, body)
    lines = detected.lines if detected.name else _lines(body)
    for command, parsed in (
        ("NOUVEAU_PPS", parse_new_plan(lines, today=TODAY, sender=DURAND, roster=ROSTER,
                                       library=LIBRARY)),
        ("MAJ", parse_update(lines, today=TODAY, sender=MARIE, team=[DURAND, MARIE],
                             roster=ROSTER, library=LIBRARY)),
        ("RCP_NOUVELLE", parse_new_meeting(lines, today=TODAY, tz=PARIS, sender=DURAND,
                                           roster=ROSTER,
                                           now=datetime(2026, 11, 23, 9, tzinfo=PARIS))),
    ):
        assert parsed.ok == (parsed.value is not None)
        assert parsed.ok or parsed.errors
        if not parsed.ok:
            rendered = render_errors(parsed.errors, parsed.warnings, command=command)
            assert rendered.text and "\x00" not in rendered.subject


@given(st.lists(st.tuples(st.integers(-5, 10**6), st.text(max_size=120)), max_size=20))
def test_arbitrary_numbered_lines(lines: list[tuple[int, str]]) -> None:
    for parsed in (parse_new_plan(lines, today=TODAY, sender=DURAND, roster=ROSTER,
                                  library=LIBRARY),
                   parse_update(lines, today=TODAY, sender=DURAND, team=[DURAND],
                                roster=ROSTER, library=LIBRARY)):
        assert parsed.ok or parsed.errors
