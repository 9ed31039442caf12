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

Tuning steps aside, with a note, where it would only measure noise: a scenario with fewer than
``MIN_VALIDATION_CUSTOMERS`` validation customers (a new or tiny shop) keeps the default model.
It stops where its :class:`~storewise.recommend.progress.Budget` runs out, keeping the best
found so far, and reports each phase (trials, then one blend per scenario) with a step count.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from storewise.data.dataset import Dataset
from storewise.data.split import last_days_split
from storewise.errors import InputError
from storewise.evaluate.protocol import SCENARIOS, EvalSet, build_evalset
from storewise.recommend import MODELS
from storewise.recommend.base import histories_of
from storewise.recommend.hybrid import normalise_rows
from storewise.recommend.progress import Budget, Messages, Progress, progress_of

#: Below this many validation customers in a scenario, NDCG@10 differences between settings
#: are noise (one customer moves the mean by a tenth or more): the scenario is not tuned.
MIN_VALIDATION_CUSTOMERS = 10
#: What an untuned scenario uses: item-to-item neighbours, completed by popularity.
DEFAULT_CHOICE: dict[str, Any] = {"model": "itemknn", "config": {}}
#: Rows of a score matrix judged at once: small enough for the row block to stay in cache.
_CELLS_PER_BLOCK = 131_072

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
    fit_seconds: float = 0.0


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
    notes: list[str] = field(default_factory=list)  # step-asides and budget cuts, for the user

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

    def ndcg(
        self,
        scores: np.ndarray,
        scenario: str,
        subset: np.ndarray | None = None,
        opinion: np.ndarray | None = None,
    ) -> float:
        """Mean NDCG@k of ``scores`` (rows = ``self.users``) for a scenario's customers
        (or the ``subset`` of their positions); see :meth:`per_user` for ``opinion``."""
        return float(np.mean(self.per_user(scores, scenario, subset, opinion)))

    def per_user(
        self,
        scores: np.ndarray,
        scenario: str,
        subset: np.ndarray | None = None,
        opinion: np.ndarray | None = None,
    ) -> np.ndarray:
        """NDCG@k of each of the scenario's customers (or of the ``subset`` positions).

        Items where ``opinion`` is False (no blended component has a view on them) and items
        without a finite score rank below every scored item; in discovery, past purchases rank
        last. Rows are judged a block at a time so each block stays in cache; each row's
        ranking is the same as judging the whole matrix at once.
        """
        rows = self.rows[scenario]
        truth, ideal = self.truth[scenario], self.ideal[scenario]
        if subset is not None:
            rows, truth, ideal = rows[subset], truth[subset], ideal[subset]
        n_items = scores.shape[1]
        k = min(self.k, n_items)  # a catalog smaller than k has only that many places
        top = np.empty((rows.size, k), dtype=np.intp)
        block = max(1, _CELLS_PER_BLOCK // max(n_items, 1))
        for lo in range(0, rows.size, block):
            at = rows[lo : lo + block]
            # Negated scores (exact in float64): smallest first is best first.
            cost = np.negative(scores[at], dtype=np.float64)
            unranked = ~np.isfinite(cost)
            if opinion is not None:
                unranked |= ~opinion[at]
            cost[unranked] = 1e30
            if scenario == "discovery":
                cost[self.purchased[at]] = np.inf
            if k < n_items:
                best = np.argpartition(cost, k, axis=1)[:, :k]
            else:
                best = np.broadcast_to(np.arange(k), cost.shape).copy()
            order = np.argsort(np.take_along_axis(cost, best, axis=1), axis=1, kind="stable")
            top[lo : lo + block] = np.take_along_axis(best, order, axis=1)
        hits = np.take_along_axis(truth, top, axis=1)
        dcg = (hits * self.discount[:k]).sum(axis=1)
        result: np.ndarray = dcg / ideal
        return result


def tune(
    dataset: Dataset,
    *,
    valid_days: float = 30.0,
    budget_seconds: float = 200.0,
    budget: Budget | None = None,
    models: Sequence[str] | None = None,
    progress: Progress | Messages | None = None,
    max_users: int = 3000,
    seed: int = 0,
    reserve_refit: bool = False,
) -> TuneResult:
    """Tune every model (or ``models``) and hybrid weights on the last ``valid_days``.

    ``budget`` (else ``budget_seconds`` from now) bounds trials and blending; with
    ``reserve_refit`` the time to refit each tried model on all the data is set aside in it,
    so that a caller who refits afterwards (training) still finishes within the budget.
    """
    report = progress_of(progress)
    budget = budget if budget is not None else Budget(budget_seconds)
    result = TuneResult(valid_days=valid_days)
    report.phase(f"holding out the last {valid_days:g} days to tune on")
    try:
        split = last_days_split(dataset, valid_days)
    except InputError as exc:
        return _step_aside(result, report, f"not tuned: {exc.message}")
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
    result.users = {s: len(e.users) for s, e in evalsets.items()}
    scenarios = [s for s in SCENARIOS if result.users[s] >= MIN_VALIDATION_CUSTOMERS]
    for scenario in SCENARIOS:
        if scenario not in scenarios:
            _step_aside(
                result,
                report,
                f"{scenario} not tuned: {result.users[scenario]} customer(s) to validate on in "
                f"the last {valid_days:g} days, at least {MIN_VALIDATION_CUSTOMERS} needed",
                scenario,
            )
    if not scenarios:
        return result
    judge = _Judge({s: evalsets[s] for s in scenarios})
    histories = histories_of(split.train, judge.users.tolist())
    names = [m for m in (models or list(GRIDS)) if m in GRIDS]
    if not names:
        return _step_aside(result, report, f"not tuned: no tunable model among {models}")
    refit_scale = dataset.events.height / max(split.train.events.height, 1)
    best_scores = _run_trials(
        names, split.train, histories, judge, scenarios, budget, report, result,
        refit_scale if reserve_refit else 0.0,
    )  # fmt: skip
    for position, scenario in enumerate(scenarios):
        share = budget.left() / (len(scenarios) - position)
        _blend(scenario, best_scores[scenario], judge, rng, report, result, budget, share)
    return result


def _step_aside(
    result: TuneResult, report: Progress, note: str, scenario: str | None = None
) -> TuneResult:
    """Leave ``scenario`` (or every scenario) on the default model, and say why."""
    report.note(f"{note}: {DEFAULT_CHOICE['model']} with default settings")
    result.notes.append(note)
    for name in SCENARIOS if scenario is None else (scenario,):
        result.choice[name] = dict(DEFAULT_CHOICE)
    return result


def _run_trials(
    names: Sequence[str],
    train: Dataset,
    histories: Sequence[Any],
    judge: _Judge,
    scenarios: Sequence[str],
    budget: Budget,
    report: Progress,
    result: TuneResult,
    refit_scale: float,
) -> dict[str, dict[str, tuple[float, np.ndarray]]]:
    """Fit each candidate of each model in rounds (every model's most promising setting
    first), judge it in each scenario, and keep each model's best normalised scores.

    Every model's first setting is always tried (the floor of any budget); further settings
    only while the budget has time left once a blend is allowed for (estimated from the cost
    of judging, measured on the first trial)."""
    best_scores: dict[str, dict[str, tuple[float, np.ndarray]]] = {s: {} for s in scenarios}
    rounds = max((len(GRIDS[name]) for name in names), default=0)
    planned = [
        (name, GRIDS[name][r]) for r in range(rounds) for name in names if r < len(GRIDS[name])
    ]
    report.phase("tuning: trying settings", total=len(planned))
    blend_estimate = 0.0
    for done, (name, config) in enumerate(planned):
        if done >= len(names) and budget.left() <= blend_estimate:
            skipped = len(planned) - done
            note = f"time budget reached: {done} of {len(planned)} settings tried"
            report.note(note)
            result.notes.append(note)
            report.update(done, f"{skipped} skipped")
            break
        report.update(done, f"{name} {config}")
        t0 = time.perf_counter()
        cls = MODELS[name]
        model = cls(cls.config_class.model_validate(config)).fit(train)
        fitted = time.perf_counter() - t0
        scores = model.score(histories)
        judged = time.perf_counter()
        ndcg = {s: judge.ndcg(scores, s) for s in scenarios}
        if not blend_estimate:
            blend_estimate = _blend_estimate(time.perf_counter() - judged, len(names))
        result.trials.append(Trial(name, config, ndcg, time.perf_counter() - t0, fitted))
        if refit_scale and not any(t.model == name for t in result.trials[:-1]):
            budget.reserve(fitted * refit_scale)
        normalised = normalise_rows(scores)
        for scenario in scenarios:
            current = best_scores[scenario].get(name)
            if current is None or ndcg[scenario] > current[0]:
                best_scores[scenario][name] = (ndcg[scenario], normalised)
                result.best.setdefault(scenario, {})[name] = config
    else:
        report.update(len(planned))
    return best_scores


def _blend_estimate(judging_seconds: float, n_models: int) -> float:
    """Seconds the blends of :func:`_blend` may take, from the seconds one judgement of a
    score matrix in every scenario took: each scenario searches its weights once on all its
    customers and six times on halves, each search about two rounds over the other models'
    weight steps."""
    searches = 1 + 2 * 3 * 0.5
    return judging_seconds * searches * 2 * max(n_models - 1, 0) * len(WEIGHT_STEPS)


def _blend(
    scenario: str,
    scores: Mapping[str, tuple[float, np.ndarray]],
    judge: _Judge,
    rng: np.random.Generator,
    report: Progress,
    result: TuneResult,
    budget: Budget,
    seconds: float,
) -> None:
    """Choose between the scenario's best single model and a blend of the best of each, the
    blend only where it wins out of fold by more than one standard error."""
    parts = {n: s for n, (_, s) in scores.items()}
    positive = {n: m > 0 for n, m in parts.items()}
    single = max(scores.items(), key=lambda kv: kv[1][0])
    deadline = budget.spent() + max(seconds, 0.0)

    def out_of_time() -> bool:
        return budget.spent() > deadline or budget.left() <= 0

    repeats = 3
    checked = len(parts) > 1 and judge.rows[scenario].size >= 4  # else nothing to check
    searches = 1 + 2 * repeats if checked else 1
    report.phase(f"blending {scenario}: searching weights", total=searches)
    weights, value = _search_weights(
        parts, judge, scenario, single[0], positive=positive, stop=out_of_time
    )
    report.update(1)
    gain, error, judged = _out_of_fold_gain(
        parts, judge, scenario, single[0], rng, repeats,
        positive=positive, stop=out_of_time, done=lambda n: report.update(1 + n),
    )  # fmt: skip
    if checked and judged < repeats:
        note = (
            f"{scenario}: time budget reached while checking the blend "
            f"({judged} of {repeats} out-of-fold checks done)"
        )
        if not judged:
            note += "; the best single model is kept"
        report.note(note)
        result.notes.append(note)
    report.note(
        f"{scenario}: best single {single[0]} {single[1][0]:.4f}, hybrid {value:.4f}"
        f" (out of fold {gain:+.4f} +- {error:.4f})"
    )
    result.selection[scenario] = {
        "single": single[1][0],
        "hybrid": value,
        "out_of_fold_gain": gain,
        "standard_error": error,
        "out_of_fold_checks": float(judged),
    }
    if len(weights) > 1 and judged and gain > error:
        components = {n: result.best[scenario][n] for n in weights}
        result.choice[scenario] = {
            "model": "hybrid",
            "config": {"components": components, "weights": weights},
        }
        result.validation[scenario] = {"ndcg@10": value}
    else:
        result.choice[scenario] = {"model": single[0], "config": result.best[scenario][single[0]]}
        result.validation[scenario] = {"ndcg@10": single[1][0]}


def _never() -> bool:
    return False


def _out_of_fold_gain(
    parts: Mapping[str, np.ndarray],
    judge: _Judge,
    scenario: str,
    start: str,
    rng: np.random.Generator,
    repeats: int = 3,
    *,
    positive: Mapping[str, np.ndarray] | None = None,
    stop: Callable[[], bool] = _never,
    done: Callable[[int], None] | None = None,
) -> tuple[float, float, int]:
    """Mean NDCG gain of the blend over the single model ``start`` on customers its weights
    were not searched on (two folds, repeated with fresh halves so that the verdict does not
    hang on one random split), the standard error of that paired gain, and how many repeats
    were completed before ``stop`` said the time is up (the gain is over those)."""
    n = judge.rows[scenario].size
    if n < 4 or len(parts) < 2:
        return 0.0, 0.0, repeats
    positive = positive if positive is not None else {k: m > 0 for k, m in parts.items()}
    alone = judge.per_user(parts[start], scenario, opinion=positive[start])
    gains = np.zeros(n)
    completed = 0
    for repeat in range(repeats):
        folds = np.array_split(rng.permutation(n), 2)
        this = np.zeros(n)
        for fold, (held, searched) in enumerate(((folds[0], folds[1]), (folds[1], folds[0]))):
            if stop():
                break
            weights, _ = _search_weights(
                parts, judge, scenario, start, subset=np.sort(searched), positive=positive
            )
            held = np.sort(held)
            blend = np.zeros_like(parts[start], dtype=np.float32)
            for name, weight in weights.items():
                blend += np.float32(weight) * parts[name]
            mixed = judge.per_user(blend, scenario, held, _opinion(positive, weights))
            this[held] = mixed - alone[held]
            if done is not None:
                done(2 * repeat + fold + 1)
        else:
            gains += this / repeats
            completed += 1
            continue
        break
    if not completed:
        return 0.0, 0.0, 0
    gains *= repeats / completed
    return float(gains.mean()), float(gains.std(ddof=1) / np.sqrt(n)), completed


def _search_weights(
    parts: Mapping[str, np.ndarray],
    judge: _Judge,
    scenario: str,
    start: str,
    rounds: int = 3,
    subset: np.ndarray | None = None,
    *,
    positive: Mapping[str, np.ndarray] | None = None,
    stop: Callable[[], bool] = _never,
) -> tuple[dict[str, float], float]:
    """Coordinate ascent on blend weights (starting from the best single model), judged on
    the scenario's customers or the ``subset`` of their positions; items no weighted
    component has an opinion on (``positive``: each part's scores above zero) rank last.
    Stops early, with the best weights so far, once ``stop()`` is true."""
    positive = positive if positive is not None else {k: m > 0 for k, m in parts.items()}
    weights = {name: (1.0 if name == start else 0.0) for name in parts}
    total = parts[start].astype(np.float32).copy()
    best = judge.ndcg(total, scenario, subset, _opinion(positive, weights))
    for _ in range(rounds):
        improved = False
        for name in parts:
            if name == start:
                continue
            if stop():
                return {n: w for n, w in weights.items() if w > 0}, best
            base = total - np.float32(weights[name]) * parts[name]
            without = _opinion(positive, dict(weights, **{name: 0.0}))
            with_name = without | positive[name]
            for step in WEIGHT_STEPS:
                candidate = (base + np.float32(step) * parts[name]).astype(np.float32, copy=False)
                trial = dict(weights, **{name: step})
                opinion = with_name if step > 0 else without
                value = judge.ndcg(candidate, scenario, subset, opinion)
                if value > best + 1e-5:
                    best, weights, total, improved = value, trial, candidate, True
        if not improved:
            break
    return {n: w for n, w in weights.items() if w > 0}, best


def _opinion(positive: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Where at least one weighted component has an opinion (a score above zero)."""
    masks = [positive[name] for name, weight in weights.items() if weight > 0]
    if not masks:
        return np.zeros(next(iter(positive.values())).shape, dtype=bool)
    opinion = masks[0].copy()
    for mask in masks[1:]:
        opinion |= mask
    return opinion
