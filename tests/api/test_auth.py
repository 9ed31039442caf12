"""Authentication and scopes: every /v1 route needs a key with the right scope."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from storewise.api import create_app
from storewise.errors import InputError
from storewise.store import open_store
from storewise.store.keys import grants, parse_scopes
from storewise.store.tables import api_keys
from tests.api.shop import Shop

# (method, path, scope needed, JSON body valid enough to pass validation)
ROUTES: list[tuple[str, str, str, Any]] = [
    ("POST", "/v1/events", "ingest", {"event_type": "view", "customer_id": "c", "item_id": "i"}),
    ("PUT", "/v1/items", "ingest", [{"item_id": "new-item"}]),
    ("PUT", "/v1/customers/c1", "ingest", {"country": "United Kingdom"}),
    ("PUT", "/v1/customers/c1/consents", "ingest", {"marketing": True}),
    ("POST", "/v1/identify", "ingest", {"anonymous_id": "a1", "customer_id": "c1"}),
    ("GET", "/v1/customers/c1/recommendations", "read", None),
    ("GET", "/v1/items/i1/similar", "read", None),
    ("POST", "/v1/recommendations/basket", "read", {"items": ["i1"], "n": 3}),
    ("GET", "/v1/trending", "read", None),
    ("GET", "/v1/sessions/a1/recommendations", "read", None),
    ("GET", "/v1/customers/c1/profile", "read", None),
    ("GET", "/v1/customers/c1/export", "admin", None),
    ("DELETE", "/v1/customers/c1", "admin", None),
    ("GET", "/v1/segments", "read", None),
    ("POST", "/v1/campaigns/audience", "read", {"segment": "Champions"}),
    ("POST", "/v1/offers/o1/responses", "ingest", {"customer_id": "c1", "converted": True}),
    ("POST", "/v1/support/suggest", "read", {"message": "where is my order?"}),
    ("POST", "/v1/collect", "collect", {"anonymous_id": "guest-0001", "events": []}),
    ("GET", "/v1/public/recommendations?placement=trending", "collect", None),
    (
        "POST",
        "/v1/feedback",
        "ingest",
        {"feedback": [{"recommendation_id": "r", "kind": "impression"}]},
    ),
    (
        "POST",
        "/v1/experiments",
        "admin",
        {
            "experiment_id": "x",
            "placement": "trending",
            "variants": [{"name": "control"}, {"name": "b"}],
        },
    ),
    ("GET", "/v1/experiments", "admin", None),
    ("GET", "/v1/experiments/e1", "admin", None),
    ("POST", "/v1/experiments/e1/stop", "admin", None),
    ("GET", "/v1/experiments/e1/results", "admin", None),
    ("GET", "/v1/analytics/recommendations", "admin", None),
    ("GET", "/v1/analytics/off-policy?model=popular", "admin", None),
]


def test_every_v1_route_is_listed_here(client: TestClient) -> None:
    """The table above covers every /v1 operation of the schema (a new route must be added)."""
    schema = client.get("/openapi.json").json()
    operations = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if path.startswith("/v1")
    }
    listed = {(m, p.replace("c1", "{customer_id}").split("?")[0]) for m, p, _, _ in ROUTES}
    listed = {
        (
            m,
            p.replace("/i1/", "/{item_id}/")
            .replace("/a1/", "/{anonymous_id}/")
            .replace("/o1/", "/{offer_id}/")
            .replace("/e1", "/{experiment_id}")
            .replace("/{experiment_id}/stop", "/{experiment_id}/{action}"),
        )
        for m, p in listed
    }
    assert operations == listed


@pytest.mark.parametrize(("method", "path", "scope", "body"), ROUTES)
def test_without_a_key_is_401(
    client: TestClient, method: str, path: str, scope: str, body: Any
) -> None:
    """No key: 401 in the one error shape, with a WWW-Authenticate challenge."""
    response = client.request(method, path, json=body)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "scope", "body"), ROUTES)
def test_wrong_scope_is_403(
    client: TestClient, shop: Shop, method: str, path: str, scope: str, body: Any
) -> None:
    """A valid key without the needed scope: 403 naming the scope."""
    wrong = {"ingest": "read", "read": "ingest", "admin": "shop", "collect": "shop"}[scope]
    response = client.request(method, path, json=body, headers=shop.headers(wrong))
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert error["code"] == "forbidden"
    assert error["details"]["required_scope"] == scope


@pytest.mark.parametrize(("method", "path", "scope", "body"), ROUTES[:11])
def test_right_scope_passes(
    client: TestClient, shop: Shop, method: str, path: str, scope: str, body: Any
) -> None:
    """With the right scope the request reaches the route (no 401/403)."""
    key = "shop" if scope in ("read", "ingest") else "admin"
    response = client.request(method, path, json=body, headers=shop.headers(key))
    assert response.status_code not in (401, 403), response.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer sw_000000000000_notarealsecretatallreally"},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-Key": "sw_123"},
    ],
)
def test_bad_keys_are_401(client: TestClient, headers: dict[str, str]) -> None:
    """Unknown, malformed or wrong-scheme credentials are refused."""
    response = client.get("/v1/trending", headers=headers)
    assert response.status_code == 401


def test_x_api_key_header_and_tampered_secret(client: TestClient, shop: Shop) -> None:
    """X-API-Key works; the same key id with a changed secret does not."""
    key = shop.keys["read"]
    assert client.get("/v1/trending", headers={"X-API-Key": key}).status_code == 200
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert client.get("/v1/trending", headers={"X-API-Key": tampered}).status_code == 401


def test_open_routes_need_no_key(client: TestClient) -> None:
    """Health, readiness and docs are open."""
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").status_code == 200
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").status_code == 200


def test_revoked_key_stops_working(fresh_shop: Shop) -> None:
    """Revoking a key takes effect for a running server (cache of 0 s here)."""
    settings = fresh_shop.settings(api_key_cache_seconds=0.0)
    store = open_store(settings)
    try:
        created = store.keys().create(["read"], name="temp")
        with TestClient(create_app(settings)) as api:
            headers = {"Authorization": f"Bearer {created.key}"}
            assert api.get("/v1/trending", headers=headers).status_code == 200
            store.keys().revoke(created.info.key_id)
            assert api.get("/v1/trending", headers=headers).status_code == 401
    finally:
        store.close()


def test_keys_are_stored_hashed(shop: Shop) -> None:
    """The table never holds a key or its secret, only a hash."""
    store = open_store(shop.settings())
    try:
        with store.engine.connect() as conn:
            stored = [row[0] for row in conn.execute(sa.select(api_keys.c.key_hash))]
    finally:
        store.close()
    assert len(stored) == len(shop.keys)
    for key in shop.keys.values():
        secret = key.split("_", 2)[2]
        assert all(secret not in value and key not in value for value in stored)
        assert all(value.startswith("sha256$") for value in stored)


def test_scope_rules() -> None:
    """admin implies the others; unknown scopes are refused."""
    assert grants(["admin"], "ingest") and grants(["admin"], "read")
    assert not grants(["read"], "ingest")
    assert parse_scopes("read, ingest,read") == ("read", "ingest")
    with pytest.raises(InputError):
        parse_scopes("read,write")
    with pytest.raises(InputError):
        parse_scopes("")


def test_metrics_open_on_loopback_only(module_shop: Shop) -> None:
    """/metrics: loopback clients need no key; others need an admin key."""
    app = create_app(module_shop.settings())
    with TestClient(app, client=("127.0.0.1", 5000)) as local:
        assert local.get("/metrics").status_code == 200
    with TestClient(app, client=("203.0.113.7", 5000)) as remote:
        assert remote.get("/metrics").status_code == 401
        read = remote.get("/metrics", headers=module_shop.headers("read"))
        assert read.status_code == 403
        assert remote.get("/metrics", headers=module_shop.headers("admin")).status_code == 200


def test_insecure_local_answers_only_loopback(module_shop: Shop) -> None:
    """Without keys (insecure-local) loopback clients pass and others are refused."""
    app = create_app(module_shop.settings(api_insecure_local=True))
    with TestClient(app, client=("127.0.0.1", 5000)) as local:
        assert local.get("/v1/trending").status_code == 200
        assert local.get("/v1/customers/x/export").status_code == 404
    with TestClient(app, client=("198.51.100.1", 5000)) as remote:
        assert remote.get("/v1/trending").status_code == 403
        assert remote.get("/health").status_code == 403
