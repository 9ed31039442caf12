"""The request path's numpy weighting equals the dataframe path used in training and batches."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from storewise.data.interactions import InteractionConfig, to_csr, weighted_events
from storewise.recommend.base import HISTORY_SCHEMA, History, history_weights, top_n

events = st.lists(
    st.tuples(
        st.integers(0, 9),
        st.sampled_from(["view", "add_to_cart", "purchase", "return", "search", "rating"]),
        st.one_of(st.none(), st.sampled_from(["o1", "o2", "o3"])),
        st.integers(1_700_000_000_000, 1_700_000_000_000 + 90 * 86_400_000),
        st.one_of(st.none(), st.sampled_from([1.0, 3.0, 3.99, 4.0, 5.0])),
    ),
    max_size=40,
)
configs = st.builds(
    InteractionConfig,
    unit=st.sampled_from(["event", "order"]),
    half_life_days=st.one_of(st.none(), st.floats(1, 200)),
    transform=st.sampled_from(["raw", "log", "binary"]),
)


@settings(max_examples=150, deadline=None)
@given(rows=events, config=configs)
def test_numpy_weighting_matches_dataframe_weighting(
    rows: list[tuple[int, str, str | None, int, float | None]], config: InteractionConfig
) -> None:
    frame = pl.DataFrame(
        {
            "item_idx": [r[0] for r in rows],
            "event_type": [r[1] for r in rows],
            "quantity": [1.0] * len(rows),
            "value": [r[4] for r in rows],
            "order_id": [r[2] for r in rows],
            "ts": [r[3] for r in rows],
        },
        schema=HISTORY_SCHEMA,
    )
    history = History(frame, now_ms=1_800_000_000_000)
    indices, values = history_weights(history, config, 10)
    fast = np.zeros(10)
    fast[indices] = values
    slow = to_csr(
        weighted_events(
            frame.with_columns(pl.lit(0, dtype=pl.Int32).alias("customer_idx")),
            config,
            history.now_ms,
            relative=True,
        ),
        1,
        10,
    ).toarray()[0]
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-6)


def test_top_n_breaks_ties_by_index_and_skips_excluded() -> None:
    scores = np.array([1.0, 3.0, 3.0, -np.inf, 2.0])
    items, values = top_n(scores, 3, exclude=np.array([1]))
    assert items.tolist() == [2, 4, 0] and values.tolist() == [3.0, 2.0, 1.0]
    assert top_n(np.full(3, -np.inf), 2)[0].size == 0


def test_top_n_of_a_catalog_smaller_than_n_or_of_none() -> None:
    scores = np.array([0.2, 0.9, 0.5])
    items, values = top_n(scores, 10)
    assert items.tolist() == [1, 2, 0] and values.tolist() == [0.9, 0.5, 0.2]
    assert top_n(scores, 10, exclude=np.array([0, 1, 2]))[0].size == 0
    assert top_n(scores, 0)[0].size == 0


def test_only_liked_ratings_count_and_rated_items_are_not_new() -> None:
    frame = pl.DataFrame(
        {
            "item_idx": [0, 1, 2, 3],
            "event_type": ["rating", "rating", "rating", "view"],
            "quantity": [None] * 4,
            "value": [5.0, 2.0, None, None],
            "order_id": [None] * 4,
            "ts": [1_700_000_000_000 + n for n in range(4)],
        },
        schema=HISTORY_SCHEMA,
    )
    history = History(frame, now_ms=1_800_000_000_000)
    indices, _ = history_weights(history, InteractionConfig(weights={"rating": 1.0}), 4)
    assert indices.tolist() == [0]  # 2 stars and a rating without stars are no liking
    assert history.owned().tolist() == [0, 1, 2]  # but none is recommended as new
    assert history.purchased().size == 0  # nor offered as "buy again"
