"""CLV benchmark: CDNOW parameters vs published, Online Retail holdout, RFM + CLV timing.

Run from the repository root: ``python -m benchmarks.marketing_clv [--figures DIR]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date
from pathlib import Path

import numpy as np

from benchmarks.marketing_data import cdnow_transactions, online_retail_lines
from storewise.marketing import plots
from storewise.marketing.clv import BGNBD, GammaGamma, evaluate_holdout, fit_clv
from storewise.marketing.rfm import rfm_scores, segment_summary
from storewise.marketing.summary import summarise
from storewise.marketing.transactions import to_transactions

PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4}
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def _row(name: str, fitted: float, published: float) -> str:
    rel = fitted / published - 1.0
    return f"  {name:<15}{fitted:>12.4f}{published:>12.4f}{rel:>+10.2%}"


def cdnow() -> None:
    """Fit BG/NBD and Gamma-Gamma on CDNOW_sample (39-week calibration) against the papers."""
    tx = cdnow_transactions()
    start = time.perf_counter()
    summary = summarise(
        tx, fit_until=date(1997, 9, 30), holdout_until=date(1998, 6, 30), time_unit="week"
    )
    bgnbd = BGNBD().fit(summary)
    gg = GammaGamma().fit(summary)
    elapsed = time.perf_counter() - start
    print("CDNOW sample: 2,357 customers, calibration 1997-01-01..1997-09-30 (39 weeks)")
    print(f"  {'parameter':<15}{'fitted':>12}{'published':>12}{'diff':>10}")
    params = bgnbd.params.as_dict()
    for name, value in PUBLISHED_BGNBD.items():
        print(_row(name, params[name], value))
    print(
        f"  Gamma-Gamma on {gg.params.n_customers} repeat buyers ({gg.params.n_excluded} excluded)"
    )
    gparams = gg.params.as_dict()
    for name, value in PUBLISHED_GG.items():
        print(_row(name, gparams[name], value))
    print(f"  summary + both fits: {elapsed:.2f} s")
    ev = evaluate_holdout(bgnbd, summary)
    print(
        f"  holdout 1997-10-01..1998-06-30: predicted {ev.predicted_total:,.0f} vs actual "
        f"{ev.actual_total:,} purchase days ({ev.relative_error:+.1%}), "
        f"per-customer correlation {ev.correlation:.3f}"
    )
    print()


def online_retail(figures: Path | None) -> None:
    """Calibrate on Online Retail before 2011-09-01 and predict to 2011-12-09; time RFM + CLV."""
    lines = online_retail_lines()
    transactions = to_transactions(lines)
    summary = summarise(
        transactions, fit_until=date(2011, 8, 31), holdout_until=date(2011, 12, 9),
        time_unit="week",
    )  # fmt: skip
    model = BGNBD().fit(summary)
    ev = evaluate_holdout(model, summary)
    p = model.params
    print(
        "Online Retail: calibration 2010-12-01..2011-08-31, holdout 2011-09-01..2011-12-09 "
        f"({summary.holdout_length:.1f} weeks), {ev.n_customers:,} customers"
    )
    print(f"  BG/NBD r={p.r:.3f} alpha={p.alpha:.3f} a={p.a:.2e} b={p.b:.3g}", end="")
    print(f" LL={p.log_likelihood:.1f}")
    print(
        f"  predicted {ev.predicted_total:,.0f} vs actual {ev.actual_total:,} purchase days "
        f"({ev.relative_error:+.1%}); per-customer correlation {ev.correlation:.3f}; "
        f"MAE {ev.mean_absolute_error:.3f}"
    )
    print("  by calibration repeat purchases (actual vs predicted mean in holdout):")
    for row in ev.by_frequency.iter_rows(named=True):
        label = f"{row['frequency']}{'+' if row['frequency'] == 7 else ''}"
        print(
            f"    {label:>3}: {row['customers']:>5} customers  actual {row['actual_mean']:.2f}"
            f"  predicted {row['predicted_mean']:.2f}"
        )
    times = []
    for _ in range(3):
        start = time.perf_counter()
        tx = to_transactions(lines)
        scores = rfm_scores(tx)
        result = fit_clv(tx)
        times.append(time.perf_counter() - start)
    print(
        f"  RFM + CLV for all {result.predictions.height:,} customers ({lines.height:,} order "
        f"lines): median {statistics.median(times):.2f} s, min {min(times):.2f} s of 3 runs"
    )
    clv = result.predictions.get_column("clv").to_numpy()
    print(
        f"  12-month CLV: mean {np.mean(clv):,.0f}, median {np.median(clv):,.0f}, "
        f"top decile share {np.sort(clv)[-len(clv) // 10 :].sum() / clv.sum():.1%}"
    )
    if figures is not None:
        figures.mkdir(parents=True, exist_ok=True)
        for name, fig in (
            ("segments", plots.segment_chart(segment_summary(scores))),
            ("clv", plots.clv_histogram(result.predictions)),
            ("holdout", plots.holdout_chart(ev)),
        ):
            (figures / f"marketing_{name}.svg").write_text(plots.to_svg(fig))
        print(f"  figures written to {figures}")
    print()


def main() -> None:
    """Run both CLV benchmarks and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--figures", type=Path, default=None, help="write SVG figures here")
    args = parser.parse_args()
    cdnow()
    online_retail(args.figures)


if __name__ == "__main__":
    main()
