"""How a digest reads (``esp_coord.scheduling.digest``): sections, order, replies."""

from __future__ import annotations

import pytest

from esp_coord.outgoing import OutAttachment
from esp_coord.scheduling.digest import (
    MEETING,
    Digest,
    Entry,
    Part,
    digest_answer,
    late_words,
    layout,
    merged,
)
from esp_coord.scheduling.plan_digest import DAILY, DIGESTS, TEAM
from esp_coord.scheduling.registry import Composers
from tests.support.config import offline_config

JULIEN = "julien.marie@infirmier.mssante.test"


def _entry(ref: str, number: int, late: int = 0, **kw: object) -> Entry:
    return Entry(ref, f"{ref} - PATIENT {ref[-1]}", (f"Action {number} : soin", "détail"),
                 replies=(f"FAIT {number} {ref}",), late=late, **kw)  # type: ignore[arg-type]


def test_meetings_first_then_the_most_overdue_plans_each_with_its_lines() -> None:
    entries = [_entry("PPS-2026-0001", 1), _entry("PPS-2026-0002", 2, late=4),
               _entry("PPS-2026-0001", 3, late=10),
               Entry("RCP-2026-001", "Réunion de concertation RCP-2026-001", ("Demain",),
                     kind=MEETING),
               _entry("PPS-2026-0003", 5, late=30, recall=True)]
    lines = layout(entries)
    headings = [line for line in lines if line and not line.startswith(" ")]
    assert headings == ["Réunion de concertation RCP-2026-001", "PPS-2026-0001 - PATIENT 1",
                        "PPS-2026-0002 - PATIENT 2", "Toujours en retard (déjà signalé) :"]
    text = "\n".join(lines)
    # Within a plan, the most overdue first; each item's reply under it.
    assert text.index("Action 3") < text.index("Action 1")
    assert "  • Action 3 : soin\n    détail\n      FAIT 3 PPS-2026-0001" in text
    # A recall: one line and its reply, after the day's items.
    assert text.endswith("  • PPS-2026-0003 - Action 5 : soin\n      FAIT 5 PPS-2026-0003\n")


def test_late_words_say_weeks_past_two_of_them() -> None:
    assert [late_words(d) for d in (1, 4, 13, 14, 22)] == [
        "en retard de 1 jour", "en retard de 4 jours", "en retard de 13 jours",
        "en retard depuis 2 semaines", "en retard depuis 3 semaines"]


def test_a_digest_about_one_plan_is_named_after_it_and_typeset() -> None:
    config = offline_config()
    one = digest_answer(recipient=JULIEN, subject="Rappels du 30/11/2026 : 2 actions",
                        opening=["Vos rappels : 2 actions."], entries=[
                            _entry("PPS-2026-0001", 1), _entry("PPS-2026-0001", 2)],
                        closing=[], config=config, tag="digest")
    assert one.message_id_tag == "PPS-2026-0001.rappel.digest" and not one.stable_id
    assert one.text.startswith("Bonjour Julien MARIE,") and "Rappels du 30/11/2026\xa0:" in (
        one.subject)
    two = digest_answer(recipient=JULIEN, subject="s", opening=[], entries=[
        _entry("PPS-2026-0001", 1), _entry("PPS-2026-0002", 2)], closing=[], config=config,
        tag="digest")
    assert two.message_id_tag == "digest"


def test_several_invitations_are_named_after_their_meetings() -> None:
    ics = OutAttachment("invitation.ics", "text/calendar; method=REQUEST", b"x",
                        inline_alternative=True)
    meetings = [Entry(ref, ref, ("Demain",), kind=MEETING, attachments=(ics,))
                for ref in ("RCP-2026-001", "RCP-2026-002")]
    answer = digest_answer(recipient=JULIEN, subject="s", opening=[], entries=meetings,
                           closing=[], config=offline_config(), tag="digest")
    assert [(a.filename, a.inline_alternative) for a in answer.attachments] == [
        ("invitation-RCP-2026-001.ics", True), ("invitation-RCP-2026-002.ics", False)]


def test_one_entry_per_action_the_most_overdue() -> None:
    due = _entry("PPS-2026-0001", 1, late=0, about="PPS-2026-0001:1")
    late = _entry("PPS-2026-0001", 1, late=3, about="PPS-2026-0001:1")
    recall = _entry("PPS-2026-0001", 1, late=10, recall=True, about="PPS-2026-0001:1")
    other = _entry("PPS-2026-0001", 2, about="PPS-2026-0001:2")
    assert merged([due, late, other, recall]) == [late, other]
    assert "\n".join(layout([due, late])).count("Action 1") == 1
    # Not overdue: each occurrence stays (Saturday's and Sunday's, told on Friday).
    saturday = _entry("PPS-2026-0001", 1, late=0, about="PPS-2026-0001:1")
    assert merged([due, saturday]) == [due, saturday]


def test_a_part_comes_after_the_own_entries_and_counts_for_the_plan_tag() -> None:
    config = offline_config()
    own = [_entry("PPS-2026-0001", 4, late=3)]
    part = Part("suivi de l'équipe : 1 action en retard",
                ("Suivi de l'équipe : 1 action en retard.",),
                (Entry("PPS-2026-0002", "PPS-2026-0002 - PATIENT 2",
                       ("Action 1 : soin, confiée à Julien MARIE",), late=3),))
    answer = digest_answer(recipient=JULIEN, subject="s", opening=["Vos rappels."],
                           entries=own, closing=["Fin."], config=config, tag="digest",
                           parts=[part])
    text = answer.text
    assert text.index("FAIT 4 PPS-2026-0001") < text.index("Suivi de l'équipe") < text.index(
        "PPS-2026-0002 - PATIENT 2") < text.index("Fin.")
    # Two plans in the mail: a bare « FAIT 4 » in reply must not pick one.
    assert answer.message_id_tag == "digest"


def test_only_a_digest_of_its_own_may_host_another() -> None:
    with pytest.raises(ValueError, match="gives its part"):
        Digest(DIGESTS[DAILY].write, into=DAILY)
    with pytest.raises(ValueError, match="not a declared digest"):
        Composers(digests={TEAM: DIGESTS[TEAM]})
    with pytest.raises(ValueError, match="not a declared digest"):
        Composers(digests={"a": DIGESTS[TEAM], DAILY: Digest(DIGESTS[DAILY].write, into="a",
                                                              part=DIGESTS[TEAM].part)})
    assert Composers(digests=DIGESTS).one_mail(TEAM) == [DAILY, TEAM]
