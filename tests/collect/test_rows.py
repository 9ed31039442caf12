"""A page's batch, read and sorted: every row lands in exactly one place, with a reason."""

from __future__ import annotations

import json

import pytest

from storewise.collect.rows import (
    EVENT_ID_PREFIX,
    MAX_AGE_MS,
    BatchTooLarge,
    read_batch,
    sort_rows,
)
from storewise.errors import InputError

NOW = 1_700_000_000_000


def batch(*rows: object, anonymous_id: str | None = "guest-0001", **extra: object) -> bytes:
    return json.dumps({"anonymous_id": anonymous_id, "events": list(rows), **extra}).encode()


def test_ga4_names_become_storewise_events_under_the_client_id() -> None:
    rows = [
        {"type": "view_item", "event_id": "ev-1", "item_id": "A"},
        {"type": "add_to_cart", "event_id": "ev-2", "item_id": "A", "quantity": 2, "price": 3.5},
        {"type": "remove_from_cart", "event_id": "ev-3", "item_id": "A"},
        {"type": "purchase", "event_id": "ev-4", "item_id": "A", "transaction_id": "T1"},
        {"type": "view_search_results", "event_id": "ev-5", "search_term": "mug"},
    ]
    out = sort_rows(read_batch(batch(*rows), max_batch=100), now_ms=NOW)
    assert [e["event_type"] for _, e in out.events] == [
        "view", "add_to_cart", "remove_from_cart", "purchase", "search",
    ]  # fmt: skip
    assert [e["event_id"] for _, e in out.events] == [
        f"{EVENT_ID_PREFIX}ev-{i}" for i in range(1, 6)
    ]
    assert all(e["anonymous_id"] == "guest-0001" for _, e in out.events)
    assert out.events[1][1]["quantity"] == 2 and out.events[1][1]["price"] == 3.5
    assert out.events[3][1]["order_id"] == "T1"
    assert out.events[4][1]["query"] == "mug"
    assert not out.rejected and not out.not_stored


def test_page_events_are_accepted_and_reported_not_stored() -> None:
    out = sort_rows(
        read_batch(batch({"type": "page_view"}, {"type": "begin_checkout"}), max_batch=10),
        now_ms=NOW,
    )
    assert [r["index"] for r in out.not_stored] == [0, 1]
    assert "not stored" in out.not_stored[0]["reason"]
    assert not out.events


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"type": "view_item", "event_id": "ev-1", "item_id": "A", "customer_id": "C1"},
         "cannot write events naming a customer_id"),
        ({"type": "view_item", "item_id": "A"}, "event_id is required"),
        ({"type": "view_item", "event_id": "a b", "item_id": "A"}, "event_id is required"),
        ({"type": "teleport", "event_id": "ev-1"}, "unknown event type 'teleport'"),
        ({"type": "refund", "event_id": "ev-1", "item_id": "A"}, "back office"),
        ({"event_id": "ev-1"}, "missing type"),
        ("view_item", "an event is a JSON object"),
        ({"type": "view_item", "event_id": "ev-1", "item_id": "A", "price": "x"},
         "price must be a number"),
        ({"type": "view_item", "event_id": "ev-1", "item_id": "A\x00"}, "control character"),
        ({"type": "search", "event_id": "ev-1"}, "needs its query"),
        ({"type": "identify"}, "identify needs the customer_id"),
        ({"type": "identify", "customer_id": "C", "consent": {"ads": True}},
         "unknown consent purposes"),
        ({"type": "consent", "consent": {}}, "consent needs decisions"),
        ({"type": "rec_click", "item_id": "A"}, "needs the recommendation_id"),
    ],
)  # fmt: skip
def test_malformed_rows_are_rejected_one_by_one(row: object, reason: str) -> None:
    good = {"type": "view_item", "event_id": "ok-1", "item_id": "A"}
    out = sort_rows(read_batch(batch(good, row), max_batch=10), now_ms=NOW)
    assert len(out.events) == 1
    assert len(out.rejected) == 1 and out.rejected[0]["index"] == 1
    assert reason in out.rejected[0]["reason"]


def test_rows_needing_a_visitor_are_refused_without_an_anonymous_id() -> None:
    rows = [
        {"type": "view_item", "event_id": "ev-1", "item_id": "A"},
        {"type": "rec_impression", "recommendation_id": "r1"},
    ]
    out = sort_rows(read_batch(batch(*rows, anonymous_id=None), max_batch=10), now_ms=NOW)
    assert [r["index"] for r in out.rejected] == [0]
    assert [i for i, _ in out.feedback] == [1]


def test_identify_and_consent_rows_carry_the_decisions() -> None:
    rows = [
        {"type": "identify", "customer_id": "C-1", "consent": {"analytics": True}},
        {"type": "consent", "consent": {"marketing": False}},
    ]
    out = sort_rows(read_batch(batch(*rows), max_batch=10), now_ms=NOW)
    assert out.identify == [(0, "C-1", {"analytics": True})]
    assert out.consent == [(1, {"marketing": False})]


def test_event_times_follow_the_server_clock_less_the_age_the_browser_gives() -> None:
    rows = [
        {"type": "view_item", "event_id": "ev-1", "item_id": "A", "ts": 5_000},
        {"type": "view_item", "event_id": "ev-2", "item_id": "A", "ts": 9_000},
        {"type": "view_item", "event_id": "ev-3", "item_id": "A", "ts": -(10**12)},
        {"type": "view_item", "event_id": "ev-4", "item_id": "A", "ts": 99_000},
    ]
    out = sort_rows(read_batch(batch(*rows, sent_at=10_000), max_batch=10), now_ms=NOW)
    times = [e["timestamp"] for _, e in out.events]
    assert times == [NOW - 5_000, NOW - 1_000, NOW - MAX_AGE_MS, NOW]
    without = sort_rows(read_batch(batch(*rows), max_batch=10), now_ms=NOW)
    assert {e["timestamp"] for _, e in without.events} == {NOW}


def test_oversize_batches_and_non_batches_are_refused_whole() -> None:
    with pytest.raises(BatchTooLarge, match="at most 3 events"):
        read_batch(batch(*[{}] * 4), max_batch=3)
    for body in (b"{", b"[]", b'{"events": 3}', b'{"events": [], "anonymous_id": "x"}'):
        with pytest.raises(InputError):
            read_batch(body, max_batch=3)
    assert read_batch(batch(key="sw_k"), max_batch=3).key == "sw_k"
