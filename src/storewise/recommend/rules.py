"""Business rules applied after scoring: filters, boosts, exposure caps, diversity (MMR) and
the fairness controls (a long-tail boost and calibration to the customer's category mix).

Rules never see customers' data beyond the candidate scores and, for calibration, the
categories of their own history; they work on a small :class:`Catalog` of per-item facts
(category, stock, attributes) kept fresh by the engine. :func:`select` is the one last mile
of every list, shared by serving and the offline fairness audit, so both measure the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from storewise.errors import ConfigError, InputError
from storewise.recommend.base import History, top_n

#: The lists a shop can give default rules to (``Settings.placements``).
PLACEMENTS = ("for-you", "buy-again", "similar", "bought-together", "trending")
#: The head: the most popular items that together make this share of all interactions.
HEAD_SHARE = 0.2
#: Smoothing of the list's category mix in calibration (Steck 2018 uses 0.01).
CALIBRATION_ALPHA = 0.01


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
    max_per_brand: int | None = Field(
        default=None, ge=1, description="At most this many items of one brand."
    )
    diversity: float = Field(
        default=0.0, ge=0.0, le=1.0, description="MMR diversity: 0 pure relevance, 1 maximal."
    )
    long_tail_boost: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Weight of being in the long tail (outside the head: the most popular "
        "items making 20% of interactions) against relevance, both on a 0-1 scale: 0 off, "
        "0.5 a tail item gains the whole relevance range, 1 every tail item first.",
    )
    calibration: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Re-rank toward the customer's own category mix (Steck 2018, KL): "
        "0 off, 1 the mix only. Lists without a customer history are not changed.",
    )
    pin: tuple[str, ...] = Field(
        default=(),
        max_length=20,
        description="Items placed first, in this order (merchandising), when the other rules "
        "allow them (in stock, not excluded, not returned by this customer).",
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

    @property
    def looks_deeper(self) -> bool:
        """Whether a fairness control is on: it needs a deeper candidate pool to promote from."""
        return self.long_tail_boost > 0 or self.calibration > 0 or self.max_per_brand is not None


def under(defaults: RuleSet | None, rules: RuleSet | None) -> RuleSet:
    """``rules`` with every rule it does not set explicitly taken from ``defaults`` (a
    placement's settings), so a request's own parameters always win."""
    if defaults is None:
        return rules if rules is not None else RuleSet()
    if rules is None or not rules.model_fields_set:
        return defaults
    return RuleSet.model_validate(
        {**defaults.model_dump(exclude_unset=True), **rules.model_dump(exclude_unset=True)}
    )


def placement_rules(settings: Mapping[str, Mapping[str, Any]]) -> dict[str, RuleSet]:
    """Validated default rules per placement (``Settings.placements``); an unknown placement
    or rule is a :class:`~storewise.errors.ConfigError` naming it, found at start-up."""
    out: dict[str, RuleSet] = {}
    for placement, values in settings.items():
        if placement not in PLACEMENTS:
            raise ConfigError(
                f"unknown placement {placement!r} in settings.placements; "
                f"choose among {', '.join(PLACEMENTS)}"
            )
        try:
            out[placement] = RuleSet.model_validate(dict(values))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise ConfigError(f"settings.placements.{placement}: {problems}") from exc
    return out


def head_mask(popularity: np.ndarray, share: float = HEAD_SHARE) -> np.ndarray:
    """Items in the head: the most popular items that together make ``share`` of all
    interactions (ties by index); everything else is the long tail.

    >>> head_mask(np.array([1.0, 8.0, 1.0, 0.0]), 0.5).tolist()
    [False, True, False, False]
    """
    counts = np.asarray(popularity, dtype=np.float64)
    mask = np.zeros(counts.size, dtype=bool)
    total = float(counts.sum())
    if total <= 0:
        return mask
    order = np.lexsort((np.arange(counts.size), -counts))
    cumulative = np.cumsum(counts[order])
    size = int(np.searchsorted(cumulative, share * total)) + 1
    mask[order[:size]] = True
    return mask


def mix_items(history: History) -> np.ndarray:
    """The items a customer's category mix is taken from: those they bought or rated, every
    item of their history when there is none."""
    if history.is_empty:
        return np.empty(0, np.int64)
    items = history.owned()
    return items if items.size else history.item_set()


def calibration_target(history: History, categories: np.ndarray) -> dict[str, float]:
    """The customer's category mix: shares of each known category among :func:`mix_items`;
    empty without a history or known categories."""
    known = [str(c) for c in categories[mix_items(history)] if c]
    if not known:
        return {}
    values, counts = np.unique(known, return_counts=True)
    return {str(v): float(c) / len(known) for v, c in zip(values, counts, strict=True)}


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


class _Calibrator:
    """Steck's (2018) greedy calibration: the KL divergence between the target category mix
    ``p`` and the list's smoothed mix ``(1 - alpha) q + alpha p`` if each candidate joined it.

    Items of unknown category do not count in ``q``; items of a category outside ``p`` dilute it.
    """

    def __init__(self, target: Mapping[str, float], categories: np.ndarray) -> None:
        names = sorted(target)
        self.p = np.asarray([target[c] for c in names], dtype=np.float64)
        slot = {c: i for i, c in enumerate(names)}
        other = len(names)
        # slot per candidate: a target category, ``other`` (known, not in p), or -1 (unknown)
        self.slot = np.asarray(
            [slot.get(str(c), other) if c else -1 for c in categories], dtype=np.int64
        )
        self.counts = np.zeros(other + 1)

    def _kl(self, counts: np.ndarray) -> float:
        listed = counts.sum()
        q = counts[:-1] / listed if listed else np.zeros_like(self.p)
        mixed = (1 - CALIBRATION_ALPHA) * q + CALIBRATION_ALPHA * self.p
        return float(np.sum(self.p * np.log(self.p / mixed)))

    def divergence(self) -> np.ndarray:
        """Each candidate's KL once added to the list chosen so far."""
        options = np.empty(self.counts.size + 1)
        for j in range(self.counts.size):
            self.counts[j] += 1
            options[j] = self._kl(self.counts)
            self.counts[j] -= 1
        options[-1] = self._kl(self.counts)  # an item of unknown category changes nothing
        return options[self.slot]

    def add(self, position: int) -> None:
        """Count a chosen candidate in the list's mix."""
        if self.slot[position] >= 0:
            self.counts[self.slot[position]] += 1


def rerank(
    candidates: np.ndarray,
    scores: np.ndarray,
    n: int,
    rules: RuleSet,
    catalog: Catalog,
    similarity: Callable[[np.ndarray], np.ndarray] | None = None,
    *,
    head: np.ndarray | None = None,
    target: Mapping[str, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick ``n`` of the ranked candidates honouring exposure caps (category, brand), the
    long-tail boost (``head``: the head items' mask), MMR diversity and calibration to
    ``target`` (the customer's category mix), greedily, one item at a time.

    ``similarity(candidates)`` returns the candidates' pairwise similarity matrix; it is
    computed once, and each pick only updates every candidate's similarity to the list.
    Each pick maximises ``(1 - c) * mmr - c * KL(target || list + item)`` where ``mmr`` is
    ``(1 - d) * relevance - d * max similarity to the list``, relevance is
    ``(1 - b) * score scaled to 0-1 + b * [item in the long tail]`` (``b`` the long-tail boost,
    ``c`` calibration, ``d`` diversity) and ties go to the better-scored candidate.
    """
    diverse = rules.diversity > 0 and similarity is not None
    boost = rules.long_tail_boost if head is not None else 0.0
    calibrate = rules.calibration > 0 and bool(target)
    brands = catalog.fields.get("brand") if rules.max_per_brand else None
    if not (rules.max_per_category or brands is not None or diverse or boost or calibrate):
        return candidates[:n].astype(np.int64), np.asarray(scores[:n], dtype=np.float64)
    count = len(candidates)
    if count == 0:
        return candidates.astype(np.int64), np.asarray(scores, dtype=np.float64)
    spread = float(scores.max() - scores.min()) or 1.0
    relevance = (scores - scores.min()) / spread
    if boost and head is not None:
        relevance = (1 - boost) * relevance + boost * ~head[candidates]
    pairwise = similarity(candidates) if diverse and similarity is not None else None
    closest = np.zeros(count)  # each candidate's highest similarity to the chosen items
    lam = 1.0 - rules.diversity
    available = np.ones(count, dtype=bool)
    categories = catalog.categories[candidates]
    calibrator = _Calibrator(target, categories) if calibrate and target else None
    caps: list[tuple[int, np.ndarray, dict[str, int]]] = []
    if rules.max_per_category:
        caps.append((rules.max_per_category, categories, {}))
    if brands is not None and rules.max_per_brand:
        caps.append((rules.max_per_brand, brands[candidates], {}))
    chosen: list[int] = []
    while len(chosen) < n and available.any():
        value = relevance.astype(np.float64)
        if pairwise is not None and chosen:
            value = lam * relevance - (1 - lam) * closest
        if calibrator is not None:
            value = (1 - rules.calibration) * value - rules.calibration * calibrator.divergence()
        value = np.where(available, value, -np.inf)
        position = int(np.argmax(value))
        if not np.isfinite(value[position]):
            break
        available[position] = False
        if _capped(caps, position):
            continue
        chosen.append(position)
        if pairwise is not None:
            closest = np.maximum(closest, pairwise[position])
        if calibrator is not None:
            calibrator.add(position)
    picked = np.asarray(chosen, dtype=np.int64)
    return candidates[picked].astype(np.int64), np.asarray(scores, dtype=np.float64)[picked]


def _capped(caps: list[tuple[int, np.ndarray, dict[str, int]]], position: int) -> bool:
    """Whether a candidate would exceed an exposure cap; if not, count it under each."""
    keys = [str(values[position]) for _, values, _ in caps]
    if any(key and seen.get(key, 0) >= cap for key, (cap, _, seen) in zip(keys, caps, strict=True)):
        return True
    for key, (_, _, seen) in zip(keys, caps, strict=True):
        if key:
            seen[key] = seen.get(key, 0) + 1
    return False


def select(
    scores: np.ndarray,
    n: int,
    rules: RuleSet,
    catalog: Catalog,
    *,
    purchased: np.ndarray,
    fill: np.ndarray | None = None,
    head: np.ndarray | None = None,
    target: Mapping[str, float] | None = None,
    similarity: Callable[[np.ndarray], np.ndarray] | None = None,
    never: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The last mile of every list: allowed items (never the ``never`` ones, whatever the
    rules: what the customer returned or rated low), boosts, a pool of the best candidates
    (completed from ``fill`` scores, e.g. popularity, when the model has too few opinions,
    scored below all of them), then :func:`rerank` picks ``n``.

    The pool is ``max(5n, 50)`` candidates, ``max(20n, 200)`` when a fairness control is on
    (it needs less popular or other-category items to promote).
    """
    mask = allowed_mask(rules, catalog, purchased)
    if never is not None and never.size:
        mask[never] = False
    scores = apply_boosts(scores.astype(np.float64), rules, catalog)
    scores = np.where(mask, scores, -np.inf)
    pool = max(n * 20, 200) if rules.looks_deeper else max(n * 5, 50)
    candidates, values = top_n(scores, pool)
    if fill is not None and candidates.size < pool:
        fill_scores = np.where(mask, fill.astype(np.float64), -np.inf)
        fill_scores[candidates] = -np.inf
        extra, extra_values = top_n(fill_scores, pool - candidates.size)
        floor = (values.min() if values.size else 0.0) - 1.0
        candidates = np.concatenate([candidates, extra])
        values = np.concatenate(
            [
                values,
                floor - extra_values / (extra_values.max() + 1.0 if extra_values.size else 1.0),
            ]
        )
    chosen, chosen_values = rerank(
        candidates, values, n, rules, catalog, similarity, head=head, target=target
    )
    return pin_first(chosen, chosen_values, n, rules, catalog, mask)


def pin_first(
    chosen: np.ndarray,
    values: np.ndarray,
    n: int,
    rules: RuleSet,
    catalog: Catalog,
    mask: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``pin`` items the mask allows first (in the given order, scored above the rest),
    then the chosen list without them, cut to ``n``."""
    pinned = [i for i in (catalog.index(item) for item in rules.pin) if i is not None and mask[i]]
    if not pinned:
        return chosen, values
    pinned = list(dict.fromkeys(pinned))[:n]
    top = (values.max() if values.size else 0.0) + len(pinned)
    keep = ~np.isin(chosen, pinned)
    items = np.concatenate([np.asarray(pinned, dtype=chosen.dtype), chosen[keep]])[:n]
    scores = np.concatenate(
        [top - np.arange(len(pinned), dtype=np.float64), values[keep].astype(np.float64)]
    )[:n]
    return items, scores
