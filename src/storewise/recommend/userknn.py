"""User-based collaborative filtering: "customers like you bought ...".

The classic formula: find the k customers whose weighted histories are most similar (cosine)
to this one, and score each item by the similarity-weighted sum of their interactions,
normalised by the total similarity of the neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from storewise.data.dataset import Dataset
from storewise.data.interactions import interaction_matrix
from storewise.recommend.base import (
    History,
    ModelConfig,
    Recommender,
    history_matrix,
    sparse_arrays,
    sparse_from,
    top_n,
)
from storewise.recommend.neighbors import bm25_stats, bm25_weight, row_normalise
from storewise.recommend.results import Reason


class UserKNNConfig(ModelConfig):
    """Hyperparameters of user-based CF."""

    k: int = Field(default=50, ge=1, description="Nearest customers used.")
    shrink: float = Field(default=0.0, ge=0, description="Shrinks similarity of thin overlaps.")
    bm25: bool = Field(default=True, description="BM25-weight histories before comparing.")
    normalise: bool = Field(
        default=False, description="Divide by the neighbours' total similarity (classic mean)."
    )


class UserKNN(Recommender):
    """Neighbourhood customer-customer collaborative filtering."""

    name = "userknn"
    config_class = UserKNNConfig
    config: UserKNNConfig

    def fit(self, dataset: Dataset) -> Self:
        """Keep the normalised customer histories to compare new histories against."""
        x = interaction_matrix(dataset, self.config.interactions)
        self.bm25 = bm25_stats(x)
        self.profiles = row_normalise(bm25_weight(x, stats=self.bm25) if self.config.bm25 else x)
        self.by_item = sp.csc_matrix(self.profiles)
        self._fit_common(dataset)
        self.fitted = True
        return self

    def _neighbours(self, histories: Sequence[History]) -> sp.csr_matrix:
        x = history_matrix(histories, self.n_items, self.config.interactions)
        if self.config.bm25 and x.nnz:
            x = bm25_weight(x, stats=self.bm25)
        x = row_normalise(x)
        sims = (x @ self.by_item.T).tocsr()
        if self.config.shrink:
            sims.data = sims.data * (1.0 / (1.0 + self.config.shrink / np.maximum(sims.data, 1e-9)))
        k = self.config.k
        rows = []
        for row, history in enumerate(histories):
            lo, hi = sims.indptr[row], sims.indptr[row + 1]
            cols, vals = sims.indices[lo:hi], sims.data[lo:hi].copy()
            if history.customer_idx is not None:
                vals[cols == history.customer_idx] = 0.0  # never your own neighbour
            if cols.size > k:
                best = np.argpartition(-vals, k - 1)[:k]
                cols, vals = cols[best], vals[best]
            rows.append(
                sp.csr_matrix((vals, (np.zeros_like(cols), cols)), shape=(1, sims.shape[1]))
            )
        return sp.vstack(rows).tocsr() if rows else sp.csr_matrix((0, sims.shape[1]))

    def score(self, histories: Sequence[History]) -> np.ndarray:
        """Similarity-weighted sum of the nearest customers' interactions."""
        self._require_fitted()
        neighbours = self._neighbours(histories)
        scores = np.asarray((neighbours @ self.profiles).toarray(), dtype=np.float32)
        if self.config.normalise:
            total = np.asarray(neighbours.sum(axis=1)).ravel()
            scores /= np.maximum(total, 1e-9)[:, None]
        scores[np.diff(neighbours.indptr) == 0] = -np.inf
        return scores

    def similar_items(self, item_idx: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Items most bought by the customers who bought ``item_idx``."""
        self._require_fitted()
        buyers = self.by_item[:, item_idx]
        scores = np.asarray((buyers.T @ self.profiles).toarray()).ravel().astype(np.float64)
        scores[scores <= 0] = -np.inf
        return top_n(scores, n, exclude=np.asarray([item_idx]))

    def explain_many(self, history: History, items: np.ndarray) -> list[list[Reason]]:
        """Customers with similar tastes bought it."""
        return [[Reason("customers_like_you")] for _ in items]

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The normalised customer histories."""
        return {"bm25_avg": self.bm25[1]}, {
            **sparse_arrays("profiles", self.profiles),
            "bm25_idf": self.bm25[0],
        }

    def set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Restore the customer histories."""
        self.profiles = sparse_from("profiles", arrays)
        self.bm25 = (arrays["bm25_idf"], float(meta["bm25_avg"]))
        self.by_item = sp.csc_matrix(self.profiles)
