"""Metric definitions checked against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from storewise.evaluate import metrics


def test_accuracy_by_hand() -> None:
    lists = {"a": ["x", "y", "z"], "b": ["q", "r", "s"]}
    truth = {"a": {"y", "w"}, "b": {"q"}}
    result = metrics.accuracy(lists, truth, k=3)
    ndcg_a = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert result["ndcg"] == pytest.approx((ndcg_a + 1.0) / 2)
    assert result["recall"] == pytest.approx((0.5 + 1.0) / 2)
    assert result["precision"] == pytest.approx((1 / 3 + 1 / 3) / 2)
    assert result["map"] == pytest.approx(((1 / 2) / 2 + 1.0) / 2)
    assert result["hit_rate"] == 1.0
    assert result["mrr"] == pytest.approx((0.5 + 1.0) / 2)
    assert metrics.accuracy({}, truth, 3)["ndcg"] == 0.0  # missing lists count as empty


def test_beyond_accuracy() -> None:
    lists = {"a": ["x", "y"], "b": ["x", "z"]}
    assert metrics.coverage(lists, n_items=4, k=2) == 0.75
    popularity = {"x": 10.0, "y": 5.0, "z": 1.0, "w": 1.0}
    figures = metrics.popularity_metrics(lists, popularity, n_users=10, k=2, head_share=0.25)
    assert figures["long_tail_share"] == pytest.approx(0.5)
    assert figures["arp"] == pytest.approx(((10 + 5) / 2 + (10 + 1) / 2) / 2)
    assert metrics.gini(np.array([1.0, 1.0, 1.0])) == pytest.approx(0.0)
    assert metrics.gini(np.array([0.0, 0.0, 5.0])) == pytest.approx(2 / 3)


def test_miscalibration() -> None:
    assert metrics.miscalibration(["a", "b"], ["a", "b"]) == pytest.approx(0.0)
    skewed = metrics.miscalibration(["a", "b"], ["a", "a"])
    assert skewed > 1.0  # missing a category the customer buys is heavily penalised
    assert metrics.miscalibration([], ["a"]) == 0.0


def test_by_group() -> None:
    lists = {"a": ["x"], "b": ["y"]}
    truth = {"a": {"x"}, "b": {"z"}}
    groups = metrics.by_group(lists, truth, {"a": "UK", "b": "FR"}, k=1)
    assert groups["UK"]["ndcg"] == 1.0 and groups["FR"]["ndcg"] == 0.0
