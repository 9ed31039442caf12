"""The store's safeguards, as a part of :class:`~storewise.store.sql.SqlStore`: retention with
kept aggregates, the personal-field key bound to the data (and its rotation), and the
suppression list with the collection rule applied to arriving events.

Kept apart from ``sql.py`` so that the reads and the writes of customer data stay one module
and the rules that protect it another.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import polars as pl
import sqlalchemy as sa

from storewise.errors import ConfigError
from storewise.privacy.crypto import FieldCipher
from storewise.schema import DAY_MS
from storewise.store.base import CollectionRule
from storewise.store.tables import customers
from storewise.store.writer import Admission, SqlWriter


class Safeguards:
    """Retention, key binding and rotation, the suppression list and the collection rule."""

    engine: sa.Engine
    cipher: FieldCipher | None
    _collection: CollectionRule | None
    _hash_secret: bytes | None

    def writer(self) -> AbstractContextManager[SqlWriter]:
        """A write transaction (provided by the store)."""
        raise NotImplementedError

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _compact(self) -> None:
        raise NotImplementedError

    # -- retention ----------------------------------------------------------------------------
    def retain(self, cutoffs: Mapping[str, int]) -> dict[str, int]:
        """Delete events of each type older than its cutoff (ms), first adding them to the
        daily aggregates (events, units, value per day, item and type); one transaction.
        Returns the events removed per type."""
        removed: dict[str, int] = {}
        day = f"CAST(ts / {DAY_MS} AS INTEGER)"
        with self.writer() as writer:
            conn = writer._conn
            for event_type, cutoff in sorted(cutoffs.items()):
                params = {"t": event_type, "c": int(cutoff)}
                conn.execute(
                    sa.text(
                        "INSERT INTO event_aggregates (day, item_id, event_type, events, "
                        "quantity, value) "
                        f"SELECT {day}, COALESCE(item_id, ''), event_type, COUNT(*), "
                        "SUM(quantity), SUM(COALESCE(value, price * quantity, 0)) "
                        "FROM events WHERE event_type = :t AND ts < :c "
                        f"GROUP BY {day}, COALESCE(item_id, ''), event_type "
                        "ON CONFLICT (day, item_id, event_type) DO UPDATE SET "
                        "events = event_aggregates.events + excluded.events, "
                        "quantity = event_aggregates.quantity + excluded.quantity, "
                        "value = event_aggregates.value + excluded.value"
                    ),
                    params,
                )
                res = conn.execute(
                    sa.text("DELETE FROM events WHERE event_type = :t AND ts < :c"), params
                )
                removed[event_type] = int(res.rowcount)
            writer.audit("system", "retention", None, {"removed": removed})
        self._compact()
        return removed

    def retained_aggregates(self) -> pl.DataFrame:
        """The daily aggregates retention kept (day as a date, item_id, type, counts)."""
        rows = self._fetch(
            "SELECT day, item_id, event_type, events, quantity, value FROM event_aggregates "
            "ORDER BY day, item_id, event_type"
        )
        frame = pl.DataFrame(
            rows,
            schema={"day": pl.Int32, "item_id": pl.Utf8, "event_type": pl.Utf8,
                    "events": pl.Int64, "quantity": pl.Float64, "value": pl.Float64},
            orient="row",
        )  # fmt: skip
        return frame.with_columns(pl.col("day").cast(pl.Date))

    # -- the personal-field key ------------------------------------------------------------
    def _meta(self, conn: sa.Connection, key: str) -> str | None:
        value = conn.execute(
            sa.text("SELECT value FROM store_meta WHERE key = :k"), {"k": key}
        ).scalar()
        return None if value is None else str(value)

    def _one_encrypted(self, conn: sa.Connection) -> str | None:
        row = conn.execute(
            sa.text(
                "SELECT COALESCE(email_enc, name_enc) FROM customers "
                "WHERE email_enc IS NOT NULL OR name_enc IS NOT NULL LIMIT 1"
            )
        ).scalar()
        return None if row is None else str(row)

    def bind_key(self) -> None:
        """Check the configured key against the one the store's personal fields were written
        with (its fingerprint, kept in ``store_meta``), recording it on first use; ConfigError
        (exit code 7) for a different key, before anything is written with it."""
        assert self.cipher is not None
        mine = self.cipher.fingerprint
        with self.engine.begin() as conn:
            stored = self._meta(conn, "key_fingerprint")
            if stored is None:
                sample = self._one_encrypted(conn)
                if sample is not None:
                    self.cipher.decrypt(sample)  # ConfigError when written with another key
                conn.execute(
                    sa.text(
                        "INSERT INTO store_meta (key, value) VALUES ('key_fingerprint', :v) "
                        "ON CONFLICT (key) DO NOTHING"
                    ),
                    {"v": mine},
                )
                stored = self._meta(conn, "key_fingerprint")
        if stored != mine:
            raise ConfigError(
                f"the encryption key (fingerprint {mine}) is not the one this store's personal "
                f"fields were written with (fingerprint {stored}): configure the original key, "
                "or change keys with `storewise privacy rotate-key`"
            )

    def rotate_key(self, new: FieldCipher) -> int:
        """Re-encrypt every personal field with ``new`` in one transaction and record its
        fingerprint; returns the profiles re-encrypted. The store must be open with the
        current key."""
        if self.cipher is None:
            raise ConfigError("rotating keys needs the current encryption key configured")
        old = self.cipher
        done = 0
        with self.writer() as writer:
            conn = writer._conn
            rows = conn.execute(
                sa.select(
                    customers.c.customer_id, customers.c.email_enc, customers.c.name_enc
                ).where(customers.c.email_enc.is_not(None) | customers.c.name_enc.is_not(None))
            ).all()
            for customer_id, email, name in rows:
                conn.execute(
                    customers.update()
                    .where(customers.c.customer_id == customer_id)
                    .values(
                        email_enc=new.encrypt(old.decrypt(email)) if email else None,
                        name_enc=new.encrypt(old.decrypt(name)) if name else None,
                    )
                )
                done += 1
            conn.execute(
                sa.text("UPDATE store_meta SET value = :v WHERE key = 'key_fingerprint'"),
                {"v": new.fingerprint},
            )
            writer.audit("cli", "rotate_key", None, {"profiles": done})
        self.cipher = new
        self._compact()
        return done

    # -- suppression list and collection rule --------------------------------------------
    def _admission(self) -> Admission:
        return Admission(self.id_hash, self._collection)

    def use_collection_rule(self, rule: CollectionRule | None) -> None:
        """Apply ``rule`` to every event written from now on (None: store events as given)."""
        self._collection = rule

    def _secret(self) -> bytes:
        """The store's own secret for hashing ids (made once, kept in ``store_meta``)."""
        if self._hash_secret is None:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.text(
                        "INSERT INTO store_meta (key, value) VALUES ('id_hash_secret', :v) "
                        "ON CONFLICT (key) DO NOTHING"
                    ),
                    {"v": secrets.token_hex(32)},
                )
                value = conn.execute(
                    sa.text("SELECT value FROM store_meta WHERE key = 'id_hash_secret'")
                ).scalar_one()
            self._hash_secret = bytes.fromhex(str(value))
        return self._hash_secret

    def id_hash(self, customer_id: str) -> str:
        """The keyed hash (HMAC-SHA256 with the store's secret) of a customer id."""
        return hmac.new(self._secret(), customer_id.encode(), hashlib.sha256).hexdigest()

    def erased_since(self, since_ms: int) -> set[str]:
        """Hashes of the customers erased at or after ``since_ms``."""
        rows = self._fetch(
            "SELECT id_hash FROM suppressions WHERE erased_at >= ?", (int(since_ms),)
        )
        return {str(r[0]) for r in rows}
