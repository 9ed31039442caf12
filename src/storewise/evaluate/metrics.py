"""Recommendation quality: accuracy, coverage, novelty, popularity bias, calibration, by group.

All accuracy metrics use binary relevance at a cut-off ``k`` and are averaged over customers:
NDCG (log2 discount, ideal DCG over ``min(|truth|, k)`` positions), recall (hits / |truth|),
precision (hits / k), MAP (sum of precision at each hit / ``min(|truth|, k)``), hit rate, MRR.

>>> round(ndcg([3, 1, 2], {1}, 3), 4)
0.6309
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

ACCURACY = ("ndcg", "recall", "precision", "map", "hit_rate", "mrr")


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def ndcg(ranked: Sequence[Any], truth: set[Any], k: int) -> float:
    """Normalised discounted cumulative gain at ``k`` with binary relevance."""
    if not truth:
        return 0.0
    disc = _discounts(k)
    gains = sum(disc[i] for i, item in enumerate(ranked[:k]) if item in truth)
    ideal = disc[: min(len(truth), k)].sum()
    return float(gains / ideal)


def user_metrics(ranked: Sequence[Any], truth: set[Any], k: int) -> dict[str, float]:
    """All accuracy metrics for one customer."""
    top = list(ranked[:k])
    hits = [i for i, item in enumerate(top) if item in truth]
    n_hits = len(hits)
    precision_sum = sum((j + 1) / (pos + 1) for j, pos in enumerate(hits))
    return {
        "ndcg": ndcg(top, truth, k),
        "recall": n_hits / len(truth) if truth else 0.0,
        "precision": n_hits / k,
        "map": precision_sum / min(len(truth), k) if truth else 0.0,
        "hit_rate": 1.0 if n_hits else 0.0,
        "mrr": 1.0 / (hits[0] + 1) if hits else 0.0,
    }


def accuracy(
    recommendations: Mapping[Any, Sequence[Any]], truth: Mapping[Any, set[Any]], k: int = 10
) -> dict[str, float]:
    """Mean accuracy metrics over the customers in ``truth`` (missing lists count as empty)."""
    if not truth:
        return dict.fromkeys(ACCURACY, 0.0) | {"users": 0}
    totals = dict.fromkeys(ACCURACY, 0.0)
    for user, items in truth.items():
        for name, value in user_metrics(recommendations.get(user, ()), items, k).items():
            totals[name] += value
    n = len(truth)
    return {name: value / n for name, value in totals.items()} | {"users": n}


def per_user(
    recommendations: Mapping[Any, Sequence[Any]], truth: Mapping[Any, set[Any]], metric: str, k: int
) -> dict[Any, float]:
    """One metric for each customer (for per-group breakdowns and significance tests)."""
    return {u: user_metrics(recommendations.get(u, ()), t, k)[metric] for u, t in truth.items()}


def coverage(recommendations: Mapping[Any, Sequence[Any]], n_items: int, k: int = 10) -> float:
    """Share of the catalog that appears in at least one list."""
    seen = {item for items in recommendations.values() for item in items[:k]}
    return len(seen) / n_items if n_items else 0.0


def popularity_metrics(
    recommendations: Mapping[Any, Sequence[Any]],
    popularity: Mapping[Any, float],
    n_users: int,
    k: int = 10,
    head_share: float = 0.2,
) -> dict[str, float]:
    """Novelty, average recommendation popularity, long-tail share and Gini of exposure.

    ``popularity`` maps item -> number of customers who interacted with it in training;
    the head is the ``head_share`` most popular items, the long tail everything else.
    """
    items = sorted(popularity, key=lambda i: (-popularity[i], str(i)))
    head = set(items[: max(1, int(len(items) * head_share))])
    lists = [list(v[:k]) for v in recommendations.values() if len(v)]
    if not lists:
        return {"novelty": 0.0, "arp": 0.0, "long_tail_share": 0.0, "gini": 0.0}
    flat = [item for lst in lists for item in lst]
    novelty = np.mean(
        [-math.log2(max(popularity.get(i, 0.0), 1.0) / max(n_users, 1)) for i in flat]
    )
    arp = np.mean([np.mean([popularity.get(i, 0.0) for i in lst]) for lst in lists])
    tail = np.mean([item not in head for item in flat])
    counts = np.zeros(len(items) or 1)
    position = {item: n for n, item in enumerate(items)}
    for item in flat:
        if item in position:
            counts[position[item]] += 1
    return {
        "novelty": float(novelty),
        "arp": float(arp),
        "long_tail_share": float(tail),
        "gini": gini(counts),
    }


def gini(values: np.ndarray) -> float:
    """Gini coefficient of a non-negative distribution (0 equal exposure, 1 all on one)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    if x.sum() == 0:
        return 0.0
    n = x.size
    ranks = np.arange(1, n + 1)
    return float((2 * (ranks * x).sum()) / (n * x.sum()) - (n + 1) / n)


def miscalibration(
    history_categories: Sequence[str | None],
    recommended_categories: Sequence[str | None],
    alpha: float = 0.01,
) -> float:
    """Steck's (2018) KL(p || q~) between a customer's category mix and their list's."""
    p = _distribution(history_categories)
    q = _distribution(recommended_categories)
    if not p:
        return 0.0
    total = 0.0
    for category, share in p.items():
        mixed = (1 - alpha) * q.get(category, 0.0) + alpha * share
        total += share * math.log(share / mixed)
    return total


def _distribution(categories: Sequence[str | None]) -> dict[str, float]:
    known = [c for c in categories if c]
    if not known:
        return {}
    values, counts = np.unique(known, return_counts=True)
    return {str(v): float(c) / len(known) for v, c in zip(values, counts, strict=True)}


def by_group(
    recommendations: Mapping[Any, Sequence[Any]],
    truth: Mapping[Any, set[Any]],
    groups: Mapping[Any, str],
    k: int = 10,
) -> dict[str, dict[str, float]]:
    """Accuracy metrics per customer group (e.g. country, activity level)."""
    members: dict[str, dict[Any, set[Any]]] = {}
    for user, items in truth.items():
        members.setdefault(groups.get(user, "unknown"), {})[user] = items
    return {g: accuracy(recommendations, t, k) for g, t in sorted(members.items())}
