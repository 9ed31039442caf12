"""SQLite specifics: WAL, busy timeout, foreign keys, and file placement under home."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from storewise.settings import Settings
from storewise.store import open_store


def test_pragmas_and_home(tmp_path: Path) -> None:
    store = open_store(Settings(home=tmp_path / "home"))
    try:
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(sa.text("PRAGMA busy_timeout")).scalar() == 30000
        assert (tmp_path / "home" / "storewise.db").exists()
    finally:
        store.close()
