"""Customer summaries for the CLV models: repeat frequency, recency, age T and mean repeat spend.

Purchases are counted per customer per UTC day (several purchases on one day are one
transaction, as in Fader, Hardie & Lee's CDNOW analyses). A day counts as a purchase when the
customer has a transaction of non-negative value on it; its value is the net of that day's
transactions. Days with returns only are ignored and counted in ``n_return_days_ignored``.

For each customer whose first purchase is on or before ``fit_until``:

- ``frequency``: repeat purchase days in the calibration period (first purchase excluded);
- ``recency``: time from first to last purchase day, in the chosen unit;
- ``T``: time from first purchase day to ``fit_until``, in the chosen unit;
- ``monetary_value``: mean value of the repeat purchase days (0 when there are none).

With ``holdout_until`` the frame also has ``frequency_holdout`` and ``monetary_holdout``: the
purchase days in ``(fit_until, holdout_until]`` and their mean value, to check predictions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from storewise.errors import InputError
from storewise.marketing.transactions import as_day, normalise_transactions, require_columns

TimeUnit = Literal["day", "week"]

#: Days per time unit.
UNIT_DAYS: dict[str, float] = {"day": 1.0, "week": 7.0}
#: Mean days per month (365.25 / 12), to turn a horizon in months into model time.
DAYS_PER_MONTH = 365.25 / 12

SUMMARY_COLUMNS: tuple[str, ...] = ("customer_id", "frequency", "recency", "T", "monetary_value")

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CustomerSummary:
    """Per-customer (frequency, recency, T, monetary value) at a calibration end, in one unit."""

    frame: pl.DataFrame
    time_unit: TimeUnit
    fit_until: date | None = None
    holdout_until: date | None = None
    holdout_length: float | None = None
    n_return_days_ignored: int = 0

    @property
    def n_customers(self) -> int:
        """Number of customers summarised."""
        return self.frame.height

    def arrays(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The (frequency, recency, T) columns as float arrays, the BG/NBD inputs."""
        return (
            self.frame.get_column("frequency").cast(pl.Float64).to_numpy(),
            self.frame.get_column("recency").cast(pl.Float64).to_numpy(),
            self.frame.get_column("T").cast(pl.Float64).to_numpy(),
        )

    @classmethod
    def from_frame(
        cls,
        frame: pl.DataFrame,
        *,
        time_unit: TimeUnit,
        holdout_length: float | None = None,
    ) -> CustomerSummary:
        """Wrap a ready-made summary frame (e.g. published or simulated data) after checking it."""
        require_columns(frame, ("customer_id", "frequency", "recency", "T"), what="summary")
        if time_unit not in UNIT_DAYS:
            raise InputError(f"time_unit must be 'day' or 'week', got {time_unit!r}")
        if "monetary_value" not in frame.columns:
            frame = frame.with_columns(pl.lit(0.0).alias("monetary_value"))
        x = frame.get_column("frequency").cast(pl.Float64).to_numpy()
        tx = frame.get_column("recency").cast(pl.Float64).to_numpy()
        big_t = frame.get_column("T").cast(pl.Float64).to_numpy()
        if frame.height == 0:
            raise InputError("summary frame is empty")
        if not (np.isfinite(x).all() and np.isfinite(tx).all() and np.isfinite(big_t).all()):
            raise InputError("summary has missing or non-finite frequency, recency or T")
        if (x < 0).any() or (np.floor(x) != x).any():
            raise InputError("frequency must be a non-negative whole number of repeat purchases")
        if (tx < 0).any() or (tx > big_t + 1e-9).any():
            raise InputError("recency must be between 0 and T for every customer")
        if ((x == 0) & (tx > 0)).any():
            raise InputError("customers with frequency 0 must have recency 0")
        return cls(frame=frame, time_unit=time_unit, holdout_length=holdout_length)


def summarise(
    transactions: pl.DataFrame,
    *,
    fit_until: date | datetime,
    time_unit: TimeUnit = "week",
    holdout_until: date | datetime | None = None,
) -> CustomerSummary:
    """Summarise transactions into CLV model inputs at calibration end ``fit_until`` (inclusive).

    ``holdout_until`` (inclusive) adds the holdout purchase counts used to check predictions.
    """
    if time_unit not in UNIT_DAYS:
        raise InputError(f"time_unit must be 'day' or 'week', got {time_unit!r}")
    unit = UNIT_DAYS[time_unit]
    end = as_day(fit_until, what="fit_until")
    hold_end = None if holdout_until is None else as_day(holdout_until, what="holdout_until")
    if hold_end is not None and hold_end <= end:
        raise InputError(
            f"holdout_until ({hold_end.isoformat()}) must be after fit_until ({end.isoformat()})"
        )
    frame = normalise_transactions(transactions)
    days = frame.group_by("customer_id", pl.col("ts").dt.date().alias("day")).agg(
        (pl.col("value") >= 0).any().alias("purchase"),
        pl.col("value").sum().alias("value"),
    )
    ignored = int(days.filter(~pl.col("purchase") & (pl.col("day") <= end)).height)
    days = days.filter(pl.col("purchase")).drop("purchase")
    calibration = days.filter(pl.col("day") <= end)
    if calibration.height == 0:
        raise InputError(f"no purchases on or before fit_until {end.isoformat()}")
    first_value = pl.col("value").sort_by("day").first()
    summary = (
        calibration.group_by("customer_id")
        .agg(
            (pl.len() - 1).cast(pl.Int64).alias("frequency"),
            pl.col("day").min().alias("_first"),
            pl.col("day").max().alias("_last"),
            pl.col("value").sum().alias("_total"),
            first_value.alias("_first_value"),
        )
        .with_columns(
            ((pl.col("_last") - pl.col("_first")).dt.total_days() / unit).alias("recency"),
            ((pl.lit(end) - pl.col("_first")).dt.total_days() / unit).alias("T"),
            pl.when(pl.col("frequency") > 0)
            .then((pl.col("_total") - pl.col("_first_value")) / pl.col("frequency"))
            .otherwise(0.0)
            .alias("monetary_value"),
        )
        .select(SUMMARY_COLUMNS)
        .sort("customer_id")
    )
    holdout_length = None
    if hold_end is not None:
        holdout_length = (hold_end - end).days / unit
        holdout = (
            days.filter((pl.col("day") > end) & (pl.col("day") <= hold_end))
            .group_by("customer_id")
            .agg(
                pl.len().cast(pl.Int64).alias("frequency_holdout"),
                pl.col("value").mean().alias("monetary_holdout"),
            )
        )
        summary = summary.join(holdout, on="customer_id", how="left").with_columns(
            pl.col("frequency_holdout").fill_null(0),
            pl.col("monetary_holdout").fill_null(0.0),
        )
    return CustomerSummary(
        frame=summary,
        time_unit=time_unit,
        fit_until=end,
        holdout_until=hold_end,
        holdout_length=holdout_length,
        n_return_days_ignored=ignored,
    )
