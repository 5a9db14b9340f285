"""No mail text makes the plans grammar cost more than linear time and memory.

Every entry point that reads mail text is fed a hostile input: hypothesis
draws a small unit from the characters the patterns care about and repeats
it, after a key (« Équipe : » + unit…), as one huge line and as many lines.
``tests.cost.assert_linear`` compares the CPU time and the allocation peak of
the call on an input and on one 8 times larger: a ratio, never the clock.
Each example measures, so there are few of them. The output must not grow
faster than the input either (an answer quotes it).

The regression tests at the end pin the inputs that were quadratic or worse
(issue 11, « No mail, from anyone, can stall the service »).
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Callable, Iterator
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plans.commands import (
    action_comment,
    closest_commands,
    detect_command,
    find_ref,
    postponed_date_text,
    split_action_number,
    strip_subject,
)
from plans.dates import parse_date, parse_date_time, parse_duration, parse_new_due, parse_time
from plans.errors import FieldError
from plans.grammar import parse_new_plan, parse_update
from plans.lines import lex
from plans.meeting_grammar import parse_cancel, parse_new_meeting, parse_plan_refs, parse_report
from plans.people import MAX_LISTED_ERRORS, parse_people, resolve_person
from plans.protocols import load_library
from plans.render import render_errors
from plans.rhythm import parse_rhythm, parse_when
from plans.signature import SignOff, is_signature
from plans.typography import french
from tests.cost import Growth, assert_linear, peak_bytes
from tests.support.plans_examples import COSTA, DURAND, MARIE, ROSTER, TEAM_01

TODAY = date(2026, 11, 23)
PARIS = ZoneInfo("Europe/Paris")
LIBRARY = load_library()  # once: reading it is no cost of the mail
MINIMAL = ("Patient : MARTIN Jeanne\nNée le : 12/03/1948\nINS : 2 48 03 75 056 118 78\n"
           "Consentement : oui\n")

# The intake keeps at most 1 MiB of a body: the large input stays around 1M characters.
_MAX_N = 2**20
# assert_linear doubles it until a call costs enough to be measured.
_START = 500
_BOUND = 8 * 3.0  # assert_linear's own: factor times slack
# Under this, an allocation peak is the interpreter's, not the input's: its
# ratio says nothing (a call that allocates nothing has a peak of a few bytes).
_QUIET_PEAK = 64 * 1024
# Characters of output per character of input, at most (a warning is longer
# than the one-letter line it is about), and the fixed part of any answer.
_OUTPUT_PER_CHAR = 100
_OUTPUT_FIXED = 20_000

_MEASURES = settings(max_examples=15, deadline=None, print_blob=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_CHARS = ("abcehilmnorstuxzAEIMPSZéÉèçàœ0123456789@.-+':|/,;()<>[]#°  \t\u00a0\u202f’")
_TOKENS = ["et", "pps", "PPS-2026-0001", "rcp", "RE:", "[x]", "fait", "n°", "h", "min", "à",
           "tous les", "chaque", "fois par", "jusqu'au", "pendant", "à partir du", "dans",
           "le", "de", "lundi", "mail", "Tél", "http://", "www.", "@a.fr", "02 41", "06",
           "2026", "15/12", "J+", "demain", "midi", "Dr", "IDE", "kiné", "BENALI",
           "Cordialement", "Bonjour", "Merci", "rue", "49000", "cedex", "--", "Note", "Alerte"]
UNITS = st.lists(st.one_of(st.sampled_from(_TOKENS), st.text(alphabet=_CHARS, min_size=1,
                                                             max_size=3)),
                 min_size=1, max_size=6).map("".join)


@pytest.fixture(scope="module", autouse=True)
def _frozen_heap() -> Iterator[None]:
    """``tests.cost`` collects the garbage before each call it measures: with
    what the rest of the suite leaves on the heap, each collection took longer
    than the call (these tests ran three times slower in the suite than
    alone). What exists before them is left out of the collections."""
    gc.freeze()
    yield
    gc.unfreeze()


def grown(unit: str, n: int, sep: str = "") -> str:
    """``unit`` (each time followed by ``sep``) repeated up to ``n`` characters."""
    piece = unit + sep
    return (piece * (n // len(piece) + 1))[:n]


def numbered(body: str) -> list[tuple[int, str]]:
    return list(enumerate(body.splitlines(), start=1))


def caught(fn: Callable[[str], object]) -> Callable[[str], object]:
    """``fn``, its FieldError returned rather than raised: a refusal is an answer."""
    def call(text: str) -> object:
        try:
            return fn(text)
        except FieldError as error:
            return error
    return call


def output_size(value: object) -> int:
    """Characters of every string in ``value`` each time it occurs (as an answer
    or a stored plan would hold them), plus one per other item."""
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
            continue
        total += 1
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
    return total


def linear(fn: Callable[[str], object], make: Callable[[int], str], n: int = _START) -> Growth:
    """``assert_linear`` on CPU time, and on memory where the peak is the input's;
    then the output: no faster growth than the input, and no more than
    ``_OUTPUT_PER_CHAR`` characters per character of input."""
    found = assert_linear(fn, make, n, memory=False, max_n=_MAX_N)
    assert found.memory_ratio < _BOUND or found.large_peak_bytes < _QUIET_PEAK, \
        f"memory grows faster than linearly: {found}"
    small, large = make(_START), make(8 * _START)
    small_out, large_out = output_size(fn(small)), output_size(fn(large))
    assert large_out <= _OUTPUT_PER_CHAR * len(large) + _OUTPUT_FIXED, \
        f"output of {large_out} characters for {len(large)}"
    assert large_out < _BOUND * max(small_out, _OUTPUT_FIXED), \
        f"output grows faster than the input: {small_out} -> {large_out}"
    return found


# --- entry points ----------------------------------------------------------------


def new_plan(body: str) -> object:
    return parse_new_plan(numbered(body), today=TODAY, sender=DURAND, roster=ROSTER,
                          library=LIBRARY)


def update(body: str) -> object:
    return parse_update(numbered(body), today=TODAY, sender=MARIE, team=TEAM_01,
                        roster=ROSTER, library=LIBRARY)


def plan_answer(body: str) -> object:
    """The answer to a refused plan mail: each error quotes its line."""
    parsed = parse_new_plan(numbered(body), today=TODAY, sender=DURAND, roster=ROSTER,
                            library=LIBRARY)
    return render_errors(parsed.errors, parsed.warnings, command="NOUVEAU_PPS")


def new_meeting(body: str) -> object:
    return parse_new_meeting(numbered(body), today=TODAY, tz=PARIS, sender=COSTA,
                             roster=ROSTER)


def report(body: str) -> object:
    return parse_report("", numbered(body), today=TODAY)


def cancel(body: str) -> object:
    return parse_cancel("", numbered(body), today=TODAY)


# (name, text before the grown part, text after it, separator between units)
_PLAN_SHAPES = [
    ("team", "Équipe : ", "", ""),
    ("referent", "Référent : ", "", ""),
    ("action who", "Action : ", " | pansement | demain", ""),
    ("action what", "Action : IDE | ", " | demain", ""),
    ("action when", "Action : IDE | pansement | ", "", ""),
    ("action alone", "Action : ", "", ""),
    ("patient", "Patient : ", "", ""),
    ("birth date", "Né le : ", "", ""),
    ("ins", "INS : ", "", ""),
    ("sex", "Sexe : ", "", ""),
    ("consent", "Consentement : ", "", ""),
    ("review", "Réévaluation : ", "", ""),
    ("protocol", "Protocole : ", "", ""),
    ("note", "Note : ", "", ""),
    ("alert without colon", "Alerte ", "", ""),
    ("unknown key", "Aidant : ", "", ""),
    ("one line", "", "", ""),
    ("many lines", "", "", "\n"),
    ("continued note", "Note : suivi\n", "", "\n"),
]


@_MEASURES
@given(UNITS, st.sampled_from(_PLAN_SHAPES), st.sampled_from([new_plan, update, plan_answer]))
def test_plan_mails_cost_linear_time(unit: str, shape: tuple[str, str, str, str],
                                     parse: Callable[[str], object]) -> None:
    _, before, after, sep = shape
    linear(parse, lambda n: MINIMAL + before + grown(unit, n, sep) + after)


_MEETING_SHAPES = [
    ("date", "Date : ", "", ""),
    ("date and time", "Date : 10/12/2026 ", " à 13h", ""),
    ("duration", "Date : 10/12/2026 à 13h\nDurée : ", "", ""),
    ("location", "Date : 10/12/2026 à 13h\nLieu : ", "", ""),
    ("participants", "Date : 10/12/2026 à 13h\nParticipants : ", "", ""),
    ("recurrence", "Date : 03/12/2026 à 12h30\nRécurrence : ", "", ""),
    ("recurrence until", "Date : 03/12/2026 à 12h30\nRécurrence : chaque semaine jusqu'au ",
     "", ""),
    ("patients", "Date : 10/12/2026 à 13h\nPatients : ", "", ""),
    ("one line", "Date : 10/12/2026 à 13h\n", "", ""),
    ("many lines", "Date : 10/12/2026 à 13h\n", "", "\n"),
]


@_MEASURES
@given(UNITS, st.sampled_from(_MEETING_SHAPES))
def test_meeting_mails_cost_linear_time(unit: str, shape: tuple[str, str, str, str]) -> None:
    _, before, after, sep = shape
    linear(new_meeting, lambda n: before + grown(unit, n, sep) + after)


_REPORT_SHAPES = [
    ("decision", "PPS-2026-0001 : ", "", ""),
    ("continued decision", "PPS-2026-0001 : poursuite\n", "", "\n"),
    ("date", "Date : ", "", ""),
    ("one line", "", "", ""),
    ("many lines", "", "", "\n"),
]
_ON_ARGS = [lambda args: parse_report(args, [], today=TODAY),
            lambda args: parse_cancel(args, [], today=TODAY)]


@_MEASURES
@given(UNITS, st.sampled_from(_REPORT_SHAPES), st.sampled_from([report, cancel, *_ON_ARGS]))
def test_report_and_cancel_mails_cost_linear_time(unit: str, shape: tuple[str, str, str, str],
                                                  parse: Callable[[str], object]) -> None:
    _, before, after, sep = shape
    linear(parse, lambda n: before + grown(unit, n, sep) + after)


def _comment_on_the_command_line(text: str) -> object:
    return action_comment(detect_command("", "FAIT 3, " + text))


def _comment_below(text: str) -> object:
    return action_comment(detect_command("RE: [PPS-2026-0001] Rappel", "FAIT 3\n" + text),
                          ROSTER)


_COMMANDS: list[Callable[[str], object]] = [
    lambda text: detect_command(text, ""),
    lambda text: detect_command("", text),
    lambda text: detect_command("RE: " + text, "FAIT 3\n" + text, replying=True),
    _comment_on_the_command_line,
    _comment_below,
    split_action_number,
    postponed_date_text,
    closest_commands,
    find_ref,
    strip_subject,
    lambda text: parse_plan_refs(text),
]


@_MEASURES
@given(UNITS, st.sampled_from(_COMMANDS), st.sampled_from(["", "\n"]),
       st.sampled_from(["", "FAIT 3 ", "RE: ", "au ", "n° "]))
def test_commands_cost_linear_time(unit: str, fn: Callable[[str], object], sep: str,
                                   before: str) -> None:
    linear(fn, lambda n: before + grown(unit, n, sep))


_PEOPLE: list[Callable[[str], object]] = [
    lambda text: parse_people(text, team=TEAM_01, roster=ROSTER),
    lambda text: parse_people(text, team=[], roster=ROSTER),
    caught(lambda text: resolve_person(text, team=TEAM_01, roster=ROSTER)),
    lambda text: is_signature(text, ROSTER),
    lambda text: [SignOff(ROSTER)(line) for line in text.splitlines()],
    lambda text: lex(numbered(text)),
    french,
]


@pytest.mark.slow
@_MEASURES
@given(UNITS, st.sampled_from(_PEOPLE), st.sampled_from(["", "\n"]),
       st.sampled_from(["", "IDE ", "Dr ", "Infirmière libérale, ", "Tél : 0", "mail : a@"]))
def test_people_signatures_lines_and_typography_cost_linear_time(
        unit: str, fn: Callable[[str], object], sep: str, before: str) -> None:
    linear(fn, lambda n: before + grown(unit, n, sep))


_WHEN: list[Callable[[str], object]] = [
    caught(lambda text: parse_date(text, today=TODAY)),
    caught(lambda text: parse_date_time(text, today=TODAY)),
    caught(lambda text: parse_new_due(text, today=TODAY)),
    caught(parse_duration),
    caught(parse_time),
    caught(lambda text: parse_when(text, today=TODAY)),
    caught(parse_rhythm),
]


@_MEASURES
@given(UNITS, st.sampled_from(_WHEN),
       st.sampled_from([("", ""), ("demain ", ""), ("", " à 14h"), ("15/12/2026 ", ""),
                        ("chaque semaine ", ""), ("tous les lundis jusqu'au ", ""),
                        ("le ", " de chaque mois"), ("1h", "")]))
def test_dates_and_rhythms_cost_linear_time(unit: str, fn: Callable[[str], object],
                                            around: tuple[str, str]) -> None:
    before, after = around
    linear(fn, lambda n: before + grown(unit, n) + after)


# --- what was quadratic (issue 11) ----------------------------------------------------
# Each failed on the code before the fix; the times are those of 100,000 characters.
# (Where the quadratic part was only a copy, fast per byte: « RE: RE: … », a
# long wrapped decision, pop(0) per greeting, it shows on megabytes only, too
# slow for here: the shapes above keep them linear.)


def test_a_team_of_one_long_word() -> None:  # 48 s: people._EMAIL searched
    linear(new_plan, lambda n: "Équipe : " + "a" * n)


def test_participants_of_one_long_word() -> None:  # 48 s
    linear(new_meeting, lambda n: "Date : 10/12/2026 à 13h\nParticipants : " + "a" * n)


def test_an_action_given_to_one_long_word() -> None:  # 16 s
    linear(new_plan, lambda n: "Action : " + "a" * n + " | x | demain")


def test_a_fait_comment_of_at_signs() -> None:  # 5 s for 50,000 « a@ »: signature._LINK
    linear(_comment_below, lambda n: "a@" * (n // 2))


def test_a_link_or_a_name_of_at_signs_or_letters_alone() -> None:
    linear(lambda text: is_signature(text), lambda n: "a@" * (n // 2))
    linear(caught(lambda text: resolve_person(text, team=[], roster=ROSTER)),
           lambda n: "a" * n)


def test_a_team_with_a_long_run_of_spaces() -> None:  # 278 s: people._SEPARATORS
    linear(new_plan, lambda n: "Équipe : IDE" + " " * n + "kiné")


def test_a_team_of_many_addresses() -> None:  # a replace and a pop(0) per address
    linear(new_plan, lambda n: "Équipe : " + "a@b.fr " * (n // 7))


def test_an_action_number_after_a_long_run_of_spaces() -> None:  # 128 s: commands._NUMBER
    linear(split_action_number, lambda n: " " * n + "x")


def test_a_new_due_date_with_a_long_run_of_spaces() -> None:  # cubic: dates._TIME_AT_END
    linear(caught(lambda text: parse_new_due(text, today=TODAY)),
           lambda n: "demain" + " " * n + "x")
    linear(caught(lambda text: parse_new_due(text, today=TODAY)),
           lambda n: "demain à 14h" + " " * n + "x")


def test_an_answer_quoting_a_long_run_of_spaces() -> None:  # 5 s for 20,000: typography
    linear(french, lambda n: "Note : a" + " " * n + "b »")
    linear(plan_answer, lambda n: "Né le : 12" + " " * n + "x")


def test_a_long_wrapped_note_and_many_wrapped_notes() -> None:  # 7.8 s: bucket.index
    linear(new_plan, lambda n: MINIMAL + "Note : a\n" + "b\n" * (n // 2))
    linear(new_plan, lambda n: MINIMAL + "Note : a\nb\n" * (n // 11))


def test_a_team_of_many_unknown_names_lists_ten_errors() -> None:
    parsed = new_plan(MINIMAL + "Équipe : " + "zz, " * 10_000)
    assert [e.field for e in parsed.errors] == ["team"] * (MAX_LISTED_ERRORS + 1)
    assert "et 9990 autres noms" in parsed.errors[-1].problem


def test_a_one_megabyte_line_is_not_traced_character_by_character() -> None:
    # Tracing each character back to the text as written cost a list item and
    # a fold call per character: 55 bytes and 1.3 s for each of a million.
    line = "a" * 1_000_000
    assert peak_bytes(new_plan, line) < 16 * len(line)
    assert peak_bytes(lambda body: detect_command("", body), "MAJ " + line) < 16 * len(line)
