"""Uplift benchmark on Hillstrom: uplift in the top 30% vs random targeting, Qini, per arm.

Each e-mail arm against no e-mail, outcome ``visit``; stratified 70/30 split (seed 0).
Run from the repository root: ``python -m benchmarks.marketing_uplift [--figures DIR]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import polars as pl

from benchmarks.marketing_data import hillstrom
from storewise.marketing import plots
from storewise.marketing.uplift import (
    QiniCurve,
    UpliftConfig,
    UpliftModel,
    ate_table,
    stratified_split,
    uplift_report,
)

FEATURES = [
    "recency", "history_segment", "history", "mens", "womens", "zip_code", "newbie", "channel",
]  # fmt: skip
CONTROL = "No E-Mail"


def main() -> None:
    """Print ATEs and, per arm and learner, uplift@30% vs random and the Qini coefficient."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--figures", type=Path, default=None, help="write SVG figures here")
    parser.add_argument(
        "--threads", type=int, default=1, help="OpenMP threads for boosting (0: library default)"
    )
    args = parser.parse_args()
    data = hillstrom()
    print("Hillstrom e-mail experiment: ATE of each arm vs no e-mail (all 64,000 customers)")
    table = ate_table(
        data, treatment="segment", control=CONTROL, outcomes=["visit", "conversion", "spend"]
    )
    for row in table.iter_rows(named=True):
        unit = "$" if row["outcome"] == "spend" else "pp"
        value = row["ate"] if unit == "$" else row["ate"] * 100
        print(f"  {row['arm']:<14} {row['outcome']:<11} {value:+.2f} {unit}")
    print()
    print("Held-out 30% (stratified by arm x visit, seed 0), outcome visit, k = 30%")
    print(
        f"  {'arm':<14}{'learner':<10}{'base':<8}{'uplift@30%':>11}{'random':>9}{'lift':>7}"
        f"{'Qini coef':>11}{'AUUC':>9}{'random':>9}{'fit s':>7}"
    )
    curves: dict[str, QiniCurve] = {}
    for arm in ("Mens E-Mail", "Womens E-Mail"):
        rows = data.filter(pl.col("segment").is_in([arm, CONTROL]))
        train, test = stratified_split(rows, stratify=["segment", "visit"], test_size=0.3, seed=0)
        for learner in ("t", "x"):
            for base in ("linear", "hgb"):
                threads = args.threads or None
                config = UpliftConfig(learner=learner, base=base, threads=threads)
                start = time.perf_counter()
                model = UpliftModel(config).fit(
                    train, features=FEATURES, treatment="segment", arm=arm, control=CONTROL,
                    outcome="visit",
                )  # fmt: skip
                seconds = time.perf_counter() - start
                report = uplift_report(
                    model, test, treatment="segment", control=CONTROL, outcome="visit"
                )
                q = report.qini
                print(
                    f"  {arm:<14}{learner.upper() + '-learner':<10}{base:<8}"
                    f"{report.uplift_at_k * 100:>10.2f}p{report.ate * 100:>8.2f}p"
                    f"{report.uplift_at_k / report.ate:>7.2f}{q.qini_coefficient:>11.5f}"
                    f"{q.auuc:>9.4f}{q.auuc_random:>9.4f}{seconds:>7.1f}"
                )
                curves[f"{arm.split()[0]} {learner.upper()}-{base}"] = q
    if args.figures is not None:
        args.figures.mkdir(parents=True, exist_ok=True)
        path = args.figures / "marketing_qini.svg"
        path.write_text(plots.to_svg(plots.qini_chart(curves)))
        print(f"  Qini figure written to {path}")


if __name__ == "__main__":
    main()
