"""Operations: readiness, Prometheus metrics, the offline docs page, OpenAPI."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from storewise.api.metrics import Metrics, merge, render
from tests.api.shop import Shop


def test_metrics_count_routes_by_template(client: TestClient, shop: Shop) -> None:
    """Counts and latency histograms per route template, events ingested, model version;
    raw paths (which hold customer ids) never appear."""
    customer = shop.customers[4]
    headers = shop.headers("shop")
    for _ in range(3):
        client.get(f"/v1/customers/{customer}/recommendations", headers=headers)
    client.post(
        "/v1/events",
        json=[
            {"event_id": "m-1", "event_type": "view", "customer_id": "met-c", "item_id": "I00001"},
            {"event_id": "m-1", "event_type": "view", "customer_id": "met-c", "item_id": "I00001"},
            {"event_type": "view", "customer_id": "met-c", "item_id": "I00001", "timestamp": 1},
        ],
        headers=headers,
    )
    text = client.get("/metrics").text
    route = 'route="/v1/customers/{customer_id}/recommendations"'
    count = re.search(
        r'storewise_http_requests_total\{method="GET",'
        + re.escape(route)
        + r',status="200"\} (\d+)',
        text,
    )
    assert count is not None and int(count.group(1)) >= 3
    assert (
        f'storewise_http_request_duration_seconds_bucket{{method="GET",{route},le="+Inf"}}' in text
    )
    assert 'storewise_events_ingested_total{outcome="duplicate"}' in text
    assert re.search(r'storewise_events_ingested_total\{outcome="rejected"\} [1-9]', text)
    version = client.get("/ready").json()["model_version"]
    assert f'storewise_model_info{{version="{version}"}} 1' in text
    assert customer not in text and "met-c" not in text


def test_metrics_merge_and_histogram_are_cumulative() -> None:
    """Worker snapshots add up; buckets are cumulative and end with the count."""
    a, b = Metrics(), Metrics()
    a.observe("GET", "/x", 200, 0.002)
    b.observe("GET", "/x", 200, 0.2)
    b.observe("GET", "/x", 500, 3.0)
    text = render(
        merge([a.snapshot(), b.snapshot()]), model_version=None, reload_error=False, workers=2
    )
    assert 'storewise_http_requests_total{method="GET",route="/x",status="200"} 2' in text
    assert 'le="0.0025"} 1' in text and 'le="0.25"} 2' in text and 'le="+Inf"} 3' in text
    assert 'storewise_http_request_duration_seconds_count{method="GET",route="/x"} 3' in text
    assert "storewise_api_workers 2" in text


def test_docs_page_is_offline(client: TestClient) -> None:
    """/docs lists operations from the schema and loads nothing from elsewhere."""
    page = client.get("/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/v1/customers/{customer_id}/recommendations" in page.text
    assert "/openapi.json" in page.text
    assert "<script" not in page.text and "http://" not in page.text and "https://" not in page.text
    assert client.get("/redoc").status_code == 404


def test_openapi_documents_auth_and_limits(client: TestClient) -> None:
    """The schema declares both key headers, the batch limit and the n range."""
    schema = client.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}
    events = schema["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]
    assert events["schema"]["oneOf"][1]["maxItems"] == 1000
    params = schema["paths"]["/v1/trending"]["get"]["parameters"]
    n = next(p for p in params if p["name"] == "n")["schema"]
    assert (n["minimum"], n["maximum"]) == (1, 100)


def test_a_bad_bundle_is_refused_and_the_old_one_serves(fresh_shop: Shop) -> None:
    """A tampered new bundle is refused (ready warns, metrics flag it), answers keep coming
    from the old one; a good bundle published next is picked up without a restart."""
    import shutil
    import time

    from fastapi.testclient import TestClient

    from storewise import artifacts
    from storewise.api import create_app
    from storewise.recommend.training import train
    from storewise.store import open_store

    models = fresh_shop.home / "models"
    old = artifacts.current_version(models)
    assert old is not None
    path = f"/v1/customers/{fresh_shop.customers[0]}/recommendations"
    headers = fresh_shop.headers("read")
    with TestClient(create_app(fresh_shop.settings())) as api:
        assert api.get(path, headers=headers).json()["model_version"] == old
        bad = "29991231T000000Z-bad000"
        shutil.copytree(models / old, models / bad)
        arrays = next((models / bad).glob("*.npz"))
        arrays.write_bytes(arrays.read_bytes()[:-4] + b"oops")
        (models / "CURRENT").write_text(bad)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and "warning" not in api.get("/ready").json():
            response = api.get(path, headers=headers)
            assert response.status_code == 200 and response.json()["model_version"] == old
            time.sleep(0.2)
        assert "refused" in api.get("/ready").json()["warning"]
        assert "storewise_model_reload_failed 1" in api.get("/metrics").text
        assert api.get(path, headers=headers).json()["model_version"] == old
        store = open_store(fresh_shop.settings())
        try:
            new = train(store, models, model="itemknn").version
        finally:
            store.close()
        deadline = time.monotonic() + 15
        seen = old
        while time.monotonic() < deadline and seen != new:
            seen = api.get(path, headers=headers).json()["model_version"]
            time.sleep(0.2)
        assert seen == new
        assert "warning" not in api.get("/ready").json()


def test_api_connections_use_a_small_sqlite_cache(client: TestClient) -> None:
    """Serving connections get the configured page cache, not the import-sized one."""
    services = client.app.state.services  # type: ignore[attr-defined]
    with services.store.engine.connect() as conn:
        size = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    assert size == -8 * 1024


def test_a_server_started_on_a_corrupt_newest_bundle_serves_the_previous_one(
    fresh_shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    """No 503 while a good bundle is on disk: the newest valid one serves, /ready says which
    was refused, and the refusal is logged once, not on every check."""
    import logging
    import shutil
    import time

    from fastapi.testclient import TestClient

    from storewise import artifacts
    from storewise.api import create_app

    models = fresh_shop.home / "models"
    good = artifacts.current_version(models)
    assert good is not None
    bad = "29991231T000000Z-bad111"
    shutil.copytree(models / good, models / bad)
    manifest = models / bad / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"kind"', '"kinf"', 1))
    (models / "CURRENT").write_text(bad)
    path = f"/v1/customers/{fresh_shop.customers[0]}/recommendations"
    with (
        caplog.at_level(logging.ERROR, logger="storewise"),
        TestClient(create_app(fresh_shop.settings())) as api,
    ):
        answer = api.get(path, headers=fresh_shop.headers("read"))
        assert answer.status_code == 200 and answer.json()["model_version"] == good
        ready = api.get("/ready")
        assert ready.status_code == 200
        assert bad in ready.json()["warning"] and good in ready.json()["warning"]
        time.sleep(2.5)  # more than one reload check
        api.get(path, headers=fresh_shop.headers("read"))
    assert caplog.text.count(f"model bundle {bad} refused") == 1


def test_warming_waits_for_gaps_in_the_traffic(trained_services: object) -> None:
    """Metrics call a worker busy during a request and just after it; warming answers nobody
    while busy and resumes in a gap."""
    import threading
    import time

    from storewise.api.metrics import IDLE_SECONDS

    metrics = Metrics()
    assert not metrics.busy()
    metrics.in_flight = 1
    assert metrics.busy()
    metrics.in_flight = 0
    metrics.last_finished = time.monotonic()
    assert metrics.busy()  # a request just ended: traffic is still flowing
    time.sleep(IDLE_SECONDS * 1.5)
    assert not metrics.busy()

    engine = trained_services.serving  # type: ignore[attr-defined]
    gate = threading.Event()
    done: list[int] = []
    worker = threading.Thread(
        target=lambda: done.append(engine.warm(5, busy=lambda: not gate.is_set()))
    )
    worker.start()
    time.sleep(0.2)
    assert not done and not engine._answers  # busy: nothing answered yet
    gate.set()
    worker.join(timeout=30)
    assert done and done[0] > 0 and engine._answers
