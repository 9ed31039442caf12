"""SQLite bulk inserts several rows per statement: the same rows, counts and duplicates as
one row at a time, whatever the batch size against the rows per statement."""

from __future__ import annotations

import polars as pl
import pytest

from storewise.store import SqlStore
from storewise.store.writer import _ROWS_PER_INSERT


def _batch(n: int, offset: int = 0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "event_id": [f"e{i + offset:05d}" for i in range(n)],
            "customer_id": [f"c{i % 9}" if i % 4 else None for i in range(n)],
            "anonymous_id": [None if i % 4 else f"g{i}" for i in range(n)],
            "item_id": [f"i{i % 13}" for i in range(n)],
            "event_type": ["purchase" if i % 3 else "view" for i in range(n)],
            "quantity": [1.0 + i % 2 for i in range(n)],
            "price": [None if i % 5 == 0 else 0.1 + i for i in range(n)],
            "value": [None] * n,
            "order_id": [f"o{i // 3}" for i in range(n)],
            "ts": [1_700_000_000_000 + i for i in range(n)],
        },
        schema_overrides={"value": pl.Float64},
    )


@pytest.mark.parametrize("rows", [_ROWS_PER_INSERT - 1, _ROWS_PER_INSERT, 2 * _ROWS_PER_INSERT + 5])
def test_bulk_insert_stores_each_row_once(sqlite_store: SqlStore, rows: int) -> None:
    first = _batch(rows)
    again = pl.concat([_batch(80, offset=rows - 40), first.head(3)])  # 43 stored already
    with sqlite_store.writer() as writer:
        written = writer.add_events(first)
        repeated = writer.add_events(again)
    assert (written.stored, written.duplicates) == (rows, 0)
    assert (repeated.stored, repeated.duplicates) == (40, 43)
    stored = sqlite_store.events().sort("event_id")
    assert stored.height == rows + 40
    expected = pl.concat([first, _batch(80, offset=rows - 40).tail(40)]).sort("event_id")
    for column in ("event_id", "customer_id", "item_id", "price", "ts", "order_id"):
        assert stored[column].to_list() == expected[column].to_list(), column
