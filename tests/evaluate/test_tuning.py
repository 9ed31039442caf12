"""Auto-tuning picks models by validation NDCG and learns hybrid weights that help."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from storewise.evaluate.protocol import EvalSet
from storewise.evaluate.tuning import (
    DEFAULT_CHOICE,
    MIN_VALIDATION_CUSTOMERS,
    _Judge,
    _out_of_fold_gain,
    _search_weights,
    tune,
)
from storewise.recommend.hybrid import normalise_rows
from storewise.recommend.progress import Budget
from storewise.testing.recommender_contract import small_shop, tiny_catalog_shop


def test_tune_chooses_per_scenario_and_records_trials() -> None:
    shop = small_shop(customers=60, items=30)
    result = tune(
        shop, valid_days=15, budget_seconds=5, models=["popular", "itemknn", "repurchase"]
    )
    assert set(result.choice) == {"discovery", "repurchase"}
    assert result.trials and all(
        t.model in {"popular", "itemknn", "repurchase"} for t in result.trials
    )
    for scenario, chosen in result.choice.items():
        best_single = max(t.ndcg[scenario] for t in result.trials)
        assert result.validation[scenario]["ndcg@10"] >= best_single - 1e-9
        if chosen["model"] == "hybrid":
            assert set(chosen["config"]["weights"]) <= {"popular", "itemknn", "repurchase"}


def _judge(truth: np.ndarray) -> _Judge:
    """A judge over ``truth`` (customers x items) in the repurchase scenario."""
    users = np.arange(truth.shape[0])
    train = SimpleNamespace(n_items=truth.shape[1])
    evalset = EvalSet(
        "repurchase",
        train,  # type: ignore[arg-type]  # the judge reads only n_items
        users,
        {int(u): set(np.flatnonzero(truth[u]).tolist()) for u in users},
        {},
        np.arange(truth.shape[1]),
    )
    return _Judge({"repurchase": evalset})


def test_a_blend_that_only_fits_noise_does_not_win_out_of_fold() -> None:
    rng = np.random.default_rng(3)
    truth = rng.random((400, 60)) < 0.08
    good = normalise_rows(truth + rng.normal(0, 0.9, truth.shape))
    noise = normalise_rows(rng.random(truth.shape))
    judge = _judge(truth)
    parts = {"good": good, "noise": noise}
    _, in_sample = _search_weights(parts, judge, "repurchase", "good")
    gain, error, _ = _out_of_fold_gain(parts, judge, "repurchase", "good", rng)
    assert in_sample > judge.ndcg(good, "repurchase")  # searched on itself, noise looks useful
    assert gain <= error  # judged on the other half it does not beat one standard error


def test_a_blend_of_two_complementary_signals_wins_out_of_fold() -> None:
    rng = np.random.default_rng(4)
    truth = rng.random((400, 60)) < 0.08
    half = rng.random(truth.shape) < 0.5  # each model sees a different half of the truth
    first = normalise_rows(np.where(half, truth, 0) + rng.normal(0, 0.3, truth.shape))
    second = normalise_rows(np.where(~half, truth, 0) + rng.normal(0, 0.3, truth.shape))
    gain, error, _ = _out_of_fold_gain(
        {"first": first, "second": second}, _judge(truth), "repurchase", "first", rng
    )
    assert gain > 3 * error > 0


class _Recorder:
    """A progress reporter that keeps what it hears."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, int | None]] = []
        self.updates: list[tuple[str, int]] = []
        self.notes: list[str] = []

    def phase(self, name: str, total: int | None = None) -> None:
        self.phases.append((name, total))

    def update(self, done: int, detail: str = "") -> None:
        self.updates.append((self.phases[-1][0], done))

    def note(self, message: str) -> None:
        self.notes.append(message)


def test_the_judge_ranks_unopinionated_items_last_as_a_masked_matrix_would() -> None:
    rng = np.random.default_rng(5)
    truth = rng.random((300, 40)) < 0.1
    judge = _judge(truth)
    scores = normalise_rows(rng.random(truth.shape)).astype(np.float32)
    opinion = rng.random(truth.shape) < 0.2  # few opinions: many rows tie below the top 10
    masked = np.where(opinion, scores, -np.inf)
    np.testing.assert_array_equal(
        judge.per_user(masked, "repurchase"), judge.per_user(scores, "repurchase", None, opinion)
    )


def test_the_judge_handles_a_catalog_smaller_than_the_list() -> None:
    truth = np.array([[True, False, False], [False, False, True]])
    judge = _judge(truth)
    scores = np.array([[0.9, 0.5, 0.1], [0.9, 0.5, 0.1]], dtype=np.float32)
    np.testing.assert_allclose(judge.per_user(scores, "repurchase"), [1.0, 0.5])


def test_tuning_reports_each_phase_with_counted_steps() -> None:
    shop = small_shop(customers=60, items=30)
    heard = _Recorder()
    result = tune(shop, valid_days=15, budget_seconds=600, models=["popular", "itemknn"],
                  progress=heard)  # fmt: skip
    names = [name for name, _ in heard.phases]
    assert names[1] == "tuning: trying settings" and heard.phases[1][1] == 3 + 4
    assert [n for n in names if n.startswith("blending")] == [
        "blending discovery: searching weights",
        "blending repurchase: searching weights",
    ]
    trials = [done for name, done in heard.updates if name == names[1]]
    assert trials == sorted(trials) and trials[-1] == 7 == len(result.trials)
    assert not result.notes


def test_a_spent_budget_tries_each_model_once_and_keeps_a_single_model() -> None:
    shop = small_shop(customers=60, items=30)
    result = tune(shop, valid_days=15, budget=Budget(0.0), models=["popular", "itemknn"])
    assert [t.model for t in result.trials] == ["popular", "itemknn"]
    for scenario in ("discovery", "repurchase"):
        assert result.choice[scenario]["model"] in {"popular", "itemknn"}
        assert result.selection[scenario]["out_of_fold_checks"] == 0
    assert any("time budget reached: 2 of 7" in note for note in result.notes)


def test_too_few_validation_customers_leave_the_default_model() -> None:
    shop = tiny_catalog_shop(items=3, customers=6)
    heard = _Recorder()
    result = tune(shop, valid_days=15, progress=heard)
    assert result.choice == {s: DEFAULT_CHOICE for s in ("discovery", "repurchase")}
    assert not result.trials and len(result.notes) == 2
    assert all(f"at least {MIN_VALIDATION_CUSTOMERS} needed" in n for n in heard.notes)


def test_a_shop_younger_than_the_validation_period_is_not_tuned() -> None:
    shop = tiny_catalog_shop(items=3, customers=40)
    result = tune(shop, valid_days=365)
    assert result.choice["discovery"] == DEFAULT_CHOICE and not result.trials
    assert result.notes[0].startswith("not tuned: no events before")
