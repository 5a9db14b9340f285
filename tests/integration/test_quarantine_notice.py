"""The coordinators' daily notice of quarantined mail, on a real store and a driven clock.

Mails go through the real processor; the reminder engine runs on the
``DrivenClock``; what it sends is read back from the outbox (the delivery is
not running, so every enqueued mail is still there, each exactly once).
"""

from __future__ import annotations

import dataclasses
import email.utils
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from esp_coord.bootstrap import make_processor
from esp_coord.intake import IncomingMail, parse_mail
from esp_coord.processing import Request
from esp_coord.scheduling.quarantine_notice import KIND, SOURCE, schedule
from esp_coord.store import Tx
from tests.integration.test_reminders_engine import Rig
from tests.support.crashing import Crash
from tests.support.mail import ANA, CLAIRE, JULIEN, example
from tests.support.store import Backend

PARIS = ZoneInfo("Europe/Paris")
STRANGER = "marc.petit@medecin.mssante.test"          # example 08: not on the roster
# Words of the quarantined mails' subjects and bodies: never in a notice.
SECRETS = ("STATUT PPS-2026-0001", "Mme MARTIN", "DUPONT Marcel", "248037505611878",
           "ulcère", "Copie falsifiée")


def plain(text: str | None) -> str:
    """Text with French typography's no-break spaces made ordinary."""
    return (text or "").replace("\u00a0", " ").replace("\u202f", " ")


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)  # type: ignore[misc]


def mail(sender: str, at: datetime, subject: str, body: str, mid: str) -> bytes:
    return (f"From: {sender}\r\nTo: coordination@esp-valdelorge.mssante.test\r\n"
            f"Subject: {subject}\r\nDate: {email.utils.format_datetime(at)}\r\n"
            f"Message-ID: <{mid}>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{body}\r\n").encode()


def two_coordinators(rig: Rig) -> None:
    """Claire (a referent) also coordinates: two coordinators, Ana and Claire."""
    members = tuple(dataclasses.replace(m, roles=m.roles | {"coordinator"})
                    if m.email == CLAIRE else m for m in rig.config.members)
    rig.config = dataclasses.replace(rig.config, members=members)


async def notices(rig: Rig) -> list[tuple[str, IncomingMail]]:
    """(recipient, mail) of every quarantine notice in the outbox."""
    def read(tx: Tx) -> list[tuple[str, IncomingMail]]:
        items = tx.outbox_due(datetime(2100, 1, 1, tzinfo=UTC), limit=100_000)
        return [(r, parse_mail(i.raw)) for i in items
                if (i.cause or "").startswith(f"reminder:{SOURCE}:") for r in i.recipients]
    return await rig.store.run(read)


async def rows(rig: Rig) -> list[str]:
    return [f"{r.recipient} {r.status}"
            for r in await rig.store.run(lambda tx: tx.reminders_of(SOURCE))]


async def test_each_coordinator_told_once_without_content_then_only_new_mails(
        tmp_path: Path, backend: Backend) -> None:
    # On SQLite and on PostgreSQL, with restarts.
    rig = Rig(tmp_path, paris(2026, 11, 27, 9, 0), backend=backend)
    two_coordinators(rig)
    await rig.start()
    try:
        await rig.mail(example("08-expediteur-inconnu.eml"))                 # 12:00
        await rig.mail(mail("Infirmière NOUVELLE <nouvelle.ide@infirmier.mssante.test>",
                            paris(2026, 11, 27, 15, 42), "Plaie de DUPONT Marcel",
                            "INS 248037505611878, ulcère du talon.", "n-1@infirmier.test"))
        await rig.mail(mail(f"Coordination <{rig.config.bot_address}>",
                            paris(2026, 11, 27, 16, 5), "Copie falsifiée",
                            "Mme MARTIN", f"fake-1@{rig.config.message_id_domain}"))
        # Neither answered mails nor automatic ones are quarantined.
        await rig.mail(mail(f"Julien MARIE <{JULIEN}>", paris(2026, 11, 27, 16, 30),
                            "AIDE", "AIDE", "aide-1@infirmier.mssante.test"))
        await rig.mail(example("09-absence-auto.eml").replace(
            b"Tue, 15 Dec 2026 08:00:03", b"Fri, 27 Nov 2026 16:40:00"))
        assert await notices(rig) == []
        await rig.run_until(paris(2026, 11, 28, 7, 59))
        assert await notices(rig) == []                      # not before the hour

        await rig.run_until(paris(2026, 11, 28, 12, 0))
        sent = await notices(rig)
        assert sorted(r for r, _ in sent) == [ANA, CLAIRE]  # the coordinators, once each
        for _, notice in sent:
            assert notice.date is not None and notice.date.astimezone(PARIS).hour == 8
            assert "quarantaine : 3" in plain(notice.subject)
            text = plain(notice.text)
            assert "Le 27/11/2026 à 12h00, de marc.petit@medecin.mssante.test" in text
            assert "Le 27/11/2026 à 15h42, de nouvelle.ide@infirmier.mssante.test" in text
            assert "Le 27/11/2026 à 16h05, de coordination@esp-valdelorge" in text
            assert text.count("expéditeur absent de l'annuaire de l'équipe") == 2
            assert "copie d'une réponse du service" in text
            assert "« Quarantaine »" in text and "annuaire" in text
            assert JULIEN not in text
            for secret in SECRETS:
                assert secret not in text and secret not in (notice.subject or "")

        # Restarted (as after a crash): nothing again, nor the next day.
        await rig.stop()
        await rig.start()
        await rig.run_until(paris(2026, 11, 30, 12, 0))
        assert len(await notices(rig)) == 2

        # A new quarantined mail: reported alone, the next day at the hour.
        await rig.clock.set(paris(2026, 11, 30, 18, 0))
        await rig.mail(mail(STRANGER, paris(2026, 11, 30, 18, 0), "STATUT PPS-2026-0001",
                            "Mme MARTIN", "mp-2@medecin.mssante.test"))
        await rig.run_until(paris(2026, 12, 2, 12, 0))
        later = (await notices(rig))[2:]
        assert sorted(r for r, _ in later) == [ANA, CLAIRE]
        for _, notice in later:
            assert "quarantaine : 1" in plain(notice.subject)
            assert "Le 30/11/2026 à 18h00, de marc.petit" in plain(notice.text)
            assert "27/11/2026" not in notice.text
        assert all(row.endswith(" sent") for row in await rows(rig))
        assert len(await rows(rig)) == 4
    finally:
        await rig.stop()


async def test_nothing_quarantined_nothing_planned_nothing_sent(tmp_path: Path) -> None:
    rig = Rig(tmp_path, paris(2026, 11, 23, 9, 0))
    await rig.start()
    try:
        await rig.mail(example("01-nouveau-pps.eml"))
        await rig.mail(example("09-absence-auto.eml").replace(
            b"Tue, 15 Dec 2026 08:00:03", b"Mon, 23 Nov 2026 10:00:00"))
        await rig.run_until(paris(2026, 11, 30, 12, 0))
        assert await rows(rig) == []
        assert await notices(rig) == []
    finally:
        await rig.stop()


async def test_just_before_the_hour_and_handler_failures_wait_for_the_next_day(
        tmp_path: Path) -> None:
    rig = Rig(tmp_path, paris(2026, 11, 27, 7, 0))
    await rig.start()
    try:
        await rig.mail(mail(STRANGER, paris(2026, 11, 27, 7, 58), "STATUT PPS-2026-0001",
                            "Mme MARTIN", "mp-3@medecin.mssante.test"))

        def broken(request: Request) -> list[object]:
            raise RuntimeError("DUPONT Marcel")  # a handler bug quoting the mail

        failing = make_processor(rig.config, rig.store, now=rig.clock.now, handler=broken)
        await rig.clock.set(paris(2026, 11, 27, 9, 0))
        await failing.process(mail(f"Julien MARIE <{JULIEN}>", paris(2026, 11, 27, 9, 0),
                                   "Plaie de DUPONT Marcel", "ulcère",
                                   "boom-1@infirmier.mssante.test"))
        assert rig.engine is not None
        await rig.engine.notify_changed()
        await rig.run_until(paris(2026, 11, 27, 12, 0))
        # 07:58 is within the settling margin of 08:00: reported on the 28th.
        assert await notices(rig) == []
        await rig.run_until(paris(2026, 11, 28, 12, 0))
        ((to, notice),) = await notices(rig)
        assert to == ANA
        assert "Le 27/11/2026 à 7h58, de marc.petit" in plain(notice.text)
        assert f"Le 27/11/2026 à 9h00, de {JULIEN}" in plain(notice.text)
        assert "erreur interne" in notice.text
        for secret in SECRETS:
            assert secret not in notice.text
    finally:
        await rig.stop()


async def test_a_mail_stamped_before_the_hour_but_committed_after_is_reported_next_day(
        tmp_path: Path, backend: Backend) -> None:
    rig = Rig(tmp_path, paris(2026, 11, 27, 7, 0), backend=backend)
    await rig.start()
    try:
        await rig.mail(mail(STRANGER, paris(2026, 11, 27, 7, 0), "STATUT PPS-2026-0001",
                            "Mme MARTIN", "mp-4@medecin.mssante.test"))
        await rig.run_until(paris(2026, 11, 27, 8, 0))
        assert len(await notices(rig)) == 1

        # What a processor transaction opened at 07:59:58 and committed after
        # the 08:00 notice was composed writes.
        stamped = paris(2026, 11, 27, 7, 59, 58)

        def late_commit(tx: Tx) -> None:
            tx.record_processed(dedup_key="late-1", message_id="<late-1@x.test>",
                                      sender="late@infirmier.mssante.test",
                                      outcome="quarantined", folder="Quarantaine", at=stamped,
                                      reason="not-on-roster")
            schedule(tx, rig.config, stamped)

        await rig.store.run(late_commit)
        assert rig.engine is not None
        await rig.engine.notify_changed()
        await rig.run_until(paris(2026, 11, 28, 12, 0))
        first, second = await notices(rig)
        assert "marc.petit" in first[1].text and "late@" not in first[1].text
        assert "Le 27/11/2026 à 7h59, de late@infirmier.mssante.test" in plain(second[1].text)
        assert "marc.petit" not in second[1].text
    finally:
        await rig.stop()


async def test_killed_before_the_row_is_marked_then_down_a_day_reports_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rig = Rig(tmp_path, paris(2026, 11, 27, 9, 0))
    await rig.start()
    await rig.mail(example("08-expediteur-inconnu.eml"))
    armed = {"on": True}
    original = Tx.mark_reminder_sent

    def dying(self: Tx, reminder_id: int, now: datetime, late: bool) -> bool:
        if armed["on"]:
            raise Crash("after the notice was enqueued, before its row is marked")
        return original(self, reminder_id, now, late)

    monkeypatch.setattr(Tx, "mark_reminder_sent", dying)
    assert rig.engine is not None
    await rig.clock.set(paris(2026, 11, 28, 8, 0))
    with pytest.raises(Crash):
        await rig.engine.dispatch_due()
    assert await notices(rig) == []          # the enqueue and the claim rolled back
    await rig.stop()
    armed["on"] = False
    await rig.clock.set(paris(2026, 11, 29, 10, 0))  # down across the next hour too
    await rig.start()
    try:
        ((to, notice),) = await notices(rig)
        assert to == ANA and "Le 27/11/2026 à 12h00, de marc.petit" in plain(notice.text)
        (row,) = await rig.store.run(lambda tx: tx.reminders_of(SOURCE))
        assert row.kind == KIND and row.status == "sent" and row.late
        await rig.stop()
        await rig.start()
        await rig.run_until(paris(2026, 12, 1, 12, 0))
        assert len(await notices(rig)) == 1
    finally:
        await rig.stop()
