"""Frequently bought together: item pairs in the same order, counted by distinct customers.

A pair is only ever shown when at least ``k`` different customers bought the two items in
one order, so a list can never reveal what one person bought.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp

from storewise.data.dataset import Dataset
from storewise.recommend.neighbors import keep_top_k

MAX_LINES_PER_ORDER = 60


def cobuy_counts(dataset: Dataset, *, min_customers: int = 2, top_k: int = 100) -> sp.csr_matrix:
    """Items x items: distinct customers who bought both in one order (>= ``min_customers``)."""
    lines = (
        dataset.events.filter(
            (pl.col("event_type") == "purchase") & pl.col("order_id").is_not_null()
        )
        .select("customer_idx", "order_id", "item_idx")
        .unique()
    )
    lines = lines.with_columns(
        pl.col("item_idx").rank("ordinal").over("order_id").alias("_line")
    ).filter(pl.col("_line") <= MAX_LINES_PER_ORDER)
    left = lines.select("customer_idx", "order_id", pl.col("item_idx").alias("a"))
    right = lines.select("order_id", pl.col("item_idx").alias("b"))
    pairs = (
        left.join(right, on="order_id")
        .filter(pl.col("a") != pl.col("b"))
        .select("customer_idx", "a", "b")
        .unique()
        .group_by("a", "b")
        .len()
        .filter(pl.col("len") >= min_customers)
    )
    n = dataset.n_items
    matrix = sp.csr_matrix(
        (
            pairs["len"].to_numpy().astype(np.float32),
            (pairs["a"].to_numpy(), pairs["b"].to_numpy()),
        ),
        shape=(n, n),
    )
    return keep_top_k(matrix, top_k)


def basket_scores(
    cobuy: sp.csr_matrix, basket: np.ndarray, popularity: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, strongest basket item per candidate) for items bought with the basket.

    Only pairs with at least ``k`` distinct customers count; a candidate's score sums its
    co-purchase counts with each basket item, discounted by its own popularity (so the list
    is about this basket, not about bestsellers).
    """
    n = cobuy.shape[1]
    scores = np.zeros(n, dtype=np.float64)
    best = np.full(n, -1, dtype=np.int64)
    strongest = np.zeros(n, dtype=np.float64)
    for item in basket:
        row = cobuy[int(item)]
        keep = row.data >= k
        cols, counts = row.indices[keep], row.data[keep].astype(np.float64)
        scores[cols] += counts
        better = counts > strongest[cols]
        strongest[cols[better]] = counts[better]
        best[cols[better]] = int(item)
    scores = scores / np.sqrt(np.maximum(popularity.astype(np.float64), 1.0))
    scores[best < 0] = -np.inf
    scores[basket] = -np.inf
    return scores, best
