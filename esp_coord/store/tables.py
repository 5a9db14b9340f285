"""The database schema (SQLAlchemy Core), as the code reads and writes it.

The migrations in ``esp_coord/migrations/versions`` create exactly this; a
test compares the two. Columns named ``*_enc`` hold ``Keyring`` tokens: patient
data never sits in clear in any other column. Professional mail addresses,
message ids, plan references and statuses are not patient data and stay in
clear so that lookups need no decryption.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in, timezone-aware UTC out, on SQLite and PostgreSQL.

    SQLite has no time zones: values are stored as naive UTC text (fixed-width,
    so text comparison is time order). Naive datetimes are refused: they are
    always a bug upstream, and guessing their zone would corrupt the order.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to the store; pass a timezone-aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _transaction_team(context: Any) -> str:
    """The team of the transaction writing the row: ``Store`` puts it in the
    connection's ``info`` when it begins one (``store.teams``). A connection
    without one fails the insert rather than guess whose row it is."""
    return str(context.connection.info["team"])


def team_column(*, primary_key: bool = False) -> Column[str]:
    """Every row carries its team (issue 16). On PostgreSQL, row level
    security keeps each transaction to its team's rows (migration 0009); a
    natural key (an address, a counter, the audit chain's position) is a key
    within the team, hence ``primary_key``."""
    return Column("team", String(64), nullable=False, default=_transaction_team,
                  primary_key=primary_key)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

processed_mail = Table(
    "processed_mail",
    metadata,
    team_column(),
    Column("id", Integer, primary_key=True),
    Column("dedup_key", String(255), nullable=False),
    Column("message_id", Text),
    Column("sender", Text, nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("folder", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    # Why a mail was left aside (``triage.Triage.code``), e.g. ``not-on-roster``.
    Column("reason", String(32)),
    # The daily quarantine notice that reported it (esp_coord.scheduling.quarantine_notice):
    # set once, so each quarantined mail is reported exactly once.
    Column("notice_at", UTCDateTime),
    # The conversation of a member's mail (``loop_guard.thread_key``), whose
    # answers the loop guard counts.
    Column("thread", String(32)),
    UniqueConstraint("team", "dedup_key"),
    Index(None, "outcome", "at"),
    Index(None, "sender", "at"),
)

outbox = Table(
    "outbox",
    metadata,
    team_column(),
    Column("id", Integer, primary_key=True),
    Column("message_id", String(998), nullable=False),
    Column("sender", Text, nullable=False),
    Column("recipients", Text, nullable=False),  # JSON list of addresses
    Column("raw_enc", LargeBinary, nullable=False),
    Column("cause", Text),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_attempt_at", UTCDateTime),
    Column("sent_at", UTCDateTime),
    Column("last_error", Text),
    # The first delivery report (DSN) saying the mail bounced (revision 0006).
    Column("bounced_at", UTCDateTime),
    Column("bounce_status", String(16)),
    Column("bounce_recipient", Text),
    Column("bounce_diagnostic_enc", LargeBinary),
    UniqueConstraint("team", "message_id"),
    Index(None, "status", "next_attempt_at"),
)

# One row per address a mail of ours bounced from: the coordination is told
# once per address (again only after ``bounces.RENOTIFY_AFTER``), whatever
# the number of bounces and restarts. Professional addresses, statuses and
# dates only.
bounced_addresses = Table(
    "bounced_addresses",
    metadata,
    team_column(primary_key=True),
    Column("address", String(320), primary_key=True),
    Column("first_at", UTCDateTime, nullable=False),
    Column("last_at", UTCDateTime, nullable=False),
    Column("bounces", Integer, nullable=False),
    Column("last_status", String(16), nullable=False),
    Column("notified_at", UTCDateTime, nullable=False),
)

counters = Table(
    "counters",
    metadata,
    team_column(primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("value", Integer, nullable=False),
)

documents = Table(
    "documents",
    metadata,
    team_column(),
    Column("id", Integer, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("ref", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("data_enc", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("team", "kind", "ref"),
    Index(None, "kind", "status"),
)

document_blind = Table(
    "document_blind",
    metadata,
    team_column(),
    Column(
        "document_id",
        Integer,
        ForeignKey("documents.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("name", String(32), primary_key=True),
    Column("digest", String(64), nullable=False),
    Index(None, "name", "digest"),
)

document_members = Table(
    "document_members",
    metadata,
    team_column(),
    Column(
        "document_id",
        Integer,
        ForeignKey("documents.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("member", String(320), primary_key=True),
    Index(None, "member"),
)

document_history = Table(
    "document_history",
    metadata,
    team_column(),
    Column("id", Integer, primary_key=True),
    Column(
        "document_id",
        Integer,
        ForeignKey("documents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("version", Integer, nullable=False),
    Column("author", Text, nullable=False),
    Column("source_message_id", Text),
    Column("at", UTCDateTime, nullable=False),
    Column("change_enc", LargeBinary, nullable=False),
    Index(None, "document_id", "id"),
)

# Append-only: rows are only ever inserted. ``id`` is the position in the
# chain (1, 2, 3... with no gap), assigned by the writer under the head lock.
# Each row's ``hash`` covers its own fields and the previous row's hash, so an
# edit, a deletion or a reordering breaks the chain. ``detail`` is written by
# the service and never holds patient data.
audit_log = Table(
    "audit_log",
    metadata,
    team_column(primary_key=True),
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(32), nullable=False),
    Column("ref", String(64)),
    Column("source_message_id", Text),
    Column("detail", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index(None, "ref", "id"),
)

# One row (id 1): the last record's position and hash. Appends lock it, which
# serialises them on PostgreSQL, and it lets ``verify`` notice that the last
# records were deleted (which the chain alone cannot show).
audit_head = Table(
    "audit_head",
    metadata,
    team_column(primary_key=True),
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

# The database is the source of truth for reminders: the scheduler only wakes
# up at ``due_at``. ``key`` names one reminder occurrence (source, occurrence,
# recipient, kind) so that recomputing a plan's reminders is idempotent.
reminders = Table(
    "reminders",
    metadata,
    team_column(),
    Column("id", Integer, primary_key=True),
    Column("key", String(255), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("source_ref", String(64), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("status", String(10), nullable=False),
    Column("payload_enc", LargeBinary),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("late", Integer, nullable=False, default=0),
    UniqueConstraint("team", "key"),
    Index(None, "status", "due_at"),
    Index(None, "source_ref"),
)

# Which keys wrote this database: per key, an HMAC of a fixed label under it
# (``Keyring.fingerprints``), never the key. ``kind`` is "data" (``key_id`` is
# the data key's id) or "index" (the blind-index key, ``key_id`` 0). Checked
# at every start, before anything else (esp_coord/store/keycheck.py): a start
# with another key file is refused instead of writing under the wrong key.
key_fingerprints = Table(
    "key_fingerprints",
    metadata,
    team_column(primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("key_id", Integer, primary_key=True, autoincrement=False),
    Column("fingerprint", String(64), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
)

# Documents received from the trust space (IHE XDM archives, esp_coord.received):
# the archive as it came and what was read of it (``meta``: title, type,
# date, author, institution, and for a document awaiting its plan the traits
# the coordination's NOUVEAU PPS is pre-filled with), both encrypted. The INS
# and the CDA document's identifiers are blind indexes only. ``status``:
# attached (to ``plan_ref``, as its document ``number``), pending (no plan
# yet: kept until ``expires_at``), expired (archive and meta erased).
received_documents = Table(
    "received_documents",
    metadata,
    team_column(),
    Column("id", Integer, primary_key=True),
    Column("ref", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("plan_ref", String(64)),
    Column("number", Integer),
    Column("sender", String(320), nullable=False),
    Column("ins_digest", String(64)),
    Column("doc_digest", String(64)),
    Column("set_digest", String(64)),
    Column("version", Integer),
    Column("received_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("source_message_id", Text),
    Column("meta_enc", LargeBinary, nullable=False),
    Column("archive_enc", LargeBinary),
    UniqueConstraint("team", "ref"),
    UniqueConstraint("team", "plan_ref", "number"),
    Index(None, "status", "expires_at"),
    Index(None, "ins_digest", "status"),
    Index(None, "doc_digest"),
    Index(None, "set_digest"),
)

# The platform's own tables (issue 16, esp_coord/platform): which worker
# processes are alive and which one works each team's mailbox. They hold no
# patient data and no row security: every worker reads them all to share
# the teams. Times come from the database's clock (``now()``), never from a
# worker's, so that workers on machines whose clocks differ agree.
workers = Table(
    "workers",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
)

# One row per team ever served. ``token`` (the fencing token) grows by one
# at every grant: a write for the team commits only while its transaction
# sees the lease with the worker's token unexpired (``platform.leases``), so
# a worker that lost the lease (paused, cut off) can no longer commit.
# ``worker`` NULL: free. The holder reports ``backlog`` (mails waiting in the
# inbox) and the type of its ``last_error``, never a message that could
# quote a mail.
team_leases = Table(
    "team_leases",
    metadata,
    Column("team", String(64), primary_key=True),
    Column("worker", String(128)),
    Column("token", BigInteger, nullable=False),
    Column("acquired_at", UTCDateTime),
    Column("expires_at", UTCDateTime),
    Column("backlog", Integer),
    Column("last_error", String(200)),
    Column("last_error_at", UTCDateTime),
)
