"""The experiments service over a trained shop: lifecycle, sticky assignment carried over at
login, tagging and the exposure log, feedback, attribution and erasure."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from storewise.app import Services, Variant
from storewise.errors import InputError, NotFound
from storewise.experiments.plan import Plan
from storewise.experiments.service import CampaignPicks, Experiments
from storewise.schema import DAY_MS


def _recommend(services: Services, customer: str):  # type: ignore[no-untyped-def]
    engine = services.serving

    def produce(variant: Variant | None):  # type: ignore[no-untyped-def]
        model = variant.model if variant else None
        rules = variant.rule_set() if variant else None
        return engine.recommend(customer, 5, rules=rules, model=model)

    return services.experiments.serve("for-you", customer, produce)


def _customers(services: Services, n: int, *, counted: bool = False) -> list[str]:
    """The first ``n`` customers (with ``counted``: of those who allow analytics)."""
    store, policy = services.store, services.policy
    ids = sorted(store.customers()["customer_id"].to_list())
    if counted:
        ids = [c for c in ids if policy.allows(store.consent_of(c), "analytics")]
    return ids[:n]


def _store_events(services: Services, rows: list[dict[str, object]]) -> None:
    """Store events through the API's path; ``ts`` in ms becomes an ISO timestamp."""
    for row in rows:
        at = datetime.fromtimestamp(int(row.pop("ts")) / 1000, tz=UTC)  # type: ignore[call-overload]
        row["timestamp"] = at.isoformat()
    report = services.ingest.records("events", rows)
    assert not report.rejected, report.rejected


def test_lifecycle_and_bad_definitions(trained_services: Services) -> None:
    experiments = trained_services.experiments
    variants = [Variant(name="control"), Variant(name="popular", model="popular")]
    created = experiments.create("e1", placement="for-you", variants=variants)
    assert created.status == "draft"
    with pytest.raises(InputError, match="exists already"):
        experiments.create("e1", placement="for-you", variants=variants)
    assert experiments.start("e1").status == "running"
    experiments.create("e2", placement="for-you", variants=variants)
    with pytest.raises(InputError, match="already runs"):
        experiments.start("e2")
    assert experiments.stop("e1").status == "stopped"
    with pytest.raises(InputError, match="not running"):
        experiments.stop("e1")
    with pytest.raises(NotFound, match="nope"):
        experiments.get("nope")
    uneven = [Variant(name="control", weight=0.7), Variant(name="b", weight=0.2)]
    with pytest.raises(InputError, match=r"add up to 0\.9"):
        experiments.create("e3", placement="for-you", variants=uneven)
    with pytest.raises(InputError, match="placement"):
        experiments.create("e3", placement="nowhere", variants=variants)
    with pytest.raises(InputError, match="fixed model"):
        experiments.create("e3", placement="similar", variants=variants)
    with pytest.raises(InputError, match="control"):
        experiments.create("e3", placement="for-you", variants=variants, plan=Plan(control="x"))
    assert [e.experiment_id for e in experiments.all()] != []


def test_answers_carry_variant_and_are_logged(trained_services: Services) -> None:
    experiments = trained_services.experiments
    variants = [Variant(name="control"), Variant(name="popular", model="popular")]
    experiments.create("e1", placement="for-you", variants=variants, start=True)
    seen = {}
    for customer in _customers(trained_services, 40):
        answer = _recommend(trained_services, customer)
        assert answer.recommendation_id and answer.experiment == "e1"
        assert answer.to_dict()["variant"] == answer.variant
        if answer.variant == "popular":
            assert answer.model == "popular"
        seen[customer] = answer.variant
        again = _recommend(trained_services, customer)
        assert again.variant == answer.variant  # sticky
        assert again.recommendation_id != answer.recommendation_id
    assert set(seen.values()) == {"control", "popular"}
    experiments.log.flush()
    store, policy = trained_services.store, trained_services.policy
    counted = {c: v for c, v in seen.items() if policy.allows(store.consent_of(c), "analytics")}
    assert 0 < len(counted) < len(seen)  # the synthetic shop has refusals
    logged = experiments.tables.exposures()
    assert logged.height == 80
    assert logged.filter(pl.col("experiment_id") == "e1").height == 2 * len(counted)
    anonymous = logged.filter(pl.col("unit_id").is_null())
    assert anonymous.height == 2 * (len(seen) - len(counted))  # refused analytics: no identity
    units = experiments.tables.assignments("e1")
    assert dict(zip(units["unit_id"], units["variant"], strict=True)) == counted


def test_a_fresh_worker_gives_the_same_variant(trained_services: Services) -> None:
    experiments = trained_services.experiments
    variants = [Variant(name="control"), Variant(name="b", rules={"diversity": 0.5})]
    experiments.create("e1", placement="for-you", variants=variants, start=True)
    first = {
        c: _recommend(trained_services, c).variant
        for c in _customers(trained_services, 20, counted=True)
    }
    other = Experiments(trained_services.store, policy=trained_services.policy)
    experiment = other.running_for("for-you")
    assert experiment is not None
    assert {c: other.assign(experiment, c, customer=True).name for c in first} == first
    hashed = {c: experiment.variant_for(c).name for c in first}
    assert hashed == first


def test_a_guest_keeps_the_variant_at_login(trained_services: Services) -> None:
    experiments = trained_services.experiments
    variants = [Variant(name="control"), Variant(name="popular", model="popular")]
    experiment = experiments.create("e1", placement="guest", variants=variants, start=True)
    # a guest whose own hash differs from the account's: the guest's variant must win
    guest, account = next(
        (f"anon-{i}", f"new-customer-{i}")
        for i in range(1000)
        if experiment.variant_for(f"anon-{i}").name
        != experiment.variant_for(f"new-customer-{i}").name
    )
    engine = trained_services.serving
    as_guest = experiments.serve(
        "guest",
        guest,
        lambda v: engine.recommend_session(guest, 5, model=v.model if v else None),
        customer=False,
    )
    _store_events(
        trained_services,
        [
            {
                "event_id": "login-1",
                "customer_id": account,
                "anonymous_id": guest,
                "event_type": "view",
                "item_id": trained_services.store.items()["item_id"][0],
                "ts": 1_700_000_000_000,
            },
        ],
    )
    as_customer = experiments.serve(
        "guest", account, lambda v: engine.recommend(account, 5, model=v.model if v else None)
    )
    assert as_customer.variant == as_guest.variant
    table, crossovers = experiments.unit_table(experiments.get("e1"))
    assert table.height == 1 and crossovers == 0  # one person, not two units


def test_feedback_is_checked_and_counted_once(trained_services: Services) -> None:
    experiments = trained_services.experiments
    customer = _customers(trained_services, 1, counted=True)[0]
    answer = _recommend(trained_services, customer)
    item = answer.items[0].item_id
    rows = [
        {"recommendation_id": answer.recommendation_id, "kind": "impression"},
        {"recommendation_id": answer.recommendation_id, "kind": "click", "item_id": item},
        {"recommendation_id": answer.recommendation_id, "kind": "click", "item_id": item},
        {"recommendation_id": "f" * 24, "kind": "click", "item_id": item},
        {"recommendation_id": answer.recommendation_id, "kind": "purchase"},
        {"recommendation_id": answer.recommendation_id, "kind": "click"},
    ]
    report = experiments.feedback(rows)
    assert report.stored == 2 and report.duplicates == 1
    assert [r["row"] for r in report.rejected] == [3, 4, 5]
    assert "unknown recommendation_id" in report.rejected[0]["reason"]
    again = experiments.feedback(rows[:3])  # a browser retry
    assert again.stored == 0 and again.duplicates == 3


def test_attribution_credits_clicked_purchases(trained_services: Services) -> None:
    experiments = trained_services.experiments
    now = experiments.clock() - 10 * DAY_MS  # served ten days ago, so the late order is past
    experiments.clock = lambda: now
    customer = _customers(trained_services, 1, counted=True)[0]
    answer = _recommend(trained_services, customer)
    clicked, shown_only = answer.items[0].item_id, answer.items[1].item_id
    experiments.feedback(
        [
            {"recommendation_id": answer.recommendation_id, "kind": "impression", "at_ms": now},
            {
                "recommendation_id": answer.recommendation_id,
                "kind": "click",
                "item_id": clicked,
                "at_ms": now + 1000,
            },
        ]
    )
    base = {"customer_id": customer, "quantity": 1.0, "price": 10.0}
    _store_events(
        trained_services,
        [
            {
                **base,
                "event_id": "c1",
                "event_type": "add_to_cart",
                "item_id": clicked,
                "ts": now + 2000,
            },
            {
                **base,
                "event_id": "p1",
                "event_type": "purchase",
                "item_id": clicked,
                "order_id": "o-9",
                "value": 25.0,
                "ts": now + 3000,
            },
            {
                **base,
                "event_id": "p2",
                "event_type": "purchase",
                "item_id": shown_only,
                "order_id": "o-9",
                "ts": now + 3000,
            },
            {
                **base,
                "event_id": "p3",
                "event_type": "purchase",
                "item_id": clicked,
                "order_id": "o-late",
                "ts": now + 1000 + 8 * DAY_MS,
            },
        ],
    )
    figures = experiments.analytics(days=30)
    row = next(r for r in figures["by_placement"] if r["placement"] == "for-you")
    assert row["served"] == 1 and row["impressions"] == 1 and row["clicks"] == 1
    assert row["click_through_rate"] == 1.0
    assert row["add_to_carts"] == 1
    assert row["orders"] == 1 and row["revenue"] == 25.0  # the late order is outside 7 days
    assert row["view_through_orders"] == 1 and row["view_through_revenue"] == 35.0
    with pytest.raises(InputError):
        experiments.analytics(days=0)


def test_erasure_reaches_assignments_and_the_log(trained_services: Services) -> None:
    experiments = trained_services.experiments
    variants = [Variant(name="control"), Variant(name="popular", model="popular")]
    experiments.create("e1", placement="for-you", variants=variants, start=True)
    customer = _customers(trained_services, 1, counted=True)[0]
    answer = _recommend(trained_services, customer)
    experiments.feedback([{"recommendation_id": answer.recommendation_id, "kind": "impression"}])
    queued = _recommend(trained_services, customer)  # still in the buffer at erasure
    assert queued.recommendation_id
    receipt = trained_services.customers.erase(customer)
    assert receipt["removed"]["experiment_assignments"] == 1
    assert receipt["removed"]["exposures"] == 1 and receipt["removed"]["rec_feedback"] == 1
    assert receipt["removed"]["queued_exposures"] == 1
    experiments.log.flush()
    assert experiments.tables.exposures().filter(pl.col("unit_id") == customer).height == 0
    assert experiments.tables.assignments("e1").height == 0


def test_campaign_picks_follow_an_email_experiment(trained_services: Services) -> None:
    experiments = trained_services.experiments
    variants = [Variant(name="control"), Variant(name="popular", model="popular")]
    experiments.create("mail", placement="email", variants=variants, start=True)
    customers = _customers(trained_services, 30, counted=True)
    picks = CampaignPicks(experiments).recommend_many(customers, 4)
    assert [p.customer_id for p in picks] == customers
    by_variant = {p.variant for p in picks}
    assert by_variant == {"control", "popular"}
    for pick in picks:
        assert pick.placement == "email" and pick.recommendation_id
        if pick.variant == "popular" and pick.policy == "personalised":
            assert pick.model == "popular"
    experiments.log.flush()
    logged = experiments.tables.exposures().filter(pl.col("placement") == "email")
    assert logged.height == 30
    assigned = experiments.tables.assignments("mail")
    assert dict(zip(assigned["unit_id"], assigned["variant"], strict=True)) == {
        p.customer_id: p.variant for p in picks
    }


def test_a_guardrail_that_drops_is_flagged() -> None:
    from storewise.experiments.service import _guardrails

    metrics = {
        "orders": {"variant": "b", "significant": True, "absolute_lift": -0.1},
        "converted": {"variant": "b", "significant": False, "absolute_lift": -0.1},
        "revenue": {"variant": "b", "significant": True, "absolute_lift": 2.0},
    }
    assert _guardrails(metrics, ["orders", "converted", "revenue", "missing"]) == {
        "orders": {"b": "worse"},
        "converted": {"b": "ok"},
        "revenue": {"b": "ok"},
    }
