"""Key fingerprints: which key file wrote the database.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08

The table starts empty: ``Store.start`` fills it after checking that the key
file decrypts what is already stored (esp_coord/store/keycheck.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "key_fingerprints",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key_id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("recorded_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("kind", "key_id", name="pk_key_fingerprints"),
    )


def downgrade() -> None:
    op.drop_table("key_fingerprints")
