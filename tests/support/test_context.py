from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

from storewise.errors import InputError, SchemaError
from storewise.schema import Customer
from storewise.support import CustomerCard, build_card
from storewise.support.context import Fulfilment

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


# -- order states ------------------------------------------------------------------------


def _events(rows: list[tuple[str, str, float, str | None, str]]) -> pl.DataFrame:
    """(event_type, item_id, quantity, order_id, ISO time) rows at 2.0 each."""
    return pl.DataFrame(
        {
            "event_type": [r[0] for r in rows],
            "item_id": [r[1] for r in rows],
            "title": [f"Item {r[1]}" for r in rows],
            "quantity": [r[2] for r in rows],
            "price": [2.0] * len(rows),
            "order_id": [r[3] for r in rows],
            "ts": [datetime.fromisoformat(r[4]).replace(tzinfo=UTC) for r in rows],
        }
    )


@pytest.mark.parametrize(
    ("as_of", "status", "since"),
    [
        # Thursday 1 Dec 2011: dispatched the next working day, delivered 3 working days later
        ("2011-12-01T18:00:00", "placed", date(2011, 12, 1)),
        ("2011-12-02T10:00:00", "shipped", date(2011, 12, 2)),
        ("2011-12-06T23:00:00", "shipped", date(2011, 12, 2)),
        ("2011-12-07T08:00:00", "delivered", date(2011, 12, 7)),
    ],
)
def test_status_follows_the_order_age_in_working_days(as_of: str, status: str, since: date) -> None:
    events = _events([("purchase", "A", 1, "O1", "2011-12-01T09:00:00")])
    order = build_card("C1", events, as_of=as_of).orders[0]
    assert (order.status, order.status_date) == (status, since)
    assert (order.shipped_date, order.expected_delivery) == (date(2011, 12, 2), date(2011, 12, 7))


def test_slower_fulfilment_moves_the_dates() -> None:
    events = _events([("purchase", "A", 1, "O1", "2011-12-01T09:00:00")])
    rules = Fulfilment(dispatch_days=2, delivery_days=5)
    order = build_card("C1", events, as_of="2011-12-05", fulfilment=rules).orders[0]
    assert (order.status, order.shipped_date) == ("shipped", date(2011, 12, 5))
    assert order.expected_delivery == date(2011, 12, 12)


def test_online_retail_cancellation_invoice_cancels_the_latest_earlier_order() -> None:
    # as the online-retail preset stores it: a return event with the 'C' invoice as order id
    events = _events(
        [
            ("purchase", "A", 6, "536001", "2011-05-02T10:00:00"),
            ("purchase", "A", 2, "536002", "2011-05-09T10:00:00"),
            ("purchase", "B", 1, "536002", "2011-05-09T10:00:00"),
            ("return", "A", 5, "C536100", "2011-05-20T10:00:00"),
        ]
    )
    card = build_card("C1", events, as_of="2011-12-10")
    latest, first = card.orders
    assert latest.order_id == "536002" and latest.status == "partly_cancelled"
    assert latest.status_date == date(2011, 5, 20)
    line = next(line for line in latest.items if line.item_id == "A")
    assert (line.cancelled_quantity, line.open_quantity, line.open_amount) == (2, 0, 0)
    # the 3 left to cancel come off the earlier order holding the item
    assert first.status == "partly_cancelled" and first.items[0].cancelled_quantity == 3
    reversal = card.returns[0]
    assert (reversal.kind, reversal.order_id, reversal.for_order) == (
        "cancellation",
        "C536100",
        "536002",
    )


def test_whole_order_cancelled_returned_or_cancelled_before_dispatch() -> None:
    events = _events(
        [
            ("purchase", "A", 2, "O1", "2011-05-02T10:00:00"),
            ("return", "A", 2, "C9", "2011-05-03T10:00:00"),
            ("purchase", "B", 1, "O2", "2011-06-01T10:00:00"),
            ("return", "B", 1, "O2", "2011-06-20T10:00:00"),
            ("purchase", "C", 1, "O3", "2011-07-01T10:00:00"),
            ("return", "C", 1, "O3", "2011-07-01T15:00:00"),
            ("purchase", "D", 3, "O4", "2011-08-01T10:00:00"),
            ("purchase", "D", -1, "O4", "2011-08-10T10:00:00"),
        ]
    )
    states = {o.order_id: (o.status, o.status_date) for o in build_card("C1", events).orders}
    assert states == {
        "O1": ("cancelled", date(2011, 5, 3)),  # a cancellation document
        "O2": ("returned", date(2011, 6, 20)),  # sent back after delivery
        "O3": ("cancelled", date(2011, 7, 1)),  # reversed before it left the warehouse
        "O4": ("partly_cancelled", date(2011, 8, 10)),  # a negative quantity
    }


def test_a_reversal_without_a_matching_order_stays_on_the_card_only() -> None:
    events = _events(
        [("purchase", "A", 1, "O1", "2011-05-02T10:00:00"), ("return", "Z", 1, None, "2011-05-09")]
    )
    card = build_card("C1", events)
    assert card.orders[0].status == "delivered"
    assert card.returns[0].for_order is None and card.returns[0].kind == "return"


def test_long_histories_keep_every_order_for_matching() -> None:
    rows = [("purchase", f"I{i}", 1, f"O{i}", f"2011-01-{i + 1:02d}T10:00:00") for i in range(12)]
    card = build_card("C1", _events(rows), max_orders=5)
    assert len(card.orders) == 5 and card.order_count == 12
    assert len(card.all_orders) == 12
    assert "order_history" not in card.model_dump()  # not sent to front-ends


def test_catalog_titles_give_the_product_words() -> None:
    catalog = {"X": {"title": "Regency cakestand 3 tier"}, "Y": {"title": "Tea pot"}}
    card = build_card("C1", customer_events(), catalog=catalog)
    assert {"cakestand", "teapot", "lantern", "canister"} <= card.product_words
    assert build_card("C1", customer_events()).product_words == frozenset()
