"""The fairness audit: exposure and quality of lists made as served, on a held-out period.

The served configuration (the bundle's discovery model, and popularity for customers
without history) is refitted on everything before the last ``test_days``; each customer who
bought in that period gets a "for you" list through :func:`storewise.recommend.rules.select`
(the serving code) under each rule set audited, and the lists are measured against what they
bought (items they never bought before, known in training):

- **ARP**: the mean popularity (distinct training customers) of the items in a list;
- **long-tail share**: the share of recommended slots outside the head (the most popular
  items making 20% of interactions, as the long-tail boost defines it);
- **Gini of exposure**: how unequally slots fall on the items with any interaction;
- **miscalibration**: Steck's KL between a customer's category mix and their list's, over
  customers with a known mix;
- **NDCG@k** and hit rate overall, per country and per activity level (orders before the
  held-out period: new 0, light 1-2, regular 3-9, heavy 10+).

>>> activity_level(0), activity_level(2), activity_level(9), activity_level(10)
('new', 'light', 'regular', 'heavy')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from storewise.data.dataset import Dataset
from storewise.data.interactions import DAY_MS, OWNED_TYPES, positive
from storewise.data.split import temporal_split
from storewise.evaluate import metrics
from storewise.recommend.base import History, Recommender, histories_of
from storewise.recommend.components import COMPONENTS
from storewise.recommend.hybrid import Hybrid
from storewise.recommend.neighbors import feature_similarity
from storewise.recommend.popular import Popular
from storewise.recommend.rules import (
    HEAD_SHARE,
    Catalog,
    RuleSet,
    calibration_target,
    head_mask,
    mix_items,
    select,
)
from storewise.schema import from_ms

ACTIVITY_LEVELS = ("new", "light", "regular", "heavy")
#: Countries with fewer audited customers are pooled, and a group still smaller shows its
#: size only: a figure over a handful says little and comes close to one person's.
MIN_GROUP_CUSTOMERS = 10
OTHER_COUNTRIES = "other countries"
#: Per-customer figures averaged overall and per group.
FIGURES = ("ndcg", "hit_rate", "arp", "long_tail_share", "miscalibration")
BATCH = 512


def activity_level(orders: int) -> str:
    """A customer's activity level from their number of orders before the audit period."""
    if orders <= 0:
        return "new"
    if orders <= 2:
        return "light"
    return "regular" if orders < 10 else "heavy"


@dataclass
class Audited:
    """One audited customer: their history before the period, what they bought in it."""

    history: History
    truth: set[int]
    country: str
    level: str


@dataclass
class AuditSetup:
    """Everything the audit reuses across rule sets: the split, fitted models, customers."""

    catalog: Catalog
    model: Recommender
    popular: Recommender
    head: np.ndarray
    customers: list[Audited]
    split: dict[str, Any]
    model_name: str
    train: Dataset
    content_config: dict[str, Any]
    _similarity: Callable[[np.ndarray], np.ndarray] | None = None

    @property
    def popularity(self) -> np.ndarray:
        """Distinct training customers per item (what ARP averages and the head is cut on)."""
        return self.popular.popularity.astype(np.float64)

    def similarity(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """Product-feature similarity for diversity, as serving takes it from the content
        model (fitted on first use)."""
        if self._similarity is None:
            cls = COMPONENTS["content"]
            model = cls(cls.config_class.model_validate(self.content_config)).fit(self.train)
            self._similarity = feature_similarity(model)
        return self._similarity


def fit_choice(spec: Mapping[str, Any], train: Dataset) -> Recommender:
    """A model from a bundle's ``chosen`` entry (``{"model", "config"}``), fitted on ``train``."""
    name, config = str(spec["model"]), dict(spec.get("config") or {})
    if name == "hybrid":
        parts = {
            part: fit_choice({"model": part, "config": conf}, train)
            for part, conf in config["components"].items()
        }
        return Hybrid(Hybrid.config_class.model_validate(config)).use_fitted(parts, train)
    cls = COMPONENTS[name]
    return cls(cls.config_class.model_validate(config)).fit(train)


def prepare(
    dataset: Dataset,
    choice: Mapping[str, Any],
    *,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
    test_days: float = 30.0,
) -> AuditSetup:
    """Split off the last ``test_days``, fit the chosen model and popularity before it, and
    collect every customer who bought a known item in the period (new customers too).

    ``configs``: the bundle's tuned configuration per model (``best_configs``), for the
    popularity and content models serving uses beside the chosen one."""
    configs = configs or {}
    dataset.require_events()
    start = dataset.as_of_ms - int(test_days * DAY_MS)
    split = temporal_split(dataset, start)
    train = split.train
    model = fit_choice(choice, train)
    popular_config = Popular.config_class.model_validate(dict(configs.get("popular") or {}))
    popular = Popular(popular_config).fit(train)
    known = train.events["item_idx"].unique().implode()
    imap = pl.DataFrame(
        {"item_id": train.item_ids, "item_idx": np.arange(train.n_items, dtype=np.int32)}
    )
    per_customer = (
        split.test.filter(positive())
        .select("customer_id", "item_id")
        .unique()
        .join(imap, on="item_id")
        .filter(pl.col("item_idx").is_in(known))
        .group_by("customer_id")
        .agg(pl.col("item_idx"))
        .sort("customer_id")
    )
    owned = (
        train.events.filter(pl.col("event_type").is_in(OWNED_TYPES))
        .group_by("customer_idx")
        .agg(pl.col("item_idx").unique())
    )
    owned_by = {int(c): set(items) for c, items in owned.iter_rows()}
    orders = _orders(train)
    known_ids: list[str] = []
    new_ids: list[str] = []
    truths: dict[str, set[int]] = {}
    for customer_id, items in per_customer.iter_rows():
        idx = train.customer_index(customer_id)
        truth = set(items) - owned_by.get(idx, set()) if idx is not None else set(items)
        if truth:
            truths[customer_id] = truth
            (known_ids if idx is not None else new_ids).append(customer_id)
    countries = _countries(dataset)
    audited: list[Audited] = []
    indices = [train.customer_index(c) or 0 for c in known_ids]
    for customer_id, history in zip(known_ids, histories_of(train, indices), strict=True):
        level = activity_level(orders.get(int(history.customer_idx or 0), 0))
        country = countries.get(customer_id) or "unknown"
        audited.append(Audited(history, truths[customer_id], country, level))
    for customer_id in new_ids:
        country = countries.get(customer_id) or "unknown"
        empty = History.empty(train.as_of_ms, countries.get(customer_id))
        audited.append(Audited(empty, truths[customer_id], country, "new"))
    return AuditSetup(
        catalog=Catalog.from_items(train.item_ids, train.items),
        model=model,
        popular=popular,
        head=head_mask(popular.popularity),
        customers=audited,
        split={
            "train_until": from_ms(start - 1).isoformat(),
            "test_from": from_ms(start).isoformat(),
            "test_until": from_ms(dataset.as_of_ms).isoformat(),
            "test_days": test_days,
        },
        model_name=str(choice["model"]),
        train=train,
        content_config=dict(configs.get("content") or {}),
    )


def _orders(train: Dataset) -> dict[int, int]:
    """Orders per customer index before the period (purchases without an order id count one
    per day)."""
    buys = train.events.filter(pl.col("event_type") == "purchase")
    key = pl.coalesce(pl.col("order_id"), (pl.col("ts") // DAY_MS).cast(pl.Utf8))
    counts = buys.group_by("customer_idx").agg(key.n_unique().alias("orders"))
    return {int(c): int(n) for c, n in counts.iter_rows()}


def _countries(dataset: Dataset) -> dict[str, str | None]:
    """customer_id -> country from the snapshot's profiles."""
    if "country" not in dataset.customers.columns:
        return {}
    return dict(
        zip(
            dataset.customers["customer_id"].to_list(),
            dataset.customers["country"].to_list(),
            strict=True,
        )
    )


def audit_lists(setup: AuditSetup, rules: RuleSet, k: int = 10) -> list[list[int]]:
    """Each audited customer's top-``k`` list under ``rules``, made as serving makes it."""
    catalog, popularity = setup.catalog, setup.popularity
    similarity = setup.similarity() if rules.diversity > 0 else None
    lists: list[list[int]] = []
    for start in range(0, len(setup.customers), BATCH):
        part = setup.customers[start : start + BATCH]
        personal = [c.history for c in part if not c.history.is_empty]
        scores = setup.model.score(personal) if personal else np.empty((0, catalog.item_ids.size))
        row = 0
        for customer in part:
            history = customer.history
            if history.is_empty:
                own = setup.popular.score([history])[0]
            else:
                own, row = scores[row], row + 1
            chosen, _ = select(
                own,
                k,
                rules,
                catalog,
                purchased=history.owned() if not history.is_empty else np.empty(0, np.int64),
                fill=popularity,
                head=setup.head if rules.long_tail_boost > 0 else None,
                target=calibration_target(history, catalog.categories)
                if rules.calibration
                else None,
                similarity=similarity,
            )
            lists.append(chosen.tolist())
    return lists


def measure(setup: AuditSetup, lists: Sequence[Sequence[int]], k: int = 10) -> dict[str, Any]:
    """The audit's figures for lists aligned with ``setup.customers``: overall, per country
    and per activity level."""
    categories = setup.catalog.categories
    popularity = setup.popularity
    rows: list[dict[str, Any]] = []
    for customer, items in zip(setup.customers, lists, strict=True):
        scores = metrics.user_metrics(items, customer.truth, k)
        known_mix = bool(calibration_target(customer.history, categories))
        rows.append(
            {
                "country": customer.country,
                "level": customer.level,
                "ndcg": scores["ndcg"],
                "hit_rate": scores["hit_rate"],
                "arp": float(np.mean(popularity[items])) if items else 0.0,
                "long_tail_share": float(np.mean(~setup.head[items])) if items else 0.0,
                "miscalibration": metrics.miscalibration(
                    [str(categories[i]) for i in mix_items(customer.history)],
                    [str(categories[i]) for i in items],
                )
                if known_mix
                else None,
            }
        )
    overall = _summary(rows)
    exposure = np.bincount(
        np.asarray([i for items in lists for i in items], dtype=np.int64),
        minlength=popularity.size,
    )
    interacted = popularity > 0
    overall["gini"] = metrics.gini(exposure[interacted])
    overall["coverage"] = float(np.mean(exposure[interacted] > 0)) if interacted.any() else 0.0
    sizes: dict[str, int] = {}
    for row in rows:
        sizes[str(row["country"])] = sizes.get(str(row["country"]), 0) + 1
    for row in rows:
        if sizes[str(row["country"])] < MIN_GROUP_CUSTOMERS:
            row["country"] = OTHER_COUNTRIES
    return {
        "overall": overall,
        "country": _grouped(rows, "country"),
        "activity": {
            level: figures
            for level, figures in sorted(
                _grouped(rows, "level").items(), key=lambda kv: ACTIVITY_LEVELS.index(kv[0])
            )
        },
    }


def _summary(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Means over customers (miscalibration over those with a known category mix)."""
    calibrated = [r["miscalibration"] for r in rows if r["miscalibration"] is not None]
    out: dict[str, Any] = {"customers": len(rows)}
    for name in FIGURES[:-1]:
        out[name] = float(np.mean([r[name] for r in rows])) if rows else 0.0
    out["miscalibration"] = float(np.mean(calibrated)) if calibrated else None
    return out


def _grouped(rows: Sequence[Mapping[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    """Figures per group, largest first; a group under :data:`MIN_GROUP_CUSTOMERS` shows
    its size only."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row[key]), []).append(row)
    ordered = sorted(groups.items(), key=lambda kv: (kv[0] == OTHER_COUNTRIES, -len(kv[1]), kv[0]))
    return {
        name: _summary(members)
        if len(members) >= MIN_GROUP_CUSTOMERS
        else {"customers": len(members)} | dict.fromkeys(FIGURES)
        for name, members in ordered
    }


def audit(setup: AuditSetup, variants: Mapping[str, RuleSet], k: int = 10) -> dict[str, Any]:
    """The audit of each named rule set on one prepared split (the fit is shared)."""
    return {
        "split": setup.split,
        "model": setup.model_name,
        "k": k,
        "customers": len(setup.customers),
        "head_items": int(setup.head.sum()),
        "head_share": HEAD_SHARE,
        "variants": {
            name: {
                "rules": rules.model_dump(mode="json", exclude_defaults=True),
                **measure(setup, audit_lists(setup, rules, k), k),
            }
            for name, rules in variants.items()
        },
    }


__all__ = [
    "ACTIVITY_LEVELS",
    "FIGURES",
    "AuditSetup",
    "activity_level",
    "audit",
    "audit_lists",
    "fit_choice",
    "measure",
    "prepare",
]
