"""Implicit-feedback matrix factorisation (iALS, Hu, Koren & Volinsky 2008) via ``implicit``.

Training uses the ``implicit`` library; at query time a customer's factors are solved from
their fresh history against the item factors (fold-in), so new events count at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
from pydantic import Field

from storewise.data.dataset import Dataset
from storewise.data.interactions import interaction_matrix
from storewise.recommend.base import (
    History,
    ModelConfig,
    Recommender,
    history_matrix,
    top_n,
)
from storewise.recommend.neighbors import BM25Weighting, strongest_sources
from storewise.recommend.results import Reason


class ALSConfig(ModelConfig):
    """Hyperparameters of implicit ALS."""

    factors: int = Field(default=64, ge=2, description="Latent dimensions.")
    regularization: float = Field(default=0.05, ge=0, description="L2 penalty on factors.")
    alpha: float = Field(default=10.0, gt=0, description="Confidence = 1 + alpha * strength.")
    iterations: int = Field(default=15, ge=1, description="ALS sweeps.")
    bm25: bool = Field(default=True, description="BM25-weight strengths before training.")
    threads: int = Field(default=0, ge=0, description="Worker threads (0: all cores).")


class ALS(Recommender):
    """Latent-factor model with query-time fold-in of any history."""

    name = "als"
    config_class = ALSConfig
    config: ALSConfig

    def fit(self, dataset: Dataset) -> Self:
        """Train item (and customer) factors with the ``implicit`` library."""
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        cfg = self.config
        x = interaction_matrix(dataset, cfg.interactions)
        self.bm25 = BM25Weighting.learn(x, enabled=cfg.bm25)
        x = self.bm25.weigh(x)
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=cfg.factors,
                regularization=cfg.regularization,
                alpha=cfg.alpha,
                iterations=cfg.iterations,
                random_state=cfg.seed,
                num_threads=cfg.threads,
                calculate_training_loss=False,
            )
            model.fit(x.astype(np.float32), show_progress=False)
        self.item_factors = np.asarray(model.item_factors, dtype=np.float32)
        self._fit_common(dataset)
        self._prepare()
        self.fitted = True
        return self

    def _prepare(self) -> None:
        y = self.item_factors.astype(np.float64)
        self._yty = y.T @ y
        self._reg = self.config.regularization * np.eye(y.shape[1])

    def _weighted(self, histories: Sequence[History]) -> Any:
        return self.bm25.weigh(history_matrix(histories, self.n_items, self.config.interactions))

    def score(self, histories: Sequence[History]) -> np.ndarray:
        """Fold each history into factor space (one batched solve) and score every item."""
        self._require_fitted()
        x = self._weighted(histories)
        factors = self.item_factors.shape[1]
        users = np.zeros((len(histories), factors))
        rows = [r for r in range(len(histories)) if x.indptr[r + 1] > x.indptr[r]]
        if rows:
            systems = np.empty((len(rows), factors, factors))
            targets = np.empty((len(rows), factors))
            for n, row in enumerate(rows):
                lo, hi = x.indptr[row], x.indptr[row + 1]
                y = self.item_factors[x.indices[lo:hi]].astype(np.float64)
                confidence = self.config.alpha * x.data[lo:hi].astype(np.float64)
                systems[n] = self._yty + (y.T * confidence) @ y + self._reg
                targets[n] = (y.T * (1.0 + confidence)).sum(axis=1)
            users[rows] = np.linalg.solve(systems, targets[..., None])[..., 0]
        scores = (users @ self.item_factors.T.astype(np.float64)).astype(np.float32)
        empty = np.diff(x.indptr) == 0
        scores[empty] = -np.inf
        return scores

    def similar_items(self, item_idx: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Cosine similarity of item factors."""
        self._require_fitted()
        norms = np.linalg.norm(self.item_factors, axis=1) + 1e-9
        sims = (self.item_factors @ self.item_factors[item_idx]) / (norms * norms[item_idx])
        return top_n(sims.astype(np.float64), n, exclude=np.asarray([item_idx]))

    def explain_many(self, history: History, items: np.ndarray) -> list[list[Reason]]:
        """For each item, the history item whose factors are closest to it."""
        x = history_matrix([history], self.n_items, self.config.interactions)
        sources = x.indices.astype(np.int64)
        sims = self.item_factors[sources] @ self.item_factors[items].T
        return [
            [Reason("because_you_bought", item_idx=source)]
            if source is not None
            else [Reason("customers_like_you")]
            for source in strongest_sources(sims, x.data, sources)
        ]

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The item factors (customer factors are recomputed from history)."""
        meta, arrays = self.bm25.state()
        return meta, {"item_factors": self.item_factors, **arrays}

    def set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Restore item factors."""
        self.item_factors = arrays["item_factors"].astype(np.float32, copy=False)
        self.bm25 = BM25Weighting.from_state(meta, arrays, enabled=self.config.bm25)
        self._prepare()
