"""The dashboard in a real browser: Debian's chromium driven by Playwright, against a real
uvicorn server on a free port. Screenshots of each step go to ``test-artifacts/``."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from storewise.app import Plan
from storewise.web import create_dashboard
from tests.web.shop import SECRET, Shop, shop
from tests.web.test_experiment_pages import run

__all__ = ["shop"]

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def dashboard_app(shop: Shop) -> FastAPI:
    """The API app (``create_app``) with the dashboard, as ``storewise serve`` runs it."""
    from storewise.api import create_app

    app = create_app(shop.settings, services=shop.services)
    if not any(getattr(r, "name", None) == "dashboard.overview" for r in app.routes):
        app.include_router(create_dashboard(lambda: shop.services, secret=SECRET))
    return app


@pytest.fixture(scope="module")
def server(shop: Shop) -> Iterator[str]:
    """A real uvicorn server in a background thread; yields its base URL."""
    port = _free_port()
    config = uvicorn.Config(
        dashboard_app(shop), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="dashboard-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the uvicorn server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium (never a downloaded browser); skipped only outside CI if absent."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI must have chromium at {CHROMIUM} (apt-get install -y chromium)")
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (absent on this machine)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: object, server: str) -> Iterator[object]:
    """A fresh browser page (own cookies) that accepts downloads."""
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(base_url=server, accept_downloads=True)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    yield tab
    context.close()


def shot(page: object, name: str) -> None:
    """Save a full-page screenshot as a test artifact."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)  # type: ignore[attr-defined]


def sign_in(page: object, key: str) -> None:
    """Sign in through the form with the keyboard-reachable label."""
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))
    page.get_by_label("Admin API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def test_dashboard_flow(page: object, shop: Shop, tmp_path: Path) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    # sign-in with a wrong key shows an error, then the admin key works
    page.goto("/sign-in")
    page.get_by_label("Admin API key").fill("sw_000000000000_" + "x" * 43)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("unknown, revoked")
    shot(page, "01-sign-in-refused")
    sign_in(page, shop.admin_key)

    # overview with numbers and a chart
    stats = shop.services.insights.stats()
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
    expect(page.locator("#kpi-customers")).to_have_text(f"{stats['customers']:,}")
    expect(page.locator("#kpi-orders")).to_have_text(f"{stats['orders']:,}")
    expect(page.get_by_role("img", name="Active customers per month")).to_be_visible()
    expect(page.locator("#model-version")).to_have_text(str(shop.services.serving.model_version))
    shot(page, "02-overview")

    # search a customer, see recommendations with reasons; preview a rule
    page.get_by_role("link", name="Customers").click()
    page.get_by_label("Customer id").fill(shop.buyer)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Customer {shop.buyer}")).to_be_visible()
    for_you = page.locator("section.ranked", has=page.get_by_role("heading", name="For you"))
    expect(for_you.first.locator("ol.recs > li")).to_have_count(10)
    expect(for_you.first.locator("ul.reasons li").first).not_to_be_empty()
    expect(page.get_by_role("heading", name="Buy again")).to_be_visible()
    shot(page, "03-customer")
    page.get_by_label("Exclude purchased items").uncheck()
    page.get_by_label("Diversity").select_option("0.3")
    page.get_by_role("button", name="Preview").click()
    expect(page).to_have_url(re.compile(r"diversity=0\.3"))
    expect(page.get_by_label("Exclude purchased items")).not_to_be_checked()

    # export the customer's data (a download)
    with page.expect_download() as exported:
        page.get_by_role("link", name="Export all data (JSON)").click()
    assert shop.buyer in exported.value.path().read_text()

    # open a product from a recommendation
    first = for_you.first.locator("ol.recs > li a").first
    title = first.inner_text()
    first.click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Similar items")).to_be_visible()
    expect(page.get_by_role("heading", name="Who buys it")).to_be_visible()
    shot(page, "04-product")

    # segments: build an audience and download the CSV
    page.get_by_role("link", name="Segments & campaigns").click()
    expect(page.get_by_role("img", name="Customers per segment")).to_be_visible()
    shot(page, "05-segments")
    with page.expect_download() as audience:
        page.get_by_role("button", name="Download audience CSV").click()
    csv_path = tmp_path / "audience.csv"
    audience.value.save_as(csv_path)
    assert csv_path.read_text().splitlines()[0].startswith("Email Address,customer_id")
    shutil.copy(csv_path, ARTIFACTS / "dashboard-audience.csv")

    # models
    page.get_by_role("link", name="Models").click()
    expect(page.get_by_text(f"{shop.services.serving.model_version} (served)")).to_be_visible()
    shot(page, "06-models")

    # support console with a customer's card
    page.get_by_role("link", name="Support").click()
    page.get_by_label("Customer id (optional)").fill(shop.buyer)
    page.get_by_label("Customer's message").fill("I want to cancel my order")
    page.get_by_role("button", name="Suggest answers").click()
    expect(page.locator("#intent")).to_have_text("cancel order")
    expect(page.get_by_role("heading", name="Customer card")).to_be_visible()
    shot(page, "07-support")

    # an unknown customer is a friendly page, not a stack trace
    response = page.goto(f"/customers/{shop.unknown_customer}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_text(f"no customer with id '{shop.unknown_customer}'")).to_be_visible()
    assert "Traceback" not in page.content()
    shot(page, "08-unknown-customer")


def test_keyboard_reaches_navigation_and_no_request_leaves_the_server(
    page: object, shop: Shop, server: str
) -> None:
    from playwright.sync_api import Page, Request, expect

    assert isinstance(page, Page)
    requested: list[str] = []

    def record(request: Request) -> None:
        requested.append(request.url)

    page.on("request", record)
    sign_in(page, shop.admin_key)
    expect(page.locator("#kpi-customers")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Overview")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_be_visible()
    assert requested and all(url.startswith(server) for url in requested), requested


def test_experiment_page_draws_its_charts(page: object, shop: Shop) -> None:
    """An experiment with served lists and clicks: its page and the recommendations page
    draw their charts, styled by the stylesheet, with nothing wrong in the console."""
    from playwright.sync_api import ConsoleMessage, Page, expect

    assert isinstance(page, Page)
    shop.services.experiments.create(
        "browser-ab",
        placement="for-you",
        variants=[{"name": "control"}, {"name": "popular", "model": "popular"}],
        plan=Plan(primary_metric="clicked", guardrails=("clicks", "orders")),
        name="Popular picks in the browser",
        start=True,
    )
    run(shop.services, "browser-ab", "for-you", {"control": 12, "popular": 12})
    problems: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type in {"error", "warning"}:
            problems.append(f"{message.type}: {message.text}")

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    sign_in(page, shop.admin_key)
    expect(page.locator("#kpi-customers")).to_be_visible()

    page.get_by_role("link", name="Experiments", exact=True).click()
    expect(page.get_by_role("heading", name="Experiments", exact=True)).to_be_visible()
    expect(page.locator("#experiment-browser-ab")).to_contain_text("stopped")
    page.get_by_role("link", name="browser-ab", exact=True).click()
    expect(page.get_by_role("heading", name="Experiment browser-ab")).to_be_visible()
    expect(page.locator("#units")).to_contain_text("12")
    forest = page.get_by_role(
        "img", name="Relative lift over control with its 95% interval, per metric"
    )
    expect(forest).to_be_visible()
    expect(forest.locator("g.interval.primary circle")).to_have_count(1)
    box = forest.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    stroke = forest.locator("g.interval.primary line.ci").first.evaluate(
        "line => getComputedStyle(line).stroke"
    )
    assert stroke == "rgb(31, 95, 191)"  # the stylesheet's series colour reached the chart
    lift = page.get_by_role("img", name="Cumulative relative lift of clicked over control")
    expect(lift).to_be_visible()
    expect(lift.locator("circle").first).to_be_visible()
    expect(page.locator("#metrics tbody tr").first).to_contain_text("primary")
    expect(page.locator("#srm-warning")).to_have_count(0)
    shot(page, "09-experiment")

    page.get_by_role("link", name="Recommendations", exact=True).click()
    expect(page.get_by_role("img", name="Lists served per day")).to_be_visible()
    page.get_by_label("Period").select_option("7")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"days=7"))
    expect(page.locator("#by-placement")).to_contain_text("for-you")
    shot(page, "10-recommendations")
    assert problems == [], problems
