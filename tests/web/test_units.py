"""Small parts of the dashboard: charts, the figures cache, form parsing, services figures."""

from __future__ import annotations

import threading
import time

import pytest

from storewise.errors import InputError
from storewise.web.charts import hbar_chart, line_chart, number
from storewise.web.pages import OverviewCache, RuleToggles, parse_number
from tests.web.shop import Shop


def test_charts_escape_labels_and_name_themselves() -> None:
    svg = hbar_chart([("<b>Tom & Jerry</b>", 3.0), ("plain", 1.5)], title="A <title>")
    assert svg.startswith('<svg class="chart" role="img"')
    assert "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;" in svg and "<b>" not in svg
    assert "A &lt;title&gt;" in svg
    assert "http" not in svg and "style=" not in svg
    line = line_chart(["2024-01", "2024-02"], {"orders": [1.0, float("nan")]}, title="Orders")
    assert "<polyline" in line and "nan" not in line.lower()


def test_charts_without_data_say_so() -> None:
    assert "no data" in hbar_chart([], title="Nothing")
    assert "no data" in line_chart([], {"x": []}, title="Nothing")


def test_number_formatting() -> None:
    assert number(1234.0) == "1,234"
    assert number(12.345) == "12.35"
    assert number(0.1234) == "0.123"
    assert number(float("inf")) == "-"


def test_cache_serves_stale_figures_while_refreshing() -> None:
    cache = OverviewCache(seconds=0.0)
    calls: list[int] = []
    release = threading.Event()

    def compute() -> int:
        calls.append(1)
        if len(calls) > 1:
            release.wait(5)
        return len(calls)

    assert cache.get("k", compute) == 1
    time.sleep(0.01)
    started = time.perf_counter()
    assert cache.get("k", compute) == 1  # stale, answered at once; a refresh runs
    assert time.perf_counter() - started < 1.0
    release.set()
    deadline = time.monotonic() + 5
    while cache.get("k", compute) != 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cache.get("k", lambda: 99) in (2, 3)


def test_cache_warm_computes_once_for_concurrent_callers() -> None:
    cache = OverviewCache()
    calls: list[int] = []

    def slow() -> str:
        calls.append(1)
        time.sleep(0.2)
        return "figures"

    cache.warm({"k": slow})
    time.sleep(0.05)
    assert cache.get("k", slow) == "figures"  # waits for the warm-up, does not recompute
    assert len(calls) == 1
    cache.clear()
    assert cache.get("k", lambda: "again") == "again"


def test_rule_toggles_from_the_form() -> None:
    assert RuleToggles.from_query("", "", "", "0", "10") == RuleToggles()
    ticked = RuleToggles.from_query("1", "", "on", "0.3", "5")
    assert ticked == RuleToggles(False, True, 0.3, 5)
    rules = ticked.rules(allow_repurchase=True)
    assert rules.allow_repurchase and rules.diversity == 0.3 and not rules.exclude_purchased
    with pytest.raises(InputError):
        RuleToggles.from_query("1", "", "", "0.5", "10")
    with pytest.raises(InputError):
        parse_number("nan", "x", 0, 1)
    with pytest.raises(InputError):
        parse_number("2.5", "x", integer=True)


def test_monthly_activity_adds_up_to_the_store_figures(shop: Shop) -> None:
    months = shop.services.insights.activity()
    stats = shop.services.insights.stats()
    assert [m.month for m in months] == sorted(m.month for m in months)
    assert months[0].month == stats["date_range"]["first"][:7]
    assert sum(m.revenue for m in months) == pytest.approx(stats["revenue"], abs=0.05)
    assert sum(m.orders for m in months) >= stats["orders"]  # an order may span two months
    assert max(m.active_customers for m in months) <= stats["customers"]


def test_customer_search_escapes_wildcards(shop: Shop) -> None:
    assert shop.services.insights.search_customers("C00000") == [f"C00000{i}" for i in range(1, 10)]
    assert shop.services.insights.search_customers("%") == []
    assert shop.services.insights.search_customers("C_0") == []
