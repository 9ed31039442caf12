"""Which order and lines a message names: numbers, product words, dates, and honest misses."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

from storewise.support import CustomerCard, build_card, resolve_order
from storewise.support.orders import product_phrases, status_text

CATALOG = {
    f"K{i}": {"title": title}
    for i, title in enumerate(
        [
            "REGENCY CAKESTAND 3 TIER",
            "RED RETROSPOT CAKE STAND",
            "REGENCY TEAPOT ROSES",
            "JAZZ HEARTS ADDRESS BOOK",
            "JAM MAKING SET WITH JARS",
            "PACK OF 72 RETROSPOT CAKE CASES",
        ]
    )
}


def _card(rows: list[tuple[str, str, str, float, str]], **kwargs: object) -> CustomerCard:
    """A card from (order id, item id, title, quantity, ISO day) purchases at 2.0 each."""
    events = pl.DataFrame(
        {
            "event_type": ["purchase"] * len(rows),
            "order_id": [r[0] for r in rows],
            "item_id": [r[1] for r in rows],
            "title": [r[2] for r in rows],
            "quantity": [r[3] for r in rows],
            "price": [2.0] * len(rows),
            "ts": [datetime.fromisoformat(r[4]).replace(tzinfo=UTC) for r in rows],
        }
    )
    return build_card(
        "C1", events, catalog=CATALOG, as_of=datetime(2011, 12, 10, tzinfo=UTC), **kwargs
    )


@pytest.fixture
def shopper() -> CustomerCard:
    """Hand warmers twice, a teapot, dog-and-ball things, cake cases; no cake stand."""
    return _card(
        [
            ("536366", "22633", "HAND WARMER UNION JACK", 6, "2010-12-01"),
            ("536366", "22632", "HAND WARMER RED POLKA DOT", 6, "2010-12-01"),
            ("544885", "21527", "RED RETROSPOT TRADITIONAL TEAPOT", 2, "2011-02-24"),
            ("544885", "22300", "COFFEE MUG DOG + BALL DESIGN", 6, "2011-02-24"),
            ("544885", "22717", "CARD DOG AND BALL", 12, "2011-02-24"),
            ("553871", "22371", "AIRLINE BAG VINTAGE TOKYO 78", 2, "2011-05-19"),
            ("553868", "22371", "AIRLINE BAG VINTAGE TOKYO 78", 48, "2011-05-18"),
            ("563616", "21212", "PACK OF 72 RETROSPOT CAKE CASES", 24, "2011-08-18"),
            ("581001", "22632", "HAND WARMER RED POLKA DOT", 12, "2011-12-01"),
        ]
    )


def _ids(match: object) -> tuple[str | None, list[str]]:
    order = getattr(match, "order", None)
    return (order.order_id if order else None, sorted(line.item_id for line in match.lines))  # type: ignore[attr-defined]


def test_product_phrases_drop_support_words_numbers_and_dates() -> None:
    assert product_phrases("return the broken teapot") == [["teapot"]]
    assert product_phrases("I ordered the cake stand... where is it?") == [["cake", "stand"]]
    assert product_phrases("12 hand warmers from order 536366 on 1 December") == [
        ["hand", "warmers"]
    ]
    assert product_phrases("I was charged twice on my credit card") == []
    assert product_phrases("in which cases can I get a refund?") == []
    assert product_phrases("the red one please") == []  # modifiers only


def test_an_order_number_of_the_customer_wins(shopper: CustomerCard) -> None:
    match = resolve_order("the union jack hand warmers from order 536366 broke", shopper)
    assert (match.how, *_ids(match)) == ("number", "536366", ["22633"])
    assert match.explanation.startswith("order 536366 named; its 6 × HAND WARMER UNION JACK")
    bare = resolve_order("any news on 563616?", shopper)
    assert (bare.how, bare.order.order_id if bare.order else None) == ("number", "563616")


def test_another_customers_order_number_is_never_shown(shopper: CustomerCard) -> None:
    match = resolve_order("where is order 536365?", shopper)
    assert (match.how, match.order, match.mentioned_number) == ("unknown_number", None, "536365")
    assert match.explanation == "no order 536365 among your orders"
    # a mistyped number with an item the customer has: the item decides, the number is noted
    typo = resolve_order("refund the teapot from order 544858", shopper)
    assert (typo.how, *_ids(typo)) == ("item", "544885", ["21527"])
    assert typo.explanation.startswith("no order 544858 among your orders; 'teapot' matches")


def test_items_named_pick_their_order_and_lines(shopper: CustomerCard) -> None:
    teapot = resolve_order("I want to return the broken teapot", shopper)
    assert (teapot.how, *_ids(teapot)) == ("item", "544885", ["21527"])
    # both hand warmer lines tie; the latest order holding them wins, the other is listed
    warmers = resolve_order("the hand warmers never came", shopper)
    assert _ids(warmers) == ("581001", ["22632"])
    assert warmers.other_orders == ["536366"]
    both = resolve_order("the hand warmers from December 2010", shopper)
    assert _ids(both) == ("536366", ["22632", "22633"])
    # "dog and ball mug" is one product: the mug, not the dog card
    assert _ids(resolve_order("where is the dog and ball mug?", shopper)) == ("544885", ["22300"])


def test_no_match_says_what_was_not_found(shopper: CustomerCard) -> None:
    match = resolve_order("I ordered the cake stand... where is it?", shopper)
    assert (match.how, match.order, match.lines) == ("no_match", None, [])
    assert match.explanation == "no order or item of yours matches 'cake stand'"
    # the head noun decides: cake cases are not a cake stand
    assert resolve_order("where is my cake stand", shopper).order is None
    assert _ids(resolve_order("the cake cases were crushed", shopper)) == ("563616", ["21212"])


def test_plurals_compounds_and_typos() -> None:
    card = _card(
        [
            ("1", "22423", "REGENCY CAKESTAND 3 TIER", 1, "2011-05-13"),
            ("2", "21530", "DAIRY MAID TOASTRACK", 2, "2011-06-01"),
            ("3", "22960", "TEA POT", 1, "2011-07-01"),
        ]
    )
    assert _ids(resolve_order("the regency cake stands are chipped", card)) == ("1", ["22423"])
    assert _ids(resolve_order("my regency cakestnd arrived broken", card)) == ("1", ["22423"])
    assert _ids(resolve_order("where are the toast racks", card)) == ("2", ["21530"])
    assert _ids(resolve_order("the teapot is cracked", card)) == ("3", ["22960"])


def test_dates_narrow_the_orders(shopper: CustomerCard) -> None:
    on_day = resolve_order("what about the airline bags I ordered on 18 May?", shopper)
    assert _ids(on_day) == ("553868", ["22371"])
    assert "placed on 18 May" in on_day.explanation
    only_date = resolve_order("where is my order from 19/05/2011", shopper)
    assert (only_date.how, only_date.order.order_id if only_date.order else None) == (
        "date",
        "553871",
    )
    nothing = resolve_order("where is the order I placed in March?", shopper)
    assert (nothing.how, nothing.order) == ("no_match", None)
    assert nothing.explanation == "no order of yours placed in March"
    # "may" the verb is not a month
    assert resolve_order("may I return the teapot", shopper).how == "item"


def test_the_latest_order_only_when_nothing_is_named(shopper: CustomerCard) -> None:
    recent = resolve_order("where's my stuff?", shopper)
    assert (recent.how, recent.order.order_id if recent.order else None) == ("recent", "581001")
    assert recent.explanation.startswith("the message names no order or item")
    latest = resolve_order("I was charged double for my last order", shopper)
    assert latest.how == "latest" and latest.explanation.startswith("the message asks about")
    assert resolve_order("hello", CustomerCard()).how == "none"


def test_without_a_catalog_any_word_outside_the_support_vocabulary_may_name_an_item() -> None:
    events = pl.DataFrame(
        {
            "event_type": ["purchase"],
            "item_id": ["L1"],
            "title": ["Camping lantern"],
            "order_id": ["A1"],
            "ts": [datetime(2024, 1, 2, tzinfo=UTC)],
        }
    )
    card = build_card("C1", events)
    assert card.product_words == frozenset()
    assert resolve_order("the lantern leaked", card).how == "item"
    assert resolve_order("the stove is missing", card).how == "no_match"


def test_status_text_tells_the_state_with_dates() -> None:
    events = pl.DataFrame(
        {
            "event_type": ["purchase", "purchase", "return"],
            "item_id": ["A", "B", "A"],
            "title": ["BREAD BIN", "CAKE TIN", "BREAD BIN"],
            "quantity": [1, 1, 1],
            "price": [16.95, 14.95, 16.95],
            "order_id": ["562902", "562902", "C563606"],
            "ts": [
                datetime(2011, 8, 10, tzinfo=UTC),
                datetime(2011, 8, 10, tzinfo=UTC),
                datetime(2011, 8, 18, tzinfo=UTC),
            ],
        }
    )
    card = build_card("C1", events, as_of="2011-12-10")
    order = card.orders[0]
    bread, cake = sorted(order.items, key=lambda line: line.title or "")
    assert order.status == "partly_cancelled" and order.status_date == date(2011, 8, 18)
    assert status_text(order, card.as_of, [bread]) == (
        "was partly cancelled on 18 August 2011: these items were cancelled"
    )
    assert status_text(order, card.as_of, [cake]) == (
        "left our warehouse on 11 August 2011 and should have arrived by 16 August 2011 "
        "(BREAD BIN of the order cancelled on 18 August 2011)"
    )
    assert status_text(order, card.as_of) == (
        "was partly cancelled on 18 August 2011 (BREAD BIN); the rest left our warehouse on "
        "11 August 2011 and should have arrived by 16 August 2011"
    )


def test_a_cancellation_document_number_leads_to_the_order_it_reverses() -> None:
    events = pl.DataFrame(
        {
            "event_type": ["purchase", "purchase", "return"],
            "item_id": ["A", "B", "A"],
            "title": ["BREAD BIN", "CAKE TIN", "BREAD BIN"],
            "quantity": [1, 1, 1],
            "price": [16.95, 14.95, 16.95],
            "order_id": ["562902", "562902", "C563606"],
            "ts": [
                datetime(2011, 8, 10, tzinfo=UTC),
                datetime(2011, 8, 10, tzinfo=UTC),
                datetime(2011, 8, 18, tzinfo=UTC),
            ],
        }
    )
    card = build_card("C1", events, as_of="2011-12-10")
    match = resolve_order("what is credit note C563606 for?", card)
    assert (match.how, *_ids(match)) == ("number", "562902", ["A"])
    assert match.explanation == "C563606 reverses BREAD BIN of order 562902"
