"""A scripted team history for the report's tests: a plan created, a meeting
planned, a follow-up marked FAIT, the meeting's minutes (three present, one
decision), a stranger's mail quarantined, one answer sent 90 s after its mail;
through the service's own processor on a real store."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from esp_coord.bootstrap import make_processor
from esp_coord.config import Config
from esp_coord.crypto import Keyring
from esp_coord.plan_repo import KIND
from esp_coord.report.gather import build_report
from esp_coord.report.indicators import Report
from esp_coord.store import Store
from plans.model import Plan
from plans.periods import Period
from tests.support.mail import example

PARIS = ZoneInfo("Europe/Paris")
MINUTES = ("From: Ana COSTA <ana.costa@esp-valdelorge.mssante.test>\r\n"
           "To: coordination@esp-valdelorge.mssante.test\r\n"
           "Subject: COMPTE-RENDU RCP-2026-001\r\nMessage-ID: <cr1@esp-valdelorge.mssante.test>\r\n"
           "Date: Thu, 03 Dec 2026 15:00:00 +0100\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\n"
           "Présents : Claire DURAND, Julien MARIE, Karim BENALI\r\n"
           "PPS-2026-0001 : poursuite du plan, HbA1c dans 3 mois\r\n").encode()


async def scripted_history(config: Config, keyring: Keyring,
                           period: Period) -> tuple[Report, Plan]:
    clock = [datetime(2026, 11, 24, 9, 0, tzinfo=PARIS)]
    async with AsyncExitStack() as stack:
        store = Store(config.database_url, keyring)
        await store.start(stack)
        processor = make_processor(config, store, now=lambda: clock[0])
        for raw, at in ((example("01-nouveau-pps.eml"), datetime(2026, 11, 24, 9, 0)),
                        (example("04-rcp-nouvelle.eml"), datetime(2026, 11, 25, 9, 0)),
                        (example("05-fait.eml"), datetime(2026, 11, 26, 19, 30)),
                        (MINUTES, datetime(2026, 12, 3, 15, 0)),
                        (example("08-expediteur-inconnu.eml"), datetime(2026, 12, 3, 16, 0))):
            clock[0] = at.replace(tzinfo=PARIS)
            async with processor.batch():
                await processor.process(raw)

        def send_first(tx: object) -> None:  # the delivery's two marks, 90 s after the mail
            item = tx.outbox_due(clock[0] + timedelta(days=30))[0]  # type: ignore[attr-defined]
            tx.mark_sending(item.id, item.created_at)  # type: ignore[attr-defined]
            tx.mark_sent(item.id, item.created_at + timedelta(seconds=90))  # type: ignore[attr-defined]

        await store.run(send_first)
        report = await store.run(lambda tx: build_report(tx, config, period))
        plan = Plan.from_dict((await store.run(
            lambda tx: tx.load_document(KIND, "PPS-2026-0001"))).data)
    return report, plan


