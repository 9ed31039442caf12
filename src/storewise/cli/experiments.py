"""``storewise experiments analyze FILE | power``: A/B test statistics without a store.

``analyze`` reads a CSV of ``unit_id,variant,<metric columns...>``, one row per unit, in one
streaming pass, and prints the sample-ratio check and every metric of every treatment against
the control (Welch interval and p-value, relative lift, optional CUPED and always-valid
interval). ``--json`` prints the shape of :func:`storewise.experiments.report.report_dict`:
with two variants each metric holds the treatment's figures directly (its name under
``variant``); with more, each metric holds one entry per treatment. ``--split`` gives the
planned shares by name (``control=0.5,treatment=0.5``) or in order: the control first, then the
other variants sorted by name. ``power`` gives the minimum detectable effect for arm sizes, or
the arm sizes for an effect. A bad file or option exits with code 2 and a message naming the
column and line; nothing is printed on stdout then.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from storewise.app import (
    DEFAULT_ALPHA,
    DEFAULT_TUNING_N,
    SRM_THRESHOLD,
    analyze,
    plan_power,
    read_units_csv,
    report_dict,
)
from storewise.cli.common import console, guarded, print_json
from storewise.errors import InputError

app = typer.Typer(
    help="A/B test statistics: analyse a file of units, size an experiment.",
    no_args_is_help=True,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
AlphaOpt = Annotated[
    float, typer.Option("--alpha", help="Two-sided significance level.", min=1e-6, max=0.5)
]


def _pre_pairs(values: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in values or []:
        metric, sep, column = pair.partition("=")
        if not sep or not metric.strip() or not column.strip():
            raise InputError(f"--pre expects METRIC=PRE_COLUMN, got {pair!r}")
        out[metric.strip()] = column.strip()
    return out


def _num(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return format(value, spec)


def _interval(low: Any, high: Any, spec: str) -> str:
    return f"[{_num(low, spec)}, {_num(high, spec)}]"


@app.command("analyze")
@guarded
def analyze_file(
    file: Annotated[Path, typer.Argument(help="CSV: unit_id,variant,<metric columns...>")],
    control: Annotated[
        str, typer.Option("--control", help="The control variant's name.")
    ] = "control",
    split: Annotated[
        str | None,
        typer.Option(
            "--split",
            help="Planned shares: control=0.5,treatment=0.5, or 0.5,0.5 (control first, then "
            "the other variants by name). Default: equal.",
        ),
    ] = None,
    pre: Annotated[
        list[str] | None,
        typer.Option(
            "--pre", help="METRIC=PRE_COLUMN: CUPED-adjust a metric by its pre-period column."
        ),
    ] = None,
    sequential: Annotated[
        bool,
        typer.Option("--sequential", help="Add the always-valid interval (safe under peeking)."),
    ] = False,
    tuning_n: Annotated[
        float,
        typer.Option(
            "--tuning-n", help="Total units at which the always-valid interval is narrowest.", min=1
        ),
    ] = DEFAULT_TUNING_N,
    alpha: AlphaOpt = DEFAULT_ALPHA,
    as_json: JsonOpt = False,
) -> None:
    """Sample-ratio check and every metric against the control, from one row per unit."""
    data = read_units_csv(file, pre=_pre_pairs(pre))
    report = analyze(
        data,
        control=control,
        split=split,
        alpha=alpha,
        sequential=sequential,
        tuning_n=tuning_n,
    )
    if as_json:
        print_json(report_dict(report))
        return
    level = f"{1 - alpha:.0%}"
    many = len(report.variants) > 2
    table = Table(
        "metric", *(("variant",) if many else ()), "mean\ncontrol\ntreatment",
        f"lift\n{level} interval", f"relative\n{level} interval", "p-value",
        *((f"always-valid\n{level} interval, p",) if sequential else ()),
        title=f"{file.name}: {', '.join(report.variants[1:])} against {report.control}",
    )  # fmt: skip
    for result in report.results:
        figures = result.comparison.as_floats()
        row = [
            result.metric + ("\n(CUPED)" if result.cuped else ""),
            *((result.treatment.name,) if many else ()),
            f"{_num(result.control.mean, '.4g')}\n{_num(result.treatment.mean, '.4g')}",
            f"{_num(figures['absolute_lift'], '+.4g')}\n"
            + _interval(figures["ci_low"], figures["ci_high"], ".4g"),
            f"{_num(figures['relative_lift'], '+.2%')}\n"
            + _interval(figures["relative_ci_low"], figures["relative_ci_high"], "+.1%"),
            _num(figures["p_value"], ".3g"),
        ]
        if result.sequential is not None:
            seq = result.sequential
            row.append(
                _interval(float(seq.ci_low), float(seq.ci_high), ".4g")
                + f"\np = {_num(float(seq.p_value), '.3g')}"
            )
        table.add_row(*row)
    console.print(table)
    srm = report.srm
    counts = ", ".join(f"{name} {n:,}" for name, n in srm.counts.items())
    verdict = (
        f"[bold red]sample-ratio mismatch[/] (p < {SRM_THRESHOLD:g}): check assignment and "
        "logging before reading any result"
        if srm.flag
        else "no sample-ratio mismatch"
    )
    console.print(f"units: {counts}; chi-square p = {srm.p_value:.3g}: {verdict}")
    for result in report.results:
        if result.cuped is not None and result.treatment.name == report.variants[1]:
            console.print(
                f"CUPED on {result.metric} with {result.cuped.pre}: theta "
                f"{result.cuped.theta:.4g}, interval {1 - result.cuped.width_ratio:.0%} narrower"
            )


@app.command("power")
@guarded
def power(
    baseline_mean: Annotated[
        float, typer.Option("--baseline-mean", help="The control's expected mean per unit.")
    ],
    sd: Annotated[float, typer.Option("--sd", help="Standard deviation of the metric per unit.")],
    n_per_arm: Annotated[
        int | None, typer.Option("--n-per-arm", help="Units in each arm: prints the MDE.", min=2)
    ] = None,
    total: Annotated[
        int | None,
        typer.Option(
            "--total", help="Units in the whole experiment (with --split): the MDE.", min=4
        ),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(
            "--split", help="control=0.5,treatment=0.5 or 0.5,0.5, with --total or --mde."
        ),
    ] = None,
    mde: Annotated[
        float | None,
        typer.Option("--mde", help="Relative lift to detect (0.05 = +5%): prints units per arm."),
    ] = None,
    mde_absolute: Annotated[
        float | None,
        typer.Option("--mde-absolute", help="Absolute difference to detect: units per arm."),
    ] = None,
    alpha: AlphaOpt = DEFAULT_ALPHA,
    power: Annotated[
        float, typer.Option("--power", help="Chance of detecting the effect.", min=0.01, max=0.999)
    ] = 0.8,
    as_json: JsonOpt = False,
) -> None:
    """Two-sided test of means, normal approximation: the MDE of given arms, or the arms for
    an MDE."""
    plan = plan_power(
        baseline_mean, sd, n_per_arm=n_per_arm, total=total, mde=mde, mde_absolute=mde_absolute,
        split=split, alpha=alpha, power=power,
    )  # fmt: skip
    result = dataclasses.asdict(plan)
    if as_json:
        print_json(result)
        return
    relative = f" ({plan.mde_relative:.2%} of the baseline)" if plan.mde_relative else ""
    console.print(
        f"units: control {plan.n_control:,}, treatment {plan.n_treatment:,} (total "
        f"{plan.n_total:,}); minimum detectable effect {plan.mde_absolute:.4g}{relative} at "
        f"alpha {alpha:g}, power {power:.0%}, two-sided"
    )
