"""Purchase transactions for the marketing analyses: validation and order-line grouping.

Every marketing function takes a plain polars frame of transactions with the columns
``customer_id`` (string), ``ts`` (datetime; naive means UTC; integer epoch milliseconds as the
store keeps them are accepted too), ``order_id`` (string, may be null or absent) and ``value``
(float revenue; negative for returns). :func:`to_transactions` turns order lines into that
shape: one row per customer and order, or per customer and day when the order id is missing.

>>> import polars as pl
>>> from datetime import datetime
>>> lines = pl.DataFrame({
...     "customer_id": ["a", "a", "a"],
...     "ts": [datetime(2024, 1, 1, 9), datetime(2024, 1, 1, 9), datetime(2024, 1, 2, 10)],
...     "order_id": ["o1", "o1", None],
...     "value": [10.0, 5.0, 7.5],
... })
>>> to_transactions(lines).select("order_id", "value").to_dicts()
[{'order_id': 'o1', 'value': 15.0}, {'order_id': None, 'value': 7.5}]
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

import polars as pl

from storewise.errors import InputError, SchemaError

#: Columns of the transactions frame every marketing function reads.
TRANSACTION_COLUMNS: tuple[str, ...] = ("customer_id", "ts", "order_id", "value")
_REQUIRED: tuple[str, ...] = ("customer_id", "ts", "value")
_TS_DTYPE = pl.Datetime("us", "UTC")


def require_columns(frame: pl.DataFrame, columns: Iterable[str], *, what: str) -> None:
    """Raise SchemaError naming every required column the frame lacks, so all get fixed at once."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{what} is missing column(s) {', '.join(repr(c) for c in missing)}; "
            f"it has {', '.join(repr(c) for c in frame.columns) or 'no columns'}",
            details={"missing": missing, "columns": list(frame.columns)},
        )


def _utc_ts(frame: pl.DataFrame, column: str) -> pl.Expr:
    dtype = frame.schema[column]
    col = pl.col(column)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return col.dt.replace_time_zone("UTC").dt.cast_time_unit("us")
        return col.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    if dtype == pl.Date:
        return col.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if dtype.is_integer():
        return pl.from_epoch(col, time_unit="ms").dt.replace_time_zone("UTC")
    raise SchemaError(
        f"column {column!r} must be a datetime, a date or epoch milliseconds, not {dtype}",
        details={"column": column, "dtype": str(dtype)},
    )


def normalise_transactions(frame: pl.DataFrame, *, what: str = "transactions") -> pl.DataFrame:
    """Validate a transactions frame and return it with canonical dtypes (UTC microsecond ts).

    Raises InputError for an empty frame, null customer ids, timestamps or values, and
    SchemaError for missing columns or unusable dtypes, so bad data fails loudly and early.
    """
    if not isinstance(frame, pl.DataFrame):
        raise InputError(f"{what} must be a polars DataFrame, not {type(frame).__name__}")
    require_columns(frame, _REQUIRED, what=what)
    if frame.height == 0:
        raise InputError(f"{what} frame is empty: no purchases to analyse")
    if not frame.schema["value"].is_numeric():
        raise SchemaError(f"column 'value' of {what} must be numeric, not {frame.schema['value']}")
    order = (
        pl.col("order_id").cast(pl.Utf8)
        if "order_id" in frame.columns
        else pl.lit(None, dtype=pl.Utf8).alias("order_id")
    )
    out = frame.select(
        pl.col("customer_id").cast(pl.Utf8),
        _utc_ts(frame, "ts").alias("ts"),
        order,
        pl.col("value").cast(pl.Float64),
    )
    problems = out.select(
        pl.col("customer_id").is_null().sum().alias("customer_id"),
        pl.col("ts").is_null().sum().alias("ts"),
        (pl.col("value").is_null() | pl.col("value").is_nan()).sum().alias("value"),
    ).row(0, named=True)
    bad = {k: int(v) for k, v in problems.items() if v}
    if bad:
        listing = ", ".join(f"{v} null {k}" for k, v in bad.items())
        raise InputError(f"{what} has rows with {listing}; drop or repair them first", details=bad)
    return out


def to_transactions(
    lines: pl.DataFrame,
    *,
    customer_col: str = "customer_id",
    ts_col: str = "ts",
    order_col: str = "order_id",
    value_col: str = "value",
) -> pl.DataFrame:
    """Group order lines into transactions: one per customer and order (or day when no order id).

    The transaction time is its earliest line and its value the sum of its lines (returns net
    out). Output columns: ``customer_id, ts, order_id, value, lines``, sorted by customer and time.
    """
    require_columns(lines, [customer_col, ts_col, value_col], what="order lines")
    renamed = lines.select(
        pl.col(customer_col).alias("customer_id"),
        pl.col(ts_col).alias("ts"),
        *([pl.col(order_col).alias("order_id")] if order_col in lines.columns else []),
        pl.col(value_col).alias("value"),
    )
    frame = normalise_transactions(renamed, what="order lines")
    day = pl.when(pl.col("order_id").is_null()).then(pl.col("ts").dt.date()).otherwise(None)
    return (
        frame.with_columns(day.alias("_day"))
        .group_by("customer_id", "order_id", "_day")
        .agg(pl.col("ts").min(), pl.col("value").sum(), pl.len().alias("lines"))
        .select("customer_id", "ts", "order_id", "value", pl.col("lines").cast(pl.Int64))
        .sort("customer_id", "ts", "order_id", nulls_last=True)
    )


def as_day(moment: date | datetime, *, what: str) -> date:
    """The UTC calendar day of a date or datetime (naive means UTC), used for inclusive cut-offs."""
    if isinstance(moment, datetime):
        aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        return aware.date()
    if isinstance(moment, date):
        return moment
    raise InputError(f"{what} must be a date or datetime, not {type(moment).__name__}")
