"""The store: customers, items, events, identities, consents, reports and audit log.

``open_store(settings)`` is the one way front-ends get a store; SQLite is the embedded
default, PostgreSQL is chosen by ``STOREWISE_DB_URL``.
"""

from __future__ import annotations

from storewise.privacy.crypto import FieldCipher
from storewise.settings import Settings
from storewise.store.base import Erasure, EventWrite, Store, StoreWriter
from storewise.store.sql import SqlStore
from storewise.store.writer import SqlWriter

__all__ = ["Erasure", "EventWrite", "SqlStore", "SqlWriter", "Store", "StoreWriter", "open_store"]


def open_store(settings: Settings, *, upgrade: bool = True) -> SqlStore:
    """Open the store named by the settings, with the personal-field cipher if a key is set."""
    key = settings.fernet_key()
    cipher = FieldCipher(key) if key else None
    return SqlStore.open(settings.database_url, cipher=cipher, upgrade=upgrade)
