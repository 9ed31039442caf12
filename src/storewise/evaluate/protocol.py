"""The evaluation protocol: a time split, two scenarios, batch scoring and a tidy table.

Follows the retail benchmark protocol of the shared datasets README: train before a cutoff,
test on the following period; *discovery* truth is the known items a customer bought in the
test period and never before (lists never repeat past purchases); *repurchase* truth is all
known items they bought (lists may repeat). "Known" items are those seen in training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from storewise.data.dataset import Dataset
from storewise.data.interactions import OWNED_TYPES, positive
from storewise.data.split import Split, temporal_split
from storewise.evaluate import metrics
from storewise.recommend.base import Recommender, histories_of, top_n

SCENARIOS = ("discovery", "repurchase")


@dataclass(frozen=True)
class EvalSet:
    """Everything needed to score models on one split and scenario, computed once."""

    scenario: str
    train: Dataset
    users: np.ndarray  # customer_idx in train
    truth: dict[int, set[int]]
    purchased: dict[int, np.ndarray]
    known_items: np.ndarray


def build_evalset(split: Split, scenario: str) -> EvalSet:
    """Truth sets per customer for ``scenario`` on ``split`` (indices of the train snapshot)."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}")
    train = split.train
    known = np.unique(train.events["item_idx"].to_numpy())
    buys = split.test.filter(positive())
    cmap = pl.DataFrame(
        {"customer_id": train.customer_ids, "cidx": np.arange(train.n_customers, dtype=np.int32)}
    )
    imap = pl.DataFrame(
        {"item_id": train.item_ids, "iidx": np.arange(train.n_items, dtype=np.int32)}
    )
    pairs = (
        buys.join(cmap, on="customer_id").join(imap, on="item_id").select("cidx", "iidx").unique()
    )
    pairs = pairs.filter(pl.col("iidx").is_in(pl.Series(known).implode()))
    bought = (
        train.events.filter(pl.col("event_type").is_in(OWNED_TYPES))
        .group_by("customer_idx")
        .agg(pl.col("item_idx").unique())
    )
    purchased = {
        int(c): np.asarray(sorted(items), dtype=np.int64) for c, items in bought.iter_rows()
    }
    truth: dict[int, set[int]] = {}
    for c, i in pairs.iter_rows():
        if scenario == "discovery" and c in purchased and i in set(purchased[c].tolist()):
            continue
        truth.setdefault(int(c), set()).add(int(i))
    truth = {c: t for c, t in truth.items() if t}
    users = np.asarray(sorted(truth), dtype=np.int64)
    return EvalSet(scenario, train, users, truth, purchased, known)


def recommend_lists(
    model: Recommender, evalset: EvalSet, k: int = 10, batch: int = 512
) -> dict[int, list[int]]:
    """Top-k lists for every evaluation user (past purchases excluded for discovery)."""
    lists: dict[int, list[int]] = {}
    users = evalset.users.tolist()
    for start in range(0, len(users), batch):
        part = users[start : start + batch]
        scores = model.score(histories_of(evalset.train, part))
        for row, user in enumerate(part):
            exclude = evalset.purchased.get(user) if evalset.scenario == "discovery" else None
            items, _ = top_n(scores[row], k, exclude)
            if len(items) < k:
                skip = items if exclude is None else np.concatenate([items, exclude])
                fill, _ = top_n(model.popularity.astype(np.float64), k - len(items), skip)
                items = np.concatenate([items, fill])
            lists[user] = items.tolist()
    return lists


def score_lists(
    lists: Mapping[int, Sequence[int]], evalset: EvalSet, k: int = 10, *, full: bool = False
) -> dict[str, Any]:
    """Accuracy (and with ``full`` beyond-accuracy) metrics of top-k lists."""
    result: dict[str, Any] = metrics.accuracy(lists, evalset.truth, k)
    result["coverage"] = metrics.coverage(lists, len(evalset.known_items), k)
    if full:
        counts = evalset.train.events.group_by("item_idx").agg(pl.col("customer_idx").n_unique())
        popularity = dict(
            zip(counts["item_idx"].to_list(), counts["customer_idx"].to_list(), strict=True)
        )
        result.update(metrics.popularity_metrics(lists, popularity, evalset.train.n_customers, k))
        categories = evalset.train.items["category"].fill_null("").to_list()
        miscal = []
        for user, items in lists.items():
            history = evalset.purchased.get(user, np.empty(0, np.int64))
            miscal.append(
                metrics.miscalibration(
                    [categories[i] for i in history], [categories[i] for i in items]
                )
            )
        result["miscalibration"] = float(np.mean(miscal)) if miscal else 0.0
    return result


def evaluate(
    model: Recommender, evalset: EvalSet, k: int = 10, *, full: bool = False
) -> dict[str, Any]:
    """Metrics of ``model`` (already fitted on ``evalset.train``) on ``evalset``."""
    return score_lists(recommend_lists(model, evalset, k), evalset, k, full=full)


def groups_of(evalset: EvalSet) -> dict[str, dict[int, str]]:
    """Customer groups for per-group quality: country and activity level (orders)."""
    customers = evalset.train.customers
    countries = customers["country"].fill_null("unknown").to_list()
    orders = evalset.train.events.group_by("customer_idx").agg(pl.col("order_id").n_unique())
    per_user = dict(
        zip(orders["customer_idx"].to_list(), orders["order_id"].to_list(), strict=True)
    )

    def level(n: int) -> str:
        return (
            "1 order"
            if n <= 1
            else "2-4 orders"
            if n <= 4
            else "5-19 orders"
            if n < 20
            else "20+ orders"
        )

    return {
        "country": {u: countries[u] for u in evalset.users.tolist()},
        "activity": {u: level(per_user.get(u, 0)) for u in evalset.users.tolist()},
    }


def time_split(dataset: Dataset, test_start_ms: int, test_end_ms: int | None = None) -> Split:
    """The protocol's split: train strictly before ``test_start_ms``."""
    return temporal_split(dataset, test_start_ms, test_end_ms)
