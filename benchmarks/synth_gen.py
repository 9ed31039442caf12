"""Synthetic data benchmark: time and peak memory of ``generate`` and of streaming ``write_csv``.

Run from the repository root: ``python -m benchmarks.synth_gen [--events 10000000] [--out DIR]``.
Each measurement runs in a fresh interpreter, so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from storewise.datasets.synth import SynthConfig, generate, sized_for, write_csv


def _peak_mb() -> float:
    """Peak resident memory of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _measure(task: str, events: int, out: str, chunk: int) -> dict[str, float]:
    """Run one task in this process and return its figures."""
    start = time.perf_counter()
    if task == "generate":
        data = generate(SynthConfig(customers=1000))
        rows = data.events.height
    else:
        config = sized_for(events, SynthConfig(items=5000))
        paths = write_csv(config, out, chunk_customers=chunk)
        with paths["events"].open("rb") as handle:
            rows = sum(1 for _ in handle) - 1
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "events": rows, "peak_mb": _peak_mb()}


def _run(task: str, events: int, out: str, chunk: int) -> dict[str, float]:
    """Measure a task in a fresh interpreter."""
    args = [sys.executable, "-m", "benchmarks.synth_gen", "--task", task]
    args += ["--events", str(events), "--out", out, "--chunk", str(chunk)]
    done = subprocess.run(args, check=True, capture_output=True, text=True)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    """Print the figures for BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--out", default="")
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--task", choices=("generate", "write_csv"), default=None)
    args = parser.parse_args()
    if args.task:  # the child process
        print(json.dumps(_measure(args.task, args.events, args.out, args.chunk)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or tmp
        small = _run("generate", 0, out, args.chunk)
        print(
            f"generate(customers=1000): {small['events']:,.0f} events in "
            f"{small['seconds']:.2f} s, peak RSS {small['peak_mb']:.0f} MiB"
        )
        big = _run("write_csv", args.events, out, args.chunk)
        size = sum(p.stat().st_size for p in Path(out).glob("*.csv")) / 2**20
        print(
            f"write_csv(~{args.events:,} events, chunk {args.chunk:,} customers): "
            f"{big['events']:,.0f} events in {big['seconds']:.1f} s "
            f"({big['events'] / big['seconds']:,.0f} events/s), peak RSS "
            f"{big['peak_mb']:.0f} MiB, {size:,.0f} MiB of CSV"
        )


if __name__ == "__main__":
    main()
