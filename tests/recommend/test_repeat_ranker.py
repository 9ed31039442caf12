"""The learned repeat-purchase ranker: learns who buys what again, round-trips, falls back."""

from __future__ import annotations

import numpy as np
import polars as pl

from storewise.data.dataset import Dataset
from storewise.data.interactions import DAY_MS
from storewise.recommend.base import HISTORY_SCHEMA, History
from storewise.recommend.repeat_ranker import (
    FEATURES,
    RepeatRanker,
    customer_purchases,
    item_stats,
    learn,
    pair_features,
)
from storewise.recommend.repurchase import Repurchase, RepurchaseConfig

START = 1_700_000_000_000


def _shop(customers: int = 80, weeks: int = 20, seed: int = 0) -> pl.DataFrame:
    """Customers buy their staple most weeks and now and then a random item from a long tail."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(customers):
        staple = f"staple-{c % 3}"
        for week in range(weeks):
            ts = START + (week * 7 + 2) * DAY_MS + c * 1000
            if week < 2 or rng.random() < 0.7:
                rows.append((f"c{c}", staple, ts, f"o{c}-{week}"))
            if rng.random() < 0.4:
                rows.append((f"c{c}", f"tail-{rng.integers(40)}", ts, f"o{c}-{week}"))
    return pl.DataFrame(
        rows, schema=["customer_id", "item_id", "ts", "order_id"], orient="row"
    ).with_columns(pl.lit("purchase").alias("event_type"))


def test_learns_that_staples_come_back_and_tail_items_do_not() -> None:
    dataset = Dataset.from_frames(_shop())
    ranker = learn(
        dataset.events, dataset.n_items, dataset.as_of_ms, horizon_days=30, recent_days=28
    )
    assert ranker is not None and ranker.coef.shape == (len(FEATURES),)
    stats = item_stats(dataset.events, dataset.n_items, dataset.as_of_ms, 28)
    staples = {dataset.item_index(f"staple-{s}") for s in range(3)}
    wins = 0
    purchases = customer_purchases(dataset.events)
    for lines in purchases.values():
        items, features = pair_features(*lines, stats)
        probability = ranker.probability(features)
        is_staple = np.isin(items, list(staples))
        wins += bool(probability[is_staple].min() > probability[~is_staple].max(initial=0.0))
        assert probability.min() >= 0 and probability.max() <= 1
    assert wins == len(purchases)


def test_arrays_round_trip_and_absent_ranker() -> None:
    ranker = RepeatRanker(np.zeros(3), np.ones(3), np.asarray([1.0, -1.0, 0.5]), 0.25)
    back = RepeatRanker.from_arrays(ranker.arrays())
    assert back is not None
    x = np.asarray([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(back.probability(x), ranker.probability(x))
    assert RepeatRanker.from_arrays({}) is None


def test_too_little_data_gives_no_ranker_and_the_model_falls_back() -> None:
    frame = _shop(customers=2, weeks=2)
    dataset = Dataset.from_frames(frame)
    assert (
        learn(dataset.events, dataset.n_items, dataset.as_of_ms, horizon_days=30, recent_days=28)
        is None
    )
    model = Repurchase().fit(dataset)
    assert model.ranker is None
    history = History(
        pl.DataFrame(
            {
                "item_idx": [dataset.item_index("staple-0")],
                "event_type": ["purchase"],
                "quantity": [1.0],
                "value": [None],
                "order_id": ["x"],
                "ts": [START],
            },
            schema=HISTORY_SCHEMA,
        ),
        now_ms=START,
    )
    assert np.isfinite(model.score([history])[0, dataset.item_index("staple-0")])


def test_one_history_scored_by_two_models_gets_each_models_answer() -> None:
    dataset = Dataset.from_frames(_shop())
    first = Repurchase(RepurchaseConfig(own_weight=1.0)).fit(dataset)
    second = Repurchase(RepurchaseConfig(own_weight=1.0, recent_days=3)).fit(dataset)
    second.item_stats = second.item_stats * 0  # a different model state
    events = dataset.events.filter(pl.col("customer_idx") == 0).select(list(HISTORY_SCHEMA))
    history = History(events, now_ms=dataset.as_of_ms)
    alone = Repurchase.from_state(*second.export()).score(
        [History(events, now_ms=dataset.as_of_ms)]
    )
    first.score([history])
    np.testing.assert_allclose(second.score([history]), alone)


def test_a_bundle_from_before_the_ranker_still_loads_and_scores() -> None:
    dataset = Dataset.from_frames(_shop())
    model = Repurchase().fit(dataset)
    config, meta, arrays = model.export()
    old = {k: v for k, v in arrays.items() if k != "item_stats" and not k.startswith("ranker.")}
    loaded = Repurchase.from_state(config, meta, old)
    assert loaded.ranker is None
    events = dataset.events.filter(pl.col("customer_idx") == 0).select(list(HISTORY_SCHEMA))
    scores = loaded.score([History(events, now_ms=dataset.as_of_ms)])[0]
    assert np.isfinite(scores[dataset.item_index("staple-0")])
