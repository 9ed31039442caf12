"""Property tests: any bytes under any file name import with every row accounted, or fail with
an InputError and store nothing; stored rows never carry absurd numbers or control ids."""

from __future__ import annotations

import gzip
import io
import json
import re
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storewise.errors import InputError
from storewise.ingest.clean import Limits
from storewise.ingest.pipeline import Converter, ingest
from storewise.ingest.presets import get_preset
from storewise.ingest.records import convert_events
from storewise.store import SqlStore

ROWS = [
    {"customer_id": "c1", "item_id": "i1", "timestamp": "2024-03-01 10:00", "event_type": "view"},
    {"customer_id": "c2", "item_id": "i2", "timestamp": "2024-03-02", "price": "3.5"},
]


def _csv() -> bytes:
    return b"customer_id,item_id,timestamp,event_type,price\nc1,i1,2024-03-01,view,3\nc2,i2,,,\n"


def _jsonl() -> bytes:
    return "".join(json.dumps(r) + "\n" for r in ROWS).encode()


def _parquet() -> bytes:
    buffer = io.BytesIO()
    pl.DataFrame(ROWS).write_parquet(buffer)
    return buffer.getvalue()


VALID = {
    ".csv": _csv(),
    ".jsonl": _jsonl(),
    ".parquet": _parquet(),
    ".csv.gz": gzip.compress(_csv()),
}


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """A valid file with bytes flipped, inserted or cut off."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["flip", "insert", "cut", "nul"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "nul":
            data[at:at] = b"\x00"
        else:
            del data[at:]
    return bytes(data)


@st.composite
def hostile_files(draw: st.DrawFn) -> tuple[str, str, bytes]:
    kind = draw(st.sampled_from(["orders", "events", "items", "customers"]))
    suffix = draw(st.sampled_from(sorted(VALID)))
    content = draw(
        st.one_of(
            st.binary(max_size=600),
            mutated(VALID[suffix]),
            st.just(VALID[suffix]),
            st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
        )
    )
    return kind, suffix, content


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=hostile_files())
def test_any_file_is_imported_or_refused_cleanly(
    case: tuple[str, str, bytes], tmp_path_factory: pytest.TempPathFactory
) -> None:
    kind, suffix, content = case
    folder = tmp_path_factory.mktemp("hostile")
    path = folder / f"orders{suffix}"
    path.write_bytes(content)
    rejected = folder / "rejected.csv"
    store = SqlStore.open("sqlite://")
    try:
        try:
            report = ingest(store, kind, [path], rejected_csv=rejected)
        except InputError as exc:  # anything else is a bug: a traceback for bad input
            assert exc.message and (str(path) in exc.message or "encoding" in exc.message)
            assert store.reports() == [] and store.stats()["events"]["total"] == 0
            assert store.items().height == 0 and store.customers().height == 0
            assert not rejected.exists()
            return
        assert report.accounted
        if kind in ("orders", "events"):
            assert store.stats()["events"]["total"] == report.stored
    finally:
        store.close()


CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
numbers = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1e20", "1e308", "-1e7", "1e309", "-0", "nan", "inf", "1e-320", "999999"]),
    st.integers(-(10**30), 10**30),
)
ids = st.one_of(st.sampled_from(["c1", "i1"]), st.text(max_size=6))
records = st.fixed_dictionaries(
    {
        "customer_id": ids,
        "item_id": ids,
        "event_type": st.sampled_from(["purchase", "return", "view", "rating"]),
        "timestamp": st.just("2024-03-01T10:00:00Z"),
        "quantity": numbers,
        "price": numbers,
        "value": numbers,
        "title": st.one_of(st.none(), st.text(max_size=6)),
    }
)
LIMITS = Limits(max_quantity=1000.0, max_price=50.0)


@settings(max_examples=200, deadline=None)
@given(batch=st.lists(records, min_size=1, max_size=8), row_by_row=st.booleans())
def test_stored_events_respect_the_ceilings(batch: list[dict[str, Any]], row_by_row: bool) -> None:
    converter = Converter(get_preset(None, "events"), None, "api", LIMITS)
    events, rejected, _ = convert_events(converter, batch, row_by_row=row_by_row)
    assert events.height + len(rejected) == len(batch)
    for row in events.iter_rows(named=True):
        assert 0 < row["quantity"] <= LIMITS.max_quantity
        if row["price"] is not None:
            assert abs(row["price"]) <= LIMITS.max_price
        if row["value"] is not None:
            assert abs(row["value"]) <= LIMITS.max_value
        for column in ("customer_id", "item_id", "event_id"):
            assert row[column] is None or not CONTROL.search(row[column])
