"""schema.py is the one definition of the canonical columns: the record types, the store's
frames, its SQL tables, the import columns and the synthetic tables must all agree with it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from pydantic import BaseModel

from storewise import schema
from storewise.data.dataset import SNAPSHOT_EVENT_COLUMNS
from storewise.datasets import synth
from storewise.ingest.events import WANTED
from storewise.ingest.records import ingest_records
from storewise.store import SqlStore, base, tables

#: Each record type, its store frame schema and SQL table, and the table's columns that are not
#: frame columns (personal fields as ciphertext, bookkeeping).
CANONICAL = [
    pytest.param(schema.Event, schema.EVENT_SCHEMA, tables.events, (), id="events"),
    pytest.param(schema.Item, schema.ITEM_SCHEMA, tables.items, ("updated_at",), id="items"),
    pytest.param(
        schema.Customer,
        schema.CUSTOMER_SCHEMA,
        tables.customers,
        (*(f"{f}_enc" for f in schema.PERSONAL_FIELDS), "updated_at"),
        id="customers",
    ),
    pytest.param(schema.Consent, schema.CONSENT_SCHEMA, tables.consents, (), id="consents"),
]

#: The polars dtype a frame column of each SQL type has.
SQL_DTYPES: dict[type[sa.types.TypeEngine[Any]], pl.DataType] = {
    sa.String: pl.Utf8(),
    sa.Text: pl.Utf8(),
    sa.JSON: pl.Utf8(),
    sa.Float: pl.Float64(),
    sa.BigInteger: pl.Int64(),
    sa.Boolean: pl.Boolean(),
}


def test_column_tuples_and_reexports_are_the_schemas() -> None:
    """The column tuples follow the schemas; store.base re-exports the very same dicts."""
    assert tuple(schema.EVENT_SCHEMA) == schema.EVENT_COLUMNS
    assert tuple(schema.ITEM_SCHEMA) == schema.ITEM_COLUMNS
    assert tuple(schema.CUSTOMER_SCHEMA) == schema.CUSTOMER_COLUMNS
    assert tuple(schema.CONSENT_SCHEMA) == schema.CONSENT_COLUMNS
    assert base.EVENT_SCHEMA is schema.EVENT_SCHEMA
    assert base.ITEM_SCHEMA is schema.ITEM_SCHEMA
    assert base.CUSTOMER_SCHEMA is schema.CUSTOMER_SCHEMA
    assert base.CONSENT_SCHEMA is schema.CONSENT_SCHEMA


@pytest.mark.parametrize(("record", "frame", "table", "extra"), CANONICAL)
def test_sql_tables_agree(
    record: type[BaseModel], frame: dict[str, pl.DataType], table: sa.Table, extra: tuple[str, ...]
) -> None:
    """Each SQL table holds the frame's columns in order (plus its own), with matching types
    and, where both bound a text's length, the record's limit."""
    columns = [c for c in table.columns if c.name not in extra]
    assert [c.name for c in columns] == list(frame)
    assert [c.name for c in table.columns if c.name in extra] == list(extra)
    for column in columns:
        assert SQL_DTYPES[type(column.type)] == frame[column.name], column.name
        field = record.model_fields.get("timestamp" if column.name == "ts" else column.name)
        length = getattr(column.type, "length", None)
        limits = [getattr(m, "max_length", None) for m in field.metadata] if field else []
        limits = [n for n in limits if n is not None]
        if length is not None and limits:
            assert limits == [length], column.name


def test_store_frames_have_the_schemas(sqlite_store: SqlStore) -> None:
    """What a store returns is typed exactly by schema.py, empty or not."""
    frames = (
        sqlite_store.events,
        sqlite_store.items,
        sqlite_store.customers,
        sqlite_store.consents,
    )
    wanted = (
        schema.EVENT_SCHEMA,
        schema.ITEM_SCHEMA,
        schema.CUSTOMER_SCHEMA,
        schema.CONSENT_SCHEMA,
    )
    for read, columns in zip(frames, wanted, strict=True):
        assert read().schema == pl.Schema(columns)
    at = datetime(2024, 5, 1, tzinfo=UTC).isoformat()
    customer = {"customer_id": "c1", "created_at": at, "consent_personalization": True}
    event = {"customer_id": "c1", "item_id": "i1", "event_type": "view", "timestamp": at}
    with sqlite_store.writer() as writer:
        ingest_records(writer, "customers", [customer])
        ingest_records(writer, "items", [{"item_id": "i1", "title": "Tea", "price": 3.5}])
        ingest_records(writer, "events", [event])
    for read, columns in zip(frames, wanted, strict=True):
        got = read()
        assert got.height == 1
        assert got.schema == pl.Schema(columns)


def test_import_columns_follow_the_records() -> None:
    """An import names the record's fields (the store's are renamed back), and the importer's
    event columns start with them; synthetic tables are imports with whole quantities."""
    assert (
        tuple("timestamp" if c == "ts" else c for c in schema.EVENT_COLUMNS if c != "source")
        == schema.EVENT_IMPORT_COLUMNS
    )
    assert WANTED[: len(schema.EVENT_IMPORT_COLUMNS)] == schema.EVENT_IMPORT_COLUMNS
    assert (
        tuple(c for c in schema.ITEM_COLUMNS if c not in ("is_product", "attributes"))
        == schema.ITEM_IMPORT_COLUMNS
    )
    customer_fields = [c for c in schema.Customer.model_fields if c != "attributes"]
    consents = [f"consent_{p}" for p in schema.PURPOSES]
    assert list(schema.CUSTOMER_IMPORT_COLUMNS) == customer_fields + consents
    assert schema.EVENT_IMPORT_SCHEMA["timestamp"] == pl.Datetime("us", "UTC")
    assert {**schema.EVENT_IMPORT_SCHEMA, "quantity": pl.Int64()} == synth.EVENT_SCHEMA
    assert synth.ITEM_SCHEMA == schema.ITEM_IMPORT_SCHEMA
    assert synth.CUSTOMER_SCHEMA == schema.CUSTOMER_IMPORT_SCHEMA


def test_snapshot_keeps_store_event_columns() -> None:
    """A snapshot's events are the store's, with dense indices in place of the ids."""
    indices = ("customer_idx", "item_idx")
    assert SNAPSHOT_EVENT_COLUMNS[:2] == indices
    assert set(SNAPSHOT_EVENT_COLUMNS[2:]) <= set(schema.EVENT_COLUMNS)
