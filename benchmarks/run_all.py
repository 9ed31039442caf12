"""Run the quick benchmarks one after another, each in its own child process (``make bench``).

Each benchmark module's ``main`` runs with its defaults (``python -m benchmarks.NAME``); its
stdout and stderr go to ``OUT/NAME.txt`` and a summary line says where, how long it took and
whether it succeeded. Benchmarks that read ``../shared/datasets`` are skipped with a message when
that folder is absent. Nothing is written to BENCHMARKS.md: copy figures there by hand, with the
command and the load average.

The long benchmarks are not run here; run them one at a time, with ``nice``:
``ingest_synthetic`` (10 million events into SQLite and PostgreSQL), ``synth_gen`` (10 million
events), ``ingest_online_retail`` (three full ingests), ``retail_protocol`` (ingest + train) and
``api_load`` (needs ``wrk`` and a trained home).

Usage: ``python -m benchmarks.run_all [--out DIR] [--only NAME ...] [--list]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"

#: The quick benchmarks, in the order they run: (module in ``benchmarks``, needs the datasets).
QUICK: list[tuple[str, bool]] = [
    ("marketing_clv", True),
    ("marketing_uplift", True),
    ("marketing_service", True),
    ("support_intents", True),
    ("support_orders", True),
    ("web_pages", True),
]


def run_one(name: str, out: Path) -> tuple[int, float]:
    """Run ``python -m benchmarks.NAME`` from the repository root; exit status and seconds."""
    started = time.perf_counter()
    with out.open("w") as handle:
        done = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{name}"],
            cwd=REPO,
            stdout=handle,
            stderr=subprocess.STDOUT,
            check=False,
        )
    return done.returncode, time.perf_counter() - started


def main() -> int:
    """Run the selected quick benchmarks and print where each one's output went."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "benchmarks" / ".cache" / "results" / stamp,
        help="folder for the outputs (default: benchmarks/.cache/results/<time stamp>)",
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    parser.add_argument("--list", action="store_true", help="list the quick benchmarks and exit")
    args = parser.parse_args()
    names = [name for name, _ in QUICK]
    if args.list:
        print("\n".join(names))
        return 0
    unknown = sorted(set(args.only or []) - set(names))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    selected = [(n, d) for n, d in QUICK if not args.only or n in args.only]
    args.out.mkdir(parents=True, exist_ok=True)
    have_data = DATASETS.is_dir()
    print(f"outputs in {args.out}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    failed = 0
    for name, needs_data in selected:
        if needs_data and not have_data:
            print(f"{name:<20} skipped: datasets folder {DATASETS.resolve()} not found")
            continue
        out = args.out / f"{name}.txt"
        if sys.stdout.isatty():
            print(f"{name:<20} running ...", end="\r", flush=True)
        status, seconds = run_one(name, out)
        verdict = "ok" if status == 0 else f"FAILED (exit {status})"
        print(f"{name:<20} {verdict} in {seconds:.0f} s -> {out}", flush=True)
        failed += status != 0
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
