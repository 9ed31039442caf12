"""Repurchase-aware recommendations in the spirit of TIFU-kNN (Hu et al., SIGIR 2020).

In retail a customer's own repeat purchases are the strongest signal. Which past items come
back is learned from the data (:mod:`storewise.recommend.repeat_ranker`: how often and how
lately the customer bought each one, how much the shop buys it now); when the data is too
thin to learn from, a time-decayed count of their orders weighted by the item's repurchase
propensity stands in. The habit vectors of the nearest customers add items the customer is
likely to start buying.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import polars as pl
import scipy.sparse as sp
from pydantic import Field

from storewise.data.dataset import Dataset
from storewise.data.interactions import DAY_MS, InteractionConfig, interaction_matrix
from storewise.recommend.base import (
    History,
    ModelConfig,
    Recommender,
    history_matrix,
    sparse_arrays,
    sparse_from,
    top_n,
)
from storewise.recommend.neighbors import co_bought, nearest_neighbours, row_normalise
from storewise.recommend.repeat_ranker import (
    RepeatRanker,
    item_stats,
    learn,
    pair_features,
)
from storewise.recommend.results import Reason


def _purchase_orders(half_life: float | None) -> InteractionConfig:
    return InteractionConfig(
        weights={"purchase": 1.0},
        unit="order",
        half_life_days=half_life,
        transform="raw",
    )


class RepurchaseConfig(ModelConfig):
    """Hyperparameters of the repurchase-aware model."""

    interactions: InteractionConfig = Field(
        default_factory=lambda: _purchase_orders(180.0),
        description="Purchases counted once per order, decayed by age.",
    )
    own_weight: float = Field(
        default=0.8, ge=0, le=1, description="Share of the customer's own history in the score."
    )
    k: int = Field(default=100, ge=1, description="Nearest customers blended in.")
    propensity_power: float = Field(
        default=0.5, ge=0, description="How strongly an item's repurchase rate ranks it up."
    )
    prior: float = Field(default=2.0, gt=0, description="Smoothing of repurchase rates.")
    learn_own: bool = Field(
        default=True, description="Learn which past items come back (else decayed counts)."
    )
    horizon_days: float = Field(
        default=30.0, gt=0, description="The learned ranker predicts purchases this far ahead."
    )
    recent_days: float = Field(
        default=28.0, gt=0, description="Window of the 'bought by the shop lately' feature."
    )


class Repurchase(Recommender):
    """Own repeat purchases plus nearest customers' habits."""

    name = "repurchase"
    config_class = RepurchaseConfig
    config: RepurchaseConfig

    def fit(self, dataset: Dataset) -> Self:
        """Learn per-item repurchase rates and cycles, and keep customer habit vectors."""
        cfg = self.config
        self._fit_common(dataset)
        counts = interaction_matrix(dataset, _purchase_orders(None))
        buyers = np.diff(sp.csc_matrix(counts).indptr).astype(np.float64)
        repeaters = np.diff(sp.csc_matrix(counts >= 2).indptr).astype(np.float64)
        base_rate = repeaters.sum() / max(buyers.sum(), 1.0)
        self.propensity = ((repeaters + cfg.prior * base_rate) / (buyers + cfg.prior)).astype(
            np.float32
        )
        self.cycle_days = self._cycles(dataset)
        self.habits = row_normalise(interaction_matrix(dataset, cfg.interactions))
        self.by_item = sp.csc_matrix(self.habits)
        self.ranker: RepeatRanker | None = None
        self._token = object()
        self.item_stats = item_stats(
            dataset.events, self.n_items, dataset.as_of_ms, cfg.recent_days
        )
        if cfg.learn_own:
            self.ranker = learn(
                dataset.events,
                self.n_items,
                dataset.as_of_ms,
                horizon_days=cfg.horizon_days,
                recent_days=cfg.recent_days,
                seed=cfg.seed,
            )
        self.fitted = True
        return self

    def _own(self, histories: Sequence[History]) -> np.ndarray:
        """Own-history scores: the learned probability of buying each past item again, or
        (without a ranker) decayed order counts times repurchase propensity."""
        cfg = self.config
        if self.ranker is None:
            own = history_matrix(histories, self.n_items, cfg.interactions)
            scores = np.asarray(own.toarray(), dtype=np.float64)
            scores *= np.power(self.propensity.astype(np.float64), cfg.propensity_power)
            return scores
        scores = np.zeros((len(histories), self.n_items), dtype=np.float64)
        key = ("repeat", self._token)  # one history may be scored by several fitted models
        for row, history in enumerate(histories):
            if key not in history._cache:
                events = history.events
                bought = (events["event_type"] == "purchase").to_numpy()
                items, features = pair_features(
                    events["item_idx"].to_numpy()[bought].astype(np.int64),
                    [o for o, b in zip(events["order_id"].to_list(), bought, strict=True) if b],
                    events["ts"].to_numpy()[bought].astype(np.int64),
                    self.item_stats,
                )
                found = self.ranker.probability(features) if items.size else np.empty(0)
                history._cache[key] = (items, found)
            items, found = history._cache[key]
            scores[row, items] = found
        return scores

    def _cycles(self, dataset: Dataset) -> np.ndarray:
        """Median days between consecutive orders of the same item by the same customer."""
        orders = (
            dataset.events.filter(pl.col("event_type") == "purchase")
            .group_by(
                "customer_idx", "item_idx", pl.coalesce("order_id", pl.col("ts").cast(pl.Utf8))
            )
            .agg(pl.col("ts").min())
            .sort("customer_idx", "item_idx", "ts")
        )
        gaps = orders.with_columns(
            (pl.col("ts").diff().over("customer_idx", "item_idx") / DAY_MS).alias("gap")
        ).filter(pl.col("gap") > 0.5)
        median = gaps.group_by("item_idx").agg(pl.col("gap").median(), pl.len())
        cycles = np.full(self.n_items, np.nan, dtype=np.float32)
        enough = median.filter(pl.col("len") >= 3)
        cycles[enough["item_idx"].to_numpy()] = enough["gap"].to_numpy()
        return cycles

    def _parts(self, histories: Sequence[History]) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.config
        own = history_matrix(histories, self.n_items, cfg.interactions)
        own_scores = self._own(histories)
        sims = (row_normalise(own) @ self.by_item.T).tocsr()
        neighbours = nearest_neighbours(sims, cfg.k, [h.customer_idx for h in histories])
        neigh_scores = np.asarray((neighbours @ self.habits).toarray(), dtype=np.float64)
        return own_scores, neigh_scores

    def score(self, histories: Sequence[History]) -> np.ndarray:
        """``own_weight * own habits + (1 - own_weight) * neighbours' habits`` (each scaled)."""
        self._require_fitted()
        own, neigh = self._parts(histories)
        w = self.config.own_weight
        own_max = own.max(axis=1, keepdims=True)
        neigh_max = neigh.max(axis=1, keepdims=True)
        scores = w * own / np.maximum(own_max, 1e-12) + (1 - w) * neigh / np.maximum(
            neigh_max, 1e-12
        )
        empty = (own_max.ravel() <= 0) & (neigh_max.ravel() <= 0)
        scores[empty] = -np.inf
        scores[~empty] = np.where(scores[~empty] > 0, scores[~empty], -np.inf)
        result: np.ndarray = scores.astype(np.float32)
        return result

    def buy_again(self, history: History, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Only items the customer bought before, most habitual first."""
        own, _ = self._parts([history])
        scores = own[0]
        scores[scores <= 0] = -np.inf
        return top_n(scores, n)

    def similar_items(self, item_idx: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Items most habitually bought by the customers who habitually buy ``item_idx``."""
        self._require_fitted()
        return co_bought(self.by_item, self.habits, item_idx, n)

    def explain_many(self, history: History, items: np.ndarray) -> list[list[Reason]]:
        """Its cycle when the customer buys it regularly, else customers like them."""
        bought = set(history.purchased().tolist())
        out: list[list[Reason]] = []
        for item in items.tolist():
            if item in bought:
                cycle = float(self.cycle_days[item])
                out.append([Reason("repurchase", value=cycle if np.isfinite(cycle) else None)])
            else:
                out.append([Reason("customers_like_you")])
        return out

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Repurchase rates, cycles and the customers' habit vectors."""
        ranker = self.ranker.arrays() if self.ranker is not None else {}
        return {}, {
            "propensity": self.propensity,
            "cycle_days": self.cycle_days,
            "item_stats": self.item_stats,
            **ranker,
            **sparse_arrays("habits", self.habits),
        }

    def set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Restore the arrays."""
        self.propensity = arrays["propensity"]
        self.cycle_days = arrays["cycle_days"]
        self.habits = sparse_from("habits", arrays)
        self.by_item = sp.csc_matrix(self.habits)
        # bundles written before the learned ranker existed keep serving with decayed counts
        self.item_stats = arrays.get("item_stats", np.zeros((self.propensity.size, 0), np.float32))
        self.ranker = RepeatRanker.from_arrays(arrays) if "item_stats" in arrays else None
        self._token = object()
