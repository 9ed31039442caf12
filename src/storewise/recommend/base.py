"""The one Recommender interface every model implements, and its per-model config.

A model learns from a :class:`~storewise.data.dataset.Dataset` (``fit``), then scores any
customer history, known or brand new (``score``), so events that arrive after training count
at once. It names similar items, gives structured reasons, and saves its learned state as
JSON metadata plus numpy arrays (``get_state`` / ``from_state``), never pickle.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
import polars as pl
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from storewise.data.dataset import Dataset
from storewise.data.interactions import (
    DAY_MS,
    LIKED_RATING,
    OWNED_TYPES,
    InteractionConfig,
    to_csr,
    weighted_events,
)
from storewise.errors import NotFitted
from storewise.recommend.results import Reason

HISTORY_SCHEMA: dict[str, pl.DataType] = {
    "item_idx": pl.Int32(),
    "event_type": pl.Utf8(),
    "quantity": pl.Float64(),
    "value": pl.Float64(),
    "order_id": pl.Utf8(),
    "ts": pl.Int64(),
}


class ModelConfig(BaseModel):
    """Base of every model's frozen config: each hyperparameter declared once, with meaning."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = Field(default=0, description="Random seed; same seed, same model.")
    interactions: InteractionConfig = Field(
        default_factory=InteractionConfig, description="How events become strengths."
    )


@dataclass(frozen=True)
class History:
    """A customer's (or session's) events as item indices, and the moment of the question."""

    events: pl.DataFrame
    now_ms: int
    customer_idx: int | None = None
    country: str | None = None
    _cache: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def empty(cls, now_ms: int, country: str | None = None) -> History:
        """No events at all (a new customer)."""
        return cls(pl.DataFrame(schema=HISTORY_SCHEMA), now_ms, None, country)

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to personalise from."""
        return self.events.height == 0

    def item_set(self, event_types: Sequence[str] | None = None) -> np.ndarray:
        """Distinct item indices in the history (optionally of some event types only)."""
        items = self.events["item_idx"].to_numpy()
        if event_types is not None:
            kinds = self.events["event_type"].to_numpy()
            items = items[np.isin(kinds, list(event_types))]
        return np.unique(items).astype(np.int64)

    def purchased(self) -> np.ndarray:
        """Items the customer bought (computed once per history)."""
        if "purchased" not in self._cache:
            self._cache["purchased"] = self.item_set(("purchase",))
        found: np.ndarray = self._cache["purchased"]
        return found

    def unwanted(self) -> np.ndarray:
        """Items never to offer this customer again: those whose latest purchase-or-return
        event is a return (bought again after a return: wanted again), and those whose latest
        rating is below :data:`LIKED_RATING` stars."""
        if "unwanted" not in self._cache:
            frame = self.events
            kinds = frame.get_column("event_type")
            if not kinds.is_in(["return", "rating"]).any():
                # most histories: nothing to leave out, and no grouping work per request
                found = np.empty(0, dtype=np.int64)
            else:
                sales = frame.filter(pl.col("event_type").is_in(["purchase", "return"]))
                returned = (
                    sales.sort("ts")
                    .group_by("item_idx")
                    .agg(pl.col("event_type").last())
                    .filter(pl.col("event_type") == "return")
                )
                ratings = frame.filter(pl.col("event_type") == "rating")
                disliked = (
                    ratings.sort("ts")
                    .group_by("item_idx")
                    .agg(pl.col("value").fill_null(0.0).last())
                    .filter(pl.col("value") < LIKED_RATING)
                )
                items = pl.concat([returned["item_idx"], disliked["item_idx"]]).unique()
                found = np.sort(items.to_numpy().astype(np.int64))
            self._cache["unwanted"] = found
        unwanted: np.ndarray = self._cache["unwanted"]
        return unwanted

    def owned(self) -> np.ndarray:
        """Items the customer bought or rated: what "exclude already purchased" leaves out (a
        film rated is a film seen, whether or not it was bought here)."""
        if "owned" not in self._cache:
            self._cache["owned"] = self.item_set(OWNED_TYPES)
        found: np.ndarray = self._cache["owned"]
        return found


def histories_of(
    dataset: Dataset, customer_idx: Sequence[int], now_ms: int | None = None
) -> list[History]:
    """Histories of some customers of a snapshot (for evaluation and batch export)."""
    now = dataset.as_of_ms if now_ms is None else now_ms
    wanted = pl.Series("customer_idx", list(customer_idx), dtype=pl.Int32)
    frame = dataset.events.filter(pl.col("customer_idx").is_in(wanted.implode()))
    parts = frame.partition_by("customer_idx", as_dict=True, maintain_order=True)
    countries = dataset.customers["country"].to_list() if "country" in dataset.customers else []
    out = []
    for idx in customer_idx:
        part = parts.get((idx,))
        events = (
            part.select(list(HISTORY_SCHEMA))
            if part is not None
            else pl.DataFrame(schema=HISTORY_SCHEMA)
        )
        country = countries[idx] if idx < len(countries) else None
        out.append(History(events, now, int(idx), country))
    return out


def _config_key(config: InteractionConfig) -> tuple[Any, ...]:
    return (
        "x",
        config.unit,
        config.half_life_days,
        config.transform,
        tuple(sorted(config.weights.items())),
    )


def history_weights(
    history: History, config: InteractionConfig, n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """(item indices, strengths) of one history: the same rules as
    :func:`~storewise.data.interactions.weighted_events` with ``relative`` decay, in plain
    numpy (a request scores one history; dataframe overhead would dominate)."""
    frame = history.events
    if frame.height == 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    items = frame["item_idx"].to_numpy().astype(np.int64)
    kinds = frame["event_type"].to_list()
    ts = frame["ts"].to_numpy().astype(np.int64)
    table = config.weights
    weights = np.fromiter((table.get(k, 0.0) for k in kinds), np.float64, len(kinds))
    if "rating" in kinds:
        rated = np.asarray(kinds) == "rating"
        stars = frame["value"].fill_null(0.0).to_numpy()
        weights[rated & (stars < LIKED_RATING)] = 0.0
    keep = np.flatnonzero(weights != 0)
    if keep.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    if config.unit == "order":
        orders = frame["order_id"].to_list()
        groups: dict[tuple[int, str, str], int] = {}
        for position in keep.tolist():
            order = orders[position]
            key = (
                int(items[position]),
                kinds[position],
                order if order is not None else str(ts[position]),
            )
            first = groups.get(key)
            if first is None:
                groups[key] = position
            elif ts[position] > ts[first]:
                ts[first] = ts[position]  # a group counts once, aged by its latest event
        keep = np.fromiter(groups.values(), np.int64, len(groups))
    items, weights, ts = items[keep], weights[keep], ts[keep]
    if config.half_life_days is not None:
        age_days = (ts.max() - ts) / DAY_MS
        weights = weights * np.power(0.5, age_days / config.half_life_days)
    strength = np.bincount(items, weights=weights, minlength=n_items)
    indices = np.flatnonzero(strength > 1e-9)
    values = strength[indices]
    if config.transform == "log":
        values = np.log1p(values)
    elif config.transform == "binary":
        values = np.ones_like(values)
    return indices, values.astype(np.float32)


def history_matrix(
    histories: Sequence[History], n_items: int, config: InteractionConfig
) -> sp.csr_matrix:
    """Stack histories into a (len x items) interaction matrix under ``config``.

    Each history remembers its row per config, so explaining a list after scoring it
    does not redo the work.
    """
    key = _config_key(config)
    todo = [r for r, h in enumerate(histories) if key not in h._cache]
    if 0 < len(todo) <= 8:
        for r in todo:
            indices, values = history_weights(histories[r], config, n_items)
            histories[r]._cache[key] = sp.csr_matrix(
                (values, indices, np.asarray([0, indices.size])), shape=(1, n_items)
            )
        todo = []
    if todo:
        frames = [histories[r].events.select(list(HISTORY_SCHEMA)) for r in todo]
        heights = np.asarray([f.height for f in frames], dtype=np.int64)
        now = int(max(histories[r].now_ms for r in todo))
        if heights.sum():
            events = pl.concat(frames).with_columns(
                pl.Series("customer_idx", np.repeat(np.arange(len(todo), dtype=np.int32), heights))
            )
            fresh = to_csr(weighted_events(events, config, now, relative=True), len(todo), n_items)
        else:
            fresh = sp.csr_matrix((len(todo), n_items), dtype=np.float32)
        for n, r in enumerate(todo):
            histories[r]._cache[key] = fresh[n]
    if not histories:
        return sp.csr_matrix((0, n_items), dtype=np.float32)
    if len(histories) == 1:
        single: sp.csr_matrix = histories[0]._cache[key]
        return single
    return sp.vstack([h._cache[key] for h in histories], format="csr")


def top_n(
    scores: np.ndarray, n: int, exclude: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the ``n`` best finite scores, ties broken by lower index."""
    values = scores.astype(np.float64, copy=True)
    if exclude is not None and exclude.size:
        values[exclude] = -np.inf
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size == 0 or n <= 0:
        return np.empty(0, np.int64), np.empty(0, np.float64)
    n = min(n, finite.size)  # a catalog smaller than n has only that many items to give
    candidates = finite
    if finite.size > 4 * n:
        part = np.argpartition(-values[finite], n - 1)[:n]
        threshold = values[finite[part]].min()
        candidates = finite[values[finite] >= threshold]
    order = np.lexsort((candidates, -values[candidates]))[:n]
    chosen = candidates[order]
    return chosen.astype(np.int64), values[chosen]


class Recommender(ABC):
    """A model: ``fit`` on a snapshot, then score histories, find similar items, explain."""

    name: ClassVar[str]
    config_class: ClassVar[type[ModelConfig]] = ModelConfig

    def __init__(self, config: ModelConfig | None = None) -> None:
        self.config = config if config is not None else self.config_class()
        if not isinstance(self.config, self.config_class):
            raise TypeError(f"{self.name} takes a {self.config_class.__name__}")
        self.n_items = 0
        self.fitted = False
        self.popularity = np.zeros(0, dtype=np.float32)

    # -- learning ------------------------------------------------------------------------------
    @abstractmethod
    def fit(self, dataset: Dataset) -> Self:
        """Learn from a snapshot; returns self."""

    def _fit_common(self, dataset: Dataset) -> None:
        """What every model keeps: catalog size and item popularity (distinct customers),
        used to fill lists when the model itself has fewer than ``n`` opinions."""
        self.n_items = dataset.n_items
        counts = dataset.events.group_by("item_idx").agg(pl.col("customer_idx").n_unique())
        popularity = np.zeros(self.n_items, dtype=np.float32)
        popularity[counts["item_idx"].to_numpy()] = counts["customer_idx"].to_numpy()
        self.popularity = popularity

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise NotFitted(
                f"the {self.name} model is not trained: call fit() or run `storewise train`"
            )

    # -- answering -----------------------------------------------------------------------------
    @abstractmethod
    def score(self, histories: Sequence[History]) -> np.ndarray:
        """Scores (len(histories) x items); ``-inf`` where the model has no opinion."""

    def recommend(
        self, history: History, n: int, exclude: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` best items for a history (never excluded ones), unique, best first.

        When the model has fewer than ``n`` opinions the list is completed by popularity,
        scored below every item the model ranked.
        """
        scores = self.score([history])[0]
        chosen, values = top_n(scores, n, exclude)
        if chosen.size < n:
            skip = chosen if exclude is None else np.concatenate([chosen, exclude])
            fill, _ = top_n(self.popularity.astype(np.float64), n - chosen.size, skip)
            floor = (values.min() if values.size else 0.0) - 1.0
            chosen = np.concatenate([chosen, fill])
            values = np.concatenate([values, floor - np.arange(fill.size, dtype=np.float64)])
        return chosen, values

    def similar_items(self, item_idx: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` items most similar to ``item_idx`` with similarity scores."""
        self._require_fitted()
        single = History(
            pl.DataFrame(
                {
                    "item_idx": [item_idx],
                    "event_type": ["purchase"],
                    "quantity": [1.0],
                    "value": [None],
                    "order_id": [None],
                    "ts": [0],
                },
                schema=HISTORY_SCHEMA,
            ),
            now_ms=0,
        )
        scores = self.score([single])[0]
        return top_n(scores, n, exclude=np.asarray([item_idx]))

    def explain(self, history: History, item_idx: int) -> list[Reason]:
        """Structured reasons for recommending ``item_idx`` to ``history`` (at least one)."""
        return self.explain_many(history, np.asarray([item_idx]))[0]

    def explain_many(self, history: History, items: np.ndarray) -> list[list[Reason]]:
        """Reasons for several items at once (models override this to share the work)."""
        return [[Reason("customers_like_you")] for _ in items]

    # -- persistence ---------------------------------------------------------------------------
    @abstractmethod
    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(JSON-ready metadata, arrays) describing everything learned."""

    @abstractmethod
    def set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Restore what ``get_state`` returned."""

    def export(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, np.ndarray]]:
        """(config, metadata, arrays): everything a bundle needs to rebuild this model."""
        self._require_fitted()
        meta, arrays = self.get_state()
        meta = {**meta, "n_items": self.n_items, "model": self.name}
        return self.config.model_dump(mode="json"), meta, {**arrays, "popularity": self.popularity}

    @classmethod
    def from_state(
        cls, config: dict[str, Any], meta: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> Self:
        """Rebuild a fitted model from its config, metadata and arrays."""
        model = cls(cls.config_class.model_validate(config))
        model.set_state(meta, arrays)
        model.n_items = int(meta["n_items"])
        model.popularity = arrays["popularity"].astype(np.float32, copy=False)
        model.fitted = True
        return model


def sparse_arrays(prefix: str, matrix: sp.spmatrix) -> dict[str, np.ndarray]:
    """A CSR matrix as plain arrays for a bundle."""
    csr = sp.csr_matrix(matrix)
    return {
        f"{prefix}.data": csr.data,
        f"{prefix}.indices": csr.indices,
        f"{prefix}.indptr": csr.indptr,
        f"{prefix}.shape": np.asarray(csr.shape, dtype=np.int64),
    }


def sparse_from(prefix: str, arrays: dict[str, np.ndarray]) -> sp.csr_matrix:
    """The CSR matrix stored by :func:`sparse_arrays`."""
    shape = tuple(int(x) for x in arrays[f"{prefix}.shape"])
    return sp.csr_matrix(
        (arrays[f"{prefix}.data"], arrays[f"{prefix}.indices"], arrays[f"{prefix}.indptr"]),
        shape=shape,
    )
