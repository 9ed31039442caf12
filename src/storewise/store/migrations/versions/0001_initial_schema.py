"""Initial schema: customers, items, events, identities, consents, reports, audit, API keys.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("key_hash", sa.String(length=128), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_keys")),
    )
    op.create_table(
        "audit_log",
        sa.Column("entry_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_subject"), ["subject"], unique=False)

    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("email_enc", sa.Text(), nullable=True),
        sa.Column("name_enc", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customers")),
    )
    op.create_table(
        "events",
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=True),
        sa.Column("anonymous_id", sa.String(length=200), nullable=True),
        sa.Column("session_id", sa.String(length=200), nullable=True),
        sa.Column("item_id", sa.String(length=200), nullable=True),
        sa.Column("event_type", sa.String(length=20), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("order_id", sa.String(length=200), nullable=True),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("query", sa.String(length=1000), nullable=True),
        sa.CheckConstraint(
            "event_type IN ('view', 'add_to_cart', 'remove_from_cart', 'purchase', 'return', "
            "'rating', 'search')",
            name=op.f("ck_events_event_type"),
        ),
        sa.CheckConstraint(
            "customer_id IS NOT NULL OR anonymous_id IS NOT NULL", name=op.f("ck_events_who")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_events_anonymous_id_ts"),
            ["anonymous_id", "ts"],
            unique=False,
            sqlite_where=sa.text("anonymous_id IS NOT NULL"),
            postgresql_where=sa.text("anonymous_id IS NOT NULL"),
        )
        batch_op.create_index(
            batch_op.f("ix_events_customer_id_ts"), ["customer_id", "ts"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_events_item_id_ts"), ["item_id", "ts"], unique=False)

    op.create_table(
        "ingest_reports",
        sa.Column("report_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_ingest_reports")),
    )
    op.create_table(
        "items",
        sa.Column("item_id", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=1000), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("category", sa.String(length=200), nullable=True),
        sa.Column("brand", sa.String(length=200), nullable=True),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("in_stock", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("is_product", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_items")),
    )
    op.create_table(
        "consents",
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "purpose IN ('personalization', 'marketing', 'analytics')",
            name=op.f("ck_consents_purpose"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_consents_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("customer_id", "purpose", name=op.f("pk_consents")),
    )
    op.create_table(
        "identities",
        sa.Column("anonymous_id", sa.String(length=200), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("linked_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.customer_id"],
            name=op.f("fk_identities_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("anonymous_id", name=op.f("pk_identities")),
    )
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identities_customer_id"), ["customer_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identities_customer_id"))

    op.drop_table("identities")
    op.drop_table("consents")
    op.drop_table("items")
    op.drop_table("ingest_reports")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_item_id_ts"))
        batch_op.drop_index(batch_op.f("ix_events_customer_id_ts"))
        batch_op.drop_index(
            batch_op.f("ix_events_anonymous_id_ts"),
            sqlite_where=sa.text("anonymous_id IS NOT NULL"),
            postgresql_where=sa.text("anonymous_id IS NOT NULL"),
        )

    op.drop_table("events")
    op.drop_table("customers")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_subject"))

    op.drop_table("audit_log")
    op.drop_table("api_keys")
