"""INDICATEURS by mail: the report for the coordination, an unknown command
for anyone else (the real processor on the in-memory store)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from esp_coord.bootstrap import make_processor
from esp_coord.processing import Processor
from esp_coord.store.memory import MemoryStore
from tests.support.config import offline_config
from tests.support.mail import example, mail

PARIS = ZoneInfo("Europe/Paris")
ANA = "ana.costa@esp-valdelorge.mssante.test"
NURSE = "julien.marie@infirmier.mssante.test"
NOW = datetime(2027, 1, 5, 9, 0, tzinfo=PARIS)


@pytest.fixture
async def desk() -> AsyncIterator[tuple[MemoryStore, Processor]]:
    async with AsyncExitStack() as stack:
        store = MemoryStore()
        await store.start(stack)
        clock = [datetime(2026, 11, 24, 9, 0, tzinfo=PARIS)]
        processor = make_processor(offline_config(), store, now=lambda: clock[0])
        async with processor.batch():
            await processor.process(example("01-nouveau-pps.eml"))
        clock[0] = NOW
        yield store, processor


async def answer_to(desk: tuple[MemoryStore, Processor], subject: str,
                    sender: str) -> EmailMessage:
    store, processor = desk
    raw = mail(subject, "", sender=sender, name="")
    async with processor.batch():
        await processor.process(raw)
    items = await store.run(lambda tx: tx.outbox_due(datetime(2030, 1, 1, tzinfo=PARIS)))
    last = await store.run(lambda tx: tx.outbox_item(items[-1].id))
    assert last is not None and last.recipients == (sender,)
    message = email.message_from_bytes(last.raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


async def test_the_coordination_gets_the_figures_and_the_files(desk: tuple) -> None:
    answer = await answer_to(desk, "INDICATEURS T4 2026", ANA)
    text = text_of(answer)
    assert "T4 2026" in str(answer["Subject"])
    assert "- Plans créés : 1" in text  # exact in the mail: the coordination is the team
    files = {p.get_filename(): p for p in answer.iter_attachments()}
    assert set(files) == {f"rapport-activite-T4-2026.{x}" for x in ("html", "pdf", "csv")}
    html = files["rapport-activite-T4-2026.html"].get_content()
    assert 'id="plans_created"' in html and "&lt;\xa05" in html  # one plan: hidden outside
    assert "MARTIN" not in html and "MARTIN" not in text
    assert files["rapport-activite-T4-2026.pdf"].get_content().startswith(b"%PDF-")
    assert "plans_created;<5" in files["rapport-activite-T4-2026.csv"].get_content()
    store, _ = desk
    records = await store.run(lambda tx: tx.audit_records(actor=ANA))
    assert [r.action for r in records][-1] == "indicators"


async def test_a_period_not_understood_is_answered_with_an_example(desk: tuple) -> None:
    text = text_of(await answer_to(desk, "INDICATEURS l'an passé", ANA))
    assert "n’est pas une période reconnue" in text and "INDICATEURS T3 2026" in text


async def test_for_anyone_else_it_is_an_unknown_command(desk: tuple) -> None:
    refused = text_of(await answer_to(desk, "INDICATEURS T4 2026", NURSE))
    unknown = text_of(await answer_to(desk, "INDICATORS T4 2026", NURSE))
    assert "n'est pas une commande" in refused
    # The same answer as an unknown word's, and the command never suggested.
    assert refused.replace("INDICATEURS", "INDICATORS") == unknown
    assert refused.count("INDICATEURS") == 1  # the quote of what was written, only
    assert "INDICATEURS" not in text_of(await answer_to(desk, "AIDE", NURSE))
    assert "INDICATEURS T3 2026" in text_of(await answer_to(desk, "AIDE", ANA))
