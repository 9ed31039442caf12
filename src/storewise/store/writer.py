"""Writes of one import or request, inside one transaction, on SQLite or PostgreSQL.

Bulk paths use each driver's fastest idempotent insert (``INSERT OR IGNORE`` executemany on
SQLite, ``COPY`` into a temporary table then ``INSERT ... ON CONFLICT DO NOTHING`` on
PostgreSQL); identities are stitched set-based, a few statements per batch.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from storewise.errors import ConfigError, InputError
from storewise.privacy.crypto import FieldCipher
from storewise.schema import CUSTOMER_COLUMNS, EVENT_COLUMNS, ITEM_COLUMNS
from storewise.store.base import (
    CONSENT_SCHEMA,
    CUSTOMER_SCHEMA,
    EVENT_SCHEMA,
    ITEM_SCHEMA,
    REFUSED_ERASED,
    CollectionRule,
    EventWrite,
)
from storewise.store.tables import (
    audit_log,
    consents,
    customers,
    identities,
    ingest_reports,
    items,
)

#: Anonymous id prefix of events stored without identity (never a real visitor's id).
ANONYMISED_PREFIX = "~"
#: Catalog fields an item write may set (besides is_product and attributes), from schema.py.
_ITEM_FIELDS = tuple(c for c in ITEM_COLUMNS if c not in ("item_id", "is_product", "attributes"))
#: Profile fields a customer write may set (personal fields are encrypted apart).
_CUSTOMER_FIELDS = tuple(c for c in CUSTOMER_COLUMNS if c != "customer_id")
#: Rows a PostgreSQL import writes before it first refreshes the planner's statistics.
ANALYZE_FROM = 100_000
IN_CHUNK = 500
#: Event batches up to this size are written with plain Python steps (API requests).
_SMALL_BATCH = 64
#: Rows of one SQLite INSERT statement in bulk imports: 76 x 13 columns = 988 parameters,
#: under the 999 that SQLite builds older than 3.32 allow.
_ROWS_PER_INSERT = 76
_EVENT_FRAME = pl.Schema(EVENT_SCHEMA)
_AT = {c: i for i, c in enumerate(EVENT_COLUMNS)}


def now_ms() -> int:
    """The current time in epoch milliseconds."""
    return int(time.time() * 1000)


def frame_of(rows: Sequence[Sequence[Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Database rows as a frame of the store's schema."""
    return pl.DataFrame(rows, schema=schema, orient="row")


def json_text(value: Any) -> str | None:
    """A JSON column's value as text (as the store keeps it)."""
    if value is None:
        return None
    return json.dumps(value, sort_keys=True) if not isinstance(value, str) else value


def json_value(value: Any) -> Any:
    """A JSON column's text as a value; malformed text is a clear input error."""
    if value is None or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise InputError(f"attributes must be a JSON object, got {value[:80]!r}") from exc


@dataclass(frozen=True)
class Admission:
    """What decides, row by row, whether an arriving event is stored as given: the store's id
    hash (for the suppression list of erased customers) and the collection rule, if any."""

    id_hash: Callable[[str], str]
    collection: CollectionRule | None = None


class SqlWriter:
    """Writes of one import or request, all inside one database transaction."""

    def __init__(
        self, conn: sa.Connection, cipher: FieldCipher | None, admission: Admission | None = None
    ) -> None:
        self._conn = conn
        self._cipher = cipher
        self._admission = admission
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
        for start in range(0, len(anonymous_ids), IN_CHUNK):
            part = anonymous_ids[start : start + IN_CHUNK]
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

    def _insert_event_columns(self, columns: Sequence[list[Any]]) -> int:
        """SQLite bulk path: insert events given as one list per store column (same values
        and order as :meth:`_insert_events`), :data:`_ROWS_PER_INSERT` rows per statement.
        One statement per row spent more time starting statements than storing rows: on
        the Online Retail file this writes the same rows in about two thirds of the time."""
        count = len(columns[0]) if columns else 0
        if not count:
            return 0
        names = ", ".join(EVENT_COLUMNS)
        one = "(" + ", ".join("?" for _ in EVENT_COLUMNS) + ")"
        full = count - count % _ROWS_PER_INSERT
        width = _ROWS_PER_INSERT * len(EVENT_COLUMNS)
        values = list(itertools.chain.from_iterable(zip(*(c[:full] for c in columns), strict=True)))
        cursor = self._cursor()
        try:
            cursor.executemany(
                f"INSERT OR IGNORE INTO events ({names}) VALUES "
                + ", ".join([one] * _ROWS_PER_INSERT),
                (values[at : at + width] for at in range(0, len(values), width)),
            )
            stored = max(int(cursor.rowcount), 0)
            if full < count:
                cursor.executemany(
                    f"INSERT OR IGNORE INTO events ({names}) VALUES {one}",
                    zip(*(c[full:] for c in columns), strict=True),
                )
                stored += max(int(cursor.rowcount), 0)
            return stored
        finally:
            cursor.close()

    # -- admission: erased customers refused, the collection rule applied ---------------------
    def _admission_facts(self, customer_ids: list[str]) -> tuple[set[str], set[str]]:
        """(customers on the suppression list, customers whose tracking the collection rule
        stores without identity), in one round trip per chunk of ids (the single-event path
        pays a fraction of a millisecond for it)."""
        admission = self._admission
        if admission is None or not customer_ids:
            return set(), set()
        rule = admission.collection
        mark = "?" if self._dialect == "sqlite" else "%s"
        erased: set[str] = set()
        decided: dict[str, bool] = {}
        cursor = self._cursor()
        try:
            for start in range(0, len(customer_ids), IN_CHUNK):
                part = customer_ids[start : start + IN_CHUNK]
                hashes = {admission.id_hash(c): c for c in part}
                marks = ", ".join([mark] * len(part))
                sql = f"SELECT 's', id_hash, NULL FROM suppressions WHERE id_hash IN ({marks})"
                params: list[Any] = list(hashes)
                if rule is not None:
                    sql += (
                        " UNION ALL SELECT 'c', customer_id, granted FROM consents "
                        f"WHERE purpose = {mark} AND customer_id IN ({marks})"
                    )
                    params += [rule.purpose, *part]
                cursor.execute(sql, params)
                for kind, key, granted in cursor.fetchall():
                    if kind == "s":
                        erased.add(hashes[key])
                    else:
                        decided[key] = bool(granted)
        finally:
            cursor.close()
        quiet: set[str] = set()
        if rule is not None:
            quiet = {c for c in customer_ids if c not in erased}
            quiet = {c for c in quiet if not decided.get(c, rule.default)}
        return erased, quiet

    def _admit(
        self, frame: pl.DataFrame
    ) -> tuple[pl.DataFrame, dict[str, int], dict[str, int], frozenset[str]]:
        """(rows to store, refused by reason, stored without identity by reason, refused
        customers)."""
        if self._admission is None:
            return frame, {}, {}, frozenset()
        ids = [c for c in dict.fromkeys(frame.get_column("customer_id").to_list()) if c]
        refused: dict[str, int] = {}
        anonymised: dict[str, int] = {}
        erased, quiet = self._admission_facts(ids)
        if erased:
            gone = pl.col("customer_id").is_in(sorted(erased))
            refused[REFUSED_ERASED] = frame.filter(gone).height
            frame = frame.filter(~gone.fill_null(False))
        rule = self._admission.collection
        if quiet and rule is not None:
            hit = pl.col("customer_id").is_in(sorted(quiet)) & pl.col("event_type").is_in(
                sorted(rule.event_types)
            )
            count = frame.filter(hit).height
            if count:
                anonymised[f"stored without identity: no {rule.purpose} consent"] = count
                # Each such row becomes its own one-off visitor ("~" + its event id): no link
                # to the person, to their device or between their rows.
                frame = frame.with_columns(
                    pl.when(hit).then(None).otherwise(pl.col("customer_id")).alias("customer_id"),
                    pl.when(hit)
                    .then(pl.lit(ANONYMISED_PREFIX) + pl.col("event_id"))
                    .otherwise(pl.col("anonymous_id"))
                    .alias("anonymous_id"),
                    pl.when(hit).then(None).otherwise(pl.col("session_id")).alias("session_id"),
                )
        return frame, refused, anonymised, frozenset(erased)

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
        frame, refused, anonymised, refused_ids = self._admit(frame)
        if refused or anonymised:
            written = self._add_frame(frame) if frame.height else EventWrite(0, 0)
            return EventWrite(
                written.stored, written.duplicates, written.linked, refused, anonymised,
                refused_ids,
            )  # fmt: skip
        return self._add_frame(frame)

    def _add_frame(self, frame: pl.DataFrame) -> EventWrite:
        """Store admitted events in the canonical frame shape (small batches row by row)."""
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
        if self._dialect == "sqlite":
            stored = self._insert_event_columns([frame[c].to_list() for c in EVENT_COLUMNS])
        else:
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
        for start in range(0, len(pairs), IN_CHUNK):
            part = [(a, owners[a]) for a, _, _ in pairs[start : start + IN_CHUNK]]
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
                record["attributes"] = json_value(record["attributes"])
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
                record["attributes"] = json_value(record["attributes"])
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
