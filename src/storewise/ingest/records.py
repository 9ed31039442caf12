"""Records sent one by one or in batches (the API's door): the same rules as files.

Each record is validated and cleaned exactly like a row of an imported file; the batch is
written in one transaction and the answer says what was stored, what was already there and
which records were rejected, by position and reason. Batches of up to
:data:`ROW_PATH_MAX` events run the event rule tables row by row in plain Python (a single
event costs well under a millisecond that way); larger ones run them vectorised.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from storewise.errors import InputError
from storewise.ingest.clean import Limits
from storewise.ingest.events import WANTED
from storewise.ingest.pipeline import Converter
from storewise.ingest.presets import get_preset
from storewise.schema import CUSTOMER_IMPORT_COLUMNS, EVENT_SCHEMA, ITEM_IMPORT_COLUMNS
from storewise.store.base import StoreWriter

#: Event batches up to this size are converted row by row instead of with polars.
ROW_PATH_MAX = 50


@dataclass
class RecordsReport:
    """Outcome of a batch of records."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    repaired: Counter[str] = field(default_factory=Counter)
    linked: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "repaired": dict(self.repaired),
            "identities_linked": self.linked,
        }


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _frame(records: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> pl.DataFrame:
    data = {c: [_text(r.get(c)) for r in records] for c in columns}
    frame = pl.DataFrame(data, schema=dict.fromkeys(columns, pl.Utf8))
    return frame.with_columns(pl.Series("_line", np.arange(len(records), dtype=np.int64)))


def _rejects(bad: pl.DataFrame) -> list[dict[str, Any]]:
    return [{"index": int(i), "reason": r} for i, r in bad.select("_line", "_reason").iter_rows()]


def convert_events(
    converter: Converter,
    records: Sequence[Mapping[str, Any]],
    *,
    row_by_row: bool | None = None,
) -> tuple[pl.DataFrame, list[dict[str, Any]], Counter[str]]:
    """(events to store, rejections by index, repairs) of event records.

    ``row_by_row`` picks the path (default: row by row for at most :data:`ROW_PATH_MAX`
    records of a preset without preparation); both apply the same rule tables.
    """
    if row_by_row is None:
        row_by_row = len(records) <= ROW_PATH_MAX and converter.preset.prepare is None
    if row_by_row:
        raw = [{c: _text(r.get(c)) for c in WANTED} for r in records]
        rows, rejected, repairs = converter.event_rows(raw)
        events = pl.DataFrame(rows, schema=EVENT_SCHEMA, orient="row")
        return events, [{"index": i, "reason": r} for i, r in rejected], repairs
    frame, bad, repairs, _notes = converter.events(_frame(records, WANTED))
    events = frame.drop("title", "category", "country", "is_product")
    return events, _rejects(bad), repairs


@dataclass
class CheckedRecords:
    """Records validated and cleaned, ready to be written (see :func:`check_records`)."""

    kind: str
    received: int
    rows: pl.DataFrame
    consents: pl.DataFrame | None = None
    rejected: list[dict[str, Any]] = field(default_factory=list)
    repaired: Counter[str] = field(default_factory=Counter)

    def write(self, writer: StoreWriter) -> RecordsReport:
        """Store the rows inside ``writer``'s transaction and report the outcome."""
        report = RecordsReport(
            received=self.received, rejected=self.rejected, repaired=Counter(self.repaired)
        )
        if self.kind == "events":
            result = writer.add_events(self.rows)
            report.stored, report.duplicates, report.linked = (
                result.stored,
                result.duplicates,
                result.linked,
            )
            report.repaired.update(result.anonymised)
            if result.refused:
                report.rejected = sorted(
                    [*report.rejected, *self._refused(result.refused_ids, result.refused)],
                    key=lambda r: r["index"],
                )
        elif self.kind == "items":
            report.stored = writer.upsert_items(self.rows)
        else:
            report.stored = writer.upsert_customers(self.rows)
            if self.consents is not None:
                writer.set_consents(self.consents)
        return report

    def _refused(self, ids: frozenset[str], reasons: Mapping[str, int]) -> list[dict[str, Any]]:
        """Positions (in the request) of rows the store refused for their customer: the rows
        kept after validation are the request's rows less the rejected ones, in order."""
        (reason,) = reasons  # one reason today: the customer was erased
        taken = {r["index"] for r in self.rejected}
        kept = [i for i in range(self.received) if i not in taken]
        customers = self.rows.get_column("customer_id").to_list()
        return [
            {"index": position, "reason": reason}
            for position, customer in zip(kept, customers, strict=False)
            if customer in ids
        ]


def _unreadable(record: Mapping[str, Any]) -> str | None:
    """Why a record's values cannot be read as text at all (None when they can): a lone
    surrogate (no database stores it), nesting too deep for JSON, an integer too long."""
    for value in record.values():
        if isinstance(value, str):
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    return "text is not valid Unicode (a lone surrogate)"
        elif isinstance(value, dict | list):
            try:
                json.dumps(value).encode("utf-8")
            except RecursionError:
                return "a value nested too deeply"
            except ValueError:
                return "a nested value that is not valid JSON text"
        elif isinstance(value, int) and value.bit_length() > 1024:
            return "a number too large to be read"
    return None


def check_records(
    kind: str,
    records: Sequence[Mapping[str, Any]],
    *,
    source: str = "api",
    limits: Limits | None = None,
) -> CheckedRecords:
    """Validate and clean records of one kind (events, items, customers), before any write,
    so the CPU work stays outside the store's write transaction (and its write lock).

    ``limits`` are the ceilings on quantities and prices (default: :class:`Limits`); a record
    whose values cannot even be read as text is rejected by position like any other.
    """
    if kind not in ("events", "items", "customers"):
        raise InputError(f"unknown record kind {kind!r}")
    unreadable = {i: r for i, rec in enumerate(records) if (r := _unreadable(rec)) is not None}
    if not unreadable:
        return _check(kind, records, source, limits)
    kept = [i for i in range(len(records)) if i not in unreadable]
    checked = _check(kind, [records[i] for i in kept], source, limits)
    moved = [{**r, "index": kept[r["index"]]} for r in checked.rejected]
    refused = [{"index": i, "reason": r} for i, r in unreadable.items()]
    checked.rejected = sorted([*moved, *refused], key=lambda r: int(r["index"]))
    checked.received = len(records)
    return checked


def _check(
    kind: str, records: Sequence[Mapping[str, Any]], source: str, limits: Limits | None
) -> CheckedRecords:
    """:func:`check_records` of records known to be readable as text."""
    if not records:
        return CheckedRecords(kind, 0, pl.DataFrame())
    converter = Converter(get_preset(None, kind), None, source, limits)
    if kind == "events":
        events, rejected, repairs = convert_events(converter, records)
        return CheckedRecords(kind, len(records), events, rejected=rejected, repaired=repairs)
    if kind == "items":
        items, bad, repairs = converter.items(_frame(records, ITEM_IMPORT_COLUMNS))
        unique = items.unique("item_id", keep="last")
        return CheckedRecords(kind, len(records), unique, None, _rejects(bad), repairs)
    raw = _frame(records, CUSTOMER_IMPORT_COLUMNS)
    profiles, consents, bad, repairs = converter.customers(raw)
    unique = profiles.unique("customer_id", keep="last")
    return CheckedRecords(kind, len(records), unique, consents, _rejects(bad), repairs)


def ingest_records(
    writer: StoreWriter, kind: str, records: Sequence[Mapping[str, Any]], *, source: str = "api"
) -> RecordsReport:
    """Validate and store records of one kind (events, items, customers) inside ``writer``."""
    return check_records(kind, records, source=source).write(writer)
