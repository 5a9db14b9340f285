"""Documents received from the trust space (IHE XDM archives).

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-14

One new table, ``received_documents`` (esp_coord/store/tables.py says what
each column keeps); nothing else changes. ``down_revision`` is 0006: the
revision of the reminders' branch is re-chained before this one at merge.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "received_documents",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("ref", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("plan_ref", sa.String(64)),
        sa.Column("number", sa.Integer),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("ins_digest", sa.String(64)),
        sa.Column("doc_digest", sa.String(64)),
        sa.Column("set_digest", sa.String(64)),
        sa.Column("version", sa.Integer),
        sa.Column("received_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.Column("expires_at", UTC_DATETIME),
        sa.Column("source_message_id", sa.Text),
        sa.Column("meta_enc", sa.LargeBinary, nullable=False),
        sa.Column("archive_enc", sa.LargeBinary),
        sa.PrimaryKeyConstraint("id", name="pk_received_documents"),
        sa.UniqueConstraint("ref", name="uq_received_documents_ref"),
        sa.UniqueConstraint("plan_ref", "number", name="uq_received_documents_plan_ref_number"),
    )
    op.create_index("ix_received_documents_status_expires_at", "received_documents",
                    ["status", "expires_at"])
    op.create_index("ix_received_documents_ins_digest_status", "received_documents",
                    ["ins_digest", "status"])
    op.create_index("ix_received_documents_doc_digest", "received_documents", ["doc_digest"])
    op.create_index("ix_received_documents_set_digest", "received_documents", ["set_digest"])


def downgrade() -> None:
    op.drop_table("received_documents")
