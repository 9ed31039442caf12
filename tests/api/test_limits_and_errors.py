"""Bad input and failures: limits (413/422), strict bodies, and one error shape everywhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from storewise.api import create_app
from storewise.engine import Engine
from storewise.services.ingest import Ingest
from tests.api.shop import Shop


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The answer has the status and exactly the one error shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code
    error: dict[str, Any] = body["error"]
    return error


def event(i: int = 0, **fields: Any) -> dict[str, Any]:
    """A valid view event."""
    return {
        "event_type": "view",
        "customer_id": "limits-c",
        "item_id": "x",
        "event_id": f"e{i}",
    } | (fields)


def test_body_over_the_limit_is_413(client: TestClient, shop: Shop) -> None:
    """A body over 2 MB is refused before it is read."""
    big = json.dumps([event(i, query="q" * 900) for i in range(2500)]).encode()
    assert len(big) > 2_000_000
    response = client.post(
        "/v1/events",
        content=big,
        headers={**shop.headers("ingest"), "Content-Type": "application/json"},
    )
    assert_error(response, 413, "payload_too_large")


def test_streamed_body_over_the_limit_is_413(client: TestClient, shop: Shop) -> None:
    """A chunked body with no Content-Length is cut off at the limit too."""

    def chunks() -> Iterator[bytes]:
        yield b"["
        for i in range(3000):
            yield json.dumps(event(i, query="q" * 900)).encode() + b","
        yield b"{}]"

    response = client.post(
        "/v1/events",
        content=chunks(),
        headers={**shop.headers("ingest"), "Content-Type": "application/json"},
    )
    assert_error(response, 413, "payload_too_large")


def test_batch_over_1000_is_422_and_1000_is_fine(client: TestClient, shop: Shop) -> None:
    """The batch limit is 1,000 events."""
    headers = shop.headers("ingest")
    too_many = client.post("/v1/events", json=[event(i) for i in range(1001)], headers=headers)
    error = assert_error(too_many, 422, "invalid_request")
    assert "1000" in error["message"]
    ok = client.post("/v1/events", json=[event(i) for i in range(1000)], headers=headers)
    assert ok.status_code == 200
    assert ok.json()["received"] == 1000
    items = client.put(
        "/v1/items", json=[{"item_id": f"i{i}"} for i in range(1001)], headers=headers
    )
    assert_error(items, 422)


@pytest.mark.parametrize("n", ["0", "101", "-1", "ten", "1e3"])
def test_n_out_of_range_is_422(client: TestClient, shop: Shop, n: str) -> None:
    """n is an integer from 1 to 100 on every list route."""
    headers = shop.headers("read")
    for path in (
        f"/v1/customers/{shop.customers[0]}/recommendations?n={n}",
        f"/v1/items/{shop.items[0]}/similar?n={n}",
        f"/v1/trending?n={n}",
        f"/v1/sessions/guest/recommendations?n={n}",
    ):
        assert_error(client.get(path, headers=headers), 422, "invalid_request")
    basket = client.post(
        "/v1/recommendations/basket", json={"items": [shop.items[0]], "n": n}, headers=headers
    )
    assert_error(basket, 422)


@pytest.mark.parametrize(
    "body",
    [
        {"event_type": "view", "customer_id": "c", "item_id": "i", "surprise": 1},
        [{"event_type": "view", "customer_id": "c", "item_id": "i", "extra": None}],
        {"event_type": "view", "customer_id": "c", "item_id": "i", "quantity": "lots"},
        {"event_type": "view", "customer_id": ["c"], "item_id": "i"},
        {"event_type": "view", "customer_id": "c", "item_id": "i", "timestamp": "yesterday"},
        {"customer_id": "c", "item_id": "i"},
        {"event_type": "view", "customer_id": "c\u0000", "item_id": "i"},
        "just a string",
        42,
    ],
)
def test_bad_event_bodies_are_422(client: TestClient, shop: Shop, body: Any) -> None:
    """Unknown fields are rejected (not ignored), wrong types and missing fields too."""
    response = client.post("/v1/events", json=body, headers=shop.headers("ingest"))
    assert_error(response, 422, "invalid_request")


def test_malformed_json_is_422(client: TestClient, shop: Shop) -> None:
    """Broken JSON gets the one error shape."""
    response = client.post(
        "/v1/events",
        content=b'{"event_type": "view",',
        headers={**shop.headers("ingest"), "Content-Type": "application/json"},
    )
    error = assert_error(response, 422, "invalid_request")
    assert error["details"][0]["type"] == "json_invalid"


def test_unknown_fields_rejected_on_every_body(client: TestClient, shop: Shop) -> None:
    """extra="forbid" on items, profiles, consents, basket and identify bodies."""
    headers = shop.headers("admin")
    cases = [
        ("PUT", "/v1/items", [{"item_id": "i", "colour": "red"}]),
        ("PUT", "/v1/customers/c9", {"country": "FR", "age": 40}),
        ("PUT", "/v1/customers/c9/consents", {"personalization": False, "cookies": True}),
        ("POST", "/v1/recommendations/basket", {"items": ["a"], "n": 3, "why": 1}),
        ("POST", "/v1/identify", {"anonymous_id": "a", "customer_id": "c", "at": 1}),
    ]
    for method, path, body in cases:
        error = assert_error(client.request(method, path, json=body, headers=headers), 422)
        assert error["details"][0]["type"] == "extra_forbidden"


def test_unknown_scenario_and_empty_consents_are_422(client: TestClient, shop: Shop) -> None:
    """Only for-you and buy-again; a consent body needs at least one purpose."""
    headers = shop.headers("admin")
    path = f"/v1/customers/{shop.customers[0]}/recommendations?scenario=surprise-me"
    assert_error(client.get(path, headers=headers), 422)
    assert_error(client.put("/v1/customers/c1/consents", json={}, headers=headers), 422)


def test_unknown_route_and_method_use_the_shape(client: TestClient, shop: Shop) -> None:
    """404 and 405 from the framework are reshaped too."""
    assert_error(client.get("/nowhere"), 404, "not_found")
    assert_error(client.get("/v1/nowhere", headers=shop.headers("read")), 404, "not_found")
    assert_error(client.post("/health"), 405, "method_not_allowed")
    assert_error(client.patch("/v1/trending", headers=shop.headers("read")), 405)


def test_unknown_item_on_similar_is_404(client: TestClient, shop: Shop) -> None:
    """/similar for an item the model does not know."""
    response = client.get("/v1/items/no-such-item/similar", headers=shop.headers("read"))
    assert "no-such-item" in assert_error(response, 404, "not_found")["message"]


def test_a_crash_is_a_bare_500(module_shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected exception: 500 in the shape, no internal text, no traceback."""

    def explode(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("SECRET internal detail /etc/passwd")

    monkeypatch.setattr(Engine, "trending", explode)
    app = create_app(module_shop.settings())
    with TestClient(app, raise_server_exceptions=False) as api:
        response = api.get("/v1/trending", headers=module_shop.headers("read"))
    error = assert_error(response, 500, "internal_error")
    assert "SECRET" not in response.text and "Traceback" not in response.text
    assert error["message"] == "internal server error"


def test_store_failure_is_503_without_internals(
    module_shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database failure says the store is unavailable, not what the driver said."""
    from storewise.errors import StoreError

    def fail(*_args: Any, **_kwargs: Any) -> Any:
        raise StoreError("the store failed: disk I/O error at /var/lib/db")

    monkeypatch.setattr(Ingest, "records", fail)
    with TestClient(create_app(module_shop.settings())) as api:
        response = api.post(
            "/v1/events",
            json={"event_type": "view", "customer_id": "c", "item_id": "i"},
            headers=module_shop.headers("ingest"),
        )
    assert_error(response, 503, "store_error")
    assert "/var/lib" not in response.text


def test_untrained_server_says_run_train(tmp_path: Path, shop: Shop) -> None:
    """Before any training: recommendations 503 naming `storewise train`, ready 503,
    ingest still works."""
    empty = shop.copy(tmp_path / "home")
    for path in (empty.home / "models").iterdir():
        if path.is_file():
            path.unlink()
    with TestClient(create_app(empty.settings())) as api:
        answer = api.get("/v1/trending", headers=empty.headers("read"))
        assert "storewise train" in assert_error(answer, 503, "not_fitted")["message"]
        ready = api.get("/ready")
        assert_error(ready, 503, "not_ready")
        assert ready.json()["error"]["details"]["store"] == "ok"
        stored = api.post(
            "/v1/events",
            json={"event_type": "view", "customer_id": "c", "item_id": "i"},
            headers=empty.headers("ingest"),
        )
        assert stored.status_code == 200 and stored.json()["stored"] == 1


def test_corrupt_only_bundle_is_503_fast(tmp_path: Path, shop: Shop) -> None:
    """A tampered bundle (and nothing else) is refused: 503, and ready says so."""
    bad = shop.copy(tmp_path / "home")
    models = bad.home / "models"
    version = (models / "CURRENT").read_text().strip()
    arrays = next((models / version).glob("*.npz"))
    arrays.write_bytes(arrays.read_bytes()[:-10] + b"0123456789")
    with TestClient(create_app(bad.settings())) as api:
        answer = api.get("/v1/trending", headers=bad.headers("read"))
        error = assert_error(answer, 503, "bad_artifact")
        assert str(tmp_path) not in answer.text
        assert "storewise train" in error["message"]
        assert_error(api.get("/ready"), 503, "not_ready")
