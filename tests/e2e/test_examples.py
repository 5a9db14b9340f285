"""The example team's mails, replayed in order through the real mailbox.

What must happen is written in ../shared/examples/README.md; each assertion
below is one line of that table (04, the meeting, is followed further, through
its reminders, in test_meetings.py).
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest

from esp_coord.clock import DrivenClock
from esp_coord.store import Store
from plans.meetings import Meeting
from plans.model import Plan
from plans.protocols import load_library
from plans.typography import NBSP, NNBSP
from tests.e2e.harness import Team


def plain(text: str) -> str:
    return text.replace(NBSP, " ").replace(NNBSP, " ")


async def load(store: Store, ref: str) -> tuple[Plan, int]:
    doc = await store.run(lambda tx: tx.load_document("plan", ref))
    assert doc is not None, ref
    return Plan.from_dict(doc.data), doc.version


PATIENT_STRINGS = ("MARTIN", "Jeanne", "248037505611878", "1948-03-12", "PETIT", "Odette",
                   "241062A00402743", "déambulateur", "fille présente")


async def test_examples_replayed_in_order(team: Team, example_messages: dict[str, bytes],
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    first = example_messages["01-nouveau-pps"]
    from esp_coord.intake import parse_mail

    clock = DrivenClock(parse_mail(first).date)  # type: ignore[arg-type]
    service = await team.start(clock=clock)
    store = service.store
    answers: dict[str, str] = {}
    for name, raw in example_messages.items():
        mail = parse_mail(raw)
        if mail.date is not None:
            await clock.set(mail.date)
        mail = await team.submit(raw)
        outcome = await team.wait_outcome(mail)
        if outcome == "answered":
            answers[name] = (await team.wait_answer(mail)).text
        else:
            answers[name] = outcome

    # 01: the plan, its team, its actions and the protocol's follow-ups.
    plan, _ = await load(store, "PPS-2026-0001")
    julien, sophie, karim, claire = ("julien.marie@infirmier.mssante.test",
                                     "sophie.leroy@pharmacien.mssante.test",
                                     "karim.benali@mk.mssante.test",
                                     "claire.durand@medecin.mssante.test")
    own = [a for a in plan.actions if a.protocol is None]
    assert [(a.number, a.assignee) for a in own[:4]] == [(1, julien), (2, sophie), (3, karim),
                                                          (4, claire)]
    assert plan.action(2).due == date(2026, 12, 15) and plan.action(2).when.rhythm is None
    assert plan.action(4).when.rhythm is not None and plan.action(4).when.rhythm.interval == 3
    follow = [a for a in plan.actions if a.protocol == "diabete-type-2"]
    protocol = load_library()["diabete-type-2"]
    assert [a.what for a in follow] == [f.what for f in protocol.follow_ups]
    assert [a.number for a in follow] == list(range(5, 5 + len(follow)))
    assert all(a.assignee in plan.team and a.due is not None for a in follow)
    ack01 = plain(answers["01-nouveau-pps"])
    # Written at 09:12, after that day's reminders: the rhythm starts the next day.
    assert ("1. IDE Julien MARIE : surveillance glycémies et poids, examen des pieds - chaque "
            "semaine, prochaine le 24/11/2026") in ack01
    assert "2. pharmacien Sophie LEROY : bilan partagé de médication - le 15/12/2026" in ack01
    for action in follow:
        assert f"{action.number}. " in ack01 and action.what in ack01, action.what
    assert ack01.count("(protocole diabete-type-2)") == len(follow)
    assert plan.patient.family_name == "MARTIN" and plan.patient.ins == "248037505611878"
    assert len(plan.problems) == 3 + 1          # + 10's problem
    assert len(plan.objectives) == 2
    assert [p.name for p in plan.protocols] == ["diabete-type-2"]
    assert plan.review_date == date(2027, 5, 15)
    assert plan.team[:4] == ["claire.durand@medecin.mssante.test",
                             "julien.marie@infirmier.mssante.test",
                             "sophie.leroy@pharmacien.mssante.test",
                             "karim.benali@mk.mssante.test"]
    assert len(plan.alerts) == 1
    assert "PPS-2026-0001" in answers["01-nouveau-pps"]
    # 02: found by In-Reply-To/subject tag; only the lines above the quote count; the
    # plan's version goes up (1: 01, 2: 02, then 05 and 10).
    assert "éducation à l'autosurveillance glycémique" in answers["02-maj-pps-reponse"]
    assert any("fille présente le mercredi" in n.text for n in plan.notes)
    assert [(v.number, v.author) for v in plan.versions[:2]] == [(1, claire), (2, julien)]
    assert "CAJm5xYz.20261124180310@infirmier.mssante.test" in (
        plan.versions[1].source_message_id or "")
    assert plan.version == 4
    assert "mis à jour : version 2" in plain(answers["02-maj-pps-reponse"])
    added = own[4]
    assert added.assignee == julien and added.due == date(2026, 12, 1)
    # 03: the status of PPS-2026-0001 to the coordinator: every action of the plan as it
    # was then (01's and 02's), with its state.
    status = plain(answers["03-statut-reponse"])
    assert status.startswith("Plan PPS-2026-0001 - MARTIN Jeanne (née le 12/03/1948) : actif, "
                             "version 2.")
    listed = [ln for ln in status.split("Actions :\n", 1)[1].split("\n\n", 1)[0].splitlines()]
    assert [ln.split(".", 1)[0].strip() for ln in listed] == [
        str(n) for n in range(1, added.number + 1)]
    assert "2. pharmacien Sophie LEROY : bilan partagé de médication - prévue le 15/12/2026" \
        in status
    assert "EN RETARD depuis le 24/11/2026" in listed[0]  # weekly from 24/11, not done yet
    assert f"{added.number}. IDE Julien MARIE : éducation à l'autosurveillance glycémique - " \
        "prévue le 01/12/2026" in status
    late = sum("EN RETARD" in ln for ln in listed)
    assert late >= 1 and f"{added.number} actions en cours, {late} en retard" in status
    # 05: action 3 done for this occurrence, next one scheduled, body kept.
    action3 = plan.action(3)
    assert action3.status == "todo" and len(action3.done) == 1
    assert "déambulateur" in action3.done[0].comment
    assert action3.due is not None and action3.due > date(2026, 11, 26)
    # 04: RCP-2026-001 on 03/12/2026 12:30-14:00 Paris, first Thursday monthly,
    # everyone invited, PPS-2026-0001 on its agenda, reminders scheduled.
    assert "RCP-2026-001" in answers["04-rcp-nouvelle"]
    assert "PPS-2026-0001" in answers["04-rcp-nouvelle"]
    doc = await store.run(lambda tx: tx.load_document("meeting", "RCP-2026-001"))
    assert doc is not None
    meeting = Meeting.from_dict(doc.data)
    assert meeting.start.isoformat() == "2026-12-03T12:30:00+01:00"
    assert meeting.duration_minutes == 90 and meeting.everyone
    assert meeting.rhythm is not None and meeting.rhythm.to_rrule() == \
        "FREQ=MONTHLY;BYDAY=TH;BYSETPOS=1"
    assert meeting.plans == ["PPS-2026-0001"]
    assert all(any(b"text/calendar" in m.content for m in team.front.messages
                   if member.email in m.rcpt_tos) for member in team.config.members)
    pending = await store.run(lambda tx: tx.reminders_of("RCP-2026-001", status="pending"))
    assert {r.recipient for r in pending} == {m.email for m in team.config.members}
    # 06: nothing created, the four problems with their lines.
    text06 = answers["06-erreurs"]
    assert "Rien n'a été enregistré" in text06
    for expected in ("Ligne 2", "31 février", "87", "podologue", "quatre jeudis"):
        assert expected in text06, expected
    # 07: HTML-only mail becomes plan 2, IDE is the only nurse.
    plan2, _ = await load(store, "PPS-2026-0002")
    assert plan2.patient.ins == "241062A00402743"
    assert plan2.patient.birth_date == date(1941, 6, 25)
    assert plan2.actions[0].assignee == "julien.marie@infirmier.mssante.test"
    # 08 and 09: silence.
    assert answers["08-expediteur-inconnu"] == "quarantined"
    assert answers["09-absence-auto"] == "ignored"
    assert team.answers_to("marc.petit@medecin.mssante.test") == []
    # 10: latin-1 quoted-printable, upper-case keys: every 2 days until 31/12.
    heel = plan.actions[-1]
    assert "talon" in heel.what
    assert heel.when.rhythm is not None and heel.when.rhythm.interval == 2
    assert heel.when.until == date(2026, 12, 31)
    # No third plan: 06 created nothing.
    assert await store.run(lambda tx: tx.load_document("plan", "PPS-2026-0003")) is None

    # Patient data is in no log line and nowhere in clear in the database files.
    # (Our own loggers, at every level. Library loggers that echo protocol
    # lines, like aiosmtpd's or aioimaplib's, are kept at WARNING by the CLI.)
    logged = "\n".join(r.getMessage() for r in caplog.records
                       if r.name.split(".")[0] in ("esp_coord", "adapters", "plans"))
    db_file = Path(team.config.database_url.split(":///", 1)[1])
    await team.stop()
    stored = b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*"))
    for secret in PATIENT_STRINGS:
        assert secret not in logged, secret
        assert secret.encode() not in stored, secret


async def test_reply_statut_to_an_acknowledgement_finds_the_plan(team: Team,
                                                                 example_messages) -> None:
    await team.start()
    created = await team.submit(example_messages["01-nouveau-pps"])
    ack = await team.wait_answer(created)
    reply = (f"From: Ana COSTA <ana.costa@esp-valdelorge.mssante.test>\r\n"
             f"To: coordination@esp-valdelorge.mssante.test\r\nSubject: Re: merci\r\n"
             f"Date: Wed, 25 Nov 2026 08:30:00 +0100\r\nMessage-ID: <reply-1@esp.test>\r\n"
             f"In-Reply-To: {ack.message_id}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
             "statut\r\n\r\n> FAIT 2\r\n").encode()
    status = await team.wait_answer(await team.submit(reply))
    assert "PPS-2026-0001" in status.text and "MARTIN" in status.text


async def test_a_member_outside_the_team_learns_nothing(team: Team, example_messages) -> None:
    await team.start()
    await team.wait_answer(await team.submit(example_messages["01-nouveau-pps"]))
    # Lea FONTAINE (dietician) is on the roster but not on this plan's team.
    probe = (b"From: Lea FONTAINE <lea.fontaine@dieteticien.mssante.test>\r\n"
             b"To: coordination@esp-valdelorge.mssante.test\r\n"
             b"Subject: STATUT PPS-2026-0001\r\nMessage-ID: <lea-1@esp.test>\r\n"
             b"Date: Wed, 25 Nov 2026 08:30:00 +0100\r\n\r\nmerci\r\n")
    unknown = probe.replace(b"PPS-2026-0001", b"PPS-2026-0999").replace(b"lea-1", b"lea-2")
    mine = await team.wait_answer(await team.submit(probe))
    none = await team.wait_answer(await team.submit(unknown))
    assert "MARTIN" not in mine.text and "248037505611878" not in mine.text
    assert (mine.text.replace("le plan PPS-2026-0001", "le plan X")
            == none.text.replace("le plan PPS-2026-0999", "le plan X"))


def _from(name: str, address: str, subject: str, body: str, mid: str) -> bytes:
    return (f"From: {name} <{address}>\r\nTo: coordination@esp-valdelorge.mssante.test\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{mid}@esp.test>\r\n"
            "Date: Wed, 25 Nov 2026 08:30:00 +0100\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


async def test_postpone_list_and_close_with_their_rights(team: Team, example_messages) -> None:
    service = await team.start()
    await team.wait_answer(await team.submit(example_messages["01-nouveau-pps"]))
    julien = ("Julien MARIE", "julien.marie@infirmier.mssante.test")
    moved = await team.wait_answer(await team.submit(
        _from(*julien, "REPORTER 2 au 18/12/2026 PPS-2026-0001", "", "r1")))
    assert "18/12/2026" in moved.text
    plan, _ = await load(service.store, "PPS-2026-0001")
    assert plan.action(2).due == date(2026, 12, 18)
    listing = await team.wait_answer(await team.submit(_from(*julien, "LISTE", "", "l1")))
    assert "PPS-2026-0001" in listing.text
    lea = await team.wait_answer(await team.submit(
        _from("Lea FONTAINE", "lea.fontaine@dieteticien.mssante.test", "LISTE", "", "l2")))
    assert "PPS-2026-0001" not in lea.text
    # A nurse of the team may not close the plan; the coordinator may.
    refused = await team.wait_answer(await team.submit(
        _from(*julien, "CLORE PPS-2026-0001", "", "c1")))
    assert "Seuls le référent" in refused.text
    closed = await team.wait_answer(await team.submit(
        _from("Ana COSTA", "ana.costa@esp-valdelorge.mssante.test", "CLORE PPS-2026-0001",
              "Déménagement de la patiente", "c2")))
    assert "PPS-2026-0001" in closed.text
    plan, _ = await load(service.store, "PPS-2026-0001")
    assert plan.status == "closed"
