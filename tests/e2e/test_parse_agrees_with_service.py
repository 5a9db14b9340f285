"""``esp-coord parse`` and the service never disagree: the ten examples go
through ``interpret`` and, in order, through the service's processor on a
SQLite store; what parse announced is what the service did."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
from contextlib import AsyncExitStack
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from esp_coord.bootstrap import make_processor
from esp_coord.config import Config
from esp_coord.crypto import Keyring
from esp_coord.intake import parse_mail
from esp_coord.interpret import interpret
from esp_coord.offline_config import load_offline_config
from esp_coord.store import Store
from plans.model import Plan

CONFIG = Path(__file__).resolve().parents[2] / "config" / "esp.example.toml"


@dataclasses.dataclass
class Done:
    outcome: str
    answers: list[tuple[str, str]]  # (subject, plain text)
    plans: dict[str, Plan]  # every plan after this mail


def _readable(raw: bytes) -> tuple[str, str]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(("plain",))
    return str(message["Subject"] or ""), str(body.get_content() if body else "")  # type: ignore[union-attr]


async def replay(config: Config, mails: dict[str, bytes]) -> dict[str, Done]:
    store = Store(config.database_url, Keyring.generate())
    done: dict[str, Done] = {}
    async with AsyncExitStack() as stack:
        await store.start(stack)
        for stem, raw in mails.items():
            sent = parse_mail(raw).date
            assert sent is not None
            at = sent + timedelta(minutes=1)
            processor = make_processor(config, store, now=lambda at=at: at)  # type: ignore[misc]
            outcome = await processor.process(raw)

            def take(tx, at=at):  # type: ignore[no-untyped-def]
                items = tx.outbox_due(at + timedelta(days=1))
                for item in items:
                    tx.mark_sent(item.id, at)
                docs = tx.find_documents("plan")
                return [i.raw for i in items], {d.ref: Plan.from_dict(d.data) for d in docs}

            raws, plans = await store.run(take)
            done[stem] = Done(outcome.outcome, [_readable(r) for r in raws], plans)
    return done


@pytest.fixture(scope="module")
def both(example_messages: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory
         ) -> list[tuple[str, dict[str, Any], Done]]:
    config = load_offline_config(CONFIG)
    folder = tmp_path_factory.mktemp("agree")
    config = dataclasses.replace(config, database_url=f"sqlite:///{folder / 'e.db'}")
    done = asyncio.run(replay(config, example_messages))
    return [(stem, interpret(raw, config), done[stem]) for stem, raw in example_messages.items()]


def test_ignored_exactly_when_the_service_does_not_answer(
        both: list[tuple[str, dict[str, Any], Done]]) -> None:
    for stem, report, done in both:
        ignored = report["command"] == "ignored"
        assert ignored == (done.outcome != "answered"), (stem, report["ignored_reason"],
                                                         done.outcome)
        assert ignored == (not done.answers), stem


def test_errors_exactly_when_the_service_refuses(
        both: list[tuple[str, dict[str, Any], Done]]) -> None:
    compared = 0
    for stem, report, done in both:
        if not done.answers or "pas encore disponible" in done.answers[0][0]:
            continue
        subject, text = done.answers[0]
        refused = "Rien n'a été" in text
        assert bool(report["errors"]) == refused, (stem, subject, report["errors"])
        if report["plan_ref"]:
            assert report["plan_ref"] in subject, (stem, subject)
        compared += 1
    assert compared >= 7


def test_actions_as_the_plan_stores_them(
        both: list[tuple[str, dict[str, Any], Done]]) -> None:
    """Assignee, rhythm, first due date, end and time of every action parse shows are
    those of the actions the service added to the plan."""
    checked = 0
    for stem, report, done in both:
        if report["command"] not in ("create_plan", "update_plan") or report["errors"]:
            continue
        ref = report["plan_ref"] or next(
            ref for ref, plan in done.plans.items()
            if plan.patient.ins == report["patient"]["ins"])
        added = done.plans[ref].actions[-len(report["actions"]):]
        stored = [(a.assignee, a.what, a.due.isoformat() if a.due else None,
                   a.when.rhythm.to_rrule() if a.when.rhythm else None,
                   a.when.until.isoformat() if a.when.until else None,
                   a.when.time_of_day.isoformat("minutes") if a.when.time_of_day else None)
                  for a in added]
        shown = [(a["assignee"], a["what"], a["due"], a["rhythm"], a["until"], a["time"])
                 for a in report["actions"]]
        assert shown == stored, stem
        checked += 1
    assert checked == 4  # 01, 02, 07, 10
