"""Break the service between every pair of steps, restart it: nothing lost, nothing twice.

The steps of one mail: fetched -> committed (decision + answer in the outbox)
-> moved out of the inbox -> answer sent -> sending recorded. A ``Crash`` (a
BaseException, so no handler of the service can swallow it) stops the
service at one of those points; a fresh service on the same database and
mailbox must then finish the work: one answer per mail, each mail filed once.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from adapters.imap import ImapMailbox
from adapters.smtp import SmtpSender
from esp_coord.processing import Processor
from tests.e2e.harness import Team, wait_until
from tests.e2e.test_mail_path import CLAIRE, mail


class Crash(BaseException):
    """The process dies here."""


class CrashingMailbox(ImapMailbox):
    def __init__(self, *args, crash_on_move: bool, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.crash_on_move = crash_on_move

    async def move(self, uids: Sequence[int], folder: str) -> None:
        if self.crash_on_move:
            raise Crash("between commit and move")
        await super().move(uids, folder)


class CrashingSender(SmtpSender):
    def __init__(self, *args, when: str, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.when = when

    async def send(self, message: bytes, *, sender: str, recipients: Sequence[str]) -> None:
        if self.when == "before-send":
            raise Crash("between move and send")
        await super().send(message, sender=sender, recipients=recipients)
        if self.when == "after-send":
            raise Crash("between send and record")


async def _crashed(team: Team) -> None:
    """Wait until a service task died of the injected crash."""
    service = team.service
    assert service is not None

    def dead() -> bool:
        return any(t.done() and not t.cancelled() and isinstance(t.exception(), Crash)
                   for t in service._tasks)

    await wait_until(dead, what="the injected crash")


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
    await _crashed(team)
    await team.stop()
    monkeypatch.undo()

    await team.start()
    for one in sent:
        await team.wait_answer(one)
    await wait_until(lambda: _settled(team), what="inbox drained and outbox empty")
    for one in sent:
        assert len(team.answers_in_reply_to(one)) == 1, step
    assert await team.dovecot.folder_count("Traités") == 3
    assert await team.dovecot.folder_count("INBOX") == 0


async def _settled(team: Team) -> bool:
    assert team.service is not None
    stats = await team.service.store.run(lambda tx: tx.outbox_stats())
    return (await team.dovecot.folder_count("INBOX") == 0
            and not stats.get("pending") and not stats.get("sending"))


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
