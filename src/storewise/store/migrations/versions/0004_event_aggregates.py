"""Daily aggregates of events removed by retention.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_aggregates",
        sa.Column("day", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("item_id", sa.String(length=200), nullable=False),
        sa.Column("event_type", sa.String(length=20), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("day", "item_id", "event_type", name=op.f("pk_event_aggregates")),
    )


def downgrade() -> None:
    op.drop_table("event_aggregates")
