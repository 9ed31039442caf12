"""Customers x items matrices from a snapshot: event-type weights, counting unit, time decay.

>>> import polars as pl
>>> from storewise.data.dataset import Dataset
>>> ds = Dataset.from_frames(pl.DataFrame({"customer_id": ["a", "a"], "item_id": ["x", "x"],
...     "event_type": ["view", "purchase"], "ts": [1, 2]}))
>>> interaction_matrix(ds, InteractionConfig()).toarray().tolist()
[[5.0]]
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from storewise.data.dataset import Dataset
from storewise.schema import DAY_MS as DAY_MS  # re-exported: models import it from here

#: A rating at or above this (on the usual 1 to 5 scale) says the customer liked the item:
#: it counts as a positive interaction, like a purchase; a lower rating (or none) adds nothing.
LIKED_RATING = 4.0
#: Event types that mean the customer has the item: never recommended to them as new.
OWNED_TYPES = ("purchase", "rating")


def positive() -> pl.Expr:
    """Events showing a customer wanted an item: purchases and liked ratings. These are what
    evaluation counts as hits, so shops (or datasets) with ratings only are learned from too."""
    return (pl.col("event_type") == "purchase") | (
        (pl.col("event_type") == "rating") & (pl.col("value").fill_null(0.0) >= LIKED_RATING)
    )


def disliked() -> pl.Expr:
    """Ratings below :data:`LIKED_RATING`: they carry no positive weight."""
    return (pl.col("event_type") == "rating") & (pl.col("value").fill_null(0.0) < LIKED_RATING)


class InteractionConfig(BaseModel):
    """How events become interaction strengths."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "view": 1.0,
            "add_to_cart": 2.0,
            "remove_from_cart": -1.0,
            "purchase": 4.0,
            "return": -4.0,
            "rating": 4.0,
            "search": 0.0,
        },
        description="Strength added by one event (or order) of each type; negatives subtract."
        " A rating adds its weight only when liked (>= LIKED_RATING).",
    )
    unit: Literal["event", "order"] = Field(
        default="order",
        description="Count every event, or each order once per item (repeat lines collapse).",
    )
    half_life_days: float | None = Field(
        default=None, gt=0, description="Exponential time decay of old events; None: no decay."
    )
    transform: Literal["raw", "log", "binary"] = Field(
        default="raw", description="raw sums, log(1 + sum), or 1 for any positive strength."
    )


def weighted_events(
    events: pl.DataFrame, config: InteractionConfig, now_ms: int, *, relative: bool = False
) -> pl.DataFrame:
    """(customer_idx, item_idx, strength) after weights, unit and decay; strength > 0 only.

    With ``relative``, each customer's ages are measured from their own latest event:
    rankings for one customer are the same (exponential decay is shift-invariant) and a
    long-inactive customer's history does not decay to nothing.
    """
    weight = pl.col("event_type").replace_strict(
        config.weights, default=0.0, return_dtype=pl.Float64
    )
    weight = pl.when(disliked()).then(0.0).otherwise(weight)
    frame = events.with_columns(weight.alias("_w")).filter(pl.col("_w") != 0)
    if config.unit == "order":
        key = pl.coalesce(pl.col("order_id"), pl.col("ts").cast(pl.Utf8))
        frame = frame.group_by("customer_idx", "item_idx", "event_type", key.alias("_o")).agg(
            pl.col("_w").first(), pl.col("ts").max()
        )
    if config.half_life_days is not None:
        reference = pl.col("ts").max().over("customer_idx") if relative else pl.lit(now_ms)
        age_days = (reference - pl.col("ts")).clip(lower_bound=0) / DAY_MS
        frame = frame.with_columns(pl.col("_w") * (0.5 ** (age_days / config.half_life_days)))
    summed = frame.group_by("customer_idx", "item_idx").agg(pl.col("_w").sum().alias("strength"))
    summed = summed.filter(pl.col("strength") > 1e-9)
    if config.transform == "log":
        summed = summed.with_columns(pl.col("strength").log1p())
    elif config.transform == "binary":
        summed = summed.with_columns(pl.lit(1.0).alias("strength"))
    return summed


def interaction_matrix(
    dataset: Dataset, config: InteractionConfig, *, now_ms: int | None = None
) -> sp.csr_matrix:
    """The customers x items matrix (float32 CSR) of a snapshot under ``config``."""
    frame = weighted_events(dataset.events, config, dataset.as_of_ms if now_ms is None else now_ms)
    return to_csr(frame, dataset.n_customers, dataset.n_items)


def to_csr(frame: pl.DataFrame, n_rows: int, n_cols: int) -> sp.csr_matrix:
    """A CSR matrix from (customer_idx, item_idx, strength) rows."""
    matrix = sp.csr_matrix(
        (
            frame["strength"].to_numpy().astype(np.float32),
            (frame["customer_idx"].to_numpy(), frame["item_idx"].to_numpy()),
        ),
        shape=(n_rows, n_cols),
        dtype=np.float32,
    )
    matrix.sum_duplicates()
    matrix.sort_indices()
    return matrix


def history_vector(
    history: pl.DataFrame, n_items: int, config: InteractionConfig, now_ms: int
) -> sp.csr_matrix:
    """One customer's 1 x items row from their indexed events (``item_idx`` column)."""
    frame = history.with_columns(pl.lit(0, dtype=pl.Int32).alias("customer_idx"))
    return to_csr(weighted_events(frame, config, now_ms), 1, n_items)
