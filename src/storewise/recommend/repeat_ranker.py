"""Which of a customer's past items they will buy again soon: a small learned ranker.

A customer's own past purchases hold most of what they buy next, but which of them? How
often and how lately they bought an item matters, and so does whether the whole shop is
buying it right now (seasonal and trending lines). A logistic regression over a handful of
such features is learned from the data itself: features as of ``horizon_days`` before the
snapshot, labels = what each active customer bought in those last days. The same feature
code serves training and answering, and the learned state is a few arrays (no pickle).

Features of a (customer, past item) pair, ages measured from the customer's latest event so
that rankings never depend on the wall clock:

- ``orders``: log(1 + orders with the item); ``share``: that count over the customer's orders;
- ``age``: log(1 + days since the item was last bought); ``first``: since first bought;
- ``popularity``: log(1 + distinct buyers); ``recent``: log(1 + distinct buyers in the last
  ``recent_days``); ``trend``: recent buyers relative to all buyers; ``repeat_rate``: share of
  the item's buyers who bought it in two or more orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from storewise.data.interactions import DAY_MS

FEATURES = (
    "orders", "share", "age", "first", "popularity", "recent", "last_week", "trend", "repeat_rate",
)  # fmt: skip
MIN_POSITIVES = 20


def _order_key() -> pl.Expr:
    return pl.coalesce(pl.col("order_id"), pl.col("ts").cast(pl.Utf8))


def item_stats(events: pl.DataFrame, n_items: int, as_of_ms: int, recent_days: float) -> np.ndarray:
    """Per-item (popularity, recent, last_week, trend, repeat_rate) as of ``as_of_ms``."""
    buys = events.filter((pl.col("event_type") == "purchase") & (pl.col("ts") <= as_of_ms))
    per_pair = buys.group_by("customer_idx", "item_idx").agg(
        _order_key().n_unique().alias("orders"), pl.col("ts").max().alias("last")
    )
    recent_from = as_of_ms - int(recent_days * DAY_MS)
    week_from = as_of_ms - 7 * DAY_MS
    per_item = per_pair.group_by("item_idx").agg(
        pl.len().alias("buyers"),
        (pl.col("last") >= recent_from).sum().alias("recent"),
        (pl.col("last") >= week_from).sum().alias("week"),
        (pl.col("orders") >= 2).sum().alias("repeaters"),
    )
    idx = per_item["item_idx"].to_numpy()
    buyers = np.zeros(n_items)
    recent = np.zeros(n_items)
    repeaters = np.zeros(n_items)
    week = np.zeros(n_items)
    week[idx] = per_item["week"].to_numpy()
    buyers[idx] = per_item["buyers"].to_numpy()
    recent[idx] = per_item["recent"].to_numpy()
    repeaters[idx] = per_item["repeaters"].to_numpy()
    base = repeaters.sum() / max(buyers.sum(), 1.0)
    stats = np.column_stack(
        [
            np.log1p(buyers),
            np.log1p(recent),
            np.log1p(week),
            (recent + 1.0) / (buyers + 5.0),
            (repeaters + 2.0 * base) / (buyers + 2.0),
        ]
    )
    return stats.astype(np.float32)


def pair_features(
    items: np.ndarray, orders: Sequence[object], ts: np.ndarray, stats: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(distinct past items, feature rows) of one customer's purchases (item, order, time)."""
    if items.size == 0:
        return np.empty(0, np.int64), np.empty((0, len(FEATURES)), np.float32)
    seen: dict[tuple[int, object], int] = {}
    for position, (item, order) in enumerate(zip(items.tolist(), orders, strict=True)):
        key = (item, order if order is not None else int(ts[position]))
        if key not in seen:
            seen[key] = position
    first_lines = np.fromiter(seen.values(), np.int64, len(seen))
    line_items = items[first_lines]
    distinct, inverse = np.unique(line_items, return_inverse=True)
    count = np.bincount(inverse).astype(np.float64)
    last = np.full(distinct.size, np.iinfo(np.int64).min, dtype=np.int64)
    first = np.full(distinct.size, np.iinfo(np.int64).max, dtype=np.int64)
    all_inverse = np.searchsorted(distinct, items)
    np.maximum.at(last, all_inverse, ts)
    np.minimum.at(first, all_inverse, ts)
    reference = int(ts.max())
    n_orders = len({key[1] for key in seen})
    own = np.column_stack(
        [
            np.log1p(count),
            count / max(n_orders, 1),
            np.log1p((reference - last) / DAY_MS),
            np.log1p((reference - first) / DAY_MS),
        ]
    )
    return distinct.astype(np.int64), np.hstack([own, stats[distinct]]).astype(np.float32)


@dataclass(frozen=True)
class RepeatRanker:
    """A fitted logistic ranker: standardisation and coefficients over :data:`FEATURES`."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def probability(self, features: np.ndarray) -> np.ndarray:
        """Probability that each (customer, past item) row is bought within the horizon."""
        logits = ((features - self.mean) / self.scale) @ self.coef + self.intercept
        result: np.ndarray = 1.0 / (1.0 + np.exp(-logits))
        return result

    def arrays(self) -> dict[str, np.ndarray]:
        """The state as arrays for a bundle."""
        return {
            "ranker.mean": self.mean,
            "ranker.scale": self.scale,
            "ranker.coef": self.coef,
            "ranker.intercept": np.asarray([self.intercept]),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> RepeatRanker | None:
        """The ranker stored by :meth:`arrays`, or None when the bundle has none."""
        if "ranker.coef" not in arrays:
            return None
        return cls(
            arrays["ranker.mean"],
            arrays["ranker.scale"],
            arrays["ranker.coef"],
            float(arrays["ranker.intercept"][0]),
        )


def customer_purchases(
    events: pl.DataFrame,
) -> dict[int, tuple[np.ndarray, list[object], np.ndarray]]:
    """Each customer's purchase lines as (items, orders, times), in time order."""
    buys = events.filter(pl.col("event_type") == "purchase").sort("customer_idx", "ts")
    out: dict[int, tuple[np.ndarray, list[object], np.ndarray]] = {}
    for (customer,), part in buys.partition_by("customer_idx", as_dict=True).items():
        out[int(customer)] = (
            part["item_idx"].to_numpy().astype(np.int64),
            part["order_id"].to_list(),
            part["ts"].to_numpy().astype(np.int64),
        )
    return out


def learn(
    events: pl.DataFrame,
    n_items: int,
    as_of_ms: int,
    *,
    horizon_days: float,
    recent_days: float,
    seed: int = 0,
) -> RepeatRanker | None:
    """Fit on features before ``as_of - horizon`` and purchases after it; None if too little."""
    from sklearn.linear_model import LogisticRegression

    cutoff = as_of_ms - int(horizon_days * DAY_MS)
    before = events.filter(pl.col("ts") < cutoff)
    after = events.filter((pl.col("ts") >= cutoff) & (pl.col("event_type") == "purchase"))
    bought_after = after.group_by("customer_idx").agg(pl.col("item_idx").unique())
    if bought_after.height == 0 or before.height == 0:
        return None
    stats = item_stats(before, n_items, cutoff - 1, recent_days)
    wanted = set(bought_after["customer_idx"].to_list())
    history = customer_purchases(before.filter(pl.col("customer_idx").is_in(list(wanted))))
    rows: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for customer, later in bought_after.iter_rows():
        if customer not in history:
            continue
        items, features = pair_features(*history[customer], stats)
        rows.append(features)
        labels.append(np.isin(items, np.asarray(later)))
    if not rows:
        return None
    x = np.vstack(rows).astype(np.float64)
    y = np.concatenate(labels)
    if y.sum() < MIN_POSITIVES or y.all():
        return None
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
    model.fit((x - mean) / scale, y)
    return RepeatRanker(
        mean.astype(np.float64),
        scale.astype(np.float64),
        model.coef_[0].astype(np.float64),
        float(model.intercept_[0]),
    )
