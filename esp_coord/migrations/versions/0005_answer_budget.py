"""The conversation of each member's mail, for the loop guard's answer budget.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: a plain ADD COLUMN, no table rebuild on SQLite. Mails recorded
    # before have no thread and count only in the sender's budget.
    op.add_column("processed_mail", sa.Column("thread", sa.String(32)))
    op.create_index("ix_processed_mail_sender_at", "processed_mail", ["sender", "at"])


def downgrade() -> None:
    op.drop_index("ix_processed_mail_sender_at", "processed_mail")
    with op.batch_alter_table("processed_mail") as batch:
        batch.drop_column("thread")
