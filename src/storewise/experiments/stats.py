"""The statistics of an A/B test, as a careful analyst would report it.

Every analysis runs on each arm's moments (units, mean, variance, and for CUPED the pre-period
mean, variance and covariance), so the core is vectorised (arrays of experiments at once, for
simulations) and a file of any size is read in one streaming pass.

- **Fixed horizon**: difference of means (treatment - control) with a Welch unequal-variance
  interval and two-sided p-value (Welch-Satterthwaite degrees of freedom); relative lift
  ``mean_t / mean_c - 1`` with a delta-method interval, as GrowthBook's ``gbstats`` computes it.
- **CUPED** (Deng et al. 2013): ``Y - theta (X - mean X)`` with ``theta = cov(Y, X) / var(X)``
  pooled over all arms, ``X`` each unit's pre-period value; the analysis runs on the adjusted
  values and reports how much narrower the interval became.
- **Sample-ratio mismatch**: chi-square goodness of fit of units per arm against the planned
  split, flagged below p = 0.001.
- **Power**: the minimum detectable effect for given arm sizes, and the arm sizes for an effect.
- **Always-valid interval** for peeking: the normal-mixture confidence sequence GrowthBook uses
  for sequential testing.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> control = Summary.of(rng.normal(10.0, 2.0, 5000))
>>> treatment = Summary.of(rng.normal(10.5, 2.0, 5000))
>>> result = compare(treatment, control)
>>> bool(result.ci_low < 0.5 < result.ci_high), bool(result.p_value < 0.001)
(True, True)
>>> round(float(result.relative_lift), 3)
0.054
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from storewise.errors import InputError, SchemaError

FloatArray = npt.NDArray[np.float64]

#: Two-sided significance level of every interval and test unless told otherwise.
DEFAULT_ALPHA = 0.05
#: Sample-ratio mismatch is flagged below this chi-square p-value. A mismatch this unlikely
#: under the planned split almost always means broken assignment or logging, not chance; the
#: strict threshold keeps the check quiet on the many experiments a shop runs (Fabijan et al.
#: 2019, "Diagnosing sample ratio mismatch in online controlled experiments").
SRM_THRESHOLD = 0.001
#: GrowthBook's default tuning of the sequential interval: the total units at which it is
#: narrowest. Any value keeps the interval valid; a value near the planned size is best.
DEFAULT_TUNING_N = 5000
#: Shares of a planned split must add up to 1 within this tolerance.
SPLIT_TOLERANCE = 1e-6
#: The two columns every unit file has; every other column is a metric or a pre-period value.
UNIT_COLUMN = "unit_id"
VARIANT_COLUMN = "variant"


def _array(value: Any) -> FloatArray:
    return np.asarray(value, dtype=np.float64)


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise InputError(f"alpha must be between 0 and 1, got {alpha}")


# -- per-arm moments ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Summary:
    """One arm of a metric: units ``n``, ``mean`` and sample variance ``var`` (ddof 1).

    Fields are arrays that broadcast together, so one Summary can hold many experiments.
    """

    n: FloatArray
    mean: FloatArray
    var: FloatArray

    @classmethod
    def of(cls, values: Any, axis: int = -1) -> Summary:
        """The moments of ``values`` along ``axis`` (each row of a 2-D array is one arm)."""
        y = _array(values)
        if y.ndim == 0:
            raise InputError("a metric needs an array of unit values, got a single number")
        n = y.shape[axis]
        if n < 2:
            raise InputError(f"an arm needs at least 2 units to estimate a variance, got {n}")
        mean = y.mean(axis=axis)
        return cls(np.full_like(mean, float(n)), mean, y.var(axis=axis, ddof=1))

    @classmethod
    def from_moments(cls, n: Any, mean: Any, var: Any) -> Summary:
        """A summary of known moments (e.g. from a warehouse query)."""
        return cls(_array(n), _array(mean), _array(var))


@dataclass(frozen=True)
class PrePost:
    """One arm of a metric with each unit's pre-period value: what CUPED needs."""

    n: FloatArray
    mean: FloatArray
    var: FloatArray
    pre_mean: FloatArray
    pre_var: FloatArray
    cov: FloatArray

    @classmethod
    def of(cls, values: Any, pre: Any, axis: int = -1) -> PrePost:
        """The moments of the metric ``values`` and the pre-period values ``pre``."""
        y, x = _array(values), _array(pre)
        if y.shape != x.shape:
            raise InputError(f"values and pre-period values differ in shape: {y.shape}, {x.shape}")
        post = Summary.of(y, axis)
        before = Summary.of(x, axis)
        dy = y - np.expand_dims(post.mean, axis)
        dx = x - np.expand_dims(before.mean, axis)
        cov = (dy * dx).sum(axis=axis) / (post.n - 1.0)
        return cls(post.n, post.mean, post.var, before.mean, before.var, cov)

    @property
    def summary(self) -> Summary:
        """The metric alone, without its pre-period."""
        return Summary(self.n, self.mean, self.var)


# -- fixed-horizon comparison ------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """Treatment against control: absolute and relative lift with intervals and p-value.

    Arrays of the broadcast shape of the inputs (0-d for one experiment); ``nan`` where a value
    is undefined (no variance in either arm; a control mean of 0 for the relative lift).
    """

    absolute_lift: FloatArray
    standard_error: FloatArray
    df: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    p_value: FloatArray
    relative_lift: FloatArray
    relative_standard_error: FloatArray
    relative_ci_low: FloatArray
    relative_ci_high: FloatArray
    alpha: float = DEFAULT_ALPHA

    def as_floats(self) -> dict[str, float]:
        """The fields of a single experiment as plain floats (``nan`` kept)."""
        names = ("absolute_lift", "standard_error", "df", "ci_low", "ci_high", "p_value",
                 "relative_lift", "relative_standard_error", "relative_ci_low",
                 "relative_ci_high")  # fmt: skip
        return {name: float(getattr(self, name)) for name in names}


def _check_arms(*arms: Summary) -> None:
    for arm in arms:
        if np.any(arm.n < 2):
            raise InputError("every arm needs at least 2 units to estimate a variance")
        finite = np.all(np.isfinite(arm.mean)) and np.all(np.isfinite(arm.var))
        if not finite or np.any(arm.var < 0):
            raise InputError("arm means and variances must be finite, variances non-negative")


def compare(treatment: Summary, control: Summary, *, alpha: float = DEFAULT_ALPHA) -> Comparison:
    """Welch's unequal-variance test of ``mean_t - mean_c`` and the delta-method relative lift.

    The absolute interval and p-value use Student's t with Welch-Satterthwaite degrees of
    freedom (``scipy.stats.ttest_ind(equal_var=False)`` gives the same); the relative lift's
    variance is ``var_t/(n_t m_c^2) + m_t^2 var_c/(n_c m_c^4)`` (delta method for a ratio of
    independent means, as in gbstats) with the normal quantile.

    >>> c = Summary.from_moments(1000, 10.0, 4.0)
    >>> t = Summary.from_moments(1000, 10.3, 4.0)
    >>> r = compare(t, c)
    >>> round(float(r.absolute_lift), 2), round(float(r.ci_low), 3), round(float(r.ci_high), 3)
    (0.3, 0.125, 0.475)
    >>> round(float(r.relative_lift), 3), round(float(r.relative_ci_low), 4)
    (0.03, 0.0122)
    """
    _check_alpha(alpha)
    _check_arms(treatment, control)
    with np.errstate(divide="ignore", invalid="ignore"):
        se2_t = treatment.var / treatment.n
        se2_c = control.var / control.n
        se2 = se2_t + se2_c
        se = np.sqrt(se2)
        df = se2**2 / (se2_t**2 / (treatment.n - 1.0) + se2_c**2 / (control.n - 1.0))
        diff = treatment.mean - control.mean
        t_stat = diff / se
        p_value = 2.0 * sps.t.sf(np.abs(t_stat), df)
        half = sps.t.ppf(1.0 - alpha / 2.0, df) * se
        m_c, m_t = control.mean, treatment.mean
        relative = np.where(m_c != 0, m_t / m_c - 1.0, np.nan)
        rel_var = treatment.var / (treatment.n * m_c**2) + m_t**2 * control.var / (
            control.n * m_c**4
        )
        rel_se = np.where(m_c != 0, np.sqrt(rel_var), np.nan)
        rel_half = sps.norm.ppf(1.0 - alpha / 2.0) * rel_se
    return Comparison(
        absolute_lift=_array(diff), standard_error=_array(se), df=_array(df),
        ci_low=_array(diff - half), ci_high=_array(diff + half), p_value=_array(p_value),
        relative_lift=_array(relative), relative_standard_error=_array(rel_se),
        relative_ci_low=_array(relative - rel_half), relative_ci_high=_array(relative + rel_half),
        alpha=alpha,
    )  # fmt: skip


# -- always-valid (sequential) interval --------------------------------------------------------
@dataclass(frozen=True)
class SequentialInterval:
    """An always-valid interval for ``mean_t - mean_c`` and its always-valid p-value."""

    ci_low: FloatArray
    ci_high: FloatArray
    p_value: FloatArray
    tuning_n: float
    alpha: float = DEFAULT_ALPHA


def sequential_interval(
    treatment: Summary,
    control: Summary,
    *,
    alpha: float = DEFAULT_ALPHA,
    tuning_n: float = DEFAULT_TUNING_N,
) -> SequentialInterval:
    """The asymptotic confidence sequence for a difference of means: look as often as you like.

    With ``N = n_t + n_c`` units so far, the estimator's variance ``V`` (the Welch ``se^2``) and
    ``s^2 = V N``, the half-width is ``s sqrt(2 (N r^2 + 1) / (N^2 r^2) log(sqrt(N r^2 + 1) /
    alpha))``: the normal-mixture (Robbins) boundary of Howard et al. 2021 ("Time-uniform,
    nonparametric, nonasymptotic confidence sequences") in its asymptotic form, Waudby-Smith et
    al. 2023 ("Time-uniform central limit theory and asymptotic confidence sequences",
    arXiv:2103.06476, eq. 9), which is the mixture SPRT of Johari et al. 2017/2022 ("Always
    valid inference"). ``r^2 = (-2 log alpha + log(-2 log alpha + 1)) / tuning_n`` makes the
    interval narrowest near ``tuning_n`` total units (eq. 161). GrowthBook's sequential testing
    (``gbstats`` ``SequentialTwoSidedTTest``) uses the same formula with ``tuning_n`` 5000 by
    default. The p-value is ``min(1, 1/E)`` with ``E`` the mixture martingale (eq. 155); it is
    below ``alpha`` exactly when the interval excludes 0.

    >>> c = Summary.from_moments(5000, 10.0, 4.0)
    >>> t = Summary.from_moments(5000, 10.3, 4.0)
    >>> s = sequential_interval(t, c)
    >>> round(float(s.ci_low), 3), round(float(s.ci_high), 3)
    (0.178, 0.422)
    >>> bool(s.p_value < 0.05)
    True
    """
    _check_alpha(alpha)
    if not tuning_n > 0:
        raise InputError(f"tuning_n must be positive, got {tuning_n}")
    _check_arms(treatment, control)
    with np.errstate(divide="ignore", invalid="ignore"):
        n = treatment.n + control.n
        v = treatment.var / treatment.n + control.var / control.n
        rho2 = (-2.0 * math.log(alpha) + math.log(-2.0 * math.log(alpha) + 1.0)) / tuning_n
        grow = n * rho2 + 1.0
        half = np.sqrt(v * n) * np.sqrt(2.0 * grow * np.log(np.sqrt(grow) / alpha) / (n**2 * rho2))
        half = np.where(v > 0, half, np.nan)  # no variance: undefined, as the fixed interval
        diff = treatment.mean - control.mean
        st2 = diff**2 * n / v
        log_e = rho2 * st2 / (2.0 * grow) - 0.5 * np.log(grow)
        p_value = np.minimum(1.0, np.exp(-log_e))
    return SequentialInterval(
        ci_low=_array(diff - half), ci_high=_array(diff + half), p_value=_array(p_value),
        tuning_n=float(tuning_n), alpha=alpha,
    )  # fmt: skip


# -- CUPED ---------------------------------------------------------------------------------------
def cuped_theta(arms: Sequence[PrePost]) -> tuple[FloatArray, FloatArray]:
    """``theta = cov(Y, X) / var(X)`` over all arms' units together, and the pooled mean of X.

    Pooling keeps theta the same for every arm, so the adjustment cannot create a difference;
    theta is 0 where X does not vary.
    """
    if not arms:
        raise InputError("CUPED needs at least one arm")
    n = sum((a.n for a in arms), start=np.zeros(()))
    mean_y = sum((a.n * a.mean for a in arms), start=np.zeros(())) / n
    mean_x = sum((a.n * a.pre_mean for a in arms), start=np.zeros(())) / n
    cxy = sum(((a.n - 1.0) * a.cov + a.n * (a.mean - mean_y) * (a.pre_mean - mean_x)
               for a in arms), start=np.zeros(()))  # fmt: skip
    sxx = sum(((a.n - 1.0) * a.pre_var + a.n * (a.pre_mean - mean_x) ** 2 for a in arms),
              start=np.zeros(()))  # fmt: skip
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(sxx > 0, cxy / sxx, 0.0)
    return _array(theta), _array(mean_x)


def cuped_summary(arm: PrePost, theta: Any, pooled_pre_mean: Any) -> Summary:
    """The moments of ``Y - theta (X - pooled mean of X)`` in one arm, from its own moments."""
    th = _array(theta)
    mean = arm.mean - th * (arm.pre_mean - _array(pooled_pre_mean))
    var = np.maximum(arm.var + th**2 * arm.pre_var - 2.0 * th * arm.cov, 0.0)
    return Summary(arm.n, _array(mean), _array(var))


def cuped_adjust(values: Any, pre: Any) -> tuple[FloatArray, float]:
    """Each unit's CUPED-adjusted value ``Y - theta (X - mean X)`` and theta, for flat arrays.

    Pass every arm's units together (theta is pooled); the adjusted values keep the overall mean.

    >>> y, theta = cuped_adjust([1.0, 2.0, 3.0, 5.0], [1.0, 2.0, 3.0, 4.0])
    >>> round(theta, 2), [round(v, 2) for v in y.tolist()]
    (1.3, [2.95, 2.65, 2.35, 3.05])
    """
    y, x = _array(values).ravel(), _array(pre).ravel()
    if y.size != x.size:
        raise InputError(f"values and pre-period values differ in length: {y.size}, {x.size}")
    if y.size < 2:
        raise InputError("CUPED needs at least 2 units")
    theta, mean_x = cuped_theta([PrePost.of(y, x)])
    return y - theta * (x - mean_x), float(theta)


# -- sample-ratio mismatch -----------------------------------------------------------------------
@dataclass(frozen=True)
class SampleRatio:
    """Units per arm against the planned split: chi-square statistic, p-value and the flag."""

    counts: dict[str, int]
    expected: dict[str, float]
    chi2: float
    p_value: float
    flag: bool
    threshold: float = SRM_THRESHOLD


def check_split(split: Mapping[str, float], variants: Sequence[str]) -> dict[str, float]:
    """A planned split checked against the variants: one positive share each, summing to 1."""
    names = list(variants)
    unknown = [name for name in split if name not in names]
    if unknown:
        raise InputError(
            f"the split names {', '.join(map(repr, unknown))}, which has no units; "
            f"the variants are: {', '.join(names)}"
        )
    missing = [name for name in names if name not in split]
    if missing:
        raise InputError(
            f"the split has {len(split)} share(s) for {len(names)} variants; "
            f"missing: {', '.join(missing)}"
        )
    shares = {name: float(split[name]) for name in names}
    bad = {k: v for k, v in shares.items() if not (math.isfinite(v) and v > 0)}
    if bad:
        raise InputError(f"split shares must be positive numbers, got {bad}")
    total = sum(shares.values())
    if abs(total - 1.0) > SPLIT_TOLERANCE:
        raise InputError(f"split shares must add up to 1, got {total:g}")
    return shares


def parse_split(text: str, variants: Sequence[str]) -> dict[str, float]:
    """``control=0.5,treatment=0.5`` (by name) or ``0.5,0.5`` (in the order of ``variants``).

    >>> parse_split("0.4,0.6", ["control", "treatment"])
    {'control': 0.4, 'treatment': 0.6}
    >>> parse_split("treatment=0.25, control=0.75", ["control", "treatment"])
    {'control': 0.75, 'treatment': 0.25}
    """
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise InputError("--split is empty; give shares like control=0.5,treatment=0.5")
    named = ["=" in part for part in parts]
    if any(named) and not all(named):
        raise InputError(f"--split mixes named and unnamed shares: {text!r}")
    out: dict[str, float] = {}
    for i, part in enumerate(parts):
        name, _, value = part.rpartition("=") if named[i] else ("", "", part)
        if not named[i]:
            if len(parts) != len(variants):
                raise InputError(
                    f"--split has {len(parts)} share(s) for {len(variants)} variants "
                    f"({', '.join(variants)})"
                )
            name = variants[i]
        try:
            share = float(value)
        except ValueError:
            raise InputError(f"--split share {value.strip()!r} is not a number") from None
        name = name.strip()
        if name in out:
            raise InputError(f"--split names {name!r} twice")
        out[name] = share
    return check_split(out, variants)


def sample_ratio_mismatch(
    counts: Mapping[str, int],
    split: Mapping[str, float] | None = None,
    *,
    threshold: float = SRM_THRESHOLD,
) -> SampleRatio:
    """Chi-square goodness of fit of units per arm against the planned split (equal if none).

    >>> sample_ratio_mismatch({"control": 10400, "treatment": 9600}).flag
    True
    >>> sample_ratio_mismatch({"control": 10040, "treatment": 9960}).flag
    False
    """
    names = list(counts)
    if len(names) < 2:
        raise InputError("a sample-ratio check needs at least two variants")
    empty = [name for name in names if counts[name] <= 0]
    if empty:
        raise InputError(f"variant {empty[0]!r} has no units")
    shares = check_split(split, names) if split is not None else {n: 1 / len(names) for n in names}
    observed = np.array([counts[name] for name in names], dtype=np.float64)
    total = observed.sum()
    expected = np.array([shares[name] for name in names]) * total
    expected *= total / expected.sum()  # exact total, as chisquare requires
    chi2, p_value = sps.chisquare(observed, expected)
    return SampleRatio(
        counts={name: int(counts[name]) for name in names},
        expected={name: float(e) for name, e in zip(names, expected, strict=True)},
        chi2=float(chi2), p_value=float(p_value), flag=bool(p_value < threshold),
        threshold=threshold,
    )  # fmt: skip


# -- power -------------------------------------------------------------------------------------
def _z(alpha: float, power: float) -> float:
    _check_alpha(alpha)
    if not 0.0 < power < 1.0:
        raise InputError(f"power must be between 0 and 1, got {power}")
    return float(sps.norm.ppf(1.0 - alpha / 2.0) + sps.norm.ppf(power))


def _check_sd(sd: float) -> None:
    if not (math.isfinite(sd) and sd > 0):
        raise InputError(f"the standard deviation must be positive, got {sd}")


def minimum_detectable_effect(
    sd: float,
    n_control: float,
    n_treatment: float | None = None,
    *,
    alpha: float = DEFAULT_ALPHA,
    power: float = 0.8,
) -> float:
    """The smallest absolute difference of means a two-sided test detects with ``power``.

    Normal approximation with the same ``sd`` in both arms:
    ``(z_{1-alpha/2} + z_power) sd sqrt(1/n_c + 1/n_t)``; the chance of rejecting in the wrong
    direction is ignored (negligible at any useful power). Divide by the baseline mean for the
    relative MDE.

    >>> round(minimum_detectable_effect(8.0, 1000), 3)
    1.002
    """
    _check_sd(sd)
    n_t = n_control if n_treatment is None else n_treatment
    if min(n_control, n_t) < 2:
        raise InputError("each arm needs at least 2 units")
    return _z(alpha, power) * sd * math.sqrt(1.0 / n_control + 1.0 / n_t)


def sample_size_per_arm(
    mde: float,
    sd: float,
    *,
    alpha: float = DEFAULT_ALPHA,
    power: float = 0.8,
    treatment_share: float = 0.5,
) -> tuple[int, int]:
    """Units ``(control, treatment)`` for a two-sided test to detect an absolute ``mde``.

    The inverse of :func:`minimum_detectable_effect` for a total split ``1 - treatment_share``
    / ``treatment_share``: ``N = (z_{1-alpha/2} + z_power)^2 sd^2 (1/p_c + 1/p_t) / mde^2``,
    each arm rounded up.

    >>> sample_size_per_arm(1.0, 8.0)
    (1005, 1005)
    """
    _check_sd(sd)
    if not (math.isfinite(mde) and mde != 0):
        raise InputError(f"the minimum detectable effect must be a non-zero number, got {mde}")
    if not 0.0 < treatment_share < 1.0:
        raise InputError(f"the treatment share must be between 0 and 1, got {treatment_share}")
    p_t, p_c = treatment_share, 1.0 - treatment_share
    total = (_z(alpha, power) * sd / abs(mde)) ** 2 * (1.0 / p_c + 1.0 / p_t)
    # a hair of tolerance so an exact product is not rounded up by floating-point noise
    return max(2, math.ceil(total * p_c - 1e-9)), max(2, math.ceil(total * p_t - 1e-9))


def power_of_test(
    effect: float,
    sd: float,
    n_control: float,
    n_treatment: float | None = None,
    *,
    alpha: float = DEFAULT_ALPHA,
) -> float:
    """The chance a two-sided test at ``alpha`` rejects when the true difference is ``effect``.

    >>> round(power_of_test(1.0, 8.0, 1005), 3)
    0.8
    """
    _check_sd(sd)
    _check_alpha(alpha)
    n_t = n_control if n_treatment is None else n_treatment
    se = sd * math.sqrt(1.0 / n_control + 1.0 / n_t)
    z = float(sps.norm.ppf(1.0 - alpha / 2.0))
    shift = abs(effect) / se
    return float(sps.norm.sf(z - shift) + sps.norm.cdf(-z - shift))


@dataclass(frozen=True)
class PowerPlan:
    """Arm sizes and the minimum detectable effect they give, absolute and relative."""

    baseline_mean: float
    sd: float
    alpha: float
    power: float
    n_control: int
    n_treatment: int
    n_total: int
    mde_absolute: float
    mde_relative: float | None


def plan_power(
    baseline_mean: float,
    sd: float,
    *,
    n_per_arm: int | None = None,
    total: int | None = None,
    mde: float | None = None,
    mde_absolute: float | None = None,
    split: Mapping[str, float] | str | None = None,
    alpha: float = DEFAULT_ALPHA,
    power: float = 0.8,
) -> PowerPlan:
    """The MDE of given arms (``n_per_arm``, or ``total`` units shared by ``split``), or the
    arms for an effect (``mde`` relative to ``baseline_mean``, or ``mde_absolute``): exactly
    one of the four. ``split`` is ``{"control": p, "treatment": 1 - p}`` or its text.

    >>> plan = plan_power(10.0, 8.0, mde=0.1)
    >>> plan.n_control, plan.n_treatment, round(plan.mde_relative, 3)
    (1005, 1005, 0.1)
    """
    options = {"n_per_arm": n_per_arm, "total": total, "mde": mde, "mde_absolute": mde_absolute}
    given = [name for name, value in options.items() if value is not None]
    if len(given) != 1:
        raise InputError(
            "give exactly one of n_per_arm, total, mde, mde_absolute; got "
            + (", ".join(given) or "none")
        )
    arms = ["control", "treatment"]
    shares = parse_split(split, arms) if isinstance(split, str) else split
    shares = check_split(shares, arms) if shares is not None else None
    if shares is not None and n_per_arm is not None:
        raise InputError("a split goes with a total or an effect, not with units per arm")
    treatment_share = shares["treatment"] if shares else 0.5
    if n_per_arm is not None or total is not None:
        if n_per_arm is not None:
            n_c = n_t = int(n_per_arm)
        else:
            assert total is not None
            n_t = round(total * treatment_share)
            n_c = total - n_t
        effect = minimum_detectable_effect(sd, n_c, n_t, alpha=alpha, power=power)
    else:
        if mde is not None and baseline_mean == 0:
            raise InputError("a relative MDE needs a non-zero baseline mean")
        effect = mde_absolute if mde_absolute is not None else float(mde or 0.0) * baseline_mean
        n_c, n_t = sample_size_per_arm(
            effect, sd, alpha=alpha, power=power, treatment_share=treatment_share
        )
    return PowerPlan(
        baseline_mean=float(baseline_mean), sd=float(sd), alpha=alpha, power=power,
        n_control=n_c, n_treatment=n_t, n_total=n_c + n_t, mde_absolute=abs(effect),
        mde_relative=abs(effect / baseline_mean) if baseline_mean else None,
    )  # fmt: skip


# -- streaming accumulation of a unit file -------------------------------------------------------
class _Moments:
    """Running n, means, sums of squared deviations and co-deviation (Chan et al.'s merge)."""

    def __init__(self) -> None:
        self.n = 0
        self.mean_y = 0.0
        self.m2_y = 0.0
        self.mean_x = 0.0
        self.m2_x = 0.0
        self.c_xy = 0.0

    def update(self, y: FloatArray, x: FloatArray | None) -> None:
        nb = int(y.size)
        if nb == 0:
            return
        n = self.n + nb
        mb_y = float(y.mean())
        dy = y - mb_y
        delta_y = mb_y - self.mean_y
        self.m2_y += float(dy @ dy) + delta_y**2 * self.n * nb / n
        if x is not None:
            mb_x = float(x.mean())
            dx = x - mb_x
            delta_x = mb_x - self.mean_x
            self.m2_x += float(dx @ dx) + delta_x**2 * self.n * nb / n
            self.c_xy += float(dy @ dx) + delta_y * delta_x * self.n * nb / n
            self.mean_x += delta_x * nb / n
        self.mean_y += delta_y * nb / n
        self.n = n

    def prepost(self) -> PrePost:
        d = max(self.n - 1, 1)
        return PrePost(*(_array(v) for v in (self.n, self.mean_y, self.m2_y / d, self.mean_x,
                                             self.m2_x / d, self.c_xy / d)))  # fmt: skip


@dataclass
class UnitData:
    """Per-variant moments of each metric of a unit file (or arrays), read in one pass."""

    metrics: tuple[str, ...]
    pre: dict[str, str]
    counts: dict[str, int] = field(default_factory=dict)
    moments: dict[tuple[str, str], _Moments] = field(default_factory=dict)

    @property
    def variants(self) -> tuple[str, ...]:
        """Variant names in the order they first appeared."""
        return tuple(self.counts)

    def arm(self, metric: str, variant: str) -> PrePost:
        """One arm's moments of ``metric`` (pre-period fields are 0 without a pre column)."""
        return self.moments[(metric, variant)].prepost()

    def add(self, variants: Sequence[str], values: Mapping[str, FloatArray],
            pre_values: Mapping[str, FloatArray]) -> None:  # fmt: skip
        """Fold a batch of units (their variants, metric and pre-period values) in."""
        names, codes = np.unique(np.asarray(variants, dtype=object), return_inverse=True)
        for j, name in enumerate(names):
            rows = codes == j
            key = str(name)
            self.counts[key] = self.counts.get(key, 0) + int(rows.sum())
            for metric in self.metrics:
                acc = self.moments.setdefault((metric, key), _Moments())
                x = pre_values.get(metric)
                acc.update(values[metric][rows], None if x is None else x[rows])


def _pre_columns(pre: Mapping[str, str] | None, metrics: Sequence[str]) -> dict[str, str]:
    out = dict(pre or {})
    for metric, column in out.items():
        if metric not in metrics:
            raise InputError(f"--pre names metric {metric!r}, which is not a metric column")
        if column == metric:
            raise InputError(f"--pre {metric}={column}: a metric cannot be its own pre-period")
    return out


def units_from_arrays(
    variants: Sequence[str],
    metrics: Mapping[str, Any],
    *,
    pre: Mapping[str, Any] | None = None,
) -> UnitData:
    """Unit data from in-memory arrays: one variant name per unit, one array per metric and
    optionally one pre-period array per metric (keyed by the metric's name)."""
    names = [str(v) for v in variants]
    values = {m: _array(v).ravel() for m, v in metrics.items()}
    pre_values = {m: _array(v).ravel() for m, v in (pre or {}).items()}
    for column, array in {**values, **{f"pre of {k}": v for k, v in pre_values.items()}}.items():
        if array.size != len(names):
            raise InputError(f"{column} has {array.size} values for {len(names)} units")
        bad = np.flatnonzero(~np.isfinite(array))
        if bad.size:
            raise InputError(f"{column} value {bad[0]} is not a finite number")
    if not values:
        raise InputError("no metric to analyse")
    unknown = [m for m in pre_values if m not in values]
    if unknown:
        raise InputError(f"pre-period values given for {unknown[0]!r}, which is not a metric")
    data = UnitData(tuple(values), {m: f"pre of {m}" for m in pre_values})
    data.add(names, values, pre_values)
    return data


def _numbers(cells: Sequence[str], column: str, lines: Sequence[int], where: str) -> FloatArray:
    """A column of text cells as floats; InputError naming the column and first bad line."""
    try:
        out = np.array(cells, dtype=np.float64)
    except ValueError:
        out = None
    bad = -1
    if out is None:
        for i, cell in enumerate(cells):
            try:
                float(cell)
            except ValueError:
                bad = i
                break
    else:
        nonfinite = np.flatnonzero(~np.isfinite(out))
        bad = int(nonfinite[0]) if nonfinite.size else -1
    if bad < 0:
        assert out is not None
        return out
    cell = cells[bad].strip()
    what = "is empty" if not cell else f"has {cell!r}, which is not a finite number"
    raise InputError(
        f"{where}: column {column!r} {what} on line {lines[bad]} "
        f"(data row {lines[bad] - 1}); every unit needs a number in every metric column",
        details={"column": column, "line": lines[bad], "value": cells[bad]},
    )


def _rows(path: Path, where: str) -> Iterator[tuple[int, list[str]]]:
    """(line, fields) of a CSV file, header first; InputError on undecodable text."""
    line = 0
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            for row in reader:
                line = reader.line_num
                yield line, row
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 text (after line {line})") from None
    except csv.Error as exc:
        raise InputError(f"{where}: line {line + 1}: {exc}") from None


def read_units_csv(
    path: Path | str,
    *,
    pre: Mapping[str, str] | None = None,
    chunk_rows: int = 50_000,
) -> UnitData:
    """Stream a CSV of ``unit_id,variant,<metric columns...>`` into per-variant moments.

    Every column besides ``unit_id`` and ``variant`` is a numeric metric, except the pre-period
    columns named in ``pre`` (``{metric: pre_column}``, for CUPED). Memory holds one chunk of
    rows and the set of unit ids seen (a unit listed twice is an error). InputError names the
    file, column and line of the first problem.
    """
    file = Path(path)
    where = file.name
    if not file.is_file():
        raise InputError(f"{file}: no such file")
    rows = _rows(file, where)
    first = next(rows, None)
    if first is None:
        raise InputError(f"{where}: the file is empty; expected a header unit_id,variant,...")
    header = [name.strip() for name in first[1]]
    for required in (UNIT_COLUMN, VARIANT_COLUMN):
        if required not in header:
            raise SchemaError(
                f"{where}: no {required!r} column; the header is {','.join(header)}",
                details={"column": required},
            )
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise SchemaError(f"{where}: column {duplicated[0]!r} appears twice in the header")
    pre_map = dict(pre or {})
    for metric, column in pre_map.items():
        for name in (metric, column):
            if name not in header:
                raise SchemaError(f"{where}: --pre names {name!r}, which is not a column")
    skip = {UNIT_COLUMN, VARIANT_COLUMN, *pre_map.values()}
    metrics = [name for name in header if name not in skip]
    if not metrics:
        raise SchemaError(f"{where}: no metric column besides unit_id and variant")
    data = UnitData(tuple(metrics), _pre_columns(pre_map, metrics))
    index = {name: i for i, name in enumerate(header)}
    seen: set[str] = set()
    batch: list[list[str]] = []
    lines: list[int] = []

    def flush() -> None:
        if not batch:
            return
        columns = list(zip(*batch, strict=True))
        variants = [cell.strip() for cell in columns[index[VARIANT_COLUMN]]]
        values = {m: _numbers(columns[index[m]], m, lines, where) for m in metrics}
        pre_values = {m: _numbers(columns[index[c]], c, lines, where) for m, c in pre_map.items()}
        data.add(variants, values, pre_values)
        batch.clear()
        lines.clear()

    for line, row in rows:
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # a blank line
        if len(row) != len(header):
            raise InputError(
                f"{where}: line {line} has {len(row)} fields, the header has {len(header)}"
            )
        unit = row[index[UNIT_COLUMN]].strip()
        variant = row[index[VARIANT_COLUMN]].strip()
        if not unit or not variant:
            empty = UNIT_COLUMN if not unit else VARIANT_COLUMN
            raise InputError(f"{where}: column {empty!r} is empty on line {line}")
        if unit in seen:
            raise InputError(f"{where}: unit {unit!r} appears again on line {line}")
        seen.add(unit)
        batch.append(row)
        lines.append(line)
        if len(batch) >= chunk_rows:
            flush()
    flush()
    if not data.counts:
        raise InputError(f"{where}: no units after the header")
    return data


# -- the whole analysis --------------------------------------------------------------------------
@dataclass(frozen=True)
class Arm:
    """A variant's units and (unadjusted) mean of one metric."""

    name: str
    n: int
    mean: float


@dataclass(frozen=True)
class Cuped:
    """What CUPED did to one comparison: theta, the unadjusted comparison, and the adjusted
    interval's width over the unadjusted one's."""

    pre: str
    theta: float
    unadjusted: Comparison
    width_ratio: float


@dataclass(frozen=True)
class MetricResult:
    """One metric, one treatment against the control."""

    metric: str
    control: Arm
    treatment: Arm
    comparison: Comparison
    cuped: Cuped | None = None
    sequential: SequentialInterval | None = None


@dataclass(frozen=True)
class ExperimentReport:
    """The analysis of an experiment: sample-ratio check and every metric x treatment."""

    control: str
    variants: tuple[str, ...]
    split: dict[str, float]
    srm: SampleRatio
    results: tuple[MetricResult, ...]
    alpha: float = DEFAULT_ALPHA


def ordered_variants(variants: Sequence[str], control: str) -> tuple[str, ...]:
    """The control first, then the other variants by name: the order of ``--split 0.5,0.5``."""
    if control not in variants:
        raise InputError(
            f"control {control!r} is not among the variants: {', '.join(sorted(variants))}"
        )
    return (control, *sorted(v for v in variants if v != control))


def analyze(
    data: UnitData,
    *,
    control: str = "control",
    split: Mapping[str, float] | str | None = None,
    alpha: float = DEFAULT_ALPHA,
    sequential: bool = False,
    tuning_n: float = DEFAULT_TUNING_N,
) -> ExperimentReport:
    """Sample-ratio check, then every metric of every treatment against the control.

    ``split`` is the planned share of units per variant (a mapping, or the text of
    :func:`parse_split`); equal shares when omitted. Metrics with a pre-period column are
    CUPED-adjusted, with theta pooled over all variants.

    >>> data = units_from_arrays(["control", "treatment"] * 50, {"spend": [1.0, 2.0] * 50})
    >>> report = analyze(data)
    >>> report.srm.p_value, report.results[0].comparison.as_floats()["absolute_lift"]
    (1.0, 1.0)
    """
    _check_alpha(alpha)
    variants = ordered_variants(data.variants, control)
    if len(variants) < 2:
        raise InputError(f"an experiment needs at least two variants; found only {control!r}")
    planned = parse_split(split, variants) if isinstance(split, str) else split
    srm = sample_ratio_mismatch({v: data.counts[v] for v in variants}, planned)
    for variant in variants:
        if data.counts[variant] < 2:
            raise InputError(
                f"variant {variant!r} has {data.counts[variant]} unit(s); at least 2 are needed "
                "to estimate a variance"
            )
    results = []
    for metric in data.metrics:
        arms = {v: data.arm(metric, v) for v in variants}
        pre = data.pre.get(metric)
        theta, pooled_x = cuped_theta(list(arms.values())) if pre else (None, None)
        for variant in variants[1:]:
            c, t = arms[control], arms[variant]
            plain = compare(t.summary, c.summary, alpha=alpha)
            cuped = None
            if pre is not None and theta is not None:
                adj_c = cuped_summary(c, theta, pooled_x)
                adj_t = cuped_summary(t, theta, pooled_x)
                comparison = compare(adj_t, adj_c, alpha=alpha)
                ratio = float(
                    (comparison.ci_high - comparison.ci_low) / (plain.ci_high - plain.ci_low)
                )
                cuped = Cuped(pre, float(theta), plain, ratio)
            else:
                adj_c, adj_t, comparison = c.summary, t.summary, plain
            seq = (
                sequential_interval(adj_t, adj_c, alpha=alpha, tuning_n=tuning_n)
                if sequential
                else None
            )
            results.append(
                MetricResult(
                    metric=metric,
                    control=Arm(control, int(c.n), float(c.mean)),
                    treatment=Arm(variant, int(t.n), float(t.mean)),
                    comparison=comparison,
                    cuped=cuped,
                    sequential=seq,
                )
            )
    shares = dict(planned) if planned is not None else {v: 1 / len(variants) for v in variants}
    return ExperimentReport(control, variants, shares, srm, tuple(results), alpha)
