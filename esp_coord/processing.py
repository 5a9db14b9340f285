"""What happens to one incoming mail, decided and recorded in one transaction.

The decision (answer, quarantine, ignore), every state change a handler makes
and the answers to send are committed together with the mail's dedup record.
So a mail seen again after a crash (still in the inbox because the move did
not happen) is recognised and only moved: its effect never happens twice.

Inside ``async with processor.batch():`` the mails of one fetched batch share
a database transaction, each in its own savepoint (a failing handler undoes
only its own mail), committed when the block ends or after ``BATCH_HOLD``
seconds: a few commits (fsyncs) per batch rather than one per mail. The batch
is moved out of the inbox only after its last commit, so a crash before that
leaves every mail of the batch in the inbox, either with nothing recorded
(processed again) or already committed (recognised, only moved), exactly as
when each mail had its own transaction.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime

from esp_coord.answers import Answer, render_answer, reply_subject
from esp_coord.config import Config, Member
from esp_coord.intake import IncomingMail, digest_key, parse_mail
from esp_coord.scheduling import quarantine_notice
from esp_coord.store import Store, StoreBusy, Tx
from esp_coord.store.engine import is_busy
from esp_coord.triage import Triage, claims_own_copy, triage
from plans.typography import french

log = logging.getLogger(__name__)

_HEAD_LIMIT = 64 * 1024
# Longest a batch keeps the write transaction open (seconds): the delivery's
# marks and the reminders wait at most about this long behind the mailroom.
BATCH_HOLD = 0.25
_FROM_LINE = re.compile(rb"^from:[^\n]*(?:\n[ \t][^\n]*)*", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Request:
    """What a handler gets: the parsed mail, its (trusted) sender, the open transaction."""

    mail: IncomingMail
    sender: Member
    config: Config
    tx: Tx
    now: datetime


Handler = Callable[[Request], Awaitable[list[Answer]]]


@dataclass(frozen=True)
class Outcome:
    outcome: str       # answered | quarantined | ignored | own-copy
    folder: str
    replayed: bool     # already processed before: nothing done again
    answers: int = 0


class Processor:
    def __init__(self, *, config: Config, store: Store, handler: Handler,
                 now: Callable[[], datetime]) -> None:
        self.config = config
        self.store = store
        self.handler = handler
        self.now = now
        self._in_batch = False
        self._on_commit: Callable[[], None] = lambda: None
        self._tx_scope: AbstractAsyncContextManager[Tx] | None = None
        self._tx: Tx | None = None
        self._tx_opened = 0.0

    @asynccontextmanager
    async def batch(self, *, on_commit: Callable[[], None] = lambda: None
                    ) -> AsyncIterator[None]:
        """``process()`` calls inside share a transaction (a savepoint each),
        committed at the end, or earlier once it has been open ``BATCH_HOLD``
        seconds (``on_commit`` is then called) so that other writers never wait
        long. Raises ``StoreBusy`` when the database stays busy; what was not
        committed is rolled back on any exception."""
        if self._in_batch:
            raise RuntimeError("batches do not nest")
        self._in_batch, self._on_commit = True, on_commit
        try:
            yield
        except BaseException as exc:
            await self._end_tx(exc)
            raise
        else:
            await self._end_tx(None)
        finally:
            self._in_batch, self._on_commit = False, lambda: None

    async def _end_tx(self, exc: BaseException | None) -> None:
        scope, self._tx_scope, self._tx = self._tx_scope, None, None
        if scope is None:
            return
        if exc is None:
            await scope.__aexit__(None, None, None)  # commit
        else:
            await scope.__aexit__(type(exc), exc, exc.__traceback__)  # rollback

    async def _run(self, fn: Callable[[Tx], Awaitable[Outcome]]) -> Outcome:
        if not self._in_batch:
            return await self.store.run(fn)
        if self._tx is None:
            scope = self.store.transaction()
            self._tx = await scope.__aenter__()
            self._tx_scope, self._tx_opened = scope, time.monotonic()
        async with self._tx.connection.begin_nested():
            return await fn(self._tx)

    async def _maybe_commit(self) -> None:
        if self._tx is not None and time.monotonic() - self._tx_opened >= BATCH_HOLD:
            await self._end_tx(None)
            self._on_commit()

    def _own_copy(self, raw: bytes) -> IncomingMail | None:
        """The witness copy of one of our answers, read from its headers alone:
        half of a backlog's mails, and only From and Message-ID matter."""
        head = raw[:_HEAD_LIMIT]
        ends = [p for p in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if p >= 0]
        if not ends:
            return None
        block = head[:min(ends) + 1]
        line = _FROM_LINE.search(block)
        if line is None or self.config.bot_address.encode() not in line.group().lower():
            return None
        mail = parse_mail(block)
        return mail if claims_own_copy(mail, self.config) else None

    async def process(self, raw: bytes) -> Outcome:
        outcome = await self._process(raw)
        if self._in_batch:
            await self._maybe_commit()
        return outcome

    async def _process(self, raw: bytes) -> Outcome:
        mail = self._own_copy(raw) or parse_mail(
            raw, max_message_bytes=self.config.limits.max_message_bytes,
            max_attachment_bytes=self.config.limits.max_attachment_bytes)
        verdict = triage(mail, self.config, self.store.keyring)  # shared with ``esp-coord parse``
        if verdict.code == "forged-copy":
            # A forgery keyed by the Message-ID it borrows would make the real
            # copy, when it comes, look already processed.
            mail = replace(mail, dedup_key=digest_key(raw))
            log.warning("mail %s: from our own address without a valid witness tag "
                        "(forged?): quarantined", mail.message_id or mail.dedup_key)
        try:
            return await self._run(lambda tx: self._decide(tx, mail, verdict))
        except StoreBusy:
            raise
        except Exception as e:
            if self._in_batch and is_busy(e):
                raise StoreBusy("the database is busy (locked or in conflict)") from e
            # A bug must not lose the mail nor stop the service. Only the type
            # is logged: an exception message may quote the mail.
            log.error("mail %s: handler failed (%s); kept in quarantine",
                      mail.message_id or mail.dedup_key, type(e).__name__)
            return await self._run(lambda tx: self._record_failure(tx, mail, verdict))

    async def _record_failure(self, tx: Tx, mail: IncomingMail, verdict: Triage) -> Outcome:
        done = await tx.processed(mail.dedup_key)
        if done is not None:
            return Outcome(done.outcome, done.folder, replayed=True)
        now = self.now()
        folder = self.config.folders.quarantine
        answers = 0
        if verdict.outcome == "accepted":
            try:
                out = render_answer(failure_answer(mail), config=self.config, now=now,
                                    incoming=mail)
            except Exception as e:
                # The last line of defence must hold even when the mail breaks
                # the rendering too: quarantined without an answer.
                log.error("mail %s: failure answer not built (%s)",
                          mail.message_id or mail.dedup_key, type(e).__name__)
            else:
                await tx.enqueue(message_id=out.message_id, sender=self.config.bot_address,
                                 recipients=out.recipients, raw=out.raw, at=now,
                                 cause=mail.dedup_key)
                answers = 1
        await tx.record_processed(dedup_key=mail.dedup_key, message_id=mail.message_id,
                                  sender=mail.from_address, outcome="failed",
                                  folder=folder, at=now)
        await quarantine_notice.schedule(tx, self.config, now)
        return Outcome("failed", folder, replayed=False, answers=answers)

    async def _decide(self, tx: Tx, mail: IncomingMail, verdict: Triage) -> Outcome:
        done = await tx.processed(mail.dedup_key)
        if done is not None:
            return Outcome(done.outcome, done.folder, replayed=True)
        now = self.now()
        outcome, folder, answers = await self._classify_and_handle(tx, mail, verdict, now)
        for answer in answers:
            out = render_answer(answer, config=self.config, now=now, incoming=mail)
            # The bot's own address rides along as a blind copy: its arrival
            # in our mailbox proves the server accepted the mail (see delivery).
            await tx.enqueue(message_id=out.message_id, sender=self.config.bot_address,
                             recipients=out.recipients, raw=out.raw, at=now,
                             cause=mail.dedup_key)
        await tx.record_processed(dedup_key=mail.dedup_key, message_id=mail.message_id,
                                  sender=mail.from_address, outcome=outcome,
                                  folder=folder, at=now, reason=verdict.code)
        if outcome == "quarantined":
            await quarantine_notice.schedule(tx, self.config, now)  # tells the coordinators
        log.info("mail %s from %s: %s -> %s (%d answer(s))", mail.message_id or mail.dedup_key,
                 mail.from_address or "?", outcome, folder, len(answers))
        return Outcome(outcome, folder, replayed=False, answers=len(answers))

    async def _classify_and_handle(self, tx: Tx, mail: IncomingMail, verdict: Triage,
                                   now: datetime) -> tuple[str, str, list[Answer]]:
        cfg = self.config
        folders = cfg.folders
        if verdict.outcome == "own-copy":
            await tx.confirm_delivered(mail.message_id or "", now)
            return "own-copy", folders.sent, []
        if verdict.outcome == "ignored":
            log.info("mail %s is automatic (%s): not answered",
                     mail.message_id or mail.dedup_key, mail.automatic)
            return "ignored", folders.processed, []
        if verdict.member is None:
            return "quarantined", folders.quarantine, []
        request = Request(mail=mail, sender=verdict.member, config=cfg, tx=tx, now=now)
        if mail.too_large:
            return "answered", folders.processed, [too_large_answer(mail)]
        return "answered", folders.processed, await self.handler(request)


def failure_answer(mail: IncomingMail) -> Answer:
    text = french(
        "Bonjour,\n\n"
        "Une erreur interne a empêché le traitement de votre message. "
        "Rien n'a été enregistré ; le message est conservé et la coordination "
        "de l'équipe peut le retrouver.\n\n"
        "Vous pouvez renvoyer votre message plus tard, ou écrire AIDE pour "
        "recevoir des exemples.\n"
    )
    return Answer(subject=reply_subject(mail.subject, "Message non traité"), text=text)


def too_large_answer(mail: IncomingMail) -> Answer:
    text = french(
        "Bonjour,\n\n"
        f"Votre message n'a pas été traité : {mail.too_large}.\n"
        "Il reste conservé dans la boîte de l'équipe ; rien n'a été enregistré.\n\n"
        "Envoyez les informations du plan dans un message court, sans pièce jointe "
        "volumineuse. Écrivez AIDE pour recevoir des exemples.\n"
    )
    return Answer(subject=reply_subject(mail.subject, "Message non traité"), text=text)
