"""The fixed hostile corpus through the Processor, the handlers and a real SQLite store.

Each mail must end answered, quarantined or ignored as a careful human would
decide, and every answer must go to team members only, with clean headers and
escaped HTML.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from esp_coord.bootstrap import make_processor
from esp_coord.config import Config
from esp_coord.crypto import Keyring
from esp_coord.intake import IncomingMail, parse_mail
from esp_coord.processing import Outcome, Processor
from esp_coord.store import OutboxItem, Store
from tests.hostile import corpus
from tests.support.config import offline_config

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


@dataclass
class Desk:
    config: Config
    store: Store
    processor: Processor
    seen: set[int]

    async def handle(self, raw: bytes) -> tuple[Outcome, list[OutboxItem]]:
        outcome = await self.processor.process(raw)
        rows = await self.store.run(lambda tx: tx.outbox_due(datetime(2100, 1, 1, tzinfo=UTC),
                                                             limit=1000))
        fresh = [r for r in rows if r.id not in self.seen]
        self.seen.update(r.id for r in fresh)
        for row in fresh:
            check_headers(row, self.config)
        return outcome, fresh

    async def plans(self) -> list[str]:
        docs = await self.store.run(lambda tx: tx.find_documents("plan"))
        return [d.ref for d in docs]


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    config = offline_config(tmp_path, database="fuzz.db")
    async with AsyncExitStack() as stack:
        store = Store(config.database_url, Keyring.generate())
        await store.start(stack)
        yield Desk(config, store, make_processor(config, store, now=lambda: NOW),
                   set())


def check_headers(row: OutboxItem, config: Config) -> None:
    """Team members only; one line per header; nothing injected."""
    roster = {m.email for m in config.members} | {config.bot_address}
    assert set(row.recipients) <= roster, row.recipients
    head = row.raw.partition(b"\r\n\r\n")[0]
    names = []
    for line in head.split(b"\r\n"):
        assert b"\r" not in line and b"\n" not in line
        if line[:1] not in b" \t":
            names.append(line.split(b":", 1)[0].lower())
    assert b"bcc" not in names and b"x-note" not in names
    for once in (b"from", b"to", b"cc", b"subject", b"message-id", b"in-reply-to"):
        assert names.count(once) <= 1
    to = [line for line in head.split(b"\r\n") if line.lower().startswith(b"to:")]
    assert b"evil" not in b"".join(to).lower()


def read(row: OutboxItem) -> IncomingMail:
    return parse_mail(row.raw)


def html_of(row: OutboxItem) -> str:
    message = message_from_bytes(row.raw, policy=policy.default)
    return next(p.get_content() for p in message.walk() if p.get_content_type() == "text/html")


async def test_zip_bomb_is_measured_never_opened(desk: Desk) -> None:
    raw = corpus.zip_bomb_mail()
    tracemalloc.start()
    try:
        outcome, answers = await desk.handle(raw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert outcome.outcome == "answered"
    assert peak < 40 * len(raw)  # the 200 MiB inside were never unpacked
    assert parse_mail(raw).attachments[0].size < 300_000
    assert await desk.plans() == ["PPS-2026-0001"]  # the plan itself was fine
    assert len(answers) == 1 and "PPS-2026-0001" in read(answers[0]).subject


async def test_oversized_attachment_gets_a_precise_answer_and_nothing_recorded(
        desk: Desk) -> None:
    outcome, answers = await desk.handle(corpus.oversized_attachment_mail())
    assert outcome.outcome == "answered" and len(answers) == 1
    text = read(answers[0]).text
    assert "la pièce jointe n° 1 fait 11 Mo, au-delà de la limite de 10 Mo" in text
    assert "rien n'a été enregistré" in text
    assert await desk.plans() == []


async def test_crlf_in_the_subject_injects_no_header(desk: Desk) -> None:
    outcome, answers = await desk.handle(corpus.crlf_subject_mail())
    assert outcome.outcome == "answered" and len(answers) == 1
    assert set(answers[0].recipients) == {"claire.durand@medecin.mssante.test"}
    subject = read(answers[0]).subject
    assert "\r" not in subject and "\n" not in subject


async def test_crlf_in_field_values_injects_no_header(desk: Desk) -> None:
    outcome, answers = await desk.handle(corpus.crlf_fields_mail())
    assert outcome.outcome == "answered" and answers
    # check_headers ran on every answer: nothing reached a header.


async def test_html_in_fields_is_escaped_in_html_answers(desk: Desk) -> None:
    outcome, answers = await desk.handle(corpus.html_fields_mail())
    assert outcome.outcome == "answered" and answers
    for row in answers:
        html = html_of(row).lower()
        assert "<script" not in html and "<img" not in html and "<a href" not in html
        assert "javascript:x'>" not in html
    texts = " ".join(read(r).text for r in answers)
    htmls = " ".join(html_of(r) for r in answers)
    if "<script>" in texts:  # the value is quoted back: then escaped in HTML
        assert "&lt;script&gt;" in htmls


@pytest.mark.parametrize("number", range(len(corpus.LOOKALIKE_SENDERS)))
async def test_lookalike_sender_domains_get_silence(desk: Desk, number: int) -> None:
    outcome, answers = await desk.handle(corpus.lookalike_mail(number))
    assert (outcome.outcome, answers) == ("quarantined", [])


async def test_a_roster_name_with_an_outside_address_is_a_stranger(desk: Desk) -> None:
    outcome, answers = await desk.handle(corpus.roster_name_outside_address_mail())
    assert (outcome.outcome, answers) == ("quarantined", [])
    assert await desk.plans() == []


async def test_outside_addresses_never_enter_a_care_team(desk: Desk) -> None:
    outcome, answers = await desk.handle(corpus.outside_address_in_team_mail())
    assert outcome.outcome == "answered" and answers
    roster = {m.email for m in desk.config.members}
    for ref in await desk.plans():
        doc = await desk.store.run(lambda tx, ref=ref: tx.load_document("plan", ref))
        assert doc is not None
        assert set(doc.data["team"]) <= roster


async def test_forged_in_reply_to_is_refused_like_an_unknown_plan(desk: Desk) -> None:
    created, _ = await desk.handle(corpus.mail("NOUVEAU PPS", corpus.plan_body(order=20),
                                               mid="plan-of-claire"))
    assert created.outcome == "answered" and await desk.plans() == ["PPS-2026-0001"]
    # Karim is not in the care team of PPS-2026-0001.
    _, theirs = await desk.handle(corpus.forged_reply_mail("PPS-2026-0001", mid="forged-1"))
    _, unknown = await desk.handle(corpus.forged_reply_mail("PPS-2026-0099", mid="forged-2"))
    assert len(theirs) == len(unknown) == 1
    text_theirs = read(theirs[0]).text
    text_unknown = read(unknown[0]).text.replace("PPS-2026-0099", "PPS-2026-0001")
    assert text_theirs == text_unknown
    assert "MARTIN" not in text_theirs
    assert read(theirs[0]).subject == read(unknown[0]).subject
    # A reply to another deployment's acknowledgement names no plan of ours.
    _, other = await desk.handle(corpus.forged_reply_mail(
        "PPS-2026-0001", mid="forged-3", domain="esp-autre.mssante.test"))
    assert len(other) == 1 and "MARTIN" not in read(other[0]).text


def test_the_corpus_can_be_written_out(tmp_path: Path) -> None:
    small = {k: v for k, v in corpus.CORPUS.items() if k not in ("huge-50mb", "zip-bomb",
                                                                  "oversized-attachment")}
    original, corpus.CORPUS = corpus.CORPUS, small
    try:
        paths = corpus.write_corpus(tmp_path)
    finally:
        corpus.CORPUS = original
    assert len(paths) == len(small)
    for path in paths:
        assert parse_mail(path.read_bytes()).size == path.stat().st_size


@pytest.mark.parametrize("address", [
    "claire.durand@x.mssante.fr.evil.test", "claire.durand@mssante.fr.evil.test",
    "claire.durand@evilmssante.fr", "claire.durand@x.mssante.fr@evil.test",
    "claire.durand@x.mssante.fr.", "claire.durand@x.mssante.frr", "x.mssante.fr"])
def test_production_pattern_refuses_lookalikes(address: str) -> None:
    from esp_coord.config import domain_is_trusted

    trusted = ("*.mssante.fr",)
    assert domain_is_trusted("claire.durand@medecin.mssante.fr", trusted)
    if address.endswith("."):
        # A trailing dot is the same domain, fully qualified: still trusted.
        assert domain_is_trusted(address, trusted)
    else:
        assert not domain_is_trusted(address, trusted)
