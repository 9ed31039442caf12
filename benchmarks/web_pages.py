"""Dashboard benchmark: server-side render time of every page on the Online Retail data.

Ingests ``../shared/datasets/online-retail/online_retail.csv.gz`` (preset ``online-retail``)
and trains (tuning, as ``storewise train`` does) into a cached home folder the first time,
loads the Bitext support sample, then renders each page through the ASGI app and reads the
``Server-Timing`` header each page sets (time inside the handler: services calls + template).
The first render of a page (cold: catalog, marketing analysis, caches filled) is reported
apart from the median and worst of the next ``--repeat`` renders. Target: < 500 ms a page.

Run from the repository root: ``python -m benchmarks.web_pages [--home DIR] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time
from pathlib import Path

import polars as pl

from storewise.app import Services, build, single_threaded_blas
from storewise.errors import ArtifactError

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets"
RETAIL = DATA / "online-retail" / "online_retail.csv.gz"
BITEXT = DATA / "customer-support" / "bitext_customer_support_sample.csv.gz"
DEFAULT_HOME = ROOT / "benchmarks" / ".cache" / "web-online-retail"
TARGET_MS = 500.0
SECRET = b"benchmark-secret-not-for-production"


def prepare(home: Path) -> Services:
    """An services over Online Retail, ingested, trained and with a support KB (cached)."""
    from storewise.ingest.pipeline import ingest
    from storewise.recommend.training import train
    from storewise.settings import Settings

    services = build(Settings(home=home))
    if services.insights.stats()["events"]["total"] == 0:
        started = time.perf_counter()
        ingest(services.store, "orders", [RETAIL], preset="online-retail")
        print(f"ingested Online Retail in {time.perf_counter() - started:.0f} s")
    try:
        trained = services.serving.model_version is not None
    except ArtifactError as exc:  # a bundle from an older storewise: train again
        print(f"retraining: {exc.message}")
        trained = False
    if not trained:
        started = time.perf_counter()
        train(services.store, services.settings.bundles_dir)
        print(f"trained in {time.perf_counter() - started:.0f} s")
    if not (home / "support" / "kb.json").exists():
        services.support.load_kb([BITEXT])
    return services


def server_ms(response: object) -> float:
    """The handler's own time from the ``Server-Timing`` header."""
    header = response.headers["server-timing"]  # type: ignore[attr-defined]
    found = re.search(r"dur=([0-9.]+)", header)
    assert found, header
    return float(found.group(1))


def main() -> None:
    """Render every page and print cold, median and worst server times."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    single_threaded_blas()
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from storewise.web import create_dashboard

    services = prepare(args.home)
    stats = services.insights.stats()
    key = services.keys.create(["admin"], name="web benchmark").key
    app = FastAPI()
    app.include_router(create_dashboard(lambda: services, secret=SECRET))
    client = TestClient(app, follow_redirects=False)
    form = client.get("/sign-in").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    client.post("/sign-in", data={"api_key": key, "csrf_token": token.group(1)})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/models").text)
    assert csrf
    top = services.store.events().filter(pl.col("event_type") == "purchase")["customer_id"]
    buyer = str(top.drop_nulls().value_counts(sort=True)["customer_id"][0])
    item = str(stats["top_items"][0]["item_id"])
    print(
        f"Online Retail: {stats['customers']:,} customers, {stats['items']:,} items, "
        f"{stats['events']['total']:,} events; model {services.serving.model_version}; "
        f"customer {buyer} ({services.store.customer_history(buyer).height:,} events), item {item}"
    )
    pages: list[tuple[str, str, str, dict[str, str] | None]] = [
        ("overview", "GET", "/", None),
        ("customer 360", "GET", f"/customers/{buyer}", None),
        (
            "customer 360, rules",
            "GET",
            f"/customers/{buyer}?rules=1&diversity=0.3&in_stock_only=1",
            None,
        ),
        ("customer search", "GET", "/customers?q=123", None),
        ("product", "GET", f"/products/{item}", None),
        ("segments", "GET", "/segments", None),
        ("models", "GET", "/models", None),
        (
            "support answer",
            "POST",
            "/support",
            {
                "customer": buyer,
                "message": "I want to cancel my last order",
                "csrf_token": csrf.group(1),
            },
        ),
        (
            "audience CSV (Champions)",
            "POST",
            "/segments/audience",
            {"segment": "Champions", "n_items": "4", "csrf_token": csrf.group(1)},
        ),
    ]
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'page':<28}{'status':>7}{'cold ms':>10}{'median ms':>11}{'max ms':>9}  target")
    for name, method, path, data in pages:
        timings = []
        status = 0
        for _ in range(args.repeat + 1):
            response = client.request(method, path, data=data)
            status = response.status_code
            timings.append(server_ms(response))
        warm = timings[1:]
        median = statistics.median(warm)
        verdict = "ok" if median < TARGET_MS else "OVER"
        print(
            f"{name:<28}{status:>7}{timings[0]:>10.1f}{median:>11.1f}{max(warm):>9.1f}  {verdict}"
        )


if __name__ == "__main__":
    main()
