"""The audit trail end to end: mails through the real mailbox leave chained
records naming who, what, which plan and which mail, and no patient data."""

from __future__ import annotations

import csv
import sqlite3
from datetime import date
from pathlib import Path

from sqlalchemy import update

from esp_coord.store.tables import audit_log
from tests.e2e.harness import Team
from tests.support.paths import EXAMPLES

ANA = "ana.costa@esp-valdelorge.mssante.test"
KARIM = "karim.benali@mk.mssante.test"
CLAIRE = "claire.durand@medecin.mssante.test"
LEA = "lea.fontaine@dieteticien.mssante.test"


def patient_strings() -> list[str]:
    """Every patient of the examples: names, INS, birth dates as people write them."""
    found: list[str] = []
    with (EXAMPLES / "patients.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            born = date.fromisoformat(row["birth_date"])
            found += [row["family_name"], row["given_name"], row["ins"], row["birth_date"],
                      f"{born:%d/%m/%Y}"]
    return found


async def test_status_and_done_by_mail_are_audited_without_patient_data(
        team: Team, example_messages: dict[str, bytes]) -> None:
    service = await team.start()
    for name in ("01-nouveau-pps", "03-statut-reponse", "05-fait"):
        await team.wait_answer(await team.submit(example_messages[name]))
    probe = (f"From: Lea FONTAINE <{LEA}>\r\nTo: {team.config.bot_address}\r\n"
             "Subject: STATUT PPS-2026-0001\r\nMessage-ID: <lea-1@esp.test>\r\n"
             "Date: Wed, 25 Nov 2026 08:30:00 +0100\r\n\r\nmerci\r\n").encode()
    await team.wait_answer(await team.submit(probe))

    def read(tx):  # type: ignore[no-untyped-def]
        return tx.audit_records("PPS-2026-0001"), tx.verify_audit()

    records, report = await service.store.run(read)
    assert [(r.actor, r.action, r.ref) for r in records] == [
        (CLAIRE, "create", "PPS-2026-0001"),
        (ANA, "status", "PPS-2026-0001"),
        (KARIM, "done", "PPS-2026-0001"),
        (LEA, "refused", "PPS-2026-0001"),
    ]
    assert [r.source_message_id for r in records] == [
        "<20261123091244.4411@medecin.mssante.test>", "<a1b2c3d4@esp-valdelorge.mssante.test>",
        "<k.benali.20261126@mk.mssante.test>", "<lea-1@esp.test>"]
    assert records[2].detail.startswith("action 3")
    assert report.intact and report.records == 4

    # Tampering through the database is caught on the service's own store.
    def tamper(tx):  # type: ignore[no-untyped-def]
        tx.connection.execute(update(audit_log).where(audit_log.c.id == 2)
                                    .values(actor=KARIM))
        return tx.verify_audit()

    broken = await service.store.run(tamper)
    assert broken.broken is not None and broken.broken.id == 2

    await team.stop()
    db = Path(team.config.database_url.split(":///", 1)[1])
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT * FROM audit_log").fetchall()
    stored = "\n".join(str(value) for row in rows for value in row)
    assert len(rows) == 4
    for secret in patient_strings():
        assert secret not in stored, secret
