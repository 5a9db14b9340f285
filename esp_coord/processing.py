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
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from esp_coord import bounces, loop_guard
from esp_coord.answers import Answer, render_answer, reply_subject
from esp_coord.config import Config, Member
from esp_coord.intake import IncomingMail
from esp_coord.intake.dsn import read_delivery_report
from esp_coord.mdn import receipt_address, render_mdn
from esp_coord.ports import BatchPort, StorePort, UnitOfWork
from esp_coord.received.acknowledge import ko_answer
from esp_coord.store.errors import StoreBusy
from esp_coord.store.mail import SILENCED_REASONS
from esp_coord.triage import Triage, read_and_triage
from plans.typography import french

log = logging.getLogger(__name__)

# Longest a batch keeps the write transaction open (seconds): the delivery's
# marks and the reminders wait at most about this long behind the mailroom.
BATCH_HOLD = 0.25


@dataclass(frozen=True)
class Request:
    """What a handler gets: the parsed mail, its (trusted) sender, the open
    transaction, and the raw mail (for what the intake does not keep: the
    content of an attachment, such as a calendar answer)."""

    mail: IncomingMail
    sender: Member
    config: Config
    tx: UnitOfWork
    now: datetime
    raw: bytes = b""


Handler = Callable[[Request], list[Answer]]


@dataclass(frozen=True)
class DocumentRequest:
    """What the document handler gets (``esp_coord.received``): the mail, its
    sender if on the roster (None for a correspondent), the raw mail (the
    archive is decoded from it), the open transaction."""

    mail: IncomingMail
    sender: Member | None
    config: Config
    tx: UnitOfWork
    now: datetime
    raw: bytes


@dataclass(frozen=True)
class DocumentResult:
    """What became of a document mail: the notices to the team, the ANS code
    of its acknowledgement (None: integrated) and that acknowledgement's text,
    whether the mail goes to the quarantine folder, and the reason recorded."""

    answers: list[Answer]
    error: int | None
    receipt_text: str
    quarantine: bool = False
    reason: str = "document"


DocumentHandler = Callable[[DocumentRequest], DocumentResult]


class Unanswered(Exception):  # noqa: N818  (a decision, not an error)
    """Raised by a handler that decides that a member's mail gets no answer;
    ``reason`` is recorded with the mail, and the coordinators' daily notice
    reports the mail when it is one of ``SILENCED_REASONS``. What the
    handler recorded before (an out-of-office reply's absence, a calendar
    answer) is kept with the mail."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Decision:
    outcome: str
    folder: str
    answers: list[Answer] = field(default_factory=list)
    reason: str | None = None  # triage's code, or why a member's mail was not answered
    thread: str | None = None  # loop_guard.thread_key of a member's mail
    document: DocumentResult | None = None  # a document mail's fate (acknowledged)


@dataclass(frozen=True)
class Outcome:
    outcome: str       # answered | quarantined | ignored | own-copy
    folder: str
    replayed: bool     # already processed before: nothing done again
    answers: int = 0
    receipts: int = 0  # MDNs queued (esp_coord.mdn): 0 or 1


# Called in the mail's transaction for a mail quarantined or left unanswered,
# so that someone is told (the coordinators' daily notice).
Reporter = Callable[[UnitOfWork, Config, datetime], None]
# Called in the mail's transaction for an automatic mail that is no delivery
# report: a member's out-of-office reply gives the dates of their absence
# (``absence_intake.from_automatic``). Returns whether it recorded anything.
AutoReply = Callable[[UnitOfWork, IncomingMail, bytes, Config, datetime], bool]


class Processor:
    def __init__(self, *, config: Config, store: StorePort, handler: Handler,
                 now: Callable[[], datetime], report: Reporter,
                 documents: DocumentHandler | None = None,
                 auto_reply: AutoReply | None = None) -> None:
        self.config = config
        self.store = store
        self.handler = handler
        # None: document mails are quarantined as mails off the roster were.
        self.documents = documents
        self.now = now
        self.report = report
        self.auto_reply = auto_reply
        self._batch: BatchPort | None = None
        self._on_commit: Callable[[], None] = lambda: None

    @asynccontextmanager
    async def batch(self, *, on_commit: Callable[[], None] = lambda: None
                    ) -> AsyncIterator[None]:
        """``process()`` calls inside share a transaction (a savepoint each),
        committed at the end, or earlier once it has been open ``BATCH_HOLD``
        seconds (``on_commit`` is then called) so that other writers never wait
        long. Raises ``StoreBusy`` when the database stays busy; what was not
        committed is rolled back on any exception."""
        if self._batch is not None:
            raise RuntimeError("batches do not nest")
        batch = self._batch = self.store.batch()
        self._on_commit = on_commit
        try:
            yield
        except BaseException:
            await batch.rollback()
            raise
        else:
            await batch.commit()
        finally:
            batch.close()
            self._batch, self._on_commit = None, lambda: None

    async def process(self, raw: bytes) -> Outcome:
        """Read, decide and record one mail: one trip to the database thread,
        where the parsing runs too (it never holds up the event loop)."""
        batch = self._batch
        if batch is None:
            return await self.store.run(lambda tx: self._process(tx, raw))
        outcome = await batch.run(lambda tx: self._process(tx, raw))
        if batch.opened_at is not None and time.monotonic() - batch.opened_at >= BATCH_HOLD:
            await batch.commit()
            self._on_commit()
        return outcome

    def _process(self, tx: UnitOfWork, raw: bytes) -> Outcome:
        mail, verdict = read_and_triage(raw, self.config, self.store.keyring)
        if verdict.code == "forged-copy":
            log.warning("mail %s: from our own address without a valid witness tag "
                        "(forged?): quarantined", mail.message_id or mail.dedup_key)
        try:
            with tx.savepoint():
                return self._decide(tx, mail, verdict, raw)
        except StoreBusy:
            raise  # the whole batch again, later: not the handler's fault
        except Exception as e:
            # A bug must not lose the mail nor stop the service. Only the type
            # is logged: an exception message may quote the mail.
            log.error("mail %s: handler failed (%s); kept in quarantine",
                      mail.message_id or mail.dedup_key, type(e).__name__)
            return self._record_failure(tx, mail, verdict, raw)

    def _acknowledge(self, tx: UnitOfWork, mail: IncomingMail, raw: bytes, *, refused: bool,
                     now: datetime, document: DocumentResult | None = None) -> int:
        """Queue the MDN a member's answered mail (or a document mail) asks for,
        if it may have one (``mdn.receipt_address``): in the mail's
        transaction, so that a mail processed again is never acknowledged
        twice. Returns how many (0, 1)."""
        try:
            if document is not None:
                receipt = render_mdn(mail, config=self.config, now=now, refused=False,
                                     raw=raw, error=document.error, text=document.receipt_text)
            else:
                receipt = render_mdn(mail, config=self.config, now=now, refused=refused,
                                     raw=raw)
        except Exception as e:
            # The answer matters, the receipt less: never lose one for the other.
            log.error("mail %s: MDN not built (%s)", mail.message_id or mail.dedup_key,
                      type(e).__name__)
            return 0
        if receipt is None:
            return 0
        tx.enqueue(message_id=receipt.message_id, sender=self.config.bot_address,
                   recipients=receipt.recipients, raw=receipt.raw, at=now,
                   cause=mail.dedup_key)
        return 1

    def _record_failure(self, tx: UnitOfWork, mail: IncomingMail, verdict: Triage,
                        raw: bytes) -> Outcome:
        done = tx.processed(mail.dedup_key)
        if done is not None:
            return Outcome(done.outcome, done.folder, replayed=True)
        now = self.now()
        folder = self.config.folders.quarantine
        answers = receipts = 0
        thread, held = self._guard(tx, mail, verdict, now)
        if verdict.outcome == "accepted" and held is None:
            try:
                out = render_answer(failure_answer(mail), config=self.config, now=now,
                                    incoming=mail)
            except Exception as e:
                # The last line of defence must hold even when the mail breaks
                # the rendering too: quarantined without an answer.
                log.error("mail %s: failure answer not built (%s)",
                          mail.message_id or mail.dedup_key, type(e).__name__)
            else:
                tx.enqueue(message_id=out.message_id, sender=self.config.bot_address,
                           recipients=out.recipients, raw=out.raw, at=now,
                           cause=mail.dedup_key)
                answers = 1
                receipts = self._acknowledge(tx, mail, raw, refused=True, now=now)
        tx.record_processed(dedup_key=mail.dedup_key, message_id=mail.message_id,
                            sender=mail.from_address, outcome="failed",
                            folder=folder, at=now, thread=thread)
        self.report(tx, self.config, now)
        return Outcome("failed", folder, replayed=False, answers=answers, receipts=receipts)

    def _guard(self, tx: UnitOfWork, mail: IncomingMail, verdict: Triage, now: datetime
                     ) -> tuple[str | None, str | None]:
        """(the thread of a member's mail, why it must not be answered or None)."""
        if verdict.outcome != "accepted":
            return None, None
        thread = loop_guard.thread_key(mail)
        if not loop_guard.is_reply(mail):
            return thread, None  # never held: no query for a fresh mail
        recent = tx.recent_of_sender(mail.from_address, now - loop_guard.WINDOW)
        return thread, loop_guard.hold_reason(mail, thread, recent, now)

    def _decide(self, tx: UnitOfWork, mail: IncomingMail, verdict: Triage, raw: bytes
                ) -> Outcome:
        done = tx.processed(mail.dedup_key)
        if done is not None:
            return Outcome(done.outcome, done.folder, replayed=True)
        now = self.now()
        decision = self._classify_and_handle(tx, mail, verdict, now, raw)
        answers = list(decision.answers)
        document = decision.document
        if (document is not None and document.error is not None and not mail.automatic
                and receipt_address(mail, self.config) is None):
            # No MDN asked (or allowed): the ANS's ordinary mail tells the error;
            # never to a robot, which asked for nothing (no loops).
            answers.append(ko_answer(mail, self.config, document.error, document.receipt_text))
        for answer in answers:
            out = render_answer(answer, config=self.config, now=now, incoming=mail)
            # The bot's own address rides along as a blind copy: its arrival
            # in our mailbox proves the server accepted the mail (see delivery).
            tx.enqueue(message_id=out.message_id, sender=self.config.bot_address,
                             recipients=out.recipients, raw=out.raw, at=now,
                             cause=mail.dedup_key)
        receipts = 0
        if document is not None:
            receipts = self._acknowledge(tx, mail, raw, refused=False, now=now,
                                         document=document)
        elif decision.outcome == "answered" and decision.answers and verdict.member is not None:
            # Only a member's mail that the service acted on or answered: never a
            # stranger's, a robot's, a report, nor a mail left unanswered.
            receipts = self._acknowledge(tx, mail, raw, now=now, refused=any(
                answer.refused for answer in decision.answers))
        tx.record_processed(dedup_key=mail.dedup_key, message_id=mail.message_id,
                                  sender=mail.from_address, outcome=decision.outcome,
                                  folder=decision.folder, at=now, reason=decision.reason,
                                  thread=decision.thread)
        if decision.outcome == "quarantined" or decision.reason in SILENCED_REASONS:
            self.report(tx, self.config, now)  # tells the coordinators
        log.info("mail %s from %s: %s%s -> %s (%d answer(s)%s)",
                 mail.message_id or mail.dedup_key, mail.from_address or "?", decision.outcome,
                 f" ({decision.reason})" if decision.reason else "", decision.folder,
                 len(answers), ", MDN" if receipts else "")
        return Outcome(decision.outcome, decision.folder, replayed=False,
                       answers=len(answers), receipts=receipts)

    def _classify_and_handle(self, tx: UnitOfWork, mail: IncomingMail, verdict: Triage,
                                   now: datetime, raw: bytes) -> _Decision:
        folders = self.config.folders
        if verdict.outcome == "own-copy":
            tx.confirm_delivered(mail.message_id or "", now)
            return _Decision("own-copy", folders.sent)
        if verdict.outcome == "ignored":
            log.info("mail %s is automatic (%s): not answered",
                     mail.message_id or mail.dedup_key, mail.automatic)
            # A delivery report about one of our mails is recorded, and the
            # coordination told of a failing address (to them, never an answer).
            report = read_delivery_report(raw, max_message_bytes=self.config.limits
                                          .max_message_bytes)
            recorded, notices = bounces.record_report(tx, report, config=self.config, now=now)
            if not recorded and self.auto_reply is not None:
                self.auto_reply(tx, mail, raw, self.config, now)  # never answered either
            return _Decision("ignored", folders.processed, notices,
                             "bounce" if recorded else None)
        if verdict.outcome == "document":
            if self.documents is None:
                return _Decision("quarantined", folders.quarantine, reason="not-on-roster")
            result = self.documents(DocumentRequest(mail=mail, sender=verdict.member,
                                                    config=self.config, tx=tx, now=now,
                                                    raw=raw))
            return _Decision("answered",
                             folders.quarantine if result.quarantine else folders.processed,
                             result.answers, result.reason[:32], document=result)
        if verdict.member is None:
            return _Decision("quarantined", folders.quarantine, reason=verdict.code)
        thread, held = self._guard(tx, mail, verdict, now)
        if held is not None:
            # The first mail of a pause says so, once: a person is not left
            # wondering, and a robot's reply to it is held like the rest.
            notice = [paused_answer(mail)] if held == "loop-paused" else []
            return _Decision("ignored", folders.processed, notice, held, thread)
        counted = loop_guard.answered_reason(mail)
        if mail.too_large:
            return _Decision("answered", folders.processed, [too_large_answer(mail)], counted,
                             thread)
        request = Request(mail=mail, sender=verdict.member, config=self.config, tx=tx,
                          now=now, raw=raw)
        try:
            answers = self.handler(request)
        except Unanswered as left:
            return _Decision("ignored", folders.processed, reason=left.reason, thread=thread)
        return _Decision("answered", folders.processed, answers, counted, thread)


def failure_answer(mail: IncomingMail) -> Answer:
    text = french(
        "Bonjour,\n\n"
        "Une erreur interne a empêché le traitement de votre message. "
        "Rien n'a été enregistré ; le message est conservé et la coordination "
        "de l'équipe peut le retrouver.\n\n"
        "Vous pouvez renvoyer votre message plus tard, ou écrire AIDE pour "
        "recevoir des exemples.\n"
    )
    return Answer(subject=reply_subject(mail.subject, "Message non traité"), text=text,
                  refused=True)


def too_large_answer(mail: IncomingMail) -> Answer:
    text = french(
        "Bonjour,\n\n"
        f"Votre message n'a pas été traité : {mail.too_large}.\n"
        "Il reste conservé dans la boîte de l'équipe ; rien n'a été enregistré.\n\n"
        "Envoyez les informations du plan dans un message court, sans pièce jointe "
        "volumineuse. Écrivez AIDE pour recevoir des exemples.\n"
    )
    return Answer(subject=reply_subject(mail.subject, "Message non traité"), text=text,
                  refused=True)


def paused_answer(mail: IncomingMail) -> Answer:
    text = french(
        "Bonjour,\n\n"
        "Le service vous a déjà répondu plusieurs fois en quelques minutes, au même "
        "message ou à beaucoup de messages : il suspend ses réponses une dizaine de "
        "minutes, pour ne pas entretenir une boucle avec un répondeur automatique ou une "
        "règle de transfert. Ce message n'a pas été traité ; il reste conservé et la "
        "coordination de l'équipe en est avertie.\n\n"
        "Si vous l'avez bien écrit vous-même, renvoyez-le dans un quart d'heure. "
        "Vérifiez aussi votre répondeur d'absence et vos règles de transfert.\n"
    )
    return Answer(subject=reply_subject(mail.subject, "Réponses suspendues"), text=text)
