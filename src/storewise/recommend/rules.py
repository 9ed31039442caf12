"""Business rules applied after scoring: filters, boosts, category caps and diversity (MMR).

Rules never see customers' data beyond the candidate scores; they work on a small
:class:`Catalog` of per-item facts (category, stock, attributes) kept fresh by the engine.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator

from storewise.errors import InputError


class RuleSet(BaseModel):
    """What a shop allows in a list; each rule is off unless set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    exclude_purchased: bool = Field(
        default=True, description="Never show what the customer already bought or rated (for you)."
    )
    allow_repurchase: bool = Field(
        default=False, description="Mix buy-again items with discovery instead of excluding."
    )
    in_stock_only: bool = Field(default=True, description="Only items in stock.")
    include_categories: tuple[str, ...] = Field(
        default=(), description="Only these categories (empty: all)."
    )
    exclude_categories: tuple[str, ...] = Field(default=(), description="Never these categories.")
    exclude_items: tuple[str, ...] = Field(default=(), description="Never these items.")
    boost: dict[str, float] = Field(
        default_factory=dict,
        description="Multiply scores of items matching FIELD=VALUE (>1 boosts, <1 buries).",
    )
    max_per_category: int | None = Field(
        default=None, ge=1, description="At most this many items of one category."
    )
    diversity: float = Field(
        default=0.0, ge=0.0, le=1.0, description="MMR diversity: 0 pure relevance, 1 maximal."
    )

    @field_validator("boost")
    @classmethod
    def _boost_keys(cls, value: dict[str, float]) -> dict[str, float]:
        for key, factor in value.items():
            if "=" not in key:
                raise ValueError(f"boost keys look like FIELD=VALUE, got {key!r}")
            if factor < 0:
                raise ValueError(f"boost factor for {key!r} must be >= 0")
        return value


@dataclass
class Catalog:
    """Per-item facts the rules need, aligned with the model's item indices."""

    item_ids: np.ndarray
    titles: list[str | None]
    categories: np.ndarray  # str, "" when unknown
    in_stock: np.ndarray  # bool
    fields: dict[str, np.ndarray] = field(default_factory=dict)  # brand, attributes...
    _index: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_items(cls, item_ids: np.ndarray, items: pl.DataFrame) -> Catalog:
        """Align a store items frame with the model's item vocabulary."""
        frame = pl.DataFrame({"item_id": item_ids.astype(str)}).join(
            items, on="item_id", how="left", maintain_order="left"
        )
        fields: dict[str, np.ndarray] = {}
        for name in ("brand", "category", "currency"):
            if name in frame.columns:
                fields[name] = frame[name].fill_null("").to_numpy().astype(str)
        if "attributes" in frame.columns:
            loaded = [json.loads(a) if a else {} for a in frame["attributes"].to_list()]
            parsed = [a if isinstance(a, dict) else {} for a in loaded]
            keys = sorted({k for a in parsed for k in a})
            for key in keys:
                if key not in fields:
                    fields[key] = np.asarray([str(a.get(key, "")) for a in parsed])
        in_stock = frame["in_stock"] if "in_stock" in frame.columns else None
        return cls(
            item_ids=item_ids.astype(str),
            titles=frame["title"].to_list() if "title" in frame.columns else [None] * len(frame),
            categories=frame["category"].fill_null("").to_numpy().astype(str)
            if "category" in frame.columns
            else np.full(len(frame), "", dtype=str),
            in_stock=in_stock.fill_null(True).to_numpy().astype(bool)
            if in_stock is not None
            else np.ones(len(frame), dtype=bool),
            fields=fields,
            _index={i: n for n, i in enumerate(item_ids.astype(str).tolist())},
        )

    def fingerprint(self) -> int:
        """A hash of everything lists depend on (ids, titles, categories, stock, fields)."""
        return hash(
            (
                self.item_ids.tobytes(),
                tuple(self.titles),
                self.categories.tobytes(),
                self.in_stock.tobytes(),
                tuple((k, v.tobytes()) for k, v in sorted(self.fields.items())),
            )
        )

    def index(self, item_id: str) -> int | None:
        """The model index of an item, or None."""
        return self._index.get(item_id)

    def title(self, idx: int | None) -> str | None:
        """The title of an item index (or its id when it has none)."""
        if idx is None or idx < 0 or idx >= len(self.titles):
            return None
        return self.titles[idx] or str(self.item_ids[idx])

    def matches(self, key: str) -> np.ndarray:
        """Boolean mask of items where FIELD == VALUE (case-insensitive)."""
        name, _, value = key.partition("=")
        column = self.fields.get(name.strip())
        if column is None:
            raise InputError(
                f"unknown item field {name!r} in rule {key!r}; "
                f"known: {', '.join(sorted(self.fields))}"
            )
        mask: np.ndarray = np.char.lower(column) == value.strip().lower()
        return mask


def allowed_mask(rules: RuleSet, catalog: Catalog, purchased: np.ndarray) -> np.ndarray:
    """Items a list may contain under ``rules`` (before ranking)."""
    mask = np.ones(len(catalog.item_ids), dtype=bool)
    if rules.in_stock_only:
        mask &= catalog.in_stock
    if rules.include_categories:
        wanted = {c.lower() for c in rules.include_categories}
        mask &= np.isin(np.char.lower(catalog.categories), list(wanted))
    if rules.exclude_categories:
        unwanted = {c.lower() for c in rules.exclude_categories}
        mask &= ~np.isin(np.char.lower(catalog.categories), list(unwanted))
    for item_id in rules.exclude_items:
        idx = catalog.index(item_id)
        if idx is not None:
            mask[idx] = False
    if rules.exclude_purchased and not rules.allow_repurchase and purchased.size:
        mask[purchased] = False
    return mask


def apply_boosts(scores: np.ndarray, rules: RuleSet, catalog: Catalog) -> np.ndarray:
    """Scores after FIELD=VALUE boosts (on a positive scale, so burying works too)."""
    if not rules.boost:
        return scores
    shifted = (
        scores - np.nanmin(scores[np.isfinite(scores)]) + 1e-6
        if np.isfinite(scores).any()
        else scores
    )
    out = shifted.copy()
    for key, factor in rules.boost.items():
        out[catalog.matches(key)] *= factor
    return out


def rerank(
    candidates: np.ndarray,
    scores: np.ndarray,
    n: int,
    rules: RuleSet,
    catalog: Catalog,
    similarity: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick ``n`` of the ranked candidates honouring category caps and MMR diversity.

    ``similarity(candidates)`` returns the candidates' pairwise similarity matrix; it is
    computed once, and each pick only updates every candidate's similarity to the list.
    """
    if not rules.max_per_category and (rules.diversity <= 0 or similarity is None):
        return candidates[:n].astype(np.int64), np.asarray(scores[:n], dtype=np.float64)
    count = len(candidates)
    if count == 0:
        return candidates.astype(np.int64), np.asarray(scores, dtype=np.float64)
    spread = float(scores.max() - scores.min()) or 1.0
    relevance = (scores - scores.min()) / spread
    diverse = rules.diversity > 0 and similarity is not None
    pairwise = similarity(candidates) if diverse and similarity is not None else None
    closest = np.zeros(count)  # each candidate's highest similarity to the chosen items
    lam = 1.0 - rules.diversity
    available = np.ones(count, dtype=bool)
    categories = catalog.categories[candidates]
    per_category: dict[str, int] = {}
    chosen: list[int] = []
    while len(chosen) < n and available.any():
        value = relevance.astype(np.float64)
        if pairwise is not None and chosen:
            value = lam * relevance - (1 - lam) * closest
        value = np.where(available, value, -np.inf)
        position = int(np.argmax(value))
        if not np.isfinite(value[position]):
            break
        available[position] = False
        category = str(categories[position])
        if rules.max_per_category and category:
            if per_category.get(category, 0) >= rules.max_per_category:
                continue
            per_category[category] = per_category.get(category, 0) + 1
        chosen.append(position)
        if pairwise is not None:
            closest = np.maximum(closest, pairwise[position])
    picked = np.asarray(chosen, dtype=np.int64)
    return candidates[picked].astype(np.int64), np.asarray(scores, dtype=np.float64)[picked]
