"""The Fairness page: the audit computed in the background, rules to try, friendly errors."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from storewise.errors import InputError
from storewise.web.pages import FairnessKnobs, OverviewCache
from tests.web.shop import Shop


def audited(client: TestClient, path: str, seconds: float = 60.0) -> str:
    """The page once the background audit is done (it says so while computing)."""
    deadline = time.monotonic() + seconds
    while True:
        response = client.get(path)
        assert response.status_code == 200, response.text
        if 'id="computing"' not in response.text or time.monotonic() > deadline:
            return str(response.text)
        time.sleep(0.2)


def test_fairness_page_shows_the_audit(admin: TestClient, shop: Shop) -> None:
    first = admin.get("/fairness")
    assert first.status_code == 200 and "Fairness" in first.text
    assert 'id="computing"' in first.text or 'id="audit-overall"' in first.text
    html = audited(admin, "/fairness")
    assert 'id="audit-overall"' in html and "no fairness rules" in html
    assert 'id="audit-activity"' in html and 'id="audit-country"' in html
    assert "NDCG@10 per activity level" in html and "<svg" in html
    assert 'id="no-placements"' in html
    assert "<script" not in html and "http" not in html.split("</head>")[1]
    overview = admin.get("/")
    assert 'href="/fairness"' in overview.text  # in the navigation


def test_rules_tried_are_audited_beside_the_current_ones(admin: TestClient) -> None:
    html = audited(admin, "/fairness?days=30&long_tail_boost=0.5&max_per_brand=2&calibration=")
    assert "rules tried" in html and "no fairness rules" in html
    assert json.dumps({"long_tail_boost": 0.5, "max_per_brand": 2}) in html
    assert 'value="0.5"' in html and 'value="2"' in html


@pytest.mark.parametrize(
    "query", ["calibration=2", "days=7", "max_per_brand=0", "diversity=lots", "long_tail_boost=-1"]
)
def test_bad_rules_are_a_friendly_400(admin: TestClient, query: str) -> None:
    response = admin.get(f"/fairness?{query}")
    assert response.status_code == 400 and "Check the input" in response.text


def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/fairness")
    assert response.status_code == 303 and "/sign-in" in response.headers["location"]


def test_knobs_from_the_form() -> None:
    knobs = FairnessKnobs.from_query("60", long_tail_boost="0.25", max_per_category=" ")
    assert knobs.days == 60 and knobs.long_tail_boost == 0.25
    assert knobs.max_per_category is None
    rules = knobs.rules()
    assert rules is not None and rules.long_tail_boost == 0.25 and rules.calibration == 0.0
    assert FairnessKnobs.from_query("").rules() is None
    with pytest.raises(InputError, match="between"):
        FairnessKnobs.from_query("30", calibration="1.5")


def test_cache_peek_never_waits() -> None:
    cache = OverviewCache(seconds=60)
    started = []

    def slow() -> int:
        started.append(1)
        time.sleep(0.3)
        return 7

    assert cache.peek("k", slow) is None  # computing in the background
    assert cache.peek("k", slow) is None and len(started) == 1
    deadline = time.monotonic() + 5
    while cache.peek("k", slow) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cache.peek("k", slow) == 7 and len(started) == 1
