"""The retail recommendation benchmark protocol, run through the CLI as a retailer would.

Reads ``../shared/datasets/online-retail/online_retail.csv.gz``, applies the protocol's
cleaning, writes the training period as a generic orders CSV, then runs exactly::

    storewise ingest orders train.csv --preset generic
    storewise train
    storewise recommend --customers test_users.txt --n 10 [--allow-repurchase] --out recs.csv

and scores the CSVs against the test period (NDCG, recall, precision, MAP, hit rate,
coverage), timing each step. Usage: ``python -m benchmarks.retail_protocol [--work DIR]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets" / "online-retail" / "online_retail.csv.gz"
CODE = re.compile(r"^\d{5}[A-Za-z]*$")


def clean(path: Path) -> pl.DataFrame:
    """The protocol's cleaning of the raw UCI file."""
    frame = pl.read_csv(path, infer_schema=False)
    frame = frame.with_columns(
        pl.col("StockCode").str.to_uppercase().alias("item_id"),
        pl.col("CustomerID").str.replace(r"\.0$", "").alias("customer_id"),
        pl.col("Quantity").cast(pl.Float64),
        pl.col("UnitPrice").cast(pl.Float64),
        pl.col("InvoiceDate").str.to_datetime("%Y-%m-%d %H:%M:%S").alias("ts"),
    )
    return frame.filter(
        pl.col("CustomerID").is_not_null()
        & ~pl.col("InvoiceNo").str.starts_with("C")
        & (pl.col("Quantity") > 0)
        & (pl.col("UnitPrice") > 0)
        & pl.col("item_id").str.contains(CODE.pattern)
    )


def write_train_csv(frame: pl.DataFrame, cutoff: str, path: Path) -> None:
    """The training period (before ``cutoff``) as the generic orders CSV a retailer ingests."""
    train = frame.filter(pl.col("ts") < pl.lit(cutoff).str.to_datetime("%Y-%m-%d"))
    train.select(
        "customer_id",
        "item_id",
        pl.col("ts").dt.strftime("%Y-%m-%d %H:%M:%S").alias("timestamp"),
        pl.col("InvoiceNo").alias("order_id"),
        pl.col("Quantity").alias("quantity"),
        pl.col("UnitPrice").alias("price"),
        pl.col("Description").alias("title"),
        pl.col("Country").alias("country"),
    ).write_csv(path)


def truth_sets(
    frame: pl.DataFrame, cutoff: str
) -> tuple[dict[str, set[str]], dict[str, set[str]], set[str]]:
    """(discovery truth, repurchase truth, known items) per the protocol."""
    moment = pl.lit(cutoff).str.to_datetime("%Y-%m-%d")
    train = frame.filter(pl.col("ts") < moment)
    test = frame.filter(pl.col("ts") >= moment)
    known = set(train["item_id"].unique().to_list())
    bought: dict[str, set[str]] = {}
    for c, i in train.select("customer_id", "item_id").unique().iter_rows():
        bought.setdefault(c, set()).add(i)
    repurchase: dict[str, set[str]] = {}
    discovery: dict[str, set[str]] = {}
    for c, i in test.select("customer_id", "item_id").unique().iter_rows():
        if c not in bought or i not in known:
            continue
        repurchase.setdefault(c, set()).add(i)
        if i not in bought[c]:
            discovery.setdefault(c, set()).add(i)
    return discovery, repurchase, known


def score(recs: Path, truth: dict[str, set[str]], known: set[str], k: int = 10) -> dict[str, float]:
    """Protocol metrics of a recommend CSV against truth sets."""
    lists: dict[str, list[str]] = {}
    with recs.open() as handle:
        for row in csv.DictReader(handle):
            lists.setdefault(row["customer_id"], []).append(row["item_id"])
    disc = [1 / math.log2(i + 2) for i in range(k)]
    totals = {"ndcg": 0.0, "recall": 0.0, "precision": 0.0, "map": 0.0, "hit_rate": 0.0}
    seen: set[str] = set()
    for user, items in truth.items():
        top = lists.get(user, [])[:k]
        seen.update(top)
        hits = [n for n, item in enumerate(top) if item in items]
        ideal = sum(disc[: min(len(items), k)])
        totals["ndcg"] += sum(disc[n] for n in hits) / ideal
        totals["recall"] += len(hits) / len(items)
        totals["precision"] += len(hits) / k
        totals["map"] += sum((j + 1) / (n + 1) for j, n in enumerate(hits)) / min(len(items), k)
        totals["hit_rate"] += 1.0 if hits else 0.0
    n = len(truth)
    out = {key: value / n for key, value in totals.items()}
    out["coverage"] = len(seen & known) / len(known)
    out["users"] = n
    return out


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Run a CLI step; (seconds, peak RSS of that child alone in MB)."""
    started = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"{' '.join(cmd[3:5])} failed with status {status}")
    return time.perf_counter() - started, usage.ru_maxrss // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / ".cache" / "retail")
    parser.add_argument("--cutoff", default="2011-11-01")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"needs {DATA}")
    work: Path = args.work
    if work.exists():
        import shutil

        shutil.rmtree(work)
    work.mkdir(parents=True)
    frame = clean(DATA)
    discovery, repurchase, known = truth_sets(frame, args.cutoff)
    write_train_csv(frame, args.cutoff, work / "train.csv")
    users = sorted(set(discovery) | set(repurchase))
    (work / "test_users.txt").write_text("\n".join(users) + "\n")
    env = dict(os.environ, STOREWISE_HOME=str(work / "home"))
    cli = [sys.executable, "-m", "storewise.cli.main"]
    timings: dict[str, float] = {}
    peaks: dict[str, int] = {}
    steps = {
        "ingest": [*cli, "ingest", "orders", str(work / "train.csv"), "--preset", "generic", "-q"],
        "train": [*cli, "train"],
        "recommend discovery": [
            *cli,
            "recommend",
            "--customers",
            str(work / "test_users.txt"),
            "--n",
            "10",
            "--out",
            str(work / "discovery.csv"),
        ],
        "recommend repurchase": [
            *cli,
            "recommend",
            "--customers",
            str(work / "test_users.txt"),
            "--n",
            "10",
            "--allow-repurchase",
            "--out",
            str(work / "repurchase.csv"),
        ],
        "recommend --all": [
            *cli,
            "recommend",
            "--all",
            "--n",
            "10",
            "--out",
            str(work / "all.csv"),
        ],
    }
    for name, cmd in steps.items():
        timings[name], peaks[name] = run(cmd, env)
        print(f"{name}: {timings[name]:.1f}s, peak RSS {peaks[name]} MB", flush=True)
    results = {
        "retail-discovery": score(work / "discovery.csv", discovery, known),
        "retail-repurchase": score(work / "repurchase.csv", repurchase, known),
        "seconds": timings,
        "peak_rss_mb": peaks,
    }
    print(json.dumps(results, indent=2))
    (work / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
