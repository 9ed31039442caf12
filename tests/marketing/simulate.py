"""Synthetic data drawn from known models, for parameter-recovery and estimator tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl


def simulate_bgnbd(
    n: int, *, r: float, alpha: float, a: float, b: float, seed: int = 0, spend: bool = False
) -> pl.DataFrame:
    """Transactions drawn from a BG/NBD process (daily resolution), for parameter-recovery tests.

    Customers are acquired uniformly over the first 12 weeks of 2020 and observed to day 273.
    With ``spend`` the values follow Gamma-Gamma with p=6, q=4, gamma=15.
    """
    rng = np.random.default_rng(seed)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    customers: list[str] = []
    times: list[datetime] = []
    values: list[float] = []
    for i in range(n):
        first_day = int(rng.integers(0, 84))
        horizon = (273 - first_day) / 7.0
        lam = rng.gamma(r, 1.0 / alpha)
        p = rng.beta(a, b)
        nu = rng.gamma(4.0, 1.0 / 15.0) if spend else 0.0
        t = 0.0
        purchase_days = {first_day}
        while True:
            t += rng.exponential(1.0 / lam) if lam > 0 else np.inf
            if t > horizon:
                break
            purchase_days.add(first_day + int(t * 7))
            if rng.random() < p:
                break
        for day in sorted(purchase_days):
            customers.append(f"c{i:05d}")
            times.append(start + timedelta(days=day, hours=12))
            values.append(float(rng.gamma(6.0, 1.0 / nu)) if spend else 10.0)
    return pl.DataFrame({"customer_id": customers, "ts": times, "value": values})


def simulate_seasonal_bgnbd(
    n: int,
    *,
    factors: list[float],
    r: float = 0.8,
    alpha: float = 8.0,
    a: float = 0.3,
    b: float = 3.0,
    start: datetime = datetime(2020, 1, 1, tzinfo=UTC),
    acquire_days: int = 365,
    days: int = 1095,
    seed: int = 0,
) -> pl.DataFrame:
    """Transactions from a BG/NBD process whose purchase rate is multiplied by ``factors``
    (twelve, January first) in each calendar month: the process runs on seasonal time, each
    calendar day lasting its month's factor. Customers join uniformly over ``acquire_days``;
    values follow Gamma-Gamma with p=6, q=4, gamma=15."""
    rng = np.random.default_rng(seed)
    offsets = np.arange(days + 1)
    months = [(start + timedelta(days=int(d))).month - 1 for d in offsets]
    clock = np.concatenate([[0.0], np.cumsum([factors[m] for m in months])])
    customers: list[str] = []
    times: list[datetime] = []
    values: list[float] = []
    for i in range(n):
        first = int(rng.integers(0, acquire_days))
        lam = rng.gamma(r, 1.0 / alpha) / 7.0  # per (seasonal) day
        nu = rng.gamma(4.0, 1.0 / 15.0)
        p = rng.beta(a, b)
        moment = clock[first]
        purchase_days = {first}
        while True:
            moment += rng.exponential(1.0 / lam)
            if moment > clock[days]:
                break
            day = int(np.searchsorted(clock, moment)) - 1
            purchase_days.add(day)
            if rng.random() < p:
                break
        for day in sorted(purchase_days):
            customers.append(f"s{i:05d}")
            times.append(start + timedelta(days=day, hours=12))
            values.append(float(rng.gamma(6.0, 1.0 / nu)))
    return pl.DataFrame({"customer_id": customers, "ts": times, "value": values})
