"""Answers out: shape, cold start, real time, identify, consent, rules, similar, basket."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

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
