"""Interleaving and exploration through the experiments service, on a trained shop with
simulated shoppers whose preferences are known."""

from __future__ import annotations

import numpy as np
import pytest

from storewise.app import Services, Variant
from storewise.errors import InputError
from storewise.experiments.service import Experiments


def _customers(services: Services, n: int) -> list[str]:
    store, policy = services.store, services.policy
    ids = sorted(store.customers()["customer_id"].to_list())
    return [c for c in ids if policy.allows(store.consent_of(c), "analytics")][:n]


def test_interleaving_finds_the_ranker_shoppers_prefer(trained_services: Services) -> None:
    experiments = trained_services.experiments
    engine = trained_services.serving
    experiments.create(
        "mix",
        placement="for-you",
        variants=[Variant(name="control"), Variant(name="pop", model="popular")],
        method="interleave",
        start=True,
    )
    rng = np.random.default_rng(3)
    for customer in _customers(trained_services, 60):
        popular = set(engine.recommend(customer, 6, model="popular").item_ids)
        answer = experiments.serve(
            "for-you",
            customer,
            lambda v, c=customer: engine.recommend(c, 6, model=v.model if v else None),
        )
        assert answer.variant == "interleaved" and len(answer.items) == 6
        assert [r.rank for r in answer.items] == list(range(1, 7))
        rows = [{"recommendation_id": answer.recommendation_id, "kind": "impression"}]
        for item in answer.item_ids:  # shoppers like what the popular ranker shows
            if rng.random() < (0.6 if item in popular else 0.05):
                rows.append(
                    {
                        "recommendation_id": answer.recommendation_id,
                        "kind": "click",
                        "item_id": item,
                    }
                )
        experiments.feedback(rows)
    logged = experiments.tables.exposures(experiment_id="mix")
    assert logged["teams"].to_list()[0] is not None
    results = experiments.results("mix")
    assert results["lists"] == 60
    won = results["interleaving"]
    assert won["wins_b"] > won["wins_a"]
    assert results["preferred"] == "pop" and won["p_value"] < 0.05


def test_interleaving_needs_two_variants(trained_services: Services) -> None:
    three = [Variant(name="control"), Variant(name="b"), Variant(name="c")]
    with pytest.raises(InputError, match="exactly two"):
        trained_services.experiments.create(
            "x", placement="for-you", variants=three, method="interleave"
        )


def test_an_unknown_model_is_refused(trained_services: Services) -> None:
    with pytest.raises(InputError, match="no model 'nosuch'"):
        trained_services.experiments.create(
            "x",
            placement="for-you",
            variants=[Variant(name="control"), Variant(name="b", model="nosuch")],
        )


def test_exploration_logs_propensities_and_off_policy_recovers_the_truth(
    trained_services: Services,
) -> None:
    engine = trained_services.serving
    experiments = Experiments(
        trained_services.store,
        policy=trained_services.policy,
        explore_share=0.5,
        rng=np.random.default_rng(11),
        lists=engine,
    )
    with pytest.raises(InputError, match="explore_share"):
        experiments.off_policy("popular")
    customers = _customers(trained_services, 40)
    # Known truth: each item has its own click chance, whatever the slot (item-position model).
    catalog = trained_services.store.items()["item_id"].to_list()
    chance = dict(
        zip(catalog, np.random.default_rng(5).uniform(0.0, 0.5, len(catalog)), strict=True)
    )
    rng = np.random.default_rng(2)
    explored = 0
    for _ in range(25):
        for customer in customers:

            def produce(variant: Variant | None, extra: int = 0, c: str = customer):  # type: ignore[no-untyped-def]
                return engine.recommend(c, 6 + extra)

            answer = experiments.serve("for-you", customer, produce, extend=produce)
            default = engine.recommend(customer, 6).item_ids
            explored += answer.item_ids != default
            rows = [{"recommendation_id": answer.recommendation_id, "kind": "impression"}]
            rows += [
                {"recommendation_id": answer.recommendation_id, "kind": "click", "item_id": i}
                for i in answer.item_ids
                if rng.random() < chance[i]
            ]
            experiments.feedback(rows)
    assert 350 < explored < 650  # about half of 1,000 lists
    logged = experiments.tables.exposures()
    props = logged["propensities"].to_list()
    assert all(len(p) == 6 and p[0] == 1.0 for p in props)
    chosen = engine.served.slots["discovery"]  # the trained choice, named: fully supported
    current = np.mean([sum(chance[i] for i in engine.recommend(c, 6).item_ids) for c in customers])
    estimate = experiments.off_policy(chosen)
    assert estimate["lists"] == 1000
    for name in ("ips", "snips", "dr"):
        value = estimate["candidate"][name]
        assert abs(value["value"] - current) < 3.5 * value["standard_error"] + 0.02, name
        assert value == estimate["current"][name]
    assert estimate["candidate"]["matched_slots"] > 0.9
    other = experiments.off_policy("popular")
    assert 0 < other["candidate"]["matched_slots"] < estimate["candidate"]["matched_slots"]
    assert other["candidate"]["effective_sample_size"] > 0
    with pytest.raises(InputError, match="no model"):
        experiments.off_policy("nosuch")


def test_a_variant_can_pin_an_earlier_model_version(trained_services: Services) -> None:
    engine = trained_services.serving
    first = engine.model_version
    assert first is not None
    trained_services.training.train(budget_seconds=2)
    engine.reload()
    assert engine.model_version != first
    experiments = trained_services.experiments
    with pytest.raises(InputError, match="no kept model bundle 'v-none'"):
        experiments.create(
            "old",
            placement="similar",
            variants=[Variant(name="control"), Variant(name="b", version="v-none")],
        )
    experiments.create(
        "old",
        placement="for-you",
        variants=[Variant(name="control"), Variant(name="before", version=first)],
        start=True,
    )
    versions = set()
    for customer in _customers(trained_services, 30):
        answer = experiments.serve(
            "for-you",
            customer,
            lambda v, c=customer: (
                engine.at_version(v.version) if v and v.version else engine
            ).recommend(c, 5),
        )
        versions.add((answer.variant, answer.model_version))
    assert versions == {("control", engine.model_version), ("before", first)}
    receipt = trained_services.customers.erase(_customers(trained_services, 1)[0])
    assert receipt["removed"]["cached_answers"] > 0  # pinned answers dropped too


def test_exploration_shows_items_added_since_training(trained_services: Services) -> None:
    engine = trained_services.serving
    new = [
        {"item_id": f"NEW-{i}", "title": f"New lamp {i}", "category": "Lighting", "price": 20.0}
        for i in range(5)
    ]
    assert not trained_services.ingest.records("items", new).rejected
    assert {r.item_id for r in engine.unseen_items()} >= {f"NEW-{i}" for i in range(5)}
    experiments = Experiments(
        trained_services.store,
        policy=trained_services.policy,
        explore_share=0.5,
        rng=np.random.default_rng(4),
        lists=engine,
    )
    seen: set[str] = set()
    for customer in _customers(trained_services, 60):

        def produce(variant: Variant | None, extra: int = 0, c: str = customer):  # type: ignore[no-untyped-def]
            return engine.recommend(c, 6 + extra)

        answer = experiments.serve("for-you", customer, produce, extend=produce)
        for item in answer.items:
            if item.item_id.startswith("NEW-"):
                seen.add(item.item_id)
                assert "new in the shop" in item.reasons and item.rank > 3
    assert seen  # without exploration a for-you list can never show them
    quiet = Experiments(trained_services.store, policy=trained_services.policy, lists=engine)
    for customer in _customers(trained_services, 60):
        answer = quiet.serve("for-you", customer, lambda v, c=customer: engine.recommend(c, 6))
        assert not any(i.startswith("NEW-") for i in answer.item_ids)
