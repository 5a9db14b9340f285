"""Commands in replies to the service, through the real processor and handlers
into a SQLite store, answers read back from the outbox as rendered mails.

A professional replies to the service's own answer (a STATUT, an AIDE, a
LISTE) with a command on the first line: that command is what they asked,
not the subject they are replying to. And what ``esp-coord parse`` announces
for each of these mails is what the service does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import time
from pathlib import Path

import pytest

from esp_coord.crypto import Keyring
from esp_coord.interpret import interpret
from tests.integration.test_access_matrix import Desk, Sent, team_config

JULIEN = ("Julien MARIE", "julien.marie@infirmier.mssante.test")
REF = "PPS-2026-0001"


@pytest.fixture
async def desk(tmp_path: Path, example_messages: dict[str, bytes]) -> AsyncIterator[Desk]:
    desk = Desk(team_config(tmp_path), Keyring.generate())
    async with AsyncExitStack() as stack:
        await desk.store.start(stack)
        await desk.processor.process(example_messages["01-nouveau-pps"])
        await desk.drain()
        yield desk


def _plain(sent: Sent) -> str:
    return " ".join(sent.text.split())


async def test_fait_in_reply_to_a_status_marks_the_action_done(desk: Desk) -> None:
    _, (status,) = await desk.send(JULIEN, f"STATUT {REF}")
    assert status.subject == f"[{REF}] Statut"
    _, (answer,) = await desk.send(JULIEN, f"RE: {status.subject}", "FAIT 1\nvu ce matin")
    assert answer.subject == f"[{REF}] Action 1 faite", answer.text
    done = (await desk.plan(REF)).action(1).done
    assert [o.comment for o in done] == ["vu ce matin"]


async def test_reply_without_prefix_to_the_service_reads_the_body(desk: Desk) -> None:
    """In-Reply-To names the service's mail: the body's command wins even when
    the client kept the subject as it was."""
    domain = desk.config.message_id_domain
    _, (answer,) = await desk.send(JULIEN, f"[{REF}] Statut", "REPORTER 2 au 15/12/2026",
                                   extra=f"In-Reply-To: <{REF}.status.1.a@{domain}>\r\n")
    assert answer.subject == f"[{REF}] Action 2 reportée", answer.text
    assert (await desk.plan(REF)).action(2).due.isoformat() == "2026-12-15"  # type: ignore[union-attr]


# What only the answer to the command in the body says.
_STATUS, _LIST = f"Plan {REF} - MARTIN Jeanne", "STATUT suivi de la référence"


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [("RE: LISTE", f"STATUT {REF}", _STATUS),
     ("Re: Aide - commandes du service de coordination", "LISTE", _LIST),
     ("RE: AIDE", "LISTE", _LIST)],
)
async def test_reply_to_list_or_help_with_another_command(desk: Desk, subject: str, body: str,
                                                          expected: str) -> None:
    _, (answer,) = await desk.send(JULIEN, subject, body)
    assert expected in answer.text
    assert "Écrivez la commande dans l'objet" not in answer.text  # not the help again


async def test_postpone_with_a_bracketed_reference_and_a_time(desk: Desk) -> None:
    """A one-off action takes the time; STATUT's last changes show it."""
    _, (answer,) = await desk.send(JULIEN, f"REPORTER 2 au 15/12/2026 à 14h [{REF}]")
    assert answer.subject == f"[{REF}] Action 2 reportée", answer.text
    assert "reportée au 15/12/2026" in answer.text and "Heure : 14h00" in _plain(answer)
    plan = await desk.plan(REF)
    assert plan.action(2).due.isoformat() == "2026-12-15"  # type: ignore[union-attr]
    assert plan.action(2).when.time_of_day == time(14, 0)
    assert plan.versions[-1].summary == "action 2 reportée au 15/12/2026 à 14h00"
    _, (status,) = await desk.send(JULIEN, f"STATUT {REF}")
    assert "action 2 reportée au 15/12/2026 à 14h00" in _plain(status)
    assert "prévue le 15/12/2026 à 14h00" in _plain(status)  # the action line
    # Postponed again without a time: the 14h went with the 15th.
    await desk.send(JULIEN, f"REPORTER 2 au 18/12/2026 {REF}")
    assert (await desk.plan(REF)).action(2).when.time_of_day is None
    _, (status,) = await desk.send(JULIEN, f"STATUT {REF}")
    text = _plain(status)
    assert "prévue le 18/12/2026" in text and "prévue le 18/12/2026 à" not in text


async def test_postpone_one_occurrence_of_a_recurring_action_to_a_time(desk: Desk) -> None:
    """The time is this occurrence's: the rhythm keeps its own, the time is noted."""
    before = (await desk.plan(REF)).action(1).when
    _, (answer,) = await desk.send(JULIEN, f"REPORTER 1 au 30/11/2026 à 9h30 {REF}")
    assert "vaut pour cette fois" in _plain(answer), answer.text
    plan = await desk.plan(REF)
    assert plan.action(1).when == before
    assert plan.action(1).due.isoformat() == "2026-11-30"  # type: ignore[union-attr]
    assert plan.notes[-1].text.endswith("reportée au 30/11/2026 à 9h30.")
    _, (status,) = await desk.send(JULIEN, f"STATUT {REF}")
    assert "action 1 reportée au 30/11/2026 à 9h30" in _plain(status)


async def test_postpone_to_the_past_is_refused_precisely(desk: Desk) -> None:
    before = (await desk.plan(REF)).action(2).due
    _, (answer,) = await desk.send(JULIEN, f"REPORTER 2 au 01/01/2020 {REF}")
    text = _plain(answer)
    assert "Rien n'a été fait" in text
    assert f"Objet : « REPORTER 2 au 01/01/2020 {REF} »" in text
    assert "Problème : « 01/01/2020 » est une date passée" in text
    assert "Attendu : une date à partir d'aujourd'hui, le 25/11/2026" in text
    assert f"Exemple : REPORTER 2 au 09/12/2026 {REF}" in text
    assert (await desk.plan(REF)).action(2).due == before


async def test_date_errors_quote_the_line_as_written(desk: Desk) -> None:
    _, (answer,) = await desk.send(JULIEN, f"RE: [{REF}] Rappel",
                                   "\nREPORTER 2 au 15 décembrr à 14h")
    text = _plain(answer)
    assert "Ligne 2 : « REPORTER 2 au 15 décembrr à 14h »" in text
    assert "« 15 décembrr » n'est pas une date" in text


async def test_not_understood_quotes_the_reply_as_written(desk: Desk) -> None:
    _, (answer,) = await desk.send(JULIEN, f"Re: [{REF}] Plan créé - MARTIN Jeanne",
                                   "Merci, c'est noté.")
    assert "« Merci, c'est noté. » n'est pas une commande" in _plain(answer)
    assert "plan cree" not in answer.text


async def test_done_comment_from_the_command_line_without_the_signature(desk: Desk) -> None:
    await desk.send(JULIEN, f"RE: [{REF}] Rappel", "fait 3, RAS")
    await desk.send(JULIEN, f"RE: [{REF}] Rappel",
                    "FAIT n°1\nFait ce matin\n\nJulien MARIE\nInfirmier libéral\n06 12 34 56 78")
    plan = await desk.plan(REF)
    assert plan.action(3).done[-1].comment == "RAS"
    assert plan.action(1).done[-1].comment == "Fait ce matin"


@pytest.mark.parametrize(
    ("subject", "body", "command"),
    [(f"RE: [{REF}] Statut", "FAIT 1\nvu ce matin", "done"),
     ("RE: LISTE", f"STATUT {REF}", "status"),
     ("Re: Aide - commandes du service de coordination", "LISTE", "list"),
     (f"RE: [{REF}] Statut", "> FAIT 2", "status"),
     (f"Re: [{REF}] Plan créé - MARTIN Jeanne", "Merci, c'est noté.", "unknown"),
     (f"REPORTER 2 au 01/01/2020 {REF}", "", "postpone"),
     (f"REPORTER 2 au 15/12/2026 à 14h [{REF}]", "", "postpone"),
     (f"RE: [{REF}] Rappel", "fait 3, RAS\n\nJulien MARIE\nIDE\n06 12 34 56 78", "done")],
)
async def test_parse_agrees_with_the_service(desk: Desk, subject: str, body: str,
                                             command: str) -> None:
    raw_sent: list[bytes] = []
    original = desk.processor.process

    async def keep(raw: bytes):  # type: ignore[no-untyped-def]
        raw_sent.append(raw)
        return await original(raw)

    desk.processor.process = keep  # type: ignore[method-assign]
    _, (answer,) = await desk.send(JULIEN, subject, body)
    report = interpret(raw_sent[0], desk.config)
    assert report["command"] == command, report
    refused = "Rien n'a été" in answer.text
    assert bool(report["errors"]) == refused, (report["errors"], answer.text)
    expected = {"done": "notée faite", "status": _STATUS, "list": _LIST,
                "postpone": "Rien n'a été fait" if refused else "reportée au",
                "unknown": "n'est pas une commande"}[command]
    assert expected in _plain(answer), answer.text
    if command == "done":
        plan = await desk.plan(REF)
        number = report["action_number"]
        assert plan.action(number).done[-1].comment == (report["comment"] or "")
    if report["date"]:
        assert (await desk.plan(REF)).action(2).due.isoformat() == report["date"]  # type: ignore[union-attr]
