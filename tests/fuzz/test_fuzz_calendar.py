"""A calendar answer costs time and memory linear in its size, whatever it holds.

Hypothesis picks a construct that grows a REPLY (more VEVENTs, ATTENDEEs,
parameters, folded continuation lines, VALARMs, nesting, a long UID or
TZID) and a small hostile fragment; ``tests.cost.assert_linear`` grows it
eightfold. Two measures:

- ``read_reply`` with its bounds lifted (``MAX_CALENDAR_BYTES``, the kept
  lines, the VEVENTs, the line length, the nesting): the scan and the
  icalendar library are linear on their own, the bounds are a second
  defence, not the only one;
- ``esp-coord parse`` (``interpret``) of a member's mail carrying it, bounds
  in place: the service's own path, as in ``test_fuzz_resources``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esp_coord import itip_reply
from esp_coord.interpret import interpret
from tests.cost import assert_linear
from tests.support.config import offline_config

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
EXAMPLES = 200 if LONG else 12
CONFIG = offline_config()
PARIS = ZoneInfo("Europe/Paris")
CLAIRE = "claire.durand@medecin.mssante.test"
_HEAD = "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\n"
_EVENT = ("BEGIN:VEVENT\r\nUID:RCP-2026-001@esp-valdelorge.mssante.test\r\n"
          f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{CLAIRE}\r\n")
_TAIL = "END:VEVENT\r\nEND:VCALENDAR\r\n"

# Each construct: (fragment, n) -> a calendar that grows with n.
CONSTRUCTS: dict[str, Callable[[str, int], str]] = {
    "events": lambda f, n: _HEAD + (_EVENT + f"X-A:{f}\r\nEND:VEVENT\r\n") * n
    + "END:VCALENDAR\r\n",
    "attendees": lambda f, n: _HEAD + _EVENT + f"ATTENDEE;CN={f}:mailto:{f}\r\n" * n + _TAIL,
    "parameters": lambda f, n: _HEAD + "BEGIN:VEVENT\r\nUID:u\r\nATTENDEE" + f";X-P={f}" * n
    + f";PARTSTAT=ACCEPTED:mailto:{CLAIRE}\r\n" + _TAIL,
    "folded": lambda f, n: _HEAD + "BEGIN:VEVENT\r\nUID:u\r\nATTENDEE;CN=" + f"{f}\r\n " * n
    + f";PARTSTAT=ACCEPTED:mailto:{CLAIRE}\r\n" + _TAIL,
    "alarms": lambda f, n: _HEAD + _EVENT + f"BEGIN:VALARM\r\nATTENDEE:{f}\r\nEND:VALARM\r\n" * n
    + _TAIL,
    "nesting": lambda f, n: _HEAD + _EVENT + f"BEGIN:X{f}\r\n" * n + f"END:X{f}\r\n" * n + _TAIL,
    "recurrence-id": lambda f, n: _HEAD + _EVENT + "RECURRENCE-ID;TZID=" + f * n
    + ":20261203T123000\r\n" + _TAIL,
    "uid": lambda f, n: _HEAD + "BEGIN:VEVENT\r\nUID:" + f * n
    + f"\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:{CLAIRE}\r\n" + _TAIL,
    "noise": lambda f, n: _HEAD + _EVENT + f"DESCRIPTION:{f}\r\n" * n + _TAIL,
}
FRAGMENTS = st.lists(st.sampled_from(list("a\";:,\\=^' \t\u00e9@<>") + ["\r\n", "\r\n "]),
                     min_size=1, max_size=5).map("".join)
_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG,
                     suppress_health_check=[HealthCheck.too_slow,
                                            HealthCheck.function_scoped_fixture])


def _mail(calendar: str) -> bytes:
    return ("From: Claire DURAND <claire.durand@medecin.mssante.test>\r\n"
            f"To: {CONFIG.bot_address}\r\nSubject: Accepté : RCP\r\n"
            "Date: Wed, 25 Nov 2026 10:00:00 +0100\r\nMessage-ID: <r.1@medecin.mssante.test>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
            "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nJ'accepte.\r\n--b\r\n"
            "Content-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n" + calendar
            + "\r\n--b--\r\n").encode("utf-8", "surrogateescape")


def _check(fn: Callable[[object], object], build: Callable[[int], str | bytes],
           largest: int) -> None:
    """From about a kilobyte, grown until measurable, up to ``largest`` bytes."""
    unit = max(1, len(build(2)) - len(build(1)))
    start = max(1, 2**10 // unit)
    assert_linear(fn, build, start, max_n=max(start * 16, largest // unit))


@pytest.fixture
def unbounded(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MAX_CALENDAR_BYTES", "_MAX_KEPT", "_MAX_EVENTS", "_MAX_LINE", "_MAX_DEPTH"):
        monkeypatch.setattr(itip_reply, name, 10**12)


def _read(text: object) -> object:
    assert isinstance(text, str)
    return itip_reply.read_reply("REPLY", text, sender=CLAIRE, tz=PARIS)


@pytest.mark.slow
@_SETTINGS
@given(construct=st.sampled_from(sorted(CONSTRUCTS)), fragment=FRAGMENTS)
def test_reading_an_answer_is_linear_without_its_bounds(unbounded: None, construct: str,
                                                        fragment: str) -> None:
    def build(n: int) -> str:
        return CONSTRUCTS[construct](fragment, n)

    _check(_read, build, 2**20)


@pytest.mark.slow
@_SETTINGS
@given(construct=st.sampled_from(sorted(CONSTRUCTS)), fragment=FRAGMENTS)
def test_parsing_a_mail_with_an_answer_is_linear(construct: str, fragment: str) -> None:
    def build(n: int) -> bytes:
        return _mail(CONSTRUCTS[construct](fragment, n))

    _check(lambda raw: interpret(raw, CONFIG), build, 2**21)  # type: ignore[arg-type]


@pytest.mark.parametrize("construct", sorted(CONSTRUCTS))
def test_every_construct_as_its_plainest(unbounded: None, construct: str) -> None:
    def build(n: int) -> str:
        return CONSTRUCTS[construct]("a", n)

    _check(_read, build, 2**20)
