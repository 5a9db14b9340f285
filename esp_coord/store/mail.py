"""Incoming mail bookkeeping (dedup) and reference numbering."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, func, or_, select, update

from esp_coord.store.base import TxBase
from esp_coord.store.errors import AlreadyProcessed
from esp_coord.store.records import OUTCOMES, MailActivity, ProcessedMail, RecentMail
from esp_coord.store.tables import counters, outbox, processed_mail

# The outcomes whose mail lands in the quarantine folder.
QUARANTINE_OUTCOMES: tuple[str, ...] = ("quarantined", "failed")
# Why a member's mail was left unanswered ("ignored"), for the ones the
# coordinators' daily notice reports (``loop_guard``; ``auto-subject``: a
# subject that reads like an auto-reply, and no command in the mail;
# ``calendar-unmatched``: a calendar answer that could not be recorded,
# ``handlers.calendar``).
SILENCED_REASONS: tuple[str, ...] = ("echo", "loop-paused", "auto-subject",
                                     "calendar-unmatched")
# The mails the daily notice reports: quarantined, or a member's left unanswered.
_REPORTED = or_(processed_mail.c.outcome.in_(QUARANTINE_OUTCOMES),
                and_(processed_mail.c.outcome == "ignored",
                     processed_mail.c.reason.in_(SILENCED_REASONS)))


@dataclass(frozen=True, slots=True)
class QuarantinedMail:
    """What the coordinator is told about a quarantined mail, or a member's
    mail left unanswered: never its content."""

    at: datetime
    sender: str
    outcome: str        # quarantined | failed | ignored (then reason is a SILENCED_REASONS)
    reason: str | None  # ``triage.Triage.code``; None before revision 0003 and for failures


class MailOps(TxBase):
    __slots__ = ()

    def processed(self, dedup_key: str) -> ProcessedMail | None:
        statement = self._statement("processed", lambda: select(
            processed_mail.c.dedup_key,
            processed_mail.c.message_id,
            processed_mail.c.sender,
            processed_mail.c.outcome,
            processed_mail.c.folder,
            processed_mail.c.at,
        ).where(processed_mail.c.dedup_key == bindparam("key")))
        row = self._conn.execute(statement, {"key": dedup_key}).first()
        return ProcessedMail(*row) if row is not None else None

    def record_processed(
        self,
        *,
        dedup_key: str,
        message_id: str | None,
        sender: str,
        outcome: str,
        folder: str,
        at: datetime,
        reason: str | None = None,
        thread: str | None = None,
    ) -> None:
        """Record a handled mail. Raises ``AlreadyProcessed`` if the key is
        known: the caller's transaction (with any answer it enqueued) must then
        roll back, so a mail is never answered twice."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {sorted(OUTCOMES)}")
        # ON CONFLICT DO NOTHING rather than catching IntegrityError: on
        # PostgreSQL a failed INSERT would poison the whole transaction.
        # RETURNING, not rowcount: psycopg gives -1 for an INSERT that
        # SQLAlchemy extends with RETURNING of its own.
        statement = self._statement("record_processed", lambda: (
            self._upsert(processed_mail)
            .on_conflict_do_nothing()
            .returning(processed_mail.c.id)))
        values = {"dedup_key": dedup_key, "message_id": message_id, "sender": sender,
                  "outcome": outcome, "folder": folder, "at": at, "reason": reason,
                  "thread": thread}
        if self._conn.execute(statement, values).first() is None:
            raise AlreadyProcessed(dedup_key)

    def recent_of_sender(self, sender: str, since: datetime,
                               limit: int = 200) -> list[RecentMail]:
        """The sender's mails recorded since ``since``, newest first, at most
        ``limit`` (more than any answer budget counts)."""
        query = self._statement("recent_of_sender", lambda: (
            select(processed_mail.c.at, processed_mail.c.outcome, processed_mail.c.reason,
                   processed_mail.c.thread)
            .where(processed_mail.c.sender == bindparam("sender"),
                   processed_mail.c.at >= bindparam("since"))
            .order_by(processed_mail.c.at.desc(), processed_mail.c.id.desc())
            .limit(bindparam("limit"))))
        rows = self._conn.execute(query, {"sender": sender, "since": since, "limit": limit})
        return [RecentMail(*row) for row in rows.all()]

    def quarantine_count(self, since: datetime | None = None) -> int:
        """Mails put in quarantine (unknown sender, or the handler failed)."""
        query = select(func.count()).where(
            processed_mail.c.outcome.in_(QUARANTINE_OUTCOMES)
        )
        if since is not None:
            query = query.where(processed_mail.c.at >= since)
        return int((self._conn.execute(query)).scalar_one())

    def mail_activity(self, since: datetime, until: datetime) -> MailActivity:
        """Mails handled from ``since`` to ``until`` by outcome, and each answered
        mail's delay to its first answer sent (our own copies aside)."""
        window = and_(processed_mail.c.at >= since, processed_mail.c.at < until)
        counts: dict[str, int] = dict(self._conn.execute(
            select(processed_mail.c.outcome, func.count()).where(window)
            .group_by(processed_mail.c.outcome)).all())
        first_sent = (select(outbox.c.cause, func.min(outbox.c.sent_at).label("sent_at"))
                      .where(outbox.c.sent_at.is_not(None)).group_by(outbox.c.cause)
                      .subquery())
        rows = self._conn.execute(
            select(processed_mail.c.at, first_sent.c.sent_at)
            .join(first_sent, first_sent.c.cause == processed_mail.c.dedup_key)
            .where(window, processed_mail.c.outcome == "answered")).all()
        delays = tuple(sorted(max(0.0, (sent - at).total_seconds())
                              for at, sent in rows))
        quarantined = sum(counts.get(o, 0) for o in QUARANTINE_OUTCOMES)
        return MailActivity(handled=sum(v for k, v in counts.items() if k != "own-copy"),
                            answered=counts.get("answered", 0), quarantined=quarantined,
                            ignored=counts.get("ignored", 0), answer_delays=delays)

    def claim_quarantined(self, before: datetime, notice_at: datetime) -> int:
        """Give every quarantined mail (or member's mail left unanswered)
        recorded before ``before`` and not yet reported to the notice
        ``notice_at``; returns how many were claimed.

        A claim rather than a time window: a mail whose transaction commits
        after a notice was composed, though stamped earlier, is still unclaimed
        and goes to the next notice, never lost nor reported twice."""
        result = self._conn.execute(
            update(processed_mail)
            .where(_REPORTED,
                   processed_mail.c.notice_at.is_(None),
                   processed_mail.c.at < before)
            .values(notice_at=notice_at))
        return max(int(result.rowcount or 0), 0)

    def unreported_quarantine(self) -> bool:
        """Whether a quarantined mail (or a member's left unanswered) awaits its notice."""
        query = select(processed_mail.c.id).where(
            _REPORTED, processed_mail.c.notice_at.is_(None)).limit(1)
        return (self._conn.execute(query)).first() is not None

    def quarantined_in_notice(self, notice_at: datetime) -> list[QuarantinedMail]:
        """The mails claimed by the notice ``notice_at``, oldest first."""
        query = (select(processed_mail.c.at, processed_mail.c.sender, processed_mail.c.outcome,
                        processed_mail.c.reason)
                 .where(processed_mail.c.notice_at == notice_at)
                 .order_by(processed_mail.c.at, processed_mail.c.id))
        return [QuarantinedMail(*row) for row in (self._conn.execute(query)).all()]

    def next_number(self, kind: str, year: int) -> int:
        """1, 2, 3... per (kind, year). One atomic upsert: the row lock (or
        SQLite's write lock) serialises concurrent callers, so numbers are
        distinct, and a rolled-back transaction gives its number back."""
        statement = self._statement("next_number", lambda: (
            self._upsert(counters).values(value=1)
            .on_conflict_do_update(index_elements=self._key("kind", "year"),
                                   set_={"value": counters.c.value + 1})
            .returning(counters.c.value)))
        return int(self._conn.execute(statement, {"kind": kind, "year": year}).scalar_one())
