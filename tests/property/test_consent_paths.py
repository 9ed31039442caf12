"""Random consent states, one rule everywhere: collection, training, serving and audiences
all agree with the consent policy for every customer."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storewise.app import Services, Settings, build
from storewise.data.dataset import Dataset
from storewise.errors import InputError

DECISION = st.sampled_from([True, False])
STATES = st.fixed_dictionaries(
    {"personalization": DECISION, "marketing": DECISION, "analytics": DECISION}
)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Services:
    """A trained shop (one copy for the module: each example rewrites the consents)."""
    from tests.conftest import _build_trained_home

    home = _build_trained_home(tmp_path_factory.mktemp("consent-paths"))
    services = build(Settings(home=home))
    services.marketing.check_seconds = 0.0
    return services


def _buyers(services: Services, count: int) -> list[str]:
    return services.customers.most_active(count)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(states=st.lists(STATES, min_size=6, max_size=6))
def test_every_path_follows_the_policy(shop: Services, states: list[dict[str, bool]]) -> None:
    customers = _buyers(shop, len(states))
    for customer, decisions in zip(customers, states, strict=True):
        shop.customers.set_consents(customer, decisions)
    policy = shop.policy
    consents = shop.store.consents()

    # training: the snapshot holds exactly the customers personalization allows
    snapshot = Dataset.from_store(shop.store, policy=policy)
    learned = set(snapshot.customer_ids.tolist())
    for customer, decisions in zip(customers, states, strict=True):
        assert (customer in learned) == decisions["personalization"]

    # serving: personal answers only where personalization is allowed
    for customer, decisions in zip(customers, states, strict=True):
        answer = shop.serving.recommend(customer, 5)
        assert (answer.policy != "non-personalised (consent)") == decisions["personalization"]
    batch = shop.serving.recommend_many(customers, 5)
    for answer, decisions in zip(batch, states, strict=True):
        assert (answer.policy != "non-personalised (consent)") == decisions["personalization"]

    # audiences: only explicit marketing grants; analyses: only analytics allowed
    try:
        rows = shop.marketing.campaign_audience(n_items=0, offer=False, actor="test")
    except InputError:  # too few analysed customers left to segment
        rows = []
    audience = {r["customer_id"] for r in rows}
    granted = set(policy.allowed_ids(customers, consents, "marketing"))
    assert audience & set(customers) <= granted
    table = shop.marketing.customer_table() if rows else pl.DataFrame({"customer_id": []})
    analysed = set(table["customer_id"].to_list())
    for customer, decisions in zip(customers, states, strict=True):
        if not decisions["analytics"]:
            assert customer not in analysed and customer not in audience

    # collection: tracking of customers without analytics consent keeps no identity
    for n, (customer, decisions) in enumerate(zip(customers, states, strict=True)):
        view = {"customer_id": customer, "item_id": "I00001", "event_type": "view",
                "timestamp": f"2025-06-01T00:00:{n:02d}Z", "source": str(states)}  # fmt: skip
        before = shop.customers.history(customer).height
        report = shop.ingest.records("events", [view])
        assert report.stored + report.duplicates == 1
        grew = shop.customers.history(customer).height - before
        assert grew == (1 if decisions["analytics"] and report.stored else 0)
