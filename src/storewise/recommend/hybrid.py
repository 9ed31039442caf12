"""Hybrid: a weighted blend of normalised scores of several models, plus a switching policy.

``score = sum_c w_c * norm(score_c)``, each component's scores scaled per customer to [0, 1]
over the items it has an opinion on. Weights are learned on the validation split by
:mod:`storewise.evaluate.tuning`. Switching: a customer with only ``cold_events`` events or
fewer is scored by the ``cold`` weights instead (content and item-based matter more there).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
from pydantic import Field, model_validator

from storewise.data.dataset import Dataset
from storewise.recommend.base import History, ModelConfig, Recommender, top_n
from storewise.recommend.components import COMPONENTS
from storewise.recommend.results import Reason


def normalise_rows(scores: np.ndarray) -> np.ndarray:
    """Scale each row's finite scores to [0, 1]; items without an opinion get 0."""
    out = np.zeros_like(scores, dtype=np.float32)
    finite = np.isfinite(scores)
    if not finite.any():
        return out
    low = np.where(finite, scores, np.inf).min(axis=1, keepdims=True)
    high = np.where(finite, scores, -np.inf).max(axis=1, keepdims=True)
    span = np.where(np.isfinite(high - low) & (high - low > 0), high - low, 1.0)
    with np.errstate(invalid="ignore"):
        scaled = (scores - low) / span
    out[finite] = scaled[finite]
    return out


class HybridConfig(ModelConfig):
    """The blend: which fitted components, with which weights, and the cold-case switch."""

    components: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: {"itemknn": dict[str, Any](), "popular": dict[str, Any]()},
        description="Component model name -> its config (as a dict).",
    )
    weights: dict[str, float] = Field(
        default_factory=lambda: {"itemknn": 1.0, "popular": 0.3},
        description="Blend weight of each component for customers with a history.",
    )
    cold_weights: dict[str, float] = Field(
        default_factory=dict,
        description="Weights for thin histories (empty: same as weights).",
    )
    cold_events: int = Field(default=2, ge=0, description="Histories this short are 'cold'.")

    @model_validator(mode="after")
    def _known(self) -> HybridConfig:
        for table in (self.weights, self.cold_weights):
            unknown = set(table) - set(self.components)
            if unknown:
                raise ValueError(f"weights name models not in components: {sorted(unknown)}")
        return self


class Hybrid(Recommender):
    """Weighted hybrid of other recommenders."""

    name = "hybrid"
    config_class = HybridConfig
    config: HybridConfig

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__(config)
        self.parts: dict[str, Recommender] = {}

    @staticmethod
    def _classes() -> dict[str, type[Recommender]]:
        return COMPONENTS

    def fit(self, dataset: Dataset) -> Self:
        """Fit every component with its config."""
        classes = self._classes()
        self.parts = {}
        for name, config in self.config.components.items():
            cls = classes[name]
            self.parts[name] = cls(cls.config_class.model_validate(config)).fit(dataset)
        self._fit_common(dataset)
        self.fitted = True
        return self

    def use_fitted(self, parts: dict[str, Recommender], dataset: Dataset) -> Self:
        """Adopt already-fitted components (the tuner fits each model once)."""
        self.parts = {name: parts[name] for name in self.config.components}
        self._fit_common(dataset)
        self.fitted = True
        return self

    def component_scores(self, histories: Sequence[History]) -> dict[str, np.ndarray]:
        """Each component's normalised scores (what the weights multiply)."""
        return {
            name: normalise_rows(part.score(histories))
            for name, part in self.parts.items()
            if self.config.weights.get(name, 0.0) or self.config.cold_weights.get(name, 0.0)
        }

    def score(self, histories: Sequence[History]) -> np.ndarray:
        """The weighted blend, switching weights for thin histories."""
        return self.score_parts(histories)[0]

    def _weights_for(self, history: History) -> dict[str, float]:
        if self.config.cold_weights and history.events.height <= self.config.cold_events:
            return self.config.cold_weights
        return self.config.weights

    def score_parts(self, histories: Sequence[History]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(blended scores, each component's normalised scores) for reasons without rework."""
        self._require_fitted()
        parts = self.component_scores(histories)
        total = np.zeros((len(histories), self.n_items), dtype=np.float32)
        cold = np.asarray([h.events.height <= self.config.cold_events for h in histories])
        cold_weights = self.config.cold_weights or self.config.weights
        for name, scores in parts.items():
            warm_w = self.config.weights.get(name, 0.0)
            cold_w = cold_weights.get(name, 0.0)
            weight = np.where(cold, cold_w, warm_w).astype(np.float32)[:, None]
            total += weight * scores
        any_opinion = np.zeros(total.shape, dtype=bool)
        for part_scores in parts.values():
            any_opinion |= part_scores > 0
        total[~any_opinion] = -np.inf
        return total, parts

    def similar_items(self, item_idx: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Blend of the components' similar-item scores."""
        self._require_fitted()
        total = np.zeros(self.n_items, dtype=np.float64)
        for name, part in self.parts.items():
            weight = self.config.weights.get(name, 0.0)
            if weight <= 0 or name == "popular":
                continue
            items, scores = part.similar_items(item_idx, max(n * 5, 50))
            if scores.size:
                span = float(scores.max() - scores.min()) or 1.0
                total[items] += weight * (0.1 + (scores - scores.min()) / span)
        total[total <= 0] = -np.inf
        return top_n(total, n, exclude=np.asarray([item_idx]))

    def explain_many(
        self,
        history: History,
        items: np.ndarray,
        parts: dict[str, np.ndarray] | None = None,
    ) -> list[list[Reason]]:
        """Each item's reasons come from the component contributing most to it.

        ``parts`` are this history's rows of :meth:`score_parts` (computed if not given).
        """
        if parts is None:
            parts = {name: rows[0] for name, rows in self.component_scores([history]).items()}
        weights = self._weights_for(history)
        names = [n for n in parts if weights.get(n, 0.0) > 0]
        out: list[list[Reason]] = [[Reason("customers_like_you")] for _ in items]
        if not names:
            return out
        contributions = np.vstack([weights[n] * parts[n][items] for n in names])
        strongest = contributions.max(axis=0)
        # Every component contributing at least half as much as the strongest one gives its
        # reason, strongest first (at most two), so a list says why in more than one way.
        order = np.argsort(-contributions, axis=0, kind="stable")[:2]
        collected: dict[int, list[Reason]] = {}
        for rank in range(order.shape[0]):
            for position, name in enumerate(names):
                chosen = np.flatnonzero(
                    (order[rank] == position)
                    & (contributions[position] > 0)
                    & (contributions[position] >= 0.5 * strongest)
                )
                if chosen.size:
                    found = self.parts[name].explain_many(history, items[chosen])
                    for slot, reason in zip(chosen.tolist(), found, strict=True):
                        collected.setdefault(slot, []).extend(reason)
        for slot, gathered in collected.items():
            out[slot] = list(dict.fromkeys(gathered))
        return out

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Every component's state, prefixed by its name."""
        meta: dict[str, Any] = {}
        arrays: dict[str, np.ndarray] = {}
        for name, part in self.parts.items():
            config, part_meta, part_arrays = part.export()
            meta[name] = {"config": config, "meta": part_meta}
            arrays.update({f"{name}/{key}": value for key, value in part_arrays.items()})
        return meta, arrays

    def set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Rebuild every component from its prefixed state."""
        classes = self._classes()
        self.parts = {}
        for name in self.config.components:
            prefix = f"{name}/"
            own = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            self.parts[name] = classes[name].from_state(
                meta[name]["config"], meta[name]["meta"], own
            )
