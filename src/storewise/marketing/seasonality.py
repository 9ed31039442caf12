"""A seasonal index of purchase rates, learned when the history covers more than a year.

BG/NBD is stationary: a customer's purchase rate is the same in December as in August, so a
shop with a Christmas peak is under-forecast from a summer calibration (Online Retail's
September to December 2011 is 24% above a forecast from January to August). When the history
is longer than a year, every calendar month has been seen at least once and the model's own
errors by month measure the season:

- for each calendar month of the history, the model forecasts the repeat purchases of that
  month from what each customer had done by the month's first day (their frequency, recency
  and age then; a customer acquired during the month with the new-customer expectation) and
  the forecast is compared with the repeat purchases that happened;
- a month's factor is ``(observed + 20) / (expected + 20)`` summed over the years it was seen
  (the 20 keeps months with few purchases near 1), scaled so the factors average 1 over a year
  (weighted by days per month), so the index moves purchases between months without changing
  a year's total.

Forecasts then run on *seasonal time*: a forecast window of calendar days counts each day as its
month's factor, so a 90-day window in November is longer than one in August. BG/NBD with a rate
that varies by a known factor is the same model on that clock (dropout happens only right after
a purchase), so every BG/NBD forecast (expected purchases, lapse probability, CLV) applies the
index the same way. With a year or less of history the index is not learned and forecasts say
they assume no seasonality.

>>> index = SeasonalIndex.flat(history_days=400)
>>> index.operational_days(date(2011, 8, 31), 90)
90.0
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from storewise.marketing.clv import BGNBD
from storewise.marketing.summary import UNIT_DAYS, FloatArray
from storewise.marketing.transactions import normalise_transactions

#: A seasonal index needs a history longer than this many days (more than one year).
MIN_HISTORY_DAYS = 365
#: Pseudo-count that keeps a month with few expected purchases near a factor of 1.
SHRINK = 20.0
#: Month names, January first.
MONTHS: tuple[str, ...] = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip
_MONTH_DAYS = np.array([31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.float64)


@dataclass(frozen=True)
class SeasonalIndex:
    """Twelve monthly factors (January first, day-weighted mean 1) and what they came from."""

    factors: tuple[float, ...]
    observed: tuple[float, ...]
    expected: tuple[float, ...]
    history_days: int

    @classmethod
    def flat(cls, *, history_days: int = 0) -> SeasonalIndex:
        """No seasonality: every factor 1 (what a forecast without an index assumes)."""
        ones = (1.0,) * 12
        return cls(ones, (0.0,) * 12, (0.0,) * 12, history_days)

    def operational_days(self, start: date, days: float) -> float:
        """The ``days`` calendar days after ``start`` counted on seasonal time (each day as its
        month's factor; a fractional last day counts its fraction)."""
        if not (np.isfinite(days) and days >= 0):
            raise ValueError(f"days must be a non-negative number, got {days}")
        whole = int(np.floor(days))
        extra = float(days) - whole
        offsets = np.arange(1, whole + 2, dtype=np.int64)
        months = (np.datetime64(start, "D") + offsets).astype("datetime64[M]").astype(np.int64) % 12
        factors = np.asarray(self.factors, dtype=np.float64)[months]
        return float(factors[:whole].sum() + extra * factors[whole])

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready factors by month name, with the repeat purchases behind them."""
        return {
            "factors": {m: round(f, 4) for m, f in zip(MONTHS, self.factors, strict=True)},
            "observed_repeat_purchases": {
                m: round(v, 1) for m, v in zip(MONTHS, self.observed, strict=True)
            },
            "expected_repeat_purchases": {
                m: round(v, 1) for m, v in zip(MONTHS, self.expected, strict=True)
            },
            "history_days": self.history_days,
        }


def no_seasonality_note(history_days: int) -> str:
    """What a forecast without an index says about itself."""
    return (
        f"forecasts assume no seasonality: the history covers {history_days} days and a "
        f"seasonal index needs more than {MIN_HISTORY_DAYS}"
    )


def _purchase_days(transactions: pl.DataFrame, fit_until: date) -> pl.DataFrame:
    """One row per customer and purchase day (a day with a non-negative transaction), as
    :func:`~storewise.marketing.summary.summarise` counts them, up to ``fit_until``."""
    frame = normalise_transactions(transactions)
    return (
        frame.group_by("customer_id", pl.col("ts").dt.date().alias("day"))
        .agg((pl.col("value") >= 0).any().alias("purchase"))
        .filter(pl.col("purchase") & (pl.col("day") <= fit_until))
        .select("customer_id", "day")
    )


def _windows(start: date, end: date) -> list[tuple[date, date]]:
    """Calendar months from ``start`` to ``end`` (inclusive), clipped to that range."""
    out = []
    month = date(start.year, start.month, 1)
    while month <= end:
        following = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        out.append((max(month, start), min(following - timedelta(days=1), end)))
        month = following
    return out


def learn_seasonal_index(
    transactions: pl.DataFrame, model: BGNBD, *, fit_until: date
) -> tuple[SeasonalIndex | None, str | None]:
    """The seasonal index of the purchases up to ``fit_until`` under a BG/NBD ``model`` fitted on
    them, or None and a note saying forecasts assume no seasonality (a year or less of history).
    """
    days = _purchase_days(transactions, fit_until)
    if days.height == 0:
        return None, no_seasonality_note(0)
    first = days.group_by("customer_id").agg(pl.col("day").min().alias("first"))
    start = first.get_column("first").min()
    assert isinstance(start, date)
    history = (fit_until - start).days
    if history <= MIN_HISTORY_DAYS:
        return None, no_seasonality_note(history)
    unit = UNIT_DAYS[model.params.time_unit]
    windows = _windows(start, fit_until)
    frame = pl.DataFrame(
        {
            "window": list(range(len(windows))),
            "w_start": [w[0] for w in windows],
            "w_end": [w[1] for w in windows],
        }
    )
    days = days.join(first, on="customer_id")
    # What every customer acquired before a window had done by its first day.
    before = (
        days.join(frame, how="cross")
        .filter(pl.col("first") < pl.col("w_start"), pl.col("day") < pl.col("w_start"))
        .group_by("window", "customer_id")
        .agg(
            (pl.len() - 1).alias("x"),
            (pl.col("day").max() - pl.col("first").first()).dt.total_days().alias("tx"),
            (pl.col("w_start").first() - pl.col("first").first()).dt.total_days().alias("age"),
        )
    )
    observed = (
        days.filter(pl.col("day") > pl.col("first"))
        .join(frame, how="cross")
        .filter(pl.col("day") >= pl.col("w_start"), pl.col("day") <= pl.col("w_end"))
        .group_by("window")
        .len()
    )
    seen = dict(zip(observed["window"].to_list(), observed["len"].to_list(), strict=True))
    obs = np.zeros(12)
    exp = np.zeros(12)
    for k, (w_start, w_end) in enumerate(windows):
        length = (w_end - w_start).days + 1
        rows = before.filter(pl.col("window") == k)
        expected = 0.0
        if rows.height:
            x = rows.get_column("x").cast(pl.Float64).to_numpy()
            tx = rows.get_column("tx").cast(pl.Float64).to_numpy() / unit
            # T at the day before the window: its first day minus one, measured from the first
            age = (rows.get_column("age").cast(pl.Float64).to_numpy() - 1.0) / unit
            expected += float(model.expected_purchases(length / unit, x, tx, age).sum())
        new = first.filter(pl.col("first") >= w_start, pl.col("first") <= w_end)
        if new.height:
            left = np.array([(w_end - d).days for d in new.get_column("first").to_list()])
            expected += float(model.expected_purchases_new(left / unit).sum())
        obs[w_start.month - 1] += float(seen.get(k, 0))
        exp[w_start.month - 1] += expected
    raw = (obs + SHRINK) / (exp + SHRINK)
    factors = raw / (float(raw @ _MONTH_DAYS) / float(_MONTH_DAYS.sum()))
    index = SeasonalIndex(
        factors=tuple(float(f) for f in factors),
        observed=tuple(float(v) for v in obs),
        expected=tuple(float(v) for v in exp),
        history_days=history,
    )
    return index, None


def seasonal_horizons(
    index: SeasonalIndex | None, start: date, days: FloatArray | list[float], unit: float
) -> FloatArray:
    """Forecast horizons in model units for calendar ``days`` after ``start``: seasonal time
    with an index, plain time without one."""
    spans = np.asarray(days, dtype=np.float64)
    if index is None:
        return spans / unit
    return np.array([index.operational_days(start, float(d)) for d in spans]) / unit


__all__ = [
    "MIN_HISTORY_DAYS",
    "MONTHS",
    "SHRINK",
    "SeasonalIndex",
    "learn_seasonal_index",
    "no_seasonality_note",
    "seasonal_horizons",
]
