"""Attribution: which orders a served list earned, and per-unit outcomes for experiments.

The rules (the ones GA4 and Recombee report, stated so a shop can check them):

- **People, not ids.** A guest id linked to an account counts as that customer, so a list seen
  as a guest and an order placed after login meet.
- **Click-through (last click).** A purchase or add-to-cart of item *i* by a person is credited
  to the latest list on which that person clicked *i* before it, if it came within the window
  (default 7 days) of that click.
- **View-through.** A purchase of an item a list showed, within the window after it was served,
  credited to the latest such list, click or not: the exposure-based measure for integrations
  that report no clicks.
- **Value** of a purchase is its ``value``, else ``price x quantity``; an order counts once per
  list however many of its lines were credited.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from storewise.schema import DAY_MS

DEFAULT_WINDOW_DAYS = 7


def people(frame: pl.DataFrame, column: str, links: Mapping[str, str]) -> pl.DataFrame:
    """``frame`` with a ``person`` column: ``column``'s id, or the customer it is linked to."""
    if not links:
        return frame.with_columns(pl.col(column).alias("person"))
    mapping = pl.DataFrame(
        {"_id": list(links), "_to": list(links.values())},
        schema={"_id": pl.String, "_to": pl.String},
    )
    joined = frame.join(mapping, left_on=column, right_on="_id", how="left")
    return joined.with_columns(pl.coalesce("_to", column).alias("person")).drop("_to")


def outcome_people(outcomes: pl.DataFrame, links: Mapping[str, str]) -> pl.DataFrame:
    """Purchases and add-to-carts with the person who did them and their value."""
    frame = outcomes.with_columns(
        pl.coalesce("customer_id", "anonymous_id").alias("_who"),
        pl.coalesce("value", pl.col("price") * pl.col("quantity"), pl.lit(0.0)).alias("amount"),
        pl.coalesce("order_id", pl.col("ts").cast(pl.String)).alias("order"),
    )
    frame = people(frame, "_who", links).drop("_who")
    return frame.filter(pl.col("person").is_not_null())


def shown(exposures: pl.DataFrame, links: Mapping[str, str]) -> pl.DataFrame:
    """One row per item of each served list, with the person it was served to."""
    frame = exposures.explode("items").rename({"items": "item_id"})
    frame = frame.filter(pl.col("item_id").is_not_null())
    return people(frame, "unit_id", links)


def credited(
    exposures: pl.DataFrame,
    feedback: pl.DataFrame,
    outcomes: pl.DataFrame,
    links: Mapping[str, str],
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(click-through credits, view-through credits): rows of ``recommendation_id``,
    ``event_type``, ``order``, ``amount`` and ``ts`` for each outcome credited to a list."""
    window = window_days * DAY_MS
    lists = shown(exposures, links)
    acted = outcome_people(outcomes, links)
    clicks = feedback.filter(pl.col("kind") == "click").select(
        "recommendation_id", "item_id", pl.col("at").alias("clicked_at")
    )
    clicked = lists.join(clicks, on=["recommendation_id", "item_id"], how="inner").select(
        "recommendation_id", "person", "item_id", "clicked_at"
    )
    through = (
        acted.join(clicked, on=["person", "item_id"], how="inner")
        .filter(
            (pl.col("clicked_at") <= pl.col("ts")) & (pl.col("ts") <= pl.col("clicked_at") + window)
        )
        .sort("clicked_at")
        .group_by(["person", "item_id", "event_type", "ts", "order"], maintain_order=True)
        .last()
        .select("recommendation_id", "event_type", "order", "amount", "ts")
    )
    bought = acted.filter(pl.col("event_type") == "purchase")
    viewed = (
        bought.join(
            lists.select("recommendation_id", "person", "item_id", pl.col("at").alias("seen")),
            on=["person", "item_id"],
            how="inner",
        )
        .filter((pl.col("seen") <= pl.col("ts")) & (pl.col("ts") <= pl.col("seen") + window))
        .sort("seen")
        .group_by(["person", "item_id", "ts", "order"], maintain_order=True)
        .last()
        .select("recommendation_id", "event_type", "order", "amount", "ts")
    )
    return through, viewed


def list_figures(
    exposures: pl.DataFrame,
    feedback: pl.DataFrame,
    outcomes: pl.DataFrame,
    links: Mapping[str, str],
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> pl.DataFrame:
    """Per served list: impressions, clicks, add-to-carts, attributed orders and revenue
    (click-through) and view-through orders and revenue, with its placement, model version
    and day."""
    through, viewed = credited(exposures, feedback, outcomes, links, window_days=window_days)
    seen = feedback.group_by("recommendation_id").agg(
        (pl.col("kind") == "impression").any().cast(pl.Int64).alias("impressions"),
        (pl.col("kind") == "click").sum().cast(pl.Int64).alias("clicks"),
    )
    carts = (
        through.filter(pl.col("event_type") == "add_to_cart")
        .group_by("recommendation_id")
        .agg(pl.len().cast(pl.Int64).alias("add_to_carts"))
    )
    orders = (
        through.filter(pl.col("event_type") == "purchase")
        .group_by("recommendation_id")
        .agg(
            pl.col("order").n_unique().cast(pl.Int64).alias("orders"),
            pl.col("amount").sum().alias("revenue"),
        )
    )
    views = viewed.group_by("recommendation_id").agg(
        pl.col("order").n_unique().cast(pl.Int64).alias("view_through_orders"),
        pl.col("amount").sum().alias("view_through_revenue"),
    )
    base = exposures.select(
        "recommendation_id",
        "placement",
        pl.col("model_version").fill_null("none"),
        (pl.col("at") // DAY_MS).alias("day"),
    )
    frame = base
    for part in (seen, carts, orders, views):
        frame = frame.join(part, on="recommendation_id", how="left")
    return frame.with_columns(
        pl.col("impressions", "clicks", "add_to_carts", "orders", "view_through_orders")
        .fill_null(0)
        .cast(pl.Int64),
        pl.col("revenue", "view_through_revenue").fill_null(0.0).cast(pl.Float64),
    )


FIGURES = (
    "served",
    "impressions",
    "clicks",
    "add_to_carts",
    "orders",
    "revenue",
    "view_through_orders",
    "view_through_revenue",
)


def summarise(figures: pl.DataFrame, by: list[str]) -> list[dict[str, Any]]:
    """Totals of :func:`list_figures` rows grouped by ``by``, with click-through rate (clicks
    per impression) and conversion (attributed orders per click)."""
    grouped = (
        figures.group_by(by)
        .agg(
            pl.len().cast(pl.Int64).alias("served"),
            *(pl.col(c).sum() for c in FIGURES[1:]),
        )
        .sort(by)
    )
    rows = []
    for row in grouped.iter_rows(named=True):
        row["click_through_rate"] = (
            row["clicks"] / row["impressions"] if row["impressions"] else None
        )
        row["orders_per_click"] = row["orders"] / row["clicks"] if row["clicks"] else None
        row["revenue"] = round(float(row["revenue"]), 2)
        row["view_through_revenue"] = round(float(row["view_through_revenue"]), 2)
        rows.append(row)
    return rows


def unit_metrics(
    assignments: pl.DataFrame,
    exposures: pl.DataFrame,
    feedback: pl.DataFrame,
    outcomes: pl.DataFrame,
    links: Mapping[str, str],
    *,
    until_ms: int,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> tuple[pl.DataFrame, int]:
    """Per person in an experiment: variant, first exposure, and the metrics
    (:data:`~storewise.experiments.plan.METRICS`) from first exposure until ``until_ms``;
    and how many people were assigned two variants (a guest and an account assigned apart
    before the login linked them: they keep their first assignment, and are counted).
    """
    units = people(assignments, "unit_id", links).sort("first_at")
    crossovers = int(
        units.group_by("person")
        .agg(pl.col("variant").n_unique().alias("v"))
        .filter(pl.col("v") > 1)
        .height
    )
    units = (
        units.group_by("person", maintain_order=True)
        .first()
        .select("person", "variant", "first_at")
    )
    acted = outcome_people(outcomes, links).filter(pl.col("event_type") == "purchase")
    after = acted.join(units, on="person", how="inner").filter(
        (pl.col("ts") >= pl.col("first_at")) & (pl.col("ts") <= until_ms)
    )
    spend = after.group_by("person").agg(
        pl.col("amount").sum().alias("revenue"),
        pl.col("order").n_unique().cast(pl.Float64).alias("orders"),
    )
    through, _ = credited(exposures, feedback, outcomes, links, window_days=window_days)
    served_to = people(exposures.select("recommendation_id", "unit_id"), "unit_id", links)
    earned = (
        through.filter(pl.col("event_type") == "purchase")
        .join(served_to.select("recommendation_id", "person"), on="recommendation_id")
        .group_by("person")
        .agg(
            pl.col("order").n_unique().cast(pl.Float64).alias("attributed_orders"),
            pl.col("amount").sum().alias("attributed_revenue"),
        )
    )
    clicks = (
        feedback.filter(pl.col("kind") == "click")
        .join(served_to, on="recommendation_id")
        .group_by("person")
        .agg(pl.len().cast(pl.Float64).alias("clicks"))
    )
    frame = units
    for part in (spend, earned, clicks):
        frame = frame.join(part, on="person", how="left")
    frame = frame.with_columns(
        pl.col("revenue", "orders", "attributed_orders", "attributed_revenue", "clicks")
        .fill_null(0.0)
        .cast(pl.Float64)
    ).with_columns(
        (pl.col("orders") > 0).cast(pl.Float64).alias("converted"),
        (pl.col("clicks") > 0).cast(pl.Float64).alias("clicked"),
    )
    return frame.rename({"person": "unit_id"}), crossovers
