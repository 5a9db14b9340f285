"""The Processor's last line of defence holds when the mail also breaks the
rendering of the failure answer: the mail is quarantined, nothing escapes."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest

from esp_coord import processing
from esp_coord.bootstrap import make_processor
from esp_coord.crypto import Keyring
from esp_coord.store import Store
from tests.support.config import offline_config

RAW = (b"From: Claire DURAND <claire.durand@medecin.mssante.test>\r\n"
       b"Subject: AIDE\r\nMessage-ID: <defence-1@medecin.mssante.test>\r\n\r\nAIDE\r\n")


async def test_failure_answer_that_cannot_be_rendered(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    config = offline_config(tmp_path, database="fuzz.db")

    def broken_handler(request: processing.Request) -> list:  # type: ignore[type-arg]
        raise RuntimeError("handler bug")

    def broken_render(*args: object, **kwargs: object) -> None:
        raise UnicodeEncodeError("ascii", "x", 0, 1, "rendering bug")

    monkeypatch.setattr(processing, "render_answer", broken_render)
    async with AsyncExitStack() as stack:
        store = Store(config.database_url, Keyring.generate())
        await store.start(stack)
        processor = make_processor(config, store, handler=broken_handler,
                                   now=lambda: datetime(2026, 11, 23, 9, tzinfo=UTC))
        outcome = await processor.process(RAW)
        assert (outcome.outcome, outcome.folder, outcome.answers) == (
            "failed", config.folders.quarantine, 0)
        again = await processor.process(RAW)
        assert again.replayed
        stats = await store.run(lambda tx: tx.outbox_stats())
        assert not any(stats.values())
