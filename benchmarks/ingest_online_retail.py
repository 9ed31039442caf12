"""Full Online Retail ingest into SQLite against the raw floor, measured in the same run.

Floor: ``pandas.read_csv`` of the file plus a plain ``sqlite3`` ``executemany`` of its rows
into one indexed table. Ours: ``storewise ingest orders FILE --preset online-retail`` with
validation, cleaning, report and the store's indexes. Usage:
``python -m benchmarks.ingest_online_retail [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets" / "online-retail" / "online_retail.csv.gz"


def floor(path: Path, folder: Path) -> float:
    """Seconds for pandas.read_csv + sqlite3 executemany into one indexed table."""
    import pandas as pd

    started = time.perf_counter()
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    db = folder / "floor.db"
    db.unlink(missing_ok=True)
    conn = sqlite3.connect(db)
    conn.execute(
        "CREATE TABLE t (InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, "
        "CustomerID, Country)"
    )
    conn.execute("CREATE INDEX t_customer ON t (CustomerID, InvoiceDate)")
    conn.executemany("INSERT INTO t VALUES (?,?,?,?,?,?,?,?)", frame.itertuples(index=False))
    conn.commit()
    conn.close()
    return time.perf_counter() - started


def ours(path: Path, folder: Path) -> tuple[float, dict[str, object]]:
    """Seconds for the CLI import (fresh store), and its report."""
    home = folder / "home"
    if home.exists():
        import shutil

        shutil.rmtree(home)
    report = folder / "report.json"
    env = dict(os.environ, STOREWISE_HOME=str(home))
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "storewise.cli.main",
            "ingest",
            "orders",
            str(path),
            "--preset",
            "online-retail",
            "--report-json",
            str(report),
            "-q",
        ],
        env=env,
        check=True,
    )
    return time.perf_counter() - started, json.loads(report.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"needs {DATA}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        floors, runs = [], []
        report: dict[str, object] = {}
        for _ in range(args.repeat):
            floors.append(floor(DATA, folder))
            seconds, report = ours(DATA, folder)
            runs.append(seconds)
        f, o = statistics.median(floors), statistics.median(runs)
        print(
            json.dumps(
                {
                    "floor_seconds": [round(x, 2) for x in floors],
                    "storewise_seconds": [round(x, 2) for x in runs],
                    "median_ratio": round(o / f, 2),
                    "rows_read": report["rows_read"],
                    "stored": report["stored"],
                    "duplicates": report["duplicates"],
                    "rejected": report["rejected"],
                    "load_average": os.getloadavg(),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
