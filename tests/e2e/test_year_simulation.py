"""The year-long reminder simulation of ``make bench`` (issue 17), scaled
down: the same team of 12, 20 patients, ten weeks from New Year's Day (a
holiday, then the winter absences, declared or only told by an out-of-office
reply). The service's own processor and engine on SQLite and a driven clock.

What must hold whatever the figures: nobody gets more than one reminder
mail a day; every plan is accepted and every mail from the team answered; a
member away gets no reminder once the service knows (only the mail their
out-of-office responder answers). The per-action side shows that the count
can see several mails a day, so the first check is not vacuous.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.year_simulation import Simulation, problems

DAYS, PATIENTS = 70, 20


@pytest.mark.slow
async def test_a_team_gets_one_reminder_mail_a_day_at_most(tmp_path: Path) -> None:
    (tmp_path / "after").mkdir()
    (tmp_path / "before").mkdir()
    after = await Simulation(tmp_path / "after", after=True, days=DAYS,
                             patients=PATIENTS).run()
    before = await Simulation(tmp_path / "before", after=False, days=DAYS,
                              patients=PATIENTS).run()
    assert problems({"before": before, "after": after}) == []
    assert after["plans"] == PATIENTS and after["fait_mails"] > 100
    assert after["reminder_mails"]["max"] == 1
    assert after["all_mails"]["p95"] <= 2
    # Winter absences fall in these weeks: some declared, some only read
    # from an out-of-office reply, which answers the first mail it gets.
    assert after["absences_declared"] >= 3 and after["out_of_office_replies"] >= 1
    assert after["reminder_mails_to_absent"] <= after["out_of_office_replies"]
    # One FAIT mail a day with several lines, against one mail per action.
    assert after["fait_lines"] > after["fait_mails"]
    assert before["fait_mails"] == before["fait_lines"]
    assert before["reminder_mails"]["max"] > 1
    assert before["reminder_mails_to_absent"] > after["reminder_mails_to_absent"]
