"""Fixtures of the dashboard tests: the shop, an app with the dashboard, signed-in clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from storewise.web import create_dashboard
from tests.web.shop import SECRET, Shop, csrf_of, shop

__all__ = ["shop"]


@pytest.fixture(scope="session")
def dashboard_app(shop: Shop) -> FastAPI:
    """A bare FastAPI app with only the dashboard included."""
    app = FastAPI()
    app.include_router(create_dashboard(lambda: shop.services, secret=SECRET))
    return app


@pytest.fixture
def client(dashboard_app: FastAPI) -> Iterator[TestClient]:
    """A client without a session (follows no redirects)."""
    with TestClient(dashboard_app, follow_redirects=False) as test_client:
        yield test_client


def sign_in(client: TestClient, key: str) -> TestClient:
    """Sign ``client`` in with ``key`` through the form, as a browser would."""
    form = client.get("/sign-in")
    response = client.post(
        "/sign-in", data={"api_key": key, "csrf_token": csrf_of(form.text), "next": ""}
    )
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def admin(client: TestClient, shop: Shop) -> TestClient:
    """A client signed in with the admin key."""
    return sign_in(client, shop.admin_key)
