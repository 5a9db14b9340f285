"""The demo shows a meeting invitation, meeting reminders and follow-up
reminders, on its driven clock (issue 5: done when the demo shows them)."""

from __future__ import annotations

import io

from rich.console import Console

from esp_coord.demo import run_demo
from tests.conftest import EXAMPLES


async def test_demo_shows_invitation_and_reminders() -> None:
    out = io.StringIO()
    console = Console(file=out, width=240, highlight=False, soft_wrap=True, color_system=None)
    assert await run_demo(EXAMPLES / "messages", console=console) == 0
    text = out.getvalue()
    # Example 04: the invitation, read back from the mail as iCalendar.
    assert "[RCP-2026-001] Invitation : concertation le 03/12/2026" in text
    assert ("📎 invitation.ics : METHOD:REQUEST  UID:RCP-2026-001@esp-valdelorge.mssante.test"
            in text)
    assert "DTSTART;TZID=Europe/Paris:20261203T123000" in text
    # The clock runs: J-7 and J-1 of the first two meetings, follow-ups in between.
    for day, offset in (("26/11/2026", 7), ("02/12/2026", 1), ("31/12/2026", 7),
                        ("06/01/2027", 1)):
        assert f"⏰ {day} 08:00 service" in text and f"Rappel J-{offset}" in text
    assert "réunion de concertation RCP-2026-001 dans 7 jours" in text   # in full, once
    assert "rappels de suivi des plans" in text
    assert "Le temps passe : horloge avancée jusqu'au 08/01/2027" in text
