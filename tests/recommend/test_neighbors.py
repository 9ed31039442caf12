"""The shared model helpers give exactly what each model computed inline before."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from storewise.data.dataset import Dataset
from storewise.data.interactions import interaction_matrix
from storewise.recommend.base import histories_of, history_matrix, top_n
from storewise.recommend.ease import EASE, EASEConfig
from storewise.recommend.neighbors import (
    BM25Weighting,
    bm25_stats,
    bm25_weight,
    co_bought,
    most_similar,
    nearest_neighbours,
    row_normalise,
    strongest_sources,
)
from storewise.recommend.repurchase import Repurchase, RepurchaseConfig
from storewise.recommend.userknn import UserKNN, UserKNNConfig
from storewise.testing.recommender_contract import small_shop


def _reference_neighbours(sims: sp.csr_matrix, k: int, own: list[int | None]) -> sp.csr_matrix:
    """The selection user-kNN and repurchase each used to inline, verbatim."""
    rows = []
    for row, customer in enumerate(own):
        lo, hi = sims.indptr[row], sims.indptr[row + 1]
        cols, vals = sims.indices[lo:hi], sims.data[lo:hi].copy()
        if customer is not None:
            vals[cols == customer] = 0.0
        if cols.size > k:
            best = np.argpartition(-vals, k - 1)[:k]
            cols, vals = cols[best], vals[best]
        rows.append(sp.csr_matrix((vals, (np.zeros_like(cols), cols)), shape=(1, sims.shape[1])))
    return sp.vstack(rows).tocsr() if rows else sp.csr_matrix((0, sims.shape[1]))


def _same(a: sp.csr_matrix, b: sp.csr_matrix) -> None:
    assert a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.data, b.data)


@pytest.fixture(scope="module")
def shop() -> Dataset:
    return small_shop()


def test_nearest_neighbours_matches_the_inline_selection() -> None:
    rng = np.random.default_rng(1)
    sims = sp.random(30, 50, density=0.3, random_state=2, dtype=np.float32, format="csr")
    sims.data = np.round(sims.data, 1)  # many ties at the k-th place
    own: list[int | None] = [
        int(c) if r % 3 else None for r, c in enumerate(rng.integers(50, size=30))
    ]
    for k in (1, 3, 10, 100):
        _same(nearest_neighbours(sims, k, own), _reference_neighbours(sims, k, own))
    _same(nearest_neighbours(sims[:0], 5, []), _reference_neighbours(sims[:0], 5, []))


def test_nobody_is_their_own_neighbour() -> None:
    sims = sp.csr_matrix(np.asarray([[0.9, 0.5, 0.1]], dtype=np.float32))
    np.testing.assert_allclose(nearest_neighbours(sims, 2, [0]).toarray(), [[0.0, 0.5, 0.1]])
    np.testing.assert_allclose(nearest_neighbours(sims, 2, [None]).toarray(), [[0.9, 0.5, 0.0]])


def test_bm25_weighting_is_the_training_statistics_applied(shop: Dataset) -> None:
    x = interaction_matrix(shop, EASEConfig().interactions)
    on = BM25Weighting.learn(x, enabled=True)
    _same(on.weigh(x), bm25_weight(x, stats=bm25_stats(x)))
    one = x[3:4]
    _same(on.weigh(one), bm25_weight(one, stats=bm25_stats(x)))  # not one's own corpus
    empty = sp.csr_matrix(one.shape, dtype=np.float32)
    assert on.weigh(empty) is empty
    off = BM25Weighting.learn(x, enabled=False)
    assert off.weigh(x) is x
    meta, arrays = on.state()
    assert set(meta) == {"bm25_avg"} and set(arrays) == {"bm25_idf"}  # the bundle layout
    back = BM25Weighting.from_state(meta, arrays, enabled=True)
    _same(back.weigh(x), on.weigh(x))


def test_strongest_sources_picks_the_largest_positive_contribution() -> None:
    similarity = np.asarray([[0.2, -1.0, 0.0, 0.5], [0.1, -2.0, 0.0, 0.5]])
    weights = np.asarray([1.0, 3.0], dtype=np.float32)
    assert strongest_sources(similarity, weights, np.asarray([7, 9])) == [9, None, None, 9]
    assert strongest_sources(np.zeros((0, 2)), np.zeros(0), np.zeros(0, np.int64)) == [None, None]


def test_most_similar_and_co_bought(shop: Dataset) -> None:
    scores = np.asarray([0.0, 0.4, -1.0, 0.4, 0.9], dtype=np.float32)
    ids, values = most_similar(scores, 10, 4)
    assert ids.tolist() == [1, 3] and values.tolist() == pytest.approx([0.4, 0.4])
    assert scores[4] == np.float32(0.9)  # the input is not changed
    rows = row_normalise(interaction_matrix(shop, EASEConfig().interactions))
    by_item = sp.csc_matrix(rows)
    expected = np.asarray((by_item[:, 2].T @ rows).toarray()).ravel().astype(np.float64)
    expected[expected <= 0] = -np.inf
    ids, values = co_bought(by_item, rows, 2, 8)
    want_ids, want_values = top_n(expected, 8, exclude=np.asarray([2]))
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_array_equal(values, want_values)


@pytest.mark.parametrize(
    "config",
    [UserKNNConfig(k=5), UserKNNConfig(k=3, bm25=False, shrink=2.0, normalise=True)],
)
def test_userknn_scores_are_pinned(shop: Dataset, config: UserKNNConfig) -> None:
    model = UserKNN(config).fit(shop)
    histories = histories_of(shop, list(range(12)))
    x = interaction_matrix(shop, config.interactions)
    stats = bm25_stats(x)
    profiles = row_normalise(bm25_weight(x, stats=stats) if config.bm25 else x)
    query = history_matrix(histories, shop.n_items, config.interactions)
    if config.bm25:
        query = bm25_weight(query, stats=stats)
    sims = (row_normalise(query) @ sp.csc_matrix(profiles).T).tocsr()
    if config.shrink:
        sims.data = sims.data * (1.0 / (1.0 + config.shrink / np.maximum(sims.data, 1e-9)))
    neighbours = _reference_neighbours(sims, config.k, [h.customer_idx for h in histories])
    expected = np.asarray((neighbours @ profiles).toarray(), dtype=np.float32)
    if config.normalise:
        expected /= np.maximum(np.asarray(neighbours.sum(axis=1)).ravel(), 1e-9)[:, None]
    expected[np.diff(neighbours.indptr) == 0] = -np.inf
    np.testing.assert_array_equal(model.score(histories), expected)


def test_repurchase_neighbour_part_is_pinned(shop: Dataset) -> None:
    config = RepurchaseConfig(k=4, learn_own=False)
    model = Repurchase(config).fit(shop)
    histories = histories_of(shop, list(range(12)))
    habits = row_normalise(interaction_matrix(shop, config.interactions))
    own = history_matrix(histories, shop.n_items, config.interactions)
    sims = (row_normalise(own) @ sp.csc_matrix(habits).T).tocsr()
    neighbours = _reference_neighbours(sims, config.k, [h.customer_idx for h in histories])
    expected = np.asarray((neighbours @ habits).toarray(), dtype=np.float64)
    np.testing.assert_array_equal(model._parts(histories)[1], expected)


def test_ease_weighs_histories_with_the_training_statistics(shop: Dataset) -> None:
    config = EASEConfig(l2=10.0, bm25=True)
    model = EASE(config).fit(shop)
    histories = histories_of(shop, [0, 5, 9])
    x = interaction_matrix(shop, config.interactions)
    query = bm25_weight(
        history_matrix(histories, shop.n_items, config.interactions), stats=bm25_stats(x)
    )
    expected = np.asarray(query @ model.weights, dtype=np.float32)
    np.testing.assert_array_equal(model.score(histories), expected)
