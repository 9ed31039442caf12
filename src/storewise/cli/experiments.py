"""``storewise experiments``: A/B test statistics without a store (``analyze FILE``,
``power``), and the shop's experiments in the store (``create``, ``list``, ``start``,
``stop``, ``results``, ``off-policy``).

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
import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from storewise.app import (
    DEFAULT_ALPHA,
    DEFAULT_TUNING_N,
    SRM_THRESHOLD,
    Plan,
    analyze,
    plan_power,
    read_units_csv,
    report_dict,
)
from storewise.cli.common import console, guarded, print_json, state
from storewise.errors import InputError

app = typer.Typer(
    help="Online experiments: define and run them on a placement, read their results, "
    "estimate a model off-policy; or analyse a file of units and size an experiment.",
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


# -- experiments in the store ------------------------------------------------------------------
def _variant(text: str) -> dict[str, Any]:
    """``NAME[:WEIGHT][:model=M][:version=V][:RULE=VALUE...]`` as a variant's fields."""
    name, *parts = text.split(":")
    fields: dict[str, Any] = {"name": name.strip(), "rules": {}}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep:
            try:
                fields["weight"] = float(key)
            except ValueError:
                raise InputError(
                    f"--variant {text!r}: {key!r} is neither a weight nor a=b"
                ) from None
        elif key in ("model", "version"):
            fields[key] = value
        else:
            try:
                fields["rules"][key] = json.loads(value)
            except json.JSONDecodeError:
                fields["rules"][key] = value
    return fields


def _shown(experiment: dict[str, Any]) -> str:
    split = ", ".join(f"{k} {v:.0%}" for k, v in experiment["split"].items())
    where = f"{experiment['placement']}, {experiment['method']}, {experiment['status']}"
    return f"{experiment['experiment_id']} ({where}): {split}"


@app.command("create")
@guarded
def create(
    ctx: typer.Context,
    experiment_id: Annotated[str, typer.Argument(help="An id: lowercase letters, digits, -_.")],
    placement: Annotated[
        str,
        typer.Option(
            "--placement",
            help="for-you, buy-again, similar, bought-together, trending, guest or email.",
        ),
    ],
    variant: Annotated[
        list[str],
        typer.Option(
            "--variant",
            help="NAME[:WEIGHT][:model=M][:version=V][:RULE=VALUE...], repeated; e.g. "
            "control:0.5 ease:0.5:model=ease, b:diversity=0.3, or old:version=V (a kept bundle).",
        ),
    ],
    metric: Annotated[
        str, typer.Option("--metric", help="The primary metric (revenue, orders, ...).")
    ] = "revenue",
    guardrail: Annotated[
        list[str] | None, typer.Option("--guardrail", help="Guardrail metrics, repeated.")
    ] = None,
    window_days: Annotated[
        int, typer.Option("--window-days", help="Attribution window (days).", min=1, max=90)
    ] = 7,
    control: Annotated[str, typer.Option("--control", help="The control variant.")] = "control",
    interleave: Annotated[
        bool, typer.Option("--interleave", help="Team-draft interleaving of two rankers.")
    ] = False,
    start: Annotated[bool, typer.Option("--start", help="Start it at once.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Define an experiment on a placement (a draft unless --start)."""
    plan_fields: dict[str, Any] = {
        "primary_metric": metric,
        "window_days": window_days,
        "control": control,
    }
    if guardrail is not None:
        plan_fields["guardrails"] = tuple(guardrail)
    with state(ctx).services() as services:
        try:
            plan = Plan(**plan_fields)
        except ValidationError as exc:
            raise InputError(f"experiment {experiment_id!r}: {exc.errors()[0]['msg']}") from None
        created = services.experiments.create(
            experiment_id,
            placement=placement,
            variants=[_variant(v) for v in variant],
            plan=plan,
            start=start,
            method="interleave" if interleave else "ab",
        )
    if as_json:
        print_json(created.to_dict())
    else:
        console.print(f"created {_shown(created.to_dict())}", highlight=False)


@app.command("list")
@guarded
def list_experiments(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every experiment, newest first."""
    with state(ctx).services() as services:
        rows = [e.to_dict() for e in services.experiments.all()]
    if as_json:
        print_json({"experiments": rows})
        return
    if not rows:
        console.print("no experiments yet: storewise experiments create ID --placement ...")
    for row in rows:
        console.print(_shown(row), highlight=False)


@app.command("start")
@guarded
def start_experiment(
    ctx: typer.Context, experiment_id: Annotated[str, typer.Argument(help="Experiment id.")]
) -> None:
    """Start a draft experiment."""
    with state(ctx).services() as services:
        started = services.experiments.start(experiment_id)
    console.print(f"started {_shown(started.to_dict())}", highlight=False)


@app.command("stop")
@guarded
def stop_experiment(
    ctx: typer.Context, experiment_id: Annotated[str, typer.Argument(help="Experiment id.")]
) -> None:
    """Stop a running experiment (its results stay)."""
    with state(ctx).services() as services:
        stopped = services.experiments.stop(experiment_id)
    console.print(f"stopped {_shown(stopped.to_dict())}", highlight=False)


@app.command("results")
@guarded
def results(
    ctx: typer.Context,
    experiment_id: Annotated[str, typer.Argument(help="Experiment id.")],
    as_json: JsonOpt = False,
) -> None:
    """An experiment's analysis from the store: units, SRM check, each metric with its
    interval (CUPED, always-valid), or the interleaving preference."""
    with state(ctx).services() as services:
        answer = services.experiments.results(experiment_id, chart=as_json)
    if as_json:
        print_json(answer)
        return
    console.print(_shown(answer["experiment"]), highlight=False)
    if answer.get("method") == "interleave":
        won = answer["interleaving"]
        console.print(
            f"{answer['lists']} lists; {answer['teams']['a']} won {won['wins_a']}, "
            f"{answer['teams']['b']} won {won['wins_b']}, ties {won['ties']}; "
            f"p = {won['p_value']:.3g}; preferred: {answer['preferred'] or 'no clear winner'}",
            highlight=False,
        )
        return
    units = ", ".join(f"{k} {v}" for k, v in answer["units"].items())
    console.print(f"units: {units}; sample-ratio p = {_num(answer['srm_p_value'], '.3g')}")
    if answer["srm_flag"]:
        console.print("[bold red]sample-ratio mismatch: do not trust these results[/]")
    table = Table("metric", "variant", "lift [95% interval]", "relative", "p-value")
    for metric, entry in answer["metrics"].items():
        entries = [entry] if "variant" in entry else list(entry.values())
        for one in entries:
            star = " *" if metric == answer["primary_metric"] else ""
            table.add_row(
                metric + star,
                one["variant"],
                _num(one["absolute_lift"], "+.4g")
                + " "
                + _interval(one["ci_low"], one["ci_high"], ".4g"),
                _num(one["relative_lift"], "+.1%"),
                _num(one["p_value"], ".3g"),
            )
    console.print(table)


@app.command("off-policy")
@guarded
def off_policy(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="A model of the served bundle.")],
    days: Annotated[int, typer.Option("--days", help="Days of logs.", min=1, max=366)] = 30,
    clip: Annotated[
        float | None, typer.Option("--clip", help="Cap on importance weights.", min=0.0)
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Estimate a model's clicks per for-you list from logged lists, before it goes live."""
    with state(ctx).services() as services:
        answer = services.experiments.off_policy(model, days=days, clip=clip)
    if as_json:
        print_json(answer)
        return
    table = Table("policy", "IPS", "SNIPS", "doubly robust", "slots matched")
    for name in ("current", "candidate"):
        row = answer[name]
        cells = [
            f"{_num(row[k]['value'], '.4f')} ± {_num(row[k]['standard_error'], '.4f')}"
            if row[k]
            else "-"
            for k in ("ips", "snips", "dr")
        ]
        table.add_row(name, *cells, f"{row['matched_slots']:.0%}")
    console.print(
        f"{answer['lists']} logged lists, {answer['logged_clicks_per_list']:.4f} clicks per list"
    )
    console.print(table)
