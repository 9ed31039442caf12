"""Sequential rules: the shared contract, and "what comes next" on sequences with a known
order."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import polars as pl

from storewise.data.dataset import Dataset
from storewise.recommend.base import HISTORY_SCHEMA, History
from storewise.recommend.sequence import SequentialRules
from storewise.testing.fixtures import DAY, T0
from storewise.testing.recommender_contract import RecommenderContract


class TestSequentialRules(RecommenderContract):
    model_class = SequentialRules
    config: ClassVar[dict[str, Any]] = {"window": 2, "k": 10}


def _steps(customers: int, chain: list[str]) -> Dataset:
    """Every customer views the chain's items in order, a day apart (a known next item)."""
    rows = [
        (f"c{c}", item, T0 + (c * 100 + step) * DAY)
        for c in range(customers)
        for step, item in enumerate(chain)
    ]
    events = pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "item_id": [r[1] for r in rows],
            "event_type": ["view"] * len(rows),
            "ts": [r[2] for r in rows],
        }
    )
    return Dataset.from_frames(events)


def _history(items: list[int]) -> History:
    frame = pl.DataFrame(
        {
            "item_idx": items,
            "event_type": ["view"] * len(items),
            "quantity": [1.0] * len(items),
            "value": [None] * len(items),
            "order_id": [None] * len(items),
            "ts": [T0 + i * DAY for i in range(len(items))],
        },
        schema=HISTORY_SCHEMA,
    )
    return History(frame, T0 + 10 * DAY)


def test_the_next_item_in_the_chain_comes_first() -> None:
    dataset = _steps(20, ["phone", "case", "charger", "cable"])
    model = SequentialRules().fit(dataset)
    index = {item: i for i, item in enumerate(dataset.item_ids)}
    after_case = model.score([_history([index["phone"], index["case"]])])[0]
    assert int(np.argmax(after_case)) == index["charger"]
    # the latest item counts most: after the charger, the cable beats what followed the phone
    after_charger = model.score([_history([index["phone"], index["charger"]])])[0]
    assert int(np.argmax(after_charger)) == index["cable"]
    assert model.explain(_history([index["case"]]), index["charger"])[0].kind == "bought_after"


def test_no_rule_reaches_backwards_or_across_customers() -> None:
    dataset = _steps(5, ["a", "b"])
    model = SequentialRules(SequentialRules.config_class(window=1)).fit(dataset)
    index = {item: i for i, item in enumerate(dataset.item_ids)}
    scores = model.score([_history([index["b"]])])[0]
    assert np.isneginf(scores).all()  # nothing ever followed b, and c4's b never led to c5's a
