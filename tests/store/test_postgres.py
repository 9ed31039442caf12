"""PostgreSQL specifics: a long import keeps the planner's statistics fresh."""

from __future__ import annotations

import polars as pl
import pytest
import sqlalchemy as sa

from storewise.store import SqlStore
from storewise.store import writer as writer_module


def _batch(start: int, n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "event_id": [f"e{start + k}" for k in range(n)],
            "anonymous_id": [f"guest{(start + k) % 37}" for k in range(n)],
            "item_id": [f"i{k % 11}" for k in range(n)],
            "event_type": ["view"] * n,
            "ts": [1_700_000_000_000 + start + k for k in range(n)],
        }
    )


@pytest.mark.postgres
def test_long_import_analyses_events_as_it_doubles(
    pg_schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "ANALYZE_FROM", 150)
    store = SqlStore.open(pg_schema_url)
    try:
        with store.engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE events, items RESTART IDENTITY CASCADE"))
        with store.writer() as writer:  # one transaction, as a file import is
            for start in (0, 200, 400):
                assert writer.add_events(_batch(start, 200)).stored == 200
        with store.engine.connect() as conn:
            tuples = conn.execute(
                sa.text("SELECT reltuples FROM pg_class WHERE oid = 'events'::regclass")
            ).scalar_one()
        # analysed after 200 rows (>= 150) and after 400 (twice that), not after 600
        assert tuples == 400
    finally:
        store.close()
