"""``storewise ingest`` of the full Online Retail file against the raw floor, in one run.

Floor: ``pandas.read_csv`` of the file plus a plain ``sqlite3`` ``executemany`` of its rows
into one table with one index, in this process (pandas imported before the clock starts).
storewise: ``storewise ingest orders FILE --preset online-retail -q`` in a fresh store, run
as a retailer runs it, in a child process: interpreter and CLI start, reading, preset
mapping, validation, cleaning, stable event ids, the per-row report, the store's indexes,
catalog and customer upserts, one transaction. Runs alternate (floor, storewise, floor, ...)
so both see the same machine load; the ratio of the medians is printed with every run.

Usage: ``python -m benchmarks.ingest_floor [--repeat 3] [--file PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets" / "online-retail" / "online_retail.csv.gz"
COLUMNS = "InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country"


def floor(path: Path, folder: Path) -> float:
    """Seconds for pandas.read_csv + sqlite3 executemany into one indexed table."""
    import pandas as pd

    db = folder / "floor.db"
    db.unlink(missing_ok=True)
    started = time.perf_counter()
    # object columns of Python strings: with pandas 3, dtype=str makes Arrow-backed strings
    # that itertuples converts row by row, which would make the floor twice as slow.
    frame = pd.read_csv(path, dtype=object, keep_default_na=False)
    conn = sqlite3.connect(db)
    conn.execute(f"CREATE TABLE t ({COLUMNS})")
    conn.execute("CREATE INDEX t_customer ON t (CustomerID, InvoiceDate)")
    conn.executemany("INSERT INTO t VALUES (?,?,?,?,?,?,?,?)", frame.itertuples(index=False))
    conn.commit()
    conn.close()
    return time.perf_counter() - started


def storewise(path: Path, folder: Path) -> tuple[float, dict[str, object]]:
    """Seconds for ``storewise ingest`` in a child process (fresh store), and its report."""
    home = folder / "home"
    shutil.rmtree(home, ignore_errors=True)
    report = folder / "report.json"
    command = [
        sys.executable, "-m", "storewise.cli.main", "--home", str(home),
        "ingest", "orders", str(path), "--preset", "online-retail",
        "--report-json", str(report), "-q",
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started, json.loads(report.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--file", type=Path, default=DATA)
    args = parser.parse_args()
    if not args.file.exists():
        sys.exit(f"needs {args.file} (see ../shared/datasets/README.md)")
    import pandas  # noqa: F401  # imported once, outside the floor's clock

    load_before = os.getloadavg()
    floors: list[float] = []
    runs: list[float] = []
    report: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n in range(args.repeat):
            floors.append(floor(args.file, folder))
            seconds, report = storewise(args.file, folder)
            runs.append(seconds)
            print(
                f"run {n + 1}: floor {floors[-1]:.2f} s, storewise {seconds:.2f} s, "
                f"ratio {seconds / floors[-1]:.2f}x",
                file=sys.stderr,
            )
    ratio = statistics.median(runs) / statistics.median(floors)
    rows_read = int(str(report["rows_read"]))
    accounted = int(str(report["stored"])) + int(str(report["duplicates"]))
    accounted += int(str(report["rejected_total"]))
    print(
        json.dumps(
            {
                "file": str(args.file),
                "floor_seconds": [round(x, 2) for x in floors],
                "storewise_seconds": [round(x, 2) for x in runs],
                "median_ratio": round(ratio, 2),
                "target": "at most 3x",
                "pass": ratio <= 3.0,
                "rows_read": rows_read,
                "stored": report["stored"],
                "duplicates": report["duplicates"],
                "rejected": report["rejected"],
                "every_row_accounted": accounted == rows_read,
                "load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
