"""API keys: the publishable ``collect`` scope and the origins it carries."""

from __future__ import annotations

import pytest

from storewise.errors import InputError
from storewise.store import SqlStore
from storewise.store.keys import KeyStore, grants, normalise_origin, parse_origins, parse_scopes


@pytest.fixture
def keys() -> KeyStore:
    return SqlStore.open("sqlite://").keys()


def test_a_collect_key_keeps_its_origins_normalised(keys: KeyStore) -> None:
    created = keys.create(
        ["collect"], name="web", origins=["HTTPS://Shop.Example:443/", "http://localhost:8000"]
    )
    assert created.info.origins == ("https://shop.example", "http://localhost:8000")
    info = keys.verify(created.key)
    assert info is not None and info.origins == created.info.origins
    assert keys.list_keys()[0].to_dict()["origins"] == list(created.info.origins)
    assert keys.collect_origins() == {"https://shop.example", "http://localhost:8000"}


def test_revoked_collect_keys_lend_no_origin(keys: KeyStore) -> None:
    created = keys.create(["collect"], origins=["https://shop.example"])
    keys.create(["read"])
    keys.revoke(created.info.key_id)
    assert keys.collect_origins() == frozenset()


def test_collect_is_never_combined_and_grants_nothing_else() -> None:
    with pytest.raises(InputError, match="cannot be combined"):
        parse_scopes("collect,read")
    assert not grants(("collect",), "read")
    assert not grants(("collect",), "ingest")
    assert not grants(("collect",), "admin")
    assert grants(("admin",), "collect")


def test_origins_belong_to_collect_keys_only(keys: KeyStore) -> None:
    with pytest.raises(InputError, match="needs the web origins"):
        keys.create(["collect"])
    with pytest.raises(InputError, match="only collect"):
        keys.create(["read"], origins=["https://shop.example"])


@pytest.mark.parametrize(
    "bad",
    ["*", "https://*.shop.example/x", "https://shop.example/path", "ftp://shop.example",
     "https://user:pw@shop.example", "shop.example", "https://shop.example?x=1", "null"],
)  # fmt: skip
def test_an_origin_is_scheme_host_and_port_only(bad: str) -> None:
    with pytest.raises(InputError):
        normalise_origin(bad)


def test_origins_without_repeats() -> None:
    assert parse_origins(["https://a.example", "https://A.example/", " "]) == ("https://a.example",)
    assert normalise_origin("http://[::1]:8000") == "http://[::1]:8000"
