"""The SQLAlchemy store: SQLite as the embedded default, PostgreSQL (psycopg 3) in production.

Bulk paths use each driver's fastest idempotent insert (``INSERT OR IGNORE`` executemany on
SQLite, ``COPY`` into a temporary table then ``INSERT ... ON CONFLICT DO NOTHING`` on
PostgreSQL); everything else is portable SQLAlchemy Core.

>>> store = SqlStore.open("sqlite://")
>>> store.stats()["events"]["total"]
0
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from storewise.errors import ConfigError, InputError, NotFound, StoreError
from storewise.privacy.crypto import FieldCipher
from storewise.schema import EVENT_COLUMNS, from_ms
from storewise.store import migrate
from storewise.store.base import (
    CONSENT_SCHEMA,
    CUSTOMER_SCHEMA,
    EVENT_SCHEMA,
    ITEM_SCHEMA,
    Erasure,
    EventWrite,
)
from storewise.store.locks import WriteLock
from storewise.store.tables import (
    audit_log,
    consents,
    customers,
    identities,
    ingest_reports,
    items,
)

_ITEM_FIELDS = ("title", "description", "category", "brand", "price", "currency", "in_stock")
_CUSTOMER_FIELDS = ("country", "created_at", "attributes")
#: Rows a PostgreSQL import writes before it first refreshes the planner's statistics.
ANALYZE_FROM = 100_000
_IN_CHUNK = 500
#: Event batches up to this size are written with plain Python steps (API requests).
_SMALL_BATCH = 64
_EVENT_FRAME = pl.Schema(EVENT_SCHEMA)
_AT = {c: i for i, c in enumerate(EVENT_COLUMNS)}
#: How long SQLite waits for its write lock, and a writer for the cross-process write lock.
BUSY_TIMEOUT_S = 30


def now_ms() -> int:
    """The current time in epoch milliseconds."""
    return int(time.time() * 1000)


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


def _frame(rows: Sequence[Sequence[Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row")


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True) if not isinstance(value, str) else value


def _json_value(value: Any) -> Any:
    if value is None or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise InputError(f"attributes must be a JSON object, got {value[:80]!r}") from exc


class SqlWriter:
    """Writes of one import or request, all inside one database transaction."""

    def __init__(self, conn: sa.Connection, cipher: FieldCipher | None) -> None:
        self._conn = conn
        self._cipher = cipher
        self._dialect = conn.dialect.name
        self._pg_temp_ready = False
        self._events_written = 0
        self._analysed_at = 0

    # -- helpers ---------------------------------------------------------------------------
    def _insert(self, table: sa.Table) -> Any:
        return (postgresql.insert if self._dialect == "postgresql" else sqlite.insert)(table)

    def _cursor(self) -> Any:
        return self._conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    def _lookup_links(self, anonymous_ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(anonymous_ids), _IN_CHUNK):
            part = anonymous_ids[start : start + _IN_CHUNK]
            rows = self._conn.execute(
                sa.select(identities.c.anonymous_id, identities.c.customer_id).where(
                    identities.c.anonymous_id.in_(part)
                )
            )
            found.update({a: c for a, c in rows})
        return found

    @staticmethod
    def _first_seen(frame: pl.DataFrame) -> list[tuple[str, int]]:
        """(customer, earliest ts) of every customer in a frame with customer_id and ts."""
        first = (
            frame.filter(pl.col("customer_id").is_not_null())
            .group_by("customer_id")
            .agg(pl.col("ts").min().alias("created_at"))
        )
        return first.rows()

    def _ensure_customers(self, first_seen: Sequence[tuple[str, int]]) -> None:
        """Create customers not stored yet, created at their earliest event."""
        if not first_seen:
            return
        stamp = now_ms()
        rows = [{"customer_id": c, "created_at": t, "updated_at": stamp} for c, t in first_seen]
        self._conn.execute(self._insert(customers).on_conflict_do_nothing(), rows)

    def _ensure_items(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        stamp = now_ms()
        rows = [{"item_id": i, "updated_at": stamp} for i in ids]
        self._conn.execute(self._insert(items).on_conflict_do_nothing(), rows)

    def _insert_events(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """Insert event rows (store column order), ignoring stored event ids: rows inserted."""
        if not rows:
            return 0
        columns = ", ".join(EVENT_COLUMNS)
        cursor = self._cursor()
        try:
            if self._dialect == "postgresql" and len(rows) <= _SMALL_BATCH:
                # A few rows: one statement, no temporary table created per transaction.
                one = "(" + ", ".join("%s" for _ in EVENT_COLUMNS) + ")"
                cursor.execute(
                    f"INSERT INTO events ({columns}) VALUES {', '.join([one] * len(rows))} "
                    "ON CONFLICT (event_id) DO NOTHING",
                    [value for row in rows for value in row],
                )
                return int(cursor.rowcount)
            if self._dialect == "sqlite":
                marks = ", ".join("?" for _ in EVENT_COLUMNS)
                cursor.executemany(
                    f"INSERT OR IGNORE INTO events ({columns}) VALUES ({marks})", rows
                )
                return int(cursor.rowcount)
            if not self._pg_temp_ready:
                cursor.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS sw_events_in "
                    "(LIKE events INCLUDING DEFAULTS) ON COMMIT DROP"
                )
                self._pg_temp_ready = True
            cursor.execute("TRUNCATE sw_events_in")
            with cursor.copy(f"COPY sw_events_in ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO events ({columns}) SELECT {columns} FROM sw_events_in "
                "ON CONFLICT (event_id) DO NOTHING"
            )
            return int(cursor.rowcount)
        finally:
            cursor.close()

    # -- protocol ----------------------------------------------------------------------------
    def add_events(self, events: pl.DataFrame) -> EventWrite:
        """Insert events, ignoring event_ids already stored; stitch identities they carry."""
        if events.height == 0:
            return EventWrite(0, 0)
        frame = (
            events
            if events.schema == _EVENT_FRAME
            else events.select(
                [
                    (pl.col(c) if c in events.columns else pl.lit(None)).cast(t).alias(c)
                    for c, t in EVENT_SCHEMA.items()
                ]
            )
        )
        if frame.height <= _SMALL_BATCH:
            return self._add_event_rows(frame.rows())
        for required in ("event_id", "event_type", "ts"):
            if frame[required].null_count():
                raise InputError(f"every event needs {required} before it is stored")
        frame = frame.with_columns(pl.col("quantity").fill_null(1.0))
        # A row with both ids is a login: link first, so earlier guest rows count too.
        pairs = (
            frame.filter(pl.col("customer_id").is_not_null() & pl.col("anonymous_id").is_not_null())
            .group_by("anonymous_id")
            .agg(pl.col("customer_id").sort_by("ts").first(), pl.col("ts").min())
        )
        self._ensure_customers(self._first_seen(frame))
        linked = self._link_many(pairs.rows(), new_customers=False)[0] if pairs.height else 0
        guests = frame.filter(pl.col("customer_id").is_null())["anonymous_id"].unique()
        links = self._lookup_links([a for a in guests.to_list() if a is not None])
        if links:
            mapping = pl.DataFrame(
                {"anonymous_id": list(links), "_linked": list(links.values())},
                schema={"anonymous_id": pl.Utf8, "_linked": pl.Utf8},
            )
            frame = (
                frame.join(mapping, on="anonymous_id", how="left", maintain_order="left")
                .with_columns(pl.coalesce("customer_id", "_linked").alias("customer_id"))
                .drop("_linked")
            )
        item_ids = frame["item_id"].drop_nulls().unique().to_list()
        self._ensure_items(item_ids)
        stored = self._insert_events(frame.select(EVENT_COLUMNS).rows())
        self._refresh_statistics(stored)
        return EventWrite(stored=stored, duplicates=frame.height - stored, linked=linked)

    def _refresh_statistics(self, stored: int) -> None:
        """Re-analyse the events table on PostgreSQL each time a long import has doubled what
        it wrote. A table filled inside one transaction is otherwise never analysed, and the
        planner then answers the guest backfill (``customer_id IS NULL``) through the
        ``(customer_id, ts)`` index, testing every guest row already stored: each statement
        gets slower as the import grows. ANALYZE sees the transaction's own rows."""
        self._events_written += stored
        if self._dialect != "postgresql":
            return
        if self._events_written >= max(ANALYZE_FROM, 2 * self._analysed_at):
            self._conn.execute(sa.text("ANALYZE events"))
            self._analysed_at = self._events_written

    def _add_event_rows(self, rows: list[tuple[Any, ...]]) -> EventWrite:
        """The steps of :meth:`add_events` in plain Python, for a few rows (no polars work)."""
        for required in ("event_id", "event_type", "ts"):
            at = _AT[required]
            if any(r[at] is None for r in rows):
                raise InputError(f"every event needs {required} before it is stored")
        cid, aid, ts, qty, item = (
            _AT[c] for c in ("customer_id", "anonymous_id", "ts", "quantity", "item_id")
        )
        rows = [r if r[qty] is not None else (*r[:qty], 1.0, *r[qty + 1 :]) for r in rows]
        first_seen: dict[str, int] = {}
        logins: dict[str, tuple[int, str]] = {}  # anonymous id -> (earliest ts, its customer)
        for r in rows:
            customer, anonymous, at = r[cid], r[aid], r[ts]
            if customer is None:
                continue
            if customer not in first_seen or at < first_seen[customer]:
                first_seen[customer] = at
            if anonymous is not None and (anonymous not in logins or at < logins[anonymous][0]):
                logins[anonymous] = (at, customer)
        self._ensure_customers(list(first_seen.items()))
        pairs = [(a, c, at) for a, (at, c) in logins.items()]
        linked = self._link_many(pairs, new_customers=False)[0] if pairs else 0
        guests = list(dict.fromkeys(r[aid] for r in rows if r[cid] is None and r[aid] is not None))
        links = self._lookup_links(guests)
        if links:
            rows = [
                (*r[:cid], links[r[aid]], *r[cid + 1 :])
                if r[cid] is None and r[aid] in links
                else r
                for r in rows
            ]
        self._ensure_items(list(dict.fromkeys(r[item] for r in rows if r[item] is not None)))
        stored = self._insert_events(rows)
        return EventWrite(stored=stored, duplicates=len(rows) - stored, linked=linked)

    def link_identity(self, anonymous_id: str, customer_id: str, at_ms: int) -> int:
        """Link an anonymous id to a customer; returns events re-attributed to the customer.

        The first link of an anonymous id wins (a shared device does not move history twice).
        """
        return self._link(anonymous_id, customer_id, at_ms)[1]

    def _link(self, anonymous_id: str, customer_id: str, at_ms: int) -> tuple[int, int]:
        """(1 if the link is new else 0, events re-attributed)."""
        return self._link_many([(anonymous_id, customer_id, at_ms)])

    def _link_many(
        self, pairs: Sequence[tuple[str, str, int]], *, new_customers: bool = True
    ) -> tuple[int, int]:
        """Link many (anonymous id, customer, time) at once: (new links, events moved).

        Set-based (a few statements per batch, not per login), so imports with many logins
        stay fast on PostgreSQL too. ``new_customers=False`` when the caller has already
        created the customers (``add_events`` does, from the same rows).
        """
        if new_customers:
            stamp = now_ms()
            self._conn.execute(
                self._insert(customers).on_conflict_do_nothing(),
                [{"customer_id": c, "created_at": at, "updated_at": stamp} for _, c, at in pairs],
            )
        before = self._lookup_links([a for a, _, _ in pairs])
        fresh = [(a, c, at) for a, c, at in pairs if a not in before]
        if fresh:
            self._conn.execute(
                self._insert(identities).on_conflict_do_nothing(),
                [{"anonymous_id": a, "customer_id": c, "linked_at": at} for a, c, at in fresh],
            )
        owners = {**{a: c for a, c, _ in fresh}, **before}
        moved = 0
        for start in range(0, len(pairs), _IN_CHUNK):
            part = [(a, owners[a]) for a, _, _ in pairs[start : start + _IN_CHUNK]]
            cases = " ".join(f"WHEN :a{n} THEN :c{n}" for n in range(len(part)))
            names = ", ".join(f":a{n}" for n in range(len(part)))
            params: dict[str, str] = {}
            for n, (a, c) in enumerate(part):
                params[f"a{n}"], params[f"c{n}"] = a, c
            result = self._conn.execute(
                sa.text(
                    f"UPDATE events SET customer_id = CASE anonymous_id {cases} END "
                    f"WHERE anonymous_id IN ({names}) AND customer_id IS NULL"
                ),
                params,
            )
            moved += int(result.rowcount)
        return len(fresh), moved

    def upsert_items(self, items_frame: pl.DataFrame, *, fill_only: bool = False) -> int:
        """Insert or update catalog rows; with ``fill_only``, never overwrite known fields."""
        if items_frame.height == 0:
            return 0
        if "item_id" not in items_frame.columns:
            raise InputError("an item frame needs an item_id column")
        given = [c for c in (*_ITEM_FIELDS, "is_product", "attributes") if c in items_frame]
        frame = items_frame.select(
            [pl.col("item_id").cast(pl.Utf8)] + [pl.col(c).cast(ITEM_SCHEMA[c]) for c in given]
        ).unique("item_id", keep="last")
        stamp = now_ms()
        rows = []
        for record in frame.iter_rows(named=True):
            if "attributes" in record:
                record["attributes"] = _json_value(record["attributes"])
            for flag in ("in_stock", "is_product"):
                if flag in record and record[flag] is None:
                    record[flag] = True
            record["updated_at"] = stamp
            rows.append(record)
        statement = self._insert(items)
        updates: dict[str, Any] = {"updated_at": statement.excluded.updated_at}
        for column in given:
            new, old = statement.excluded[column], items.c[column]
            if column in ("in_stock", "is_product"):
                updates[column] = old if fill_only else new
            else:
                updates[column] = (
                    sa.func.coalesce(old, new) if fill_only else sa.func.coalesce(new, old)
                )
        statement = statement.on_conflict_do_update(index_elements=["item_id"], set_=updates)
        self._conn.execute(statement, rows)
        return len(rows)

    def upsert_customers(self, customers_frame: pl.DataFrame, *, fill_only: bool = False) -> int:
        """Insert or update profiles (email and name encrypted); returns rows written."""
        if customers_frame.height == 0:
            return 0
        if "customer_id" not in customers_frame.columns:
            raise InputError("a customer frame needs a customer_id column")
        personal = [
            c
            for c in ("email", "name")
            if c in customers_frame.columns
            and customers_frame[c].null_count() < len(customers_frame)
        ]
        if personal and self._cipher is None:
            raise ConfigError(
                f"personal fields ({', '.join(personal)}) are stored encrypted and no "
                "encryption key is configured: set STOREWISE_ENCRYPTION_KEY "
                "(create one with `storewise keys encryption-key`)"
            )
        given = [c for c in _CUSTOMER_FIELDS if c in customers_frame.columns]
        frame = customers_frame.select(
            [pl.col("customer_id").cast(pl.Utf8)]
            + [pl.col(c).cast(CUSTOMER_SCHEMA[c]) for c in given]
            + [pl.col(c).cast(pl.Utf8) for c in personal]
        ).unique("customer_id", keep="last")
        stamp = now_ms()
        rows = []
        for record in frame.iter_rows(named=True):
            if "attributes" in record:
                record["attributes"] = _json_value(record["attributes"])
            for field in personal:
                value = record.pop(field)
                assert self._cipher is not None
                record[f"{field}_enc"] = None if value is None else self._cipher.encrypt(value)
            record["updated_at"] = stamp
            rows.append(record)
        statement = self._insert(customers)
        updates: dict[str, Any] = {"updated_at": statement.excluded.updated_at}
        for column in [*given, *(f"{p}_enc" for p in personal)]:
            new, old = statement.excluded[column], customers.c[column]
            if column == "created_at":
                updates[column] = sa.func.coalesce(new, old)
            else:
                updates[column] = (
                    sa.func.coalesce(old, new) if fill_only else sa.func.coalesce(new, old)
                )
        statement = statement.on_conflict_do_update(index_elements=["customer_id"], set_=updates)
        self._conn.execute(statement, rows)
        return len(rows)

    def set_consents(self, consents_frame: pl.DataFrame) -> int:
        """Record consent decisions; a newer decision replaces an older one per purpose."""
        if consents_frame.height == 0:
            return 0
        frame = (
            consents_frame.select([pl.col(c).cast(t) for c, t in CONSENT_SCHEMA.items()])
            .sort("at")
            .unique(["customer_id", "purpose"], keep="last")
        )
        self._ensure_customers(
            self._first_seen(frame.select("customer_id", pl.col("at").alias("ts")))
        )
        statement = self._insert(consents)
        newer = statement.excluded.at >= consents.c.at
        statement = statement.on_conflict_do_update(
            index_elements=["customer_id", "purpose"],
            set_={
                "granted": sa.case((newer, statement.excluded.granted), else_=consents.c.granted),
                "source": sa.case((newer, statement.excluded.source), else_=consents.c.source),
                "at": sa.case((newer, statement.excluded.at), else_=consents.c.at),
            },
        )
        self._conn.execute(statement, frame.to_dicts())
        return frame.height

    def record_report(self, kind: str, files: Sequence[str], report: dict[str, Any]) -> None:
        """Keep an ingest report for the dashboard and ``stats``."""
        self._conn.execute(
            ingest_reports.insert().values(at=now_ms(), kind=kind, files=list(files), report=report)
        )

    def audit(self, actor: str, action: str, subject: str | None, details: Any = None) -> None:
        """Append an entry to the audit log (never personal data)."""
        self._conn.execute(
            audit_log.insert().values(
                at=now_ms(), actor=actor, action=action, subject=subject, details=details
            )
        )


class SqlStore:
    """A store on any SQLAlchemy URL storewise supports (SQLite file or PostgreSQL)."""

    def __init__(self, engine: sa.Engine, cipher: FieldCipher | None = None) -> None:
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=True)
        self.cipher = cipher
        self.dialect = engine.dialect.name
        self._ph = "?" if self.dialect == "sqlite" else "%s"
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
        return cls(engine, cipher)

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()

    @contextmanager
    def writer(self) -> Iterator[SqlWriter]:
        """A writer whose work commits when the block ends cleanly, else rolls back.

        On an SQLite file the transaction runs under the cross-process write lock
        (:mod:`storewise.store.locks`), so writers queue instead of sleep-polling.
        """
        lock = self._write_lock.hold() if self._write_lock else nullcontext()
        with lock, self._transaction() as writer:
            yield writer

    @contextmanager
    def _transaction(self) -> Iterator[SqlWriter]:
        try:
            with self.engine.begin() as conn:
                yield SqlWriter(conn, self.cipher)
        except sa.exc.IntegrityError as exc:
            raise StoreError(f"the store refused the write: {exc.orig}") from exc
        except sa.exc.OperationalError as exc:
            raise StoreError(f"the store failed: {exc.orig}") from exc

    # -- reads -----------------------------------------------------------------------------
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
        return _frame(self._fetch(sql, params), EVENT_SCHEMA)

    def events(
        self, *, until_ms: int | None = None, customer_ids: Sequence[str] | None = None
    ) -> pl.DataFrame:
        """Events (all, or of some customers) with ``ts <= until_ms``, ordered by time."""
        if customer_ids is not None:
            frames = []
            ids = list(customer_ids)
            for start in range(0, len(ids), _IN_CHUNK):
                part = ids[start : start + _IN_CHUNK]
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
        fixed = [(*r[:7], bool(r[7]), bool(r[8]), _json_text(r[9])) for r in rows]
        return _frame(fixed, ITEM_SCHEMA)

    def customers(self) -> pl.DataFrame:
        """Customer profiles without personal fields."""
        rows = self._fetch(
            "SELECT customer_id, country, created_at, attributes FROM customers "
            "ORDER BY customer_id"
        )
        return _frame([(*r[:3], _json_text(r[3])) for r in rows], CUSTOMER_SCHEMA)

    def consents(self) -> pl.DataFrame:
        """The current consent decision per customer and purpose."""
        rows = self._fetch(
            "SELECT customer_id, purpose, granted, at, source FROM consents "
            "ORDER BY customer_id, purpose"
        )
        return _frame([(r[0], r[1], bool(r[2]), r[3], r[4]) for r in rows], CONSENT_SCHEMA)

    def history_rows(
        self, customer_id: str, *, limit: int = 500
    ) -> list[tuple[str, str, float, float | None, str | None, int]]:
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
            "attributes": _json_value(attributes) or {},
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
        for start in range(0, len(ids), _IN_CHUNK):
            part = ids[start : start + _IN_CHUNK]
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
                "files": _json_value(files),
                "report": _json_value(report),
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
            for start in range(0, len(anonymous), _IN_CHUNK):
                part = anonymous[start : start + _IN_CHUNK]
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
            res = conn.execute(customers.delete().where(customers.c.customer_id == customer_id))
            removed["profile"] = int(res.rowcount)
            if sum(removed.values()) == 0:
                raise NotFound(f"no data is held about customer {customer_id!r}")
            writer.audit(actor, "erase_customer", None, {"removed": removed})
        return Erasure(customer_id=customer_id, removed=removed)
