"""The dashboard inside the API app (``create_app``), as ``storewise serve`` runs it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from storewise.web import create_dashboard
from tests.web.conftest import sign_in
from tests.web.shop import SECRET, Shop


@pytest.fixture
def api_client(shop: Shop) -> Iterator[TestClient]:
    """The API app over the shop's services, with the dashboard at ``/``."""
    from storewise.api import create_app

    app: FastAPI = create_app(shop.settings, services=shop.services)
    if not any(getattr(r, "name", None) == "dashboard.overview" for r in app.routes):
        app.include_router(create_dashboard(lambda: shop.services, secret=SECRET))
    with TestClient(app, follow_redirects=False) as client:
        yield client


def test_dashboard_and_api_side_by_side(api_client: TestClient, shop: Shop) -> None:
    assert api_client.get("/").status_code == 303
    sign_in(api_client, shop.admin_key)
    overview = api_client.get("/")
    assert overview.status_code == 200 and 'id="kpi-customers"' in overview.text
    assert api_client.get(f"/customers/{shop.buyer}").status_code == 200
    missing = api_client.get(f"/customers/{shop.unknown_customer}")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
    # the session cookie is not an API credential: /v1 still wants a key
    assert api_client.get(f"/v1/customers/{shop.buyer}/recommendations").status_code == 401
    answer = api_client.get(
        f"/v1/customers/{shop.buyer}/recommendations",
        headers={"Authorization": f"Bearer {shop.admin_key}"},
    )
    assert answer.status_code == 200 and answer.json()["items"]
