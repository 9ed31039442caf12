"""The SQLAlchemy store: SQLite as the embedded default, PostgreSQL (psycopg 3) in production.

This module opens the database and reads; every write goes through a
:class:`~storewise.store.writer.SqlWriter` inside one transaction. Everything is portable
SQLAlchemy Core but the writers' bulk inserts.

>>> store = SqlStore.open("sqlite://")
>>> store.stats()["events"]["total"]
0
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from storewise.errors import ConfigError, NotFound, StoreError
from storewise.privacy.crypto import FieldCipher
from storewise.schema import DAY_MS, EVENT_COLUMNS, from_ms
from storewise.store import aggregates, migrate
from storewise.store.base import (
    CONSENT_SCHEMA,
    CUSTOMER_SCHEMA,
    EVENT_SCHEMA,
    ITEM_SCHEMA,
    CollectionRule,
    Erasure,
    HistoryRow,
)
from storewise.store.experiments import ExperimentTables
from storewise.store.keys import KeyStore
from storewise.store.locks import WriteLock
from storewise.store.safeguards import Safeguards
from storewise.store.tables import (
    consents,
    customers,
    events,
    identities,
    suppressions,
)
from storewise.store.writer import (
    IN_CHUNK,
    SqlWriter,
    frame_of,
    json_text,
    json_value,
    now_ms,
)

#: How long SQLite waits for its write lock, and a writer for the cross-process write lock.
BUSY_TIMEOUT_S = 30

#: Raise the change sequence (creating its row if a restore or truncation removed it); the
#: same statement on SQLite and PostgreSQL.
_BUMP_CHANGES = sa.text(
    "INSERT INTO changes (id, seq) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET seq = changes.seq + 1"
)


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA secure_delete=ON")  # erased rows are overwritten, not left in free pages
    cursor.execute("PRAGMA cache_size=-131072")  # 128 MiB: bulk imports touch four B-trees
    cursor.close()


def create_engine(url: str) -> sa.Engine:
    """An engine for ``url`` with the pragmas storewise relies on (WAL, busy timeout, FKs)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = sa.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        if not path or path == ":memory:":
            engine = sa.create_engine(
                url, connect_args={"check_same_thread": False}, poolclass=sa.StaticPool
            )
        else:
            engine = sa.create_engine(
                url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
            )
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql"):
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError(
                "PostgreSQL needs the driver: pip install 'storewise[postgres]'"
            ) from exc
        return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    raise ConfigError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


class SqlStore(Safeguards):
    """A store on any SQLAlchemy URL storewise supports (SQLite file or PostgreSQL)."""

    def __init__(self, engine: sa.Engine, cipher: FieldCipher | None = None) -> None:
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=True)
        self.cipher = cipher
        self.dialect = engine.dialect.name
        self._ph = "?" if self.dialect == "sqlite" else "%s"
        self._collection: CollectionRule | None = None
        self._hash_secret: bytes | None = None
        database = engine.url.database if self.dialect == "sqlite" else None
        self._write_lock = (
            WriteLock(Path(f"{Path(database).resolve()}.lock"), BUSY_TIMEOUT_S)
            if database and database != ":memory:" and not database.startswith("file:")
            else None
        )

    @classmethod
    def open(cls, url: str, *, cipher: FieldCipher | None = None, upgrade: bool = True) -> SqlStore:
        """Connect to ``url``, bringing its schema up to date unless ``upgrade`` is False."""
        engine = create_engine(url)
        try:
            if upgrade:
                migrate.upgrade(engine)
        except sa.exc.OperationalError as exc:
            engine.dispose()
            raise StoreError(f"cannot open the store at {engine.url!r}: {exc.orig}") from exc
        store = cls(engine, cipher)
        if cipher is not None and upgrade:
            try:
                store.bind_key()
            except BaseException:
                engine.dispose()
                raise
        return store

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()

    @contextmanager
    def writer(self) -> Iterator[SqlWriter]:
        """A writer whose work commits when the block ends cleanly, else rolls back.

        On an SQLite file the transaction runs under the cross-process write lock
        (:mod:`storewise.store.locks`), so writers queue instead of sleep-polling.
        """
        self._secret()  # made outside any write transaction (it writes once, on first use)
        lock = self._write_lock.hold() if self._write_lock else nullcontext()
        with lock, self._transaction() as writer:
            yield writer

    @contextmanager
    def _transaction(self) -> Iterator[SqlWriter]:
        try:
            with self.engine.begin() as conn:
                yield SqlWriter(conn, self.cipher, self._admission())
                conn.execute(_BUMP_CHANGES)
        except sa.exc.IntegrityError as exc:
            raise StoreError(f"the store refused the write: {exc.orig}") from exc
        except sa.exc.OperationalError as exc:
            raise StoreError(f"the store failed: {exc.orig}") from exc

    # -- reads -----------------------------------------------------------------------------
    def _insert_ignore(self, table: sa.Table) -> Any:
        """An INSERT that skips rows whose key is already there (both dialects)."""
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        return dialect.insert(table).on_conflict_do_nothing()

    def _compact(self) -> None:
        """After an erasure: fold SQLite's write-ahead log into the database file and empty
        it, so old page images holding the erased rows do not linger on disk (deleted rows are
        already overwritten: ``secure_delete``)."""
        if self.dialect == "sqlite":
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def change_seq(self) -> int:
        """The store's change sequence: raised by every committed write transaction, so a
        cache keyed on it is stale exactly when something was written since."""
        rows = self._fetch("SELECT seq FROM changes WHERE id = 1")
        return int(rows[0][0]) if rows else 0

    def order_lines(self) -> tuple[pl.DataFrame, int | None]:
        """Purchases and returns of known customers summed per order (or per customer and day
        without an order id), and the latest event time of the whole store (ms).

        The grouping runs in the database, so 400k order lines arrive as about 22k rows.
        """
        e = events.c
        value = sa.func.coalesce(e.value, e.price * e.quantity, 0.0)
        day = sa.case((e.order_id.is_(None), e.ts // DAY_MS), else_=sa.null())
        stmt = (
            sa.select(e.customer_id, e.order_id, sa.func.min(e.ts), sa.func.sum(value))
            .where(e.event_type.in_(("purchase", "return")), e.customer_id.is_not(None))
            .group_by(e.customer_id, e.order_id, day)
        )
        with self.engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(stmt)]
            last_ts = conn.execute(sa.select(sa.func.max(e.ts))).scalar()
        schema = {"customer_id": pl.Utf8, "order_id": pl.Utf8, "ts": pl.Int64, "value": pl.Float64}
        lines = pl.DataFrame(rows, schema=schema, orient="row")
        return lines, None if last_ts is None else int(last_ts)

    def monthly_activity(self) -> list[aggregates.MonthFigures]:
        """Per month: active customers, orders and revenue."""
        return aggregates.monthly_activity(self.engine)

    def item_facts(self, item_id: str) -> dict[str, Any] | None:
        """One catalog row, or None when unknown."""
        return aggregates.item_facts(self.engine, item_id)

    def item_audience(self, item_id: str) -> aggregates.ItemAudience:
        """Who buys an item, as counts only (buyers, units, revenue, returns, countries)."""
        return aggregates.item_audience(self.engine, item_id)

    def search_customers(self, text: str, *, limit: int = 20) -> list[str]:
        """Customer ids starting with ``text``."""
        return aggregates.search_customers(self.engine, text, limit=limit)

    def keys(self) -> KeyStore:
        """The API keys kept in this store."""
        return KeyStore(self.engine)

    def experiment_tables(self) -> ExperimentTables:
        """Experiments, assignments, the exposure log and feedback kept in this store."""
        return ExperimentTables(self.engine)

    def audit_entries(self, limit: int = 50) -> list[dict[str, Any]]:
        """The most recent audit log entries, newest first (never personal data)."""
        rows = self._fetch(
            "SELECT entry_id, at, actor, action, subject, details FROM audit_log "
            f"ORDER BY entry_id DESC LIMIT {int(limit)}"
        )
        return [
            {
                "at": from_ms(at).isoformat(),
                "actor": actor,
                "action": action,
                "subject": subject,
                "details": json_value(details),
            }
            for _id, at, actor, action, subject, details in rows
        ]

    def limit_cache(self, mib: int) -> None:
        """Give every new SQLite connection a page cache of ``mib`` MiB and drop the pooled
        ones, so none keeps the import-sized cache; PostgreSQL manages its own (no-op)."""
        if self.dialect != "sqlite":
            return

        def small_cache(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA cache_size=-{int(mib) * 1024}")
            cursor.close()

        sa.event.listen(self.engine, "connect", small_cache)
        self.engine.dispose()

    def ping(self) -> None:
        """Run a trivial query; StoreError when the database does not answer."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"the store does not answer: {exc}") from exc

    def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        sql = sql.replace("?", self._ph)
        with self.engine.connect() as conn:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(sql, tuple(params))
                return list(cursor.fetchall())
            finally:
                cursor.close()

    def _events_where(self, where: str, params: Sequence[Any], suffix: str = "") -> pl.DataFrame:
        sql = f"SELECT {', '.join(EVENT_COLUMNS)} FROM events {where} {suffix}"
        return frame_of(self._fetch(sql, params), EVENT_SCHEMA)

    def events(
        self, *, until_ms: int | None = None, customer_ids: Sequence[str] | None = None
    ) -> pl.DataFrame:
        """Events (all, or of some customers) with ``ts <= until_ms``, ordered by time."""
        if customer_ids is not None:
            frames = []
            ids = list(customer_ids)
            for start in range(0, len(ids), IN_CHUNK):
                part = ids[start : start + IN_CHUNK]
                marks = ", ".join("?" for _ in part)
                clause = f"WHERE customer_id IN ({marks})"
                params: list[Any] = list(part)
                if until_ms is not None:
                    clause += " AND ts <= ?"
                    params.append(until_ms)
                frames.append(self._events_where(clause, params))
            if not frames:
                return pl.DataFrame(schema=EVENT_SCHEMA)
            return pl.concat(frames).sort("ts", "event_id")
        if until_ms is None:
            return self._events_where("", (), "ORDER BY ts, event_id")
        return self._events_where("WHERE ts <= ?", (until_ms,), "ORDER BY ts, event_id")

    def iter_events(self, *, batch_rows: int = 500_000) -> Iterator[pl.DataFrame]:
        """All events in batches, ordered by event_id, for bounded-memory exports."""
        last = ""
        while True:
            frame = self._events_where(
                "WHERE event_id > ?", (last,), f"ORDER BY event_id LIMIT {int(batch_rows)}"
            )
            if frame.height == 0:
                return
            yield frame
            last = frame["event_id"][-1]

    def items(self) -> pl.DataFrame:
        """The catalog, products and non-product codes, with features."""
        rows = self._fetch(
            "SELECT item_id, title, description, category, brand, price, currency, in_stock, "
            "is_product, attributes FROM items ORDER BY item_id"
        )
        fixed = [(*r[:7], bool(r[7]), bool(r[8]), json_text(r[9])) for r in rows]
        return frame_of(fixed, ITEM_SCHEMA)

    def customers(self) -> pl.DataFrame:
        """Customer profiles without personal fields."""
        rows = self._fetch(
            "SELECT customer_id, country, created_at, attributes FROM customers "
            "ORDER BY customer_id"
        )
        return frame_of([(*r[:3], json_text(r[3])) for r in rows], CUSTOMER_SCHEMA)

    def consents(self) -> pl.DataFrame:
        """The current consent decision per customer and purpose."""
        rows = self._fetch(
            "SELECT customer_id, purpose, granted, at, source FROM consents "
            "ORDER BY customer_id, purpose"
        )
        return frame_of([(r[0], r[1], bool(r[2]), r[3], r[4]) for r in rows], CONSENT_SCHEMA)

    def history_rows(self, customer_id: str, *, limit: int = 500) -> list[HistoryRow]:
        """The serving path's history read: (item_id, event_type, quantity, value, order_id,
        ts) of a customer's most recent events, oldest first, in one indexed query."""
        rows = self._fetch(
            "SELECT item_id, event_type, quantity, value, order_id, ts FROM events "
            f"WHERE customer_id = ? AND item_id IS NOT NULL ORDER BY ts DESC LIMIT {int(limit)}",
            (customer_id,),
        )
        rows.reverse()
        return rows

    def serving_facts(
        self, customer_id: str
    ) -> tuple[str | None, bool | None, tuple[int, int, int]]:
        """(country, personalization decision or None, history stamp) in one indexed query.

        The stamp (number of events, latest and summed timestamps) changes with any new,
        linked or erased event of the customer, so answers can be remembered safely.
        """
        rows = self._fetch(
            "SELECT (SELECT country FROM customers WHERE customer_id = ?), "
            "(SELECT granted FROM consents WHERE customer_id = ? AND purpose = 'personalization'), "
            "COUNT(*), MAX(ts), SUM(ts) FROM events WHERE customer_id = ?",
            (customer_id, customer_id, customer_id),
        )
        country, granted, count, latest, total = rows[0]
        stamp = (int(count or 0), int(latest or 0), int(total or 0))
        return country, None if granted is None else bool(granted), stamp

    def consent_of(self, customer_id: str) -> dict[str, bool]:
        """The customer's current decision per purpose (purposes never decided are absent)."""
        rows = self._fetch(
            "SELECT purpose, granted FROM consents WHERE customer_id = ?", (customer_id,)
        )
        return {str(p): bool(g) for p, g in rows}

    def customer_history(self, customer_id: str, *, limit: int | None = None) -> pl.DataFrame:
        """A customer's events (stitched anonymous ones included), oldest first."""
        suffix = "ORDER BY ts DESC, event_id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        frame = self._events_where("WHERE customer_id = ?", (customer_id,), suffix)
        return frame.reverse()

    def session_history(self, anonymous_id: str, *, limit: int | None = None) -> pl.DataFrame:
        """An anonymous visitor's events, oldest first."""
        suffix = "ORDER BY ts DESC, event_id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        return self._events_where("WHERE anonymous_id = ?", (anonymous_id,), suffix).reverse()

    def resolve_anonymous(self, anonymous_id: str) -> str | None:
        """The customer an anonymous id was linked to, if any."""
        rows = self._fetch(
            "SELECT customer_id FROM identities WHERE anonymous_id = ?", (anonymous_id,)
        )
        return str(rows[0][0]) if rows else None

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        """One profile with decrypted personal fields, or None if unknown."""
        rows = self._fetch(
            "SELECT customer_id, country, created_at, attributes, email_enc, name_enc "
            "FROM customers WHERE customer_id = ?",
            (customer_id,),
        )
        if not rows:
            return None
        cid, country, created, attributes, email_enc, name_enc = rows[0]
        profile: dict[str, Any] = {
            "customer_id": cid,
            "country": country,
            "created_at": from_ms(created).isoformat() if created is not None else None,
            "attributes": json_value(attributes) or {},
            "email": None,
            "name": None,
        }
        if (email_enc or name_enc) and self.cipher is None:
            profile["personal_fields"] = "encrypted; configure the encryption key to read them"
        elif self.cipher is not None:
            profile["email"] = self.cipher.decrypt(email_enc) if email_enc else None
            profile["name"] = self.cipher.decrypt(name_enc) if name_enc else None
        return profile

    def contacts(self, customer_ids: Sequence[str]) -> dict[str, str]:
        """Decrypted e-mail addresses of the given customers that have one."""
        if self.cipher is None:
            return {}
        found: dict[str, str] = {}
        ids = list(customer_ids)
        for start in range(0, len(ids), IN_CHUNK):
            part = ids[start : start + IN_CHUNK]
            marks = ", ".join("?" for _ in part)
            for cid, enc in self._fetch(
                f"SELECT customer_id, email_enc FROM customers WHERE customer_id IN ({marks}) "
                "AND email_enc IS NOT NULL",
                part,
            ):
                found[cid] = self.cipher.decrypt(enc)
        return found

    def stats(self) -> dict[str, Any]:
        """Counts, date range, top items and data-quality figures for ``storewise stats``."""
        one = self._fetch
        per_type = one(
            "SELECT event_type, COUNT(*), MIN(ts), MAX(ts), SUM(value), "
            "SUM(CASE WHEN customer_id IS NULL THEN 1 ELSE 0 END) FROM events GROUP BY event_type"
        )
        by_type = {t: n for t, n, *_ in per_type}
        lows = [lo for _, _, lo, _, _, _ in per_type if lo is not None]
        highs = [hi for _, _, _, hi, _, _ in per_type if hi is not None]
        lo, hi = (min(lows), max(highs)) if lows else (None, None)
        revenue = sum(v or 0.0 for t, _, _, _, v, _ in per_type if t == "purchase")
        returned = sum(v or 0.0 for t, _, _, _, v, _ in per_type if t == "return")
        anonymous = sum(int(g or 0) for *_, g in per_type)
        orders_n, buyers = one(
            "SELECT COUNT(DISTINCT order_id), COUNT(DISTINCT customer_id) FROM events "
            "WHERE event_type = 'purchase'"
        )[0]
        (products,) = one("SELECT COUNT(*) FROM items WHERE is_product = ?", (True,))[0]
        (other_codes,) = one("SELECT COUNT(*) FROM items WHERE is_product = ?", (False,))[0]
        (no_title,) = one(
            "SELECT COUNT(*) FROM items WHERE is_product = ? AND title IS NULL", (True,)
        )[0]
        (no_category,) = one(
            "SELECT COUNT(*) FROM items WHERE is_product = ? AND category IS NULL", (True,)
        )[0]
        (no_price,) = one(
            "SELECT COUNT(*) FROM items WHERE is_product = ? AND price IS NULL", (True,)
        )[0]
        (n_customers,) = one("SELECT COUNT(*) FROM customers")[0]
        (links,) = one("SELECT COUNT(*) FROM identities")[0]
        top = one(
            "SELECT e.item_id, i.title, COUNT(*) AS n, COUNT(DISTINCT e.customer_id) AS buyers "
            "FROM events e JOIN items i ON i.item_id = e.item_id "
            "WHERE e.event_type = 'purchase' AND i.is_product = ? "
            "GROUP BY e.item_id, i.title ORDER BY n DESC, e.item_id LIMIT 10",
            (True,),
        )
        consent_rows = one(
            "SELECT purpose, granted, COUNT(*) FROM consents GROUP BY purpose, granted"
        )
        consent: dict[str, dict[str, int]] = {}
        for purpose, granted, count in consent_rows:
            consent.setdefault(purpose, {"granted": 0, "withdrawn": 0})[
                "granted" if granted else "withdrawn"
            ] = int(count)
        total = int(sum(by_type.values()))
        return {
            "customers": int(n_customers),
            "buyers": int(buyers),
            "items": int(products),
            "non_product_codes": int(other_codes),
            "events": {"total": total, **{k: int(v) for k, v in sorted(by_type.items())}},
            "orders": int(orders_n),
            "revenue": round(float(revenue or 0.0), 2),
            "returned_value": round(float(returned or 0.0), 2),
            "date_range": {
                "first": from_ms(lo).isoformat() if lo is not None else None,
                "last": from_ms(hi).isoformat() if hi is not None else None,
            },
            "top_items": [
                {"item_id": i, "title": t, "purchases": int(n), "buyers": int(b)}
                for i, t, n, b in top
            ],
            "identities_linked": int(links),
            "consents": consent,
            "data_quality": {
                "anonymous_events": int(anonymous),
                "anonymous_share": round(anonymous / total, 4) if total else 0.0,
                "items_without_title": int(no_title),
                "items_without_category": int(no_category),
                "items_without_price": int(no_price),
            },
        }

    def reports(self, limit: int = 20) -> list[dict[str, Any]]:
        """The most recent ingest reports, newest first."""
        rows = self._fetch(
            f"SELECT report_id, at, kind, files, report FROM ingest_reports "
            f"ORDER BY report_id DESC LIMIT {int(limit)}"
        )
        return [
            {
                "report_id": rid,
                "at": from_ms(at).isoformat(),
                "kind": kind,
                "files": json_value(files),
                "report": json_value(report),
            }
            for rid, at, kind, files, report in rows
        ]

    def export_customer(self, customer_id: str) -> dict[str, Any]:
        """Everything held about a customer, as JSON-ready data (right of access)."""
        profile = self.customer(customer_id)
        history = self.customer_history(customer_id)
        if profile is None and history.height == 0:
            raise NotFound(f"no data is held about customer {customer_id!r}")
        links = self._fetch(
            "SELECT anonymous_id, linked_at FROM identities WHERE customer_id = ? "
            "ORDER BY linked_at",
            (customer_id,),
        )
        decisions = self.consents().filter(pl.col("customer_id") == customer_id)
        events_out = history.with_columns(
            pl.from_epoch("ts", time_unit="ms").dt.replace_time_zone("UTC").alias("timestamp")
        ).drop("ts")
        return {
            "customer": profile,
            "anonymous_ids": [
                {"anonymous_id": a, "linked_at": from_ms(t).isoformat()} for a, t in links
            ],
            "consents": [
                {**d, "at": from_ms(d["at"]).isoformat()}
                for d in decisions.drop("customer_id").to_dicts()
            ],
            "events": [
                {**e, "timestamp": e["timestamp"].isoformat()} for e in events_out.to_dicts()
            ],
        }

    def erase_customer(self, customer_id: str, *, actor: str = "system") -> Erasure:
        """Delete a customer's rows everywhere in one transaction; returns what was removed."""
        removed: dict[str, int] = {}
        with self.writer() as writer:
            conn = writer._conn
            anonymous = [
                a
                for (a,) in conn.execute(
                    sa.select(identities.c.anonymous_id).where(
                        identities.c.customer_id == customer_id
                    )
                )
            ]
            ev = conn.execute(
                sa.text("DELETE FROM events WHERE customer_id = :c"), {"c": customer_id}
            )
            removed["events"] = int(ev.rowcount)
            for start in range(0, len(anonymous), IN_CHUNK):
                part = anonymous[start : start + IN_CHUNK]
                res = conn.execute(
                    sa.text("DELETE FROM events WHERE anonymous_id IN :a").bindparams(
                        sa.bindparam("a", expanding=True)
                    ),
                    {"a": part},
                )
                removed["events"] += int(res.rowcount)
            for name, table in (("anonymous_ids", identities), ("consents", consents)):
                res = conn.execute(table.delete().where(table.c.customer_id == customer_id))
                removed[name] = int(res.rowcount)
            removed.update(
                ExperimentTables(self.engine).erase_units(conn, [customer_id, *anonymous])
            )
            res = conn.execute(customers.delete().where(customers.c.customer_id == customer_id))
            removed["profile"] = int(res.rowcount)
            if sum(removed.values()) == 0:
                raise NotFound(f"no data is held about customer {customer_id!r}")
            conn.execute(
                self._insert_ignore(suppressions),
                {"id_hash": self.id_hash(customer_id), "erased_at": now_ms()},
            )
            removed["suppression_list"] = 1
            writer.audit(actor, "erase_customer", None, {"removed": removed})
        self._compact()
        return Erasure(customer_id=customer_id, removed=removed)
