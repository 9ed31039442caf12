"""Tests of the CLV customer summary: frequency, recency, T, monetary value and holdout counts."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from storewise.errors import InputError, SchemaError
from storewise.marketing.summary import CustomerSummary, summarise


@pytest.fixture()
def purchases() -> pl.DataFrame:
    rows = [
        ("a", datetime(2024, 1, 1, 9), 10.0),
        ("a", datetime(2024, 1, 1, 18), 5.0),  # same day: one transaction worth 15
        ("a", datetime(2024, 1, 15, 9), 20.0),
        ("a", datetime(2024, 1, 29, 9), 40.0),
        ("a", datetime(2024, 2, 5, 9), -40.0),  # a return-only day
        ("a", datetime(2024, 3, 1, 9), 7.0),  # holdout
        ("a", datetime(2024, 3, 2, 9), 9.0),  # holdout
        ("b", datetime(2024, 1, 8, 9), 30.0),
        ("c", datetime(2024, 2, 20, 9), 12.0),  # first purchase after fit_until
    ]
    return pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "ts": [r[1] for r in rows],
            "value": [r[2] for r in rows],
        }
    )


def test_summary_in_weeks(purchases: pl.DataFrame) -> None:
    s = summarise(purchases, fit_until=date(2024, 2, 12), time_unit="week")
    assert s.frame.get_column("customer_id").to_list() == ["a", "b"]
    a = s.frame.row(0, named=True)
    assert a["frequency"] == 2
    assert a["recency"] == pytest.approx(4.0)
    assert a["T"] == pytest.approx(6.0)
    assert a["monetary_value"] == pytest.approx(30.0)  # (20 + 40) / 2, first purchase excluded
    b = s.frame.row(1, named=True)
    assert (b["frequency"], b["recency"], b["monetary_value"]) == (0, 0.0, 0.0)
    assert b["T"] == pytest.approx(5.0)
    assert s.n_return_days_ignored == 1
    assert s.fit_until == date(2024, 2, 12) and s.holdout_length is None


def test_day_unit_is_seven_times_week(purchases: pl.DataFrame) -> None:
    week = summarise(purchases, fit_until=date(2024, 2, 12), time_unit="week")
    day = summarise(purchases, fit_until=date(2024, 2, 12), time_unit="day")
    assert (day.frame.get_column("T") / 7).to_list() == pytest.approx(
        week.frame.get_column("T").to_list()
    )


def test_holdout_counts_purchase_days(purchases: pl.DataFrame) -> None:
    s = summarise(
        purchases, fit_until=date(2024, 2, 12), holdout_until=date(2024, 3, 1), time_unit="day"
    )
    assert s.holdout_length == 18
    a = s.frame.row(0, named=True)
    assert a["frequency_holdout"] == 1 and a["monetary_holdout"] == 7.0
    assert s.frame.row(1, named=True)["frequency_holdout"] == 0


def test_bad_windows_are_input_errors(purchases: pl.DataFrame) -> None:
    with pytest.raises(InputError, match="after fit_until"):
        summarise(purchases, fit_until=date(2024, 2, 12), holdout_until=date(2024, 2, 1))
    with pytest.raises(InputError, match="no purchases on or before"):
        summarise(purchases, fit_until=date(2023, 1, 1))
    with pytest.raises(InputError, match="time_unit"):
        summarise(purchases, fit_until=date(2024, 2, 1), time_unit="month")  # type: ignore[arg-type]


def test_from_frame_validates() -> None:
    good = pl.DataFrame({"customer_id": ["a"], "frequency": [1], "recency": [2.0], "T": [3.0]})
    s = CustomerSummary.from_frame(good, time_unit="week")
    assert s.frame.get_column("monetary_value").to_list() == [0.0]
    with pytest.raises(SchemaError, match="'T'"):
        CustomerSummary.from_frame(good.drop("T"), time_unit="week")
    with pytest.raises(InputError, match="between 0 and T"):
        CustomerSummary.from_frame(good.with_columns(pl.lit(9.0).alias("recency")), time_unit="day")
    with pytest.raises(InputError, match="whole number"):
        CustomerSummary.from_frame(
            good.with_columns(pl.lit(0.5).alias("frequency")), time_unit="day"
        )
