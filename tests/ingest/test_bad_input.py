"""Hostile and broken input: every file either imports with per-row rejections (line and
reason) or fails with an InputError naming the file, and a failed import stores nothing."""

from __future__ import annotations

import csv
import gzip
import json
import random
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from storewise.errors import ConfigError, InputError
from storewise.ingest import sources
from storewise.ingest.clean import Limits
from storewise.ingest.pipeline import ingest
from storewise.ingest.records import check_records
from storewise.settings import Settings
from storewise.store import SqlStore

HEADER = "customer_id,item_id,timestamp,order_id,quantity,price,title\n"
GOOD = "c1,i1,2024-03-01 10:00:00,o1,2,3.5,Mug\n"
OBJECT = {"customer_id": "c1", "item_id": "i1", "timestamp": "2024-03-01T10:00:00Z"}


def garbage(size: int = 4000, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    return bytes(rng.randrange(256) for _ in range(size))


def rejected_rows(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [(r["line"], r["reason"]) for r in csv.DictReader(handle)]


def refused(store: SqlStore, path: Path, kind: str = "orders", **options: object) -> str:
    """The message of the InputError importing ``path`` raises; checks nothing was stored."""
    with pytest.raises(InputError) as info:
        ingest(store, kind, [path], **options)  # type: ignore[arg-type]
    assert str(path) in info.value.message
    assert store.stats()["events"]["total"] == 0 and store.reports() == []
    return info.value.message


# -- files that cannot be read at all: one clear InputError naming the file -------------------
@pytest.mark.parametrize("name", ["data.csv", "data.tsv", "data.jsonl", "data.json", "x.csv.gz"])
def test_binary_garbage_is_called_binary(tmp_path: Path, sqlite_store: SqlStore, name: str) -> None:
    path = tmp_path / name
    data = garbage()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    assert "looks binary" in refused(sqlite_store, path)


@pytest.mark.parametrize(
    ("head", "named"),
    [
        (b"PK\x03\x04", "zip archive"),
        (b"PAR1", "Parquet"),
        (b"%PDF-1.7", "PDF"),
        (b"BZh9", "bzip2"),
    ],
)
def test_other_formats_are_named(
    tmp_path: Path, sqlite_store: SqlStore, head: bytes, named: str
) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(head + b"customer_id,item_id,timestamp\n")
    assert named in refused(sqlite_store, path)


def test_truncated_and_corrupt_gzip(tmp_path: Path, sqlite_store: SqlStore) -> None:
    whole = gzip.compress((HEADER + GOOD * 5000).encode())
    for name in ("cut.csv.gz", "cut.jsonl.gz"):
        path = tmp_path / name
        path.write_bytes(whole[: len(whole) // 2])
        assert "gzip" in refused(sqlite_store, path)
    flipped = bytearray(whole)
    flipped[len(flipped) // 2 : len(flipped) // 2 + 40] = b"\x00" * 40
    path = tmp_path / "corrupt.csv.gz"
    path.write_bytes(bytes(flipped))
    refused(sqlite_store, path)
    bad_header = tmp_path / "header.csv.gz"
    bad_header.write_bytes(b"\x1f\x8b" + garbage(200))
    assert "gzip" in refused(sqlite_store, bad_header)


def test_gzip_corrupt_after_the_first_chunk_stores_nothing(
    tmp_path: Path, sqlite_store: SqlStore
) -> None:
    rows = "".join(f"c{i},i{i % 9},2024-03-01,o{i},1,2.0,T\n" for i in range(60_000))
    whole = gzip.compress((HEADER + rows).encode(), compresslevel=1)
    good = tmp_path / "good.csv"
    good.write_text(HEADER + GOOD)
    path = tmp_path / "late.csv.gz"
    path.write_bytes(whole[: int(len(whole) * 0.9)])  # the sample reads fine, the end does not
    rejected = tmp_path / "rejected.csv"
    with pytest.raises(InputError, match=r"late\.csv\.gz"):
        ingest(sqlite_store, "orders", [good, path], chunk_rows=1000, rejected_csv=rejected)
    assert sqlite_store.stats()["events"]["total"] == 0
    assert not rejected.exists()


def test_a_parquet_that_is_not(tmp_path: Path, sqlite_store: SqlStore) -> None:
    text = tmp_path / "orders.parquet"
    text.write_text(HEADER + GOOD)
    assert "not a Parquet file" in refused(sqlite_store, text)
    binary = tmp_path / "noise.parquet"
    binary.write_bytes(garbage())
    assert "not a Parquet file" in refused(sqlite_store, binary)
    squeezed = tmp_path / "zipped.parquet"
    squeezed.write_bytes(gzip.compress(b"PAR1" + garbage()))
    assert "gzip" in refused(sqlite_store, squeezed)
    torn = tmp_path / "torn.parquet"
    torn.write_bytes(b"PAR1" + garbage() + b"PAR1")
    assert "not a readable Parquet file" in refused(sqlite_store, torn)


def test_parquet_with_duplicated_columns(tmp_path: Path, sqlite_store: SqlStore) -> None:
    path = tmp_path / "dupes.parquet"
    columns = [pa.array(["c1"]), pa.array(["c2"]), pa.array(["i1"]), pa.array(["2024-03-01"])]
    names = ["customer_id", "customer_id", "item_id", "timestamp"]
    pq.write_table(pa.Table.from_arrays(columns, names=names), path)
    assert "duplicated column names" in refused(sqlite_store, path)


def test_a_line_longer_than_a_block_is_named(tmp_path: Path, sqlite_store: SqlStore) -> None:
    path = tmp_path / "long.csv"
    path.write_text(HEADER + "c1,i1,2024-03-01,o1,1," + "9" * 300_000 + ",T\n")
    message = refused(sqlite_store, path, chunk_rows=10)  # a 64 KiB read block
    assert "a line longer than 64 KiB" in message


@pytest.mark.parametrize("delimiter", ["ab", '"', "\n", ""])
def test_bad_delimiter_and_encoding(tmp_path: Path, sqlite_store: SqlStore, delimiter: str) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + GOOD)
    with pytest.raises(InputError, match="delimiter"):
        ingest(sqlite_store, "orders", [path], delimiter=delimiter)
    with pytest.raises(InputError, match="unknown encoding"):
        ingest(sqlite_store, "orders", [path], encoding="klingon-8")
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text(json.dumps(OBJECT) + "\n")
    with pytest.raises(InputError, match="unknown encoding"):
        ingest(sqlite_store, "orders", [jsonl], encoding="klingon-8")
    tsv = tmp_path / "orders.txt"
    tsv.write_text((HEADER + GOOD).replace(",", "\t"))
    assert ingest(sqlite_store, "orders", [tsv], delimiter="\\t").stored == 1  # as typed


def test_rejected_csv_that_is_a_folder(tmp_path: Path, sqlite_store: SqlStore) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + GOOD)
    with pytest.raises(InputError, match="is a folder"):
        ingest(sqlite_store, "orders", [path], rejected_csv=tmp_path)
    assert sqlite_store.stats()["events"]["total"] == 0


def test_jsonl_where_no_line_is_an_object(tmp_path: Path, sqlite_store: SqlStore) -> None:
    cases = {
        "deep.jsonl": "[" * 10_000 + "]" * 10_000 + "\n",
        "digits.jsonl": '{"customer_id": ' + "7" * 5000 + "}\n",
        "latin.jsonl": '{"customer_id": "caf\xe9"}\n',
        "surrogate.jsonl": '{"customer_id": "\\ud800", "item_id": "i"}\n',
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_bytes(text.encode("latin-1"))
        assert "no line holds a readable JSON object" in refused(sqlite_store, path)


# -- lines that cannot be rows: rejected with line and reason, the rest imported ---------------
def test_hostile_json_lines_are_rejected_by_line(tmp_path: Path, sqlite_store: SqlStore) -> None:
    lines = [
        json.dumps(OBJECT),
        json.dumps({**OBJECT, "session_id": "[" * 10}) + "]",  # 2: trailing garbage
        '{"customer_id": "c1", "item_id": ' + "[" * 10_000 + "]" * 10_000 + "}",  # 3: deep
        '{"customer_id": ' + "7" * 5000 + ', "item_id": "i", "timestamp": "2024-03-01"}',  # 4
        '{"customer_id": "\\udc80", "item_id": "i", "timestamp": "2024-03-01"}',  # 5
        json.dumps({**OBJECT, "item_id": "i2", "title": "caf\u00e9"}),  # 6: fine
        json.dumps({**OBJECT, "customer_id": "c\x00", "item_id": "i3"}),  # 7: NUL in an id
        json.dumps({**OBJECT, "item_id": {"nested": [1, {"a": None}]}}),  # 8: JSON text id
        json.dumps([OBJECT]),  # 9: not an object
    ]
    data = ("\n".join(lines) + "\n").encode()
    data += b'{"customer_id": "c\xff", "item_id": "i", "timestamp": "2024-03-01"}\n'  # 10
    path = tmp_path / "events.jsonl"
    path.write_bytes(data)
    rejected = tmp_path / "rejected.csv"
    report = ingest(sqlite_store, "orders", [path], rejected_csv=rejected)
    assert report.accounted and report.rows_read == 10 and report.stored == 3
    reasons = dict(rejected_rows(rejected))
    assert reasons["2"].startswith("invalid JSON")
    assert reasons["3"] == "invalid JSON (nested too deeply)"
    assert "4300 digits" in reasons["4"]
    assert "lone surrogate" in reasons["5"]
    assert reasons["7"] == "control character (e.g. NUL, tab, line break) in an id"
    assert reasons["9"] == "a line must hold one JSON object"
    assert reasons["10"] == "not valid utf-8 text (byte 0xFF); give the file's --encoding"
    assert sorted(sqlite_store.events()["item_id"].to_list()) == [
        "i1",
        "i2",
        '{"nested": [1, {"a": null}]}',
    ]


def test_json_line_longer_than_the_limit(
    tmp_path: Path, sqlite_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "MAX_LINE_CHARS", 1000)
    path = tmp_path / "events.jsonl"
    long = json.dumps({**OBJECT, "title": "x" * 5000})
    path.write_text(
        json.dumps(OBJECT) + "\n" + long + "\n" + json.dumps({**OBJECT, "item_id": "i2"})
    )
    rejected = tmp_path / "rejected.csv"
    report = ingest(sqlite_store, "orders", [path], rejected_csv=rejected)
    assert (report.rows_read, report.stored) == (3, 2)
    assert rejected_rows(rejected) == [("2", "line longer than 1,000 characters")]


def test_json_keys_that_vanish_in_later_chunks(tmp_path: Path, sqlite_store: SqlStore) -> None:
    rows = [{**OBJECT, "item_id": f"i{i}", "price": 2, "quantity": 1} for i in range(5)]
    rows += [{**OBJECT, "item_id": f"j{i}"} for i in range(5)]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    report = ingest(sqlite_store, "orders", [path], chunk_rows=3)
    assert report.stored == 10 and report.accounted
    items = tmp_path / "items.jsonl"
    items.write_text('{"item_id": "a", "colour": "red"}\n{"item_id": "b"}\n')
    assert ingest(sqlite_store, "items", [items], chunk_rows=1).stored == 2


def test_control_characters_in_ids_and_text(tmp_path: Path, sqlite_store: SqlStore) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(
        (
            HEADER
            + "c\x001,i1,2024-03-01,o1,1,3.5,Mug\n"  # 2: NUL in the customer id
            + "c2,i\x1b[31m,2024-03-01,o2,1,3.5,Mug\n"  # 3: an escape sequence in the item id
            + "c3,i3,2024-03-01,o\x7f,1,3.5,Mug\n"  # 4: DEL in the order id
            + "c4,i4,2024-03-01,o4,1,3.5,Tea\x00 pot\x1b\n"  # 5: kept, title cleaned
            + "c5,i5,2024-03-01,o\u00855,1,3.5,Mug\n"  # 6: NEL (a C1 control) inside an id
        ).encode()
    )
    rejected = tmp_path / "rejected.csv"
    report = ingest(sqlite_store, "orders", [path], rejected_csv=rejected)
    reason = "control character (e.g. NUL, tab, line break) in an id"
    assert report.rejected == {reason: 4} and report.stored == 1
    assert [line for line, _ in rejected_rows(rejected)] == ["2", "3", "4", "6"]
    assert report.repaired["control characters removed from title, category, country or query"]
    assert sqlite_store.items().filter(pl.col("item_id") == "i4")["title"][0] == "Tea pot"


# -- absurd numbers and moments ------------------------------------------------------------------
NUMBERS = HEADER.replace("title", "value")


def test_absurd_magnitudes_are_rejected(tmp_path: Path, sqlite_store: SqlStore) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        NUMBERS
        + "c1,i1,2024-03-01,o1,1e20,3.5,\n"  # 2
        + "c1,i1,2024-03-01,o2,1,1e308,\n"  # 3
        + "c1,i1,2024-03-01,o3,-1e7,3.5,\n"  # 4: a return of ten million
        + "c1,i1,2024-03-01,o4,1,3.5,1e300\n"  # 5: the value given
        + "c1,i1,2024-03-01,o5,inf,3.5,\n"  # 6
        + "c1,i1,2024-03-01,o6,1,nan,\n"  # 7
        + "c1,i1,2024-03-01,o7,1e309,3.5,\n"  # 8: overflows to inf
        + "c1,i1,2024-03-01,o8,-0,3.5,\n"  # 9: negative zero
        + "c1,i1,2024-03-01,o9,1000000,10000000,\n"  # 10: exactly at both ceilings: kept
        + "c1,i1,2024-03-01,o10,2,4.5,\n"  # 11: kept
    )
    rejected = tmp_path / "rejected.csv"
    report = ingest(sqlite_store, "orders", [path], rejected_csv=rejected)
    assert dict(rejected_rows(rejected)) == {
        "2": "quantity beyond the ceiling (setting ingest_max_quantity)",
        "3": "price beyond the ceiling (setting ingest_max_price)",
        "4": "quantity beyond the ceiling (setting ingest_max_quantity)",
        "5": "value beyond the ceiling (ingest_max_quantity x ingest_max_price)",
        "6": "non-numeric quantity",
        "7": "non-numeric price",
        "8": "non-numeric quantity",
        "9": "zero quantity",
    }
    assert report.stored == 2 and report.accounted
    values = sorted(sqlite_store.events()["value"].to_list())
    assert values == [9.0, 1e13]


def test_ceilings_are_configurable(tmp_path: Path, sqlite_store: SqlStore) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(NUMBERS + "c1,i1,2024-03-01,o1,50,3.5,\nc1,i2,2024-03-01,o2,1,900,\n")
    report = ingest(sqlite_store, "orders", [path], limits=Limits(max_quantity=10, max_price=100))
    assert report.stored == 0 and set(report.rejected) == {
        "quantity beyond the ceiling (setting ingest_max_quantity)",
        "price beyond the ceiling (setting ingest_max_price)",
    }
    settings = Settings(home=tmp_path / "home")
    assert Limits() == Limits(settings.ingest_max_quantity, settings.ingest_max_price)
    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ConfigError):
            Limits(max_quantity=bad)


def test_catalog_prices_beyond_the_ceiling(tmp_path: Path, sqlite_store: SqlStore) -> None:
    path = tmp_path / "items.csv"
    path.write_text("item_id,title,price\na,A,1e308\nb,B,inf\nc,C,-0\nd\x00,D,1\ne,E\x00\x01,2\n")
    report = ingest(sqlite_store, "items", [path])
    assert report.rejected == {
        "price beyond the ceiling (setting ingest_max_price)": 1,
        "non-numeric price": 1,
        "control character (e.g. NUL, tab, line break) in an id": 1,
    }
    items = {r["item_id"]: r for r in sqlite_store.items().to_dicts()}
    assert set(items) == {"c", "e"}
    assert str(items["c"]["price"]) == "0.0"  # not -0.0
    assert items["e"]["title"] == "E"


def test_timestamps_in_year_1_and_9999(tmp_path: Path, sqlite_store: SqlStore) -> None:
    path = tmp_path / "orders.csv"
    moments = ["0001-01-01", "9999-12-31 23:59:59", "0000-00-00", "10000-01-01", "-1", "1e300"]
    path.write_text(HEADER + "".join(f"c1,i1,{m},o1,1,3.5,T\n" for m in moments))
    report = ingest(sqlite_store, "orders", [path])
    assert report.stored == 0 and report.accounted
    assert set(report.rejected) <= {
        "unparseable timestamp",
        "timestamp out of range (before 1990 or more than a day ahead)",
    }
    parquet = tmp_path / "orders.parquet"
    stamps = pa.array([-62135596800000, 253402300799000], pa.timestamp("ms"))
    pq.write_table(
        pa.table({"customer_id": ["c1", "c2"], "item_id": ["i", "i"], "timestamp": stamps}), parquet
    )
    assert ingest(sqlite_store, "orders", [parquet]).stored == 0


def test_customer_created_in_year_9999_does_not_date_its_consent(
    tmp_path: Path, sqlite_store: SqlStore
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(
        "customer_id,created_at,consent_marketing,email\n"
        "c1,9999-12-31,yes,a@b.example\n"
        "c2,0001-01-01,no,\n"
        "c3,2020-05-01,yes,x\x00@y.example\n"
    )
    report = ingest(sqlite_store, "customers", [path])
    assert report.stored == 3
    assert report.repaired["implausible created_at removed (before 1900 or in the future)"] == 2
    assert report.repaired["control characters removed from country, email, name"] == 1
    created = dict(sqlite_store._fetch("SELECT customer_id, created_at FROM customers"))
    assert created["c1"] is None and created["c2"] is None and created["c3"] is not None
    latest = max(at for (at,) in sqlite_store._fetch("SELECT at FROM consents"))
    assert latest < 253402214400000  # no consent dated in 9999


# -- odd but valid files ------------------------------------------------------------------------
def test_old_mac_line_breaks_and_utf16(tmp_path: Path, sqlite_store: SqlStore) -> None:
    mac = tmp_path / "mac.csv"
    mac.write_bytes((HEADER + GOOD).replace("\n", "\r").encode())
    assert ingest(sqlite_store, "orders", [mac]).stored == 1
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes((HEADER + GOOD.replace("c1", "c2")).encode("utf-16"))
    assert ingest(sqlite_store, "orders", [utf16]).stored == 1
    bare = tmp_path / "bare16.csv"  # UTF-16 without a byte order mark: a hint, not a crash
    bare.write_bytes((HEADER + GOOD).encode("utf-16-le"))
    with pytest.raises(InputError, match="--encoding utf-16"):
        ingest(sqlite_store, "orders", [bare])
    assert ingest(sqlite_store, "orders", [bare], encoding="utf-16-le").rows_read == 1


def test_parquet_columns_of_any_type(tmp_path: Path, sqlite_store: SqlStore) -> None:
    path = tmp_path / "typed.parquet"
    table = pa.table(
        {
            "customer_id": pa.array([["a", "b"], None, ["c"]]),
            "item_id": pa.array([{"x": 1}, {"x": 2}, {"x": 3}]),
            "timestamp": pa.array([1, 2, 3], pa.duration("s")),
            "session_id": pa.array([b"\xff\x00", b"s", None], pa.binary()),
            "quantity": pa.array([1, 2, 3], pa.decimal128(38, 0)),
        }
    )
    pq.write_table(table, path)
    report = ingest(sqlite_store, "orders", [path])
    assert report.accounted and report.rows_read == 3  # durations are no timestamps
    stamps = pa.array(["2024-03-01", "2024-03-02", "2024-03-03"])
    pq.write_table(table.set_column(2, "timestamp", stamps), path)
    report = ingest(sqlite_store, "orders", [path])
    assert report.stored == 2 and report.rejected == {
        "missing customer_id (and no anonymous_id)": 1
    }
    events = sqlite_store.events().sort("ts")
    assert events["customer_id"].to_list() == ['["a","b"]', '["c"]']
    assert events["item_id"].to_list() == ['{"x":1}', '{"x":3}']
    assert events["session_id"].to_list()[0] == "ff00"  # bytes that are not text, as hex


def test_catalog_columns_named_like_internal_ones(tmp_path: Path, sqlite_store: SqlStore) -> None:
    path = tmp_path / "items.csv"
    path.write_text("item_id,title,_line,_reason,_attributes\na,A,x,y,z\n")
    assert ingest(sqlite_store, "items", [path]).stored == 1
    attributes = json.loads(sqlite_store.items()["attributes"][0])
    assert attributes == {"_line": "x", "_reason": "y", "_attributes": "z"}


def test_malformed_line_that_is_not_utf8_prints_no_traceback(
    tmp_path: Path, sqlite_store: SqlStore, capfd: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "orders.csv"
    path.write_bytes(b"customer_id,item_id,timestamp\nc1,i1,2024-03-01\nc2,i2,2024-03-01,x\xf9\n")
    message = refused(sqlite_store, path)
    assert "a malformed line holds bytes that are not utf-8" in message
    assert "Traceback" not in capfd.readouterr().err


def _unchecked_text(values: list[bytes | None]) -> pa.Array:
    """A string array holding bytes that may not be UTF-8 (as a damaged Parquet file has)."""
    raw = pa.array(values, pa.binary())
    return pa.Array.from_buffers(pa.string(), len(raw), raw.buffers())


def test_parquet_text_that_is_not_utf8_is_rejected_by_row(
    tmp_path: Path, sqlite_store: SqlStore
) -> None:
    path = tmp_path / "orders.parquet"
    table = pa.table(
        {
            "customer_id": _unchecked_text([b"c1", b"c\xff\xfe", b"c3", None]),
            "item_id": pa.array(["i1", "i2", "i3", "i4"]).dictionary_encode(),
            "timestamp": ["2024-03-01", "2024-03-01", "2024-03-01", "2024-03-01"],
            "title": _unchecked_text([b"Mug", b"Mug", b"Tea\xc3", b"Pot"]),
        }
    )
    pq.write_table(table, path)
    rejected = tmp_path / "rejected.csv"
    report = ingest(sqlite_store, "orders", [path], rejected_csv=rejected, chunk_rows=3)
    assert report.accounted and report.stored == 1
    assert rejected_rows(rejected) == [
        ("2", "text that is not valid UTF-8"),
        ("3", "text that is not valid UTF-8"),
        ("4", "missing customer_id (and no anonymous_id)"),
    ]


def test_records_that_cannot_be_read_as_text_are_rejected_by_position(
    sqlite_store: SqlStore,
) -> None:
    deep: object = "x"
    for _ in range(5000):
        deep = [deep]
    base = {"event_type": "view", "item_id": "i1", "timestamp": "2024-03-01T10:00:00Z"}
    records = [
        {**base, "customer_id": "c1"},
        {**base, "customer_id": "c\ud800"},  # a lone surrogate
        {**base, "customer_id": "c3", "session_id": deep},  # nested beyond JSON's depth
        {**base, "customer_id": 10**5000},  # too long to be text
        {**base, "customer_id": "c5", "quantity": 1e20},
        {**base, "customer_id": "c6"},
    ]
    for many in (False, True):  # the row path, and the vectorised one
        batch = records * (20 if many else 1)
        checked = check_records("events", batch)
        assert checked.received == len(batch)
        reasons = {r["index"]: r["reason"] for r in checked.rejected}
        assert reasons[1] == "text is not valid Unicode (a lone surrogate)"
        assert reasons[2] == "a value nested too deeply"
        assert reasons[3] == "a number too large to be read"
        assert reasons[4] == "quantity beyond the ceiling (setting ingest_max_quantity)"
        assert len(reasons) == 4 * len(batch) // len(records)
        assert checked.rows["customer_id"].to_list()[:2] == ["c1", "c6"]
    with sqlite_store.writer() as writer:
        report = check_records("events", records, limits=Limits(max_quantity=1e21)).write(writer)
    assert report.stored == 3 and len(report.rejected) == 3


def test_nul_in_free_text_imports_on_every_store(tmp_path: Path, any_store: SqlStore) -> None:
    """PostgreSQL refuses NUL in text: before, one NUL in a title failed the whole import."""
    orders = tmp_path / "orders.csv"
    orders.write_bytes(
        b"customer_id,item_id,timestamp,title,category,country\n"
        b"c1,i1,2024-03-01,Tea\x00pot,ki\x01tchen,U\x00K\n"
    )
    items = tmp_path / "items.csv"
    items.write_bytes(b"item_id,title,description,brand,colour\na,T\x00,d\x00,b\x00,re\x00d\n")
    people = tmp_path / "customers.csv"
    people.write_bytes(
        b"customer_id,country,name,email,hobby\nc1,F\x00R,A\x00da,a\x00@b.example,x\x00\n"
    )
    assert ingest(any_store, "orders", [orders]).stored == 1
    assert ingest(any_store, "items", [items]).stored == 1
    assert ingest(any_store, "customers", [people]).stored == 1
    titles = dict(any_store.items().select("item_id", "title").rows())
    assert titles == {"i1": "Teapot", "a": "T"}
    assert any_store.customer("c1")["country"] == "FR"  # type: ignore[index]


def test_a_tiny_binary_header_is_shown_without_control_characters(
    tmp_path: Path, sqlite_store: SqlStore
) -> None:
    path = tmp_path / "tiny.csv"
    path.write_bytes(b"\x00\x01\x1b[2J,\x03\nabc\n")
    message = refused(sqlite_store, path)
    assert "file columns: ???[2J, ?" in message


def test_json_lines_with_a_byte_order_mark(tmp_path: Path, sqlite_store: SqlStore) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + (json.dumps(OBJECT) + "\n").encode())
    assert ingest(sqlite_store, "orders", [path]).stored == 1


def test_json_lines_in_another_encoding_ask_for_it(tmp_path: Path, sqlite_store: SqlStore) -> None:
    path = tmp_path / "events.jsonl"
    record = {**OBJECT, "title": "Чайник для заварки"}
    path.write_bytes((json.dumps(record, ensure_ascii=False) + "\n").encode("cp1251") * 50)
    message = refused(sqlite_store, path)
    assert "not valid utf-8 text" in message and "--encoding" in message
    assert ingest(sqlite_store, "orders", [path], encoding="cp1251").stored == 1  # 49 duplicates
    assert sqlite_store.items()["title"][0] == "Чайник для заварки"
