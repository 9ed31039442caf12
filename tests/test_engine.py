"""The services facade: personal answers, cold start, real time, consent, rules, baskets,
hot reload, and erasure that reaches the served model."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from storewise import artifacts
from storewise.app import Services, build
from storewise.errors import ArtifactError, InputError, NotFitted, NotFound
from storewise.recommend.rules import RuleSet
from storewise.settings import Settings


@pytest.fixture
def services(trained_home: Path) -> Services:
    return build(Settings(home=trained_home))


def buyers(services: Services, minimum: int = 3) -> list[str]:
    events = services.store.events().filter(pl.col("event_type") == "purchase")
    counts = events.group_by("customer_id").len().filter(pl.col("len") >= minimum)
    return sorted(c for c in counts["customer_id"].to_list() if c)


def test_untrained_engine_says_to_train(tmp_path: Path) -> None:
    services = build(Settings(home=tmp_path))
    with pytest.raises(NotFitted, match="storewise train"):
        services.serving.recommend("anyone")


def test_personal_list_has_reasons_and_excludes_purchases(services: Services) -> None:
    customer = buyers(services)[0]
    answer = services.serving.recommend(customer, 8)
    assert answer.policy == "personalised" and answer.model_version
    assert len(answer.items) == 8 == len(set(answer.item_ids))
    assert [r.rank for r in answer.items] == list(range(1, 9))
    assert all(r.reasons and all(isinstance(t, str) and t for t in r.reasons) for r in answer.items)
    bought = set(
        services.store.customer_history(customer)
        .filter(pl.col("event_type") == "purchase")["item_id"]
        .to_list()
    )
    assert not bought & set(answer.item_ids)
    mixed = services.serving.recommend(customer, 8, rules=RuleSet(allow_repurchase=True))
    assert mixed.items and json.dumps(mixed.to_dict())


def test_unknown_customer_gets_cold_start(services: Services) -> None:
    answer = services.serving.recommend("never-seen-before", 5)
    assert answer.policy.startswith("cold-start") and len(answer.items) == 5
    assert all(r.reasons for r in answer.items)


def test_new_events_count_without_retraining(services: Services) -> None:
    customer = "fresh-customer"
    before = services.serving.recommend(customer, 5)
    target = before.items[0].item_id
    report = services.ingest.records(
        "events",
        [
            {
                "customer_id": customer,
                "item_id": target,
                "event_type": "purchase",
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "price": 3.0,
            }
        ],
    )
    assert report.stored == 1
    after = services.serving.recommend(customer, 5)
    assert after.policy == "personalised"
    assert target not in after.item_ids  # bought now, so excluded from "for you"
    again = services.serving.buy_again(customer, 5)
    assert again.item_ids == [target]
    assert (
        "you bought this before" in again.items[0].reasons[0]
        or "every" in again.items[0].reasons[0]
    )


def test_ratings_count_in_real_time_and_rated_items_are_not_offered(services: Services) -> None:
    customer = "rating-customer"
    before = services.serving.recommend(customer, 5)
    liked, disliked = before.items[0].item_id, before.items[1].item_id
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    report = services.ingest.records(
        "events",
        [
            {"customer_id": customer, "item_id": item, "event_type": "rating", "value": stars,
             "timestamp": now}
            for item, stars in ((liked, 5.0), (disliked, 2.0))
        ],
    )  # fmt: skip
    assert report.stored == 2
    after = services.serving.recommend(customer, 5)
    assert after.policy == "personalised"
    assert not {liked, disliked} & set(after.item_ids)  # rated: seen, never offered as new
    assert services.serving.buy_again(customer, 5).item_ids == []  # rated is not bought


def test_withdrawn_consent_gives_non_personalised_answers(services: Services) -> None:
    customer = buyers(services)[1]
    services.customers.set_consents(customer, {"personalization": False})
    answer = services.serving.recommend(customer, 5)
    assert answer.policy == "non-personalised (consent)"
    batch = services.serving.recommend_many([customer], 5)[0]
    assert batch.policy == "non-personalised (consent)"
    with pytest.raises(InputError, match="unknown consent purposes"):
        services.customers.set_consents(customer, {"telepathy": True})


def test_guest_session_and_login(services: Services) -> None:
    item = services.serving.trending(1).items[0].item_id
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    services.ingest.records(
        "events",
        [{"anonymous_id": "cookie-1", "item_id": item, "event_type": "view", "timestamp": now}],
    )
    session = services.serving.recommend_session("cookie-1", 5)
    assert session.policy == "session: item-based" and len(session.items) == 5
    empty = services.serving.recommend_session("cookie-unknown", 5)
    assert empty.policy.startswith("cold-start")
    linked = services.customers.identify("cookie-1", "new-member")
    assert linked["events_linked"] == 1
    answer = services.serving.recommend_session("cookie-1", 5)
    assert answer.customer_id == "new-member" and "linked account" in answer.policy


def test_similar_basket_and_trending(services: Services) -> None:
    item = services.serving.trending(1).items[0].item_id
    similar = services.serving.similar(item, 5)
    assert item not in similar.item_ids and len(similar.items) == 5
    with pytest.raises(NotFound, match="unknown item"):
        services.serving.similar("no-such-item")
    basket = services.serving.basket([item], 5)
    cobuy = services.serving.served.cobuy
    idx = services.serving.catalog.index(item)
    for rec in basket.items:
        assert (
            cobuy[idx, services.serving.catalog.index(rec.item_id)] >= 5
        )  # never below k customers
    strict = services.serving.basket([item], 5, min_customers=10_000)
    assert strict.items == ()
    with pytest.raises(InputError):
        services.serving.basket([item], 5, min_customers=1)
    category = services.serving.catalog.categories[idx]
    only = services.serving.trending(5, category=str(category))
    assert {r.category for r in only.items} == {str(category)}


def test_business_rules(services: Services) -> None:
    customer = buyers(services)[2]
    catalog = services.serving.catalog
    categories = sorted({str(c) for c in catalog.categories if c})
    answer = services.serving.recommend(
        customer, 10, rules=RuleSet(exclude_categories=(categories[0],))
    )
    assert categories[0] not in {r.category for r in answer.items}
    capped = services.serving.recommend(customer, 10, rules=RuleSet(max_per_category=2))
    counts = pl.Series([r.category for r in capped.items]).value_counts()
    assert counts["count"].max() <= 2
    stock = services.serving.recommend(customer, 10)
    assert all(catalog.in_stock[catalog.index(r.item_id)] for r in stock.items)
    diverse = services.serving.recommend(customer, 10, rules=RuleSet(diversity=0.9))
    assert len({r.category for r in diverse.items}) >= len({r.category for r in stock.items})
    boosted = services.serving.recommend(
        customer, 10, rules=RuleSet(boost={f"category={categories[1]}": 50.0})
    )
    assert boosted.items[0].category == categories[1]
    with pytest.raises(InputError, match="unknown item field"):
        services.serving.recommend(customer, 5, rules=RuleSet(boost={"colour=red": 2.0}))
    for bad in (0, -1, 101):
        with pytest.raises(InputError, match="n must be"):
            services.serving.recommend(customer, bad)


def test_batch_matches_single_answers(services: Services) -> None:
    customers = [*buyers(services)[:5], "nobody-at-all"]
    batch = services.serving.recommend_many(customers, 6)
    for customer, answer in zip(customers, batch, strict=True):
        single = services.serving.recommend(customer, 6)
        assert answer.item_ids == single.item_ids
        assert answer.policy == single.policy


def test_tampered_bundle_is_refused_and_old_one_keeps_serving(services: Services) -> None:
    version = services.serving.reload()
    root = services.settings.bundles_dir
    manifest = artifacts.load(root).manifest
    arrays = dict(artifacts.load(root).arrays)
    body = {k: v for k, v in manifest.items() if k not in ("format", "version")}
    new = artifacts.publish(root, body, arrays)
    with (root / new / "arrays.npz").open("r+b") as handle:
        handle.seek(100)
        handle.write(b"tampered")
    services.serving.bundles.check_now()
    assert services.serving.served.version == version  # the bad bundle was refused
    assert services.serving.last_reload_error and "checksum" in services.serving.last_reload_error
    with pytest.raises(ArtifactError, match="checksum"):
        artifacts.load(root)


def test_forget_reaches_store_and_model(services: Services) -> None:
    customer = buyers(services)[3]
    served = services.serving.served
    assert customer in served.customer_ids.tolist()
    result = services.customers.erase(customer, actor="test")
    assert result["removed"]["events"] > 0 and result["removed"]["model_rows"] >= 1
    services.serving.bundles.check_now()
    assert customer not in services.serving.served.customer_ids.tolist()
    assert services.serving.served.version != served.version
    with pytest.raises(NotFound):
        services.customers.export(customer, actor="test")
    assert services.serving.recommend(customer, 3).policy.startswith("cold-start")
    row = int(np.flatnonzero(served.customer_ids == customer)[0])
    for model in services.serving.served.models.values():
        for part in getattr(model, "parts", {"m": model}).values():
            for attribute in ("profiles", "habits"):
                matrix = getattr(part, attribute, None)
                if matrix is not None:
                    assert matrix[row].nnz == 0


def test_profile_and_model_info(services: Services) -> None:
    customer = buyers(services)[4]
    profile = services.customers.profile(customer)
    assert profile["orders"] >= 1 and profile["revenue"] > 0
    assert profile["favourite_items"]
    with pytest.raises(NotFound):
        services.customers.profile("nobody")
    info = services.serving.model_info()
    assert info["version"] == services.serving.model_version
    assert set(info["chosen"]) == {"discovery", "repurchase"}


def test_returned_or_low_rated_items_are_never_offered_again(services: Services) -> None:
    """Buy-again and mixed lists leave out what the customer returned (until they buy it
    again) and what they rated below 4 stars."""
    customer = services.customers.most_active(1)[0]
    again = services.serving.buy_again(customer, 10)
    assert len(again.items) >= 2
    returned, disliked = again.items[0].item_id, again.items[1].item_id
    history = services.customers.history(customer)
    later = int(history["ts"].max()) + 60_000

    def at(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    report = services.ingest.records(
        "events",
        [
            {"customer_id": customer, "item_id": returned, "event_type": "return",
             "timestamp": at(later), "quantity": 1},
            {"customer_id": customer, "item_id": disliked, "event_type": "rating",
             "timestamp": at(later), "value": 2},
        ],
    )  # fmt: skip
    assert report.stored == 2
    mixed = RuleSet(allow_repurchase=True, exclude_purchased=False)
    for answer in (
        services.serving.buy_again(customer, 10),
        services.serving.recommend(customer, 20, rules=mixed),
        services.serving.recommend_many([customer], 20, rules=mixed)[0],
    ):
        shown = {r.item_id for r in answer.items}
        assert returned not in shown and disliked not in shown
    services.ingest.records(
        "events",
        [{"customer_id": customer, "item_id": returned, "event_type": "purchase",
          "timestamp": at(later + 60_000), "price": 1.0}],
    )  # fmt: skip
    assert returned in {r.item_id for r in services.serving.buy_again(customer, 10).items}


def test_a_new_item_has_similar_items_before_the_next_training(services: Services) -> None:
    """An item stored after training gets neighbours by its words and category at once."""
    catalog = services.serving.catalog
    known = next(
        i for i in range(len(catalog.item_ids)) if catalog.title(i) and catalog.categories[i]
    )
    title, category = catalog.title(known), str(catalog.categories[known])
    report = services.ingest.records(
        "items",
        [{"item_id": "NEW-ITEM-1", "title": f"{title} deluxe", "category": category,
          "price": 9.5}],
    )  # fmt: skip
    assert report.stored == 1
    answer = services.serving.similar("NEW-ITEM-1", 5)
    assert answer.items and "new item" in answer.policy
    assert answer.items[0].item_id == str(catalog.item_ids[known])
    assert answer.items[0].reasons[0].startswith(f"similar to {title} deluxe")
    assert all(r.category == category for r in answer.items[:1])
    with pytest.raises(NotFound):
        services.serving.similar("NO-SUCH-ITEM", 5)
