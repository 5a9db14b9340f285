"""A member's mail with UTF-8 ids (RFC 6532) is always answered, through the
real Processor into a SQLite outbox: by its handler's answer, and by the
failure answer when the handler fails. Observed before: neither could be
built, and the member got no answer at all."""

from __future__ import annotations

import email
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import pytest

from esp_coord import processing
from esp_coord.bootstrap import make_processor
from esp_coord.crypto import Keyring
from esp_coord.store import Store
from tests.support.config import offline_config

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
JULIEN = "julien.marie@infirmier.mssante.test"

IDS = [
    ("<idé.1@infirmier.mssante.test>", "<root@x.test> <ré@infirmier.mssante.test>"),
    ("<\u4e2d\u6587@example.cn>", "<\u4e2d@example.cn>"),
    ("<a b@x.test>", "<a(b)@x.test> <ok@x.test>"),
    ('<"quoted"@x.test>', "<@x.test>"),
    ("<" + "é" * 400 + "@x.test>", "<root@x.test>"),
]


def mail(message_id: str, references: str) -> bytes:
    return (f"From: Julien MARIE <{JULIEN}>\r\nTo: coordination@esp-valdelorge.mssante.test\r\n"
            "Subject: AIDE « équipe » ça\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\n"
            f"Message-ID: {message_id}\r\nIn-Reply-To: {message_id}\r\n"
            f"References: {references}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nAIDE\r\n").encode()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[tuple[Store, Path]]:
    config = offline_config(tmp_path, database="fuzz.db")
    async with AsyncExitStack() as stack:
        store = Store(config.database_url, Keyring.generate())
        await store.start(stack)
        yield store, tmp_path


async def _sent(store: Store) -> list[bytes]:
    rows = await store.run(lambda tx: tx.outbox_due(NOW + timedelta(days=1)))
    return [row.raw for row in rows]


def _check(raw: bytes) -> email.message.EmailMessage:
    head = raw.partition(b"\r\n\r\n")[0]
    assert head.isascii()
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, email.message.EmailMessage)
    assert [a.addr_spec for a in message["To"].addresses] == [JULIEN]
    assert str(message["Subject"]) == "RE: AIDE « équipe » ça"
    for name in ("In-Reply-To", "References"):
        assert message[name] is None or str(message[name]).isascii()
    return message


@pytest.mark.parametrize(("message_id", "references"), IDS)
async def test_the_handler_answer_goes_out(store: tuple[Store, Path], message_id: str,
                                           references: str) -> None:
    db, folder = store
    config = offline_config(folder, database="fuzz.db")
    processor = make_processor(config, db, now=lambda: NOW)
    outcome = await processor.process(mail(message_id, references))
    assert (outcome.outcome, outcome.answers) == ("answered", 1)
    (raw,) = await _sent(db)
    _check(raw)


@pytest.mark.parametrize(("message_id", "references"), IDS)
async def test_the_failure_answer_goes_out(store: tuple[Store, Path], message_id: str,
                                           references: str) -> None:
    db, folder = store
    config = offline_config(folder, database="fuzz.db")

    def broken(request: processing.Request) -> list:  # type: ignore[type-arg]
        raise RuntimeError("handler bug")

    processor = make_processor(config, db, now=lambda: NOW, handler=broken)
    outcome = await processor.process(mail(message_id, references))
    assert (outcome.outcome, outcome.answers) == ("failed", 1)
    (raw,) = await _sent(db)
    message = _check(raw)
    assert "erreur interne" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
