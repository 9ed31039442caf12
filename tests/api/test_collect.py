"""The browser routes over HTTP: publishable keys (in the body, the query or a header), what
they may not do, CORS per key, rate limits, bots, limits, retries, feedback, public answers
and the snippet file."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from storewise.api import create_app
from storewise.app import CollectLimits, build
from storewise.cli.main import app as cli
from storewise.collect.limits import RateLimiter
from tests.api.shop import Shop

SHOP_ORIGIN = "https://shop.example"
BROWSER = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
}
PUBLIC_FIELDS = {"item_id", "title", "price", "currency", "image_url", "url", "reasons"}
runner = CliRunner()


@pytest.fixture(scope="module")
def web_key(module_shop: Shop) -> str:
    """A publishable key for https://shop.example."""
    with build(module_shop.settings()) as services:
        return services.keys.create(["collect"], name="pages", origins=[SHOP_ORIGIN]).key


@pytest.fixture(scope="module")
def web(module_shop: Shop, web_key: str) -> Iterator[TestClient]:
    """A client of the API over the module's shop (the key exists before it starts)."""
    app = create_app(module_shop.settings(api_key_cache_seconds=0.0))
    with TestClient(app) as test_client:
        yield test_client


def send(
    client: TestClient,
    rows: list[dict[str, Any]],
    *,
    key: str | None,
    anonymous_id: str = "guest-api-0001",
    headers: dict[str, str] | None = None,
) -> Any:
    body: dict[str, Any] = {"anonymous_id": anonymous_id, "sent_at": _now(), "events": rows}
    if key is not None:
        body["key"] = key
    return client.post(
        "/v1/collect",
        content=json.dumps(body),
        headers={**BROWSER, "Content-Type": "text/plain;charset=UTF-8", **(headers or {})},
    )


def _now() -> int:
    return int(time.time() * 1000)


def view(n: int, item: str, prefix: str = "ev") -> dict[str, Any]:
    return {"type": "view_item", "event_id": f"{prefix}-{n:04d}", "item_id": item, "ts": _now()}


# -- keys ------------------------------------------------------------------------------------


def test_the_key_may_come_in_the_body_the_query_or_a_header(
    web: TestClient, web_key: str, module_shop: Shop
) -> None:
    item = module_shop.items[0]
    assert send(web, [view(1, item)], key=web_key).status_code == 202
    by_query = web.post(
        f"/v1/collect?key={web_key}",
        content=json.dumps({"anonymous_id": "guest-api-0001", "events": [view(2, item)]}),
        headers=BROWSER,
    )
    assert by_query.status_code == 202
    by_header = send(web, [view(3, item)], key=None, headers={"X-API-Key": web_key})
    assert by_header.status_code == 202 and by_header.json()["stored"] == 1


@pytest.mark.parametrize("key", [None, "sw_0123456789ab_" + "x" * 43, "not-a-key"])
def test_a_missing_or_wrong_key_is_401(web: TestClient, key: str | None) -> None:
    answer = send(web, [], key=key)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"
    public = web.get("/v1/public/recommendations", params={"placement": "trending"})
    assert public.status_code == 401


def test_a_key_without_the_collect_scope_is_403(web: TestClient, module_shop: Shop) -> None:
    answer = send(web, [], key=module_shop.keys["read"])
    assert answer.status_code == 403
    assert answer.json()["error"]["details"]["required_scope"] == "collect"


def test_a_collect_key_reads_and_writes_nothing_else(
    web: TestClient, web_key: str, module_shop: Shop
) -> None:
    customer = module_shop.customers[0]
    headers = {"X-API-Key": web_key}
    for method, path in [
        ("GET", f"/v1/customers/{customer}/recommendations"),
        ("GET", f"/v1/customers/{customer}/profile"),
        ("GET", f"/v1/customers/{customer}/export"),
        ("GET", "/v1/trending"),
        ("POST", "/v1/events"),
        ("POST", "/v1/identify"),
        ("PUT", f"/v1/customers/{customer}/consents"),
    ]:
        answer = web.request(method, path, headers=headers, json={})
        assert answer.status_code == 403, (method, path, answer.text)
    # the query parameter is read on the browser routes only
    answer = web.get(f"/v1/trending?key={web_key}")
    assert answer.status_code == 401


def test_a_collect_key_cannot_write_for_a_customer_except_by_identify(
    web: TestClient, web_key: str, module_shop: Shop
) -> None:
    customer, item = module_shop.customers[1], module_shop.items[1]
    row = {**view(10, item), "customer_id": customer}
    report = send(web, [row], key=web_key, anonymous_id="guest-api-0002").json()
    assert report["stored"] == 0
    assert "cannot write events naming a customer_id" in report["rejected"][0]["reason"]
    store = web.app.state.services.store  # type: ignore[attr-defined]
    assert store.resolve_anonymous("guest-api-0002") is None
    send(web, [view(11, item)], key=web_key, anonymous_id="guest-api-0002")
    identify = {"type": "identify", "customer_id": customer, "consent": {"marketing": False}}
    # a page's word alone links nothing: the shop's server must have signed the login
    forged = send(web, [identify], key=web_key, anonymous_id="guest-api-0002").json()
    assert forged["identified"] == 0 and "signature" in forged["rejected"][0]["reason"]
    assert store.resolve_anonymous("guest-api-0002") is None
    services = web.app.state.services  # type: ignore[attr-defined]
    key_id = web_key.split("_")[1]
    identify["signature"] = services.collect.signer.sign(key_id, customer)
    report = send(web, [identify], key=web_key, anonymous_id="guest-api-0002").json()
    assert report["identified"] == 1 and report["identities_linked"] == 1
    assert store.resolve_anonymous("guest-api-0002") == customer
    assert store.consent_of(customer)["marketing"] is False


# -- origins ---------------------------------------------------------------------------------


def test_a_preflight_from_an_allowed_origin_echoes_it(web: TestClient, web_key: str) -> None:
    for path in (f"/v1/collect?key={web_key}", "/v1/collect", "/v1/public/recommendations"):
        answer = web.options(
            path,
            headers={"Origin": SHOP_ORIGIN, "Access-Control-Request-Method": "POST"},
        )
        assert answer.status_code == 204, path
        assert answer.headers["access-control-allow-origin"] == SHOP_ORIGIN
        assert "access-control-allow-credentials" not in answer.headers
        assert "x-api-key" in answer.headers["access-control-allow-headers"]


def test_a_preflight_from_a_foreign_origin_is_refused(web: TestClient, web_key: str) -> None:
    answer = web.options(
        f"/v1/collect?key={web_key}",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "forbidden"
    assert "access-control-allow-origin" not in answer.headers


def test_requests_from_a_foreign_origin_are_refused(
    web: TestClient, web_key: str, module_shop: Shop
) -> None:
    foreign = send(
        web, [view(20, module_shop.items[0])], key=web_key, headers={"Origin": "https://x.example"}
    )
    assert foreign.status_code == 403
    assert "access-control-allow-origin" not in foreign.headers
    allowed = send(
        web, [view(21, module_shop.items[0])], key=web_key, headers={"Origin": SHOP_ORIGIN}
    )
    assert allowed.status_code == 202
    assert allowed.headers["access-control-allow-origin"] == SHOP_ORIGIN
    public = web.get(
        "/v1/public/recommendations",
        params={"placement": "trending", "key": web_key},
        headers={"Origin": "https://x.example"},
    )
    assert public.status_code == 403


# -- limits ----------------------------------------------------------------------------------


def test_past_the_rate_limit_the_answer_is_429(fresh_client: TestClient, fresh_shop: Shop) -> None:
    services = fresh_client.app.state.services  # type: ignore[attr-defined]
    key = services.keys.create(["collect"], origins=[SHOP_ORIGIN]).key
    collect = services.collect
    collect.rate = RateLimiter(CollectLimits(ip_rate=0.01, ip_burst=2))
    codes = [send(fresh_client, [], key=key).status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    refused = send(fresh_client, [], key=key)
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    public = fresh_client.get(
        "/v1/public/recommendations", params={"placement": "trending", "key": key}
    )
    assert public.status_code == 429


def test_an_oversize_batch_or_body_is_413(web: TestClient, web_key: str) -> None:
    rows = [view(i, "x") for i in range(101)]
    answer = send(web, rows, key=web_key)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"
    assert answer.json()["error"]["details"]["max_batch"] == 100
    big = send(web, [{"type": "page_view", "pad": "x" * 70_000}], key=web_key)
    assert big.status_code == 413 and big.json()["error"]["code"] == "payload_too_large"


def test_a_body_that_is_not_a_batch_is_422(web: TestClient, web_key: str) -> None:
    for body in ({"key": web_key, "events": "x"}, {"key": web_key, "anonymous_id": "a b"}):
        answer = web.post("/v1/collect", content=json.dumps(body), headers=BROWSER)
        assert answer.status_code == 422
        assert set(answer.json()["error"]) == {"code", "message", "details"}


# -- what is stored --------------------------------------------------------------------------


def test_bots_are_answered_202_and_nothing_is_stored(
    web: TestClient, web_key: str, module_shop: Shop
) -> None:
    rows = [view(30, module_shop.items[0]), {"type": "page_view"}]
    answer = send(
        web,
        rows,
        key=web_key,
        anonymous_id="guest-bot-0001",
        headers={"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"},
    )
    assert answer.status_code == 202
    report = answer.json()
    assert report["stored"] == 0 and len(report["not_stored"]) == 2
    assert all("bot" in r["reason"] for r in report["not_stored"])
    store = web.app.state.services.store  # type: ignore[attr-defined]
    assert store.session_history("guest-bot-0001").height == 0


def test_a_retried_batch_is_stored_once(web: TestClient, web_key: str, module_shop: Shop) -> None:
    rows = [view(40 + i, module_shop.items[i]) for i in range(3)]
    first = send(web, rows, key=web_key, anonymous_id="guest-retry-01").json()
    again = send(web, rows, key=web_key, anonymous_id="guest-retry-01").json()
    assert first["stored"] == 3 and again["stored"] == 0 and again["duplicates"] == 3
    store = web.app.state.services.store  # type: ignore[attr-defined]
    assert store.session_history("guest-retry-01").height == 3


def test_malformed_rows_are_reported_by_position(
    web: TestClient, web_key: str, module_shop: Shop
) -> None:
    rows: list[Any] = [
        view(50, module_shop.items[0]),
        {"type": "view_item", "item_id": module_shop.items[0]},
        {"type": "view_item", "event_id": "ev-0052", "item_id": "NO-SUCH-ITEM"},
        {"type": "page_view", "event_id": "ev-0053"},
        7,
    ]
    report = send(web, rows, key=web_key, anonymous_id="guest-rows-01").json()
    assert report["received"] == 5 and report["stored"] == 1
    assert [r["index"] for r in report["rejected"]] == [1, 2, 4]
    assert [r["index"] for r in report["not_stored"]] == [3]


def test_feedback_on_a_served_list_is_stored_once(web: TestClient, web_key: str) -> None:
    answer = web.get(
        "/v1/public/recommendations",
        params={"placement": "trending", "n": 3, "key": web_key},
        headers=BROWSER,
    ).json()
    rec = answer["recommendation_id"]
    clicked = answer["items"][0]["item_id"]
    rows = [
        {"type": "rec_impression", "recommendation_id": rec},
        {"type": "rec_click", "recommendation_id": rec, "item_id": clicked},
        {"type": "rec_click", "recommendation_id": "0" * 24, "item_id": clicked},
    ]
    first = send(web, rows, key=web_key).json()
    again = send(web, rows, key=web_key).json()
    assert first["feedback"] == 2 and [r["index"] for r in first["rejected"]] == [2]
    assert again["feedback"] == 0 and again["duplicates"] == 2
    tables = web.app.state.services.experiments.tables  # type: ignore[attr-defined]
    stored = tables.feedback().filter(tables.feedback()["recommendation_id"] == rec)
    assert sorted(stored["kind"].to_list()) == ["click", "impression"]


# -- public answers --------------------------------------------------------------------------


def test_widget_answers_hold_only_public_fields(
    web: TestClient, web_key: str, module_shop: Shop
) -> None:
    item = module_shop.items[0]
    for params in (
        {"placement": "for-you", "anonymous_id": "guest-api-0001"},
        {"placement": "for-you"},
        {"placement": "trending"},
        {"placement": "similar", "item": item},
        {"placement": "bought-together", "items": f"{item},{module_shop.items[1]}"},
        {"placement": "buy-again", "anonymous_id": "guest-api-0002"},
    ):
        answer = web.get("/v1/public/recommendations", params={**params, "key": web_key, "n": 4})
        assert answer.status_code == 200, (params, answer.text)
        assert answer.headers["cache-control"] == "no-store"
        body = answer.json()
        assert set(body) == {"recommendation_id", "placement", "items"}
        assert all(set(i) == PUBLIC_FIELDS for i in body["items"]), params
        assert "customer_id" not in answer.text and "model_version" not in answer.text


def test_a_bad_widget_request_is_422(web: TestClient, web_key: str) -> None:
    for params in (
        {"placement": "similar"},
        {"placement": "everything"},
        {"placement": "trending", "n": 99},
    ):
        answer = web.get("/v1/public/recommendations", params={**params, "key": web_key})
        assert answer.status_code == 422, params


# -- the snippet -----------------------------------------------------------------------------


def test_the_snippet_is_served_versioned_cached_and_compressed(web: TestClient) -> None:
    plain = web.get("/sdk/storewise.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/javascript")
    version = plain.headers["x-storewise-version"]
    assert f'VERSION = "{version}"' in plain.text
    assert plain.headers["cache-control"] == "public, max-age=300"
    pinned = web.get(f"/sdk/storewise.js?v={version}", headers={"Accept-Encoding": "identity"})
    assert "immutable" in pinned.headers["cache-control"]
    etag = plain.headers["etag"]
    assert web.get("/sdk/storewise.js", headers={"If-None-Match": etag}).status_code == 304
    raw = web.get("/sdk/storewise.js", headers={"Accept-Encoding": "gzip"}, follow_redirects=False)
    assert raw.headers["content-encoding"] == "gzip"
    assert len(gzip.compress(plain.content)) <= 10 * 1024


# -- the command line ------------------------------------------------------------------------


def test_keys_create_a_publishable_key_with_its_origins(tmp_path: Path) -> None:
    home = ["--home", str(tmp_path)]
    created = runner.invoke(
        cli,
        [*home, "keys", "create", "--scope", "collect", "--origin", "https://shop.example",
         "--origin", "https://www.shop.example/", "--json"],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    info = json.loads(created.stdout)
    assert info["scopes"] == ["collect"] and info["key"].startswith("sw_")
    assert info["origins"] == ["https://shop.example", "https://www.shop.example"]
    without = runner.invoke(cli, [*home, "keys", "create", "--scope", "collect"])
    assert without.exit_code == 2 and "--origin" in without.output
    mixed = runner.invoke(
        cli, [*home, "keys", "create", "--scope", "collect,read", "--origin", "https://a.example"]
    )
    assert mixed.exit_code == 2 and "cannot be combined" in mixed.output


def test_the_demo_shop_runs_one_worker(tmp_path: Path) -> None:
    result = runner.invoke(
        cli, ["--home", str(tmp_path), "serve", "--demo-shop", "--workers", "2", "--port", "1"]
    )
    assert result.exit_code == 2 and "one worker" in result.output
