"""Small canonical frames for tests and doctests: a handful of customers, items and events."""

from __future__ import annotations

import polars as pl

DAY = 86_400_000
T0 = 1_700_000_000_000  # 2023-11-14


def tiny_events() -> pl.DataFrame:
    """Three customers, five items, purchases and views over ten days."""
    rows = [
        # event_id, customer, anonymous, item, type, qty, price, order, day
        ("e01", "c1", None, "i1", "purchase", 1.0, 10.0, "o1", 0),
        ("e02", "c1", None, "i2", "purchase", 2.0, 5.0, "o1", 0),
        ("e03", "c2", None, "i1", "purchase", 1.0, 10.0, "o2", 1),
        ("e04", "c2", None, "i3", "purchase", 1.0, 7.5, "o2", 1),
        ("e05", "c3", None, "i2", "view", 1.0, None, None, 2),
        ("e06", "c3", None, "i4", "purchase", 3.0, 2.0, "o3", 3),
        ("e07", "c1", None, "i3", "view", 1.0, None, None, 4),
        ("e08", "c2", None, "i2", "purchase", 1.0, 5.0, "o4", 5),
        ("e09", None, "anon-1", "i5", "view", 1.0, None, None, 6),
        ("e10", "c3", "anon-1", "i1", "add_to_cart", 1.0, None, None, 7),
        ("e11", "c1", None, "i1", "purchase", 1.0, 10.0, "o5", 9),
    ]
    return pl.DataFrame(
        {
            "event_id": [r[0] for r in rows],
            "customer_id": [r[1] for r in rows],
            "anonymous_id": [r[2] for r in rows],
            "item_id": [r[3] for r in rows],
            "event_type": [r[4] for r in rows],
            "quantity": [r[5] for r in rows],
            "price": [r[6] for r in rows],
            "value": [None if r[6] is None else r[5] * r[6] for r in rows],
            "order_id": [r[7] for r in rows],
            "ts": [T0 + r[8] * DAY for r in rows],
        },
        schema={
            "event_id": pl.Utf8,
            "customer_id": pl.Utf8,
            "anonymous_id": pl.Utf8,
            "item_id": pl.Utf8,
            "event_type": pl.Utf8,
            "quantity": pl.Float64,
            "price": pl.Float64,
            "value": pl.Float64,
            "order_id": pl.Utf8,
            "ts": pl.Int64,
        },
    )


def tiny_items() -> pl.DataFrame:
    """Five catalog items with titles, categories and prices."""
    return pl.DataFrame(
        {
            "item_id": ["i1", "i2", "i3", "i4", "i5"],
            "title": [
                "White Hanging Heart Lantern",
                "Red Retrospot Lunch Bag",
                "White Ceramic Lantern",
                "Jasmine Green Tea",
                "Blue Garden Trowel",
            ],
            "category": ["lighting", "bags", "lighting", "tea", "garden"],
            "price": [10.0, 5.0, 7.5, 2.0, 12.0],
            "in_stock": [True, True, True, True, False],
        }
    )
