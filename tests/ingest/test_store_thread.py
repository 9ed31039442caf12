"""A chunk is stored on a second thread while the next one is read: writes keep their order
and a failure on either side still stores nothing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import polars as pl
import pytest

from storewise.ingest import pipeline
from storewise.store import SqlStore, sql

HEADER = "customer_id,item_id,timestamp,order_id,quantity,price\n"


def _orders(path: Path, rows: int) -> Path:
    path.write_text(
        HEADER + "".join(f"c{i % 50},i{i % 7},2024-03-01,o{i},1,2.0\n" for i in range(rows))
    )
    return path


def test_a_check_failing_while_a_chunk_is_stored_rolls_everything_back(
    tmp_path: Path, sqlite_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _orders(tmp_path / "orders.csv", 6000)
    storing = threading.Event()
    original_add = sql.SqlWriter.add_events
    original_events = pipeline.Converter.events
    calls = {"n": 0}

    def slow_add(self: sql.SqlWriter, events: pl.DataFrame) -> sql.EventWrite:
        storing.set()
        time.sleep(0.3)  # still writing when the next chunk's check fails
        return original_add(self, events)

    def failing_events(self: pipeline.Converter, raw: pl.DataFrame) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            assert storing.wait(5)
            raise pl.exceptions.ComputeError("bad chunk")
        return original_events(self, raw)

    monkeypatch.setattr(sql.SqlWriter, "add_events", slow_add)
    monkeypatch.setattr(pipeline.Converter, "events", failing_events)
    with pytest.raises(Exception, match="bad chunk"):
        pipeline.ingest(sqlite_store, "orders", [path], chunk_rows=1000)
    assert sqlite_store.stats()["events"]["total"] == 0
    assert sqlite_store.reports() == []


def test_chunks_are_stored_in_file_order(tmp_path: Path, sqlite_store: SqlStore) -> None:
    path = _orders(tmp_path / "orders.csv", 6000)
    report = pipeline.ingest(sqlite_store, "orders", [path], chunk_rows=1000)
    assert report.stored == 6000 and report.accounted
    with sqlite_store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT order_id FROM events ORDER BY rowid").fetchall()
    assert [r[0] for r in rows] == [f"o{i}" for i in range(6000)]
