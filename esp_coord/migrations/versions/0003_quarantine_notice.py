"""Why a mail was quarantined, and which daily notice reported it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Nullable columns: plain ADD COLUMN, no table rebuild on SQLite. Mails
    # quarantined before this revision have no reason and are reported once,
    # by the first notice.
    op.add_column("processed_mail", sa.Column("reason", sa.String(32)))
    op.add_column("processed_mail", sa.Column("notice_at", UTC_DATETIME))


def downgrade() -> None:
    with op.batch_alter_table("processed_mail") as batch:
        batch.drop_column("notice_at")
        batch.drop_column("reason")
