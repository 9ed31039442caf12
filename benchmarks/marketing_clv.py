"""CLV benchmark: CDNOW parameters vs published, Online Retail holdout, RFM + CLV timing, churn
calibration on Online Retail's holdout, and the seasonal index on CDNOW's.

Run from the repository root: ``python -m benchmarks.marketing_clv [--figures DIR]``. With
``--validation`` it prints instead the validation-period comparisons the methods were chosen on
(churn recalibration variants; seasonal index variants), which never touch a held-out period:

- churn: Online Retail lapses from 2011-06-03 to 2011-08-31 (predicted at 2011-06-02), CDNOW
  master lapses in the 90 days after 1997-12-31 and after 1998-03-31; the variants are
  recalibrated on the 90 days before the prediction day;
- seasonal index: CDNOW master and sample calibrated to 1998-01-31 (13 months), predicting
  February and March 1998.

The held-out figures (run once): Online Retail churn calibrated to 2011-08-31, lapses in the 90
days to 2011-11-29; CDNOW master calibrated to 1998-03-31, purchases from April to June 1998.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from scipy import special

from benchmarks.marketing_data import cdnow_transactions, online_retail_lines
from storewise.marketing import plots
from storewise.marketing._clv_math import new_customer_counts
from storewise.marketing.churn import check_churn, score_lapses
from storewise.marketing.clv import BGNBD, GammaGamma, evaluate_holdout, fit_clv
from storewise.marketing.rfm import rfm_scores, segment_summary
from storewise.marketing.seasonality import SHRINK, SeasonalIndex, learn_seasonal_index
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


def _deciles(table: pl.DataFrame) -> None:
    print("    decile  customers  predicted  observed")
    for row in table.iter_rows(named=True):
        print(
            f"    {row['decile']:>6}  {row['customers']:>9,}  {row['predicted']:>9.1%}"
            f"  {row['observed']:>8.1%}"
        )


def churn_holdout() -> None:
    """Held out: churn risk at 2011-08-31 against who made no purchase by 2011-11-29."""
    transactions = to_transactions(online_retail_lines())
    cut = date(2011, 8, 31)
    started = time.perf_counter()
    check = check_churn(transactions, cut=cut)
    elapsed = time.perf_counter() - started
    summary = summarise(transactions, fit_until=cut, holdout_until=check.until)
    model = BGNBD().fit(summary)
    lapsed = (summary.frame.get_column("frequency_holdout").to_numpy() == 0).astype(float)
    old = 1.0 - model.probability_alive(*summary.arrays())
    old_ece, old_brier, _ = score_lapses(old, lapsed)
    print(
        f"Online Retail churn: P(no purchase in 90 days) at {cut}, observed "
        f"{cut + timedelta(days=1)} to {check.until}, {check.customers:,} customers "
        f"({elapsed:.2f} s)"
    )
    print(
        f"  predicted {check.predicted_share:.1%} lapsed, observed {check.observed_share:.1%}; "
        f"calibration error {check.ece:.4f}, Brier {check.brier:.4f}, AUC {check.auc:.4f}; "
        f"seasonal index: {'yes' if check.seasonal else 'no (history 273 days)'}"
    )
    print(
        f"  previous definition 1 - P(alive): mean {old.mean():.1%}, calibration error "
        f"{old_ece:.4f}, Brier {old_brier:.4f}"
    )
    _deciles(check.table)
    print()


def cdnow_seasonality() -> None:
    """Held out: CDNOW master calibrated to 1998-03-31 (455 days), purchases April to June."""
    transactions = cdnow_transactions("CDNOW_master.txt")
    fit_until, until = date(1998, 3, 31), date(1998, 6, 30)
    started = time.perf_counter()
    summary = summarise(transactions, fit_until=fit_until, holdout_until=until)
    model = BGNBD().fit(summary)
    index, _ = learn_seasonal_index(transactions, model, fit_until=fit_until)
    elapsed = time.perf_counter() - started
    assert index is not None
    plain = evaluate_holdout(model, summary)
    span = index.operational_days(fit_until, (until - fit_until).days) / 7
    seasonal = evaluate_holdout(model, summary, horizon=span)
    print(
        f"CDNOW master: calibration to {fit_until} ({index.history_days} days), holdout to "
        f"{until}, {plain.n_customers:,} customers (fit + index {elapsed:.2f} s)"
    )
    print("  index " + " ".join(f"{f:.2f}" for f in index.factors) + " (Jan..Dec)")
    print(
        f"  actual {plain.actual_total:,} purchase days; no index {plain.predicted_total:,.0f} "
        f"({plain.relative_error:+.1%}); seasonal index {seasonal.predicted_total:,.0f} "
        f"({seasonal.relative_error:+.1%})"
    )
    churn = {flag: check_churn(transactions, cut=fit_until, seasonality=flag) for flag in (0, 1)}
    print(
        f"  churn to {churn[1].until}: observed {churn[1].observed_share:.1%}; no index "
        f"{churn[0].predicted_share:.1%} (error {churn[0].ece:.4f}); seasonal index "
        f"{churn[1].predicted_share:.1%} (error {churn[1].ece:.4f})"
    )
    print()


def _recalibrated(transactions: pl.DataFrame, now: date) -> dict[str, tuple[float, float]]:
    """Validation only: the model's lapse probability and recalibrated variants (trained on the
    90 days before ``now``), scored on the 90 days after it: (calibration error, Brier)."""
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    def features(cut: date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        summary = summarise(transactions, fit_until=cut, holdout_until=cut + timedelta(days=90))
        model = BGNBD().fit(summary)
        x, tx, big_t = summary.arrays()
        quiet = model.probability_no_purchase(90 / 7, x, tx, big_t)
        lapsed = (summary.frame.get_column("frequency_holdout").to_numpy() == 0).astype(float)
        logit = special.logit(np.clip(quiet, 1e-6, 1 - 1e-6))
        rfm = np.column_stack([logit, np.log1p(7 * (big_t - tx)), np.log1p(x), np.log1p(7 * big_t)])
        return quiet, lapsed, rfm

    before, before_y, before_x = features(now - timedelta(days=90))
    quiet, lapsed, rfm = features(now)
    variants = {"model": quiet}
    platt = LogisticRegression(C=1e4, max_iter=2000).fit(before_x[:, :1], before_y)
    variants["Platt"] = platt.predict_proba(rfm[:, :1])[:, 1]
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(before, before_y)
    variants["isotonic"] = iso.predict(quiet)
    for name, cols in (("logistic + recency", 2), ("logistic + RFM", 4)):
        fitted = LogisticRegression(C=1e4, max_iter=5000).fit(before_x[:, :cols], before_y)
        variants[name] = fitted.predict_proba(rfm[:, :cols])[:, 1]
    return {k: score_lapses(v, lapsed)[:2] for k, v in variants.items()}


def _unconditional_index(
    transactions: pl.DataFrame, model: BGNBD, fit_until: date
) -> SeasonalIndex:
    """Validation only: the rejected index variant, expecting each month's repeat purchases from
    the new-customer curve (no customer history), which left-truncated data bias."""
    days = (
        transactions.filter(pl.col("value") >= 0)
        .select("customer_id", pl.col("ts").dt.date().alias("day"))
        .unique()
        .filter(pl.col("day") <= fit_until)
    )
    first = days.group_by("customer_id").agg(pl.col("day").min().alias("first"))
    start = first.get_column("first").min()
    assert isinstance(start, date)
    p = model.params
    curve = new_customer_counts(
        (p.r, p.alpha, p.a, p.b), np.arange((fit_until - start).days + 2) / 7
    )
    offsets = np.array([(d - start).days for d in first.get_column("first").to_list()])
    repeat = days.join(first, on="customer_id").filter(pl.col("day") > pl.col("first"))
    obs, exp = np.zeros(12), np.zeros(12)
    for month, count in repeat.group_by(pl.col("day").dt.month()).len().iter_rows():
        obs[month - 1] += count
    month = date(start.year, start.month, 1)
    while month <= fit_until:
        following = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        lo = (max(month, start) - start).days - 1
        hi = (min(following - timedelta(days=1), fit_until) - start).days
        exp[month.month - 1] += float(
            (curve[np.clip(hi - offsets, 0, None)] - curve[np.clip(lo - offsets, 0, None)]).sum()
        )
        month = following
    raw = (obs + SHRINK) / (exp + SHRINK)
    weights = np.array([31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    factors = raw / (raw @ weights / weights.sum())
    return SeasonalIndex(tuple(float(f) for f in factors), tuple(obs), tuple(exp), 0)


def validation() -> None:
    """The validation-period comparisons the churn and seasonality methods were chosen on."""
    retail = to_transactions(online_retail_lines())
    master = cdnow_transactions("CDNOW_master.txt")
    print("Churn, validation: calibration error (Brier) of each variant")
    for label, data, now in (
        ("Online Retail at 2011-06-02", retail, date(2011, 6, 2)),
        ("CDNOW master at 1997-12-31", master, date(1997, 12, 31)),
        ("CDNOW master at 1998-03-31", master, date(1998, 3, 31)),
    ):
        scores = _recalibrated(data, now)
        print(f"  {label}: " + "; ".join(f"{k} {e:.4f} ({b:.4f})" for k, (e, b) in scores.items()))
    print("Seasonal index, validation: CDNOW calibrated to 1998-01-31, February and March 1998")
    for label, data in (("master", master), ("sample", cdnow_transactions())):
        fit_until, until = date(1998, 1, 31), date(1998, 3, 31)
        summary = summarise(data, fit_until=fit_until, holdout_until=until)
        model = BGNBD().fit(summary)
        chosen, _ = learn_seasonal_index(data, model, fit_until=fit_until)
        assert chosen is not None
        days = (until - fit_until).days
        errors = [evaluate_holdout(model, summary).relative_error]
        for index in (chosen, _unconditional_index(data, model, fit_until)):
            span = index.operational_days(fit_until, days) / 7
            errors.append(evaluate_holdout(model, summary, horizon=span).relative_error)
        print(
            f"  {label}: no index {errors[0]:+.1%}; index from each month's conditional "
            f"forecast {errors[1]:+.1%}; from the new-customer curve {errors[2]:+.1%}"
        )
    print()


def main() -> None:
    """Run the CLV benchmarks and print their figures (or the validation comparisons)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--figures", type=Path, default=None, help="write SVG figures here")
    parser.add_argument(
        "--validation", action="store_true", help="print the validation-period comparisons only"
    )
    args = parser.parse_args()
    if args.validation:
        validation()
        return
    cdnow()
    online_retail(args.figures)
    churn_holdout()
    cdnow_seasonality()


if __name__ == "__main__":
    main()
