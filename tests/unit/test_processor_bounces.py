"""Bounces of our mails through the real processor, on the memory store: the
outbox row records the report, the coordination is told once per failing
address, and a report about anything else changes nothing."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage

import pytest

from esp_coord.bootstrap import make_processor
from esp_coord.bounces import redacted, status_meaning
from esp_coord.processing import Processor
from esp_coord.store.memory import MemoryStore
from esp_coord.store.records import OutboxItem
from tests.support.config import offline_config
from tests.support.dsn import exchange_ndr, postfix_dsn
from tests.support.mail import ANA, BOT, CLAIRE, JULIEN, mail

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAEMON = "mailer-daemon@relay.medecin.mssante.test"


class Clock:
    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def processor(store: MemoryStore, clock: Clock) -> Processor:
    return make_processor(offline_config(), store, now=clock)


async def outbox(store: MemoryStore) -> list[OutboxItem]:
    return await store.run(lambda tx: tx.outbox_due(NOW + timedelta(days=400), limit=1000))


async def answered(store: MemoryStore, processor: Processor, sender: str = CLAIRE,
                   subject: str = "AIDE") -> OutboxItem:
    """The service answers a member's mail; its answer, as queued."""
    before = {i.id for i in await outbox(store)}
    await processor.process(mail(subject, "aide", sender=sender))
    (item,) = [i for i in await outbox(store) if i.id not in before]
    return item


def notices(items: list[OutboxItem]) -> list[EmailMessage]:
    found = []
    for item in items:
        message = email.message_from_bytes(item.raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        if str(message["Subject"]).startswith("Adresse en échec"):
            found.append(message)
    return found


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content()).replace("\r\n", "\n")


async def test_a_bounce_is_recorded_and_the_coordination_told_once(
        store: MemoryStore, processor: Processor, clock: Clock) -> None:
    answer = await answered(store, processor)
    dsn = postfix_dsn(answer.raw, CLAIRE)
    outcome = await processor.process(dsn)
    assert (outcome.outcome, outcome.answers, outcome.receipts) == ("ignored", 1, 0)
    item = await store.run(lambda tx: tx.outbox_item(answer.id))
    assert item is not None
    assert (item.bounced_at, item.bounce_status, item.bounce_recipient) == (NOW, "5.1.1", CLAIRE)
    assert item.bounce_diagnostic is not None and "User unknown" in item.bounce_diagnostic
    recent = await store.run(lambda tx: tx.recent_of_sender(DAEMON, NOW - timedelta(1)))
    assert [r.reason for r in recent] == ["bounce"]
    (notice,) = notices(await outbox(store))
    assert [a.addr_spec for a in notice["To"].addresses] == [ANA]  # the coordinator
    assert notice["Auto-Submitted"] == "auto-generated"
    assert notice["Subject"] == f"Adresse en échec : {CLAIRE}"
    text = text_of(notice)
    assert (f"Un message du service n'a pas pu être remis à Claire DURAND ({CLAIRE})\u00a0: "
            "le serveur de messagerie a répondu 5.1.1 (adresse inconnue\u00a0: la boîte "
            "n'existe pas).") in text
    assert (f"Réponse du serveur\u00a0: «\u00a0550 5.1.1 <{CLAIRE}>: Recipient address "
            "rejected: User unknown in virtual mailbox table\u00a0»") in text
    # The same report again: nothing more.
    again = await processor.process(dsn)
    assert again.replayed
    # Another answer to the same address bounces, later: recorded, not told again.
    clock.at = NOW + timedelta(hours=2)
    second = await answered(store, processor)
    report = postfix_dsn(second.raw, CLAIRE,
                         report_id="<20261123111244.9B4D32B1C6@relay.medecin.mssante.test>")
    outcome = await processor.process(report)
    assert (outcome.outcome, outcome.answers) == ("ignored", 0)
    assert len(notices(await outbox(store))) == 1
    record = await store.run(lambda tx: tx.address_bounces(CLAIRE))
    assert record is not None and (record.bounces, record.notified_at) == (2, NOW)


async def test_reports_about_other_mail_change_nothing(store: MemoryStore,
                                                      processor: Processor) -> None:
    answer = await answered(store, processor)
    forged = [
        # Someone else's mail (not in our outbox), with an id of our domain or not.
        postfix_dsn(mail("AIDE", "x").replace(
            b"Message-ID: <", b"Message-ID: <ans.forged@esp-valdelorge.mssante.test><", 1),
            CLAIRE),
        postfix_dsn(mail("AIDE", "x"), CLAIRE),
        # Our mail, but an address it never went to.
        postfix_dsn(answer.raw, "julien.marie@infirmier.mssante.test"),
        # Not a failure.
        postfix_dsn(answer.raw, CLAIRE).replace(b"Action: failed", b"Action: delayed"),
    ]
    for i, raw in enumerate(forged):
        raw = raw.replace(b"8A3C21A0B5@", f"{i}x@".encode())  # distinct reports
        outcome = await processor.process(raw)
        assert (outcome.outcome, outcome.answers, outcome.replayed) == ("ignored", 0, False)
    item = await store.run(lambda tx: tx.outbox_item(answer.id))
    assert item is not None and item.bounced_at is None
    assert await store.run(lambda tx: tx.address_bounces(CLAIRE)) is None
    assert notices(await outbox(store)) == []


async def test_the_notice_never_quotes_the_bounced_mail(store: MemoryStore,
                                                       processor: Processor) -> None:
    answer = await answered(store, processor, sender=JULIEN, subject="MARTIN Jeanne : chute")
    # An Exchange report whose server quotes the subject (a content filter would).
    ndr = exchange_ndr(answer.message_id, JULIEN).replace(
        b"smtp;554 5.2.2 mailbox full;",
        b"smtp;554 5.2.2 mailbox full; subject 'RE: MARTIN Jeanne : chute' refused;")
    outcome = await processor.process(ndr)
    assert outcome.answers == 1
    (notice,) = notices(await outbox(store))
    text = text_of(notice)
    assert "Julien MARIE" in text and "5.2.2 (boîte pleine)" in text
    assert "MARTIN" not in text and "Jeanne" not in text and "chute" not in text
    assert "mailbox full" in text


async def test_a_coordinator_s_own_failing_address_is_told_elsewhere(
        store: MemoryStore, processor: Processor) -> None:
    answer = await answered(store, processor, sender=ANA)
    await processor.process(postfix_dsn(answer.raw, ANA))
    (notice,) = notices(await outbox(store))
    # The only coordinator is the failing one: the notice stays in our mailbox.
    assert [a.addr_spec for a in notice["To"].addresses] == [BOT]


def test_meanings_and_redaction() -> None:
    assert status_meaning("5.1.1") == "adresse inconnue : la boîte n'existe pas"
    assert status_meaning("5.7.26") == "refus par la politique de sécurité du serveur"
    assert status_meaning("4.4.7") == ("délai de remise dépassé, échec temporaire devenu "
                                       "définitif")
    assert status_meaning("5.9.9") == "raison non précisée"
    assert redacted("550 Message 'Mme Élise MARTIN' rejected", "RE: [PPS] élise martin") \
        == "550 Message 'Mme … …' rejected"
    assert redacted("550 user unknown", "") == "550 user unknown"
