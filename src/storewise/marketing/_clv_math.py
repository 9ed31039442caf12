"""Likelihoods, optimiser and expectations behind :mod:`storewise.marketing.clv` (internal).

Kept apart so ``clv.py`` reads as the model API; everything here works on plain floats and
arrays. Parameters are passed as ``(r, alpha, a, b)`` for BG/NBD.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
from scipy import integrate, optimize, special

from storewise.errors import InputError

FloatArray = npt.NDArray[np.float64]
Objective = Callable[[FloatArray], tuple[float, FloatArray]]
Params = tuple[float, float, float, float]
LOG_BOUND = 15.0


def compress(*columns: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Unique rows of the columns and their counts, so the likelihood sums each pattern once."""
    stacked = np.column_stack(columns)
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return unique, counts.astype(np.float64)


def maximise(
    objective: Objective,
    starts: Sequence[FloatArray],
    *,
    max_iterations: int,
    polish: bool,
) -> tuple[FloatArray, float, bool]:
    """Minimise ``objective`` (value, gradient) over log parameters; returns (x, value, ok)."""
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(starts[0])
    best: optimize.OptimizeResult | None = None
    for start in starts:
        with np.errstate(all="ignore"):
            res = optimize.minimize(
                objective,
                start,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": max_iterations},
            )
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
            best = res
    if best is None:
        raise InputError("the likelihood could not be evaluated at any starting point")
    x = np.asarray(best.x, dtype=np.float64)
    value = float(best.fun)
    if polish:

        def value_only(z: FloatArray) -> float:
            return objective(np.clip(z, -LOG_BOUND, LOG_BOUND))[0]

        with np.errstate(all="ignore"):
            nm = optimize.minimize(
                value_only,
                x,
                method="Nelder-Mead",
                options={"maxiter": max_iterations, "xatol": 1e-9, "fatol": 1e-12},
            )
            if np.isfinite(nm.fun) and nm.fun < value:
                x, value = (
                    np.clip(np.asarray(nm.x, dtype=np.float64), -LOG_BOUND, LOG_BOUND),
                    nm.fun,
                )
    grad = objective(x)[1]
    interior = np.abs(x) < LOG_BOUND - 1e-6
    ok = bool(np.all(np.abs(grad[interior]) < 1e-3))
    return x, float(value), ok


def bgnbd_terms(
    log_params: FloatArray, x: FloatArray, tx: FloatArray, big_t: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per-row log-likelihood and its gradient with respect to the log parameters."""
    r, alpha, a, b = np.exp(log_params)
    repeat = x > 0
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = (
        special.gammaln(b + x)
        - special.gammaln(b)
        + special.gammaln(a + b)
        - special.gammaln(a + b + x)
    )
    a3 = -(r + x) * np.log(alpha + big_t)
    bx1 = np.where(repeat, b + x - 1.0, 1.0)
    a4 = np.where(repeat, np.log(a) - np.log(bx1) - (r + x) * np.log(alpha + tx), -np.inf)
    mix = np.logaddexp(a3, a4)
    w3 = np.exp(a3 - mix)
    w4 = np.where(repeat, np.exp(a4 - mix), 0.0)
    ll = a1 + a2 + mix
    d_r = (
        special.digamma(r + x)
        - special.digamma(r)
        + np.log(alpha)
        - w3 * np.log(alpha + big_t)
        - w4 * np.log(alpha + tx)
    )
    d_alpha = r / alpha - w3 * (r + x) / (alpha + big_t) - w4 * (r + x) / (alpha + tx)
    dig_ab = special.digamma(a + b) - special.digamma(a + b + x)
    d_a = dig_ab + w4 / a
    d_b = special.digamma(b + x) - special.digamma(b) + dig_ab - w4 / bx1
    grad = np.column_stack([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
    return ll, grad


def closed_form_counts(
    r: float,
    alpha: float,
    a: float,
    b: float,
    t: float | FloatArray,
    x: FloatArray,
    big_t: FloatArray,
) -> FloatArray:
    """E[purchases in t | alive] from the published 2F1 formula, Pfaff-transformed for stability.

    The published ``(a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))**(r+x) * 2F1(r+x, b+x;
    a+b+x-1; t/(alpha+T+t))]`` equals ``c/(a-1) * (1 - F)`` with ``F = 2F1(r+x, a-1; c; -u)``,
    ``u = t/(alpha+T)``; for ``u > 1`` a second Pfaff transform keeps the argument in (0, 1).
    """
    c = a + b + x - 1.0
    u = t / (alpha + big_t)
    with np.errstate(all="ignore"):
        near = special.hyp2f1(r + x, a - 1.0, c, -u)
        far = (1.0 + u) ** (1.0 - a) * special.hyp2f1(a + b - 1.0 - r, a - 1.0, c, u / (1.0 + u))
        hyp = np.where(u <= 1.0, near, far)
        return np.asarray(c / (a - 1.0) * (1.0 - hyp), dtype=np.float64)


def alive_counts(params: Params, t: float, x: FloatArray, big_t: FloatArray) -> FloatArray:
    """E[purchases in t | alive], closed form where it is trustworthy, quadrature elsewhere."""
    r, alpha, a, b = params
    if abs(a - 1.0) < 1e-4:
        # the closed form is 0/0 at a = 1; the symmetric average is exact to O(1e-8)
        counts = 0.5 * (
            closed_form_counts(r, alpha, 1.0 + 1e-4, b, t, x, big_t)
            + closed_form_counts(r, alpha, 1.0 - 1e-4, b, t, x, big_t)
        )
    else:
        counts = closed_form_counts(r, alpha, a, b, t, x, big_t)
    # alive, a customer buys at most as much as with no dropout: (r + x) * t / (alpha + T)
    u = t / (alpha + big_t)
    ceiling = (r + x) * u
    # scipy's 2F1 can lose accuracy with its argument near 1 (horizons > 100 x (alpha + T))
    bad = ~np.isfinite(counts) | (counts < -1e-12) | (counts > ceiling * (1 + 1e-8) + 1e-12)
    bad |= u > 100.0
    for i in np.flatnonzero(bad):
        counts[i] = alive_count_by_quadrature(params, t, float(x[i]), float(big_t[i]))
    return np.clip(counts, 0.0, ceiling)


def new_customer_counts(params: Params, t: FloatArray) -> FloatArray:
    """E[repeat purchases within each ``t``] of a customer just acquired, vectorised over ``t``
    (the unconditional BG/NBD expectation; quadrature where the closed form is untrustworthy)."""
    r, alpha, a, b = params
    t = np.asarray(t, dtype=np.float64)
    zeros = np.zeros_like(t)
    if abs(a - 1.0) < 1e-4:
        counts = 0.5 * (
            closed_form_counts(r, alpha, 1.0 + 1e-4, b, t, zeros, zeros)
            + closed_form_counts(r, alpha, 1.0 - 1e-4, b, t, zeros, zeros)
        )
    else:
        counts = closed_form_counts(r, alpha, a, b, t, zeros, zeros)
    u = t / alpha
    ceiling = r * u
    bad = ~np.isfinite(counts) | (counts < -1e-12) | (counts > ceiling * (1 + 1e-8) + 1e-12)
    bad |= u > 100.0
    counts = np.array(counts, dtype=np.float64)
    for i in np.flatnonzero(bad):
        counts[i] = alive_count_by_quadrature(params, float(t[i]), 0.0, 0.0)
    return np.clip(counts, 0.0, ceiling)


def alive_count_by_quadrature(params: Params, t: float, x: float, big_t: float) -> float:
    """E[purchases in t | alive] by integrating over the Beta(a, b + x) dropout posterior.

    Given alive, lambda ~ Gamma(r + x, alpha + T) and p ~ Beta(a, b + x), so the count is
    E_p[(1 - (1 + p u)^-(r+x)) / p] with u = t / (alpha + T). The integrand minus its value at
    p = 0 is integrated over log p (robust for tiny a), and near p = 1 directly (with an
    algebraic weight when b + x < 1 makes the density singular there).
    """
    r, alpha, a, b = params
    k = r + x
    u = t / (alpha + big_t)
    g0 = k * u
    if g0 == 0.0:
        return 0.0
    bx = b + x
    log_norm = float(special.betaln(a, bx))

    def excess(q: float) -> float:
        return float(-np.expm1(-k * np.log1p(q * u)) / q - g0)

    def in_log_p(v: float) -> float:
        q = float(np.exp(v))
        return excess(q) * float(np.exp(a * v + (bx - 1.0) * np.log1p(-q) - log_norm))

    def near_one(q: float) -> float:
        log_tail = (bx - 1.0) * np.log1p(-q) if bx >= 1.0 and q < 1.0 else 0.0
        if bx >= 1.0 and q >= 1.0:
            return 0.0
        return excess(q) * float(np.exp((a - 1.0) * np.log(q) + log_tail - log_norm))

    low, mid = -60.0, float(np.log(0.5))
    hints = sorted({v for v in (-np.log1p(bx), -np.log1p(g0)) if low < v < mid})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        left, _ = integrate.quad(in_log_p, low, mid, points=hints or None, limit=200)
        if bx >= 1.0:
            right, _ = integrate.quad(near_one, 0.5, 1.0, limit=200)
        else:  # (1 - p)^(b + x - 1) is singular at p = 1: integrate it as an algebraic weight
            right, _ = integrate.quad(
                near_one, 0.5, 1.0, weight="alg", wvar=(0.0, bx - 1.0), limit=200
            )
    return float(g0 + left + right)


def gamma_gamma_terms(
    log_params: FloatArray, x: FloatArray, m: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per-row Gamma-Gamma log-likelihood and its gradient with respect to log (p, q, gamma)."""
    p, q, g = np.exp(log_params)
    px = p * x
    log_gm = np.log(g + m * x)
    ll = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(g)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_gm
    )
    dig = special.digamma(px + q)
    d_p = x * (dig - special.digamma(px) + np.log(m) + np.log(x) - log_gm)
    d_q = dig - special.digamma(q) + np.log(g) - log_gm
    d_g = q / g - (px + q) / (g + m * x)
    return ll, np.column_stack([d_p * p, d_q * q, d_g * g])
