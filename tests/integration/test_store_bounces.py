"""Store contract of bounces (delivery reports about our mails), on SQLite,
PostgreSQL and in memory: recorded only on a mail we sent to that recipient,
counted per address, the coordination told once per address, across restarts."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta

import pytest

from esp_coord.crypto import Keyring
from esp_coord.store import Store, Tx
from esp_coord.store.records import Bounce, BouncedAddress
from tests.support.store import (  # noqa: F401 - contract_backend: the backend fixture, memory too
    Backend,
    call,
    contract_backend,
)

T0 = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
MONTH = timedelta(days=30)
CLAIRE = "claire.durand@medecin.mssante.test"
PAUL = "paul.girard@medecin.mssante.test"


def bounce(message_id: str, recipient: str, at: datetime, status: str = "5.1.1",
           diagnostic: str = "550 5.1.1 User unknown") -> object:
    return call(Tx.record_bounce, message_id=message_id, recipient=recipient, status=status,
                diagnostic=diagnostic, at=at, renotify_after=MONTH)


async def test_a_bounce_is_recorded_on_our_mail_and_counted_on_its_address(
        store: Store) -> None:
    item_id = await store.run(call(Tx.enqueue, message_id="<a@bot>", sender="bot@x",
                                   recipients=["Claire.Durand@medecin.mssante.test", PAUL],
                                   raw=b"answer", at=T0))
    # Not our mail, or not a recipient of it: nothing recorded.
    assert await store.run(bounce("<unknown@bot>", CLAIRE, T0)) is None
    assert await store.run(bounce("<a@bot>", "intrus@medecin.mssante.test", T0)) is None
    assert await store.run(call(Tx.address_bounces, "intrus@medecin.mssante.test")) is None
    first = await store.run(bounce("<a@bot>", CLAIRE.upper(), T0))
    assert first == Bounce(item_id=item_id, message_id="<a@bot>", recipient=CLAIRE,
                           status="5.1.1", notify=True)
    item = await store.run(call(Tx.outbox_item, item_id))
    assert item is not None
    assert (item.bounced_at, item.bounce_status, item.bounce_recipient,
            item.bounce_diagnostic) == (T0, "5.1.1", CLAIRE, "550 5.1.1 User unknown")
    assert item.status == "pending"  # the delivery's state is its own business
    # A second report for the same address: counted, not told again; the row
    # keeps its first bounce.
    later = T0 + timedelta(hours=1)
    second = await store.run(bounce("<a@bot>", CLAIRE, later, "5.2.2", "552 mailbox full"))
    assert second is not None and not second.notify
    item = await store.run(call(Tx.outbox_item, item_id))
    assert item is not None and (item.bounce_status, item.bounced_at) == ("5.1.1", T0)
    assert await store.run(call(Tx.address_bounces, CLAIRE)) == BouncedAddress(
        address=CLAIRE, first_at=T0, last_at=later, bounces=2, last_status="5.2.2",
        notified_at=T0)
    # Even at the very instant of the first (a driven clock): told once.
    again = await store.run(bounce("<a@bot>", CLAIRE, T0))
    assert again is not None and not again.notify
    # Another address of the same mail is told on its own.
    other = await store.run(bounce("<a@bot>", PAUL, later))
    assert other is not None and other.notify


async def test_an_address_still_failing_a_month_later_is_told_again(store: Store) -> None:
    await store.run(call(Tx.enqueue, message_id="<a@bot>", sender="bot@x", recipients=[CLAIRE],
                         raw=b"x", at=T0))
    await store.run(call(Tx.enqueue, message_id="<b@bot>", sender="bot@x", recipients=[CLAIRE],
                         raw=b"x", at=T0))
    assert (await store.run(bounce("<a@bot>", CLAIRE, T0))).notify  # type: ignore[attr-defined]
    almost = T0 + MONTH - timedelta(seconds=1)
    assert not (await store.run(bounce("<b@bot>", CLAIRE, almost))).notify  # type: ignore[attr-defined]
    told = await store.run(bounce("<b@bot>", CLAIRE, T0 + MONTH))
    assert told is not None and told.notify
    record = await store.run(call(Tx.address_bounces, CLAIRE))
    assert record is not None and (record.bounces, record.notified_at) == (3, T0 + MONTH)


async def test_bounces_roll_back_and_survive_a_restart(store: Store, backend: Backend,
                                                       keyring: Keyring) -> None:
    await store.run(call(Tx.enqueue, message_id="<a@bot>", sender="bot@x", recipients=[CLAIRE],
                         raw=b"x", at=T0))

    class Undo(Exception):
        pass

    def then_fail(tx: Tx) -> None:
        tx.record_bounce(message_id="<a@bot>", recipient=CLAIRE, status="5.1.1",
                         diagnostic="x", at=T0, renotify_after=MONTH)
        raise Undo

    with pytest.raises(Undo):
        await store.run(then_fail)
    assert await store.run(call(Tx.address_bounces, CLAIRE)) is None
    assert (await store.run(bounce("<a@bot>", CLAIRE, T0))).notify  # type: ignore[attr-defined]
    async with AsyncExitStack() as stack:
        restarted = backend.store(keyring)
        await restarted.start(stack)
        again = await restarted.run(bounce("<a@bot>", CLAIRE, T0 + timedelta(days=1)))
        assert again is not None and not again.notify
        item = await restarted.run(call(Tx.outbox_due, T0))
        assert item[0].bounce_recipient == CLAIRE


@pytest.mark.sql_only("reads the outbox table: the server's words are stored encrypted")
async def test_the_diagnostic_is_stored_encrypted(store: Store) -> None:
    await store.run(call(Tx.enqueue, message_id="<a@bot>", sender="bot@x", recipients=[CLAIRE],
                         raw=b"x", at=T0))
    await store.run(bounce("<a@bot>", CLAIRE, T0, diagnostic="550 rejected: MARTIN Jeanne"))
    async with store.transaction() as tx:
        stored = tx.connection.exec_driver_sql(
            "SELECT bounce_diagnostic_enc FROM outbox").scalar_one()
    assert stored and b"MARTIN" not in bytes(stored)
