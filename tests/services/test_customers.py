"""The customers service: profile facts, consent, export (audited) and erasure with hooks."""

from __future__ import annotations

import pytest

from storewise.app import Services
from storewise.errors import InputError, NotFound


def _buyer(services: Services) -> str:
    return services.customers.most_active(1)[0]


class Recorder:
    """An erasure hook that remembers whom it was asked to forget."""

    def __init__(self) -> None:
        self.forgotten: list[str] = []

    def forget(self, customer_id: str) -> dict[str, int]:
        self.forgotten.append(customer_id)
        return {"recorder": 1}


def test_erasure_reaches_every_hook_and_returns_a_receipt(trained_services: Services) -> None:
    services = trained_services
    customer = _buyer(services)
    recorder = Recorder()
    services.customers.hooks.append(recorder)
    before = services.serving.recommend(customer, 5)
    assert before.policy == "personalised"
    receipt = services.customers.erase(customer, actor="test")
    assert recorder.forgotten == [customer]
    removed = receipt["removed"]
    assert removed["events"] > 0 and removed["recorder"] == 1 and "model_rows" in removed
    assert not services.customers.exists(customer)
    assert services.serving.recommend(customer, 5).policy.startswith("cold-start")
    entry = services.audit.entries(1)[0]
    assert (entry["actor"], entry["action"]) == ("test", "erase_customer")
    with pytest.raises(NotFound):
        services.customers.erase(customer, actor="test")
    assert recorder.forgotten == [customer]  # nothing erased: no hook runs


def test_export_is_audited_with_counts_only(trained_services: Services) -> None:
    services = trained_services
    customer = _buyer(services)
    data = services.customers.export(customer, actor="cli")
    entry = services.audit.entries(1)[0]
    assert (entry["actor"], entry["action"], entry["subject"]) == ("cli", "customer_export", None)
    assert entry["details"] == {"rows": 1 + len(data["events"])}
    assert customer not in str(entry)


def test_consents_follow_the_policy(trained_services: Services) -> None:
    services = trained_services
    customer = _buyer(services)
    services.customers.set_consents(customer, {"marketing": True, "personalization": False})
    assert services.customers.allows(customer, "marketing")
    assert not services.customers.allows(customer, "personalization")
    assert services.customers.allows(customer, "analytics") == services.policy.allows(
        services.customers.consents(customer), "analytics"
    )
    answer = services.serving.recommend(customer, 5)
    assert answer.policy == "non-personalised (consent)"
    with pytest.raises(InputError, match="unknown consent purposes"):
        services.customers.set_consents(customer, {"profiling": True})


def test_profile_and_known_ids(trained_services: Services) -> None:
    services = trained_services
    customer = _buyer(services)
    profile = services.customers.profile(customer)
    assert profile["customer_id"] == customer and profile["orders"] > 0
    assert customer in services.customers.known_ids()
    with pytest.raises(NotFound):
        services.customers.profile("NO-SUCH-CUSTOMER")


def test_a_platform_customer_is_found_by_e_mail_for_a_request(trained_services: Services) -> None:
    from pathlib import Path

    shopify = Path(__file__).parents[1] / "ingest" / "fixtures" / "shopify_orders_export.csv"
    trained_services.ingest.files("orders", [shopify], preset="shopify")
    customers = trained_services.customers
    found = customers.find_by_email(" Ada@Example.com ")
    assert found.startswith("em_") and customers.exists(found)
    assert customers.export(found, actor="test")["events"]  # the request can be answered
    with pytest.raises(NotFound):
        customers.find_by_email("nobody@example.com")
    with pytest.raises(InputError):
        customers.find_by_email("not an address")
