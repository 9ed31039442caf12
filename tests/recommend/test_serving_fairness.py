"""Fairness controls as served: placement defaults, caps, long-tail boost, calibration, and
the bought-together floor k (never lowered by a request)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from storewise.app import RuleSet, Services, Settings, build
from storewise.errors import ConfigError, InputError
from storewise.evaluate.metrics import miscalibration


def buyers(services: Services, minimum: int = 4) -> list[str]:
    events = services.store.events().filter(pl.col("event_type") == "purchase")
    counts = events.group_by("customer_id").len().filter(pl.col("len") >= minimum)
    return sorted(c for c in counts["customer_id"].to_list() if c)


def brands_of(services: Services, item_ids: tuple[str, ...] | list[str]) -> list[str]:
    catalog = services.serving.catalog
    return [str(catalog.fields["brand"][catalog.index(i)]) for i in item_ids]


def test_placement_defaults_apply_and_requests_override_them(trained_home: Path) -> None:
    """for-you caps brands at one by default; trending too; an explicit value wins."""
    placements = {"for-you": {"max_per_brand": 1}, "trending": {"max_per_category": 1}}
    with build(Settings(home=trained_home, placements=placements)) as services:
        customer = buyers(services)[0]
        capped = services.serving.recommend(customer, 8)
        assert max(Counter(brands_of(services, capped.item_ids)).values()) == 1
        batch = services.serving.recommend_many([customer], 8)[0]
        assert batch.item_ids == capped.item_ids
        wider = services.serving.recommend(customer, 8, rules=RuleSet(max_per_brand=4))
        assert max(Counter(brands_of(services, wider.item_ids)).values()) <= 4
        trending = services.serving.trending(6)
        assert len({r.category for r in trending.items}) == len(trending.items)
        assert services.serving.placement_rules("for-you").max_per_brand == 1
        assert services.serving.placement_rules("similar") == RuleSet()


def test_bad_placements_stop_the_services_from_being_built(trained_home: Path) -> None:
    with pytest.raises(ConfigError, match="unknown placement 'home'"):
        build(Settings(home=trained_home, placements={"home": {"diversity": 0.1}}))


def test_long_tail_boost_and_calibration_as_served(trained_services: Services) -> None:
    """Boost 1: every item outside the served head; calibration 1: closer to the customer's
    own category mix than the plain list."""
    engine = trained_services.serving
    head = engine.head()
    assert 0 < head.sum() < head.size
    customers = buyers(trained_services)[:12]
    plain_tail, boosted_tail, plain_kl, calibrated_kl = [], [], [], []
    catalog = engine.catalog
    for customer in customers:
        plain = engine.recommend(customer, 10)
        boosted = engine.recommend(customer, 10, rules=RuleSet(long_tail_boost=1.0))
        plain_tail.append(np.mean([not head[catalog.index(i)] for i in plain.item_ids]))
        boosted_tail.append(np.mean([not head[catalog.index(i)] for i in boosted.item_ids]))
        bought = (
            trained_services.store.customer_history(customer)
            .filter(pl.col("event_type") == "purchase")["item_id"]
            .to_list()
        )
        mix = [str(catalog.categories[catalog.index(i)]) for i in bought if catalog.index(i)]
        calibrated = engine.recommend(customer, 10, rules=RuleSet(calibration=1.0))
        plain_kl.append(miscalibration(mix, [r.category for r in plain.items]))
        calibrated_kl.append(miscalibration(mix, [r.category for r in calibrated.items]))
    assert min(boosted_tail) == 1.0 and np.mean(boosted_tail) > np.mean(plain_tail)
    assert np.mean(calibrated_kl) < np.mean(plain_kl)


def test_buy_again_honours_exposure_caps(trained_services: Services) -> None:
    customer = buyers(trained_services, 8)[0]
    capped = trained_services.serving.recommend(
        customer, 10, scenario="buy-again", rules=RuleSet(max_per_category=1)
    )
    assert capped.items and len({r.category for r in capped.items}) == len(capped.items)


def test_bought_together_never_goes_below_the_configured_k(trained_home: Path) -> None:
    """k = 3 from settings: every pair has >= 3 customers; a request may ask 4, not 2; the
    similar list says 'bought with' only for pairs of at least k."""
    with build(Settings(home=trained_home, basket_min_customers=3)) as services:
        engine = services.serving
        cobuy = engine.served.cobuy
        catalog = engine.catalog
        seeds = [str(catalog.item_ids[i]) for i in np.argsort(-cobuy.getnnz(axis=1))[:5]]
        seen_any = False
        for seed in seeds:
            answer = engine.basket([seed], 10)
            assert answer.policy.endswith(">= 3 customers")
            for rec in answer.items:
                seen_any = True
                assert cobuy[catalog.index(seed), catalog.index(rec.item_id)] >= 3
            stricter = engine.basket([seed], 10, min_customers=4)
            for rec in stricter.items:
                assert cobuy[catalog.index(seed), catalog.index(rec.item_id)] >= 4
            similar = engine.similar(seed, 10)
            for rec in similar.items:
                pair = cobuy[catalog.index(seed), catalog.index(rec.item_id)]
                said = any(r.startswith("customers who bought") for r in rec.reasons)
                assert said == (pair >= 3)
        assert seen_any
        with pytest.raises(InputError, match="at least 3"):
            engine.basket(seeds[:1], 5, min_customers=2)
    with build(Settings(home=trained_home)) as services:
        assert services.serving.basket_min_customers == 5
        with pytest.raises(InputError, match="at least 5"):
            services.serving.basket(seeds[:1], 5, min_customers=4)
