"""The recommender contract: every model passes the same tests.

Subclass :class:`RecommenderContract`, set ``model_class`` (and optionally ``config``), and
the suite checks fitting on tiny data, unique and complete lists, exclusions, determinism,
reasons for every item, similar items, fresh histories and an exact save/load round trip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl
import pytest

from storewise import artifacts
from storewise.data.dataset import Dataset
from storewise.errors import NotFitted
from storewise.recommend.base import HISTORY_SCHEMA, History, Recommender, histories_of
from storewise.testing.fixtures import DAY, T0


def small_shop(seed: int = 7, customers: int = 40, items: int = 25) -> Dataset:
    """A seeded shop with taste clusters, repeat purchases and views (for contract tests)."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, str, str | None, int]] = []
    for c in range(customers):
        cluster = c % 3
        pool = [i for i in range(items) if i % 3 == cluster] + [int(rng.integers(items))]
        for order in range(int(rng.integers(2, 6))):
            day = int(rng.integers(0, 60))
            for item in rng.choice(pool, size=int(rng.integers(1, 4)), replace=False):
                rows.append((f"c{c:02d}", f"i{item:02d}", "purchase", f"o{c}-{order}", day))
        rows.append((f"c{c:02d}", f"i{int(rng.integers(items)):02d}", "view", None, 61))
    events = pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "item_id": [r[1] for r in rows],
            "event_type": [r[2] for r in rows],
            "order_id": [r[3] for r in rows],
            "ts": [T0 + r[4] * DAY for r in rows],
            "quantity": [1.0] * len(rows),
            "price": [2.0] * len(rows),
        }
    )
    categories = ["lighting", "kitchen", "garden"]
    words = ["lantern", "mug", "trowel", "candle", "plate", "seed", "heart", "bowl", "rake"]
    catalog = pl.DataFrame(
        {
            "item_id": [f"i{i:02d}" for i in range(items)],
            "title": [f"{words[i % 9]} {words[(i * 5) % 9]} no {i}" for i in range(items)],
            "category": [categories[i % 3] for i in range(items)],
            "price": [1.0 + i for i in range(items)],
            "in_stock": [i % 7 != 0 for i in range(items)],
            "country": None,
        }
    ).drop("country")
    customers_frame = pl.DataFrame(
        {
            "customer_id": [f"c{c:02d}" for c in range(customers)],
            "country": ["United Kingdom" if c % 4 else "France" for c in range(customers)],
        }
    )
    return Dataset.from_frames(events, items=catalog, customers=customers_frame)


def tiny_catalog_shop(items: int = 3, customers: int = 40, seed: int = 11) -> Dataset:
    """A shop whose catalog is smaller than a list: ``items`` products (3, or even 1) bought by
    ``customers`` customers over two months, with titles and categories. Lists of ten must
    come back shorter, never as an error."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, str, int]] = []
    for c in range(customers):
        for order in range(int(rng.integers(1, 4))):
            day = int(rng.integers(0, 60))
            size = int(rng.integers(1, items + 1))
            for item in rng.choice(items, size=size, replace=False):
                rows.append((f"c{c:02d}", f"i{int(item):02d}", f"o{c}-{order}", day))
    events = pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "item_id": [r[1] for r in rows],
            "event_type": ["purchase"] * len(rows),
            "order_id": [r[2] for r in rows],
            "ts": [T0 + r[3] * DAY for r in rows],
            "quantity": [1.0] * len(rows),
            "price": [2.0] * len(rows),
        }
    )
    colours = ["red", "blue", "green"]
    catalog = pl.DataFrame(
        {
            "item_id": [f"i{i:02d}" for i in range(items)],
            "title": [f"{colours[i % 3]} enamel mug no {i}" for i in range(items)],
            "category": ["kitchen"] * items,
            "price": [2.0] * items,
            "in_stock": [True] * items,
        }
    )
    customers_frame = pl.DataFrame(
        {"customer_id": [f"c{c:02d}" for c in range(customers)], "country": ["France"] * customers}
    )
    return Dataset.from_frames(events, items=catalog, customers=customers_frame)


class RecommenderContract:
    """Behaviour every Recommender must have."""

    model_class: ClassVar[type[Recommender]]
    config: ClassVar[dict[str, Any]] = {}

    @pytest.fixture(scope="class")
    @classmethod
    def shop(cls) -> Dataset:
        return small_shop()

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls, shop: Dataset) -> Recommender:
        return cls.make().fit(shop)

    @classmethod
    def make(cls) -> Recommender:
        return cls.model_class(cls.model_class.config_class(**cls.config))

    def test_not_fitted_is_a_clear_error(self, shop: Dataset) -> None:
        model = self.make()
        with pytest.raises(NotFitted, match="storewise train"):
            model.score(histories_of(shop, [0]))

    def test_fit_returns_self(self, shop: Dataset) -> None:
        model = self.make()
        assert model.fit(shop) is model and model.fitted

    def test_returns_n_unique_items(self, model: Recommender, shop: Dataset) -> None:
        for history in histories_of(shop, [0, 1, 2, 7]):
            items, scores = model.recommend(history, 10)
            assert len(items) == 10 == len(set(items.tolist()))
            assert np.all(np.diff(scores) <= 0)
            assert items.min() >= 0 and items.max() < shop.n_items

    def test_honours_exclusions(self, model: Recommender, shop: Dataset) -> None:
        history = histories_of(shop, [3])[0]
        bought = history.purchased()
        items, _ = model.recommend(history, 10, exclude=bought)
        assert not set(items.tolist()) & set(bought.tolist())
        assert len(items) == 10

    def test_deterministic_with_seed(self, shop: Dataset) -> None:
        histories = histories_of(shop, [0, 5, 9])
        first = self.make().fit(shop).score(histories)
        second = self.make().fit(shop).score(histories)
        np.testing.assert_array_equal(first, second)

    def test_every_item_has_a_reason(self, model: Recommender, shop: Dataset) -> None:
        for history in histories_of(shop, [0, 4]):
            items, _ = model.recommend(history, 5, exclude=history.purchased())
            for item in items:
                reasons = model.explain(history, int(item))
                assert reasons and all(r.kind for r in reasons)

    def test_fresh_history_of_an_unknown_customer(self, model: Recommender, shop: Dataset) -> None:
        events = pl.DataFrame(
            {
                "item_idx": [0, 3],
                "event_type": ["purchase", "view"],
                "quantity": [1.0, 1.0],
                "value": [2.0, None],
                "order_id": ["new", None],
                "ts": [T0 + 62 * DAY] * 2,
            },
            schema=HISTORY_SCHEMA,
        )
        items, _ = model.recommend(History(events, T0 + 62 * DAY, None, "France"), 5)
        assert len(items) == 5

    def test_similar_items(self, model: Recommender, shop: Dataset) -> None:
        items, scores = model.similar_items(0, 5)
        assert 0 not in items.tolist()
        assert len(set(items.tolist())) == len(items) <= 5
        assert np.all(np.isfinite(scores))

    def test_save_load_round_trip(self, model: Recommender, shop: Dataset, tmp_path: Path) -> None:
        config, meta, arrays = model.export()
        prefixed = {f"m.{k}": v for k, v in arrays.items()}
        artifacts.publish(tmp_path, {"config": config, "meta": meta}, prefixed)
        bundle = artifacts.load(tmp_path)
        restored = type(model).from_state(
            bundle.manifest["config"],
            bundle.manifest["meta"],
            {k[2:]: v for k, v in bundle.arrays.items()},
        )
        histories = histories_of(shop, list(range(shop.n_customers)))
        np.testing.assert_array_equal(model.score(histories), restored.score(histories))
        np.testing.assert_array_equal(model.similar_items(1, 5)[0], restored.similar_items(1, 5)[0])

    def test_rankings_do_not_depend_on_the_wall_clock(
        self, model: Recommender, shop: Dataset
    ) -> None:
        history = histories_of(shop, [2])[0]
        later = History(
            history.events, history.now_ms + 10 * 365 * DAY, history.customer_idx, history.country
        )
        now_items, _ = model.recommend(history, 8)
        later_items, _ = model.recommend(later, 8)
        np.testing.assert_array_equal(now_items, later_items)

    @pytest.mark.parametrize("items", [3, 1])
    def test_a_catalog_smaller_than_the_list(self, items: int) -> None:
        shop = tiny_catalog_shop(items)
        model = self.make().fit(shop)
        histories = histories_of(shop, [0, 1, 2])
        scores = model.score(histories)
        assert scores.shape == (3, items)
        for history in histories:
            ranked, values = model.recommend(history, 10)
            assert sorted(ranked.tolist()) == list(range(items))
            assert np.all(np.diff(values) <= 0)
            bought = history.purchased()
            fresh, _ = model.recommend(history, 10, exclude=bought)
            assert set(fresh.tolist()) == set(range(items)) - set(bought.tolist())
            for item in fresh:
                assert model.explain(history, int(item))
        similar, similarity = model.similar_items(0, 10)
        assert 0 not in similar.tolist() and len(similar) <= items - 1
        assert np.all(np.isfinite(similarity))
