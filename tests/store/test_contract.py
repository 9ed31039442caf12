"""The store contract on SQLite (embedded default) and on the real PostgreSQL server."""

from __future__ import annotations

import pytest

from storewise.store import SqlStore
from storewise.testing.store_contract import StoreContract


class TestSqlStores(StoreContract):
    """Run the whole contract on both backends (see ``any_store`` in conftest)."""

    @pytest.fixture
    def store(self, any_store: SqlStore) -> SqlStore:
        return any_store
