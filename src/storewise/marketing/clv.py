"""Customer lifetime value: BG/NBD purchase counts, Gamma-Gamma spend and discounted CLV.

BG/NBD (Fader, Hardie & Lee 2005, *Counting your customers the easy way*) and Gamma-Gamma
(Fader, Hardie & Lee 2005, *RFM and CLV*) are fitted by maximum likelihood on log parameters
with scipy: L-BFGS-B with analytic gradients from several starting points, then a Nelder-Mead
polish. Inputs are the :class:`~storewise.marketing.summary.CustomerSummary` of
:func:`~storewise.marketing.summary.summarise`.

>>> from storewise.marketing.summary import CustomerSummary
>>> import polars as pl
>>> frame = pl.DataFrame({"customer_id": ["a"], "frequency": [2], "recency": [30.0], "T": [39.0]})
>>> summary = CustomerSummary.from_frame(frame, time_unit="week")
>>> model = BGNBD.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426, time_unit="week")
>>> round(float(model.probability_alive(*summary.arrays())[0]), 3)
0.72
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from itertools import pairwise
from typing import Any, Self

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field
from scipy import special

from storewise.errors import InputError, NotFitted
from storewise.marketing._clv_math import (
    LOG_BOUND,
    alive_counts,
    bgnbd_terms,
    compress,
    gamma_gamma_terms,
    maximise,
    new_customer_counts,
)
from storewise.marketing.summary import (
    DAYS_PER_MONTH,
    UNIT_DAYS,
    CustomerSummary,
    FloatArray,
    TimeUnit,
    summarise,
)
from storewise.marketing.transactions import normalise_transactions

#: Churn risk is the probability of no purchase in this many days (see :mod:`.churn`).
CHURN_HORIZON_DAYS = 90


class BGNBDConfig(BaseModel):
    """Settings of the BG/NBD fit, each declared once with its default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    penalizer: float = Field(0.0, ge=0.0, description="L2 penalty on the parameters (lifetimes)")
    min_customers: int = Field(20, ge=5, description="fewest customers the fit accepts")
    max_iterations: int = Field(2000, ge=10, description="optimiser iteration cap per start")
    polish: bool = Field(True, description="refine the best start with Nelder-Mead")


class GammaGammaConfig(BaseModel):
    """Settings of the Gamma-Gamma spend fit, each declared once with its default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    penalizer: float = Field(0.0, ge=0.0, description="L2 penalty on the parameters (lifetimes)")
    min_customers: int = Field(10, ge=3, description="fewest repeat buyers with positive spend")
    max_iterations: int = Field(2000, ge=10, description="optimiser iteration cap per start")
    polish: bool = Field(True, description="refine the best start with Nelder-Mead")


@dataclass(frozen=True)
class BGNBDParams:
    """Fitted BG/NBD parameters with the log-likelihood and what the fit was run on."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: int
    n_repeat_customers: int
    time_unit: TimeUnit
    converged: bool

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a JSON-ready dict, for reports and model bundles."""
        return asdict(self)


@dataclass(frozen=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma parameters, with the count of buyers excluded for non-positive spend."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    n_customers: int
    n_excluded: int
    converged: bool

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a JSON-ready dict, for reports and model bundles."""
        return asdict(self)


class BGNBD:
    """BG/NBD repeat-purchase model: how many purchases to expect and who is still alive."""

    def __init__(self, config: BGNBDConfig | None = None) -> None:
        self.config = config or BGNBDConfig()
        self._params: BGNBDParams | None = None

    @classmethod
    def from_params(
        cls, *, r: float, alpha: float, a: float, b: float, time_unit: TimeUnit
    ) -> Self:
        """A model with known parameters (published or from a saved bundle), without fitting."""
        for name, value in (("r", r), ("alpha", alpha), ("a", a), ("b", b)):
            if not (np.isfinite(value) and value > 0):
                raise InputError(f"BG/NBD parameter {name} must be positive, got {value}")
        model = cls()
        model._params = BGNBDParams(
            r=r, alpha=alpha, a=a, b=b, log_likelihood=float("nan"), n_customers=0,
            n_repeat_customers=0, time_unit=time_unit, converged=True,
        )  # fmt: skip
        return model

    @property
    def params(self) -> BGNBDParams:
        """The fitted parameters; NotFitted before :meth:`fit`."""
        if self._params is None:
            raise NotFitted("BG/NBD model is not fitted; call fit(summary) first")
        return self._params

    def fit(self, summary: CustomerSummary, *, start: BGNBDParams | None = None) -> Self:
        """Fit r, alpha, a, b by maximum likelihood on the summary; returns self.

        ``start`` (parameters fitted on similar data, e.g. the same shop a few months later)
        replaces the three default starting points with one, which makes a refit quick.
        """
        x, tx, big_t = summary.arrays()
        n = x.size
        need = self.config.min_customers
        if n < need:
            raise InputError(
                f"BG/NBD needs at least {need} customers to fit, got {n}",
                details={"needed": need, "got": n},
            )
        n_repeat = int((x > 0).sum())
        if n_repeat == 0:
            raise InputError("BG/NBD needs at least one customer with a repeat purchase; none has")
        rows, weights = compress(x, tx, big_t)
        cx, ctx, ct = rows[:, 0], rows[:, 1], rows[:, 2]
        total = float(weights.sum())
        penalizer = self.config.penalizer

        def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
            ll, grad = bgnbd_terms(log_params, cx, ctx, ct)
            params = np.exp(log_params)
            value = -float(weights @ ll) / total + penalizer * float(params @ params)
            gradient = -(weights @ grad) / total + 2 * penalizer * params * params
            if not np.isfinite(value):
                return float("inf"), np.zeros_like(log_params)
            return value, np.asarray(gradient, dtype=np.float64)

        rate = max(float(x.sum()) / max(float(big_t.sum()), 1e-9), 1e-6)
        starts = [
            np.log([r0, r0 / rate, a0, b0])
            for r0, a0, b0 in ((1.0, 1.0, 3.0), (0.3, 0.8, 2.5), (2.0, 0.1, 10.0))
        ]
        if start is not None:
            scale = UNIT_DAYS[start.time_unit] / UNIT_DAYS[summary.time_unit]
            given = np.log([start.r, start.alpha * scale, start.a, start.b])
            starts = [np.clip(given, -LOG_BOUND + 1.0, LOG_BOUND - 1.0)]
        best, _, ok = maximise(
            objective, starts, max_iterations=self.config.max_iterations, polish=self.config.polish
        )
        r, alpha, a, b = (float(v) for v in np.exp(best))
        ll = float(weights @ bgnbd_terms(best, cx, ctx, ct)[0])
        self._params = BGNBDParams(
            r=r, alpha=alpha, a=a, b=b, log_likelihood=ll, n_customers=n,
            n_repeat_customers=n_repeat, time_unit=summary.time_unit, converged=ok,
        )  # fmt: skip
        return self

    def log_likelihood(
        self, frequency: FloatArray, recency: FloatArray, T: FloatArray
    ) -> FloatArray:
        """Each customer's log-likelihood under the fitted parameters, to compare models."""
        p = self.params
        log_params = np.log([p.r, p.alpha, p.a, p.b])
        x, tx, big_t = _as_arrays(frequency, recency, T)
        return bgnbd_terms(log_params, x, tx, big_t)[0]

    def probability_alive(
        self, frequency: FloatArray, recency: FloatArray, T: FloatArray
    ) -> FloatArray:
        """P(customer still active at T) given their history; 1 for customers with no repeats."""
        p = self.params
        x, tx, big_t = _as_arrays(frequency, recency, T)
        repeat = x > 0
        bx1 = np.where(repeat, p.b + x - 1.0, 1.0)
        log_odds_dead = (
            np.log(p.a) - np.log(bx1) + (p.r + x) * (np.log(p.alpha + big_t) - np.log(p.alpha + tx))
        )
        return np.where(repeat, special.expit(-log_odds_dead), 1.0)

    def expected_purchases(
        self, t: float, frequency: FloatArray, recency: FloatArray, T: FloatArray
    ) -> FloatArray:
        """Expected purchases in the next ``t`` time units for customers with the given history."""
        if not (np.isfinite(t) and t >= 0):
            raise InputError(f"horizon t must be a non-negative number, got {t}")
        p = self.params
        x, tx, big_t = _as_arrays(frequency, recency, T)
        alive_count = alive_counts((p.r, p.alpha, p.a, p.b), t, x, big_t)
        return np.asarray(alive_count * self.probability_alive(x, tx, big_t), dtype=np.float64)

    def expected_purchases_new(self, t: float | FloatArray) -> FloatArray:
        """Expected purchases in ``t`` time units after a brand-new customer's first purchase."""
        ts = np.atleast_1d(np.asarray(t, dtype=np.float64))
        if not (np.isfinite(ts).all() and (ts >= 0).all()):
            raise InputError("horizons t must be non-negative numbers")
        p = self.params
        return new_customer_counts((p.r, p.alpha, p.a, p.b), ts)

    def probability_no_purchase(
        self, t: float, frequency: FloatArray, recency: FloatArray, T: FloatArray
    ) -> FloatArray:
        """P(no purchase in the next ``t`` time units): dropped out, or alive and not buying.

        ``1 - P(alive) + P(alive) * ((alpha + T) / (alpha + T + t)) ** (r + x)``: given alive, a
        customer can only drop out right after a purchase, so "no purchase" while alive is the
        Poisson zero averaged over the Gamma(r + x, alpha + T) posterior of the rate. This is
        the lapse probability PyMC-Marketing calls ``expected_probability_no_purchase``.
        """
        if not (np.isfinite(t) and t >= 0):
            raise InputError(f"horizon t must be a non-negative number, got {t}")
        p = self.params
        x, tx, big_t = _as_arrays(frequency, recency, T)
        alive = self.probability_alive(x, tx, big_t)
        quiet = np.exp((p.r + x) * (np.log(p.alpha + big_t) - np.log(p.alpha + big_t + t)))
        return np.asarray(1.0 - alive + alive * quiet, dtype=np.float64)

    def predict(
        self, summary: CustomerSummary, horizon: float, *, churn_horizon: float | None = None
    ) -> pl.DataFrame:
        """Per customer: expected purchases over ``horizon`` time units, P(alive) and churn risk,
        P(no purchase within ``churn_horizon`` units; default :data:`CHURN_HORIZON_DAYS`)."""
        self._check_unit(summary)
        x, tx, big_t = summary.arrays()
        quiet = _churn_span(summary.time_unit, churn_horizon)
        return summary.frame.select("customer_id").with_columns(
            pl.Series("expected_purchases", self.expected_purchases(horizon, x, tx, big_t)),
            pl.Series("p_alive", self.probability_alive(x, tx, big_t)),
            pl.Series("churn_risk", self.probability_no_purchase(quiet, x, tx, big_t)),
        )

    def _check_unit(self, summary: CustomerSummary) -> None:
        if summary.time_unit != self.params.time_unit:
            raise InputError(
                f"summary is in {summary.time_unit}s but the model was fitted in "
                f"{self.params.time_unit}s; summarise with the same time_unit"
            )


def _churn_span(time_unit: TimeUnit, churn_horizon: float | None) -> float:
    """The churn window in model units (the default :data:`CHURN_HORIZON_DAYS`)."""
    return CHURN_HORIZON_DAYS / UNIT_DAYS[time_unit] if churn_horizon is None else churn_horizon


def _as_arrays(*columns: Any) -> tuple[FloatArray, ...]:
    arrays = tuple(np.atleast_1d(np.asarray(c, dtype=np.float64)) for c in columns)
    if len({a.shape for a in arrays}) != 1:
        raise InputError("frequency, recency and T must have the same length")
    return arrays


class GammaGamma:
    """The Gamma-Gamma model of spend per transaction, fitted on repeat buyers' mean spend."""

    def __init__(self, config: GammaGammaConfig | None = None) -> None:
        self.config = config or GammaGammaConfig()
        self._params: GammaGammaParams | None = None

    @classmethod
    def from_params(cls, *, p: float, q: float, gamma: float) -> Self:
        """A model with known parameters, without fitting."""
        for name, value in (("p", p), ("q", q), ("gamma", gamma)):
            if not (np.isfinite(value) and value > 0):
                raise InputError(f"Gamma-Gamma parameter {name} must be positive, got {value}")
        model = cls()
        model._params = GammaGammaParams(p, q, gamma, float("nan"), 0, 0, True)
        return model

    @property
    def params(self) -> GammaGammaParams:
        """The fitted parameters; NotFitted before :meth:`fit`."""
        if self._params is None:
            raise NotFitted("Gamma-Gamma model is not fitted; call fit(summary) first")
        return self._params

    def fit(self, summary: CustomerSummary) -> Self:
        """Fit p, q, gamma on repeat buyers with positive mean spend; others counted as excluded."""
        frame = summary.frame
        x = frame.get_column("frequency").cast(pl.Float64).to_numpy()
        m = frame.get_column("monetary_value").cast(pl.Float64).to_numpy()
        repeat = x > 0
        usable = repeat & np.isfinite(m) & (m > 0)
        n_excluded = int((repeat & ~usable).sum())
        n = int(usable.sum())
        need = self.config.min_customers
        if n < need:
            raise InputError(
                f"Gamma-Gamma needs at least {need} repeat buyers with positive spend to fit, "
                f"got {n} ({n_excluded} excluded for zero or negative spend)",
                details={"needed": need, "got": n, "excluded": n_excluded},
            )
        rows, weights = compress(x[usable], m[usable])
        cx, cm = rows[:, 0], rows[:, 1]
        total = float(weights.sum())
        penalizer = self.config.penalizer

        def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
            ll, grad = gamma_gamma_terms(log_params, cx, cm)
            params = np.exp(log_params)
            value = -float(weights @ ll) / total + penalizer * float(params @ params)
            if not np.isfinite(value):
                return float("inf"), np.zeros_like(log_params)
            gradient = -(weights @ grad) / total + 2 * penalizer * params * params
            return value, np.asarray(gradient, dtype=np.float64)

        mean_spend = float(np.average(cm, weights=weights))
        starts = [
            np.log([p0, q0, mean_spend * (q0 - 1.0) / p0])
            for p0, q0 in ((1.0, 2.0), (5.0, 3.0), (10.0, 5.0))
        ]
        best, _, ok = maximise(
            objective, starts, max_iterations=self.config.max_iterations, polish=self.config.polish
        )
        p, q, g = (float(v) for v in np.exp(best))
        ll = float(weights @ gamma_gamma_terms(best, cx, cm)[0])
        self._params = GammaGammaParams(p, q, g, ll, n, n_excluded, ok)
        return self

    @property
    def mean_spend(self) -> float:
        """Expected spend per transaction of a customer with no usable repeat purchases."""
        p = self.params
        if p.q <= 1:
            raise InputError(
                f"Gamma-Gamma q = {p.q:.3f} <= 1 means an infinite mean spend; the spend data "
                "are too heavy-tailed for this model"
            )
        return p.p * p.gamma / (p.q - 1.0)

    def expected_spend(self, frequency: FloatArray, monetary_value: FloatArray) -> FloatArray:
        """Expected spend per future transaction; the population mean without positive repeats."""
        p = self.params
        x, m = _as_arrays(frequency, monetary_value)
        usable = (x > 0) & (m > 0)
        prior = self.mean_spend
        with np.errstate(all="ignore"):
            posterior = p.p * (p.gamma + x * m) / (p.p * x + p.q - 1.0)
        return np.where(usable, posterior, prior)

    def predict(self, summary: CustomerSummary) -> pl.DataFrame:
        """Per customer: expected spend per future transaction."""
        frame = summary.frame
        spend = self.expected_spend(
            frame.get_column("frequency").cast(pl.Float64).to_numpy(),
            frame.get_column("monetary_value").cast(pl.Float64).to_numpy(),
        )
        return frame.select("customer_id").with_columns(pl.Series("expected_spend", spend))


def customer_lifetime_value(
    bgnbd: BGNBD,
    gamma_gamma: GammaGamma,
    summary: CustomerSummary,
    *,
    horizon_months: int = 12,
    discount_rate: float = 0.01,
    month_ends: Sequence[float] | None = None,
    churn_horizon: float | None = None,
) -> pl.DataFrame:
    """Discounted CLV per customer over ``horizon_months`` with a monthly ``discount_rate``.

    As in ``lifetimes``' ``customer_lifetime_value``: each month's expected purchases (BG/NBD)
    times expected spend (Gamma-Gamma), discounted by ``(1 + discount_rate) ** month``.
    ``month_ends`` (model units, one per month) replaces the equal months, e.g. by seasonal
    time (:mod:`~storewise.marketing.seasonality`); ``churn_horizon`` is as in
    :meth:`BGNBD.predict`. Columns: ``customer_id, p_alive, churn_risk, expected_purchases,
    expected_spend, clv``.
    """
    if not 1 <= horizon_months <= 1200:
        raise InputError(f"horizon_months must be between 1 and 1200, got {horizon_months}")
    if not 0 <= discount_rate < 1:
        raise InputError(f"discount_rate must be in [0, 1) per month, got {discount_rate}")
    bgnbd._check_unit(summary)
    month = DAYS_PER_MONTH / UNIT_DAYS[summary.time_unit]
    ends = [m * month for m in range(1, horizon_months + 1)] if month_ends is None else month_ends
    if len(ends) != horizon_months or any(b < a for a, b in pairwise(ends)):
        raise InputError(f"month_ends must be {horizon_months} non-decreasing horizons")
    x, tx, big_t = summary.arrays()
    spend = gamma_gamma.expected_spend(x, summary.frame.get_column("monetary_value").to_numpy())
    previous = np.zeros_like(x)
    value = np.zeros_like(x)
    for m, end in enumerate(ends, start=1):
        cumulative = bgnbd.expected_purchases(float(end), x, tx, big_t)
        value += (cumulative - previous) / (1.0 + discount_rate) ** m
        previous = cumulative
    quiet = _churn_span(summary.time_unit, churn_horizon)
    return summary.frame.select("customer_id").with_columns(
        pl.Series("p_alive", bgnbd.probability_alive(x, tx, big_t)),
        pl.Series("churn_risk", bgnbd.probability_no_purchase(quiet, x, tx, big_t)),
        pl.Series("expected_purchases", previous),
        pl.Series("expected_spend", spend),
        pl.Series("clv", spend * value),
    )


class CLVConfig(BaseModel):
    """Settings of the end-to-end CLV pipeline: time unit, horizon, discounting and both fits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    time_unit: TimeUnit = Field("week", description="model time unit")
    horizon_months: int = Field(12, ge=1, le=1200, description="CLV horizon in months")
    discount_rate: float = Field(0.01, ge=0.0, lt=1.0, description="monthly discount rate")
    bgnbd: BGNBDConfig = Field(default_factory=BGNBDConfig)
    gamma_gamma: GammaGammaConfig = Field(default_factory=GammaGammaConfig)


@dataclass(frozen=True)
class CLVResult:
    """Everything one CLV run produced: the summary, both fitted models and the predictions."""

    summary: CustomerSummary
    bgnbd: BGNBD
    gamma_gamma: GammaGamma
    predictions: pl.DataFrame


def fit_clv(
    transactions: pl.DataFrame,
    *,
    fit_until: date | datetime | None = None,
    config: CLVConfig | None = None,
) -> CLVResult:
    """Summarise, fit BG/NBD and Gamma-Gamma and predict CLV for every customer in one call."""
    cfg = config or CLVConfig()
    if fit_until is None:
        last = normalise_transactions(transactions).get_column("ts").max()
        assert isinstance(last, datetime)
        fit_until = last
    summary = summarise(transactions, fit_until=fit_until, time_unit=cfg.time_unit)
    bgnbd = BGNBD(cfg.bgnbd).fit(summary)
    gamma_gamma = GammaGamma(cfg.gamma_gamma).fit(summary)
    predictions = customer_lifetime_value(
        bgnbd, gamma_gamma, summary,
        horizon_months=cfg.horizon_months, discount_rate=cfg.discount_rate,
    )  # fmt: skip
    return CLVResult(summary, bgnbd, gamma_gamma, predictions)


@dataclass(frozen=True)
class HoldoutEvaluation:
    """How BG/NBD predictions compare with the holdout period, in total and per customer."""

    predicted_total: float
    actual_total: int
    relative_error: float
    correlation: float
    mean_absolute_error: float
    n_customers: int
    by_frequency: pl.DataFrame


def evaluate_holdout(
    model: BGNBD,
    summary: CustomerSummary,
    *,
    max_frequency: int = 7,
    horizon: float | None = None,
) -> HoldoutEvaluation:
    """Compare predicted with actual holdout purchases; the table groups customers by calibration
    frequency (0 .. ``max_frequency``+), as in Fader, Hardie & Lee's conditional-expectation plots.

    ``horizon`` (model units) replaces the holdout's length, e.g. by seasonal time
    (:meth:`~storewise.marketing.seasonality.SeasonalIndex.operational_days`).
    """
    if summary.holdout_length is None or "frequency_holdout" not in summary.frame.columns:
        raise InputError("summary has no holdout period; summarise with holdout_until")
    model._check_unit(summary)
    x, tx, big_t = summary.arrays()
    span = summary.holdout_length if horizon is None else horizon
    predicted = model.expected_purchases(span, x, tx, big_t)
    actual = summary.frame.get_column("frequency_holdout").cast(pl.Float64).to_numpy()
    table = (
        pl.DataFrame(
            {
                "frequency": np.minimum(x, max_frequency).astype(np.int64),
                "actual": actual,
                "predicted": predicted,
            }
        )
        .group_by("frequency")
        .agg(
            pl.len().cast(pl.Int64).alias("customers"),
            pl.col("actual").mean().alias("actual_mean"),
            pl.col("predicted").mean().alias("predicted_mean"),
        )
        .sort("frequency")
    )
    total_actual = float(actual.sum())
    corr = float(np.corrcoef(predicted, actual)[0, 1]) if actual.std() > 0 else float("nan")
    return HoldoutEvaluation(
        predicted_total=float(predicted.sum()),
        actual_total=int(total_actual),
        relative_error=float(predicted.sum() / total_actual - 1.0)
        if total_actual
        else float("nan"),
        correlation=corr,
        mean_absolute_error=float(np.abs(predicted - actual).mean()),
        n_customers=int(x.size),
        by_frequency=table,
    )
