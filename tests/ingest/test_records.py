"""The API door's two event paths (row by row for small batches, vectorised for the rest) apply
the same rules: same stored rows, rejections (index and reason), repairs and identity links."""

from __future__ import annotations

import string
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from storewise.ingest.clean import (
    WHITESPACE,
    event_type_expr,
    event_type_of,
    normalise_numeric_id,
    number_of,
    numeric_id_of,
    parse_number,
    parse_timestamps,
    timestamp_of,
    trim_text,
    trimmed,
)
from storewise.ingest.pipeline import Converter
from storewise.ingest.presets import get_preset
from storewise.ingest.records import ROW_PATH_MAX, convert_events, ingest_records
from storewise.schema import EVENT_TYPE_ALIASES, EVENT_TYPES
from storewise.store import SqlStore

NOW = datetime.now(UTC).replace(microsecond=0)
SPACES = st.sampled_from(["", "", "", " ", "  ", "\t", "\u3000", "\xa0", "\x1c", "\n"])
DIGITS = st.sampled_from(["0", "1", "5", "9", "١", "\U00011f50", "２"])  # ASCII, Arabic, Kawi...
any_text = st.text(max_size=12)
ascii_text = st.text(alphabet=string.printable, max_size=12)


@st.composite
def padded(draw: st.DrawFn, inner: st.SearchStrategy[str]) -> str:
    """Text with random whitespace (Unicode, and \\x1c which polars does not strip) around."""
    return draw(SPACES) + draw(inner) + draw(SPACES)


@st.composite
def iso_like(draw: st.DrawFn) -> str:
    """Timestamp-shaped text: valid ISO shapes (mostly in the plausible window) and near misses
    (widths, ranges, separators, offsets)."""

    def num(values: st.SearchStrategy[int], width: int) -> str:
        return str(draw(values)).zfill(draw(st.sampled_from([width, width, width, 1])))

    years = st.sampled_from([1989, 1990, 2024, NOW.year, NOW.year + 1]) | st.integers(0, 10000)
    months, days = st.integers(1, 12) | st.integers(0, 13), st.integers(1, 28) | st.integers(0, 32)
    hours, sixty = st.integers(0, 23) | st.integers(0, 25), st.integers(0, 59) | st.integers(0, 61)
    out = f"{num(years, 4)}-{num(months, 2)}-{num(days, 2)}"
    if draw(st.integers(0, 3)):
        out += draw(st.sampled_from(["T", " ", "T", " ", "t", "  ", ""]))
        out += f"{num(hours, 2)}:{num(sixty, 2)}"
        if draw(st.integers(0, 4)):
            out += f":{num(sixty, 2)}"
            if draw(st.booleans()):
                out += "." + "".join(draw(st.lists(DIGITS, min_size=0, max_size=12)))
        tz = draw(st.sampled_from(["", "", "Z", "z", "+", "-", "+05:30", "-0800", "+01", "+1:00"]))
        if tz in ("+", "-"):
            tz += f"{num(hours, 2)}{draw(st.sampled_from([':', '']))}{num(sixty, 2)}"
        out += tz
    return out


@st.composite
def epoch_like(draw: st.DrawFn) -> str:
    """Epoch numbers of every magnitude (s, ms, µs, ns; mostly plausible times), some with
    fractions, exact halves included."""
    if draw(st.booleans()):
        seconds = draw(st.integers(600_000_000, int(NOW.timestamp()) + 200_000))
        whole = str(seconds * 10 ** draw(st.sampled_from([0, 3, 6, 9])) + draw(st.integers(0, 9)))
    else:
        digits = draw(st.integers(1, 21))
        whole = str(draw(st.integers(10 ** (digits - 1), 10**digits - 1)))
    if draw(st.booleans()):
        whole += "." + draw(st.sampled_from(["5", "0", "49999", "0005", "5001", "123456789"]))
    return draw(st.sampled_from(["", "", "", "-", "+"])) + whole


moments = st.datetimes(
    min_value=datetime(1985, 1, 1), max_value=NOW.replace(tzinfo=None), timezones=st.none()
) | st.datetimes(
    min_value=datetime(1985, 1, 1),
    max_value=NOW.replace(tzinfo=None) + timedelta(days=3),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)
timestamps = st.one_of(
    moments,
    padded(iso_like()),
    padded(epoch_like()),
    st.dates(min_value=date(1985, 1, 1), max_value=NOW.date() + timedelta(days=3)),
    st.sampled_from([NOW, NOW.isoformat(), (NOW + timedelta(days=2)).isoformat(), "1970-01-01"]),
    st.none(),
    st.integers(-(10**15), 10**15),
    any_text,
)


@st.composite
def number_text(draw: st.DrawFn) -> str:
    """Decimal-ish text: signs, dots, commas, exponents, words polars reads, and near misses."""
    parts = st.sampled_from(
        ["", "+", "-", "1", "0", "25", ".", ",", "e", "E", "5", "_", "inf", "nan", "Infinity", " "]
    )
    return "".join(draw(st.lists(parts | DIGITS, min_size=1, max_size=6)))


numbers = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-5, 5),
    padded(number_text()),
    st.sampled_from(["1,5", "1.000,5", "ınf", "1e400", "-0", "3.0", "nan"]),
    ascii_text,
)
event_names = st.one_of(
    st.none(),
    st.sampled_from([*EVENT_TYPES, *EVENT_TYPE_ALIASES]),
    st.sampled_from(EVENT_TYPES).map(str.upper),
    st.sampled_from(["View Item", "add-to-cart", "Product  Added", "clic\u212a", "teleport", ""]),
    padded(st.sampled_from(["purchase", "view_item", "REFUND"])),
    any_text,
)
customer_ids = st.one_of(
    st.none(),
    st.sampled_from(
        ["c1", "c2", "17850.0", " 17850 ", "١٢٣.0", "\U00011f50\U00011f51.00", "x" * 201]
    ),
    padded(st.sampled_from(["c1", "c3"])),
    any_text,
)
anonymous_ids = st.one_of(st.none(), st.sampled_from(["a1", "a2", " a1", "y" * 250]), any_text)
item_ids = st.one_of(st.none(), st.sampled_from(["i1", "i2", "POST", " i3 "]), ascii_text)


def mostly(valid: list[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A valid value two times in three, else an odd one."""
    pool = st.sampled_from(valid)
    return st.one_of(pool, pool, odd)


records = st.fixed_dictionaries(
    {
        "customer_id": mostly(["c1", "c2", None], customer_ids),
        "anonymous_id": mostly([None, None, "a1", "a2"], anonymous_ids),
        "item_id": mostly(["i1", "i2"], item_ids),
        "event_type": mostly(["view", "purchase", "return", "rating", "search"], event_names),
        "timestamp": st.one_of(moments, timestamps),
    },
    optional={
        "event_id": st.one_of(st.sampled_from(["e1", "e2", " e1 ", "", "  "]), any_text),
        "session_id": st.one_of(st.none(), any_text, st.just({"a": 1}), st.just([1, 2])),
        "quantity": mostly([1, 2.0, "3", -1], numbers),
        "price": mostly([2.5, "1.25", None], numbers),
        "value": mostly([None, 4.0, "-2"], numbers),
        "order_id": st.one_of(st.none(), st.sampled_from(["o1", "o2"]), ascii_text),
        "query": st.one_of(st.none(), any_text),
        "title": any_text,
        "category": any_text,
        "country": st.sampled_from(["GB", "FR", None]),
    },
)
VALID = {"customer_id": "c1", "item_id": "i1", "event_type": "view", "timestamp": NOW}


@st.composite
def batches(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Random records, some valid, some repeated (same content or same event id)."""
    rows = draw(st.lists(records | st.just(VALID), min_size=1, max_size=12))
    for _ in range(draw(st.integers(0, 3))):
        rows.append(dict(draw(st.sampled_from(rows))))
    return draw(st.permutations(rows))


@pytest.fixture(scope="module")
def converter() -> Converter:
    return Converter(get_preset(None, "events"), None, "api")


def _contents(store: SqlStore) -> dict[str, list[tuple[Any, ...]]]:
    queries = {
        "events": "SELECT * FROM events ORDER BY event_id",
        "customers": "SELECT customer_id, created_at FROM customers ORDER BY customer_id",
        "identities": "SELECT anonymous_id, customer_id, linked_at FROM identities "
        "ORDER BY anonymous_id",
        "items": "SELECT item_id, is_product FROM items ORDER BY item_id",
    }
    return {name: store._fetch(sql) for name, sql in queries.items()}


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=batches(), earlier=st.lists(records, max_size=3))
@example(batch=[{**VALID, "event_type": None}], earlier=[])
@example(batch=[{**VALID, "timestamp": "1700000000"}, {**VALID, "timestamp": "1e12"}], earlier=[])
def test_row_path_and_vectorised_path_store_the_same(
    batch: list[dict[str, Any]], earlier: list[dict[str, Any]], converter: Converter
) -> None:
    outcomes = []
    for row_by_row in (False, True):
        store = SqlStore.open("sqlite://")
        try:
            # an earlier batch, so links and duplicates against stored rows are exercised
            with store.writer() as writer:
                events, _, _ = convert_events(converter, earlier, row_by_row=False)
                writer.add_events(events)
            events, rejected, repairs = convert_events(converter, batch, row_by_row=row_by_row)
            with store.writer() as writer:
                result = writer.add_events(events)
            outcomes.append((events.rows(), rejected, repairs, result, _contents(store)))
        finally:
            store.close()
    (frame_rows, *frame_rest), (row_rows, *row_rest) = outcomes
    assert row_rows == frame_rows
    assert row_rest[0] == frame_rest[0]  # rejections: index and reason
    assert list(row_rest[1].items()) == list(frame_rest[1].items())  # repairs, same order
    assert row_rest[2:] == frame_rest[2:]  # store outcome and contents


@settings(max_examples=400, deadline=None)
@given(values=st.lists(st.one_of(st.none(), padded(iso_like()), padded(epoch_like()), any_text)))
@example(values=["1700000000", "12345", "1e12", "2024-01-01T10:00:00Z"])
@example(values=["2024-01-01 23:59:60", "2024-02-30", "0000-01-01", "2024-01-01T10:00:00.9999Z"])
@example(
    values=["2024-01-01 10:00:00+24:00", "2024-01-01 10:00:00-2400", "2024-01-01T10:00:00+23:59"]
)
@example(
    values=["2024-01-01 10:00:00+01:60", "2024-01-01 10:00:00-00:59", "2024-01-01 10:00:00.5+0530"]
)
def test_timestamp_twin_matches_polars_in_any_batch(values: list[str | None]) -> None:
    expected = parse_timestamps(pl.Series("t", values, dtype=pl.Utf8)).to_list()
    assert [timestamp_of(v) for v in values] == expected


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.none(), padded(number_text()), any_text, ascii_text))
def test_number_twin_matches_polars(value: str | None) -> None:
    expected = pl.DataFrame({"v": [value]}, schema={"v": pl.Utf8}).select(parse_number("v")).item()
    got = number_of(value)
    assert got == expected or (got != got and expected != expected)  # NaN equals NaN


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.none(), event_names, customer_ids, padded(number_text())))
def test_name_and_id_twins_match_polars(value: str | None) -> None:
    frame = pl.DataFrame({"v": [value]}, schema={"v": pl.Utf8})
    for default in (None, "purchase"):
        assert event_type_of(value, default) == frame.select(event_type_expr("v", default)).item()
    assert numeric_id_of(value) == frame.select(normalise_numeric_id("v")).item()
    assert trim_text(value) == frame.select(trimmed("v")).item()


def _code_points() -> Iterator[str]:
    return (chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)


def test_whitespace_is_what_polars_strips_by_default() -> None:
    padded_all = pl.Series("x", [f"{c}a{c}" for c in _code_points()])
    stripped = padded_all.str.strip_chars().to_list()
    assert {c for c, s in zip(_code_points(), stripped, strict=True) if s == "a"} == set(WHITESPACE)


def test_small_batches_take_the_row_path(converter: Converter, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    calls: list[int] = []
    original = Converter.event_rows

    def spy(self: Converter, raw: Any) -> Any:
        calls.append(len(raw))
        return original(self, raw)

    monkeypatch.setattr(Converter, "event_rows", spy)
    store = SqlStore.open("sqlite://")
    try:
        for size in (1, ROW_PATH_MAX, ROW_PATH_MAX + 1):
            batch = [{**VALID, "event_id": f"s{size}-{i}"} for i in range(size)]
            with store.writer() as writer:
                assert ingest_records(writer, "events", batch).stored == size
    finally:
        store.close()
    assert calls == [1, ROW_PATH_MAX]
