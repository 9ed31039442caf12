"""Answers out: shape, cold start, real time, identify, consent, rules, similar, basket."""

from __future__ import annotations

from typing import Any

import polars as pl
from fastapi.testclient import TestClient

from storewise.api import create_app
from tests.api.shop import Shop


def check_list(answer: dict[str, Any], n: int | None = None) -> list[str]:
    """Every answer lists item_id, score, rank (1..k), reasons, and carries the model version."""
    assert answer["model_version"]
    ranks = [item["rank"] for item in answer["items"]]
    assert ranks == list(range(1, len(ranks) + 1))
    for item in answer["items"]:
        assert isinstance(item["item_id"], str) and isinstance(item["score"], float)
        assert item["reasons"] and all(isinstance(r, str) and r for r in item["reasons"])
    if n is not None:
        assert len(answer["items"]) <= n
    return [item["item_id"] for item in answer["items"]]


def test_known_customer_gets_personal_answers(client: TestClient, shop: Shop) -> None:
    """A buyer gets n personalised items carrying the served model version."""
    customer = shop.customers[0]
    response = client.get(f"/v1/customers/{customer}/recommendations?n=5", headers=shop.headers())
    answer = response.json()
    assert response.status_code == 200
    assert len(check_list(answer, 5)) == 5
    assert answer["customer_id"] == customer and answer["policy"] == "personalised"
    assert answer["model_version"] == client.get("/ready").json()["model_version"]


def test_unknown_customer_is_a_cold_start_not_an_error(client: TestClient, shop: Shop) -> None:
    """A customer never seen gets popular items (200)."""
    response = client.get("/v1/customers/never-seen/recommendations?n=4", headers=shop.headers())
    assert response.status_code == 200
    assert response.json()["policy"].startswith("cold-start")
    assert len(check_list(response.json(), 4)) == 4


def test_an_event_counts_in_the_very_next_answer(client: TestClient, shop: Shop) -> None:
    """Real time: after a purchase the list is personal, excludes it, and buy-again has it."""
    headers = shop.headers("shop")
    path = "/v1/customers/rt-1/recommendations?n=10"
    before = client.get(path, headers=headers).json()
    assert before["policy"].startswith("cold-start")
    bought = check_list(before)[0]
    event = {"event_type": "purchase", "customer_id": "rt-1", "item_id": bought, "price": 5.0}
    assert client.post("/v1/events", json=event, headers=headers).json()["stored"] == 1
    after = client.get(path, headers=headers).json()
    assert after["policy"] == "personalised"
    assert bought not in check_list(after)
    again = client.get(path + "&scenario=buy-again", headers=headers).json()
    assert check_list(again) == [bought]


def test_identify_links_the_guest_at_once(client: TestClient, shop: Shop) -> None:
    """A guest's purchase counts for the customer from the very next answer after login."""
    headers = shop.headers("shop")
    item = shop.items[5]
    guest = {"event_type": "purchase", "anonymous_id": "anon-rt", "item_id": item, "price": 3.0}
    assert client.post("/v1/events", json=guest, headers=headers).json()["stored"] == 1
    session = client.get("/v1/sessions/anon-rt/recommendations?n=5", headers=headers).json()
    assert session["policy"].startswith("session")
    assert item not in check_list(session)
    linked = client.post(
        "/v1/identify", json={"anonymous_id": "anon-rt", "customer_id": "login-1"}, headers=headers
    ).json()
    assert linked["customer_id"] == "login-1" and linked["events_linked"] == 1
    again = client.get(
        "/v1/customers/login-1/recommendations?scenario=buy-again", headers=headers
    ).json()
    assert check_list(again) == [item]
    session = client.get("/v1/sessions/anon-rt/recommendations", headers=headers).json()
    assert session["customer_id"] == "login-1" and "linked account" in session["policy"]


def test_withdrawn_consent_gives_non_personal_answers(client: TestClient, shop: Shop) -> None:
    """personalization withdrawn: popular items; granted again: personal again."""
    customer, headers = shop.customers[1], shop.headers("shop")
    path = f"/v1/customers/{customer}/recommendations"
    assert client.get(path, headers=headers).json()["policy"] == "personalised"
    consents = f"/v1/customers/{customer}/consents"
    client.put(consents, json={"personalization": False}, headers=headers)
    withdrawn = client.get(path, headers=headers).json()
    assert withdrawn["policy"] == "non-personalised (consent)"
    check_list(withdrawn)
    client.put(consents, json={"personalization": True}, headers=headers)
    assert client.get(path, headers=headers).json()["policy"] == "personalised"


def test_category_and_exclude_rules(client: TestClient, shop: Shop) -> None:
    """category keeps one category; exclude (repeated or comma-separated) drops items."""
    customer, headers = shop.customers[2], shop.headers("read")
    category = shop.categories[0]
    answer = client.get(
        f"/v1/customers/{customer}/recommendations?n=5&category={category}", headers=headers
    ).json()
    assert answer["items"] and {i["category"] for i in answer["items"]} == {category}
    plain = check_list(
        client.get(f"/v1/customers/{customer}/recommendations?n=5", headers=headers).json()
    )
    dropped = client.get(
        f"/v1/customers/{customer}/recommendations?n=5"
        f"&exclude={plain[0]},{plain[1]}&exclude={plain[2]}",
        headers=headers,
    ).json()
    assert not set(plain[:3]) & set(check_list(dropped))
    mixed = client.get(
        f"/v1/customers/{customer}/recommendations?allow_repurchase=true", headers=headers
    )
    assert mixed.status_code == 200


def test_similar_trending_basket(client: TestClient, shop: Shop) -> None:
    """Similar items exclude the item itself; trending filters; basket answers or 404s."""
    headers = shop.headers("read")
    item = shop.items[0]
    similar = client.get(f"/v1/items/{item}/similar?n=5", headers=headers).json()
    assert item not in check_list(similar, 5) and similar["scenario"] == "similar"
    category = shop.categories[1]
    trending = client.get(f"/v1/trending?n=3&category={category}", headers=headers).json()
    assert {i["category"] for i in trending["items"]} == {category}
    in_country = client.get("/v1/trending?country=United%20Kingdom", headers=headers).json()
    check_list(in_country, 10)
    basket = client.post(
        "/v1/recommendations/basket", json={"items": shop.items[:3], "n": 5}, headers=headers
    )
    assert basket.status_code == 200
    assert not set(shop.items[:3]) & set(check_list(basket.json(), 5))
    unknown = client.post("/v1/recommendations/basket", json={"items": ["nope"]}, headers=headers)
    assert unknown.status_code == 404


def test_guest_without_history_gets_trending(client: TestClient, shop: Shop) -> None:
    """A session never seen is a cold start."""
    answer = client.get("/v1/sessions/brand-new/recommendations", headers=shop.headers()).json()
    assert answer["policy"].startswith("cold-start")
    check_list(answer, 10)


def _brands(shop: Shop) -> dict[str, str]:
    """item_id -> brand, from the shop's generated catalog file."""
    frame = pl.read_csv(next((shop.home / "csv").glob("*items*")))
    return dict(zip(frame["item_id"].to_list(), frame["brand"].to_list(), strict=True))


def test_fairness_parameters_shape_the_lists(client: TestClient, shop: Shop) -> None:
    """Exposure caps per brand and category, long-tail boost and calibration on every list."""
    headers, brands = shop.headers("read"), _brands(shop)
    customer = shop.customers[3]
    path = f"/v1/customers/{customer}/recommendations?n=8"
    capped = check_list(client.get(path + "&max_per_brand=1", headers=headers).json(), 8)
    assert len({brands[i] for i in capped}) == len(capped) > 0
    tuned = client.get(
        path + "&long_tail_boost=0.5&calibration=0.5&diversity=0.2&max_per_category=2",
        headers=headers,
    )
    assert tuned.status_code == 200
    categories = [i["category"] for i in tuned.json()["items"]]
    assert max(categories.count(c) for c in categories) <= 2
    similar = client.get(
        f"/v1/items/{shop.items[0]}/similar?n=6&max_per_category=1", headers=headers
    ).json()
    assert len({i["category"] for i in similar["items"]}) == len(similar["items"]) > 0
    trending = client.get("/v1/trending?n=6&max_per_brand=1", headers=headers).json()
    assert len({brands[i] for i in check_list(trending)}) == len(trending["items"]) > 0
    basket = client.post(
        "/v1/recommendations/basket",
        json={"items": shop.items[:3], "n": 5, "max_per_category": 1, "long_tail_boost": 0.3},
        headers=headers,
    )
    assert basket.status_code == 200
    assert len({i["category"] for i in basket.json()["items"]}) == len(basket.json()["items"])


def test_fairness_parameters_are_validated(client: TestClient, shop: Shop) -> None:
    """Out-of-range, non-numeric or NaN values are refused, naming the parameter."""
    headers = shop.headers("read")
    base = f"/v1/customers/{shop.customers[0]}/recommendations?"
    for query, name in (
        ("long_tail_boost=1.5", "long_tail_boost"),
        ("calibration=-0.1", "calibration"),
        ("calibration=nan", "calibration"),
        ("diversity=lots", "diversity"),
        ("max_per_brand=0", "max_per_brand"),
        ("max_per_category=101", "max_per_category"),
    ):
        response = client.get(base + query, headers=headers)
        assert response.status_code == 422, query
        error = response.json()["error"]
        assert error["code"] == "invalid_request" and name in error["message"], error
    trending = client.get("/v1/trending?long_tail_boost=2", headers=headers)
    assert trending.status_code == 422 and "long_tail_boost" in trending.json()["error"]["message"]
    for body, name in (
        ({"items": shop.items[:1], "diversity": 3}, "diversity"),
        ({"items": shop.items[:1], "calibration": 0.5}, "calibration"),  # not for baskets
        ({"items": shop.items[:1], "min_customers": 1}, "min_customers"),
    ):
        response = client.post("/v1/recommendations/basket", json=body, headers=headers)
        assert response.status_code == 422 and name in response.json()["error"]["message"]


def test_basket_k_can_be_raised_never_lowered(client: TestClient, shop: Shop) -> None:
    """min_customers below the shop's basket_min_customers (5) is refused with the reason;
    above it the policy names the k used."""
    headers = shop.headers("read")
    lower = client.post(
        "/v1/recommendations/basket",
        json={"items": shop.items[:2], "min_customers": 3},
        headers=headers,
    )
    assert lower.status_code == 422
    assert "at least 5" in lower.json()["error"]["message"]
    higher = client.post(
        "/v1/recommendations/basket",
        json={"items": shop.items[:2], "min_customers": 8},
        headers=headers,
    )
    assert higher.status_code == 200 and higher.json()["policy"].endswith(">= 8 customers")
    default = client.post(
        "/v1/recommendations/basket", json={"items": shop.items[:2]}, headers=headers
    )
    assert default.json()["policy"].endswith(">= 5 customers")


def test_placement_settings_apply_under_request_parameters(
    client: TestClient, module_shop: Shop, shop: Shop
) -> None:
    """A shop's placement defaults shape lists; a request's own parameter wins."""
    settings = module_shop.settings(
        api_key_cache_seconds=0.0,
        placements={"for-you": {"max_per_brand": 1}},
        basket_min_customers=6,
    )
    headers, brands = module_shop.headers("read"), _brands(shop)
    path = f"/v1/customers/{module_shop.customers[4]}/recommendations?n=8"
    plain = check_list(client.get(path, headers=headers).json())
    with TestClient(create_app(settings)) as placed:
        one_each = check_list(placed.get(path, headers=headers).json())
        assert len({brands[i] for i in one_each}) == len(one_each) > 1
        assert len({brands[i] for i in plain}) < len(plain)  # the default really binds
        wider = check_list(placed.get(path + "&max_per_brand=100", headers=headers).json())
        assert wider == plain
        basket = placed.post(
            "/v1/recommendations/basket",
            json={"items": module_shop.items[:2], "min_customers": 5},
            headers=headers,
        )
        assert basket.status_code == 422 and "at least 6" in basket.json()["error"]["message"]


def test_pin_and_boost_merchandising_parameters(client: TestClient, shop: Shop) -> None:
    """pin puts shop-chosen items first, in order, with a reason; boost lifts a category;
    malformed values are clear errors."""
    customer, headers = shop.customers[4], shop.headers("read")
    base = f"/v1/customers/{customer}/recommendations?n=6"
    plain = check_list(client.get(base, headers=headers).json())
    chosen = [i for i in shop.items if i not in plain][:2]
    pinned = client.get(f"{base}&pin={chosen[1]},{chosen[0]}", headers=headers).json()
    ids = check_list(pinned, 6)
    assert ids[:2] == [chosen[1], chosen[0]]
    assert "featured by the shop" in pinned["items"][0]["reasons"]
    assert ids[2:] == [i for i in plain if i not in chosen][:4]
    category = shop.categories[1]
    boosted = client.get(f"{base}&boost=category={category}:50", headers=headers).json()
    share = sum(i["category"] == category for i in boosted["items"])
    assert share >= sum(
        i["category"] == category for i in client.get(base, headers=headers).json()["items"]
    )
    assert share >= 1
    for bad in ("category=Kitchen", "category:2", "category=Kitchen:-1", "category=K:x"):
        response = client.get(f"{base}&boost={bad}", headers=headers)
        assert response.status_code in (400, 422), bad
        assert "FIELD=VALUE:FACTOR" in response.json()["error"]["message"]
