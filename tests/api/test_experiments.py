"""Experiments through the API: a simulated shop where one variant truly sells more is run
end to end (assignment, exposures, clicks, orders) and the analysis picks it; bad input is a
clear error."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from fastapi.testclient import TestClient

from tests.api.shop import Shop

VARIANTS = [{"name": "control"}, {"name": "better", "model": "popular"}]


def _now() -> str:
    return datetime.now(tz=UTC).isoformat()


def test_the_better_variant_wins(fresh_client: TestClient, fresh_shop: Shop) -> None:
    admin, shop_key = fresh_shop.headers("admin"), fresh_shop.headers("shop")
    created = fresh_client.post(
        "/v1/experiments",
        json={
            "experiment_id": "picks",
            "placement": "for-you",
            "variants": VARIANTS,
            "primary_metric": "attributed_orders",
            "start": True,
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "running" and "salt" not in created.json()
    rng = np.random.default_rng(7)
    buy_rate = {"control": 0.25, "better": 0.55}  # the truth the analysis must find
    seen: dict[str, int] = {}
    for i in range(400):
        customer = f"sim-{i:04d}"
        answer = fresh_client.get(
            f"/v1/customers/{customer}/recommendations?n=4", headers=shop_key
        ).json()
        assert answer["experiment"] == "picks"
        variant, rid = answer["variant"], answer["recommendation_id"]
        seen[variant] = seen.get(variant, 0) + 1
        feedback = [{"recommendation_id": rid, "kind": "impression"}]
        bought = rng.random() < buy_rate[variant]
        if bought:
            item = answer["items"][0]["item_id"]
            feedback.append({"recommendation_id": rid, "kind": "click", "item_id": item})
        stored = fresh_client.post("/v1/feedback", json={"feedback": feedback}, headers=shop_key)
        assert stored.status_code == 200 and stored.json()["rejected"] == []
        events = [
            {
                "event_id": f"v-{i}",
                "customer_id": customer,
                "event_type": "view",
                "item_id": fresh_shop.items[0],
                "timestamp": _now(),
            }
        ]
        if bought:  # after the click, as a shopper would
            events.append(
                {
                    "event_id": f"p-{i}",
                    "customer_id": customer,
                    "event_type": "purchase",
                    "item_id": item,
                    "quantity": 1,
                    "price": 12.5,
                    "order_id": f"o-{i}",
                    "timestamp": _now(),
                }
            )
        sent = fresh_client.post("/v1/events", json=events, headers=shop_key)
        assert sent.status_code == 200, sent.text
    assert min(seen.values()) > 150  # about half each
    results = fresh_client.get("/v1/experiments/picks/results", headers=admin)
    assert results.status_code == 200, results.text
    body = results.json()
    assert body["units"] == seen and body["srm_flag"] is False
    primary = body["metrics"]["attributed_orders"]
    assert primary["variant"] == "better"
    assert primary["p_value"] < 0.01 and primary["ci_low"] > 0
    assert 0.15 < primary["absolute_lift"] < 0.45  # the true lift is 0.30
    assert body["metrics"]["converted"]["p_value"] < 0.01
    assert body["guardrails"] == {"orders": {"better": "ok"}, "converted": {"better": "ok"}}
    assert body["cumulative"][-1]["units"] == 400
    analytics = fresh_client.get("/v1/analytics/recommendations", headers=admin).json()
    row = next(r for r in analytics["by_placement"] if r["placement"] == "for-you")
    assert row["impressions"] == 400
    assert row["orders"] == row["clicks"] > 0  # every click here led to an order
    stopped = fresh_client.post("/v1/experiments/picks/stop", headers=admin)
    assert stopped.json()["status"] == "stopped"
    after = fresh_client.get("/v1/customers/sim-0001/recommendations", headers=shop_key).json()
    assert after["experiment"] is None and after["recommendation_id"]


def test_bad_experiments_are_clear_errors(fresh_client: TestClient, fresh_shop: Shop) -> None:
    admin = fresh_shop.headers("admin")
    uneven = [{"name": "control", "weight": 0.6}, {"name": "b", "weight": 0.3}]
    answer = fresh_client.post(
        "/v1/experiments",
        json={"experiment_id": "x", "placement": "for-you", "variants": uneven},
        headers=admin,
    )
    assert answer.status_code == 422 and "add up to 0.9" in answer.json()["error"]["message"]
    unknown = fresh_client.get("/v1/experiments/nope/results", headers=admin)
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]["message"]
    fresh_client.post(
        "/v1/experiments",
        json={"experiment_id": "empty", "placement": "similar", "variants": VARIANTS[:1] * 2},
        headers=admin,
    )
    created = fresh_client.post(
        "/v1/experiments",
        json={
            "experiment_id": "empty",
            "placement": "trending",
            "variants": [{"name": "control"}, {"name": "b", "rules": {"diversity": 0.4}}],
        },
        headers=admin,
    )
    assert created.status_code == 201
    no_units = fresh_client.get("/v1/experiments/empty/results", headers=admin)
    assert no_units.status_code == 422 and "fewer than two" in no_units.json()["error"]["message"]
    bad_rule = fresh_client.post(
        "/v1/experiments",
        json={
            "experiment_id": "r",
            "placement": "trending",
            "variants": [{"name": "control"}, {"name": "b", "rules": {"colour": 1}}],
        },
        headers=admin,
    )
    assert bad_rule.status_code == 422
    read_only = fresh_client.get("/v1/experiments", headers=fresh_shop.headers("read"))
    assert read_only.status_code == 403
    assert fresh_client.get("/v1/experiments", headers=admin).json()["experiments"]
