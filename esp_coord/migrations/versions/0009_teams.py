"""Many teams in one database: every row carries its team; the platform's leases.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

Every table of a team's data gets a ``team`` column. Rows already there
belong to the team ``default`` (the id of a team whose configuration names
none, see ``Config.team_id``).

PostgreSQL, which may hold many teams (issue 16):

- unique keys and natural primary keys become keys within the team
  (``(team, dedup_key)``, ``(team, kind, year)``...);
- row level security, forced on the owner too: a transaction sees and
  writes only the rows of the team it set with ``set_config('app.team',
  ..., true)`` (``store.teams``). With no team set it sees nothing. Only a
  superuser (or a role with BYPASSRLS) passes by: the service never connects
  as one (``deploy/postgres-setup.sql``);
- the column keeps no default: an insert without a team fails.

SQLite holds one team (several require PostgreSQL, and ``serve`` says so):
its tables only get the column, with its default, and keep their keys,
which for one team are the same keys. Recreating them would drop
``documents`` and cascade to its children's rows (SQLite cannot turn
foreign keys off inside the migration's transaction).

Two platform tables, ``workers`` and ``team_leases``, on both.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)

TEAM_TABLES = ("processed_mail", "outbox", "bounced_addresses", "counters", "documents",
               "document_blind", "document_members", "document_history", "audit_log",
               "audit_head", "reminders", "key_fingerprints", "received_documents")

# (table, old unique constraint name, its columns), each becoming (team, *columns).
UNIQUE = (
    ("processed_mail", "uq_processed_mail_dedup_key", ("dedup_key",)),
    ("outbox", "uq_outbox_message_id", ("message_id",)),
    ("documents", "uq_documents_kind_ref", ("kind", "ref")),
    ("reminders", "uq_reminders_key", ("key",)),
    ("received_documents", "uq_received_documents_ref", ("ref",)),
    ("received_documents", "uq_received_documents_plan_ref_number", ("plan_ref", "number")),
)

# Natural primary keys, each becoming (team, *columns).
PRIMARY = (
    ("bounced_addresses", ("address",)),
    ("counters", ("kind", "year")),
    ("audit_log", ("id",)),
    ("audit_head", ("id",)),
    ("key_fingerprints", ("kind", "key_id")),
)

POLICY = "team_rows"
TEAM_SETTING = "current_setting('app.team', true)"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in TEAM_TABLES:
        op.add_column(table, sa.Column("team", sa.String(64), nullable=False,
                                       server_default="default"))
    if postgres:
        _team_keys()
        _row_security()
    op.create_table(
        "workers",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("heartbeat_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workers"),
    )
    op.create_table(
        "team_leases",
        sa.Column("team", sa.String(64), nullable=False),
        sa.Column("worker", sa.String(128)),
        sa.Column("token", sa.BigInteger, nullable=False),
        sa.Column("acquired_at", UTC_DATETIME),
        sa.Column("expires_at", UTC_DATETIME),
        sa.Column("backlog", sa.Integer),
        sa.Column("last_error", sa.String(200)),
        sa.Column("last_error_at", UTC_DATETIME),
        sa.PrimaryKeyConstraint("team", name="pk_team_leases"),
    )


def _team_keys() -> None:
    for table in TEAM_TABLES:
        op.alter_column(table, "team", server_default=None)
    for table, name, columns in UNIQUE:
        op.drop_constraint(name, table, type_="unique")
        op.create_unique_constraint(f"uq_{table}_team_{'_'.join(columns)}", table,
                                    ["team", *columns])
    for table, columns in PRIMARY:
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, ["team", *columns])


def _row_security() -> None:
    for table in TEAM_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {POLICY} ON {table} USING (team = {TEAM_SETTING}) "
                   f"WITH CHECK (team = {TEAM_SETTING})")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_table("team_leases")
    op.drop_table("workers")
    if postgres:
        for table in TEAM_TABLES:
            op.execute(f"DROP POLICY {POLICY} ON {table}")
            op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
            op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        for table, columns in PRIMARY:
            op.drop_constraint(f"pk_{table}", table, type_="primary")
            op.create_primary_key(f"pk_{table}", table, list(columns))
        for table, name, columns in UNIQUE:
            op.drop_constraint(f"uq_{table}_team_{'_'.join(columns)}", table, type_="unique")
            op.create_unique_constraint(name, table, list(columns))
    for table in TEAM_TABLES:
        if postgres:
            op.drop_column(table, "team")
        else:
            # SQLite 3.35's own DROP COLUMN: no table recreated (see above).
            op.execute(f"ALTER TABLE {table} DROP COLUMN team")
