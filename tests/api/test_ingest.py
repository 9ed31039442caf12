"""Data in: events (counts, duplicates, rejections), items, profiles, consents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.api.shop import Shop


def test_single_event_and_batch_counts(client: TestClient, shop: Shop) -> None:
    """One event or a list; duplicates (same event_id) are ignored and counted."""
    headers = shop.headers("ingest")
    one = {"event_id": "ing-1", "event_type": "view", "customer_id": "ing-c", "item_id": "I00001"}
    first = client.post("/v1/events", json=one, headers=headers).json()
    assert (first["received"], first["stored"], first["duplicates"]) == (1, 1, 0)
    batch = [one, {**one, "event_id": "ing-2"}, {**one, "event_id": "ing-3", "quantity": 2}]
    second = client.post("/v1/events", json=batch, headers=headers).json()
    assert (second["received"], second["stored"], second["duplicates"]) == (3, 2, 1)
    assert second["rejected"] == []


def test_far_timestamps_are_rejected_with_a_reason(client: TestClient, shop: Shop) -> None:
    """Before 1990 or more than a day ahead: rejected by position, with the reason."""
    now = datetime.now(UTC)
    events = [
        {"event_type": "view", "customer_id": "ts-c", "item_id": "I00002", "timestamp": ts}
        for ts in (
            "1985-06-01T00:00:00Z",
            (now + timedelta(days=30)).isoformat(),
            now.isoformat(),
            "2999-01-01T00:00:00+02:00",
        )
    ]
    report = client.post("/v1/events", json=events, headers=shop.headers("ingest")).json()
    assert report["stored"] == 1
    assert [r["index"] for r in report["rejected"]] == [0, 1, 3]
    assert all("timestamp out of range" in r["reason"] for r in report["rejected"])


def test_invalid_records_are_reported_not_fatal(client: TestClient, shop: Shop) -> None:
    """Records the ingest rules refuse are listed; the good ones are stored."""
    events = [
        {"event_type": "view", "item_id": "I00003"},  # no customer and no anonymous id
        {"event_type": "teleport", "customer_id": "bad-c", "item_id": "I00003"},
        {"event_type": "purchase", "customer_id": "bad-c", "item_id": "I00003", "price": -1},
        {"event_type": "view", "customer_id": "bad-c", "item_id": "I00003"},
    ]
    report = client.post("/v1/events", json=events, headers=shop.headers("ingest")).json()
    assert report["stored"] == 1
    reasons = {r["index"]: r["reason"] for r in report["rejected"]}
    assert set(reasons) == {0, 1, 2}
    assert "missing customer_id" in reasons[0]
    assert "unknown event type" in reasons[1]


def test_event_without_timestamp_is_stamped_now(client: TestClient, shop: Shop) -> None:
    """No timestamp means when the server received it."""
    event = {"event_id": "now-1", "event_type": "view", "customer_id": "now-c", "item_id": "I00004"}
    assert client.post("/v1/events", json=event, headers=shop.headers("ingest")).status_code == 200
    export = client.get("/v1/customers/now-c/export", headers=shop.headers("admin")).json()
    stamp = datetime.fromisoformat(export["events"][0]["timestamp"])
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60


def test_items_upsert_changes_answers(client: TestClient, shop: Shop) -> None:
    """An item put out of stock leaves trending at once (the catalog is refreshed)."""
    read, ingest = shop.headers("read"), shop.headers("ingest")
    top = client.get("/v1/trending?n=5", headers=read).json()["items"][0]["item_id"]
    report = client.put(
        "/v1/items",
        json=[{"item_id": top, "in_stock": False}, {"item_id": "NEW-1", "title": "New thing"}],
        headers=ingest,
    ).json()
    assert report["stored"] == 2
    after = client.get("/v1/trending?n=20", headers=read).json()
    assert top not in [i["item_id"] for i in after["items"]]
    client.put("/v1/items", json=[{"item_id": top, "in_stock": True}], headers=ingest)
    again = client.get("/v1/trending?n=5", headers=read).json()
    assert again["items"][0]["item_id"] == top


def test_customer_profile_with_encrypted_fields(client: TestClient, shop: Shop) -> None:
    """A profile with e-mail and name is stored (encrypted) and exported in clear."""
    response = client.put(
        "/v1/customers/prof-1",
        json={"country": "France", "email": "Ada@Example.com", "name": "Ada"},
        headers=shop.headers("ingest"),
    )
    assert response.status_code == 200 and response.json()["stored"] == 1
    export = client.get("/v1/customers/prof-1/export", headers=shop.headers("admin")).json()
    assert export["customer"]["email"] == "ada@example.com"
    assert export["customer"]["country"] == "France"


def test_consents_are_recorded(client: TestClient, shop: Shop) -> None:
    """Consent decisions come back as the customer's current state."""
    answer = client.put(
        "/v1/customers/cons-1/consents",
        json={"marketing": False, "analytics": True},
        headers=shop.headers("ingest"),
    ).json()
    assert answer == {"customer_id": "cons-1", "consents": {"marketing": False, "analytics": True}}
