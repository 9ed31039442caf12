"""Shop-platform exports through the real pipeline into a store: Shopify's orders export,
WooCommerce's order export (Default - One Row per Item) and GA4's BigQuery export as JSON
lines and Parquet. The fixtures under ``fixtures/`` are laid out as the platforms write them:
Shopify's full header with order fields on an order's first row only and a note spanning
lines, WooCommerce's snake_case keys, GA4 rows with nested ``event_params`` and ``items``
and 64-bit integers as JSON strings (as ``bq extract`` writes them)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from storewise.errors import SchemaError
from storewise.ingest.layouts import LAYOUTS, decoder, email_key
from storewise.ingest.pipeline import ingest
from storewise.ingest.presets import PRESETS
from storewise.ingest.sources import Source
from storewise.store import SqlStore

FIXTURES = Path(__file__).parent / "fixtures"
SHOPIFY = FIXTURES / "shopify_orders_export.csv"
WOOCOMMERCE = FIXTURES / "woocommerce_orders_export.csv"
GA4 = FIXTURES / "ga4_events_20240305.jsonl"
ROW = ("order_id", "customer_id", "anonymous_id", "item_id", "event_type", "quantity", "price")


def ms(text: str) -> int:
    """Epoch milliseconds of an ISO 8601 time with its offset."""
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def read_rejects(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [(r["line"], r["reason"]) for r in csv.DictReader(handle)]


def sales(store: SqlStore) -> list[tuple[Any, ...]]:
    """Stored order lines, one tuple each: ROW's columns, value and time."""
    events = store.events().sort("order_id", "item_id", "event_type")
    return [(*r[: len(ROW)], r[-2], r[-1]) for r in events.select(*ROW, "value", "ts").rows()]


def without_columns(path: Path, drop: str, target: Path) -> Path:
    """A copy of a CSV export without one of its columns."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, [c for c in rows[0] if c != drop], lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: v for k, v in r.items() if k != drop} for r in rows)
    target.write_text(buffer.getvalue(), encoding="utf-8")
    return target


# ---------------------------------------------------------------------------------- Shopify


def test_shopify_orders_export(tmp_path: Path, sqlite_store: SqlStore) -> None:
    rejected = tmp_path / "rejected.csv"
    report = ingest(sqlite_store, "orders", [SHOPIFY], preset="shopify", rejected_csv=rejected)
    # 9 line rows, and the refunded order's line read again as its return
    assert (report.rows_read, report.stored, report.duplicates) == (10, 8, 0)
    assert report.accounted
    # both lines of the cancelled order #1003: the second has Cancelled at only by its order
    assert report.rejected == {"cancelled order (its Cancelled at is set)": 2}
    assert read_rejects(rejected) == [
        ("5", "cancelled order (its Cancelled at is set)"),
        ("6", "cancelled order (its Cancelled at is set)"),
    ]
    assert report.repaired == {
        "no Email: stored as a guest keyed by its order Name": 1,
        "no Lineitem sku: item keyed by its Lineitem name": 1,
    }
    assert report.notes == {
        "order partially refunded: the export does not say which lines, all kept as purchases": 2,
        "payment pending (Financial Status pending): kept as a purchase": 1,
        "refund date not in the export: return dated just after its purchase": 1,
    }
    key = sqlite_store.id_hash  # e-mail ids are keyed by the store's own secret
    ada, bo = email_key("ada@example.com", key), email_key("bo@example.com", key)
    chris, dee = email_key("chris@example.com", key), email_key("dee@example.com", key)
    assert ada != email_key("ada@example.com")  # not the unkeyed hash anyone could compute
    t1001, t1002 = ms("2024-03-05 14:02:11+01:00"), ms("2024-03-06 09:15:40+01:00")
    t1004, t1005 = ms("2024-03-08 18:44:01+01:00"), ms("2024-03-09 12:00:59+01:00")
    t1006 = ms("2024-03-10 20:10:08+01:00")
    assert sales(sqlite_store) == [
        # the mug line's own discount (2.50) is taken off its value
        ("#1001", ada, None, "MUG-BLUE", "purchase", 2.0, 12.5, 22.5, t1001),
        # the second row of #1001 has its order's fields blank: filled from the first row
        ("#1001", ada, None, "TEA-EARL", "purchase", 1.0, 8.5, 8.5, t1001),
        ("#1002", bo, None, "TOTE-1", "purchase", 1.0, 30.0, 30.0, t1002),
        ("#1002", bo, None, "TOTE-1", "return", 1.0, 30.0, -30.0, t1002 + 1000),
        ("#1004", chris, None, "Gift wrapping", "purchase", 1.0, 17.5, 17.5, t1004),
        ("#1004", chris, None, "TEA-EARL", "purchase", 1.0, 8.5, 8.5, t1004),
        ("#1005", None, "guest-order-#1005", "MUG-BLUE", "purchase", 1.0, 12.5, 12.5, t1005),
        ("#1006", dee, None, "TEA-EARL", "purchase", 2.0, 8.5, 17.0, t1006),
    ]
    # no e-mail address is an id; the e-mail's case does not split a customer (Chris@Example)
    ids = sqlite_store.events()["customer_id"].drop_nulls().to_list()
    assert not any("@" in i for i in ids) and chris in ids
    assert sqlite_store.customer(ada)["country"] == "FR"  # type: ignore[index]
    titles = dict(sqlite_store.items().select("item_id", "title").rows())
    assert (
        titles["TEA-EARL"] == "Earl Grey Tea - 100 g" and titles["Gift wrapping"] == "Gift wrapping"
    )


def test_shopify_reimport_and_a_later_export(tmp_path: Path, sqlite_store: SqlStore) -> None:
    """The same file again stores nothing twice; a later export where an order has been
    refunded since adds only the returns."""
    ingest(sqlite_store, "orders", [SHOPIFY], preset="shopify")
    again = ingest(sqlite_store, "orders", [SHOPIFY], preset="shopify")
    assert (again.stored, again.duplicates, again.rejected_total) == (0, 8, 2)
    later = tmp_path / "orders_export_1.csv"
    later.write_text(
        SHOPIFY.read_text(encoding="utf-8").replace(
            "#1001,ada@example.com,paid,", "#1001,ada@example.com,refunded,"
        ),
        encoding="utf-8",
    )
    report = ingest(sqlite_store, "orders", [later], preset="shopify")
    assert (report.stored, report.duplicates) == (2, 8)
    returns = sqlite_store.events().filter(pl.col("event_type") == "return")
    assert sorted(returns["order_id"].to_list()) == ["#1001", "#1001", "#1002"]


def test_shopify_order_fields_carry_across_chunks() -> None:
    """An order whose rows straddle two chunks keeps its first row's fields."""
    header = ["Name", "Email", "Financial Status", "Created at", "Cancelled at"]
    header += ["Lineitem quantity", "Lineitem name", "Lineitem price", "Lineitem sku"]
    layout = LAYOUTS["shopify"]
    read = decoder(layout, header, ",")

    def chunk(*rows: tuple[str | None, ...]) -> pl.DataFrame:
        return pl.DataFrame(list(rows), schema=dict.fromkeys(header, pl.Utf8), orient="row")

    first = read.decode(
        chunk(
            (
                "#7",
                "eve@example.com",
                "refunded",
                "2024-03-01 10:00:00 +0000",
                None,
                "1",
                "A",
                "2",
                "A1",
            ),
            (
                "#8",
                "fay@example.com",
                "paid",
                "2024-03-02 10:00:00 +0000",
                "2024-03-02 11:00:00 +0000",
                "1",
                "B",
                "3",
                "B1",
            ),
        ),
        np.array([2, 3]),
    )
    second = read.decode(
        chunk(
            ("#8", None, None, None, None, "1", "C", "4", "C1"),
            (
                "#9",
                "gus@example.com",
                "refunded",
                "2024-03-03 10:00:00 +0000",
                None,
                "1",
                "D",
                "5",
                "D1",
            ),
            ("#9", None, None, None, None, "2", "E", "6", "E1"),
        ),
        np.array([4, 5, 6]),
    )
    # #8 was cancelled on its first row (chunk one): its second row (chunk two) is too
    assert [(line, reason) for line, reason, _ in second[0].rejected] == [
        (4, "cancelled order (its Cancelled at is set)")
    ]
    # #9's second row is filled within the chunk: a purchase and a return each
    purchases, returns = second
    assert purchases.lines.tolist() == [5, 6] and returns.lines.tolist() == [5, 6]
    assert purchases.frame["storewise_customer_id"].to_list() == [email_key("gus@example.com")] * 2
    assert returns.frame["storewise_event_type"].str.starts_with("return").all()
    assert first[0].rejected[0][:2] == (3, "cancelled order (its Cancelled at is set)")
    # the raw text kept for a rejected row is the file's own, not the filled values
    assert second[0].rejected[0][2] == "#8,,,,,1,C,4,C1"


def test_shopify_export_larger_than_a_chunk(tmp_path: Path, sqlite_store: SqlStore) -> None:
    """Hundreds of orders read in several chunks: every line gets its order's fields, wherever
    the chunks are cut, and notes spanning lines keep the line numbers right."""
    header = SHOPIFY.read_text(encoding="utf-8").splitlines()[0].split(",")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, header, lineterminator="\n")
    writer.writeheader()
    orders = 600
    for number in range(orders):
        cancelled = number % 7 == 0
        for line in range(3):
            row = dict.fromkeys(header, "")
            row.update(
                {
                    "Name": f"#{5000 + number}",
                    "Created at": f"2024-02-{1 + number % 28:02d} 08:00:00 -0500",
                    "Lineitem quantity": "1",
                    "Lineitem name": f"Item {line}",
                    "Lineitem price": "4.00",
                    "Lineitem sku": f"SKU-{line}",
                }
            )
            if line == 0:
                row.update(
                    {
                        "Email": f"c{number % 50}@example.com",
                        "Financial Status": "refunded",
                        "Cancelled at": "2024-03-01 09:00:00 -0500" if cancelled else "",
                        "Notes": "first line\nsecond line",
                    }
                )
            writer.writerow(row)
    path = tmp_path / "orders_export.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    assert sum(1 for _ in Source(path, chunk_rows=200).chunks()) > 4
    rejected = tmp_path / "rejected.csv"
    report = ingest(
        sqlite_store, "orders", [path], preset="shopify", chunk_rows=200, rejected_csv=rejected
    )
    kept = sum(1 for n in range(orders) if n % 7)
    assert report.rejected == {"cancelled order (its Cancelled at is set)": 3 * (orders - kept)}
    assert report.stored == 2 * 3 * kept and report.accounted
    events = sqlite_store.events()
    assert events["customer_id"].null_count() == 0
    per_order = events.group_by("order_id", "event_type").len()["len"].unique().to_list()
    assert per_order == [3]
    # each order's first row spans two lines (its note): order n starts on line 2 + 4n
    first = [int(line) for line, _ in read_rejects(rejected)][:3]
    assert first == [2, 4, 5]


def test_shopify_missing_column_is_named(tmp_path: Path, sqlite_store: SqlStore) -> None:
    path = without_columns(SHOPIFY, "Created at", tmp_path / "orders_export.csv")
    with pytest.raises(SchemaError) as info:
        ingest(sqlite_store, "orders", [path], preset="shopify")
    assert "orders_export.csv" in info.value.message and "'Created at'" in info.value.message
    assert sqlite_store.stats()["events"]["total"] == 0
    # without the columns that make it a Shopify export, the preset says which ones
    path = without_columns(SHOPIFY, "Lineitem quantity", tmp_path / "cut.csv")
    with pytest.raises(
        SchemaError, match=r"cut\.csv: not a Shopify orders export: .*'Lineitem quantity'"
    ):
        ingest(sqlite_store, "orders", [path], preset="shopify")


def test_shopify_export_with_the_generic_preset_says_which_preset(sqlite_store: SqlStore) -> None:
    with pytest.raises(SchemaError, match="read it with --preset shopify"):
        ingest(sqlite_store, "orders", [SHOPIFY])


# ------------------------------------------------------------------------------ WooCommerce


def test_woocommerce_order_export(tmp_path: Path, sqlite_store: SqlStore) -> None:
    rejected = tmp_path / "rejected.csv"
    report = ingest(
        sqlite_store, "orders", [WOOCOMMERCE], preset="woocommerce", rejected_csv=rejected
    )
    # 11 item rows, and two of them read again as returns (a refunded order, a refunded line)
    assert (report.rows_read, report.stored, report.duplicates) == (13, 9, 0)
    assert report.accounted
    assert report.rejected == {
        "cancelled order (status cancelled)": 1,
        "failed payment (status failed)": 1,
        "awaiting payment, never paid (status pending)": 1,
        "on hold, not paid yet (status on-hold)": 1,
    }
    assert [line for line, _ in read_rejects(rejected)] == ["8", "9", "10", "11"]
    assert report.repaired == {
        "guest order: customer keyed by its billing e-mail": 1,
        "no item_product_id: item keyed by its SKU": 1,
    }
    assert report.notes == {
        "refund date not in the export: return dated just after its purchase": 2
    }
    gus = email_key("gus@example.com", sqlite_store.id_hash)
    t = {n: ms(f"2024-04-{d} {h}+00:00") for n, d, h in (
        (2001, "02", "10:11:12"), (2002, "03", "16:45:00"), (2003, "04", "09:00:00"),
        (2004, "05", "12:30:00"), (2009, "07", "14:20:00"),
    )}  # fmt: skip
    assert sales(sqlite_store) == [
        ("2001", "7", None, "101", "purchase", 2.0, 12.5, 25.0, t[2001]),
        ("2001", "7", None, "205", "purchase", 1.0, 37.0, 37.0, t[2001]),
        ("2002", gus, None, "310", "purchase", 1.0, 30.0, 30.0, t[2002]),
        # the whole order refunded: its line's purchase and return
        ("2003", "7", None, "101", "purchase", 1.0, 12.5, 12.5, t[2003]),
        ("2003", "7", None, "101", "return", 1.0, 12.5, -12.5, t[2003] + 1000),
        # one of two candles refunded: price before the coupon, value after it
        ("2004", "9", None, "412", "purchase", 2.0, 15.0, 25.0, t[2004]),
        ("2004", "9", None, "412", "return", 1.0, 15.0, -15.0, t[2004] + 1000),
        ("2004", "9", None, "413", "purchase", 1.0, 5.0, 5.0, t[2004]),
        # a deleted product (item_product_id 0) is keyed by its SKU
        ("2009", "7", None, "TEAPOT-OLD", "purchase", 1.0, 8.0, 8.0, t[2009]),
    ]
    assert sqlite_store.customer("9")["country"] == "CA"  # type: ignore[index]
    again = ingest(sqlite_store, "orders", [WOOCOMMERCE], preset="woocommerce")
    assert (again.stored, again.duplicates, again.rejected_total) == (0, 9, 4)


def test_woocommerce_missing_column_is_named(tmp_path: Path, sqlite_store: SqlStore) -> None:
    path = without_columns(WOOCOMMERCE, "date", tmp_path / "orders-export.csv")
    with pytest.raises(
        SchemaError, match=r"orders-export\.csv: a WooCommerce .* needs the column 'date'"
    ):
        ingest(sqlite_store, "orders", [path], preset="woocommerce")
    path = without_columns(WOOCOMMERCE, "item_quantity", tmp_path / "other.csv")
    with pytest.raises(SchemaError, match=r"other\.csv: not a WooCommerce .*'item_quantity'"):
        ingest(sqlite_store, "orders", [path], preset="woocommerce")
    assert sqlite_store.stats()["events"]["total"] == 0


# -------------------------------------------------------------------------------------- GA4

GA4_REJECTED = {
    "GA4 session_start event: no storewise event type, not imported": 1,
    "GA4 first_visit event: no storewise event type, not imported": 1,
    "GA4 page_view event names no product: not imported": 1,
    "GA4 login event: no storewise event type, not imported": 1,
    "GA4 view_item_list event: no storewise event type, not imported": 1,
    "custom GA4 event: no storewise event type, not imported": 1,
    "GA4 refund without items (a whole-order refund names no products): not imported": 1,
    "GA4 user_engagement event: no storewise event type, not imported": 1,
    # a product of "(not set)" id, and an event of a browser without analytics consent
    "missing item_id": 1,
    "missing customer_id (and no anonymous_id)": 1,
}


def test_ga4_bigquery_export_as_json_lines(tmp_path: Path, sqlite_store: SqlStore) -> None:
    rejected = tmp_path / "rejected.csv"
    report = ingest(sqlite_store, "events", [GA4], preset="ga4-bigquery", rejected_csv=rejected)
    # 15 events; the purchase names two products, so it is two rows
    assert (report.rows_read, report.stored, report.duplicates) == (16, 6, 0)
    assert report.accounted and report.rejected == GA4_REJECTED
    lines = sorted(int(line) for line, _ in read_rejects(rejected))
    assert lines == [1, 2, 3, 7, 9, 10, 11, 13, 14, 15]
    # the browser's events before the login join the customer once user_id appears
    assert report.identities_linked == 1
    browser = "1234567890.1709640000"
    history = sqlite_store.customer_history("U-42").sort("ts", "item_id", maintain_order=True)
    assert history.select("event_type", "item_id", "quantity", "order_id", "query").rows() == [
        ("view", "MUG-BLUE", 1.0, None, None),
        ("search", None, 1.0, None, "tea pot"),
        ("add_to_cart", "MUG-BLUE", 2.0, None, None),
        ("purchase", "MUG-BLUE", 2.0, "T-9001", None),
        ("purchase", "TEA-EARL", 1.0, "T-9001", None),
        ("return", "TEA-EARL", 1.0, "T-9001", None),
    ]
    assert set(history["anonymous_id"]) == {browser}
    assert history["session_id"].to_list()[:5] == [f"{browser}.1709643600"] * 5
    assert history["ts"][0] == ms("2024-03-05T13:01:00+00:00")
    assert history.filter(pl.col("event_type") == "purchase")["value"].to_list() == [25.0, 8.5]
    assert sqlite_store.customer("U-42")["country"] == "United Kingdom"  # type: ignore[index]
    items = dict(sqlite_store.items().select("item_id", "category").rows())
    assert items["MUG-BLUE"] == "Kitchen"
    again = ingest(sqlite_store, "events", [GA4], preset="ga4-bigquery")
    assert (again.stored, again.duplicates, again.rejected) == (0, 6, GA4_REJECTED)


#: The BigQuery export's types for the fields the fixture has (INT64 as int64, FLOAT as
#: double, RECORD as struct, REPEATED as list), as ``bq extract --destination_format PARQUET``
#: writes them.
VALUE = pa.struct(
    [
        ("string_value", pa.string()),
        ("int_value", pa.int64()),
        ("float_value", pa.float64()),
        ("double_value", pa.float64()),
    ]
)
ITEM = pa.struct(
    [
        *((f, pa.string()) for f in ("item_id", "item_name", "item_brand", "item_variant")),
        *((f"item_category{n}", pa.string()) for n in ("", "2", "3", "4", "5")),
        ("price_in_usd", pa.float64()),
        ("price", pa.float64()),
        ("quantity", pa.int64()),
        *((f, pa.string()) for f in ("coupon", "affiliation", "location_id", "item_list_id")),
        *((f, pa.string()) for f in ("item_list_name", "item_list_index", "promotion_id")),
        *((f, pa.string()) for f in ("promotion_name", "creative_name", "creative_slot")),
        ("item_params", pa.list_(pa.struct([("key", pa.string()), ("value", VALUE)]))),
    ]
)
GA4_SCHEMA = pa.schema(
    [
        ("event_date", pa.string()),
        ("event_timestamp", pa.int64()),
        ("event_name", pa.string()),
        ("event_params", pa.list_(pa.struct([("key", pa.string()), ("value", VALUE)]))),
        ("event_bundle_sequence_id", pa.int64()),
        ("event_server_timestamp_offset", pa.int64()),
        ("user_id", pa.string()),
        ("user_pseudo_id", pa.string()),
        (
            "privacy_info",
            pa.struct(
                [
                    (f, pa.string())
                    for f in ("analytics_storage", "ads_storage", "uses_transient_token")
                ]
            ),
        ),
        ("user_properties", pa.list_(pa.struct([("key", pa.string()), ("value", VALUE)]))),
        ("user_first_touch_timestamp", pa.int64()),
        (
            "device",
            pa.struct(
                [
                    *(
                        (f, pa.string())
                        for f in ("category", "mobile_brand_name", "mobile_model_name")
                    ),
                    *((f, pa.string()) for f in ("operating_system", "operating_system_version")),
                    *((f, pa.string()) for f in ("language", "is_limited_ad_tracking")),
                    (
                        "web_info",
                        pa.struct(
                            [(f, pa.string()) for f in ("browser", "browser_version", "hostname")]
                        ),
                    ),
                ]
            ),
        ),
        (
            "geo",
            pa.struct(
                [
                    (f, pa.string())
                    for f in ("city", "country", "continent", "region", "sub_continent", "metro")
                ]
            ),
        ),
        ("traffic_source", pa.struct([(f, pa.string()) for f in ("name", "medium", "source")])),
        ("stream_id", pa.string()),
        ("platform", pa.string()),
        (
            "ecommerce",
            pa.struct(
                [
                    ("total_item_quantity", pa.int64()),
                    *((f, pa.float64()) for f in ("purchase_revenue_in_usd", "purchase_revenue")),
                    *((f, pa.float64()) for f in ("refund_value_in_usd", "refund_value")),
                    *((f, pa.float64()) for f in ("shipping_value_in_usd", "shipping_value")),
                    *((f, pa.float64()) for f in ("tax_value_in_usd", "tax_value")),
                    ("unique_items", pa.int64()),
                    ("transaction_id", pa.string()),
                ]
            ),
        ),
        ("items", pa.list_(ITEM)),
        ("is_active_user", pa.bool_()),
    ]
)


def typed(value: Any, kind: pa.DataType) -> Any:
    """A JSON export value as the Parquet export holds it (the JSON export writes INT64 as
    text and a FLOAT without fraction as an integer)."""
    if value is None:
        return None
    if pa.types.is_struct(kind):
        return {f.name: typed(value.get(f.name), f.type) for f in kind}
    if pa.types.is_list(kind):
        return [typed(v, kind.value_type) for v in value]
    if pa.types.is_int64(kind):
        return int(value)
    if pa.types.is_float64(kind):
        return float(value)
    return value


def ga4_parquet(path: Path) -> Path:
    """The GA4 fixture's events as a Parquet export with BigQuery's nested types."""
    records = [json.loads(line) for line in GA4.read_text(encoding="utf-8").splitlines()]
    rows = [{f.name: typed(r.get(f.name), f.type) for f in GA4_SCHEMA} for r in records]
    pq.write_table(pa.Table.from_pylist(rows, schema=GA4_SCHEMA), path)
    return path


def test_ga4_bigquery_export_as_parquet_matches_json_lines(
    tmp_path: Path, sqlite_store: SqlStore
) -> None:
    path = ga4_parquet(tmp_path / "events_20240305.parquet")
    report = ingest(sqlite_store, "events", [path], preset="ga4-bigquery")
    assert (report.rows_read, report.stored) == (16, 6)
    assert report.rejected == GA4_REJECTED and report.identities_linked == 1
    from_parquet = sqlite_store.events().drop("source").sort("event_id")
    # the JSON lines of the same events are the same events: nothing new is stored
    again = ingest(sqlite_store, "events", [GA4], preset="ga4-bigquery")
    assert (again.stored, again.duplicates) == (0, 6)
    assert sqlite_store.events().drop("source").sort("event_id").equals(from_parquet)


def test_ga4_export_with_the_events_preset(sqlite_store: SqlStore) -> None:
    """The decoded rows carry GA4's own names, so the general events preset reads them too."""
    report = ingest(sqlite_store, "events", [GA4])
    assert report.stored == 6 and report.rejected == GA4_REJECTED


def test_ga4_missing_column_is_named(tmp_path: Path, sqlite_store: SqlStore) -> None:
    lines = GA4.read_text(encoding="utf-8").splitlines()
    cut = [
        json.dumps({k: v for k, v in json.loads(x).items() if k != "event_timestamp"})
        for x in lines
    ]
    path = tmp_path / "events_20240306.json"
    path.write_text("\n".join(cut) + "\n", encoding="utf-8")
    with pytest.raises(SchemaError) as info:
        ingest(sqlite_store, "events", [path], preset="ga4-bigquery")
    assert "events_20240306.json" in info.value.message
    assert "'event_timestamp'" in info.value.message
    assert sqlite_store.stats()["events"]["total"] == 0


def test_platform_presets_are_listed() -> None:
    for name, kind in (
        ("shopify", "orders"),
        ("woocommerce", "orders"),
        ("ga4-bigquery", "events"),
    ):
        assert PRESETS[name].kind == kind and PRESETS[name].description
