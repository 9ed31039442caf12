"""SQLAlchemy Core tables of the store; the migrations create exactly these.

Times are integer milliseconds since the epoch (UTC) so both SQLite and PostgreSQL load them
fast and identically. Personal fields (email, name) hold Fernet ciphertext, never plain text.
"""

from __future__ import annotations

import sqlalchemy as sa

from storewise.schema import EVENT_TYPES, PURPOSES

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ID = sa.String(200)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("customer_id", ID, primary_key=True),
    sa.Column("country", sa.String(100)),
    sa.Column("created_at", sa.BigInteger),
    sa.Column("attributes", sa.JSON),
    sa.Column("email_enc", sa.Text),
    sa.Column("name_enc", sa.Text),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

items = sa.Table(
    "items",
    metadata,
    sa.Column("item_id", ID, primary_key=True),
    sa.Column("title", sa.String(1000)),
    sa.Column("description", sa.Text),
    sa.Column("category", sa.String(200)),
    sa.Column("brand", sa.String(200)),
    sa.Column("price", sa.Float),
    sa.Column("currency", sa.String(3)),
    sa.Column("in_stock", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("is_product", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("attributes", sa.JSON),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("event_id", ID, primary_key=True),
    # No foreign keys here: ingest creates the customer and item rows first, and a per-row
    # check would double the cost of bulk imports.
    sa.Column("customer_id", ID),
    sa.Column("anonymous_id", ID),
    sa.Column("session_id", ID),
    sa.Column("item_id", ID),
    sa.Column("event_type", sa.String(20), nullable=False),
    sa.Column("quantity", sa.Float, nullable=False),
    sa.Column("price", sa.Float),
    sa.Column("value", sa.Float),
    sa.Column("order_id", ID),
    sa.Column("ts", sa.BigInteger, nullable=False),
    sa.Column("source", sa.String(100)),
    sa.Column("query", sa.String(1000)),
    sa.CheckConstraint(
        "event_type IN (" + ", ".join(f"'{t}'" for t in EVENT_TYPES) + ")", name="event_type"
    ),
    sa.CheckConstraint("customer_id IS NOT NULL OR anonymous_id IS NOT NULL", name="who"),
    sa.Index(None, "customer_id", "ts"),
    sa.Index(
        None,
        "anonymous_id",
        "ts",
        sqlite_where=sa.text("anonymous_id IS NOT NULL"),
        postgresql_where=sa.text("anonymous_id IS NOT NULL"),
    ),
    sa.Index(None, "item_id", "ts"),
)

identities = sa.Table(
    "identities",
    metadata,
    sa.Column("anonymous_id", ID, primary_key=True),
    sa.Column("customer_id", ID, sa.ForeignKey("customers.customer_id"), nullable=False),
    sa.Column("linked_at", sa.BigInteger, nullable=False),
    sa.Index(None, "customer_id"),
)

consents = sa.Table(
    "consents",
    metadata,
    sa.Column("customer_id", ID, sa.ForeignKey("customers.customer_id"), primary_key=True),
    sa.Column("purpose", sa.String(20), primary_key=True),
    sa.Column("granted", sa.Boolean, nullable=False),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("source", sa.String(100)),
    sa.CheckConstraint(
        "purpose IN (" + ", ".join(f"'{p}'" for p in PURPOSES) + ")", name="purpose"
    ),
)

ingest_reports = sa.Table(
    "ingest_reports",
    metadata,
    sa.Column("report_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("files", sa.JSON, nullable=False),
    sa.Column("report", sa.JSON, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("entry_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("subject", sa.String(200)),
    sa.Column("details", sa.JSON),
    sa.Index(None, "subject"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200)),
    sa.Column("key_hash", sa.String(128), nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("revoked_at", sa.BigInteger),
    # Publishable (``collect``) keys: the web origins browsers may use them from; else null.
    sa.Column("origins", sa.JSON),
)

#: One row (``id`` 1) whose ``seq`` every write transaction raises by one before it commits:
#: a monotonic change stamp that caches (marketing's analysis) compare instead of counting rows.
changes = sa.Table(
    "changes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
)

#: Small facts about the store itself: the personal-field key's fingerprint, the secret the
#: suppression list hashes ids with.
store_meta = sa.Table(
    "store_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

#: Erased customers, as keyed hashes of their ids (never the id itself): events replayed for
#: one of them are refused, and a training run whose snapshot predates the erasure drops them.
suppressions = sa.Table(
    "suppressions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("erased_at", sa.BigInteger, nullable=False),
    sa.Index(None, "erased_at"),
)

#: What retention keeps of deleted events: per day, item (``""`` for none) and event type, how
#: many events, units and how much value, so shop-wide figures outlive the rows.
event_aggregates = sa.Table(
    "event_aggregates",
    metadata,
    sa.Column("day", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("item_id", ID, primary_key=True),
    sa.Column("event_type", sa.String(20), primary_key=True),
    sa.Column("events", sa.BigInteger, nullable=False),
    sa.Column("quantity", sa.Float, nullable=False),
    sa.Column("value", sa.Float, nullable=False),
)

#: Dashboard sessions ended by signing out (a hash of the session's own token), kept until the
#: session would have expired, so a saved cookie stops working at once on every worker.
ended_sessions = sa.Table(
    "ended_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("until", sa.BigInteger, nullable=False),
)

#: Online experiments: which placement, the variants (name, weight, what each serves) and the
#: plan (primary metric, guardrails, attribution window); status draft, running or stopped.
experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("experiment_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("placement", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("method", sa.String(20), nullable=False),
    sa.Column("salt", sa.String(64), nullable=False),
    sa.Column("variants", sa.JSON, nullable=False),
    sa.Column("plan", sa.JSON, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("started_at", sa.BigInteger),
    sa.Column("stopped_at", sa.BigInteger),
)

#: Who got which variant, first time they were exposed: the unit is a customer id or a guest's
#: anonymous id; ``carried_from`` names the guest id whose variant a customer kept at login.
experiment_assignments = sa.Table(
    "experiment_assignments",
    metadata,
    sa.Column("experiment_id", sa.String(64), primary_key=True),
    sa.Column("unit_id", ID, primary_key=True),
    sa.Column("variant", sa.String(64), nullable=False),
    sa.Column("first_at", sa.BigInteger, nullable=False),
    sa.Column("carried_from", ID),
    sa.Index(None, "unit_id"),
)

#: Every list served, under the recommendation id its answer carried: for whom, where, by
#: which model and version, in which experiment variant, the item ids in rank order, and for
#: an interleaved list the team of each item; for a list with an exploration slot, the
#: probability the serving policy had of showing each item where it is (off-policy evaluation).
exposures = sa.Table(
    "exposures",
    metadata,
    sa.Column("recommendation_id", sa.String(40), primary_key=True),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Column("placement", sa.String(40), nullable=False),
    sa.Column("unit_id", ID),
    sa.Column("model", sa.String(100)),
    sa.Column("model_version", sa.String(100)),
    sa.Column("experiment_id", sa.String(64)),
    sa.Column("variant", sa.String(64)),
    sa.Column("items", sa.JSON, nullable=False),
    sa.Column("teams", sa.JSON),
    sa.Column("propensities", sa.JSON),
    sa.Index(None, "at"),
    sa.Index(None, "unit_id"),
    sa.Index(None, "experiment_id", "at"),
)

#: What shoppers did with a served list (impression, click): one row per client event id, so a
#: retried report is stored once.
rec_feedback = sa.Table(
    "rec_feedback",
    metadata,
    sa.Column("feedback_id", sa.String(200), primary_key=True),
    sa.Column("recommendation_id", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("item_id", ID),
    sa.Column("at", sa.BigInteger, nullable=False),
    sa.Index(None, "recommendation_id"),
    sa.Index(None, "at"),
)
