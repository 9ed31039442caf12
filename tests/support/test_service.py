"""The support assistant wired to the services and CLI: cards from the store, alternatives to
returned items, unknown customers and a missing knowledge base."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from storewise.app import Services, build
from storewise.cli.main import app
from storewise.errors import NotFitted
from storewise.privacy.consent import ConsentPolicy
from storewise.settings import Settings
from storewise.support.service import DEMO_KB, SupportService
from tests.support.conftest import TINY_KB_MD

runner = CliRunner()


@pytest.fixture
def services(trained_home: Path, tmp_path: Path) -> Services:
    services = build(Settings(home=trained_home))
    kb = tmp_path / "faq.md"
    kb.write_text(TINY_KB_MD)
    services.support.load_kb([kb])
    return services


def a_buyer(services: Services) -> tuple[str, str]:
    buys = services.store.events().filter(pl.col("event_type") == "purchase")
    row = buys.sort("ts").row(-1, named=True)
    return str(row["customer_id"]), str(row["item_id"])


def test_no_knowledge_base_says_how_to_load_one(trained_home: Path) -> None:
    services = build(Settings(home=trained_home))
    with pytest.raises(NotFitted, match="load-kb"):
        services.support.suggest(None, "where is my order?")


def test_answer_uses_the_customers_own_order(services: Services) -> None:
    customer, _item = a_buyer(services)
    result = services.support.suggest(customer, "where is my order?")
    assert result["intent"] == "track_order"
    text = result["answers"][0]["text"]
    assert "{{" not in text
    orders = result["card"]["orders"]
    assert orders and orders[0]["order_id"] in text


def test_returned_item_gets_in_stock_alternatives(services: Services) -> None:
    customer, item = a_buyer(services)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    services.ingest.records(
        "events",
        [
            {
                "customer_id": customer,
                "item_id": item,
                "event_type": "return",
                "timestamp": now,
                "price": 2.0,
            }
        ],
    )
    card = services.support.card(customer)
    assert card.recommendations
    assert all("alternative" in (r.reason or "") for r in card.recommendations)
    assert item not in {r.item_id for r in card.recommendations}


def test_unknown_customer_gets_a_generic_answer(services: Services) -> None:
    result = services.support.suggest("nobody-here", "where is my order?")
    assert result["intent"] == "track_order"
    assert result["card"]["orders"] == []
    assert "{{" not in result["answers"][0]["text"]


def test_cli_load_ask_and_classify(trained_home: Path, tmp_path: Path) -> None:
    kb = tmp_path / "faq.md"
    kb.write_text(TINY_KB_MD)
    home = ["--home", str(trained_home)]
    result = runner.invoke(app, [*home, "support", "load-kb", str(kb)])
    assert result.exit_code == 0 and "intents" in result.output
    result = runner.invoke(app, [*home, "support", "ask", "I want to cancel my order", "--json"])
    assert result.exit_code == 0 and '"cancel_order"' in result.output
    messages = tmp_path / "messages.txt"
    messages.write_text("where is my parcel\nrefund please\n")
    out = tmp_path / "out.csv"
    result = runner.invoke(
        app, [*home, "support", "classify", "--messages", str(messages), "--out", str(out)]
    )
    assert result.exit_code == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "message,intent,confidence" and len(lines) == 3
    result = runner.invoke(app, ["--home", str(tmp_path / "empty"), "support", "ask", "hi"])
    assert result.exit_code == 4 and "load-kb" in result.output


class _Facts:
    """An in-memory store: one customer with three orders, a small catalog."""

    def __init__(self) -> None:
        self.reads: list[int | None] = []
        self.events = pl.DataFrame(
            {
                "customer_id": ["C1"] * 3,
                "event_type": ["purchase"] * 3,
                "item_id": ["T1", "K1", "L1"],
                "quantity": [1.0, 2.0, 1.0],
                "price": [40.0, 5.0, 12.0],
                "order_id": ["O1", "O2", "O3"],
                "ts": [1_293_876_000_000, 1_306_000_000_000, 1_323_000_000_000],
            }
        )

    def customer(self, customer_id: str) -> dict[str, object] | None:
        return {"customer_id": customer_id, "name": "Ana"} if customer_id == "C1" else None

    def customer_history(self, customer_id: str, *, limit: int | None = None) -> pl.DataFrame:
        self.reads.append(limit)
        rows = self.events.filter(pl.col("customer_id") == customer_id)
        return rows.tail(limit) if limit else rows

    seq = 0
    catalog_reads = 0

    def change_seq(self) -> int:
        return self.seq

    def items(self) -> pl.DataFrame:
        self.catalog_reads += 1
        return pl.DataFrame(
            {
                "item_id": ["T1", "K1", "L1", "S1"],
                "title": ["REGENCY TEAPOT ROSES", "KEY RING", "WHITE METAL LANTERN", "CAKE STAND"],
                "price": [40.0, 5.0, 12.0, 9.0],
                "in_stock": [True] * 4,
                "category": [None] * 4,
            }
        )

    def consent_of(self, customer_id: str) -> dict[str, bool]:
        return {}


class _NoValue:
    def customer_value(self, customer_id: str) -> dict[str, object] | None:
        return None


class _NoPicks:
    def recommend(self, customer_id: str, n: int = 10) -> object:
        raise NotFitted("no model")

    def similar(self, item_id: str, n: int = 10) -> object:
        raise NotFitted("no model")


def test_an_old_order_beyond_the_card_is_found_in_the_full_history(tmp_path: Path) -> None:
    facts = _Facts()
    service = SupportService(
        facts,  # type: ignore[arg-type]
        _NoPicks(),  # type: ignore[arg-type]
        _NoValue(),  # type: ignore[arg-type]
        folder=tmp_path / "support",
        policy=ConsentPolicy(),
        clock=lambda: datetime(2011, 12, 10, tzinfo=UTC),
        max_card_events=1,
    )
    service.load_kb([DEMO_KB])
    card = service.card("C1")
    assert [o.order_id for o in card.orders] == ["O3"] and not card.complete_history
    latest = service.suggest("C1", "where is my order?")
    assert latest["matched_order"]["order_id"] == "O3" and facts.reads == [1, 1]
    old = service.suggest("C1", "where is the teapot from order O1?")
    assert facts.reads[-1] is None  # read again, whole history
    assert old["matched_order"]["order_id"] == "O1"
    assert [i["item_id"] for i in old["matched_items"]] == ["T1"]
    assert old["matched_order"]["status"] == "delivered"
    none = service.suggest("C1", "I ordered the cake stand, where is it?")
    assert none["matched_order"] is None
    assert none["match"] == "no order or item of yours matches 'cake stand'"


def test_the_catalog_is_read_again_only_after_a_write(tmp_path: Path) -> None:
    """Cards are built per message: the catalog is read once, then after a store change."""
    facts = _Facts()
    service = SupportService(
        facts,  # type: ignore[arg-type]
        _NoPicks(),  # type: ignore[arg-type]
        _NoValue(),  # type: ignore[arg-type]
        folder=tmp_path / "support",
        policy=ConsentPolicy(),
    )
    for _ in range(3):
        assert service.card("C1").known
    assert facts.catalog_reads == 1
    facts.seq += 1  # something was written
    service.card("C1")
    assert facts.catalog_reads == 2
