"""Starting a test team on a driven clock set to the date of a mail."""

from __future__ import annotations

from esp_coord.clock import DrivenClock
from esp_coord.intake import parse_mail
from tests.e2e.harness import Team


async def start_at_date_of(team: Team, raw: bytes) -> DrivenClock:
    """Starts ``team``'s service with time standing at the Date header of ``raw``
    (then moved by the test with ``clock.set``)."""
    sent = parse_mail(raw).date
    assert sent is not None
    clock = DrivenClock(sent)
    await team.start(clock=clock)
    return clock
