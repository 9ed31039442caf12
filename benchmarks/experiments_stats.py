"""A/B statistics against peers, and the simulations that show the error rates hold.

1. Peers on the same simulated experiments (skewed revenue-like metrics, unequal arms): the
   Welch interval and p-value against ``scipy.stats.ttest_ind(equal_var=False)``; absolute,
   relative, CUPED and sequential intervals against GrowthBook's ``gbstats`` (its frequentist
   ``TwoSidedTTest`` / ``SequentialTwoSidedTTest``, with ``RegressionAdjustedStatistic`` for
   CUPED). The largest absolute difference over all experiments must stay under 1e-3.
2. Full-size simulations: A/A false-positive rate, power of a 10% lift against the calculator,
   CUPED's interval width against ``sqrt(1 - rho^2)``, and the false-positive rate of the
   always-valid interval and of the fixed-horizon test under daily peeking.
3. Streaming a 1,000,000-unit CSV through ``read_units_csv`` and ``analyze``.

``gbstats`` 0.8.0 pins ``numpy<2`` and ``pandas<2``, which would downgrade the project's own
libraries; install it without its pins (its frequentist tests need only numpy, scipy and
pydantic): ``pip install --no-deps gbstats==0.8.0``. Without it the gbstats rows are skipped.

Run from the repository root: ``python -m benchmarks.experiments_stats [--quick]``.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats as sps

from storewise.experiments.stats import (
    PrePost,
    Summary,
    analyze,
    compare,
    cuped_summary,
    cuped_theta,
    power_of_test,
    read_units_csv,
    sample_size_per_arm,
    sequential_interval,
)

TOLERANCE = 1e-3


def _gbstats() -> Any:
    try:
        from gbstats.frequentist import tests
        from gbstats.models import statistics
    except ImportError:
        return None
    return tests, statistics


def _experiments(count: int, seed: int) -> list[dict[str, np.ndarray]]:
    """Skewed metrics with a correlated pre-period, unequal arms, lifts from 0 to 5%."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        n_c, n_t = rng.integers(500, 5000, 2)
        lift = rng.uniform(0.0, 0.05)
        arms = {}
        for name, n, factor in (("c", n_c, 1.0), ("t", n_t, 1.0 + lift)):
            before = rng.gamma(2.0, 10.0, n)
            arms[name] = factor * (0.7 * before + rng.gamma(1.5, 8.0, n))
            arms[name + "_pre"] = before
        out.append(arms)
    return out


def _gb_mean(statistics: Any, values: np.ndarray) -> Any:
    return statistics.SampleMeanStatistic(
        n=len(values), sum=float(values.sum()), sum_squares=float((values**2).sum())
    )


def _gb_adjusted(statistics: Any, post: np.ndarray, pre: np.ndarray) -> Any:
    return statistics.RegressionAdjustedStatistic(
        n=len(post), post_statistic=_gb_mean(statistics, post),
        pre_statistic=_gb_mean(statistics, pre),
        post_pre_sum_of_products=float((post * pre).sum()), theta=0,
    )  # fmt: skip


def _peers(count: int) -> list[tuple[str, str, float]]:
    """(comparison, peer, largest absolute difference) over ``count`` experiments."""
    gb = _gbstats()
    rows: dict[tuple[str, str], float] = {}

    def record(what: str, peer: str, ours: float, theirs: float) -> None:
        key = (what, peer)
        rows[key] = max(rows.get(key, 0.0), abs(ours - theirs))

    for e in _experiments(count, seed=0):
        c, t = e["c"], e["t"]
        ours = compare(Summary.of(t), Summary.of(c)).as_floats()
        welch = sps.ttest_ind(t, c, equal_var=False)
        interval = welch.confidence_interval()
        record("absolute p-value", "scipy", ours["p_value"], welch.pvalue)
        record("absolute interval", "scipy", ours["ci_low"], interval.low)
        record("absolute interval", "scipy", ours["ci_high"], interval.high)
        arms = [PrePost.of(c, e["c_pre"]), PrePost.of(t, e["t_pre"])]
        theta, pooled = cuped_theta(arms)
        adjusted_c, adjusted_t = (cuped_summary(arm, theta, pooled) for arm in arms)
        cuped = compare(adjusted_t, adjusted_c)
        seq = sequential_interval(Summary.of(t), Summary.of(c))
        if gb is None:
            continue
        tests, statistics = gb
        a, b = _gb_mean(statistics, c), _gb_mean(statistics, t)
        absolute = tests.TwoSidedTTest(a, b, tests.FrequentistConfig(difference_type="absolute"))
        result = absolute.compute_result()
        record("absolute p-value", "gbstats", ours["p_value"], result.p_value)
        record("absolute interval", "gbstats", ours["ci_low"], result.ci[0])
        record("absolute interval", "gbstats", ours["ci_high"], result.ci[1])
        relative = tests.TwoSidedTTest(a, b, tests.FrequentistConfig(difference_type="relative"))
        result = relative.compute_result()
        record("relative lift", "gbstats", ours["relative_lift"], result.expected)
        record("relative interval", "gbstats", ours["relative_ci_low"], result.ci[0])
        record("relative interval", "gbstats", ours["relative_ci_high"], result.ci[1])

        ra = tests.TwoSidedTTest(_gb_adjusted(statistics, c, e["c_pre"]),
                                 _gb_adjusted(statistics, t, e["t_pre"]),
                                 tests.FrequentistConfig(difference_type="absolute"))  # fmt: skip
        result = ra.compute_result()
        record("CUPED absolute interval", "gbstats", float(cuped.ci_low), result.ci[0])
        record("CUPED absolute interval", "gbstats", float(cuped.ci_high), result.ci[1])
        record("CUPED p-value", "gbstats", float(cuped.p_value), result.p_value)
        sequential = tests.SequentialTwoSidedTTest(
            a, b, tests.SequentialConfig(difference_type="absolute",
                                         sequential_tuning_parameter=5000)
        )  # fmt: skip
        result = sequential.compute_result()
        record("sequential interval", "gbstats", float(seq.ci_low), result.ci[0])
        record("sequential interval", "gbstats", float(seq.ci_high), result.ci[1])
        record("sequential p-value", "gbstats", float(seq.p_value), result.p_value)
    return [(what, peer, diff) for (what, peer), diff in rows.items()]


def _chunks(total: int, size: int) -> list[tuple[int, int]]:
    """(index, size) of the chunks ``total`` simulations run in, to bound memory."""
    return [(i, min(size, total - start)) for i, start in enumerate(range(0, total, size))]


def _chunked(total: int, size: int, run: Callable[[int, int], float]) -> float:
    """Run ``run(chunk_index, chunk_size)`` over chunks; the mean of its results, weighted."""
    return sum(run(i, k) * k for i, k in _chunks(total, size)) / total


def _aa(sims: int, n: int) -> float:
    def chunk(i: int, size: int) -> float:
        rng = np.random.default_rng(100 + i)
        y = rng.gamma(2.0, 10.0, size=(2, size, n))
        return float(np.mean(compare(Summary.of(y[0]), Summary.of(y[1])).p_value < 0.05))

    return _chunked(sims, 1000, chunk)


def _power(sims: int) -> tuple[int, float, float]:
    n_c, n_t = sample_size_per_arm(1.0, 8.0)
    predicted = power_of_test(1.0, 8.0, n_c, n_t)

    def chunk(i: int, size: int) -> float:
        rng = np.random.default_rng(200 + i)
        c = rng.normal(10.0, 8.0, (size, n_c))
        t = rng.normal(11.0, 8.0, (size, n_t))
        r = compare(Summary.of(t), Summary.of(c))
        return float(np.mean((r.p_value < 0.05) & (r.absolute_lift > 0)))

    return n_c, predicted, _chunked(sims, 1000, chunk)


def _cuped(sims: int, n: int, rho: float) -> tuple[float, float]:
    """Mean interval-width ratio and A/A false-positive rate of CUPED at correlation rho."""
    ratios, fps = [], []
    for i, size in _chunks(sims, 500):
        rng = np.random.default_rng([300, i, round(rho * 100)])
        x = rng.normal(0.0, 1.0, (2, size, n))
        y = rho * x + math.sqrt(1 - rho**2) * rng.normal(0.0, 1.0, (2, size, n))
        arms = [PrePost.of(y[0], x[0]), PrePost.of(y[1], x[1])]
        theta, pooled = cuped_theta(arms)
        adj = compare(cuped_summary(arms[1], theta, pooled), cuped_summary(arms[0], theta, pooled))
        plain = compare(arms[1].summary, arms[0].summary)
        ratios.append(np.sum((adj.ci_high - adj.ci_low) / (plain.ci_high - plain.ci_low)))
        fps.append(np.sum(adj.p_value < 0.05))
    return float(np.sum(ratios) / sims), float(np.sum(fps) / sims)


def _peeking(sims: int, days: int, per_day: int) -> tuple[float, float]:
    """False-positive rate (any look rejects) of the always-valid interval and of the
    fixed-horizon test, A/A, one look per day."""
    ends = np.arange(1, days + 1) * per_day - 1
    seq_fp, fixed_fp = [], []
    for i, size in _chunks(sims, 250):
        rng = np.random.default_rng(400 + i)
        arms = []
        for _ in range(2):
            y = rng.gamma(2.0, 10.0, size=(size, days * per_day))
            s1, s2 = np.cumsum(y, axis=1)[:, ends], np.cumsum(y**2, axis=1)[:, ends]
            n = np.broadcast_to(ends + 1.0, s1.shape)
            mean = s1 / n
            arms.append(Summary.from_moments(n, mean, (s2 - n * mean**2) / (n - 1)))
        seq = sequential_interval(arms[0], arms[1], tuning_n=2 * days * per_day)
        seq_fp.append(np.sum(np.any((seq.ci_low > 0) | (seq.ci_high < 0), axis=1)))
        fixed_fp.append(np.sum(np.any(compare(arms[0], arms[1]).p_value < 0.05, axis=1)))
    return float(np.sum(seq_fp) / sims), float(np.sum(fixed_fp) / sims)


def _stream(units: int) -> tuple[float, float]:
    """Seconds to write and to analyse a CSV of ``units`` rows (two metrics + a pre column)."""
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "units.csv"
        start = time.perf_counter()
        variant = np.where(rng.random(units) < 0.5, "control", "treatment")
        before = rng.gamma(2.0, 10.0, units)
        revenue = 0.7 * before + rng.gamma(1.5, 8.0, units)
        orders = rng.poisson(1.2, units)
        with path.open("w") as handle:
            handle.write("unit_id,variant,revenue,orders,revenue_before\n")
            for i in range(units):
                handle.write(f"u{i},{variant[i]},{revenue[i]:.4f},{orders[i]},{before[i]:.4f}\n")
        written = time.perf_counter() - start
        start = time.perf_counter()
        report = analyze(read_units_csv(path, pre={"revenue": "revenue_before"}), sequential=True)
        assert len(report.results) == 2
        return written, time.perf_counter() - start


def main() -> None:
    """Print the peer comparison and the simulation table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of every size")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    start = time.perf_counter()
    rows = _peers(200 // scale)
    print(f"\nPeers on {200 // scale} simulated experiments ({time.perf_counter() - start:.1f} s)")
    if _gbstats() is None:
        print("  gbstats not importable: pip install --no-deps gbstats==0.8.0 to compare with it")
    print(f"  {'figure':<26}{'peer':<10}{'max |difference|':>18}  within {TOLERANCE:g}")
    for what, peer, diff in rows:
        print(f"  {what:<26}{peer:<10}{diff:>18.2e}  {'yes' if diff <= TOLERANCE else 'NO'}")

    print("\nSimulations")
    sims = 10_000 // scale
    start = time.perf_counter()
    rate = _aa(sims, 1000)
    print(f"  A/A, {sims:,} tests x 1,000 units per arm (gamma): false-positive rate "
          f"{rate:.2%} (alpha 5%) in {time.perf_counter() - start:.1f} s")  # fmt: skip
    start = time.perf_counter()
    n_arm, predicted, observed = _power(sims)
    print(f"  10% lift (mean 10, sd 8), {n_arm:,} units per arm from the calculator, {sims:,} "
          f"tests: power predicted {predicted:.1%}, observed {observed:.1%} "
          f"in {time.perf_counter() - start:.1f} s")  # fmt: skip
    for rho in (0.3, 0.5, 0.7, 0.9):
        start = time.perf_counter()
        ratio, fp = _cuped(2000 // scale, 2000, rho)
        print(f"  CUPED rho {rho}: interval width ratio {ratio:.3f} (sqrt(1-rho^2) "
              f"{math.sqrt(1 - rho**2):.3f}), A/A false positives {fp:.2%}, {2000 // scale:,} "
              f"tests x 2,000 units per arm in {time.perf_counter() - start:.1f} s")  # fmt: skip
    start = time.perf_counter()
    seq, fixed = _peeking(2000 // scale, 30, 100)
    print(f"  Peeking daily for 30 days (100 units per arm per day), {2000 // scale:,} A/A tests: "
          f"any look significant: always-valid {seq:.2%}, fixed-horizon {fixed:.2%} "
          f"in {time.perf_counter() - start:.1f} s")  # fmt: skip
    units = 1_000_000 // scale
    written, analysed = _stream(units)
    print(f"\nStreaming a {units:,}-unit CSV (2 metrics, CUPED, sequential): analysed in "
          f"{analysed:.1f} s ({units / analysed:,.0f} units/s); writing it took "
          f"{written:.1f} s")  # fmt: skip
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
