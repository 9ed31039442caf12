"""Store facts (key fingerprint, hashing secret) and the suppression list of erased ids.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_store_meta")),
    )
    op.create_table(
        "suppressions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("erased_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_suppressions")),
    )
    op.create_index(op.f("ix_suppressions_erased_at"), "suppressions", ["erased_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_suppressions_erased_at"), table_name="suppressions")
    op.drop_table("suppressions")
    op.drop_table("store_meta")
