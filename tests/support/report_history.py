"""A scripted team history for the report's tests: a plan created, a meeting
planned, the participants' calendar answers, a follow-up marked FAIT, the
meeting's minutes (three present, one decision), a stranger's mail
quarantined, one answer sent 90 s after its mail; through the service's own
processor on a real store.

The calendar answers to RCP-2026-001 (first Thursday of each month, from
3 December 2026), as Outlook and Thunderbird send them:

- Claire DURAND (médecin, Outlook) accepts the series;
- Julien MARIE (infirmier, Thunderbird) accepts the series, declining 7 January;
- Léa FONTAINE (diététicienne, Thunderbird) accepts the series, yet is not at
  the meeting of 3 December;
- Sophie LEROY (pharmacienne, Outlook) declines 3 December alone;
- Paul GIRARD (médecin, Outlook) sends an answer that names someone else as
  the attendee: not recorded, told to the coordination;
- Karim BENALI (kinésithérapeute) does not answer, and comes.

Claire also gives the plan a theme (« Thème : diabète », a MAJ), which
counts where the team declared its themes (``THEMES``).

So 3 December has three announced (Claire, Julien, Léa), one declined
(Sophie), three present (Claire, Julien, Karim)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import date, datetime, timedelta
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
from tests.support.calendar_replies import outlook_calendar, outlook_reply, thunderbird_reply
from tests.support.mail import example

PARIS = ZoneInfo("Europe/Paris")
MINUTES = ("From: Ana COSTA <ana.costa@esp-valdelorge.mssante.test>\r\n"
           "To: coordination@esp-valdelorge.mssante.test\r\n"
           "Subject: COMPTE-RENDU RCP-2026-001\r\nMessage-ID: <cr1@esp-valdelorge.mssante.test>\r\n"
           "Date: Thu, 03 Dec 2026 15:00:00 +0100\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\n"
           "Présents : Claire DURAND, Julien MARIE, Karim BENALI\r\n"
           "PPS-2026-0001 : poursuite du plan, HbA1c dans 3 mois\r\n").encode()
THEMES = ("Personnes âgées fragiles", "Diabète et maladies chroniques")
THEME = ("From: Claire DURAND <claire.durand@medecin.mssante.test>\r\n"
         "To: coordination@esp-valdelorge.mssante.test\r\n"
         "Subject: MAJ PPS-2026-0001\r\nMessage-ID: <theme1@medecin.mssante.test>\r\n"
         "Date: Tue, 24 Nov 2026 10:00:00 +0100\r\n"
         "Content-Type: text/plain; charset=utf-8\r\n\r\nThème : diabète\r\n").encode()


def calendar_answers() -> list[tuple[bytes, datetime]]:
    """The answers of the docstring, each with when it arrives."""
    def at(day: int, hour: int) -> datetime:
        return datetime(2026, 11, day, hour, 0, tzinfo=PARIS)

    claire = ("DURAND Claire", "claire.durand@medecin.mssante.test")
    paul = ("GIRARD Paul", "paul.girard@medecin.mssante.test")
    return [
        (outlook_reply(name=claire[0], address=claire[1], status="ACCEPTED", when=at(25, 10),
                       mid="c-accept"), at(25, 10)),
        (thunderbird_reply(name="Julien MARIE", address="julien.marie@infirmier.mssante.test",
                           status="ACCEPTED", when=at(25, 11), mid="j-accept",
                           days={date(2027, 1, 7): "DECLINED"}), at(25, 11)),
        (thunderbird_reply(name="Lea FONTAINE", address="lea.fontaine@dieteticien.mssante.test",
                           status="ACCEPTED", when=at(26, 8), mid="l-accept"), at(26, 8)),
        (outlook_reply(name="Sophie LEROY", address="sophie.leroy@pharmacien.mssante.test",
                       status="DECLINED", when=at(27, 9), mid="s-decline",
                       day=date(2026, 12, 3), comment="Désolée, je suis de garde."),
         at(27, 9)),
        (outlook_reply(name=paul[0], address=paul[1], status="ACCEPTED", when=at(27, 10),
                       mid="p-accept", calendar=outlook_calendar(
                           name=claire[0], address=claire[1], status="ACCEPTED",
                           when=at(27, 10))), at(27, 10)),
    ]


async def scripted_history(config: Config, keyring: Keyring,
                           period: Period) -> tuple[Report, Plan]:
    clock = [datetime(2026, 11, 24, 9, 0, tzinfo=PARIS)]
    async with AsyncExitStack() as stack:
        store = Store(config.database_url, keyring)
        await store.start(stack)
        processor = make_processor(config, store, now=lambda: clock[0])
        history = [(example("01-nouveau-pps.eml"), datetime(2026, 11, 24, 9, 0, tzinfo=PARIS)),
                   (THEME, datetime(2026, 11, 24, 10, 0, tzinfo=PARIS)),
                   (example("04-rcp-nouvelle.eml"), datetime(2026, 11, 25, 9, 0, tzinfo=PARIS)),
                   *calendar_answers(),
                   (example("05-fait.eml"), datetime(2026, 11, 26, 19, 30, tzinfo=PARIS)),
                   (MINUTES, datetime(2026, 12, 3, 15, 0, tzinfo=PARIS)),
                   (example("08-expediteur-inconnu.eml"),
                    datetime(2026, 12, 3, 16, 0, tzinfo=PARIS))]
        for raw, at in sorted(history, key=lambda item: item[1]):
            clock[0] = at
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


