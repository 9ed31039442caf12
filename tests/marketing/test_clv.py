"""Tests of BG/NBD, Gamma-Gamma and CLV: parameter recovery, predictions, errors, real data."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from storewise.errors import InputError, NotFitted
from storewise.marketing._clv_math import alive_count_by_quadrature
from storewise.marketing.clv import (
    BGNBD,
    CLVConfig,
    GammaGamma,
    customer_lifetime_value,
    evaluate_holdout,
    fit_clv,
)
from storewise.marketing.summary import CustomerSummary, summarise
from storewise.marketing.transactions import to_transactions

from .simulate import simulate_bgnbd

PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


@pytest.fixture(scope="module")
def simulated() -> pl.DataFrame:
    return simulate_bgnbd(4000, r=0.5, alpha=6.0, a=0.8, b=2.5, seed=7, spend=True)


@pytest.fixture(scope="module")
def simulated_summary(simulated: pl.DataFrame) -> CustomerSummary:
    return summarise(simulated, fit_until=date(2020, 9, 30), time_unit="week")


@pytest.fixture(scope="module")
def fitted(simulated_summary: CustomerSummary) -> tuple[BGNBD, GammaGamma]:
    return BGNBD().fit(simulated_summary), GammaGamma().fit(simulated_summary)


def params_of(model: BGNBD) -> tuple[float, float, float, float]:
    p = model.params
    return (p.r, p.alpha, p.a, p.b)


def _published() -> BGNBD:
    return BGNBD.from_params(**PUBLISHED, time_unit="week")


def test_bgnbd_recovers_simulated_parameters(fitted: tuple[BGNBD, GammaGamma]) -> None:
    params = fitted[0].params
    assert params.converged
    assert params.r == pytest.approx(0.5, rel=0.2)
    assert params.alpha == pytest.approx(6.0, rel=0.25)
    assert params.a == pytest.approx(0.8, rel=0.3)
    assert params.b == pytest.approx(2.5, rel=0.35)
    assert params.n_customers == 4000 and params.log_likelihood < 0


def test_gamma_gamma_recovers_simulated_parameters(fitted: tuple[BGNBD, GammaGamma]) -> None:
    gg = fitted[1]
    # p=6, q=4, gamma=15 -> population mean spend p*gamma/(q-1) = 30
    assert gg.params.p == pytest.approx(6.0, rel=0.25)
    assert gg.mean_spend == pytest.approx(30.0, rel=0.1)
    assert gg.params.n_excluded == 0


@pytest.mark.parametrize(
    "params",
    [
        PUBLISHED,
        {"r": 0.72, "alpha": 9.4, "a": 1.4e-6, "b": 3.1e4},  # Online Retail: almost no dropout
        {"r": 0.5, "alpha": 6.0, "a": 2.5, "b": 0.6},  # b + x < 1: density singular at p = 1
        {"r": 0.3, "alpha": 2.0, "a": 1.0, "b": 3.0},  # a = 1: the closed form is 0/0
    ],
)
def test_expected_purchases_matches_quadrature(params: dict[str, float]) -> None:
    model = BGNBD.from_params(**params, time_unit="week")
    x = np.array([0.0, 1.0, 2.0, 5.0, 20.0, 60.0, 400.0])
    tx = np.array([0.0, 10.0, 30.0, 36.0, 38.0, 38.5, 0.4])
    big_t = np.array([39.0] * 6 + [0.5])
    for t in (1.0, 13.0, 52.0, 520.0):
        fast = model.expected_purchases(t, x, tx, big_t)
        alive = model.probability_alive(x, tx, big_t)
        slow = np.array(
            [
                alive_count_by_quadrature(params_of(model), t, xi, ti)
                for xi, ti in zip(x, big_t, strict=True)
            ]
        )
        assert np.isfinite(fast).all()
        np.testing.assert_allclose(fast, slow * alive, rtol=1e-6)
        # alive, nobody buys more than with no dropout at all
        assert np.all(fast <= (params["r"] + x) * t / (params["alpha"] + big_t) + 1e-9)


def test_unconditional_expectation_matches_simulation() -> None:
    rng = np.random.default_rng(3)
    r, alpha, a, b = 0.6, 5.0, 0.7, 2.0
    n, horizon = 200_000, 30.0
    lam = rng.gamma(r, 1 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    counts = np.zeros(n)
    clock = np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        clock[active] += rng.exponential(1 / lam[active])
        bought = active & (clock <= horizon)
        counts[bought] += 1
        active = bought & (rng.random(n) >= p)
    model = BGNBD.from_params(r=r, alpha=alpha, a=a, b=b, time_unit="week")
    assert model.expected_purchases_new(horizon)[0] == pytest.approx(counts.mean(), rel=0.02)


def test_probability_alive_behaves() -> None:
    model = _published()
    # no repeat purchase: alive by assumption; long silence after many purchases: likely gone
    alive = model.probability_alive(np.array([0.0, 5.0, 5.0]), np.array([0.0, 38.0, 5.0]),
                                    np.full(3, 39.0))  # fmt: skip
    assert alive[0] == 1.0
    assert alive[1] > 0.8 and alive[2] < 0.2
    # published example from the doctest: x=2, tx=30, T=39
    assert model.probability_alive(np.array([2.0]), np.array([30.0]), np.array([39.0]))[
        0
    ] == pytest.approx(1 / (1 + 0.793 / 3.426 * (43.414 / 34.414) ** 2.243), rel=1e-9)


def test_predictions_frame_and_horizon(
    simulated_summary: CustomerSummary, fitted: tuple[BGNBD, GammaGamma]
) -> None:
    model = fitted[0]
    short = model.predict(simulated_summary, 4.0)
    long = model.predict(simulated_summary, 52.0)
    assert short.columns == ["customer_id", "expected_purchases", "p_alive", "churn_risk"]
    assert (long["expected_purchases"] >= short["expected_purchases"]).all()
    # churn risk is P(no purchase in 90 days): dropped out, or alive and quiet for 90 days
    assert (short["churn_risk"] + short["p_alive"] >= 1.0 - 1e-12).all()
    np.testing.assert_allclose(
        short["churn_risk"],
        model.probability_no_purchase(90 / 7, *simulated_summary.arrays()),
    )
    with pytest.raises(InputError, match="horizon"):
        model.expected_purchases(-1.0, *simulated_summary.arrays())


def test_unit_mismatch_is_refused(simulated: pl.DataFrame) -> None:
    days = summarise(simulated, fit_until=date(2020, 9, 30), time_unit="day")
    with pytest.raises(InputError, match="same time_unit"):
        _published().predict(days, 10.0)


def test_too_few_customers_says_how_many() -> None:
    frame = pl.DataFrame(
        {"customer_id": ["a", "b"], "frequency": [1, 0], "recency": [2.0, 0.0], "T": [5.0, 3.0]}
    )
    with pytest.raises(InputError) as err:
        BGNBD().fit(CustomerSummary.from_frame(frame, time_unit="week"))
    assert "at least 20 customers" in err.value.message and "got 2" in err.value.message


def test_no_repeat_buyers_cannot_fit() -> None:
    frame = pl.DataFrame(
        {"customer_id": [f"c{i}" for i in range(30)], "frequency": [0] * 30,
         "recency": [0.0] * 30, "T": [float(i + 1) for i in range(30)]}
    )  # fmt: skip
    with pytest.raises(InputError, match="repeat purchase"):
        BGNBD().fit(CustomerSummary.from_frame(frame, time_unit="week"))


def test_models_refuse_use_before_fit(simulated_summary: CustomerSummary) -> None:
    with pytest.raises(NotFitted, match="fit"):
        BGNBD().predict(simulated_summary, 1.0)
    with pytest.raises(NotFitted, match="fit"):
        _ = GammaGamma().params


def test_gamma_gamma_excludes_zero_and_negative_spend() -> None:
    rng = np.random.default_rng(1)
    n = 60
    monetary = rng.gamma(5.0, 6.0, size=n)
    monetary[:4] = [0.0, -3.0, 0.0, -1.0]
    frame = pl.DataFrame(
        {"customer_id": [f"c{i}" for i in range(n)], "frequency": rng.integers(1, 6, size=n),
         "recency": [1.0] * n, "T": [10.0] * n, "monetary_value": monetary}
    )  # fmt: skip
    gg = GammaGamma().fit(CustomerSummary.from_frame(frame, time_unit="week"))
    assert gg.params.n_excluded == 4 and gg.params.n_customers == n - 4
    spend = gg.expected_spend(np.array([0.0, 3.0, 3.0]), np.array([0.0, -5.0, 100.0]))
    assert spend[0] == spend[1] == pytest.approx(gg.mean_spend)
    assert gg.mean_spend < spend[2] < 100.0  # shrunk towards the population mean


def test_gamma_gamma_too_few_reports_counts() -> None:
    frame = pl.DataFrame(
        {"customer_id": ["a", "b", "c"], "frequency": [2, 1, 0], "recency": [1.0, 1.0, 0.0],
         "T": [3.0, 3.0, 3.0], "monetary_value": [10.0, -2.0, 0.0]}
    )  # fmt: skip
    with pytest.raises(InputError) as err:
        GammaGamma().fit(CustomerSummary.from_frame(frame, time_unit="week"))
    assert "at least 10" in err.value.message and "1 excluded" in err.value.message


def test_clv_is_discounted_spend_times_purchases(
    simulated_summary: CustomerSummary, fitted: tuple[BGNBD, GammaGamma]
) -> None:
    model, gg = fitted
    flat = customer_lifetime_value(model, gg, simulated_summary, horizon_months=12,
                                   discount_rate=0.0)  # fmt: skip
    weeks = 12 * 365.25 / 12 / 7
    x, tx, big_t = simulated_summary.arrays()
    np.testing.assert_allclose(
        flat["clv"], flat["expected_spend"] * model.expected_purchases(weeks, x, tx, big_t)
    )
    discounted = customer_lifetime_value(model, gg, simulated_summary, discount_rate=0.05)
    assert (discounted["clv"] < flat["clv"]).all()
    longer = customer_lifetime_value(model, gg, simulated_summary, horizon_months=24)
    assert (longer["clv"] > discounted["clv"]).all()
    with pytest.raises(InputError, match="discount_rate"):
        customer_lifetime_value(model, gg, simulated_summary, discount_rate=1.5)


def test_fit_clv_end_to_end() -> None:
    simulated = simulate_bgnbd(600, r=0.5, alpha=6.0, a=0.8, b=2.5, seed=11, spend=True)
    result = fit_clv(simulated, config=CLVConfig(horizon_months=6))
    assert result.predictions.height == result.summary.n_customers
    assert result.predictions["clv"].min() >= 0  # type: ignore[operator]
    assert result.bgnbd.params.time_unit == "week"


@pytest.mark.dataset
def test_cdnow_reproduces_published_parameters(cdnow_transactions: pl.DataFrame) -> None:
    summary = summarise(cdnow_transactions, fit_until=date(1997, 9, 30), time_unit="week")
    assert summary.n_customers == 2357
    params = BGNBD().fit(summary).params
    for name, value in PUBLISHED.items():
        assert getattr(params, name) == pytest.approx(value, rel=0.01), name
    assert params.log_likelihood == pytest.approx(-9582.4, abs=0.5)
    gg = GammaGamma().fit(summary).params
    assert gg.n_customers == 946 and gg.n_excluded == 0
    assert gg.p == pytest.approx(6.25, rel=0.01)
    assert gg.q == pytest.approx(3.74, rel=0.01)
    assert gg.gamma == pytest.approx(15.44, rel=0.01)


@pytest.fixture(scope="module")
def online_retail_holdout(online_retail_lines: pl.DataFrame) -> tuple[float, float]:
    transactions = to_transactions(online_retail_lines)
    summary = summarise(
        transactions, fit_until=date(2011, 8, 31), holdout_until=date(2011, 12, 9),
        time_unit="week",
    )  # fmt: skip
    evaluation = evaluate_holdout(BGNBD().fit(summary), summary)
    assert evaluation.by_frequency.get_column("frequency").to_list() == list(range(8))
    return evaluation.relative_error, evaluation.correlation


@pytest.mark.dataset
def test_online_retail_holdout_tracks_actuals(online_retail_holdout: tuple[float, float]) -> None:
    # Measured: predicted 3,633 vs actual 4,806 purchase days (-24.4%), correlation 0.80. The
    # total misses the Q4 peak, which 273 days of history cannot show: see test_seasonality.py.
    relative_error, correlation = online_retail_holdout
    assert abs(relative_error) < 0.30
    assert correlation > 0.75
