"""Online experiments, their assignments, the exposure log and feedback on served lists.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("experiment_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("placement", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("stopped_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("experiment_id", name=op.f("pk_experiments")),
    )
    op.create_table(
        "experiment_assignments",
        sa.Column("experiment_id", sa.String(length=64), nullable=False),
        sa.Column("unit_id", sa.String(length=200), nullable=False),
        sa.Column("variant", sa.String(length=64), nullable=False),
        sa.Column("first_at", sa.BigInteger(), nullable=False),
        sa.Column("carried_from", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("experiment_id", "unit_id", name=op.f("pk_experiment_assignments")),
    )
    op.create_index(
        op.f("ix_experiment_assignments_unit_id"), "experiment_assignments", ["unit_id"]
    )
    op.create_table(
        "exposures",
        sa.Column("recommendation_id", sa.String(length=40), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("placement", sa.String(length=40), nullable=False),
        sa.Column("unit_id", sa.String(length=200), nullable=True),
        sa.Column("model", sa.String(length=100), nullable=True),
        sa.Column("model_version", sa.String(length=100), nullable=True),
        sa.Column("experiment_id", sa.String(length=64), nullable=True),
        sa.Column("variant", sa.String(length=64), nullable=True),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("teams", sa.JSON(), nullable=True),
        sa.Column("propensities", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("recommendation_id", name=op.f("pk_exposures")),
    )
    op.create_index(op.f("ix_exposures_at"), "exposures", ["at"])
    op.create_index(op.f("ix_exposures_unit_id"), "exposures", ["unit_id"])
    op.create_index(op.f("ix_exposures_experiment_id_at"), "exposures", ["experiment_id", "at"])
    op.create_table(
        "rec_feedback",
        sa.Column("feedback_id", sa.String(length=200), nullable=False),
        sa.Column("recommendation_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("item_id", sa.String(length=200), nullable=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("feedback_id", name=op.f("pk_rec_feedback")),
    )
    op.create_index(
        op.f("ix_rec_feedback_recommendation_id"), "rec_feedback", ["recommendation_id"]
    )
    op.create_index(op.f("ix_rec_feedback_at"), "rec_feedback", ["at"])


def downgrade() -> None:
    op.drop_table("rec_feedback")
    op.drop_table("exposures")
    op.drop_table("experiment_assignments")
    op.drop_table("experiments")
