"""The seasonal index: learned from more than a year of history, applied to every forecast."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import polars as pl
import pytest

from storewise.marketing.clv import BGNBD, evaluate_holdout
from storewise.marketing.clv_fit import fit_clv_models
from storewise.marketing.seasonality import (
    SeasonalIndex,
    learn_seasonal_index,
    seasonal_horizons,
)
from storewise.marketing.summary import summarise
from storewise.marketing.transactions import to_transactions

from .simulate import simulate_seasonal_bgnbd

#: A gift shop: quiet summer, Christmas peak (January first).
FACTORS = [0.9, 0.8, 0.9, 1.0, 1.0, 0.8, 0.7, 0.7, 1.0, 1.1, 1.5, 1.6]


@pytest.fixture(scope="module")
def seasonal_shop() -> pl.DataFrame:
    return simulate_seasonal_bgnbd(3000, factors=FACTORS, seed=2)


def test_flat_index_is_plain_time() -> None:
    flat = SeasonalIndex.flat(history_days=400)
    assert flat.operational_days(date(2011, 8, 31), 90.5) == 90.5
    assert seasonal_horizons(None, date(2011, 8, 31), [7.0, 14.0], 7.0).tolist() == [1.0, 2.0]


def test_operational_days_weight_each_day_by_its_month() -> None:
    factors = tuple(2.0 if m == 11 else 1.0 for m in range(12))  # December counts double
    index = SeasonalIndex(factors, (0.0,) * 12, (0.0,) * 12, 400)
    assert index.operational_days(date(2011, 11, 30), 31) == 62.0
    assert index.operational_days(date(2011, 11, 20), 15) == 10 + 2 * 5
    assert index.operational_days(date(2011, 11, 30), 0.5) == 1.0


def test_index_recovers_the_season_and_mends_the_forecast(seasonal_shop: pl.DataFrame) -> None:
    fit_until, holdout_until = date(2021, 8, 31), date(2021, 12, 31)
    summary = summarise(seasonal_shop, fit_until=fit_until, holdout_until=holdout_until)
    model = BGNBD().fit(summary)
    index, note = learn_seasonal_index(seasonal_shop, model, fit_until=fit_until)
    assert index is not None and note is None and index.history_days == 608
    factors = np.array(index.factors)
    days = np.array([31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    assert float(factors @ days / days.sum()) == pytest.approx(1.0)
    assert np.corrcoef(factors, FACTORS)[0, 1] > 0.9
    assert min(factors[10:]) > 1.3 and max(factors[6:8]) < 0.85
    plain = evaluate_holdout(model, summary).relative_error
    span = index.operational_days(fit_until, (holdout_until - fit_until).days) / 7
    seasonal = evaluate_holdout(model, summary, horizon=span).relative_error
    # Measured: -29.1% without the index, -8.3% with it (September to December).
    assert plain < -0.25 and abs(seasonal) < abs(plain) / 2


def test_forecasts_use_the_index_and_say_so(seasonal_shop: pl.DataFrame) -> None:
    with_index = fit_clv_models(seasonal_shop, fit_until=date(2021, 8, 31))
    without = fit_clv_models(seasonal_shop, fit_until=date(2021, 8, 31), seasonality=False)
    assert with_index.seasonal is not None and without.seasonal is None
    answer = with_index.as_dict()["seasonality"]
    assert answer["applied"] and answer["factors"]["Dec"] > 1.3
    assert "switched off" in (without.seasonality_note or "")
    # From the end of August the next 90 days are the autumn rise: more purchases, less churn.
    ahead = with_index.table.get_column("expected_purchases_90d").sum()
    flat = without.table.get_column("expected_purchases_90d").sum()
    assert ahead > 1.1 * flat
    assert with_index.table["churn_risk"].mean() < without.table["churn_risk"].mean()  # type: ignore[operator]
    # A year's total is about the same: the index moves purchases between months.
    assert with_index.table["expected_purchases"].sum() == pytest.approx(
        without.table["expected_purchases"].sum(), rel=0.05
    )


def test_a_year_or_less_of_history_assumes_no_seasonality(seasonal_shop: pl.DataFrame) -> None:
    young = seasonal_shop.filter(pl.col("ts") <= datetime(2020, 12, 31, 23, tzinfo=UTC))
    fit = fit_clv_models(young, fit_until=date(2020, 12, 31))
    assert fit.seasonal is None
    assert fit.seasonality_note == (
        "forecasts assume no seasonality: the history covers 365 days and a seasonal index "
        "needs more than 365"
    )
    assert fit.as_dict()["seasonality"] == {"applied": False, "note": fit.seasonality_note}


@pytest.mark.dataset
def test_online_retail_holdout_assumes_no_seasonality(online_retail_lines: pl.DataFrame) -> None:
    """Calibrating to 2011-08-31 leaves 273 days of history: too short for an index, so the
    Q4 peak is missed (the old "within 15%" target is retired: lifetimes' Pareto/NBD is
    reported to miss by the same -24.4%) and the forecast says it assumes no seasonality."""
    transactions = to_transactions(online_retail_lines)
    fit_until, holdout_until = date(2011, 8, 31), date(2011, 12, 9)
    fit = fit_clv_models(transactions, fit_until=fit_until)
    assert fit.seasonal is None and "assume no seasonality" in (fit.seasonality_note or "")
    assert "273 days" in (fit.seasonality_note or "")
    summary = summarise(transactions, fit_until=fit_until, holdout_until=holdout_until)
    evaluation = evaluate_holdout(fit.bgnbd, summary)
    # Measured: predicted 3,633 vs actual 4,806 purchase days, -24.4%.
    assert evaluation.relative_error == pytest.approx(-0.244, abs=0.01)
    # The whole file (373 days) learns an index with the Christmas peak in it.
    full = fit_clv_models(transactions, fit_until=date(2011, 12, 9))
    assert full.seasonal is not None
    factors = dict(zip(range(1, 13), full.seasonal.factors, strict=True))
    assert factors[11] > 1.2 and factors[12] > 1.2 and factors[8] < 0.9


@pytest.mark.dataset
def test_cdnow_holdout_with_the_seasonal_index(cdnow_master: pl.DataFrame) -> None:
    """Held out (measured once, BENCHMARKS.md): CDNOW calibrated to 1998-03-31 (454 days of
    history), purchases from April to June 1998: +10.6% without the index, +1.6% with it."""
    fit_until, until = date(1998, 3, 31), date(1998, 6, 30)
    summary = summarise(cdnow_master, fit_until=fit_until, holdout_until=until)
    model = BGNBD().fit(summary)
    index, note = learn_seasonal_index(cdnow_master, model, fit_until=fit_until)
    assert index is not None and note is None and index.history_days == 454
    plain = evaluate_holdout(model, summary)
    span = index.operational_days(fit_until, (until - fit_until).days) / 7
    seasonal = evaluate_holdout(model, summary, horizon=span)
    assert plain.actual_total == 5664
    assert plain.relative_error == pytest.approx(0.106, abs=0.005)
    assert seasonal.relative_error == pytest.approx(0.016, abs=0.005)
