"""Store contract of the quarantine notice's queries, on SQLite, PostgreSQL and in memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from esp_coord.store import Store
from tests.support.store import contract_backend  # noqa: F401 - the backend fixture, memory too

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


async def test_claims_each_quarantined_mail_for_one_notice(store: Store) -> None:
    async with store.transaction() as tx:
        assert not tx.unreported_quarantine()
        for i, (outcome, hours, reason) in enumerate([
                ("quarantined", 1, "not-on-roster"), ("answered", 2, None),
                ("failed", 3, None), ("ignored", 4, None),
                ("quarantined", 30, "untrusted-domain")]):
            tx.record_processed(dedup_key=f"k{i}", message_id=None, sender=f"u{i}@x.fr",
                                      outcome=outcome, folder="Q",
                                      at=T0 + timedelta(hours=hours), reason=reason)
    day1 = T0 + timedelta(days=1)
    async with store.transaction() as tx:
        assert tx.unreported_quarantine()
        assert tx.claim_quarantined(before=day1, notice_at=day1) == 2
        assert tx.claim_quarantined(before=day1, notice_at=day1) == 0  # once
        claimed = tx.quarantined_in_notice(day1)
    assert [(m.sender, m.outcome, m.reason, m.at) for m in claimed] == [
        ("u0@x.fr", "quarantined", "not-on-roster", T0 + timedelta(hours=1)),
        ("u2@x.fr", "failed", None, T0 + timedelta(hours=3))]
    day2 = T0 + timedelta(days=2)
    async with store.transaction() as tx:
        assert tx.unreported_quarantine()
        assert tx.claim_quarantined(before=day2, notice_at=day2) == 1
        assert [m.reason for m in tx.quarantined_in_notice(day2)] == ["untrusted-domain"]
        assert len(tx.quarantined_in_notice(day1)) == 2
        assert not tx.unreported_quarantine()
    # A rolled-back claim gives the mails back.
    async with store.transaction() as tx:
        tx.record_processed(dedup_key="k9", message_id=None, sender="v@x.fr",
                                  outcome="quarantined", folder="Q", at=day2)
    try:
        async with store.transaction() as tx:
            assert tx.claim_quarantined(before=day2 + timedelta(days=1),
                                              notice_at=day2 + timedelta(days=1)) == 1
            raise RuntimeError("crash")
    except RuntimeError:
        pass
    async with store.transaction(readonly=True) as tx:
        assert tx.unreported_quarantine()
        assert tx.quarantine_count() == 4
