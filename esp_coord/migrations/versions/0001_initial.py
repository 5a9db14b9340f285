"""Initial schema: processed mail, outbox, counters, encrypted documents.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the types: a migration must not change when tables.py does.
UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "processed_mail",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dedup_key", sa.String(255), nullable=False),
        sa.Column("message_id", sa.Text),
        sa.Column("sender", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("folder", sa.Text, nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_processed_mail"),
        sa.UniqueConstraint("dedup_key", name="uq_processed_mail_dedup_key"),
    )
    op.create_index("ix_processed_mail_outcome_at", "processed_mail", ["outcome", "at"])

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("message_id", sa.String(998), nullable=False),
        sa.Column("sender", sa.Text, nullable=False),
        sa.Column("recipients", sa.Text, nullable=False),
        sa.Column("raw_enc", sa.LargeBinary, nullable=False),
        sa.Column("cause", sa.Text),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("next_attempt_at", UTC_DATETIME, nullable=False),
        sa.Column("last_attempt_at", UTC_DATETIME),
        sa.Column("sent_at", UTC_DATETIME),
        sa.Column("last_error", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("message_id", name="uq_outbox_message_id"),
    )
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])

    op.create_table(
        "counters",
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("value", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("kind", "year", name="pk_counters"),
    )

    op.create_table(
        "documents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("data_enc", sa.LargeBinary, nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_documents"),
        sa.UniqueConstraint("kind", "ref", name="uq_documents_kind_ref"),
    )
    op.create_index("ix_documents_kind_status", "documents", ["kind", "status"])

    op.create_table(
        "document_blind",
        sa.Column("document_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("document_id", "name", name="pk_document_blind"),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name="fk_document_blind_document_id_documents",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_document_blind_name_digest", "document_blind", ["name", "digest"])

    op.create_table(
        "document_members",
        sa.Column("document_id", sa.Integer, nullable=False),
        sa.Column("member", sa.String(320), nullable=False),
        sa.PrimaryKeyConstraint("document_id", "member", name="pk_document_members"),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name="fk_document_members_document_id_documents",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_document_members_member", "document_members", ["member"])

    op.create_table(
        "document_history",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("document_id", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("source_message_id", sa.Text),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("change_enc", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_document_history"),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name="fk_document_history_document_id_documents",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_document_history_document_id_id", "document_history", ["document_id", "id"]
    )


def downgrade() -> None:
    for table in (
        "document_history",
        "document_members",
        "document_blind",
        "documents",
        "counters",
        "outbox",
        "processed_mail",
    ):
        op.drop_table(table)
