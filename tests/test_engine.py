"""The engine facade: personal answers, cold start, real time, consent, rules, baskets,
hot reload, and erasure that reaches the served model."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from storewise import artifacts
from storewise.engine import Engine
from storewise.errors import ArtifactError, InputError, NotFitted, NotFound
from storewise.recommend.rules import RuleSet
from storewise.settings import Settings


@pytest.fixture
def engine(trained_home: Path) -> Engine:
    return Engine(Settings(home=trained_home))


def buyers(engine: Engine, minimum: int = 3) -> list[str]:
    events = engine.store.events().filter(pl.col("event_type") == "purchase")
    counts = events.group_by("customer_id").len().filter(pl.col("len") >= minimum)
    return sorted(c for c in counts["customer_id"].to_list() if c)


def test_untrained_engine_says_to_train(tmp_path: Path) -> None:
    engine = Engine(Settings(home=tmp_path))
    with pytest.raises(NotFitted, match="storewise train"):
        engine.recommend("anyone")


def test_personal_list_has_reasons_and_excludes_purchases(engine: Engine) -> None:
    customer = buyers(engine)[0]
    answer = engine.recommend(customer, 8)
    assert answer.policy == "personalised" and answer.model_version
    assert len(answer.items) == 8 == len(set(answer.item_ids))
    assert [r.rank for r in answer.items] == list(range(1, 9))
    assert all(r.reasons and all(isinstance(t, str) and t for t in r.reasons) for r in answer.items)
    bought = set(
        engine.store.customer_history(customer)
        .filter(pl.col("event_type") == "purchase")["item_id"]
        .to_list()
    )
    assert not bought & set(answer.item_ids)
    mixed = engine.recommend(customer, 8, rules=RuleSet(allow_repurchase=True))
    assert mixed.items and json.dumps(mixed.to_dict())


def test_unknown_customer_gets_cold_start(engine: Engine) -> None:
    answer = engine.recommend("never-seen-before", 5)
    assert answer.policy.startswith("cold-start") and len(answer.items) == 5
    assert all(r.reasons for r in answer.items)


def test_new_events_count_without_retraining(engine: Engine) -> None:
    customer = "fresh-customer"
    before = engine.recommend(customer, 5)
    target = before.items[0].item_id
    report = engine.ingest(
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
    after = engine.recommend(customer, 5)
    assert after.policy == "personalised"
    assert target not in after.item_ids  # bought now, so excluded from "for you"
    again = engine.buy_again(customer, 5)
    assert again.item_ids == [target]
    assert (
        "you bought this before" in again.items[0].reasons[0]
        or "every" in again.items[0].reasons[0]
    )


def test_ratings_count_in_real_time_and_rated_items_are_not_offered(engine: Engine) -> None:
    customer = "rating-customer"
    before = engine.recommend(customer, 5)
    liked, disliked = before.items[0].item_id, before.items[1].item_id
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    report = engine.ingest(
        "events",
        [
            {"customer_id": customer, "item_id": item, "event_type": "rating", "value": stars,
             "timestamp": now}
            for item, stars in ((liked, 5.0), (disliked, 2.0))
        ],
    )  # fmt: skip
    assert report.stored == 2
    after = engine.recommend(customer, 5)
    assert after.policy == "personalised"
    assert not {liked, disliked} & set(after.item_ids)  # rated: seen, never offered as new
    assert engine.buy_again(customer, 5).item_ids == []  # rated is not bought


def test_withdrawn_consent_gives_non_personalised_answers(engine: Engine) -> None:
    customer = buyers(engine)[1]
    engine.set_consents(customer, {"personalization": False})
    answer = engine.recommend(customer, 5)
    assert answer.policy == "non-personalised (consent)"
    batch = engine.recommend_many([customer], 5)[0]
    assert batch.policy == "non-personalised (consent)"
    with pytest.raises(InputError, match="unknown consent purposes"):
        engine.set_consents(customer, {"telepathy": True})


def test_guest_session_and_login(engine: Engine) -> None:
    item = engine.trending(1).items[0].item_id
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    engine.ingest(
        "events",
        [{"anonymous_id": "cookie-1", "item_id": item, "event_type": "view", "timestamp": now}],
    )
    session = engine.recommend_session("cookie-1", 5)
    assert session.policy == "session: item-based" and len(session.items) == 5
    empty = engine.recommend_session("cookie-unknown", 5)
    assert empty.policy.startswith("cold-start")
    linked = engine.identify("cookie-1", "new-member")
    assert linked["events_linked"] == 1
    answer = engine.recommend_session("cookie-1", 5)
    assert answer.customer_id == "new-member" and "linked account" in answer.policy


def test_similar_basket_and_trending(engine: Engine) -> None:
    item = engine.trending(1).items[0].item_id
    similar = engine.similar(item, 5)
    assert item not in similar.item_ids and len(similar.items) == 5
    with pytest.raises(NotFound, match="unknown item"):
        engine.similar("no-such-item")
    basket = engine.basket([item], 5)
    cobuy = engine.served.cobuy
    idx = engine.catalog.index(item)
    for rec in basket.items:
        assert cobuy[idx, engine.catalog.index(rec.item_id)] >= 5  # never below k customers
    strict = engine.basket([item], 5, min_customers=10_000)
    assert strict.items == ()
    with pytest.raises(InputError):
        engine.basket([item], 5, min_customers=1)
    category = engine.catalog.categories[idx]
    only = engine.trending(5, category=str(category))
    assert {r.category for r in only.items} == {str(category)}


def test_business_rules(engine: Engine) -> None:
    customer = buyers(engine)[2]
    catalog = engine.catalog
    categories = sorted({str(c) for c in catalog.categories if c})
    answer = engine.recommend(customer, 10, rules=RuleSet(exclude_categories=(categories[0],)))
    assert categories[0] not in {r.category for r in answer.items}
    capped = engine.recommend(customer, 10, rules=RuleSet(max_per_category=2))
    counts = pl.Series([r.category for r in capped.items]).value_counts()
    assert counts["count"].max() <= 2
    stock = engine.recommend(customer, 10)
    assert all(catalog.in_stock[catalog.index(r.item_id)] for r in stock.items)
    diverse = engine.recommend(customer, 10, rules=RuleSet(diversity=0.9))
    assert len({r.category for r in diverse.items}) >= len({r.category for r in stock.items})
    boosted = engine.recommend(
        customer, 10, rules=RuleSet(boost={f"category={categories[1]}": 50.0})
    )
    assert boosted.items[0].category == categories[1]
    with pytest.raises(InputError, match="unknown item field"):
        engine.recommend(customer, 5, rules=RuleSet(boost={"colour=red": 2.0}))
    for bad in (0, -1, 101):
        with pytest.raises(InputError, match="n must be"):
            engine.recommend(customer, bad)


def test_batch_matches_single_answers(engine: Engine) -> None:
    customers = [*buyers(engine)[:5], "nobody-at-all"]
    batch = engine.recommend_many(customers, 6)
    for customer, answer in zip(customers, batch, strict=True):
        single = engine.recommend(customer, 6)
        assert answer.item_ids == single.item_ids
        assert answer.policy == single.policy


def test_tampered_bundle_is_refused_and_old_one_keeps_serving(engine: Engine) -> None:
    version = engine.reload()
    root = engine.settings.bundles_dir
    manifest = artifacts.load(root).manifest
    arrays = dict(artifacts.load(root).arrays)
    body = {k: v for k, v in manifest.items() if k not in ("format", "version")}
    new = artifacts.publish(root, body, arrays)
    with (root / new / "arrays.npz").open("r+b") as handle:
        handle.seek(100)
        handle.write(b"tampered")
    engine._checked_at = 0.0
    assert engine.served.version == version  # the bad bundle was refused
    assert engine.last_reload_error and "checksum" in engine.last_reload_error
    with pytest.raises(ArtifactError, match="checksum"):
        artifacts.load(root)


def test_forget_reaches_store_and_model(engine: Engine) -> None:
    customer = buyers(engine)[3]
    served = engine.served
    assert customer in served.customer_ids.tolist()
    result = engine.forget(customer, actor="test")
    assert result["removed"]["events"] > 0 and result["removed"]["model_rows"] >= 1
    engine._checked_at = 0.0
    assert customer not in engine.served.customer_ids.tolist()
    assert engine.served.version != served.version
    with pytest.raises(NotFound):
        engine.export(customer)
    assert engine.recommend(customer, 3).policy.startswith("cold-start")
    row = int(np.flatnonzero(served.customer_ids == customer)[0])
    for model in engine.served.models.values():
        for part in getattr(model, "parts", {"m": model}).values():
            for attribute in ("profiles", "habits"):
                matrix = getattr(part, attribute, None)
                if matrix is not None:
                    assert matrix[row].nnz == 0


def test_profile_and_model_info(engine: Engine) -> None:
    customer = buyers(engine)[4]
    profile = engine.profile(customer)
    assert profile["orders"] >= 1 and profile["revenue"] > 0
    assert profile["favourite_items"]
    with pytest.raises(NotFound):
        engine.profile("nobody")
    info = engine.model_info()
    assert info["version"] == engine.model_version
    assert set(info["chosen"]) == {"discovery", "repurchase"}
