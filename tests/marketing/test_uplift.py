"""Tests of uplift models and their evaluation, on synthetic campaigns and on Hillstrom."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from storewise.errors import InputError, NotFitted, SchemaError
from storewise.marketing.uplift import (
    UpliftConfig,
    UpliftModel,
    ate_table,
    average_treatment_effect,
    qini_curve,
    stratified_split,
    uplift_at_k,
    uplift_report,
)

FEATURES = ["age", "channel"]


def _campaign(n: int = 6000, seed: int = 0) -> pl.DataFrame:
    """Offer lifts response only for web customers aged over 40 (+25pp); base rate 10%."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, size=n)
    channel = rng.choice(["web", "phone"], size=n)
    arm = rng.choice(["offer", "control"], size=n)
    persuadable = (age > 40) & (channel == "web")
    rate = 0.10 + 0.25 * ((arm == "offer") & persuadable)
    bought = (rng.random(n) < rate).astype(np.int64)
    return pl.DataFrame(
        {"age": age, "channel": channel, "arm": arm, "bought": bought,
         "spend": bought * rng.gamma(4.0, 10.0, size=n)}
    )  # fmt: skip


def _fit(frame: pl.DataFrame, outcome: str = "bought", **config: object) -> UpliftModel:
    return UpliftModel(UpliftConfig(**config)).fit(
        frame, features=FEATURES, treatment="arm", arm="offer", control="control", outcome=outcome
    )


@pytest.mark.parametrize(
    ("learner", "base"), [("t", "linear"), ("x", "linear"), ("t", "hgb"), ("x", "hgb")]
)
def test_learners_find_the_persuadables(learner: str, base: str) -> None:
    train, test = _campaign(seed=1), _campaign(2000, seed=2)
    model = _fit(
        train, learner=learner, base=base, hgb_max_iter=30, hgb_min_samples_leaf=50, threads=1
    )
    report = uplift_report(model, test, treatment="arm", control="control", outcome="bought")
    assert report.beats_random
    assert report.uplift_at_k > 1.5 * report.ate
    assert report.qini.qini_coefficient > 0
    assert report.qini.auuc > report.qini.auuc_random
    prediction = model.predict(test)
    persuadable = ((test["age"] > 40) & (test["channel"] == "web")).to_numpy()
    assert prediction.uplift[persuadable].mean() > prediction.uplift[~persuadable].mean() + 0.1
    np.testing.assert_allclose(prediction.treated - prediction.baseline, prediction.uplift)


def test_continuous_outcome_uses_regression() -> None:
    model = _fit(_campaign(seed=3), outcome="spend")
    uplift = model.predict_uplift(_campaign(1000, seed=4))
    assert np.isfinite(uplift).all() and uplift.std() > 0


def test_qini_curve_on_a_hand_example() -> None:
    # perfect score: the two treated responders first
    score = [0.9, 0.8, 0.1, 0.2, 0.3, 0.4]
    treated = [1, 1, 1, 0, 0, 0]
    outcome = [1, 1, 0, 0, 0, 1]
    curve = qini_curve(score, treated, outcome, n_points=7)
    assert curve.n == 6
    assert curve.fraction.tolist() == pytest.approx([i / 6 for i in range(7)])
    # after 2 rows: 2 treated responders, no control -> qini 2
    assert curve.qini[2] == pytest.approx(2.0)
    # whole population: 2 - 1 * 3/3 = 1 incremental response
    assert curve.qini[-1] == pytest.approx(1.0)
    assert curve.random[-1] == pytest.approx(1.0)
    assert curve.qini_coefficient > 0
    reversed_curve = qini_curve([-s for s in score], treated, outcome)
    assert reversed_curve.qini_coefficient < curve.qini_coefficient
    assert curve.to_frame().columns == ["fraction", "qini", "random", "uplift"]


def test_uplift_at_k_on_a_hand_example() -> None:
    score = [6, 5, 4, 3, 2, 1]
    treated = [1, 0, 1, 0, 1, 0]
    outcome = [1, 0, 1, 1, 0, 0]
    assert uplift_at_k(score, treated, outcome, k=0.5) == pytest.approx(1.0 - 0.0)
    assert uplift_at_k(score, treated, outcome, k=1.0) == pytest.approx(2 / 3 - 1 / 3)
    with pytest.raises(InputError, match="no control"):
        uplift_at_k(score, treated, outcome, k=0.1)
    with pytest.raises(InputError, match="lengths differ"):
        uplift_at_k(score, treated[:3], outcome)


def test_bad_campaign_frames_are_named() -> None:
    frame = _campaign(500)
    with pytest.raises(InputError, match="no data"):
        UpliftModel().fit(frame, features=FEATURES, treatment="arm", arm="coupon",
                          control="control", outcome="bought")  # fmt: skip
    with pytest.raises(SchemaError, match="'loyalty'"):
        UpliftModel().fit(frame, features=["loyalty"], treatment="arm", arm="offer",
                          control="control", outcome="bought")  # fmt: skip
    with pytest.raises(InputError, match="at least 30"):
        _fit(frame.filter((pl.col("arm") == "control") | (pl.col("age") < 20)))
    with pytest.raises(InputError, match="at least one feature"):
        UpliftModel().fit(frame, features=[], treatment="arm", arm="offer",
                          control="control", outcome="bought")  # fmt: skip
    with pytest.raises(NotFitted, match="fit"):
        UpliftModel().predict(frame)


def test_single_class_groups_predict_constants() -> None:
    frame = _campaign(800).with_columns(
        pl.when(pl.col("arm") == "control").then(0).otherwise(pl.col("bought")).alias("bought")
    )
    baseline = _fit(frame).predict(frame).baseline
    assert np.all(baseline == 0.0)


def test_stratified_split_keeps_the_mix() -> None:
    frame = _campaign(5000)
    train, test = stratified_split(frame, stratify=["arm", "bought"], test_size=0.3, seed=0)
    assert train.height + test.height == 5000 and test.height == 1500
    for part in (train, test):
        assert part["bought"].mean() == pytest.approx(frame["bought"].mean(), abs=0.005)
    again, _ = stratified_split(frame, stratify=["arm", "bought"], test_size=0.3, seed=0)
    assert again.equals(train)


@pytest.mark.dataset
def test_hillstrom_ates_match_the_published_figures(hillstrom: pl.DataFrame) -> None:
    table = ate_table(
        hillstrom,
        treatment="segment",
        control="No E-Mail",
        outcomes=["visit", "conversion", "spend"],
    )
    got = {(r["arm"], r["outcome"]): r["ate"] for r in table.iter_rows(named=True)}
    published = {
        ("Mens E-Mail", "visit"): 0.0766, ("Mens E-Mail", "conversion"): 0.0068,
        ("Mens E-Mail", "spend"): 0.77, ("Womens E-Mail", "visit"): 0.0452,
        ("Womens E-Mail", "conversion"): 0.0031, ("Womens E-Mail", "spend"): 0.42,
    }  # fmt: skip
    for key, value in published.items():
        assert got[key] == pytest.approx(value, abs=0.00005 if value < 0.1 else 0.005), key
    assert average_treatment_effect(
        hillstrom, treatment="segment", arm="Mens E-Mail", control="No E-Mail", outcome="visit"
    ) == pytest.approx(0.0766, abs=0.00005)


HILLSTROM_FEATURES = [
    "recency", "history_segment", "history", "mens", "womens", "zip_code", "newbie", "channel",
]  # fmt: skip


@pytest.mark.dataset
@pytest.mark.parametrize(
    ("arm", "learner"), [("Mens E-Mail", "t"), ("Womens E-Mail", "t"), ("Mens E-Mail", "x")]
)
def test_hillstrom_targeting_beats_random(hillstrom: pl.DataFrame, arm: str, learner: str) -> None:
    rows = hillstrom.filter(pl.col("segment").is_in([arm, "No E-Mail"]))
    train, test = stratified_split(rows, stratify=["segment", "visit"], test_size=0.3, seed=0)
    model = UpliftModel(UpliftConfig(learner=learner)).fit(
        train, features=HILLSTROM_FEATURES, treatment="segment", arm=arm,
        control="No E-Mail", outcome="visit",
    )  # fmt: skip
    report = uplift_report(model, test, treatment="segment", control="No E-Mail", outcome="visit")
    assert report.k == 0.3
    assert report.uplift_at_k > report.ate, (report.uplift_at_k, report.ate)
    assert report.qini.qini_coefficient > 0
