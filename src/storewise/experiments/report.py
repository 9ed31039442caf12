"""An experiment analysis as JSON: the shape ``storewise experiments analyze --json`` prints and
``GET /v1/experiments/{id}/results`` answers (one entry per metric; with more than two
variants, one entry per treatment inside each metric)."""

from __future__ import annotations

import math
from typing import Any

from storewise.experiments.stats import ExperimentReport, MetricResult


def _number(value: float) -> float | None:
    """A float for JSON: non-finite values (an undefined lift) become null."""
    return float(value) if math.isfinite(value) else None


def metric_dict(result: MetricResult) -> dict[str, Any]:
    """One metric of one treatment against the control."""
    figures = result.comparison.as_floats()
    entry: dict[str, Any] = {
        "variant": result.treatment.name,
        "control": {"n": result.control.n, "mean": _number(result.control.mean)},
        "treatment": {"n": result.treatment.n, "mean": _number(result.treatment.mean)},
        **{
            name: _number(figures[name])
            for name in (
                "absolute_lift",
                "ci_low",
                "ci_high",
                "p_value",
                "relative_lift",
                "relative_ci_low",
                "relative_ci_high",
            )
        },
        "significant": bool(figures["p_value"] < result.comparison.alpha),
    }
    if result.cuped is not None:
        entry["cuped"] = {
            "pre": result.cuped.pre,
            "theta": _number(result.cuped.theta),
            "width_ratio": _number(result.cuped.width_ratio),
            "unadjusted_ci": [
                _number(float(result.cuped.unadjusted.ci_low)),
                _number(float(result.cuped.unadjusted.ci_high)),
            ],
        }
    if result.sequential is not None:
        entry["sequential"] = {
            "ci_low": _number(float(result.sequential.ci_low)),
            "ci_high": _number(float(result.sequential.ci_high)),
            "p_value": _number(float(result.sequential.p_value)),
        }
    return entry


def report_dict(report: ExperimentReport) -> dict[str, Any]:
    """The whole analysis: sample-ratio check and every metric, JSON-ready."""
    by_metric: dict[str, list[MetricResult]] = {}
    for result in report.results:
        by_metric.setdefault(result.metric, []).append(result)
    metrics: dict[str, Any] = {}
    for metric, results in by_metric.items():
        if len(results) == 1:
            metrics[metric] = metric_dict(results[0])
        else:
            metrics[metric] = {r.treatment.name: metric_dict(r) for r in results}
    return {
        "srm_p_value": _number(report.srm.p_value),
        "srm_flag": bool(report.srm.flag),
        "units": dict(report.srm.counts),
        "split": dict(report.split),
        "control": report.control,
        "alpha": report.alpha,
        "metrics": metrics,
    }
