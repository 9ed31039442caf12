"""Tests of the transactions frame: validation, dtypes and order-line grouping."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import polars as pl
import pytest

from storewise.errors import InputError, SchemaError
from storewise.marketing.transactions import as_day, normalise_transactions, to_transactions


def _frame(**overrides: object) -> pl.DataFrame:
    data: dict[str, object] = {
        "customer_id": ["a", "b"],
        "ts": [datetime(2024, 1, 1, 10), datetime(2024, 1, 2, 11)],
        "order_id": ["o1", "o2"],
        "value": [10.0, -2.5],
    }
    data.update(overrides)
    return pl.DataFrame(data)


def test_missing_columns_are_all_named() -> None:
    with pytest.raises(SchemaError) as err:
        normalise_transactions(pl.DataFrame({"customer_id": ["a"]}))
    assert "'ts'" in err.value.message and "'value'" in err.value.message


def test_empty_frame_is_rejected() -> None:
    with pytest.raises(InputError, match="empty"):
        normalise_transactions(_frame().clear())


def test_null_customer_and_value_are_counted() -> None:
    bad = _frame(customer_id=["a", None], value=[float("nan"), 1.0])
    with pytest.raises(InputError) as err:
        normalise_transactions(bad)
    assert "1 null customer_id" in err.value.message and "1 null value" in err.value.message


def test_non_numeric_value_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="numeric"):
        normalise_transactions(_frame(value=["1", "2"]))


def test_timestamps_become_utc_microseconds() -> None:
    plus_two = timezone(timedelta(hours=2))
    aware = _frame(ts=[datetime(2024, 1, 1, 12, tzinfo=plus_two)] * 2)
    out = normalise_transactions(aware)
    assert out.schema["ts"] == pl.Datetime("us", "UTC")
    assert out.get_column("ts")[0] == datetime(2024, 1, 1, 10, tzinfo=UTC)
    naive = normalise_transactions(_frame())
    assert naive.get_column("ts")[0] == datetime(2024, 1, 1, 10, tzinfo=UTC)


def test_epoch_milliseconds_and_dates_are_accepted() -> None:
    ms = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)
    out = normalise_transactions(_frame(ts=[ms, ms]))
    assert out.get_column("ts")[0] == datetime(2024, 3, 1, tzinfo=UTC)
    out = normalise_transactions(_frame(ts=[date(2024, 3, 1), date(2024, 3, 2)]))
    assert out.get_column("ts")[1] == datetime(2024, 3, 2, tzinfo=UTC)


def test_text_timestamps_are_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="'ts'"):
        normalise_transactions(_frame(ts=["2024-01-01", "2024-01-02"]))


def test_order_id_is_optional() -> None:
    out = normalise_transactions(_frame().drop("order_id"))
    assert out.get_column("order_id").null_count() == 2


def test_lines_group_by_order_and_by_day_without_order() -> None:
    lines = pl.DataFrame(
        {
            "cust": ["a", "a", "a", "a", "a", "b"],
            "when": [
                datetime(2024, 1, 1, 9),
                datetime(2024, 1, 1, 9, 5),
                datetime(2024, 1, 1, 15),
                datetime(2024, 1, 1, 16),
                datetime(2024, 1, 2, 8),
                datetime(2024, 1, 1, 9),
            ],
            "order": ["o1", "o1", None, None, None, "o1"],
            "amount": [10.0, 5.0, 1.0, 2.0, 4.0, 7.0],
        }
    )
    out = to_transactions(
        lines, customer_col="cust", ts_col="when", order_col="order", value_col="amount"
    )
    assert out.columns == ["customer_id", "ts", "order_id", "value", "lines"]
    a = out.filter(pl.col("customer_id") == "a")
    assert a.get_column("value").to_list() == [15.0, 3.0, 4.0]
    assert a.get_column("lines").to_list() == [2, 2, 1]
    assert a.get_column("ts")[0] == datetime(2024, 1, 1, 9, tzinfo=UTC)
    # the same order id for another customer is another transaction
    assert out.filter(pl.col("customer_id") == "b").get_column("value").to_list() == [7.0]


def test_returns_net_out_within_an_order() -> None:
    lines = _frame(customer_id=["a", "a"], order_id=["o1", "o1"], value=[10.0, -4.0])
    assert to_transactions(lines).get_column("value").to_list() == [6.0]


def test_as_day_uses_the_utc_day() -> None:
    late = datetime(2024, 1, 1, 23, tzinfo=timezone(timedelta(hours=-5)))
    assert as_day(late, what="x") == date(2024, 1, 2)
    assert as_day(date(2024, 1, 1), what="x") == date(2024, 1, 1)
    with pytest.raises(InputError, match="as_of"):
        as_day("2024-01-01", what="as_of")  # type: ignore[arg-type]
