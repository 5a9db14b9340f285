"""MDNs through the real processor and command handlers, on the memory store:
one per answered member mail that asks for one, in the mail's own transaction,
and none for anything else."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from email.message import Message

import pytest

import esp_coord.processing as processing
from esp_coord.answers import Answer
from esp_coord.bootstrap import make_processor
from esp_coord.processing import Processor, Request
from esp_coord.store.memory import MemoryStore
from esp_coord.store.records import OutboxItem
from tests.support.config import offline_config
from tests.support.mail import CLAIRE, example, mail

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
STRANGER = "marc.petit@medecin.mssante.test"


def asking(subject: str, body: str = "Bonjour", *, sender: str = CLAIRE,
           dnt: str | None = None, path: str | None = None, extra: str = "") -> bytes:
    """A mail with ``Disposition-Notification-To`` and ``Return-Path`` (both
    the sender unless given)."""
    return (f"Return-Path: <{path or sender}>\r\n".encode()
            + mail(subject, body, sender=sender,
                   extra=f"Disposition-Notification-To: <{dnt or sender}>\r\n" + extra))


@pytest.fixture
def processor(store: MemoryStore, monkeypatch: pytest.MonkeyPatch) -> Processor:
    monkeypatch.setattr(processing, "BATCH_HOLD", 3600.0)
    return make_processor(offline_config(), store, now=lambda: NOW)


async def queued(store: MemoryStore) -> list[OutboxItem]:
    return await store.run(lambda tx: tx.outbox_due(NOW, limit=1000))


def mdns(items: list[OutboxItem]) -> list[Message]:
    found = [email.message_from_bytes(i.raw, policy=policy.default) for i in items]
    return [m for m in found if m.get_content_type() == "multipart/report"]


def disposition_of(mdn: Message) -> str:
    block = mdn.get_payload()[1].get_payload()[0]
    return str(block["Disposition"])


async def test_an_answered_member_mail_gets_one_answer_and_one_mdn_replay_none(
        store: MemoryStore, processor: Processor) -> None:
    raw = asking("AIDE")
    first = await processor.process(raw)
    assert (first.outcome, first.answers, first.receipts) == ("answered", 1, 1)
    items = await queued(store)
    assert len(items) == 2
    (mdn,) = mdns(items)
    answer = next(i for i in items if not i.message_id.startswith("<mdn."))
    assert disposition_of(mdn) == "automatic-action/MDN-sent-automatically; processed"
    assert mdn["To"].addresses[0].addr_spec == CLAIRE
    # Both in the mail's unit of work, both caused by it.
    assert {i.cause for i in items} == {answer.cause}
    # The same mail again (a crash before the move, a second delivery): nothing.
    again = await processor.process(raw)
    assert again.replayed and again.receipts == 0
    assert len(await queued(store)) == 2


async def test_a_mail_answered_with_errors_gets_an_error_mdn(
        store: MemoryStore, processor: Processor) -> None:
    outcomes = [await processor.process(asking(subject, body)) for subject, body in (
        ("stauts", "où en est Mme MARTIN ?"),          # not understood
        ("STATUT PPS-2026-0042", ""),                   # no such plan
        ("NOUVEAU PPS", "Patient : MARTIN Jeanne"),    # malformed
        ("FAIT PPS-2026-0001", ""),                     # no action number
    )]
    assert [(o.answers, o.receipts) for o in outcomes] == [(1, 1)] * 4
    found = mdns(await queued(store))
    assert len(found) == 4
    for mdn in found:
        assert disposition_of(mdn).endswith("processed/Error: 906^Erreur 'Autre'")
        assert str(mdn["Subject"]).startswith("[KO Intégration système !][906] ")


async def test_no_mdn_for_strangers_robots_reports_mismatches_or_unasked(
        store: MemoryStore, processor: Processor) -> None:
    cases = {
        "stranger": asking("AIDE", sender=STRANGER),
        "auto-reply": asking("AIDE", extra="Auto-Submitted: auto-replied\r\n"),
        "mdn": asking("Lu : AIDE", extra=(
            'Content-Type: multipart/report; report-type=disposition-notification; '
            'boundary="b"\r\n')),
        "dsn": asking("Undelivered", extra=(
            'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n')),
        "other Return-Path": asking("AIDE", path="secretariat@medecin.mssante.test"),
        "other address": asking("AIDE", dnt="paul.girard@medecin.mssante.test"),
        "no Return-Path": mail("AIDE", "x", extra=f"Disposition-Notification-To: {CLAIRE}\r\n"),
        "not asked": f"Return-Path: <{CLAIRE}>\r\n".encode() + mail("AIDE", "x"),
    }
    outcomes = {name: await processor.process(raw) for name, raw in cases.items()}
    assert {name: o.receipts for name, o in outcomes.items()} == dict.fromkeys(cases, 0)
    assert outcomes["stranger"].outcome == "quarantined"
    assert {outcomes[n].outcome for n in ("auto-reply", "mdn", "dsn")} == {"ignored"}
    assert mdns(await queued(store)) == []


async def test_a_member_left_unanswered_gets_no_mdn(store: MemoryStore,
                                                    processor: Processor) -> None:
    # A subject of an auto-reply and no command: not answered, so not acknowledged.
    outcome = await processor.process(asking("Réponse automatique : absent"))
    assert (outcome.outcome, outcome.answers, outcome.receipts) == ("ignored", 0, 0)
    assert await queued(store) == []


async def test_a_plan_created_is_processed_a_duplicate_is_an_error(
        store: MemoryStore, processor: Processor) -> None:
    asked = f"Return-Path: <{CLAIRE}>\r\nDisposition-Notification-To: <{CLAIRE}>\r\n".encode()
    raw = asked + example("01-nouveau-pps.eml")
    created = await processor.process(raw)
    assert (created.outcome, created.receipts) == ("answered", 1)
    (mdn,) = mdns(await queued(store))
    assert disposition_of(mdn) == "automatic-action/MDN-sent-automatically; processed"
    # The same patient again, in a new mail: nothing created, an integration error.
    again = raw.replace(b"<20261123091244.4411@", b"<20261123091244.4412@")
    duplicate = await processor.process(again)
    assert (duplicate.outcome, duplicate.receipts) == ("answered", 1)
    assert sorted(disposition_of(m).rsplit("; ", 1)[1] for m in mdns(await queued(store))) \
        == ["processed", "processed/Error: 906^Erreur 'Autre'"]


async def test_a_failed_mail_gets_its_failure_notice_and_an_error_mdn(
        store: MemoryStore) -> None:
    def broken(request: Request) -> list[Answer]:
        raise RuntimeError("bug")

    processor = make_processor(offline_config(), store, now=lambda: NOW, handler=broken)
    outcome = await processor.process(asking("AIDE"))
    assert (outcome.outcome, outcome.answers, outcome.receipts) == ("failed", 1, 1)
    (mdn,) = mdns(await queued(store))
    assert "processed/Error: 906" in disposition_of(mdn)


async def test_a_crashed_batch_keeps_neither_answer_nor_mdn(store: MemoryStore,
                                                            processor: Processor) -> None:
    class Crash(BaseException):
        pass

    raw = asking("AIDE")
    with pytest.raises(Crash):
        async with processor.batch():
            assert (await processor.process(raw)).receipts == 1
            raise Crash
    assert await queued(store) == []
    async with processor.batch():
        assert (await processor.process(raw)).receipts == 1
    assert len(mdns(await queued(store))) == 1
