"""Aggregate reads of the store for dashboards: monthly activity, who buys an item (counts,
never personal data), one catalog row, and customer-id search."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from storewise.store.tables import customers, events


@dataclass(frozen=True)
class MonthFigures:
    """One calendar month (UTC): active customers, orders and revenue."""

    month: str
    active_customers: int
    orders: int
    revenue: float


def _month_expr(dialect: str) -> sa.ColumnElement[Any]:
    """``YYYY-MM`` of an event's millisecond timestamp, in SQL of the store's dialect."""
    if dialect == "postgresql":
        return sa.func.to_char(
            sa.func.timezone("UTC", sa.func.to_timestamp(events.c.ts / 1000.0)), "YYYY-MM"
        )
    return sa.func.strftime("%Y-%m", events.c.ts / 1000, "unixepoch")


def monthly_activity(engine: sa.Engine) -> list[MonthFigures]:
    """Per month: customers with any event, distinct orders and purchase revenue."""
    month = _month_expr(engine.dialect.name).label("month")
    purchase = events.c.event_type == "purchase"
    query = (
        sa.select(
            month,
            sa.func.count(sa.distinct(events.c.customer_id)),
            sa.func.count(sa.distinct(sa.case((purchase, events.c.order_id)))),
            sa.func.sum(sa.case((purchase, events.c.value), else_=0.0)),
        )
        .group_by(month)
        .order_by(month)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        MonthFigures(str(m), int(a or 0), int(o or 0), round(float(r or 0.0), 2))
        for m, a, o, r in rows
        if m is not None
    ]


@dataclass(frozen=True)
class ItemAudience:
    """Who buys an item, as counts only: buyers, purchases, units, revenue, returns, countries."""

    buyers: int
    purchases: int
    units: float
    revenue: float
    returns: int
    viewers: int
    countries: list[tuple[str, int]]


def item_audience(engine: sa.Engine, item_id: str, *, top_countries: int = 8) -> ItemAudience:
    """Counts of the customers who bought (and viewed, returned) one item."""
    kind = events.c.event_type
    query = sa.select(
        sa.func.count(sa.distinct(sa.case((kind == "purchase", events.c.customer_id)))),
        sa.func.count(sa.case((kind == "purchase", 1))),
        sa.func.sum(sa.case((kind == "purchase", events.c.quantity), else_=0.0)),
        sa.func.sum(sa.case((kind == "purchase", events.c.value), else_=0.0)),
        sa.func.count(sa.case((kind == "return", 1))),
        sa.func.count(
            sa.distinct(
                sa.case(
                    (kind == "view", sa.func.coalesce(events.c.customer_id, events.c.anonymous_id))
                )
            )
        ),
    ).where(events.c.item_id == item_id)
    buyers_by_country = (
        sa.select(
            sa.func.coalesce(customers.c.country, "unknown"),
            sa.func.count(sa.distinct(events.c.customer_id)),
        )
        .select_from(events.join(customers, customers.c.customer_id == events.c.customer_id))
        .where((events.c.item_id == item_id) & (kind == "purchase"))
        .group_by(sa.func.coalesce(customers.c.country, "unknown"))
        .order_by(sa.func.count(sa.distinct(events.c.customer_id)).desc())
        .limit(top_countries)
    )
    with engine.connect() as conn:
        buyers, purchases, units, revenue, returns, viewers = conn.execute(query).one()
        countries = [(str(c), int(n)) for c, n in conn.execute(buyers_by_country).all()]
    return ItemAudience(
        buyers=int(buyers or 0),
        purchases=int(purchases or 0),
        units=float(units or 0.0),
        revenue=round(float(revenue or 0.0), 2),
        returns=int(returns or 0),
        viewers=int(viewers or 0),
        countries=countries,
    )


def item_facts(engine: sa.Engine, item_id: str) -> dict[str, Any] | None:
    """One catalog row (title, category, brand, price, stock), or None when unknown."""
    from storewise.store.tables import items

    with engine.connect() as conn:
        row = (
            conn.execute(
                sa.select(
                    items.c.item_id,
                    items.c.title,
                    items.c.description,
                    items.c.category,
                    items.c.brand,
                    items.c.price,
                    items.c.currency,
                    items.c.in_stock,
                    items.c.is_product,
                ).where(items.c.item_id == item_id)
            )
            .mappings()
            .first()
        )
    return dict(row) if row is not None else None


def search_customers(engine: sa.Engine, text: str, *, limit: int = 20) -> list[str]:
    """Customer ids starting with ``text`` (an id search, never by personal fields)."""
    pattern = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(customers.c.customer_id)
            .where(customers.c.customer_id.like(pattern, escape="\\"))
            .order_by(customers.c.customer_id)
            .limit(limit)
        ).all()
    return [str(r[0]) for r in rows]
