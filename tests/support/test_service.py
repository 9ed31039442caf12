"""The support assistant wired to the services and CLI: cards from the store, alternatives to
returned items, unknown customers and a missing knowledge base."""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from storewise.app import Services, build
from storewise.cli.main import app
from storewise.errors import NotFitted
from storewise.settings import Settings
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
