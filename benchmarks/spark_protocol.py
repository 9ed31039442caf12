"""The retail protocol trained on Apache Spark, through the CLI as a retailer would.

The same data, cleaning, split, truth sets and scoring as :mod:`benchmarks.retail_protocol`;
the training step is ``storewise train --engine spark --master local[2]``::

    storewise ingest orders train.csv --preset generic
    [storewise train]                       # with --tune-first: the local tuner picks configs
    storewise train --engine spark --master local[2]
    storewise recommend --customers test_users.txt --n 10 [--allow-repurchase] --out recs.csv

Without ``--tune-first`` the Spark trainer uses its documented defaults; with it, the local
tuner (validation = the last 30 days of the training period, never the test period) chooses
the configs and blend weights, and the Spark trainer keeps the Spark-trainable part of that
choice. The test period is scored once. Usage:
``python -m benchmarks.spark_protocol [--work DIR] [--tune-first] [--master local[2]]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from benchmarks.retail_protocol import DATA, REPO, clean, run, score, truth_sets, write_train_csv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / ".cache" / "spark")
    parser.add_argument("--cutoff", default="2011-11-01")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--tune-first", action="store_true")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"needs {DATA}")
    work: Path = args.work
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    frame = clean(DATA)
    discovery, repurchase, known = truth_sets(frame, args.cutoff)
    write_train_csv(frame, args.cutoff, work / "train.csv")
    users = sorted(set(discovery) | set(repurchase))
    (work / "test_users.txt").write_text("\n".join(users) + "\n")
    env = dict(os.environ, STOREWISE_HOME=str(work / "home"))
    cli = [sys.executable, "-m", "storewise.cli.main"]
    recommend = [*cli, "recommend", "--customers", str(work / "test_users.txt"), "--n", "10"]
    steps = {"ingest": [*cli, "ingest", "orders", str(work / "train.csv"), "--preset", "generic",
                        "-q"]}  # fmt: skip
    if args.tune_first:
        steps["train (local tuning)"] = [*cli, "train"]
    steps["train --engine spark"] = [*cli, "train", "--engine", "spark", "--master", args.master]
    steps["recommend discovery"] = [*recommend, "--out", str(work / "discovery.csv")]
    steps["recommend repurchase"] = [
        *recommend, "--allow-repurchase", "--out", str(work / "repurchase.csv"),
    ]  # fmt: skip
    timings: dict[str, float] = {}
    peaks: dict[str, int] = {}
    for name, cmd in steps.items():
        timings[name], peaks[name] = run(cmd, env)
        print(f"{name}: {timings[name]:.1f}s, peak RSS {peaks[name]} MB", flush=True)
    from storewise import artifacts

    bundle = artifacts.current_version(work / "home" / "models")
    results = {
        "master": args.master,
        "tune_first": args.tune_first,
        "retail-discovery": score(work / "discovery.csv", discovery, known),
        "retail-repurchase": score(work / "repurchase.csv", repurchase, known),
        "seconds": timings,
        "peak_rss_mb": peaks,
        "bundle": bundle,
    }
    print(json.dumps(results, indent=2))
    (work / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
