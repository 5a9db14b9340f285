"""Store contract of the report's mail counts, on SQLite, PostgreSQL and in memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from esp_coord.store import Store
from tests.support.store import contract_backend  # noqa: F401 - the backend fixture, memory too

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


async def test_counts_by_outcome_and_answer_delays_in_the_window(store: Store) -> None:
    mails = [("answered", 0), ("answered", 1), ("quarantined", 2), ("failed", 3),
             ("ignored", 4), ("own-copy", 5), ("answered", 50)]  # the last one: outside
    async with store.transaction() as tx:
        for i, (outcome, hours) in enumerate(mails):
            tx.record_processed(dedup_key=f"k{i}", message_id=f"<m{i}@x.fr>", sender="a@x.fr",
                                outcome=outcome, folder="F", at=T0 + timedelta(hours=hours))
        # k0: two answers, the first sent 90 s after; k1: its answer 30 s after;
        # k6 is outside the window; a reminder has no cause mail.
        for n, (cause, seconds) in enumerate([("k0", 90), ("k0", 600), ("k1", 30),
                                              ("k6", 10), ("reminder:x", 5)]):
            item = tx.enqueue(message_id=f"<a{n}@esp.fr>", sender="bot@esp.fr",
                              recipients=["a@x.fr"], raw=b"x", at=T0, cause=cause)
            tx.mark_sending(item, T0)
            base = T0 + timedelta(hours=1 if cause == "k1" else 50 if cause == "k6" else 0)
            tx.mark_sent(item, base + timedelta(seconds=seconds))
        pending = tx.enqueue(message_id="<p@esp.fr>", sender="bot@esp.fr",
                             recipients=["a@x.fr"], raw=b"x", at=T0, cause="k1")
        assert pending
    async with store.transaction() as tx:
        activity = tx.mail_activity(T0, T0 + timedelta(days=1))
    assert (activity.handled, activity.answered, activity.quarantined, activity.ignored) == (
        5, 2, 2, 1)
    assert activity.answer_delays == (30.0, 90.0)  # the first answer sent of each mail
    async with store.transaction() as tx:
        assert tx.mail_activity(T0 + timedelta(days=1), T0 + timedelta(days=2)).handled == 0
