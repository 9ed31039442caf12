"""The store contract: the same tests run against every store implementation.

Subclass :class:`StoreContract` and provide a ``store`` fixture returning an empty store with
a personal-field cipher; every test must pass on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storewise.errors import ConfigError, InputError, NotFound, StoreError
from storewise.store import writer as store_writer
from storewise.store.tables import metadata
from storewise.testing.fixtures import T0, tiny_events, tiny_items


def _mixed_events(prefix: str, copies: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(earlier guest rows, a batch with logins, guests, repeats and missing quantities), every
    id under ``prefix`` so two copies can live in one store."""
    rows = []
    for n in range(copies):
        for i, (customer, anonymous, kind) in enumerate(
            [
                (f"c{n % 3}", None, "view"),
                (None, f"a{n}", "view"),  # a guest, before the login below
                (f"c{n % 3}", f"a{n}", "add_to_cart"),  # login: links a{n} to c{n % 3}
                (None, f"a{n}", "purchase"),  # after the login: attributed at once
                (f"c{n % 2 + 5}", f"a{n % 2}", "view"),  # a second claim on a shared device
                (None, f"g{n}", "view"),  # a guest who never logs in
                (None, "old", "view"),  # a guest whose earlier rows were linked before
            ]
        ):
            rows.append((f"e{n}-{i}", customer, anonymous, f"i{(n + i) % 7}", kind, T0 - n * 7 - i))
    earlier = [
        ("pre-1", "c9", "old", "i1", "view", T0 - 10**6),
        ("pre-2", None, "a0", "i2", "view", T0),
    ]
    schema = {
        "event_id": pl.Utf8,
        "customer_id": pl.Utf8,
        "anonymous_id": pl.Utf8,
        "item_id": pl.Utf8,
        "event_type": pl.Utf8,
        "ts": pl.Int64,
    }

    def frame(data: Sequence[tuple[object, ...]]) -> pl.DataFrame:
        out = pl.DataFrame(data, schema=schema, orient="row")
        ids = ["event_id", "customer_id", "anonymous_id", "item_id"]
        return out.with_columns((pl.lit(prefix) + pl.col(c)).alias(c) for c in ids).with_columns(
            pl.when(pl.col("event_type") == "view").then(None).otherwise(2.0).alias("quantity")
        )

    batch = frame(rows)
    return frame(earlier), pl.concat([batch, batch.head(3)])  # three repeated event ids


class StoreContract:
    """Behaviour every store must have (fixture ``store``: an empty store with a cipher)."""

    def test_events_are_idempotent(self, store: Any) -> None:
        with store.writer() as writer:
            first = writer.add_events(tiny_events())
        with store.writer() as writer:
            again = writer.add_events(tiny_events())
        assert (first.stored, first.duplicates) == (11, 0)
        assert (again.stored, again.duplicates) == (0, 11)
        assert store.stats()["events"]["total"] == 11

    @pytest.mark.parametrize("copies", [1, 12])
    def test_small_and_bulk_event_writes_agree(
        self, store: Any, monkeypatch: pytest.MonkeyPatch, copies: int
    ) -> None:
        """The few-rows path (API requests) and the bulk path store and link the same."""
        results = {}
        for path, limit in (("small-", 10**6), ("bulk-", 0)):
            monkeypatch.setattr(store_writer, "_SMALL_BATCH", limit)
            earlier, batch = _mixed_events(path, copies)
            with store.writer() as writer:
                writer.add_events(earlier)
            with store.writer() as writer:
                results[path] = writer.add_events(batch)
        assert results["small-"] == results["bulk-"]
        assert results["small-"].duplicates == 3

        def strip(prefix: str, sql_text: str) -> list[tuple[Any, ...]]:
            rows = store._fetch(sql_text, (prefix + "%",))
            return sorted(
                tuple(v.removeprefix(prefix) if isinstance(v, str) else v for v in row)
                for row in rows
            )

        for table, query in (
            ("events", "SELECT * FROM events WHERE event_id LIKE ?"),
            ("customers", "SELECT customer_id, created_at FROM customers WHERE customer_id LIKE ?"),
            ("identities", "SELECT * FROM identities WHERE anonymous_id LIKE ?"),
            ("items", "SELECT item_id, is_product FROM items WHERE item_id LIKE ?"),
        ):
            assert strip("small-", query) == strip("bulk-", query), table

    def test_events_without_required_fields_are_refused(self, store: Any) -> None:
        for batch in (tiny_events(), pl.concat([tiny_events()] * 7)):
            broken = batch.with_columns(pl.lit(None, pl.Int64).alias("ts"))
            with pytest.raises(InputError, match="needs ts"), store.writer() as writer:
                writer.add_events(broken)
        assert store.stats()["events"]["total"] == 0

    def test_duplicates_within_one_batch_are_counted(self, store: Any) -> None:
        events = pl.concat([tiny_events(), tiny_events().head(3)])
        with store.writer() as writer:
            result = writer.add_events(events)
        assert (result.stored, result.duplicates) == (11, 3)

    def test_failed_write_leaves_nothing(self, store: Any) -> None:
        with pytest.raises(RuntimeError), store.writer() as writer:
            writer.add_events(tiny_events())
            writer.upsert_items(tiny_items())
            raise RuntimeError("import failed half way")
        assert store.stats()["events"]["total"] == 0
        assert store.items().height == 0

    def test_login_links_guest_history_before_and_after(self, store: Any) -> None:
        guest = pl.DataFrame(
            {
                "event_id": ["g1", "login", "g2"],
                "customer_id": [None, "c9", None],
                "anonymous_id": ["anon-9", "anon-9", "anon-9"],
                "item_id": ["i1", "i2", "i3"],
                "event_type": ["view", "add_to_cart", "view"],
                "ts": [T0, T0 + 10, T0 + 20],
            }
        )
        with store.writer() as writer:
            writer.add_events(guest.head(1))
        with store.writer() as writer:
            result = writer.add_events(guest.slice(1, 1))
        with store.writer() as writer:
            writer.add_events(guest.tail(1))
        assert result.linked == 1
        assert store.resolve_anonymous("anon-9") == "c9"
        assert store.customer_history("c9")["event_id"].to_list() == ["g1", "login", "g2"]
        assert store.session_history("anon-9").height == 3

    def test_link_identity_counts_reattributed_events(self, store: Any) -> None:
        events = tiny_events()
        with store.writer() as writer:
            writer.add_events(events)
            moved = writer.link_identity("anon-1", "c3", T0)
        # e09 was a guest view; e10 already carried c3 and linked anon-1 at ingest.
        assert moved == 0
        assert "e09" in store.customer_history("c3")["event_id"].to_list()

    def test_history_is_ordered_and_limited(self, store: Any) -> None:
        with store.writer() as writer:
            writer.add_events(tiny_events())
        history = store.customer_history("c1")
        assert history["ts"].is_sorted()
        assert history["event_id"].to_list() == ["e01", "e02", "e07", "e11"]
        assert store.customer_history("c1", limit=2)["event_id"].to_list() == ["e07", "e11"]
        assert store.customer_history("nobody").height == 0

    def test_events_until_and_by_customer(self, store: Any) -> None:
        with store.writer() as writer:
            writer.add_events(tiny_events())
        until = store.events(until_ms=T0 + 86_400_000)
        assert set(until["event_id"]) == {"e01", "e02", "e03", "e04"}
        some = store.events(customer_ids=["c2"])
        assert set(some["event_id"]) == {"e03", "e04", "e08"}
        batches = list(store.iter_events(batch_rows=4))
        assert sum(b.height for b in batches) == 11

    def test_items_fill_only_keeps_known_fields(self, store: Any) -> None:
        with store.writer() as writer:
            writer.upsert_items(tiny_items())
            writer.upsert_items(
                pl.DataFrame({"item_id": ["i1", "i9"], "title": ["Other", "New"]}), fill_only=True
            )
            writer.upsert_items(pl.DataFrame({"item_id": ["i2"], "title": ["Renamed"]}))
        items = {r["item_id"]: r for r in store.items().to_dicts()}
        assert items["i1"]["title"] == "White Hanging Heart Lantern"
        assert items["i9"]["title"] == "New"
        assert items["i2"]["title"] == "Renamed"
        assert items["i2"]["category"] == "bags"
        assert items["i5"]["in_stock"] is False

    def test_personal_fields_are_encrypted_at_rest(self, store: Any) -> None:
        with store.writer() as writer:
            writer.upsert_customers(
                pl.DataFrame(
                    {"customer_id": ["c1"], "email": ["ada@example.com"], "name": ["Ada L"]}
                )
            )
        with store.engine.connect() as conn:
            raw = conn.execute(sa.text("SELECT email_enc, name_enc FROM customers")).one()
        assert "ada@example.com" not in raw[0] and "Ada" not in raw[1]
        profile = store.customer("c1")
        assert profile is not None
        assert (profile["email"], profile["name"]) == ("ada@example.com", "Ada L")
        assert store.contacts(["c1", "c2"]) == {"c1": "ada@example.com"}

    def test_personal_fields_without_key_are_refused(self, store: Any) -> None:
        keyless = type(store)(store.engine, None)
        with pytest.raises(ConfigError, match="encryption key"), keyless.writer() as writer:
            writer.upsert_customers(pl.DataFrame({"customer_id": ["c1"], "email": ["a@b.co"]}))
        assert store.customer("c1") is None

    def test_newer_consent_wins_older_does_not(self, store: Any) -> None:
        def decide(granted: bool, at: int) -> pl.DataFrame:
            return pl.DataFrame(
                {
                    "customer_id": ["c1"],
                    "purpose": ["marketing"],
                    "granted": [granted],
                    "at": [at],
                    "source": ["test"],
                }
            )

        with store.writer() as writer:
            writer.set_consents(decide(True, T0))
            writer.set_consents(decide(False, T0 + 10))
            writer.set_consents(decide(True, T0 + 5))
        row = store.consents().row(0, named=True)
        assert (row["granted"], row["at"]) == (False, T0 + 10)

    def test_erasure_removes_everything_and_is_audited(self, store: Any) -> None:
        with store.writer() as writer:
            writer.add_events(tiny_events())
            writer.upsert_customers(pl.DataFrame({"customer_id": ["c3"], "email": ["c3@x.org"]}))
            writer.set_consents(
                pl.DataFrame(
                    {
                        "customer_id": ["c3"],
                        "purpose": ["marketing"],
                        "granted": [True],
                        "at": [T0],
                        "source": ["t"],
                    }
                )
            )
        erasure = store.erase_customer("c3")
        assert erasure.removed["events"] == 4  # e05, e06, e10 and the stitched guest view e09
        assert erasure.removed["anonymous_ids"] == 1
        assert erasure.removed["consents"] == 1
        assert erasure.removed["profile"] == 1
        assert store.customer_history("c3").height == 0
        assert store.session_history("anon-1").height == 0
        assert store.customer("c3") is None
        with pytest.raises(NotFound):
            store.erase_customer("c3")
        with store.engine.connect() as conn:
            entries = conn.execute(sa.text("SELECT action, subject FROM audit_log")).all()
        assert ("erase_customer", None) in [tuple(e) for e in entries]

    def test_every_write_transaction_raises_the_change_sequence(self, store: Any) -> None:
        first = store.change_seq()
        with store.writer() as writer:
            writer.add_events(tiny_events())
        second = store.change_seq()
        assert second == first + 1
        with pytest.raises(StoreError), store.writer() as writer:  # rolled back: no change
            writer.add_events(tiny_events())
            writer._conn.execute(sa.text("INSERT INTO consents (customer_id) VALUES (NULL)"))
        assert store.change_seq() == second
        store.erase_customer("c3")
        assert store.change_seq() == second + 1

    def test_order_lines_group_purchases_and_returns_per_order(self, store: Any) -> None:
        assert store.order_lines()[1] is None
        with store.writer() as writer:
            writer.add_events(tiny_events())
        lines, last = store.order_lines()
        events = store.events()
        assert last == events["ts"].max()
        known = events.filter(
            pl.col("event_type").is_in(["purchase", "return"]) & pl.col("customer_id").is_not_null()
        )
        assert lines.columns == ["customer_id", "order_id", "ts", "value"]
        assert lines.height == known.select("customer_id", "order_id").unique().height
        assert set(lines["customer_id"]) == set(known["customer_id"])

    def test_audit_entries_read_back_newest_first(self, store: Any) -> None:
        with store.writer() as writer:
            writer.audit("cli", "first", None, {"rows": 1})
        with store.writer() as writer:
            writer.audit("api:k1", "second", None, {"rows": 2})
        entries = store.audit_entries(limit=2)
        assert [(e["actor"], e["action"], e["details"]) for e in entries] == [
            ("api:k1", "second", {"rows": 2}),
            ("cli", "first", {"rows": 1}),
        ]

    def test_export_holds_everything(self, store: Any) -> None:
        with store.writer() as writer:
            writer.add_events(tiny_events())
            writer.upsert_customers(pl.DataFrame({"customer_id": ["c3"], "name": ["Cy"]}))
        data = store.export_customer("c3")
        assert data["customer"]["name"] == "Cy"
        assert {e["event_id"] for e in data["events"]} == {"e05", "e06", "e09", "e10"}
        assert data["anonymous_ids"][0]["anonymous_id"] == "anon-1"
        with pytest.raises(NotFound):
            store.export_customer("nobody")

    def test_stats(self, store: Any) -> None:
        with store.writer() as writer:
            writer.add_events(tiny_events())
            writer.upsert_items(tiny_items())
        stats = store.stats()
        assert stats["events"]["purchase"] == 7
        assert stats["orders"] == 5
        assert stats["items"] == 5
        assert stats["top_items"][0]["item_id"] == "i1"
        assert stats["identities_linked"] == 1

    def test_schema_matches_the_tables(self, store: Any) -> None:
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []

    def test_foreign_keys_are_enforced(self, store: Any) -> None:
        with pytest.raises(StoreError), store.writer() as writer:
            writer._conn.execute(  # a consent for nobody must be refused by the database
                sa.text(
                    "INSERT INTO consents (customer_id, purpose, granted, at) "
                    "VALUES ('ghost', 'marketing', true, 1)"
                )
            )
