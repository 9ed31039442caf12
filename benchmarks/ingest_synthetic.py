"""10 million synthetic events ingested with bounded memory, into SQLite and PostgreSQL.

Writes the synthetic shop's events CSV once (streamed), then runs
``storewise ingest events events.csv`` in a child process per backend and reports seconds,
events per second and the child's peak RSS. Usage:
``python -m benchmarks.ingest_synthetic [--events 10000000] [--postgres URL]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from storewise.datasets.synth import sized_for, write_csv

REPO = Path(__file__).resolve().parents[1]


def run(events_csv: Path, env: dict[str, str]) -> dict[str, float]:
    """Ingest in a child process; seconds and peak RSS of that child."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "storewise.cli.main", "ingest", "events", str(events_csv), "-q"],
        env=env,
    )
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"ingest failed with status {status}")
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--work", type=Path, default=REPO / "benchmarks" / ".cache" / "synthetic")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-sqlite", action="store_true", help="Only the PostgreSQL run.")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    config = sized_for(args.events)
    files = args.work / f"shop-{args.events}"
    events_csv = files / "events.csv"
    if not events_csv.exists():
        write_csv(config, files)
    rows = sum(1 for _ in events_csv.open()) - 1
    results: dict[str, object] = {"events_in_file": rows}
    home = args.work / "home-sqlite"
    if home.exists():
        import shutil

        shutil.rmtree(home)
    if not args.skip_sqlite:
        results["sqlite"] = run(events_csv, dict(os.environ, STOREWISE_HOME=str(home)))
        import sqlite3

        with sqlite3.connect(home / "storewise.db") as db:
            stored, attributed = db.execute(
                "SELECT count(*), count(customer_id) FROM events"
            ).fetchone()
            (links,) = db.execute("SELECT count(*) FROM identities").fetchone()
        results["sqlite_stored"] = {
            "events": stored,
            "events_with_customer": attributed,
            "guest_ids_linked": links,
        }
    if args.postgres:
        import sqlalchemy as sa

        schema = "sw_bench"
        engine = sa.create_engine(args.postgres.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        url = f"{args.postgres}?options=-csearch_path%3D{schema}"
        env = dict(os.environ, STOREWISE_HOME=str(args.work / "home-pg"), STOREWISE_DB_URL=url)
        results["postgres"] = run(events_csv, env)
        with engine.begin() as conn:
            stored, attributed = conn.execute(
                sa.text(f"SELECT count(*), count(customer_id) FROM {schema}.events")
            ).one()
            links = conn.execute(sa.text(f"SELECT count(*) FROM {schema}.identities")).scalar()
            results["postgres_stored"] = {
                "events": stored,
                "events_with_customer": attributed,
                "guest_ids_linked": links,
            }
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    for backend in ("sqlite", "postgres"):
        if backend in results:
            figures = results[backend]
            assert isinstance(figures, dict)
            figures["events_per_second"] = round(rows / figures["seconds"])
    results["load_average"] = os.getloadavg()
    _ = resource  # resource usage comes from wait4
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
