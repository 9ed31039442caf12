"""Evaluation splits of a snapshot: by time, leave-last-basket, and per-customer random."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from storewise.data.dataset import Dataset
from storewise.errors import InputError
from storewise.schema import DAY_MS, from_ms


@dataclass(frozen=True)
class Split:
    """A training snapshot and held-out events (external ids, so new customers are fine)."""

    train: Dataset
    test: pl.DataFrame  # customer_id, item_id, event_type, ts, order_id


def _external(dataset: Dataset, events: pl.DataFrame) -> pl.DataFrame:
    cids = pl.Series(dataset.customer_ids)
    iids = pl.Series(dataset.item_ids)
    return pl.DataFrame(
        {
            "customer_id": cids.gather(events["customer_idx"]) if events.height else [],
            "item_id": iids.gather(events["item_idx"]) if events.height else [],
            "event_type": events["event_type"],
            "ts": events["ts"],
            "order_id": events["order_id"],
            "value": events["value"],
        },
        schema={
            "customer_id": pl.Utf8,
            "item_id": pl.Utf8,
            "event_type": pl.Utf8,
            "ts": pl.Int64,
            "order_id": pl.Utf8,
            "value": pl.Float64,
        },
    )


def temporal_split(dataset: Dataset, cutoff_ms: int, end_ms: int | None = None) -> Split:
    """Train on events before ``cutoff_ms``; test on events from it (up to ``end_ms``)."""
    events = dataset.events
    test = events.filter(pl.col("ts") >= cutoff_ms)
    if end_ms is not None:
        test = test.filter(pl.col("ts") < end_ms)
    train = dataset.until(cutoff_ms)
    if train.events.height == 0 or test.height == 0:
        times = events["ts"].to_numpy()
        first = from_ms(int(times.min())).date() if times.size else None
        last = from_ms(int(times.max())).date() if times.size else None
        empty = "before" if train.events.height == 0 else "from"
        raise InputError(
            f"no events {empty} {from_ms(cutoff_ms).date()} to split on (the events run from "
            f"{first} to {last}); hold out fewer days or wait for more history"
        )
    return Split(train=train, test=_external(dataset, test))


def last_days_split(dataset: Dataset, days: float) -> Split:
    """Hold out the most recent ``days`` of events (the validation split of auto-tuning)."""
    cutoff = dataset.as_of_ms - int(days * DAY_MS)
    return temporal_split(dataset, cutoff)


def leave_last_basket(dataset: Dataset) -> Split:
    """Hold out each customer's last order (customers with at least two orders)."""
    events = dataset.events.with_columns(
        pl.coalesce(pl.col("order_id"), pl.col("ts").cast(pl.Utf8)).alias("_o")
    )
    last = events.group_by("customer_idx").agg(
        pl.col("_o").sort_by("ts").last().alias("_last"), pl.col("_o").n_unique().alias("_n")
    )
    marked = events.join(last, on="customer_idx").with_columns(
        ((pl.col("_o") == pl.col("_last")) & (pl.col("_n") > 1)).alias("_held")
    )
    return _split_by_mask(dataset, marked)


def per_user_random_split(dataset: Dataset, test_fraction: float = 0.2, seed: int = 0) -> Split:
    """Hold out a random ``test_fraction`` of each customer's events (seeded)."""
    if not 0 < test_fraction < 1:
        raise InputError("test_fraction must be between 0 and 1")
    rng = np.random.default_rng(seed)
    events = dataset.events.with_columns(pl.Series("_r", rng.random(dataset.events.height)))
    counts = events.group_by("customer_idx").len()
    marked = events.join(counts, on="customer_idx").with_columns(
        ((pl.col("_r") < test_fraction) & (pl.col("len") > 1)).alias("_held")
    )
    return _split_by_mask(dataset, marked)


def _split_by_mask(dataset: Dataset, marked: pl.DataFrame) -> Split:
    held = marked.filter(pl.col("_held"))
    kept = marked.filter(~pl.col("_held"))
    if held.height == 0:
        raise InputError("the split holds nothing out: customers need more than one order")
    columns = list(dataset.events.columns)
    train = dataset._rebuild(kept.select(columns), dataset.as_of_ms)
    return Split(train=train, test=_external(dataset, held.select(columns)))
