"""The mailroom's batch transaction on SQLite, PostgreSQL and in memory: one commit
for the batch, a savepoint per mail, a failing handler undoes only its own mail."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import esp_coord.processing as processing
from esp_coord.answers import Answer
from esp_coord.bootstrap import make_processor
from esp_coord.processing import Processor, Request
from esp_coord.store import Store
from tests.support.config import offline_config
from tests.support.mail import mail
from tests.support.store import contract_backend  # noqa: F401 - the backend fixture, memory too

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class Boom(Exception):
    pass


def _processor(store: Store) -> Processor:
    def handler(request: Request) -> list[Answer]:
        # A state change inside the mail's transaction, then maybe a bug.
        request.tx.next_number("TEST", 2026)
        if "boom" in request.mail.subject:
            raise Boom("handler bug")
        return [Answer(subject="ok", text="Bien reçu.\n")]

    return make_processor(offline_config(), store, now=lambda: NOW, handler=handler)


@pytest.fixture(autouse=True)
def _no_early_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    # However slow the machine, a batch commits at its end only; the early
    # commit of a long batch is a test of its own, which sets the hold to 0.
    monkeypatch.setattr(processing, "BATCH_HOLD", 3600.0)


async def _outcomes(store: Store, raws: list[bytes]) -> list[str | None]:
    from esp_coord.triage import read_and_triage

    # Read-only: it must not wait for the batch's write lock on SQLite.
    async with store.transaction(readonly=True) as tx:
        return [(r.outcome if (r := tx.processed(
                    read_and_triage(raw, offline_config(), store.keyring)[0].dedup_key)) else None)
                for raw in raws]


async def test_batch_commits_once_and_a_failing_handler_undoes_only_its_mail(
        store: Store) -> None:
    processor = _processor(store)
    raws = [mail("AIDE", "un"), mail("AIDE boom", "deux"), mail("AIDE", "trois")]
    async with processor.batch():
        outcomes = [await processor.process(raw) for raw in raws]
        assert await _outcomes(store, raws) == [None, None, None]  # nothing committed yet
    assert [o.outcome for o in outcomes] == ["answered", "failed", "answered"]
    assert await _outcomes(store, raws) == ["answered", "failed", "answered"]
    # The failed mail's number was rolled back with its savepoint: 1 and 2 were used.
    assert await store.run(lambda tx: tx.next_number("TEST", 2026)) == 3
    stats = await store.run(lambda tx: tx.outbox_stats())
    assert stats["pending"] == 3  # two answers and the failure notice


async def test_a_crash_inside_a_batch_commits_nothing_and_the_mails_replay(
        store: Store) -> None:
    processor = _processor(store)
    raws = [mail("AIDE", "un"), mail("AIDE", "deux")]

    class Crash(BaseException):
        pass

    with pytest.raises(Crash):
        async with processor.batch():
            await processor.process(raws[0])
            raise Crash
    assert await _outcomes(store, raws) == [None, None]
    async with processor.batch():
        first = [await processor.process(raw) for raw in raws]
        again = await processor.process(raws[0])  # the same mail twice in one batch
    assert [o.replayed for o in first] == [False, False] and again.replayed
    assert (await store.run(lambda tx: tx.outbox_stats()))["pending"] == 2


async def test_a_long_batch_commits_as_it_goes(store: Store,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processing, "BATCH_HOLD", 0.0)
    processor = _processor(store)
    raws = [mail("AIDE", "un"), mail("AIDE boom", "deux"), mail("AIDE", "trois")]
    commits: list[int] = []
    async with processor.batch(on_commit=lambda: commits.append(1)):
        await processor.process(raws[0])
        assert await _outcomes(store, raws) == ["answered", None, None]
        await processor.process(raws[1])
        assert await _outcomes(store, raws) == ["answered", "failed", None]
    assert len(commits) == 2
    assert await _outcomes(store, raws) == ["answered", "failed", None]
