"""Bad input through the API: absurd magnitudes and control characters are rejected by
position with a reason, on the row-by-row path (small batches) and the vectorised one."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.shop import Shop

QUANTITY = "quantity beyond the ceiling (setting ingest_max_quantity)"
PRICE = "price beyond the ceiling (setting ingest_max_price)"
VALUE = "value beyond the ceiling (ingest_max_quantity x ingest_max_price)"
CONTROL = "control character (e.g. NUL, tab, line break) in an id"


def _absurd(prefix: str) -> list[dict[str, Any]]:
    base = {"event_type": "purchase", "customer_id": f"{prefix}-c", "item_id": "I00005"}
    return [
        {**base, "event_id": f"{prefix}-1", "quantity": 1e20, "price": 2.0},
        {**base, "event_id": f"{prefix}-2", "quantity": 1, "price": 1e308},
        {**base, "event_id": f"{prefix}-3", "quantity": 1, "value": 1e300},
        {**base, "event_id": f"{prefix}-4", "quantity": -1e9, "price": 2.0},
        {**base, "event_id": f"{prefix}-5", "customer_id": "c\x1b[2J", "quantity": 1},
        {**base, "event_id": f"{prefix}-6", "quantity": 2, "price": 2.5},
    ]


EXPECTED = {0: QUANTITY, 1: PRICE, 2: VALUE, 3: QUANTITY, 4: CONTROL}


def test_absurd_magnitudes_and_control_ids_are_rejected(client: TestClient, shop: Shop) -> None:
    report = client.post("/v1/events", json=_absurd("abs"), headers=shop.headers("ingest")).json()
    assert report["stored"] == 1
    assert {r["index"]: r["reason"] for r in report["rejected"]} == EXPECTED
    export = client.get("/v1/customers/abs-c/export", headers=shop.headers("admin")).json()
    assert [e["value"] for e in export["events"]] == [5.0]


def test_large_batches_take_the_same_rules(client: TestClient, shop: Shop) -> None:
    filler = [
        {"event_type": "view", "customer_id": "big-c", "item_id": "I00006", "event_id": f"big-f{i}"}
        for i in range(60)
    ]
    report = client.post(
        "/v1/events", json=[*_absurd("big"), *filler], headers=shop.headers("ingest")
    ).json()
    assert report["stored"] == 61
    assert {r["index"]: r["reason"] for r in report["rejected"]} == EXPECTED


def test_item_price_beyond_the_ceiling(client: TestClient, shop: Shop) -> None:
    report = client.put(
        "/v1/items",
        json=[{"item_id": "HUGE-1", "price": 1e308}, {"item_id": "BELL\x07", "price": 1.0}],
        headers=shop.headers("ingest"),
    ).json()
    assert report["stored"] == 0
    assert [r["reason"] for r in report["rejected"]] == [PRICE, CONTROL]
