"""Calendar answers through the service's own processor on the memory store:
a member's, and one a server-side calendar sends with an automatic sign."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from esp_coord.bootstrap import make_processor
from esp_coord.meeting_repo import KIND as MEETING
from esp_coord.store.memory import MemoryStore
from plans.meetings import Meeting
from tests.support.calendar_replies import outlook_reply, thunderbird_reply
from tests.support.config import offline_config
from tests.support.mail import example

PARIS = ZoneInfo("Europe/Paris")
CLAIRE = "claire.durand@medecin.mssante.test"
JULIEN = "julien.marie@infirmier.mssante.test"
WHEN = datetime(2026, 11, 25, 10, 0, tzinfo=PARIS)


async def test_answers_are_recorded_even_with_an_automatic_sign(store: MemoryStore) -> None:
    processor = make_processor(offline_config(), store, now=lambda: WHEN)
    for raw in (example("01-nouveau-pps.eml"), example("04-rcp-nouvelle.eml")):
        assert (await processor.process(raw)).outcome == "answered"
    queued = sum((await store.run(lambda tx: tx.outbox_stats())).values())
    typed = outlook_reply(name="DURAND Claire", address=CLAIRE, status="DECLINED", when=WHEN,
                          mid="m1")
    # A server-side calendar answering for Julien marks its mail automatic.
    server = thunderbird_reply(name="Julien MARIE", address=JULIEN, status="TENTATIVE",
                               when=WHEN, mid="m2").replace(
        b"MIME-Version: 1.0\r\n", b"MIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n", 1)
    for raw in (typed, server):
        outcome = await processor.process(raw)
        assert (outcome.outcome, outcome.answers, outcome.receipts) == ("ignored", 0, 0)

    def read(tx):  # type: ignore[no-untyped-def]
        meeting = Meeting.from_dict(tx.load_document(MEETING, "RCP-2026-001").data)
        return (meeting, [r.reason for r in tx.recent_of_sender(CLAIRE, WHEN)],
                sum(tx.outbox_stats().values()))

    meeting, reasons, total = await store.run(read)
    assert {(r.attendee, r.status, r.day) for r in meeting.replies} == {
        (CLAIRE, "declined", None), (JULIEN, "tentative", None)}
    assert reasons[0] == "calendar-reply" and total == queued  # nothing sent back
