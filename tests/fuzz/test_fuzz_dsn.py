"""Whatever a delivery report's status part holds, reading the report costs
time and memory linear in its size (``intake.dsn.read_delivery_report``, which
the processor runs on every automatic mail that says it is a DSN).

Hypothesis picks a fragment (recipient blocks, a field growing without end,
folding, blank lines, many fields, garbage, 8-bit text...) repeated inside the
``message/delivery-status`` part of a Postfix bounce, and
``tests.cost.assert_linear`` grows it eightfold, up to about 1 MB of status
part (the 25 MB limit with ``make fuzz``).
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esp_coord.intake.dsn import read_delivery_report
from tests.cost import assert_linear
from tests.support.dsn import BOUNDARY, postfix_dsn
from tests.support.mail import BOT, CLAIRE

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
EXAMPLES = 200 if LONG else 8
LARGEST = 25 * 2**20 if LONG else 2**20

ORIGINAL = (f"From: Coordination <{BOT}>\r\nTo: <{CLAIRE}>\r\nSubject: RE: AIDE\r\n"
            "Message-ID: <ans.1@esp-valdelorge.mssante.test>\r\n\r\nx\r\n").encode()
_PIECES = st.sampled_from([
    f"Final-Recipient: rfc822; {CLAIRE}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n",
    "Diagnostic-Code: smtp; 550 ",            # one field growing without end
    " continued\r\n",                          # a field folded again and again
    "\r\n",                                    # blank lines: empty blocks
    "X-Junk: " + "a" * 70 + "\r\n",            # many fields in one block
    "no colon at all ",
    "Status: 5.5.5 é\u202e\r\n",
    " --" + BOUNDARY[:12],                     # boundary-like text, not a delimiter line
    "<>;:\"\\(=?utf-8?q?",
])
FRAGMENTS = st.lists(_PIECES, min_size=1, max_size=4).map("".join)


def with_status_part(fragment: str, n: int) -> bytes:
    body = (fragment * n).encode("utf-8", "surrogateescape")
    return postfix_dsn(ORIGINAL, CLAIRE).replace(
        b"Reporting-MTA: dns; relay.medecin.mssante.test\r\n",
        b"Reporting-MTA: dns; relay.medecin.mssante.test\r\n" + body, 1)


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG,
          suppress_health_check=[HealthCheck.too_slow])
@given(fragment=FRAGMENTS)
def test_reading_a_report_is_linear_in_its_status_part(fragment: str) -> None:
    unit = max(1, len(fragment.encode()))
    start = max(1, 2**17 // (8 * unit))
    found = assert_linear(read_delivery_report, lambda n: with_status_part(fragment, n),
                          start, max_n=max(start * 8, LARGEST // unit))
    # Parsed, not rejected: the growth measured is the parser's.
    assert read_delivery_report(with_status_part(fragment, start)) is not None, found
