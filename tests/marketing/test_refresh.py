"""Marketing's cache follows the store's change sequence; in a server it refreshes off the
request path (requests keep the previous analysis until the background refresh ran)."""

from __future__ import annotations

from datetime import UTC, datetime

from storewise.app import Services


def _late_purchase(services: Services) -> None:
    """A purchase at the store's latest event time (a purchase dated today would lie far after
    the synthetic shop's history and be left out of the analysis)."""
    last = services.store.events().get_column("ts").max()
    assert isinstance(last, int)
    late = datetime.fromtimestamp(last / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    report = services.ingest.records(
        "events",
        [{"customer_id": "late", "item_id": "I00001", "event_type": "purchase",
          "timestamp": late, "price": 3.0}],
    )  # fmt: skip
    assert report.stored == 1


def test_inline_mode_recomputes_when_the_store_changed(trained_services: Services) -> None:
    services = trained_services
    marketing = services.marketing
    marketing.check_seconds = 0.0
    assert marketing.customer_value("late") is None
    assert not marketing.refresh()  # nothing written since: no recomputation
    _late_purchase(services)
    assert marketing.customer_value("late") is not None


def test_background_mode_answers_from_the_previous_analysis(trained_services: Services) -> None:
    services = trained_services
    marketing = services.marketing
    marketing.refresh_in_background = True
    marketing.check_seconds = 0.0
    before = marketing.segments()
    _late_purchase(services)
    assert marketing.customer_value("late") is None  # the request did not recompute
    assert marketing.segments() == before
    assert marketing.refresh()  # what the server's background thread runs
    assert marketing.customer_value("late") is not None
    assert not marketing.refresh()


def test_erasure_drops_cached_figures(trained_services: Services) -> None:
    services = trained_services
    marketing = services.marketing
    customer = services.customers.most_active(1)[0]
    assert marketing.customer_value(customer) is not None
    services.customers.erase(customer, actor="test")
    assert marketing.customer_value(customer) is None
