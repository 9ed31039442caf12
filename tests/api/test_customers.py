"""Profile, export and erasure (store, caches and the served model bundle)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from storewise import artifacts
from storewise.app import build, split_key
from storewise.recommend.training import train
from storewise.store import open_store
from tests.api.shop import Shop


def test_profile_summarises_history(fresh_client: TestClient, shop: Shop) -> None:
    """Profile of a buyer: orders and items bought; unknown customer: 404."""
    customer = shop.customers[0]
    response = fresh_client.get(f"/v1/customers/{customer}/profile", headers=shop.headers("read"))
    assert response.status_code == 200
    profile = response.json()
    assert profile["customer_id"] == customer and profile["orders"] >= 1
    missing = fresh_client.get("/v1/customers/nobody/profile", headers=shop.headers("read"))
    assert missing.status_code == 404


def test_export_then_erase_everywhere(fresh_client: TestClient, fresh_shop: Shop) -> None:
    """Export holds the events; erasure removes them, republishes the bundle without the
    customer, and afterwards the customer is unknown (cold start, 404 on export)."""
    customer, admin = fresh_shop.customers[3], fresh_shop.headers("admin")
    settings = fresh_shop.settings()
    # a model that keeps per-customer rows (the repurchase model's habit vectors)
    train(open_store(settings), settings.bundles_dir, model="repurchase")
    export = fresh_client.get(f"/v1/customers/{customer}/export", headers=admin).json()
    assert export["events"] and export["customer"]["customer_id"] == customer
    key_id = split_key(fresh_shop.keys["admin"])[0]  # type: ignore[index]
    with build(settings) as services:
        entry = services.audit.entries(1)[0]
    assert (entry["actor"], entry["action"]) == (f"api:{key_id}", "customer_export")
    assert entry["subject"] is None and entry["details"]["rows"] == 1 + len(export["events"])
    before = artifacts.current_version(fresh_shop.home / "models")
    erased = fresh_client.delete(f"/v1/customers/{customer}", headers=admin)
    assert erased.status_code == 200
    removed = erased.json()["removed"]
    assert removed["events"] == len(export["events"]) and removed["profile"] == 1
    assert removed["model_rows"] >= 1
    assert fresh_client.get(f"/v1/customers/{customer}/export", headers=admin).status_code == 404
    assert fresh_client.delete(f"/v1/customers/{customer}", headers=admin).status_code == 404
    answer = fresh_client.get(f"/v1/customers/{customer}/recommendations", headers=admin).json()
    assert answer["policy"].startswith("cold-start")
    assert artifacts.current_version(fresh_shop.home / "models") != before
    assert answer["model_version"] != before
