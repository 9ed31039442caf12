"""The event rules, written once as tables and run two ways: over a chunk with polars (files,
large API batches) or row by row in plain Python (small API batches), with the same outcome.

Each table is read by both :func:`convert_frame` and :func:`convert_rows`: derived columns come
from the twin parsers of :mod:`storewise.ingest.clean`, reject rules (first match wins),
repairs counted on kept rows, and the canonical output columns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from storewise.ingest.clean import (
    CONTROL_PATTERN,
    MAX_ID_LENGTH,
    Rules,
    event_type_expr,
    event_type_of,
    normalise_numeric_id,
    number_of,
    numeric_id_of,
    parse_number,
    parse_timestamps,
    stable_id,
    stable_ids,
    timestamp_of,
    trim_text,
    trimmed,
)
from storewise.ingest.exprs import X, any_of, coalesce, col, free_text, lit, param, text, when
from storewise.ingest.presets import Prepared, Preset
from storewise.schema import EVENT_COLUMNS, EVENT_TYPES

#: Canonical columns an event chunk is mapped to before the rules run: the store's event
#: columns as they arrive (``timestamp`` before parsing, no ``source``), then the catalog and
#: profile fields an order line may carry. The order is part of every stable event id.
WANTED = (
    *("timestamp" if c == "ts" else c for c in EVENT_COLUMNS if c != "source"),
    "title",
    "category",
    "country",
)
#: The raw fields a stable event id is hashed from (everything but a given id).
HASHED = tuple(c for c in WANTED if c != "event_id")
#: Parsed numbers: (derived column, raw column).
NUMBERS = (("_qty", "quantity"), ("_price", "price"), ("_value", "value"))
ID_COLUMNS = ("customer_id", "anonymous_id", "item_id", "order_id", "session_id", "event_id")
#: Free text an event carries: control characters are removed (and the repair counted).
TEXT_COLUMNS = ("title", "category", "country", "query")
SALES = ("purchase", "return")

_type, _qty, _price, _value = col("_type"), col("_qty"), col("_price"), col("_value")
_ts = col("_ts")


def _not_numeric(raw: str, parsed: X) -> X:
    return text(raw).is_not_null() & (parsed.is_null() | ~parsed.is_finite())


_sale = _type.is_in(SALES)
CONTROL_REJECT = "control character (e.g. NUL, tab, line break) in an id"
CONTROL_REPAIR = "control characters removed from title, category, country or query"

#: Reject rules in order; a row gets the first reason that holds (null counts as false).
REJECTS: tuple[tuple[str, X], ...] = (
    (
        "missing customer_id (and no anonymous_id)",
        col("_customer").is_null() & text("anonymous_id").is_null(),
    ),
    ("missing item_id", text("item_id").is_null() & _type.ne("search")),
    (
        "id longer than 200 characters",
        any_of(*(text(c).len_chars().gt(MAX_ID_LENGTH) for c in ID_COLUMNS)),
    ),
    (CONTROL_REJECT, any_of(*(text(c).has_control() for c in ID_COLUMNS))),
    ("missing timestamp", col("timestamp").is_null()),
    ("unparseable timestamp", _ts.is_null()),
    (
        "timestamp out of range (before 1990 or more than a day ahead)",
        _ts.lt(param("low")) | _ts.gt(param("high")),
    ),
    ("unknown event type", ~_type.is_in(EVENT_TYPES).fill_null(False)),
    ("non-numeric quantity", _not_numeric("quantity", _qty)),
    (
        "quantity beyond the ceiling (setting ingest_max_quantity)",
        _qty.abs().gt(param("max_quantity")),
    ),
    ("zero quantity", _qty.eq(0)),
    ("negative quantity", _qty.lt(0) & ~_sale),
    ("non-numeric price", _not_numeric("price", _price)),
    ("price beyond the ceiling (setting ingest_max_price)", _price.abs().gt(param("max_price"))),
    ("price <= 0 on a purchase or return", _price.le(0) & _sale),
    ("negative price", _price.lt(0)),
    ("non-numeric value", _not_numeric("value", _value)),
    (
        "value beyond the ceiling (ingest_max_quantity x ingest_max_price)",
        _value.abs().gt(param("max_value")),
    ),
)

#: Repairs counted on kept rows, by reason (after any preset's own repairs).
REPAIRS: tuple[tuple[str, X], ...] = (
    (
        "customer id normalised (e.g. 17850.0 -> 17850)",
        text("customer_id").ne(col("_customer")),
    ),
    ("missing quantity set to 1", _qty.is_null() & text("quantity").is_null()),
    ("negative quantity on a purchase stored as a return", _qty.lt(0) & _type.eq("purchase")),
    (
        "event name mapped to a storewise type (e.g. view_item -> view)",
        text("event_type").is_not_null() & text("event_type").ne(_type),
    ),
    (CONTROL_REPAIR, any_of(*(col(c).has_text_control() for c in TEXT_COLUMNS))),
)

_quantity = _qty.fill_null(1.0)
_kind = when(_quantity.lt(0) & _type.eq("purchase"), lit("return"), _type)
_signed_value = coalesce(_value.abs(), _price * _quantity.abs()) * when(
    _kind.eq("return"), lit(-1.0), lit(1.0)
)

#: The canonical event columns of a kept row (store columns first, then catalog hints).
OUTPUT: tuple[tuple[str, X], ...] = (
    ("event_id", col("event_id")),
    ("customer_id", col("_customer")),
    ("anonymous_id", text("anonymous_id")),
    ("session_id", text("session_id")),
    ("item_id", text("item_id")),
    ("event_type", _kind),
    ("quantity", _quantity.abs()),
    ("price", _price),
    (
        "value",
        when(
            _type.is_in(("purchase", "return", "rating")),
            when(_type.eq("rating"), _value, _signed_value),
            _value,
        ),
    ),
    ("order_id", text("order_id")),
    ("ts", _ts),
    ("source", param("source")),
    ("query", free_text("query")),
    ("title", free_text("title")),
    ("category", free_text("category")),
    ("country", free_text("country")),
    ("is_product", col("is_product")),
)
_STORED = tuple((name, x) for name, x in OUTPUT if name in EVENT_COLUMNS)
assert tuple(name for name, _ in _STORED) == EVENT_COLUMNS

#: The tables for a chunk whose ids and text hold no control character (nearly all): the
#: rules about control characters cannot hold and free text is plain stripped text, so the
#: vectorised path leaves that work out, with the same outcome.
_PLAIN_REJECTS = tuple((r, x) for r, x in REJECTS if r != CONTROL_REJECT)
_PLAIN_REPAIRS = tuple((r, x) for r, x in REPAIRS if r != CONTROL_REPAIR)
_PLAIN_OUTPUT = tuple((n, text(n) if n in TEXT_COLUMNS else x) for n, x in OUTPUT)


def _holds_control(raw: pl.DataFrame) -> bool:
    """Whether any id or free-text column of a chunk holds a control character."""
    present = [c for c in (*ID_COLUMNS, *TEXT_COLUMNS) if c in raw.columns]
    if not present:
        return False
    found = pl.any_horizontal(
        [pl.col(c).cast(pl.Utf8).str.contains(CONTROL_PATTERN) for c in present]
    ).any()
    return bool(raw.select(found).item())


def _counted(table: Sequence[tuple[str, Any]], counts: Sequence[int]) -> Counter[str]:
    """Non-zero counts by reason, in table order."""
    out = Counter[str]()
    for (reason, _), n in zip(table, counts, strict=True):
        if n:
            out[reason] += int(n)
    return out


def convert_frame(
    raw: pl.DataFrame, preset: Preset, time_format: str | None, params: Mapping[str, Any]
) -> tuple[pl.DataFrame, pl.DataFrame, Counter[str], Counter[str]]:
    """(canonical events, rejected rows, repairs, notes) of one chunk, vectorised."""
    plain = not _holds_control(raw)  # before the event id is filled in
    rejects, repair_table, output = (
        (_PLAIN_REJECTS, _PLAIN_REPAIRS, _PLAIN_OUTPUT) if plain else (REJECTS, REPAIRS, OUTPUT)
    )
    raw = raw.with_columns(pl.lit(True).alias("is_product"))
    hashed = stable_ids(raw, HASHED, preset.name)
    raw = raw.with_columns(pl.coalesce(trimmed("event_id"), pl.lit(hashed)).alias("event_id"))
    prepared = preset.prepare(raw) if preset.prepare else Prepared(raw)
    frame = prepared.frame.with_columns(
        parse_timestamps(prepared.frame["timestamp"], time_format).alias("_ts"),
        normalise_numeric_id("customer_id").alias("_customer"),
        event_type_expr("event_type", preset.default_event_type).alias("_type"),
        *(parse_number(source).alias(name) for name, source in NUMBERS),
    )
    rules = Rules()
    for reason, rule in rejects:
        rules.reject(reason, rule.polars(params))
    good, bad = rules.split(frame)
    checks = [*prepared.repairs, *((r, x.polars(params)) for r, x in repair_table)]
    repairs, notes = Counter[str](), Counter[str]()
    if good.height:
        for table, out in ((checks, repairs), (prepared.notes, notes)):
            if table:
                sums = good.select(
                    [e.fill_null(False).sum().alias(str(i)) for i, (_, e) in enumerate(table)]
                )
                out.update(_counted(table, sums.row(0)))
    events = good.select([x.polars(params).alias(name) for name, x in output])
    return events, bad, repairs, notes


def convert_rows(
    raw: Sequence[Mapping[str, str | None]], preset: Preset, params: Mapping[str, Any]
) -> tuple[list[tuple[Any, ...]], list[tuple[int, str]], Counter[str]]:
    """(stored-column tuples, (index, reason) rejections, repairs) of records, row by row.

    ``raw`` holds each record's text by canonical column (:data:`WANTED`); the preset must not
    have source-specific preparation (those run only vectorised).
    """
    if preset.prepare is not None:
        raise ValueError(f"preset {preset.name!r} prepares chunks: convert it with convert_frame")
    rows: list[tuple[Any, ...]] = []
    rejected: list[tuple[int, str]] = []
    counts = [0] * len(REPAIRS)
    for index, values in enumerate(raw):
        row: dict[str, Any] = dict(values)
        given = trim_text(row["event_id"])
        row["event_id"] = (
            given if given is not None else stable_id(preset.name, [row[c] for c in HASHED])
        )
        row["_ts"] = timestamp_of(row["timestamp"])
        row["_customer"] = numeric_id_of(row["customer_id"])
        row["_type"] = event_type_of(row["event_type"], preset.default_event_type)
        for name, source in NUMBERS:
            row[name] = number_of(row[source])
        reason = next((r for r, rule in REJECTS if rule.row(row, params) is True), None)
        if reason is not None:
            rejected.append((index, reason))
            continue
        for i, (_, check) in enumerate(REPAIRS):
            counts[i] += check.row(row, params) is True
        rows.append(tuple(x.row(row, params) for _, x in _STORED))
    return rows, rejected, _counted(REPAIRS, counts)
