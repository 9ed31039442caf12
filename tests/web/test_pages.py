"""Every dashboard page through the ASGI app: content, friendly errors, no external URLs."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import escape

from storewise.app import build
from storewise.settings import Settings
from storewise.testing.fixtures import tiny_events, tiny_items
from storewise.web import create_dashboard
from tests.web.conftest import sign_in
from tests.web.shop import SECRET, Shop, csrf_of

HAS_MARKETING = importlib.util.find_spec("storewise.marketing.service") is not None
needs_marketing = pytest.mark.skipif(
    not HAS_MARKETING, reason="needs storewise.marketing.service (the marketing issue)"
)
EXTERNAL = re.compile(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", re.IGNORECASE)


def external_references(html: str) -> list[str]:
    """Every absolute or protocol-relative URL naming a host (none are allowed)."""
    return EXTERNAL.findall(html)


def test_overview_shows_counts_health_chart_and_model(admin: TestClient, shop: Shop) -> None:
    response = admin.get("/")
    assert response.status_code == 200
    html = response.text
    stats = shop.services.insights.stats()
    assert f'<dd id="kpi-customers">{stats["customers"]:,}</dd>' in html
    assert f'<dd id="kpi-orders">{stats["orders"]:,}</dd>' in html
    assert f"{stats['revenue']:,.2f}" in html
    assert stats["date_range"]["first"] in html
    assert "Active customers per month" in html and "<svg" in html and "<polyline" in html
    assert "events.csv" in html and "customers.csv" in html  # last ingest reports
    assert shop.services.serving.model_version is not None
    assert f'<dd id="model-version">{shop.services.serving.model_version}</dd>' in html
    assert "Server-Timing" in response.headers


def test_customer_360_shows_profile_lists_with_reasons_and_history(
    admin: TestClient, shop: Shop
) -> None:
    response = admin.get(f"/customers/{shop.buyer}")
    assert response.status_code == 200
    html = response.text
    for heading in ("For you", "For you, with repurchase", "Buy again"):
        assert f">{heading}</h3>" in html
    expected = shop.services.serving.recommend(shop.buyer, 10)
    assert expected.items
    first = expected.items[0]
    assert f'href="/products/{first.item_id}"' in html
    assert first.reasons[0] in html.replace("&#39;", "'")
    assert html.count('<ul class="reasons">') >= 10
    assert "event-purchase" in html  # the history timeline
    assert "personalization" in html and "granted" in html  # consents
    value = shop.services.marketing.customer_value(shop.buyer)
    assert value is not None  # segment, CLV, risk
    assert f'<dd id="customer-segment">{escape(value["segment"])}' in html
    assert "Churn risk" in html and "12-month lifetime value" in html
    assert f"/customers/{shop.buyer}/export" in html
    assert f"/customers/{shop.buyer}/erase" in html


def test_rule_toggles_change_the_preview(admin: TestClient, shop: Shop) -> None:
    bought = set(
        shop.services.store.customer_history(shop.buyer)
        .filter(event_type="purchase")["item_id"]
        .to_list()
    )
    default = admin.get(f"/customers/{shop.buyer}")
    section = default.text.split('id="recs-for-you"')[1].split("</section>")[0]
    assert not any(f'/products/{item}"' in section for item in bought)
    unticked = admin.get(f"/customers/{shop.buyer}", params={"rules": "1", "diversity": "0.6"})
    assert unticked.status_code == 200
    assert 'name="exclude_purchased" value="1" checked' not in unticked.text
    assert '<option value="0.6" selected>' in unticked.text
    section = unticked.text.split('id="recs-for-you"')[1].split("</section>")[0]
    assert any(f'/products/{item}"' in section for item in bought)


@pytest.mark.parametrize(
    "params", [{"diversity": "0.42"}, {"n": "5000"}, {"n": "ten"}, {"diversity": "x"}]
)
def test_bad_toggles_are_a_friendly_400(
    admin: TestClient, shop: Shop, params: dict[str, str]
) -> None:
    response = admin.get(f"/customers/{shop.buyer}", params=params)
    assert response.status_code == 400
    assert "Check the input" in response.text and "Traceback" not in response.text


def test_unknown_customer_is_a_friendly_404(admin: TestClient, shop: Shop) -> None:
    response = admin.get(f"/customers/{shop.unknown_customer}")
    assert response.status_code == 404
    assert f"no customer with id &#39;{shop.unknown_customer}&#39;" in response.text
    assert "Traceback" not in response.text and "text/html" in response.headers["content-type"]
    assert admin.get(f"/customers/{shop.unknown_customer}/erase").status_code == 404
    assert admin.get(f"/customers/{shop.unknown_customer}/export").status_code == 404


def test_customer_search(admin: TestClient, shop: Shop) -> None:
    exact = admin.get("/customers", params={"q": shop.buyer})
    assert exact.status_code == 303 and exact.headers["location"] == f"/customers/{shop.buyer}"
    prefix = admin.get("/customers", params={"q": "C0000"})
    assert prefix.status_code == 200 and 'href="/customers/C000001"' in prefix.text
    unknown = admin.get("/customers", params={"q": shop.unknown_customer})
    assert unknown.status_code == 404 and "no customer with id" in unknown.text
    assert admin.get("/customers").status_code == 200


def test_product_page(admin: TestClient, shop: Shop) -> None:
    response = admin.get(f"/products/{shop.item}")
    assert response.status_code == 200
    html = response.text
    assert "Similar items" in html and "Frequently bought together" in html
    similar = shop.services.serving.similar(shop.item, 10)
    assert f'href="/products/{similar.items[0].item_id}"' in html
    top = next(t for t in shop.services.insights.stats()["top_items"] if t["item_id"] == shop.item)
    assert f'<dd id="item-buyers">{top["buyers"]:,}</dd>' in html
    assert "Buyers per country" in html
    assert "C0" not in html.split('id="who-h"')[1]  # counts only, no customer ids


def test_unknown_product_is_a_friendly_404(admin: TestClient) -> None:
    response = admin.get("/products/NOPE-123")
    assert response.status_code == 404 and "no product with id" in response.text


def test_models_page(admin: TestClient, shop: Shop) -> None:
    response = admin.get("/models")
    assert response.status_code == 200
    assert shop.services.serving.model_version is not None
    assert f"{shop.services.serving.model_version} (served)" in response.text
    assert "itemknn" in response.text
    assert "No tuning trials" in response.text  # trained with --model itemknn


def test_export_downloads_everything_held(admin: TestClient, shop: Shop) -> None:
    response = admin.get(f"/customers/{shop.buyer}/export")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    data = json.loads(response.text)
    assert data["customer"]["customer_id"] == shop.buyer and data["events"]
    entry = shop.services.audit.entries(1)[0]
    assert entry["action"] == "customer_export" and entry["actor"].startswith("dashboard:")


def test_erase_asks_for_confirmation_then_erases(admin: TestClient, shop: Shop) -> None:
    target = shop.erasable
    confirm = admin.get(f"/customers/{target}/erase")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    token = csrf_of(confirm.text)
    wrong = admin.post(
        f"/customers/{target}/erase", data={"confirm": "someone-else", "csrf_token": token}
    )
    assert wrong.status_code == 200 and "does not match" in wrong.text
    assert shop.services.store.customer(target) is not None
    done = admin.post(f"/customers/{target}/erase", data={"confirm": target, "csrf_token": token})
    assert done.status_code == 200 and f"Customer {target} erased" in done.text
    assert shop.services.store.customer(target) is None
    assert admin.get(f"/customers/{target}").status_code == 404


def test_support_console_generic_answer(admin: TestClient) -> None:
    form = admin.get("/support")
    assert form.status_code == 200 and '<label for="message">' in form.text
    response = admin.post(
        "/support", data={"message": "where is my parcel?", "csrf_token": csrf_of(form.text)}
    )
    assert response.status_code == 200
    assert '<strong id="intent">track order</strong>' in response.text


def test_support_console_empty_message_is_a_friendly_400(admin: TestClient) -> None:
    form = admin.get("/support")
    response = admin.post("/support", data={"message": " ", "csrf_token": csrf_of(form.text)})
    assert response.status_code == 400 and "message first" in response.text


@needs_marketing
def test_support_console_with_a_customer_card(admin: TestClient, shop: Shop) -> None:
    form = admin.get("/support", params={"customer": shop.buyer})
    assert f'value="{shop.buyer}"' in form.text
    response = admin.post(
        "/support",
        data={
            "customer": shop.buyer,
            "message": "I want to cancel my order",
            "csrf_token": csrf_of(form.text),
        },
    )
    assert response.status_code == 200
    assert '<strong id="intent">cancel order</strong>' in response.text
    assert "Customer card" in response.text and "Recent orders" in response.text
    # the agent sees which order the answer is about, and how it was found
    assert 'id="match"' in response.text and 'id="matched-order"' in response.text


@needs_marketing
def test_segments_page_and_audience_download(admin: TestClient, shop: Shop) -> None:
    page = admin.get("/segments")
    assert page.status_code == 200
    assert "Customers per segment" in page.text and 'id="segment-table"' in page.text
    segment = re.search(r'<option value="([^"]+)">', page.text)
    assert segment is not None
    response = admin.post(
        "/segments/audience",
        data={
            "segment": segment.group(1),
            "min_clv": "",
            "n_items": "3",
            "csrf_token": csrf_of(page.text),
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines()[0].startswith("Email Address,customer_id")
    entry = shop.services.audit.entries(1)[0]
    assert entry["action"] == "campaign_audience" and entry["actor"].startswith("dashboard:")
    assert entry["details"]["rows"] == len(response.text.splitlines()) - 1


def test_static_stylesheet_is_served(client: TestClient) -> None:
    response = client.get("/static/dashboard.css")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/css")
    assert client.get("/static/secrets.txt").status_code == 404


def test_pages_reference_no_other_host(admin: TestClient, shop: Shop) -> None:
    paths = [
        "/",
        "/customers",
        f"/customers/{shop.buyer}",
        f"/customers/{shop.buyer}/erase",
        f"/products/{shop.item}",
        "/segments",
        "/models",
        "/fairness",
        "/support",
        "/sign-in",
        f"/customers/{shop.unknown_customer}",
    ]
    for path in paths:
        response = admin.get(path)
        assert response.status_code < 500, path
        assert external_references(response.text) == [], path
        assert "<script" not in response.text, path
        assert "default-src 'none'" in response.headers["content-security-policy"]
    css = admin.get("/static/dashboard.css").text
    assert external_references(css) == [] and "@import" not in css


# -- before any training ------------------------------------------------------------------------
@pytest.fixture
def untrained(tmp_path: Path) -> Iterator[TestClient]:
    """A dashboard over a store with a little data and no model yet, signed in."""
    services = build(Settings(home=tmp_path))
    with services.store.writer() as writer:
        writer.upsert_items(tiny_items())
        writer.add_events(tiny_events())
    key = services.keys.create(["admin"]).key
    app = FastAPI()
    app.include_router(create_dashboard(lambda: services, secret=SECRET))
    with TestClient(app, follow_redirects=False) as client:
        yield sign_in(client, key)
    services.store.close()


def test_without_a_model_pages_say_to_train(untrained: TestClient) -> None:
    overview = untrained.get("/")
    assert overview.status_code == 200
    assert "No model has been trained yet: run `storewise train`." in overview.text
    customer = untrained.get("/customers/c1")
    assert customer.status_code == 200
    assert "run `storewise train`" in customer.text
    models = untrained.get("/models")
    assert models.status_code == 200 and "run `storewise train`" in models.text
    product = untrained.get("/products/i1")
    assert product.status_code == 200 and "run `storewise train`" in product.text
    fairness = untrained.get("/fairness")
    assert fairness.status_code == 200 and "run `storewise train`" in fairness.text


def test_dashboard_can_live_under_a_prefix(shop: Shop) -> None:
    app = FastAPI()
    app.include_router(create_dashboard(lambda: shop.services, secret=SECRET), prefix="/admin")
    with TestClient(app, follow_redirects=False) as client:
        first = client.get("/admin/models")
        assert first.headers["location"] == "/admin/sign-in?next=%2Fadmin%2Fmodels"
        form = client.get(first.headers["location"])
        assert 'action="/admin/sign-in"' in form.text and "/admin/static/dashboard.css" in form.text
        done = client.post(
            "/admin/sign-in",
            data={
                "api_key": shop.admin_key,
                "csrf_token": csrf_of(form.text),
                "next": "/admin/models",
            },
        )
        assert done.headers["location"] == "/admin/models"
        page = client.get("/admin/models")
        assert page.status_code == 200 and 'href="/admin/customers"' in page.text
