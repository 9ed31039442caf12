"""The shop's website in a real browser: the demo shop (``storewise serve --demo-shop``) with
``storewise.js`` and its widgets, served by a real uvicorn server, driven by Debian's chromium
through Playwright.

A guest who consents browses three products and sees "for you" change, clicks a
recommendation, logs in (the guest history joins the account), buys, and sees the bought item
leave "for you" while the attributed orders rise. A guest who refuses gets no cookie and
leaves no event. Headless chromium announces itself as ``HeadlessChrome`` (a bot, rightly
dropped), so the pages are visited with an ordinary desktop Chrome user agent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import uvicorn

from storewise.api import create_app
from storewise.app import Services, build
from tests.api.shop import build_shop
from tests.e2e.test_dashboard import ARTIFACTS, _free_port, browser

__all__ = ["browser"]

pytestmark = pytest.mark.browser

DESKTOP_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
WAIT_S = 20.0


@dataclass
class Site:
    """The running demo shop and the services behind it."""

    url: str
    services: Services
    customer: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A trained shop served with the demo shop's pages on a free port."""
    shop = build_shop(tmp_path_factory.mktemp("website") / "home")
    port = _free_port()
    settings = shop.settings(api_key_cache_seconds=0.0)
    with build(settings) as services:
        key = services.keys.create(
            ["collect"], name="demo shop", origins=[f"http://127.0.0.1:{port}"]
        ).key
    app = create_app(settings, demo_shop_key=key)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="website-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the uvicorn server did not start")
        time.sleep(0.05)
    yield Site(f"http://127.0.0.1:{port}", app.state.services, shop.customers[0])
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    """A fresh visitor: own cookies and storage, an ordinary browser's user agent."""
    context = browser.new_context(base_url=site.url, user_agent=DESKTOP_CHROME)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    yield tab
    context.close()


def until(check: Callable[[], Any], what: str) -> Any:
    """Poll ``check`` until it returns something truthy (the snippet sends in the background)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def widget_items(page: Any, widget: str) -> list[str]:
    """The item ids a widget shows, once it has drawn a list."""
    page.wait_for_selector(f"#{widget}[data-storewise-state=ready] .sw-item")
    ids: list[str] = page.eval_on_selector_all(
        f"#{widget} .sw-item", "els => els.map(e => e.getAttribute('data-item-id'))"
    )
    return ids


def events_of(services: Services, anonymous_id: str) -> pl.DataFrame:
    events = services.store.events()
    return events.filter(pl.col("anonymous_id") == anonymous_id)


def orders_attributed(services: Services) -> int:
    figures = services.experiments.analytics(days=1)
    return sum(int(row.get("orders") or 0) for row in figures["by_placement"])


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(Path(ARTIFACTS) / f"website-{name}.png"), full_page=True)


def test_a_guest_browses_logs_in_and_buys(page: Any, site: Site) -> None:
    services = site.services
    orders_before = orders_attributed(services)
    page.goto("/demo-shop/")
    page.get_by_role("button", name="Accept").click()
    cookie = until(
        lambda: [c for c in page.context.cookies() if c["name"] == "sw_aid"], "the cookie"
    )
    anonymous_id = cookie[0]["value"]
    cold = widget_items(page, "for-you")
    products = page.eval_on_selector_all(
        ".grid a.card", "els => els.map(e => e.getAttribute('href'))"
    )
    viewed = [href.rsplit("/", 1)[1] for href in products[10:13]]

    for item in viewed:
        page.goto(f"/demo-shop/items/{item}")
        page.wait_for_selector("#similar[data-storewise-state]", state="attached")
        page.evaluate("storewise.flush()")
    until(lambda: events_of(services, anonymous_id).height >= 3, "three stored views")
    shot(page, "product")

    page.goto("/demo-shop/")
    personal = widget_items(page, "for-you")
    assert personal != cold, "for you did not change after three product views"
    shot(page, "for-you-guest")

    clicked = personal[0]
    page.click(f"#for-you .sw-item[data-item-id='{clicked}']")
    page.wait_for_url(f"**/demo-shop/items/{clicked}")
    tables = services.experiments.tables
    until(
        lambda: (tables.feedback().filter(pl.col("kind") == "click")["item_id"] == clicked).any(),
        "the click on the recommendation",
    )

    page.fill("#customer", site.customer)
    page.get_by_role("button", name="Log in").click()
    until(
        lambda: services.store.resolve_anonymous(anonymous_id) == site.customer,
        "the login to link the guest",
    )
    consent = services.store.consent_of(site.customer)  # the banner's decisions, recorded
    assert consent == {"analytics": True, "personalization": True, "marketing": False}
    history = services.store.customer_history(site.customer)
    assert set(viewed) <= set(history.filter(pl.col("anonymous_id") == anonymous_id)["item_id"])

    page.get_by_role("button", name="Buy now").click()
    page.wait_for_selector("#status:has-text('thank you')")

    def bought() -> bool:
        mine = services.store.customer_history(site.customer)
        purchases = mine.filter(pl.col("event_type") == "purchase", pl.col("item_id") == clicked)
        return purchases.height > 0

    until(bought, "the purchase")
    shot(page, "bought")

    page.goto("/demo-shop/")
    after = widget_items(page, "for-you")
    assert clicked not in after
    until(lambda: orders_attributed(services) > orders_before, "the attributed order")
    shot(page, "for-you-customer")


def test_a_guest_who_refuses_gets_no_cookie_and_leaves_no_event(page: Any, site: Site) -> None:
    services = site.services
    before = services.store.events().height
    page.goto("/demo-shop/")
    page.get_by_role("button", name="Refuse").click()
    widget_items(page, "trending")
    href = page.get_attribute(".grid a.card", "href")
    page.goto(href)
    page.wait_for_selector("#similar[data-storewise-state]", state="attached")
    page.get_by_role("button", name="Add to cart").click()
    page.evaluate("storewise.track('view_item', {item_id: 'x'}); storewise.flush()")
    page.fill("#customer", site.customer)
    page.get_by_role("button", name="Log in").click()
    time.sleep(1.5)  # longer than the snippet's batching delay
    assert page.context.cookies() == []
    assert page.evaluate("localStorage.getItem('sw_state')") is None
    assert services.store.events().height == before
    shot(page, "refused")


def test_a_headless_browser_is_dropped_as_a_bot(browser: Any, site: Site) -> None:
    context = browser.new_context(base_url=site.url)  # HeadlessChrome in its user agent
    try:
        tab = context.new_page()
        tab.goto("/demo-shop/")
        tab.get_by_role("button", name="Accept").click()
        href = tab.get_attribute(".grid a.card", "href")
        tab.goto(href)
        tab.evaluate("storewise.flush()")
        anonymous_id = until(
            lambda: [c["value"] for c in context.cookies() if c["name"] == "sw_aid"], "cookie"
        )[0]
        time.sleep(1.5)
        assert events_of(site.services, anonymous_id).height == 0
    finally:
        context.close()
