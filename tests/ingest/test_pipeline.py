"""The ingest pipeline end to end into a real store: accounting, repairs, rejects, atomicity."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest

from storewise.errors import InputError, NotFound, SchemaError
from storewise.ingest.pipeline import ingest
from storewise.store import SqlStore

HEADER = "customer_id,item_id,timestamp,order_id,quantity,price,title,category,country\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_generic_orders_are_stored_and_accounted(tmp_path: Path, sqlite_store: SqlStore) -> None:
    path = write(
        tmp_path / "orders.csv",
        HEADER
        + "c1,i1,2024-03-01 10:00:00,o1,2,3.50,Blue Mug,kitchen,UK\n"
        + "c1,i2,2024-03-01T10:00:00Z,o1,1,9.99,Tea Pot,kitchen,UK\n"
        + "c2,i1,2024-03-02,o2,,3.50,Blue Mug,kitchen,DE\n",
    )
    report = ingest(sqlite_store, "orders", [path])
    assert (report.rows_read, report.stored, report.duplicates) == (3, 3, 0)
    assert report.accounted
    assert report.repaired["missing quantity set to 1"] == 1
    stored = sqlite_store.reports()[0]["report"]
    assert stored["stored"] == 3 and stored["seconds"] > 0  # the stored report is complete
    events = sqlite_store.events().sort("ts", "item_id")
    assert events["value"].to_list() == [7.0, 9.99, 3.5]
    items = {r["item_id"]: r for r in sqlite_store.items().to_dicts()}
    assert items["i1"]["title"] == "Blue Mug" and items["i1"]["category"] == "kitchen"
    assert sqlite_store.customer("c2")["country"] == "DE"  # type: ignore[index]


def test_malformed_rows_are_rejected_with_line_and_reason(
    tmp_path: Path, sqlite_store: SqlStore
) -> None:
    path = write(
        tmp_path / "orders.csv",
        HEADER
        + "c1,i1,2024-03-01 10:00:00,o1,1,3.5,Mug,kitchen,UK\n"
        + "c1,i2,2024-03-01 10:00:00,o1,1,3.5\n"  # line 3: wrong field count
        + "c2,i1,yesterday,o2,1,3.5,Mug,kitchen,UK\n"  # line 4: unparseable date
        + "c3,i1,2024-03-03 10:00:00,o3,two,3.5,Mug,kitchen,UK\n"  # line 5: quantity
        + "c4,i3,2024-03-04 10:00:00,o4,1,4.0,Plate,kitchen,UK\n",
    )
    rejected = tmp_path / "out" / "rejected.csv"
    report = ingest(sqlite_store, "orders", [path], rejected_csv=rejected)
    assert report.stored == 2 and report.rows_read == 5 and report.accounted
    assert report.rejected == {
        "wrong field count": 1,
        "unparseable timestamp": 1,
        "non-numeric quantity": 1,
    }
    rows = read_rejects(rejected)
    assert [(r["line"], r["reason"]) for r in rows] == [
        ("3", "wrong field count (expected 9, got 6)"),
        ("4", "unparseable timestamp"),
        ("5", "non-numeric quantity"),
    ]
    assert rows[1]["raw"].startswith("c2,i1,yesterday")


def test_missing_required_column_writes_nothing(tmp_path: Path, sqlite_store: SqlStore) -> None:
    good = write(tmp_path / "good.csv", HEADER + "c1,i1,2024-03-01,o1,1,3.5,Mug,k,UK\n")
    bad = write(tmp_path / "bad.csv", "customer_id,item_id\nc1,i1\n")
    rejected = tmp_path / "rejected.csv"
    with pytest.raises(SchemaError) as info:
        ingest(sqlite_store, "orders", [good, bad], rejected_csv=rejected)
    assert "bad.csv" in info.value.message and "'timestamp'" in info.value.message
    assert sqlite_store.stats()["events"]["total"] == 0
    assert not rejected.exists()


def test_failure_mid_import_rolls_back_everything(
    tmp_path: Path, sqlite_store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = "".join(f"c{i},i{i % 7},2024-03-01,o{i},1,2.0,T,k,UK\n" for i in range(3000))
    path = write(tmp_path / "orders.csv", HEADER + rows)
    from storewise.store import sql

    calls = {"n": 0}
    original = sql.SqlWriter.add_events

    def flaky(self: sql.SqlWriter, events: pl.DataFrame) -> sql.EventWrite:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return original(self, events)

    monkeypatch.setattr(sql.SqlWriter, "add_events", flaky)
    with pytest.raises(OSError, match="disk full"):
        ingest(sqlite_store, "orders", [path], chunk_rows=1000)
    assert calls["n"] == 2
    assert sqlite_store.stats()["events"]["total"] == 0
    assert sqlite_store.reports() == []


def test_reimport_and_duplicate_lines_add_nothing(tmp_path: Path, sqlite_store: SqlStore) -> None:
    line = "c1,i1,2024-03-01 10:00:00,o1,1,3.5,Mug,kitchen,UK\n"
    path = write(tmp_path / "orders.csv", HEADER + line + line + line.replace("i1", "i2"))
    first = ingest(sqlite_store, "orders", [path])
    assert (first.stored, first.duplicates) == (2, 1)
    before = sqlite_store.stats()
    second = ingest(sqlite_store, "orders", [path])
    assert (second.stored, second.duplicates) == (0, 3)
    assert sqlite_store.stats() == before


def test_latin1_file_and_unknown_event_type(tmp_path: Path, sqlite_store: SqlStore) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(
        (
            "customer_id;item_id;timestamp;event_type;title\n"
            "c1;i1;2024-03-01;purchase;Café bowl\n"
            "c1;i2;2024-03-01;teleport;Crème jar\n"
        ).encode("latin-1")
    )
    report = ingest(sqlite_store, "orders", [path])
    assert report.stored == 1
    assert report.rejected == {"unknown event type": 1}
    assert sqlite_store.items().filter(pl.col("item_id") == "i1")["title"][0] == "Café bowl"


def test_events_with_ga4_names_and_guest_login(tmp_path: Path, sqlite_store: SqlStore) -> None:
    path = tmp_path / "events.jsonl"
    records = [
        {
            "user_pseudo_id": "anon-7",
            "event_name": "view_item",
            "item_id": "i1",
            "event_timestamp": 1709280000000000,
        },
        {
            "user_pseudo_id": "anon-7",
            "event_name": "add_to_cart",
            "item_id": "i1",
            "event_timestamp": "2024-03-01T08:05:00Z",
        },
        {
            "user_pseudo_id": "anon-7",
            "user_id": "c5",
            "event_name": "purchase",
            "item_id": "i1",
            "event_timestamp": "2024-03-01T09:10:00+01:00",
            "transaction_id": "o9",
            "price": 4,
        },
        {"event_name": "view_item", "item_id": "i2", "event_timestamp": "2024-03-01"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    report = ingest(sqlite_store, "events", [path])
    assert report.stored == 3 and report.identities_linked == 1
    assert report.rejected == {"missing customer_id (and no anonymous_id)": 1}
    assert report.repaired["event name mapped to a storewise type (e.g. view_item -> view)"] == 1
    history = sqlite_store.customer_history("c5")
    assert history["event_type"].to_list() == ["view", "add_to_cart", "purchase"]
    assert history["ts"].to_list()[0] == 1709280000000


def test_unknown_preset_and_kind() -> None:
    with pytest.raises(NotFound, match="online-retail"):
        ingest(None, "orders", ["x.csv"], preset="shopifyy")
    with pytest.raises(InputError, match="unknown kind"):
        ingest(None, "reviews", ["x.csv"])


def test_mapping_renames_columns(tmp_path: Path, sqlite_store: SqlStore) -> None:
    path = write(tmp_path / "o.csv", "buyer,sku,when\nc1,i1,2024-01-01\n")
    report = ingest(
        sqlite_store, "orders", [path], mapping={"buyer": "customer_id", "when": "timestamp"}
    )
    assert report.stored == 1
    with pytest.raises(InputError, match="not a orders column"):
        ingest(sqlite_store, "orders", [path], mapping={"buyer": "shoe_size"})


def test_catalog_and_customers(tmp_path: Path, sqlite_store: SqlStore) -> None:
    items = write(
        tmp_path / "items.csv",
        "sku,name,category,price,available,colour\n"
        "i1,Blue Mug,kitchen,3.5,yes,blue\n"
        "i2,Red Mug,kitchen,abc,yes,red\n"
        "i3,Lamp,lighting,20,out of stock,white\n",
    )
    report = ingest(sqlite_store, "items", [items])
    assert report.stored == 2 and report.rejected == {"non-numeric price": 1}
    catalog = {r["item_id"]: r for r in sqlite_store.items().to_dicts()}
    assert catalog["i3"]["in_stock"] is False
    assert json.loads(catalog["i1"]["attributes"]) == {"colour": "blue"}
    people = write(
        tmp_path / "customers.csv",
        "customer_id,country,email,name,consent_marketing\n"
        "17850.0,UK,ada@example.com,Ada,yes\n"
        "c2,DE,not-an-email,Bo,no\n"
        "c3,FR,,Cy,maybe\n",
    )
    report = ingest(sqlite_store, "customers", [people])
    assert report.stored == 2 and report.consents_recorded == 2
    assert report.repaired["invalid email removed (profile kept)"] == 1
    assert report.rejected == {
        "unrecognised consent_marketing value (use yes/no, true/false, 1/0)": 1
    }
    assert sqlite_store.customer("17850")["email"] == "ada@example.com"  # type: ignore[index]


ONLINE_RETAIL_HEADER = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
)


def test_online_retail_traps(tmp_path: Path, sqlite_store: SqlStore) -> None:
    path = write(
        tmp_path / "or.csv",
        ONLINE_RETAIL_HEADER
        + "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
        + "536366,85123a,WHITE HEART HOLDER,1,2010-12-01 09:00:00,2.55,17850.0,United Kingdom\n"
        + "536367,85123A,WHITE HANGING HEART,2,2010-12-02 08:26:00,2.55,13047.0,United Kingdom\n"
        + "C536368,85123A,WHITE HANGING HEART,-1,2010-12-03 08:26:00,2.55,17850.0,United Kingdom\n"
        + "536369,POST,POSTAGE,1,2010-12-03 09:00:00,18.0,12583.0,France\n"
        + "536370,22139,,56,2010-12-03 11:52:00,0.0,,United Kingdom\n"
        + "536371,22086,PAPER CHAIN,3,2010-12-03 12:00:00,2.95,,United Kingdom\n",
    )
    report = ingest(sqlite_store, "orders", [path], preset="online-retail")
    assert report.accounted and report.stored == 6
    assert report.rejected == {"price <= 0 on a purchase or return": 1}
    assert report.repaired["cancellation (invoice starting with C) stored as a return"] == 1
    assert report.repaired["no CustomerID: stored as a guest event keyed by its invoice"] == 1
    events = sqlite_store.events()
    ret = events.filter(pl.col("event_type") == "return").row(0, named=True)
    assert (ret["customer_id"], ret["quantity"], ret["value"]) == ("17850", 1.0, -2.55)
    guest = events.filter(pl.col("order_id") == "536371").row(0, named=True)
    assert guest["customer_id"] is None and guest["anonymous_id"] == "guest-invoice-536371"
    items = {r["item_id"]: r for r in sqlite_store.items().to_dicts()}
    assert items["POST"]["is_product"] is False
    assert items["85123A"]["title"] == "WHITE HANGING HEART"  # most frequent description
    assert sqlite_store.stats()["items"] == 2
