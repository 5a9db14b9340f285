"""The real ``Processor`` on the memory store: no database, the same guarantees
(tests/integration/test_processing_batch.py checks them on SQL too)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import esp_coord.processing as processing
from esp_coord.answers import Answer
from esp_coord.bootstrap import make_processor
from esp_coord.processing import Processor, Request
from esp_coord.store.memory import MemoryStore
from tests.support.config import offline_config
from tests.support.mail import mail

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Boom(Exception):
    pass


def _handler(request: Request) -> list[Answer]:
    # A state change inside the mail's transaction, then maybe a bug.
    number = request.tx.next_number("TEST", 2026)
    request.tx.audit(request.sender.email, "test", None, request.mail.message_id,
                     f"number {number}", request.now)
    if "boom" in request.mail.subject:
        raise Boom("handler bug")
    return [Answer(subject="ok", text="Bien reçu.\n")]


@pytest.fixture
def processor(store: MemoryStore, monkeypatch: pytest.MonkeyPatch) -> Processor:
    monkeypatch.setattr(processing, "BATCH_HOLD", 3600.0)  # a batch commits at its end
    # The service's processor (its report: the coordinators' daily notice), our handler.
    return make_processor(offline_config(), store, now=lambda: NOW, handler=_handler)


async def test_the_same_mail_twice_is_answered_once(store: MemoryStore,
                                                    processor: Processor) -> None:
    raw = mail("AIDE", "un")
    first = await processor.process(raw)
    again = await processor.process(raw)
    assert (first.outcome, first.answers, first.replayed) == ("answered", 1, False)
    assert (again.outcome, again.replayed) == ("answered", True)
    assert (await store.run(lambda tx: tx.outbox_stats()))["pending"] == 1
    assert await store.run(lambda tx: tx.next_number("TEST", 2026)) == 2


async def test_a_failing_handler_is_recorded_failed_and_its_changes_undone(
        store: MemoryStore, processor: Processor) -> None:
    outcome = await processor.process(mail("AIDE boom", "deux"))
    assert (outcome.outcome, outcome.folder) == ("failed", processor.config.folders.quarantine)

    def seen(tx):  # type: ignore[no-untyped-def]
        return (tx.next_number("TEST", 2026), tx.audit_records(), tx.outbox_stats()["pending"],
                tx.quarantine_count(), tx.unreported_quarantine())

    number, audit, pending, quarantined, unreported = await store.run(seen)
    assert number == 1 and audit == []  # the handler's number and audit record were undone
    assert pending == 1  # the failure notice to the sender
    assert quarantined == 1 and unreported  # for the coordinators' daily notice


async def test_a_batch_commits_once_at_its_end(store: MemoryStore,
                                               processor: Processor) -> None:
    raws = [mail("AIDE", "un"), mail("AIDE boom", "deux"), mail("AIDE", "trois")]

    async def committed() -> int:
        async with store.transaction(readonly=True) as tx:  # never waits for the batch
            return tx.outbox_stats()["pending"]

    async with processor.batch():
        outcomes = [await processor.process(raw) for raw in raws]
        again = await processor.process(raws[0])
        assert await committed() == 0
    assert [o.outcome for o in outcomes] == ["answered", "failed", "answered"]
    assert again.replayed
    assert await committed() == 3  # two answers and the failure notice
    assert await store.run(lambda tx: tx.next_number("TEST", 2026)) == 3
    report = await store.run(lambda tx: tx.verify_audit())
    assert report.intact and report.records == 2


async def test_a_crash_inside_a_batch_commits_nothing(store: MemoryStore,
                                                      processor: Processor) -> None:
    class Crash(BaseException):
        pass

    raw = mail("AIDE", "un")
    with pytest.raises(Crash):
        async with processor.batch():
            await processor.process(raw)
            raise Crash
    assert await store.run(lambda tx: tx.outbox_stats()) == {
        "pending": 0, "sending": 0, "sent": 0, "failed": 0}
    assert not (await processor.process(raw)).replayed
