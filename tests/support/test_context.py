from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from storewise.errors import InputError, SchemaError
from storewise.schema import Customer
from storewise.support import CustomerCard, build_card

from .conftest import customer_events


def test_orders_are_grouped_totalled_and_recent_first(card: CustomerCard) -> None:
    assert card.known
    assert [o.order_id for o in card.orders] == ["B200", "A100"]
    latest = card.orders[0]
    lantern = next(line for line in latest.items if line.item_id == "L1")
    assert lantern.quantity == 3  # two purchase rows of the same item are merged
    assert lantern.title == "Camping lantern"  # the title of the first row is kept
    assert latest.total == 3 * 24.5 + 3 * 5.0
    assert latest.date == datetime(2024, 6, 1, tzinfo=UTC)
    assert card.order_count == 2
    assert card.total_spent == 120.0 + latest.total


def test_returns_and_returned_items(card: CustomerCard) -> None:
    assert len(card.returns) == 1
    returned = card.returns[0]
    assert (returned.order_id, returned.item_id, returned.amount) == ("A100", "T1", 120.0)
    assert card.orders[1].returned_item_ids == ["T1"]
    assert card.orders[0].returned_item_ids == []


def test_profile_insights_and_consent(card: CustomerCard) -> None:
    assert card.profile is not None
    assert card.name == "Ana Lopez"
    assert card.profile.country == "ES"
    assert card.profile.since == datetime(2023, 1, 15, 10, tzinfo=UTC)
    assert (card.segment, card.clv, card.churn_risk) == ("promising", 300.0, 0.2)
    assert card.consent == {"personalization": True, "marketing": False, "analytics": None}


def test_profile_from_schema_customer() -> None:
    customer = Customer(customer_id="C9", name="Zoe", country="FR")
    card = build_card("C9", None, profile=customer)
    assert card.known and card.name == "Zoe" and card.orders == []


def test_unknown_customer_gets_a_generic_card() -> None:
    card = build_card("C404", pl.DataFrame())
    assert not card.known
    assert card.profile is not None and card.profile.customer_id == "C404"
    assert card.orders == [] and card.recommendations == []
    assert build_card(None) == CustomerCard.unknown()


def test_recommendations_skip_returned_out_of_stock_and_duplicates() -> None:
    card = build_card(
        "C1",
        customer_events(),
        catalog={"T2": {"title": "Trail tent 3p", "in_stock": True}, "X": {"in_stock": False}},
        recommendations=[
            {"item_id": "T2", "reason": "in-stock alternative to the returned Trail tent 2p"},
            {"item_id": "T1", "reason": "the returned item itself"},
            {"item_id": "X", "title": "Sold out", "reason": "out of stock"},
            {"item_id": "T2", "reason": "duplicate"},
        ],
    )
    assert [(r.item_id, r.title) for r in card.recommendations] == [("T2", "Trail tent 3p")]
    assert "alternative" in card.recommendations[0].reason


def test_no_recommendations_without_personalization_consent() -> None:
    card = build_card(
        "C1",
        customer_events(),
        consents={"personalization": False},
        recommendations=[{"item_id": "T2", "reason": "x"}],
    )
    assert card.recommendations == []
    assert card.consent["personalization"] is False


def test_titles_from_catalog_and_datetime_timestamps() -> None:
    events = pl.DataFrame(
        {
            "event_type": ["purchase"],
            "item_id": ["L1"],
            "ts": [datetime(2024, 1, 2, 3, 4)],
            "order_id": ["Z1"],
        }
    )
    card = build_card("C1", events, catalog={"L1": {"title": "Lantern"}})
    line = card.orders[0].items[0]
    assert (line.title, line.quantity, line.price, line.amount) == ("Lantern", 1.0, None, 0.0)
    assert card.orders[0].date == datetime(2024, 1, 2, 3, 4, tzinfo=UTC)


def test_purchases_without_order_id_form_one_basket_per_moment() -> None:
    events = pl.DataFrame(
        {
            "event_type": ["purchase", "purchase", "purchase"],
            "item_id": ["A", "B", "C"],
            "price": [1.0, 2.0, 3.0],
            "ts": [1_000, 1_000, 2_000],
        }
    )
    card = build_card("C1", events)
    assert [(o.order_id, len(o.items), o.total) for o in card.orders] == [
        (None, 1, 3.0),
        (None, 2, 3.0),
    ]


def test_bad_inputs_are_input_errors() -> None:
    with pytest.raises(SchemaError, match="ts"):
        build_card("C1", pl.DataFrame({"event_type": ["purchase"], "item_id": ["A"]}))
    with pytest.raises(InputError, match="consent purpose"):
        build_card("C1", customer_events(), consents={"telepathy": True})
    with pytest.raises(InputError, match="churn"):
        build_card("C1", customer_events(), insights={"churn_risk": 3})
    with pytest.raises(InputError, match="without a customer_id"):
        build_card(None, customer_events())
