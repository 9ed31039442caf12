"""Property tests: the row validator never crashes and accounts for every row it is given."""

from __future__ import annotations

import csv
import string
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storewise.ingest.pipeline import ingest
from storewise.store import SqlStore

COLUMNS = ["customer_id", "item_id", "timestamp", "order_id", "quantity", "price", "event_type"]

text = st.text(
    alphabet=string.printable.replace("\r", "").replace("\x0b", "").replace("\x0c", ""), max_size=12
)
values = {
    "customer_id": st.one_of(
        st.none(), st.sampled_from(["c1", "17850.0", " c2 ", "x" * 250]), text
    ),
    "item_id": st.one_of(st.none(), st.sampled_from(["i1", "POST", "i2"]), text),
    "timestamp": st.one_of(
        st.none(),
        st.sampled_from(
            [
                "2024-01-01",
                "2024-01-01T10:00:00Z",
                "1700000000",
                "3024-01-01",
                "1970-01-01",
                "2024-02-30",
                "31/01/2024",
            ]
        ),
        text,
    ),
    "order_id": st.one_of(st.none(), text),
    "quantity": st.one_of(
        st.none(), st.sampled_from(["1", "-2", "0", "1,5", "inf", "nan", "3.0"]), text
    ),
    "price": st.one_of(st.none(), st.sampled_from(["2.5", "0", "-1", "1e400"]), text),
    "event_type": st.one_of(
        st.none(), st.sampled_from(["purchase", "view_item", "return", "teleport", "search"]), text
    ),
}
rows = st.lists(st.fixed_dictionaries(values), min_size=1, max_size=25)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=rows)
def test_every_row_is_stored_duplicate_or_rejected(
    rows: list[dict[str, str | None]], tmp_path_factory
) -> None:  # type: ignore[no-untyped-def]
    folder: Path = tmp_path_factory.mktemp("prop")
    path = folder / "rows.parquet"
    pl.DataFrame(rows, schema=dict.fromkeys(COLUMNS, pl.Utf8)).write_parquet(path)
    store = SqlStore.open("sqlite://")
    try:
        report = ingest(store, "orders", [path], rejected_csv=folder / "rejected.csv")
        assert report.rows_read == len(rows)
        assert report.accounted
        assert store.stats()["events"]["total"] == report.stored
        with (folder / "rejected.csv").open(newline="") as handle:
            rejected = list(csv.DictReader(handle))
        assert len(rejected) == report.rejected_total
        assert all(r["reason"] and int(r["line"]) >= 1 for r in rejected)
        events = store.events()
        assert (events["quantity"] > 0).all()
        assert (
            events["event_type"]
            .is_in(
                [
                    "view",
                    "add_to_cart",
                    "remove_from_cart",
                    "purchase",
                    "return",
                    "rating",
                    "search",
                ]
            )
            .all()
        )
    finally:
        store.close()
