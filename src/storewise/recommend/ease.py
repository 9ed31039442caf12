"""EASE (Steck 2019): a closed-form linear item-item model, among the strongest baselines.

``B = I - P / diag(P)`` with ``P = (X'X + lambda I)^-1`` and a zero diagonal. Dense in the
number of items, so very large catalogs are limited to the ``max_items`` most popular.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from pydantic import Field

from storewise.data.dataset import Dataset
from storewise.data.interactions import interaction_matrix
from storewise.recommend.base import History, ModelConfig
from storewise.recommend.itemknn import ItemItemModel
from storewise.recommend.neighbors import BM25Weighting


class EASEConfig(ModelConfig):
    """Hyperparameters of EASE."""

    l2: float = Field(default=200.0, gt=0, description="L2 regularisation lambda.")
    bm25: bool = Field(default=False, description="BM25-weight interactions before fitting.")
    max_items: int = Field(
        default=20_000, ge=10, description="Largest catalog fitted densely (most popular kept)."
    )


class EASE(ItemItemModel):
    """Embarrassingly shallow autoencoder with a closed-form solution."""

    name = "ease"
    config_class = EASEConfig
    config: EASEConfig

    def fit(self, dataset: Dataset) -> Self:
        """Solve for the item-item weights in closed form."""
        cfg = self.config
        x = interaction_matrix(dataset, cfg.interactions)
        self.bm25 = BM25Weighting.learn(x, enabled=cfg.bm25)
        x = self.bm25.weigh(x)
        n = dataset.n_items
        counts = np.diff(x.tocsc().indptr)
        keep = np.arange(n)
        if n > cfg.max_items:
            keep = np.sort(np.argsort(-counts, kind="stable")[: cfg.max_items])
        sub = x[:, keep]
        gram = np.asarray((sub.T @ sub).toarray(), dtype=np.float64)
        gram[np.diag_indices_from(gram)] += cfg.l2
        inverse = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
        weights = -inverse / np.diag(inverse)
        np.fill_diagonal(weights, 0.0)
        full = np.zeros((n, n), dtype=np.float32)
        full[np.ix_(keep, keep)] = weights.astype(np.float32)
        self.weights = full
        self._fit_common(dataset)
        self.fitted = True
        return self

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The dense weight matrix."""
        meta, arrays = self.bm25.state()
        return meta, {"weights": self.weights, **arrays}

    def set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Restore the dense weight matrix."""
        self.weights = arrays["weights"].astype(np.float32, copy=False)
        self.bm25 = BM25Weighting.from_state(meta, arrays, enabled=self.config.bm25)

    def _history_vectors(self, histories: Sequence[History]) -> sp.csr_matrix:
        """Query vectors weighted like the training matrix was."""
        return self.bm25.weigh(super()._history_vectors(histories))
