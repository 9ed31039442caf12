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
)
from storewise.recommend.neighbors import (
    BM25Weighting,
    co_bought,
    nearest_neighbours,
    row_normalise,
)
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
        self.bm25 = BM25Weighting.learn(x, enabled=self.config.bm25)
        self.profiles = row_normalise(self.bm25.weigh(x))
        self.by_item = sp.csc_matrix(self.profiles)
        self._fit_common(dataset)
        self.fitted = True
        return self

    def _neighbours(self, histories: Sequence[History]) -> sp.csr_matrix:
        x = self.bm25.weigh(history_matrix(histories, self.n_items, self.config.interactions))
        sims = (row_normalise(x) @ self.by_item.T).tocsr()
        if self.config.shrink:
            sims.data = sims.data * (1.0 / (1.0 + self.config.shrink / np.maximum(sims.data, 1e-9)))
        return nearest_neighbours(sims, self.config.k, [h.customer_idx for h in histories])

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
        return co_bought(self.by_item, self.profiles, item_idx, n)

    def explain_many(self, history: History, items: np.ndarray) -> list[list[Reason]]:
        """Customers with similar tastes bought it."""
        return [[Reason("customers_like_you")] for _ in items]

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The normalised customer histories."""
        meta, arrays = self.bm25.state()
        return meta, {**sparse_arrays("profiles", self.profiles), **arrays}

    def set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Restore the customer histories."""
        self.profiles = sparse_from("profiles", arrays)
        self.bm25 = BM25Weighting.from_state(meta, arrays, enabled=self.config.bm25)
        self.by_item = sp.csc_matrix(self.profiles)
