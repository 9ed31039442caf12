"""Item-based collaborative filtering: "customers who bought X also bought this".

Cosine or BM25-weighted co-occurrence between items, with shrinkage (so pairs seen by few
customers count less) and a neighbourhood of the k most similar items per item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Self

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
    bm25_weight,
    cosine_item_similarity,
    most_similar,
    strongest_sources,
)
from storewise.recommend.results import Reason


class ItemItemModel(Recommender):
    """Models that score a history as ``x @ W`` with an item x item weight matrix ``W``."""

    weights: Any  # sparse CSR or dense ndarray, items x items
    reason_kind = "bought_with"

    def score(self, histories: Sequence[History]) -> np.ndarray:
        """``x @ W`` for each history's interaction vector ``x``."""
        self._require_fitted()
        x = self._history_vectors(histories)
        scores = x @ self.weights
        return np.asarray(scores.toarray() if sp.issparse(scores) else scores, dtype=np.float32)

    def similar_items(self, item_idx: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Items with the largest weight from ``item_idx``."""
        self._require_fitted()
        row = self.weights[item_idx]
        values = np.asarray(row.toarray()).ravel() if sp.issparse(row) else np.asarray(row)
        return most_similar(values, n, item_idx)

    def _history_vectors(self, histories: Sequence[History]) -> sp.csr_matrix:
        """The interaction vectors ``x`` the weights multiply."""
        return history_matrix(histories, self.n_items, self.config.interactions)

    def explain_many(self, history: History, items: np.ndarray) -> list[list[Reason]]:
        """For each item, the history item that contributes most to its score."""
        x = self._history_vectors([history])
        sources = x.indices.astype(np.int64)
        rows = self.weights[sources]
        dense = rows.toarray() if sp.issparse(rows) else np.asarray(rows)
        block = dense[:, items].astype(np.float64)
        return [
            [Reason(self.reason_kind, item_idx=source)]
            if source is not None
            else [Reason("customers_like_you")]
            for source in strongest_sources(block, x.data, sources)
        ]


class ItemKNNConfig(ModelConfig):
    """Hyperparameters of item-based CF."""

    similarity: Literal["cosine", "bm25"] = Field(
        default="bm25", description="Plain cosine, or cosine over BM25-weighted interactions."
    )
    k: int = Field(default=100, ge=1, description="Neighbours kept per item.")
    shrink: float = Field(default=10.0, ge=0, description="Shrinks similarities of rare pairs.")
    alpha: float = Field(
        default=0.5, ge=0, le=1, description="Asymmetric cosine exponent (0.5 = cosine)."
    )
    bm25_k1: float = Field(default=1.2, gt=0, description="BM25 saturation.")
    bm25_b: float = Field(default=0.75, ge=0, le=1, description="BM25 length normalisation.")


class ItemKNN(ItemItemModel):
    """Neighbourhood item-item collaborative filtering."""

    name = "itemknn"
    config_class = ItemKNNConfig
    config: ItemKNNConfig

    def fit(self, dataset: Dataset) -> Self:
        """Build the top-k item similarity matrix."""
        cfg = self.config
        x = interaction_matrix(dataset, cfg.interactions)
        if cfg.similarity == "bm25":
            x = bm25_weight(x, cfg.bm25_k1, cfg.bm25_b)
        sim = cosine_item_similarity(x, shrink=cfg.shrink, alpha=cfg.alpha, k=cfg.k)
        # W[i, j]: weight from history item i to candidate j; neighbours of j live in row j.
        self.weights = sp.csr_matrix(sim.T)
        self._fit_common(dataset)
        self.fitted = True
        return self

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The sparse weight matrix."""
        return {}, sparse_arrays("weights", self.weights)

    def set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Restore the sparse weight matrix."""
        self.weights = sparse_from("weights", arrays)
