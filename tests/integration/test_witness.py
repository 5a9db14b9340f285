"""Only a true copy of an answer confirms it as sent: a mail From: our own
address with the answer's (predictable) Message-ID but without the witness
tag is quarantined and changes nothing, on SQLite, PostgreSQL and in memory."""

from __future__ import annotations

from esp_coord import witness
from esp_coord.crypto import Keyring
from esp_coord.store import Store
from tests.integration.test_processing_batch import NOW, _processor
from tests.support.mail import mail
from tests.support.store import contract_backend  # noqa: F401 - the backend fixture, memory too


async def test_forged_copies_change_nothing_and_the_true_copy_confirms(store: Store) -> None:
    processor = _processor(store)
    assert (await processor.process(mail("AIDE", "un"))).outcome == "answered"
    [item] = await store.run(lambda tx: tx.outbox_due(NOW))
    assert item.status == "pending"

    unstamped = item.raw  # every byte of the answer, but no tag
    wrong_key = witness.stamp(item.raw, Keyring.generate(), item.message_id)
    other_answer = witness.stamp(item.raw, store.keyring, "<other@esp-valdelorge.mssante.test>")
    for forged in (unstamped, wrong_key, other_answer):
        outcome = await processor.process(forged)
        assert (outcome.outcome, outcome.answers, outcome.replayed) == ("quarantined", 0, False)
        row = await store.run(lambda tx: tx.outbox_item(item.id))
        assert row is not None and row.status == "pending"

    # The forgeries did not take the real copy's dedup record.
    genuine = witness.stamp(item.raw, store.keyring, item.message_id)
    outcome = await processor.process(genuine)
    assert (outcome.outcome, outcome.replayed) == ("own-copy", False)
    row = await store.run(lambda tx: tx.outbox_item(item.id))
    assert row is not None and row.status == "sent"
    assert (await processor.process(genuine)).replayed
