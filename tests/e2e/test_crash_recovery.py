"""Break the service between every pair of steps, restart it: nothing lost, nothing twice.

The steps of one mail: fetched -> committed (decision + answer in the outbox)
-> moved out of the inbox -> answer sent -> sending recorded. A ``Crash`` (a
BaseException, so no handler of the service can swallow it) stops the
service at one of those points; a fresh service on the same database and
mailbox must then finish the work: one answer per mail, each mail filed once.
"""

from __future__ import annotations

import pytest

from esp_coord.processing import Processor
from tests.e2e.harness import Team, wait_until
from tests.support.crashing import Crash, CrashingMailbox, CrashingSender, crashed, settled
from tests.support.mail import CLAIRE, mail


@pytest.mark.parametrize("step", ["before-commit", "before-move", "before-send", "after-send"])
async def test_crash_between_steps_then_restart(team: Team, step: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    sent = [await team.submit(mail("AIDE", f"question {i}")) for i in range(3)]
    mailbox = CrashingMailbox(team.config.imap, team.config.folders,
                              crash_on_move=step == "before-move")
    sender = CrashingSender(team.config.smtp, when=step)
    if step == "before-commit":
        async def crash(self, raw: bytes):  # type: ignore[no-untyped-def]
            raise Crash("between fetch and commit")

        monkeypatch.setattr(Processor, "process", crash)
    await team.start(mailbox=mailbox, sender=sender)
    await crashed(team)
    await team.stop()
    monkeypatch.undo()

    await team.start()
    for one in sent:
        await team.wait_answer(one)
    await wait_until(lambda: settled(team), what="inbox drained and outbox empty")
    for one in sent:
        assert len(team.answers_in_reply_to(one)) == 1, step
    assert await team.dovecot.folder_count("Traités") == 3
    assert await team.dovecot.folder_count("INBOX") == 0


async def test_smtp_refusing_for_a_while_delivers_when_back(team: Team) -> None:
    sent = await team.submit(mail("AIDE", "serveur capricieux"))
    team.front.refuse(451, count=3)
    await team.start()
    answer = await team.wait_answer(sent, timeout=20)
    assert answer.in_reply_to == (sent.message_id,)
    assert len(team.answers_to(CLAIRE)) == 1


async def test_imap_server_restarted_under_the_service(team: Team) -> None:
    await team.start()
    first = await team.submit(mail("AIDE", "avant"))
    await team.wait_answer(first)
    await team.dovecot.restart()
    second = await team.submit(mail("AIDE", "après"))
    await team.wait_answer(second, timeout=20)
    assert len(team.answers_to(CLAIRE)) == 2
