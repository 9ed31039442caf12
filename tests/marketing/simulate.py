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
