"""Auto-tuning: pick each model's hyperparameters and the hybrid weights on a validation split.

The most recent ``valid_days`` of the data are held out; every candidate is fitted on the
rest, scored once for all validation customers, and judged by NDCG@10 in both scenarios
(discovery: past purchases excluded; repurchase: allowed). Hybrid weights are found by
coordinate ascent on the candidates' normalised score matrices. A blend is chosen over the
best single model only if it wins out of sample by more than one standard error: weights
searched on one half of the validation customers are judged on the other half (and the
other way round, over three random halvings), because weights searched and judged on the
same customers always look better than they are. The test period of a benchmark is never
seen here: callers pass only data before it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from storewise.data.dataset import Dataset
from storewise.data.split import last_days_split
from storewise.evaluate.protocol import SCENARIOS, EvalSet, build_evalset
from storewise.recommend import MODELS
from storewise.recommend.base import histories_of
from storewise.recommend.hybrid import normalise_rows

Progress = Callable[[str], None]

#: Candidate settings per model, most promising first (tuning stops when the budget is spent).
#: Purchases (and liked ratings) only, 1 per customer and item: the interactions EASE, ALS
#: and item-kNN find the most new items with (on Online Retail, EASE's validation NDCG@10
#: for discovery rises from 0.079 on weighted order counts to 0.097); counts remain
#: candidates (repurchase).
BINARY = {"weights": {"purchase": 1.0, "rating": 1.0}, "transform": "binary"}

GRIDS: dict[str, list[dict[str, Any]]] = {
    "popular": [{"half_life_days": h} for h in (14.0, 7.0, 30.0)],
    "repurchase": [
        {"own_weight": 0.8, "k": 100},
        {"own_weight": 0.8, "k": 100, "recent_days": 14.0},
        {"own_weight": 0.6, "k": 50},
        {"own_weight": 0.9, "k": 100},
    ],
    "itemknn": [
        {"similarity": "bm25", "k": 100, "shrink": 10.0},
        {"similarity": "bm25", "k": 100, "shrink": 10.0, "interactions": BINARY},
        {"similarity": "cosine", "k": 100, "shrink": 10.0},
        {"similarity": "bm25", "k": 50, "shrink": 50.0},
    ],
    "ease": [
        {"l2": 300.0, "interactions": BINARY},
        {"l2": 100.0},
        {"l2": 150.0, "interactions": BINARY},
        {"l2": 600.0, "interactions": BINARY},
        {"l2": 400.0},
    ],
    "userknn": [{"k": k} for k in (50, 100, 25)],
    "als": [
        {
            "factors": 128,
            "regularization": 0.1,
            "alpha": 5.0,
            "bm25": False,
            "interactions": BINARY,
        },
        {"factors": 128, "regularization": 0.1, "alpha": 5.0},
        {
            "factors": 64,
            "regularization": 0.05,
            "alpha": 10.0,
            "bm25": False,
            "interactions": BINARY,
        },
    ],
    "content": [{}],
}
WEIGHT_STEPS = (0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0)


@dataclass
class Trial:
    """One fitted candidate and its validation NDCG@10 per scenario."""

    model: str
    config: dict[str, Any]
    ndcg: dict[str, float]
    seconds: float


@dataclass
class TuneResult:
    """What tuning chose for each scenario, with the evidence."""

    trials: list[Trial] = field(default_factory=list)
    best: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-model best config
    choice: dict[str, dict[str, Any]] = field(default_factory=dict)  # scenario -> model spec
    validation: dict[str, dict[str, float]] = field(default_factory=dict)
    selection: dict[str, dict[str, float]] = field(default_factory=dict)  # blend vs single
    valid_days: float = 0.0
    users: dict[str, int] = field(default_factory=dict)

    def table(self) -> list[dict[str, Any]]:
        """Trials as rows for reports."""
        return [
            {
                "model": t.model,
                "config": t.config,
                **{f"ndcg_{k}": v for k, v in t.ndcg.items()},
                "seconds": round(t.seconds, 2),
            }
            for t in self.trials
        ]


class _Judge:
    """Fast NDCG@10 of score matrices against both scenarios' truth for the same users."""

    def __init__(self, evalsets: Mapping[str, EvalSet], k: int = 10) -> None:
        self.k = k
        users = sorted(set().union(*(set(e.users.tolist()) for e in evalsets.values())))
        self.users = np.asarray(users, dtype=np.int64)
        row_of = {u: r for r, u in enumerate(users)}
        n_items = next(iter(evalsets.values())).train.n_items
        self.rows: dict[str, np.ndarray] = {}
        self.truth: dict[str, np.ndarray] = {}
        self.ideal: dict[str, np.ndarray] = {}
        discount = 1.0 / np.log2(np.arange(2, k + 2))
        self.discount = discount
        self.purchased = np.zeros((len(users), n_items), dtype=bool)
        any_set = next(iter(evalsets.values()))
        for user, row in row_of.items():
            bought = any_set.purchased.get(user)
            if bought is not None and bought.size:
                self.purchased[row, bought] = True
        for scenario, evalset in evalsets.items():
            rows = np.asarray([row_of[u] for u in evalset.users.tolist()], dtype=np.int64)
            truth = np.zeros((len(rows), n_items), dtype=bool)
            for r, user in enumerate(evalset.users.tolist()):
                truth[r, list(evalset.truth[user])] = True
            self.rows[scenario] = rows
            self.truth[scenario] = truth
            sizes = np.minimum(truth.sum(axis=1), k)
            self.ideal[scenario] = np.cumsum(discount)[sizes - 1]

    def ndcg(self, scores: np.ndarray, scenario: str, subset: np.ndarray | None = None) -> float:
        """Mean NDCG@k of ``scores`` (rows = ``self.users``) for a scenario's customers
        (or the ``subset`` of their positions)."""
        return float(np.mean(self.per_user(scores, scenario, subset)))

    def per_user(
        self, scores: np.ndarray, scenario: str, subset: np.ndarray | None = None
    ) -> np.ndarray:
        """NDCG@k of each of the scenario's customers (or of the ``subset`` positions)."""
        rows = self.rows[scenario]
        truth, ideal = self.truth[scenario], self.ideal[scenario]
        if subset is not None:
            rows, truth, ideal = rows[subset], truth[subset], ideal[subset]
        values = scores[rows].astype(np.float64, copy=True)
        values[~np.isfinite(values)] = -1e30
        if scenario == "discovery":
            values[self.purchased[rows]] = -np.inf
        top = np.argpartition(-values, self.k, axis=1)[:, : self.k]
        order = np.argsort(-np.take_along_axis(values, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        hits = np.take_along_axis(truth, top, axis=1)
        dcg = (hits * self.discount).sum(axis=1)
        result: np.ndarray = dcg / ideal
        return result


def tune(
    dataset: Dataset,
    *,
    valid_days: float = 30.0,
    budget_seconds: float = 200.0,
    models: Sequence[str] | None = None,
    progress: Progress | None = None,
    max_users: int = 3000,
    seed: int = 0,
) -> TuneResult:
    """Tune every model (or ``models``) and hybrid weights on the last ``valid_days``."""
    say = progress or (lambda _message: None)
    started = time.perf_counter()
    split = last_days_split(dataset, valid_days)
    evalsets = {s: build_evalset(split, s) for s in SCENARIOS}
    rng = np.random.default_rng(seed)
    for scenario, evalset in list(evalsets.items()):
        if len(evalset.users) > max_users:
            keep = np.sort(rng.choice(evalset.users, max_users, replace=False))
            evalsets[scenario] = EvalSet(
                scenario,
                evalset.train,
                keep,
                {u: evalset.truth[u] for u in keep.tolist()},
                evalset.purchased,
                evalset.known_items,
            )
    judge = _Judge(evalsets)
    result = TuneResult(valid_days=valid_days, users={s: len(e.users) for s, e in evalsets.items()})
    if judge.users.size == 0:
        say("no validation customers: using default settings")
        return result
    histories = histories_of(split.train, judge.users.tolist())
    names = [m for m in (models or list(GRIDS)) if m in GRIDS]
    best_scores: dict[str, dict[str, tuple[float, np.ndarray]]] = {s: {} for s in SCENARIOS}
    for round_ in range(max((len(GRIDS[m]) for m in names), default=0)):
        for name in names:
            grid = GRIDS[name]
            if round_ >= len(grid):
                continue
            if round_ > 0 and time.perf_counter() - started > budget_seconds:
                continue
            config = grid[round_]
            say(f"tuning {name} {config}")
            t0 = time.perf_counter()
            cls = MODELS[name]
            model = cls(cls.config_class.model_validate(config)).fit(split.train)
            scores = model.score(histories)
            ndcg = {s: judge.ndcg(scores, s) for s in SCENARIOS}
            result.trials.append(Trial(name, config, ndcg, time.perf_counter() - t0))
            normalised = normalise_rows(scores)
            for scenario in SCENARIOS:
                current = best_scores[scenario].get(name)
                if current is None or ndcg[scenario] > current[0]:
                    best_scores[scenario][name] = (ndcg[scenario], normalised)
                    result.best.setdefault(scenario, {})[name] = config
    for scenario in SCENARIOS:
        parts = {n: s for n, (_, s) in best_scores[scenario].items()}
        single = max(best_scores[scenario].items(), key=lambda kv: kv[1][0])
        weights, value = _search_weights(parts, judge, scenario, single[0])
        gain, error = _out_of_fold_gain(parts, judge, scenario, single[0], rng)
        say(
            f"{scenario}: best single {single[0]} {single[1][0]:.4f}, hybrid {value:.4f}"
            f" (out of fold {gain:+.4f} +- {error:.4f})"
        )
        result.selection[scenario] = {
            "single": single[1][0],
            "hybrid": value,
            "out_of_fold_gain": gain,
            "standard_error": error,
        }
        if len(weights) > 1 and gain > error:
            components = {n: result.best[scenario][n] for n in weights}
            result.choice[scenario] = {
                "model": "hybrid",
                "config": {"components": components, "weights": weights},
            }
            result.validation[scenario] = {"ndcg@10": value}
        else:
            result.choice[scenario] = {
                "model": single[0],
                "config": result.best[scenario][single[0]],
            }
            result.validation[scenario] = {"ndcg@10": single[1][0]}
    return result


def _out_of_fold_gain(
    parts: Mapping[str, np.ndarray],
    judge: _Judge,
    scenario: str,
    start: str,
    rng: np.random.Generator,
    repeats: int = 3,
) -> tuple[float, float]:
    """Mean NDCG gain of the blend over the single model ``start`` on customers its weights
    were not searched on (two folds, repeated with fresh halves so that the verdict does not
    hang on one random split), and the standard error of that paired gain."""
    n = judge.rows[scenario].size
    if n < 4 or len(parts) < 2:
        return 0.0, 0.0
    alone = judge.per_user(_masked(parts[start], parts, {start: 1.0}), scenario)
    gains = np.zeros(n)
    for _ in range(repeats):
        folds = np.array_split(rng.permutation(n), 2)
        for held, searched in ((folds[0], folds[1]), (folds[1], folds[0])):
            weights, _ = _search_weights(parts, judge, scenario, start, subset=np.sort(searched))
            held = np.sort(held)
            blend = np.zeros_like(parts[start], dtype=np.float32)
            for name, weight in weights.items():
                blend += np.float32(weight) * parts[name]
            mixed = judge.per_user(_masked(blend, parts, weights), scenario, held)
            gains[held] += (mixed - alone[held]) / repeats
    return float(gains.mean()), float(gains.std(ddof=1) / np.sqrt(n))


def _search_weights(
    parts: Mapping[str, np.ndarray],
    judge: _Judge,
    scenario: str,
    start: str,
    rounds: int = 3,
    subset: np.ndarray | None = None,
) -> tuple[dict[str, float], float]:
    """Coordinate ascent on blend weights (starting from the best single model), judged on
    the scenario's customers or the ``subset`` of their positions."""
    weights = {name: (1.0 if name == start else 0.0) for name in parts}
    total = parts[start].astype(np.float32).copy()
    best = judge.ndcg(_masked(total, parts, weights), scenario, subset)
    for _ in range(rounds):
        improved = False
        for name in parts:
            if name == start:
                continue
            base = total - np.float32(weights[name]) * parts[name]
            for step in WEIGHT_STEPS:
                candidate = (base + np.float32(step) * parts[name]).astype(np.float32)
                trial = dict(weights, **{name: step})
                value = judge.ndcg(_masked(candidate, parts, trial), scenario, subset)
                if value > best + 1e-5:
                    best, weights, total, improved = value, trial, candidate, True
        if not improved:
            break
    return {n: w for n, w in weights.items() if w > 0}, best


def _masked(
    total: np.ndarray, parts: Mapping[str, np.ndarray], weights: Mapping[str, float]
) -> np.ndarray:
    """Blend with items no weighted component has an opinion on pushed to the bottom."""
    opinion = np.zeros(total.shape, dtype=bool)
    for name, matrix in parts.items():
        if weights.get(name, 0.0) > 0:
            opinion |= matrix > 0
    return np.where(opinion, total, -np.inf)
