"""Bounces: what delivery reports said of our mails, and of which addresses.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10

Nullable columns on the outbox (a plain ADD COLUMN, no table rebuild on
SQLite): rows sent before have no bounce recorded. ``bounced_addresses``
starts empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("outbox", sa.Column("bounced_at", UTC_DATETIME))
    op.add_column("outbox", sa.Column("bounce_status", sa.String(16)))
    op.add_column("outbox", sa.Column("bounce_recipient", sa.Text))
    op.add_column("outbox", sa.Column("bounce_diagnostic_enc", sa.LargeBinary))
    op.create_table(
        "bounced_addresses",
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("first_at", UTC_DATETIME, nullable=False),
        sa.Column("last_at", UTC_DATETIME, nullable=False),
        sa.Column("bounces", sa.Integer, nullable=False),
        sa.Column("last_status", sa.String(16), nullable=False),
        sa.Column("notified_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("address", name="pk_bounced_addresses"),
    )


def downgrade() -> None:
    op.drop_table("bounced_addresses")
    with op.batch_alter_table("outbox") as batch:
        for column in ("bounce_diagnostic_enc", "bounce_recipient", "bounce_status",
                       "bounced_at"):
            batch.drop_column(column)
