"""The import reports rows read and stored, chunk by chunk, not bytes read ahead."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from storewise.ingest.pipeline import FileProgress, ingest
from storewise.store import SqlStore

HEADER = "customer_id,item_id,timestamp,order_id,quantity,price\n"


def _orders(rows: int) -> str:
    return HEADER + "".join(
        f"c{n % 7},i{n % 5},2024-03-{1 + n % 28:02d} 10:00:00,o{n},1,{'2.5' if n % 10 else '0'}\n"
        for n in range(rows)
    )


def test_progress_counts_rows_stored_per_chunk(tmp_path: Path, sqlite_store: SqlStore) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(_orders(4000))  # the reader takes 64 KiB at least: a few chunks
    heard: list[FileProgress] = []
    report = ingest(sqlite_store, "orders", [path], chunk_rows=500, progress=heard.append)
    assert {p.file for p in heard} == {str(path)}
    assert all(p.total_rows is None for p in heard)  # a CSV is not counted ahead
    read = [p.rows_read for p in heard]
    stored = [p.stored for p in heard]
    assert read == sorted(read) and stored == sorted(stored)
    after_chunks = sorted({p.rows_read for p in heard if p.stage == "storing"})
    assert len(after_chunks) >= 2 and after_chunks[-1] == 4000
    assert heard[0].stage == "reading" and heard[-1].stage == "done"
    assert (heard[-1].rows_read, heard[-1].stored) == (report.rows_read, report.stored)
    assert report.stored < report.rows_read  # the price-0 rows are rejected, not stored


def test_a_parquet_file_says_its_row_count(tmp_path: Path, sqlite_store: SqlStore) -> None:
    csv_path = tmp_path / "orders.csv"
    csv_path.write_text(_orders(40))
    parquet = tmp_path / "orders.parquet"
    pl.read_csv(csv_path, infer_schema=False).write_parquet(parquet)
    heard: list[FileProgress] = []
    ingest(sqlite_store, "orders", [parquet], chunk_rows=16, progress=heard.append)
    assert heard[-1].total_rows == 40 == heard[-1].rows_read
