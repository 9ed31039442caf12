"""Fixtures: one trained shop per session, copied for tests that change it, and clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from storewise.api import create_app
from tests.api.shop import Shop, build_shop


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    """The shared trained shop: never change it (use ``fresh_shop``)."""
    return build_shop(tmp_path_factory.mktemp("shop") / "home")


@pytest.fixture
def fresh_shop(shop: Shop, tmp_path: Path) -> Shop:
    """A private copy of the trained shop for a test that writes to it."""
    return shop.copy(tmp_path / "home")


@pytest.fixture(scope="module")
def module_shop(shop: Shop, tmp_path_factory: pytest.TempPathFactory) -> Shop:
    """A copy shared by one test module (its tests may add data, never erase)."""
    return shop.copy(tmp_path_factory.mktemp("module") / "home")


@pytest.fixture(scope="module")
def client(module_shop: Shop) -> Iterator[TestClient]:
    """A client of the API over the module's shop, lifespan started."""
    with TestClient(create_app(module_shop.settings(api_key_cache_seconds=0.0))) as test_client:
        yield test_client


@pytest.fixture
def fresh_client(fresh_shop: Shop) -> Iterator[TestClient]:
    """A client over a private copy of the shop."""
    with TestClient(create_app(fresh_shop.settings(api_key_cache_seconds=0.0))) as test_client:
        yield test_client
