"""Dataset snapshots: vocabularies, consent, non-product codes, matrices and splits."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from storewise.data.dataset import Dataset
from storewise.data.interactions import InteractionConfig, history_vector, interaction_matrix
from storewise.data.split import leave_last_basket, per_user_random_split, temporal_split
from storewise.errors import InputError
from storewise.store import SqlStore
from storewise.testing.fixtures import DAY, T0, tiny_events, tiny_items


def test_from_store_indexes_and_applies_consent(sqlite_store: SqlStore) -> None:
    with sqlite_store.writer() as writer:
        writer.add_events(tiny_events())
        writer.upsert_items(tiny_items())
        writer.upsert_items(pl.DataFrame({"item_id": ["POST"], "is_product": [False]}))
        writer.add_events(
            pl.DataFrame(
                {
                    "event_id": ["p1"],
                    "customer_id": ["c1"],
                    "item_id": ["POST"],
                    "event_type": ["purchase"],
                    "ts": [T0],
                }
            )
        )
        writer.set_consents(
            pl.DataFrame(
                {
                    "customer_id": ["c2"],
                    "purpose": ["personalization"],
                    "granted": [False],
                    "at": [T0],
                    "source": ["t"],
                }
            )
        )
    ds = Dataset.from_store(sqlite_store)
    assert ds.item_ids.tolist() == ["i1", "i2", "i3", "i4", "i5"]  # POST is not a product
    assert ds.customer_ids.tolist() == ["c1", "c3"]  # c2 withdrew consent
    assert ds.excluded_customers == 1
    assert ds.customer_index("c3") == 1 and ds.customer_index("c2") is None
    assert ds.events["ts"].is_sorted()
    assert ds.items.filter(pl.col("item_id") == "i5")["in_stock"][0] is False
    everyone = Dataset.from_store(sqlite_store, respect_consent=False)
    assert everyone.n_customers == 3


def test_interaction_weights_units_and_decay() -> None:
    ds = Dataset.from_frames(tiny_events(), items=tiny_items())
    matrix = interaction_matrix(ds, InteractionConfig()).toarray()
    c1, i1, i3 = ds.customer_index("c1"), ds.item_index("i1"), ds.item_index("i3")
    assert matrix[c1, i1] == 8.0  # two orders with i1, weight 4 each
    assert matrix[c1, i3] == 1.0  # one view
    binary = interaction_matrix(ds, InteractionConfig(transform="binary")).toarray()
    assert set(np.unique(binary)) <= {0.0, 1.0}
    decayed = interaction_matrix(ds, InteractionConfig(half_life_days=1.0)).toarray()
    assert decayed[c1, i1] < 4.1  # the old order is worth almost nothing
    history = ds.index_events(tiny_events().filter(pl.col("customer_id") == "c1"))
    row = history_vector(history, ds.n_items, InteractionConfig(), ds.as_of_ms).toarray()[0]
    np.testing.assert_allclose(row, matrix[c1])


def test_returns_cancel_purchases() -> None:
    events = pl.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "item_id": ["x", "x", "x"],
            "event_type": ["purchase", "return", "purchase"],
            "order_id": ["o1", "o1", "o2"],
            "ts": [T0, T0 + DAY, T0],
        }
    )
    ds = Dataset.from_frames(events)
    matrix = interaction_matrix(ds, InteractionConfig()).toarray()
    assert matrix[ds.customer_index("a"), 0] == 0.0
    assert matrix[ds.customer_index("b"), 0] == 4.0


def test_splits() -> None:
    ds = Dataset.from_frames(tiny_events(), items=tiny_items())
    split = temporal_split(ds, T0 + 5 * DAY)
    assert split.train.events["ts"].max() < T0 + 5 * DAY
    assert set(split.test["customer_id"]) == {"c1", "c2", "c3"}
    assert split.train.n_items == ds.n_items  # the catalog stays whole
    basket = leave_last_basket(ds)
    assert "o5" in basket.test["order_id"].to_list()
    rand = per_user_random_split(ds, 0.5, seed=1)
    assert rand.train.events.height + rand.test.height == ds.events.height
    with pytest.raises(InputError):
        temporal_split(ds, T0 - DAY)


def test_empty_snapshot_says_there_is_nothing_to_learn() -> None:
    ds = Dataset.from_frames(tiny_events().clear())
    with pytest.raises(InputError, match="nothing to learn"):
        ds.require_events()
