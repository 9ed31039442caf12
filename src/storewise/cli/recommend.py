"""``storewise train | recommend | similar | evaluate``: learn, answer in batch, measure."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from storewise.app import RuleSet, Services, check_n, csv_writer
from storewise.cli.common import console, err_console, guarded, print_json, state
from storewise.cli.progress import PhaseLines
from storewise.errors import InputError


@guarded
def train(
    ctx: typer.Context,
    model: Annotated[
        str | None, typer.Option("--model", help="Train only this model (no tuning).")
    ] = None,
    valid_days: Annotated[
        float, typer.Option(help="Most recent days held out to tune on.", min=1)
    ] = 30.0,
    budget: Annotated[
        float,
        typer.Option(
            help="Seconds the whole run may take: reading, tuning, blending and the final fit "
            "all count (reading, one setting per model and the final fit cannot be cut).",
            min=0,
        ),
    ] = 600.0,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="local (tune and fit on this machine) or spark (the models that scale, "
            "on Apache Spark; extra `spark`).",
        ),
    ] = "local",
    master: Annotated[
        str | None,
        typer.Option(
            "--master", help="Spark master (default: STOREWISE_SPARK_MASTER, else local[*])."
        ),
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option("--events", help="Spark only: train on these Parquet events instead."),
    ] = None,
) -> None:
    """Tune on the most recent period, refit on all data and publish a model bundle."""
    if engine not in ("local", "spark"):
        raise InputError(f"--engine is local or spark, not {engine!r}")
    if engine == "local" and (master is not None or events is not None):
        raise InputError("--master and --events need --engine spark")
    if engine == "spark" and model is not None:
        raise InputError("--model is for the local engine (Spark trains its models at once)")
    root = state(ctx)
    with root.services() as services, PhaseLines(err_console) as lines:
        if engine == "spark":
            settings = root.settings
            report = services.training.train_spark(
                master=master or settings.spark_master,
                work_dir=settings.spark_dir,
                events=events,
                spark_conf=settings.spark_conf,
                progress=lines.phase,
            )
        else:
            report = services.training.train(
                model=model, valid_days=valid_days, budget_seconds=budget, progress=lines
            )
    table = Table(title=f"model bundle {report.version}", show_header=False)
    for scenario, spec in report.chosen.items():
        weights = spec["config"].get("weights")
        label = spec["model"] + (f" {weights}" if weights else "")
        table.add_row(f"{scenario} model", label)
        figure = report.validation.get(scenario, {}).get("ndcg@10")
        if figure is not None:
            table.add_row(f"{scenario} validation NDCG@10", f"{figure:.4f}")
        check = report.selection.get(scenario)
        if check:
            kept = "kept" if spec["model"] == "hybrid" else "not kept: within one standard error"
            if spec["model"] != "hybrid" and check.get("out_of_fold_checks", 1) == 0:
                kept = "not kept: the time budget ran out before the check"
            table.add_row(
                f"{scenario} blend, out of fold",
                f"{check['out_of_fold_gain']:+.4f} +- {check['standard_error']:.4f} ({kept})",
            )
    table.add_row(
        "customers / items / events", "{customers} / {items} / {events}".format(**report.data)
    )
    table.add_row("seconds", f"{report.seconds:.1f}")
    for note in report.notes:
        table.add_row("note", note)
    console.print(table)


def _customer_ids(services: Services, customers: Path | None, everyone: bool) -> list[str]:
    if everyone == (customers is not None):
        raise InputError("give either --customers FILE or --all")
    if customers is not None:
        if not customers.exists():
            raise InputError(f"{customers}: no such file")
        ids = [line.strip() for line in customers.read_text().splitlines()]
        ids = [i for i in ids if i]
        if not ids:
            raise InputError(f"{customers}: no customer ids (one per line)")
        return list(dict.fromkeys(ids))
    return services.customers.known_ids()


@guarded
def recommend(
    ctx: typer.Context,
    customers: Annotated[
        Path | None, typer.Option("--customers", help="File with one customer id per line.")
    ] = None,
    everyone: Annotated[bool, typer.Option("--all", help="Every known customer.")] = False,
    n: Annotated[int, typer.Option("--n", "-n", help="Items per customer.")] = 10,
    allow_repurchase: Annotated[
        bool, typer.Option("--allow-repurchase", help="Mix buy-again items with discovery.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="CSV file to write (default: standard output).")
    ] = None,
    pseudonymise: Annotated[
        bool,
        typer.Option(
            "--pseudonymise", help="Customer ids as keyed-HMAC pseudonyms (for analysis)."
        ),
    ] = False,
) -> None:
    """Batch recommendations as CSV: customer_id,rank,item_id,title,score,reasons."""
    check_n(n)
    with state(ctx).services() as services:
        ids = _customer_ids(services, customers, everyone)
        engine = services.serving
        engine.reload()  # fail early with "run storewise train" before any output
        rules = RuleSet(allow_repurchase=allow_repurchase)
        started = time.perf_counter()
        lists = engine.recommend_many(ids, n, rules=rules)
        version = engine.model_version
        names = {
            str(a.customer_id): (
                services.privacy.pseudonym(str(a.customer_id)) if pseudonymise else a.customer_id
            )
            for a in lists
        }
    target = out.open("w", newline="", encoding="utf-8") if out else sys.stdout
    try:
        writer = csv_writer(target)
        writer.writerow(["customer_id", "rank", "item_id", "title", "score", "reasons"])
        for answer in lists:
            for item in answer.items:
                writer.writerow(
                    [
                        names[str(answer.customer_id)],
                        item.rank,
                        item.item_id,
                        item.title or "",
                        f"{item.score:.6f}",
                        "; ".join(item.reasons),
                    ]
                )
    finally:
        if out:
            target.close()
    if out:
        err_console.print(
            f"wrote {sum(len(a.items) for a in lists):,} rows for {len(lists):,} customers "
            f"to {out} in {time.perf_counter() - started:.1f}s (model {version})"
        )


@guarded
def similar(
    ctx: typer.Context,
    item_id: Annotated[str, typer.Argument(help="The item to find similar items for.")],
    n: Annotated[int, typer.Option("--n", "-n", help="How many.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Items similar to one item, with reasons."""
    with state(ctx).services() as services:
        answer = services.serving.similar(item_id, n)
    if as_json:
        print_json(answer.to_dict())
        return
    table = Table("rank", "item", "title", "score", "why", title=f"similar to {item_id}")
    for item in answer.items:
        table.add_row(
            str(item.rank),
            item.item_id,
            item.title or "",
            f"{item.score:.3f}",
            "; ".join(item.reasons),
        )
    console.print(table)


@guarded
def evaluate(
    ctx: typer.Context,
    test_days: Annotated[
        float, typer.Option(help="Most recent days used as the test period.")
    ] = 30.0,
    valid_days: Annotated[float, typer.Option(help="Days before the test used to tune.")] = 30.0,
    budget: Annotated[
        float, typer.Option(help="Seconds of tuning (settings and blends).", min=0)
    ] = 600.0,
    report: Annotated[Path | None, typer.Option("--report", help="Write an HTML report.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    fairness: Annotated[
        bool,
        typer.Option(
            "--fairness",
            help="Audit the served configuration instead: ARP, long-tail share, Gini of "
            "exposure, miscalibration and NDCG per country and activity level, without "
            "fairness rules and with the for-you placement's settings.",
        ),
    ] = False,
) -> None:
    """Every model and the tuned hybrid on a time split of the store (the retail protocol)."""
    if fairness:
        _fairness_audit(ctx, test_days, as_json)
        return
    with state(ctx).services() as services, PhaseLines(err_console) as lines:
        result = services.training.evaluate(
            test_days=test_days,
            valid_days=valid_days,
            budget_seconds=budget,
            report=report,
            progress=lines,
        )
    if report is not None:
        err_console.print(f"report written to {report}")
    if as_json:
        print_json(result)
        return
    for scenario, rows in result["table"].items():
        table = Table(
            "model",
            "NDCG@10",
            "recall",
            "precision",
            "MAP",
            "hit rate",
            "MRR",
            "coverage",
            "novelty",
            "tail share",
            "Gini",
            "miscal.",
            title=scenario,
        )
        for row in rows:
            table.add_row(
                row["model"],
                *(
                    f"{row[k]:.4f}"
                    for k in (
                        "ndcg",
                        "recall",
                        "precision",
                        "map",
                        "hit_rate",
                        "mrr",
                        "coverage",
                        "novelty",
                        "long_tail_share",
                        "gini",
                        "miscalibration",
                    )
                ),
            )
        console.print(table)
    console.print(json.dumps(result["split"]))


def _fairness_audit(ctx: typer.Context, test_days: float, as_json: bool) -> None:
    """``storewise evaluate --fairness``: the audit as tables (or JSON)."""
    with state(ctx).services() as services, console.status("auditing"):
        variants = {"no fairness rules": RuleSet()}
        served = services.serving.placement_rules("for-you")
        if served != RuleSet():
            variants["for-you settings"] = served
        result = services.insights.fairness(variants, test_days=test_days)
    if as_json:
        print_json(result)
        return
    names = ("ndcg", "hit_rate", "arp", "long_tail_share", "gini", "coverage", "miscalibration")
    heads = ("NDCG@10", "hit rate", "ARP", "tail share", "Gini", "coverage", "miscal.")
    overall = Table("rules", *heads, title=f"fairness audit: {result['customers']} customers")
    for name, variant in result["variants"].items():
        overall.add_row(name, *(_figure(variant["overall"].get(k)) for k in names))
    console.print(overall)
    for kind in ("activity", "country"):
        table = Table(kind, "rules", "customers", *heads[:4], heads[-1], title=f"per {kind}")
        for name, variant in result["variants"].items():
            for group, row in variant[kind].items():
                table.add_row(
                    group,
                    name,
                    str(row["customers"]),
                    *(_figure(row[k]) for k in (*names[:4], "miscalibration")),
                )
        console.print(table)
    console.print(json.dumps(result["split"]))


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
