"""Crashes injected into the service: a ``Crash`` stops it at a chosen step.

``Crash`` is a BaseException, so no handler of the service can swallow it:
the service dies there as a killed process would, and a fresh service on the
same database and mailbox must finish the work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from adapters.imap import ImapMailbox
from adapters.smtp import SmtpSender

if TYPE_CHECKING:
    from tests.e2e.harness import Team

__all__ = ["Crash", "CrashingMailbox", "CrashingSender", "crashed", "settled"]


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

    async def send(self, message: bytes, *, sender: str, recipients: Sequence[str],
                   proceed: Callable[[], bool] = lambda: True) -> None:
        if self.when == "before-send":
            raise Crash("between move and send")
        await super().send(message, sender=sender, recipients=recipients, proceed=proceed)
        if self.when == "after-send":
            raise Crash("between send and record")


async def crashed(team: Team) -> None:
    """Wait until a service task died of the injected crash."""
    from tests.e2e.harness import wait_until

    service = team.service
    assert service is not None

    def dead() -> bool:
        return any(t.done() and not t.cancelled() and isinstance(t.exception(), Crash)
                   for t in service._tasks)

    await wait_until(dead, what="the injected crash")


async def settled(team: Team) -> bool:
    """The inbox is drained and nothing waits in the outbox."""
    assert team.service is not None
    stats = await team.service.store.run(lambda tx: tx.outbox_stats())
    return (await team.dovecot.folder_count("INBOX") == 0
            and not stats.get("pending") and not stats.get("sending"))
