"""A platform worker whose lease runs out in the middle of an SMTP session
sends nothing: the worker that takes the team over sends the answer once
(SQLite store, real aiosmtpd front, the real SMTP sender).

The campaign of tests/faults/test_platform_campaign.py showed the case: a
worker frozen (SIGSTOP) after opening its session resumed past its lease and
finished the transaction, while the new holder had already sent the row again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.smtp import SmtpSender
from esp_coord.delivery import Delivery
from esp_coord.store import LeaseLost, Store
from tests.servers.smtp_front import SmtpFront
from tests.support.mail import BOT, NURSE
from tests.support.mail import answer_mail as mail

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
GRACE = timedelta(seconds=1)


async def test_lease_lost_mid_session_leaves_the_row_to_the_new_holder(
        store: Store, front: SmtpFront) -> None:
    await store.run(lambda tx: tx.enqueue(
        message_id="<ans.1@esp-valdelorge.mssante.test>", sender=BOT, recipients=[NURSE],
        raw=mail(), at=NOW))
    old, new = (SmtpSender(front.settings(), local_hostname="esp-coord.test") for _ in "ab")
    # The lease holds until the server has accepted a recipient: the worker
    # froze in the middle of the session and resumed with its lease gone.
    frozen = Delivery(store=store, sender=old, bot_address=BOT, now=lambda: NOW,
                      witness_grace=GRACE, may_send=lambda: not front.accepted_rcpts)
    taker = Delivery(store=store, sender=new, bot_address=BOT, now=lambda: NOW + 2 * GRACE,
                     witness_grace=GRACE)
    try:
        with pytest.raises(LeaseLost):
            await frozen.deliver_due()
        assert front.accepted_rcpts  # the session got as far as the envelope
        assert front.messages == []
        [row] = await store.run(lambda tx: tx.outbox_sending())  # its fate for the taker

        # No copy came back by the taker's drain, past the grace: sent again, once.
        await taker._resend_unconfirmed(NOW + 2 * GRACE)
        assert [m.rcpt_tos for m in front.messages] == [[NURSE, BOT]]
        item = await store.run(lambda tx: tx.outbox_item(row.id))
        assert item is not None and item.status == "sent"
    finally:
        await old.close()
        await new.close()
