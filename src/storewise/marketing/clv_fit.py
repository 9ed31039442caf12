"""Lifetime-value fitting on the store's transactions (BG/NBD + Gamma-Gamma), as the
marketing service and ``storewise clv`` use it.

Forecasts (12-month CLV, 90-day purchases, churn risk) run on seasonal time when the history
covers more than a year (:mod:`~storewise.marketing.seasonality`); otherwise the answer says
that they assume no seasonality.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from storewise.errors import InputError
from storewise.marketing.churn import CHURN_DEFINITION, CHURN_HORIZON_DAYS
from storewise.marketing.clv import BGNBD, GammaGamma, customer_lifetime_value
from storewise.marketing.seasonality import (
    SeasonalIndex,
    learn_seasonal_index,
    seasonal_horizons,
)
from storewise.marketing.summary import (
    DAYS_PER_MONTH,
    UNIT_DAYS,
    CustomerSummary,
    TimeUnit,
    summarise,
)

#: Default CLV horizon (days) and monthly discount rate.
DEFAULT_HORIZON_DAYS = 365
DEFAULT_DISCOUNT_RATE = 0.01


# -- lifetime value ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClvFit:
    """BG/NBD (+ Gamma-Gamma when it fits) on one calibration, with per-customer predictions.

    ``table`` columns: ``customer_id, p_alive, churn_risk, expected_purchases,
    expected_purchases_90d, expected_spend, clv`` (the last two null without Gamma-Gamma);
    ``churn_risk`` is P(no purchase in the next 90 days). ``seasonal`` is the index the
    forecasts used, or None with ``seasonality_note`` saying they assume no seasonality.
    """

    summary: CustomerSummary
    bgnbd: BGNBD
    gamma_gamma: GammaGamma | None
    table: pl.DataFrame
    horizon_days: int
    horizon_months: int
    discount_rate: float
    note: str | None
    seasonal: SeasonalIndex | None = None
    seasonality_note: str | None = None

    def seasonality(self) -> dict[str, Any]:
        """Whether forecasts used a seasonal index, the index, or why not."""
        if self.seasonal is None:
            return {"applied": False, "note": self.seasonality_note}
        return {"applied": True, "note": None, **self.seasonal.as_dict()}

    def as_dict(self) -> dict[str, Any]:
        """Fitted parameters and CLV figures as JSON-ready data (the ``storewise clv`` shape)."""
        b = self.bgnbd.params
        gg = self.gamma_gamma.params if self.gamma_gamma is not None else None
        clv = self.table.get_column("clv").drop_nulls().to_numpy()
        figures: dict[str, Any] | None = None
        if clv.size:
            top = np.sort(clv)[-max(1, clv.size // 10) :]
            total = float(clv.sum())
            figures = {
                "total": round(total, 2),
                "mean": round(float(clv.mean()), 2),
                "median": round(float(np.median(clv)), 2),
                "top_decile_share": round(float(top.sum()) / total, 4) if total > 0 else None,
            }
        spend = None
        if gg is not None:
            spend = {
                "p": gg.p,
                "q": gg.q,
                "gamma": gg.gamma,
                "log_likelihood": gg.log_likelihood,
                "customers": gg.n_customers,
                "excluded_non_positive_spend": gg.n_excluded,
                "converged": gg.converged,
            }
        fit_until = self.summary.fit_until
        return {
            "bgnbd": {
                "r": b.r,
                "alpha": b.alpha,
                "a": b.a,
                "b": b.b,
                "log_likelihood": b.log_likelihood,
                "converged": b.converged,
            },
            "gamma_gamma": spend,
            "customers": b.n_customers,
            "repeat_customers": b.n_repeat_customers,
            "time_unit": self.summary.time_unit,
            "fit_until": fit_until.isoformat() if fit_until else None,
            "horizon_days": self.horizon_days,
            "horizon_months": self.horizon_months,
            "discount_rate_monthly": self.discount_rate,
            "expected_purchases_total": round(
                float(self.table.get_column("expected_purchases").sum()), 2
            ),
            "clv": figures,
            "churn": {"horizon_days": CHURN_HORIZON_DAYS, "definition": CHURN_DEFINITION},
            "seasonality": self.seasonality(),
            "note": self.note,
        }


def fit_clv_models(
    transactions: pl.DataFrame,
    *,
    fit_until: date,
    time_unit: TimeUnit = "week",
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    discount_rate: float = DEFAULT_DISCOUNT_RATE,
    seasonality: bool = True,
) -> ClvFit:
    """Summarise at ``fit_until`` (several purchases a day = one; age measured at fit_until), fit
    BG/NBD and Gamma-Gamma (repeat buyers, first purchase excluded) and predict discounted CLV,
    90-day purchases and churn risk, on seasonal time when a seasonal index can be learned.

    The horizon is rounded to whole months for the monthly discounting (365 days = 12 months).
    InputError when BG/NBD cannot be fitted (too few customers, no repeat buyer). When only
    Gamma-Gamma fails (too few repeat buyers with positive spend, or spend too heavy-tailed),
    purchase counts and churn risk are kept, CLV is null and ``note`` says why.
    """
    if not 1 <= horizon_days <= 3650:
        raise InputError(f"horizon must be between 1 and 3650 days, got {horizon_days}")
    summary = summarise(transactions, fit_until=fit_until, time_unit=time_unit)
    bgnbd = BGNBD().fit(summary)
    seasonal: SeasonalIndex | None = None
    season_note: str | None = "seasonality switched off: forecasts assume none"
    if seasonality:
        seasonal, season_note = learn_seasonal_index(transactions, bgnbd, fit_until=fit_until)
    gamma_gamma: GammaGamma | None = None
    note = None
    try:
        gamma_gamma = GammaGamma().fit(summary)
        _ = gamma_gamma.mean_spend  # q <= 1 (infinite mean spend) is refused here
    except InputError as exc:
        gamma_gamma = None
        note = f"CLV not computed (spend model): {exc.message}"
    months = max(1, round(horizon_days / DAYS_PER_MONTH))
    unit = UNIT_DAYS[time_unit]
    spans = [m * DAYS_PER_MONTH for m in range(1, months + 1)] + [90.0, CHURN_HORIZON_DAYS]
    horizons = seasonal_horizons(seasonal, fit_until, spans, unit)
    month_ends = [float(h) for h in horizons[:months]]
    near, quiet = float(horizons[months]), float(horizons[months + 1])
    if gamma_gamma is not None:
        table = customer_lifetime_value(
            bgnbd, gamma_gamma, summary, horizon_months=months, discount_rate=discount_rate,
            month_ends=month_ends, churn_horizon=quiet,
        )  # fmt: skip
    else:
        table = bgnbd.predict(summary, month_ends[-1], churn_horizon=quiet).with_columns(
            pl.lit(None, pl.Float64).alias("expected_spend"), pl.lit(None, pl.Float64).alias("clv")
        )
    x, tx, big_t = summary.arrays()
    table = table.with_columns(
        pl.Series("expected_purchases_90d", bgnbd.expected_purchases(near, x, tx, big_t))
    ).select(
        "customer_id",
        "p_alive",
        "churn_risk",
        "expected_purchases",
        "expected_purchases_90d",
        "expected_spend",
        "clv",
    )
    return ClvFit(
        summary, bgnbd, gamma_gamma, table, horizon_days, months, discount_rate, note,
        seasonal, season_note,
    )  # fmt: skip
