"""Witness copies are recognised from their headers alone, exactly as a full parse would."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

from esp_coord.answers import Answer, render_answer
from esp_coord.config import Config, config_from_dict
from esp_coord.intake import parse_mail
from esp_coord.processing import Processor
from tests.e2e.test_mail_path import mail

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "esp.example.toml"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _config() -> Config:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for server in ("imap", "smtp"):
        data[server] = {"host": "127.0.0.1", "security": "none", "auth": "none"}
    return config_from_dict(data, path=EXAMPLE)


def _processor(config: Config) -> Processor:
    async def handler(request):  # type: ignore[no-untyped-def]
        return []

    return Processor(config=config, store=None, handler=handler,  # type: ignore[arg-type]
                     now=lambda: NOW)


def test_own_answer_is_read_from_headers_with_the_full_parse_s_identity() -> None:
    config = _config()
    incoming = parse_mail(mail("AIDE", "Bonjour"))
    for answer in (Answer(subject="Aide", text="Voici l'aide.\n"),
                   Answer(subject="[PPS-2026-0001] Plan créé", text="Créé.\n",
                          message_id_tag="PPS-2026-0001.ack.1", stable_id=True)):
        raw = render_answer(answer, config=config, now=NOW, incoming=incoming).raw
        fast = _processor(config)._own_copy(raw)
        full = parse_mail(raw)
        assert fast is not None
        assert (fast.dedup_key, fast.message_id, fast.from_address) == (
            full.dedup_key, full.message_id, full.from_address)


def test_other_mail_gets_the_full_parse() -> None:
    config = _config()
    processor = _processor(config)
    assert processor._own_copy(mail("AIDE", "Bonjour")) is None
    # Our address in From but a Message-ID we did not make: not one of our answers.
    forged = mail("AIDE", "x", sender=config.bot_address, name="Coordination").replace(
        b"@esp-valdelorge.mssante.test>", b"@elsewhere.test>")
    assert b"elsewhere.test>" in forged
    assert processor._own_copy(forged) is None
    assert processor._own_copy(b"From: " + config.bot_address.encode() + b"\r\nno body") is None
