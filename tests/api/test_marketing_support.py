"""Marketing and support endpoints: segments, audiences, offer feedback, suggested answers."""

from __future__ import annotations

from fastapi.testclient import TestClient

from storewise.app import Services, split_key
from tests.api.shop import Shop


def test_segments_and_profile_value(client: TestClient, shop: Shop) -> None:
    response = client.get("/v1/segments", headers=shop.headers("read"))
    assert response.status_code == 200
    body = response.json()
    assert body["segments"] and sum(s["customers"] for s in body["segments"]) > 0
    profile = client.get(
        f"/v1/customers/{shop.customers[0]}/profile", headers=shop.headers("read")
    ).json()
    assert "segment" in profile and "churn_risk" in profile


def test_audience_needs_a_known_segment(client: TestClient, shop: Shop) -> None:
    ok = client.post("/v1/campaigns/audience", json={"n_items": 2}, headers=shop.headers("read"))
    assert ok.status_code == 200
    rows = ok.json()["rows"]
    assert ok.json()["customers"] == len(rows)
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    entry = services.audit.entries(1)[0]
    key_id = split_key(shop.keys["read"])[0]  # type: ignore[index]
    assert (entry["actor"], entry["action"]) == (f"api:{key_id}", "campaign_audience")
    assert entry["details"]["rows"] == len(rows)
    summary = ok.json()["summary"]
    assert summary["rows"] == len(rows) == summary["with_marketing_consent"]
    assert summary["considered"] >= len(rows)
    unknown = client.post(
        "/v1/campaigns/audience", json={"segment": "Nobodies"}, headers=shop.headers("read")
    )
    assert unknown.status_code == 404
    assert "Champions" in unknown.json()["error"]["message"]


def test_audience_files_for_ad_platforms(client: TestClient, shop: Shop) -> None:
    for fmt, header in (("google", "Email"), ("meta", "email"), ("mailchimp", "Email Address")):
        answer = client.post(
            "/v1/campaigns/audience",
            json={"format": fmt, "n_items": 0},
            headers=shop.headers("read"),
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/csv")
        assert f'filename="audience-{fmt}.csv"' in answer.headers["content-disposition"]
        lines = answer.text.splitlines()
        assert lines[0].split(",")[0] == header
        if fmt != "mailchimp":
            assert all(len(line) == 64 for line in lines[1:])
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    entry = services.audit.entries(2)[1]
    assert entry["action"] == "ads_audience" and entry["details"]["format"] == "meta"
    bad = client.post(
        "/v1/campaigns/audience", json={"format": "xlsx"}, headers=shop.headers("read")
    )
    assert bad.status_code == 422


def test_offer_feedback(client: TestClient, shop: Shop) -> None:
    body = {"customer_id": shop.customers[0], "converted": True}
    ok = client.post(
        "/v1/offers/free-shipping/responses", json=body, headers=shop.headers("ingest")
    )
    assert ok.status_code == 200
    missing = client.post("/v1/offers/nope/responses", json=body, headers=shop.headers("ingest"))
    assert missing.status_code == 404


def test_support_suggestions(client: TestClient, shop: Shop) -> None:
    headers = shop.headers("read")
    answer = client.post(
        "/v1/support/suggest",
        json={"customer_id": shop.customers[0], "message": "where is my order?"},
        headers=headers,
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["intent"] == "track_order" and "{{" not in body["answers"][0]["text"]
    assert body["card"]["orders"]
    generic = client.post(
        "/v1/support/suggest", json={"message": "where is my order?"}, headers=headers
    )
    assert generic.status_code == 200 and generic.json()["card"]["orders"] == []
    for bad in ({"message": ""}, {"message": "x" * 5001}, {"message": "hi", "extra": 1}):
        assert client.post("/v1/support/suggest", json=bad, headers=headers).status_code == 422
