"""Churn risk: the probability that a customer makes no purchase in the next 90 days, checked
against who actually bought again.

``1 - P(alive)`` alone is not a churn probability a retailer can check: BG/NBD lets a customer
drop out only right after a repeat purchase, and on a shop where almost nobody seems to drop
out (Online Retail's fitted dropout ``a`` is 0.003) it is 0 for everyone, "Lost" customers
included. A lapse is observable instead: *no purchase in the next* :data:`CHURN_HORIZON_DAYS`
*days*. Its probability under BG/NBD (``BGNBD.probability_no_purchase``) combines P(alive)
with the chance that a live customer's purchase rate, as their history shows it, still gives
no purchase in the window; with a seasonal index the window is measured on seasonal time.

**Calibration.** Chosen on validation periods only (Online Retail: who lapses from June to
August 2011, predicted from before June; CDNOW: 90 days from 1997-12-31 and from 1998-03-31):
the model's probability had an expected calibration error (mean gap between predicted and
observed lapse share over ten deciles) of 0.033 on Online Retail and 0.017 to 0.030 on CDNOW.
Recalibrating it on the 90 days before (Platt scaling, isotonic regression, or a logistic model
adding recency, frequency and age) did worse on Online Retail (0.043 to 0.115) and no better on
CDNOW (0.020 to 0.041), so the model's probability is used as it is. Every analysis checks it
on the shop's own data: the model is refitted on everything but the last 90 days, predicts who
lapses in them, and :func:`check_churn` reports predicted against observed by decile.

>>> import numpy as np
>>> table = calibration_table(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1]), bins=2)
>>> table.get_column("observed").to_list()
[0.0, 1.0]
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from storewise.errors import InputError
from storewise.marketing.clv import BGNBD, CHURN_HORIZON_DAYS, BGNBDParams
from storewise.marketing.seasonality import SeasonalIndex, learn_seasonal_index
from storewise.marketing.summary import UNIT_DAYS, FloatArray, TimeUnit, summarise

#: What churn risk means, for answers and screens.
CHURN_DEFINITION = (
    f"probability of no purchase in the next {CHURN_HORIZON_DAYS} days (BG/NBD: dropped out, "
    "or alive and not buying)"
)
#: An expected calibration error above this on the shop's own check is reported as a warning.
ECE_WARNING = 0.10


def calibration_table(predicted: FloatArray, lapsed: FloatArray, *, bins: int = 10) -> pl.DataFrame:
    """Customers sorted by predicted lapse probability and cut into ``bins`` groups of (nearly)
    equal size: ``decile, customers, predicted, observed`` (mean predicted vs observed share)."""
    p = np.asarray(predicted, dtype=np.float64)
    y = np.asarray(lapsed, dtype=np.float64)
    if p.size != y.size or p.size == 0:
        raise InputError("predicted and lapsed must be non-empty and of the same length")
    groups = np.array_split(np.argsort(p, kind="stable"), min(bins, p.size))
    return pl.DataFrame(
        {
            "decile": list(range(1, len(groups) + 1)),
            "customers": [int(g.size) for g in groups],
            "predicted": [float(p[g].mean()) for g in groups],
            "observed": [float(y[g].mean()) for g in groups],
        }
    )


def _auc(p: FloatArray, y: FloatArray) -> float | None:
    positives = int(y.sum())
    negatives = int(y.size - positives)
    if not positives or not negatives:
        return None
    ranks = stats.rankdata(p)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


@dataclass(frozen=True)
class ChurnCheck:
    """Predicted lapse probabilities over a past window against who actually bought again."""

    cut: date
    until: date
    horizon_days: int
    customers: int
    predicted_share: float
    observed_share: float
    ece: float
    brier: float
    auc: float | None
    seasonal: bool
    table: pl.DataFrame

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary with the decile table."""
        return {
            "window": f"{self.cut + timedelta(days=1)} to {self.until}",
            "horizon_days": self.horizon_days,
            "customers": self.customers,
            "predicted_lapse_share": round(self.predicted_share, 4),
            "observed_lapse_share": round(self.observed_share, 4),
            "calibration_error": round(self.ece, 4),
            "brier": round(self.brier, 4),
            "auc": None if self.auc is None else round(self.auc, 4),
            "seasonal_index": self.seasonal,
            "deciles": [
                {
                    "decile": int(r["decile"]),
                    "customers": int(r["customers"]),
                    "predicted": round(float(r["predicted"]), 4),
                    "observed": round(float(r["observed"]), 4),
                }
                for r in self.table.iter_rows(named=True)
            ],
        }


def score_lapses(predicted: FloatArray, lapsed: FloatArray) -> tuple[float, float, float | None]:
    """(expected calibration error over deciles, Brier score, AUC) of lapse predictions."""
    p = np.asarray(predicted, dtype=np.float64)
    y = np.asarray(lapsed, dtype=np.float64)
    table = calibration_table(p, y)
    weights = table.get_column("customers").to_numpy() / p.size
    predicted_mean = table.get_column("predicted").to_numpy()
    gaps = np.abs(predicted_mean - table.get_column("observed").to_numpy())
    return float(weights @ gaps), float(np.mean((p - y) ** 2)), _auc(p, y)


def check_churn(
    transactions: pl.DataFrame,
    *,
    cut: date,
    horizon_days: int = CHURN_HORIZON_DAYS,
    time_unit: TimeUnit = "week",
    seasonality: bool = True,
    start: BGNBDParams | None = None,
) -> ChurnCheck:
    """Fit BG/NBD on purchases up to ``cut``, predict P(no purchase in the next
    ``horizon_days``) for every customer known then, and compare with what they did.

    With ``seasonality`` a seasonal index is learned from the history up to ``cut`` when it
    covers more than a year; ``start`` speeds the fit up (see :meth:`BGNBD.fit`). InputError
    when BG/NBD cannot be fitted at ``cut``.
    """
    until = cut + timedelta(days=horizon_days)
    summary = summarise(transactions, fit_until=cut, holdout_until=until, time_unit=time_unit)
    model = BGNBD().fit(summary, start=start)
    index: SeasonalIndex | None = None
    if seasonality:
        index, _ = learn_seasonal_index(transactions, model, fit_until=cut)
    span = index.operational_days(cut, horizon_days) if index else float(horizon_days)
    x, tx, big_t = summary.arrays()
    predicted = model.probability_no_purchase(span / UNIT_DAYS[time_unit], x, tx, big_t)
    lapsed = (summary.frame.get_column("frequency_holdout").to_numpy() == 0).astype(np.float64)
    ece, brier, auc = score_lapses(predicted, lapsed)
    return ChurnCheck(
        cut=cut,
        until=until,
        horizon_days=horizon_days,
        customers=int(predicted.size),
        predicted_share=float(predicted.mean()),
        observed_share=float(lapsed.mean()),
        ece=ece,
        brier=brier,
        auc=auc,
        seasonal=index is not None,
        table=calibration_table(predicted, lapsed),
    )


__all__ = [
    "CHURN_DEFINITION",
    "CHURN_HORIZON_DAYS",
    "ECE_WARNING",
    "ChurnCheck",
    "calibration_table",
    "check_churn",
    "score_lapses",
]
