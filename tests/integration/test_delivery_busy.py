"""An answer that went out while the database was too busy to record it is
recorded later, never sent again (SQLite store, real aiosmtpd front)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.smtp import SmtpSender
from esp_coord.delivery import Delivery
from esp_coord.store import Store, StoreBusy
from tests.servers.smtp_front import SmtpFront
from tests.support.mail import BOT, NURSE
from tests.support.mail import answer_mail as mail

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def test_outcome_kept_through_a_busy_database(store: Store, front: SmtpFront,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    await store.run(lambda tx: tx.enqueue(
        message_id="<ans.1@esp-valdelorge.mssante.test>", sender=BOT, recipients=[NURSE],
        raw=mail(), at=NOW))
    sender = SmtpSender(front.settings(), local_hostname="esp-coord.test")
    delivery = Delivery(store=store, sender=sender, bot_address=BOT, now=lambda: NOW,
                        witness_grace=timedelta(seconds=1))
    real_record = Delivery._record
    busy = True

    def record_unless_busy(self, tx, results):  # type: ignore[no-untyped-def]
        if busy:
            raise StoreBusy("locked")  # the store's own retries run out too
        real_record(self, tx, results)

    monkeypatch.setattr(Delivery, "_record", record_unless_busy)
    try:
        with pytest.raises(StoreBusy):
            await delivery.deliver_due()
        assert len(front.messages) == 1
        [row] = await store.run(lambda tx: tx.outbox_sending())  # not recorded yet

        busy = False
        assert not await delivery.deliver_due()  # records first, then finds nothing due
        assert await store.run(lambda tx: tx.outbox_sending()) == []
        item = await store.run(lambda tx: tx.outbox_item(row.id))
        assert item is not None and item.status == "sent"
        # Long after, no copy seen: a row whose fate was known is not sent again.
        await delivery._resend_unconfirmed(NOW + timedelta(hours=1))
        assert len(front.messages) == 1
    finally:
        await sender.close()
