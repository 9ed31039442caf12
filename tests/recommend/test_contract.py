"""Every model passes the shared recommender contract."""

from __future__ import annotations

from typing import Any, ClassVar

from storewise.recommend.als import ALS
from storewise.recommend.content import Content
from storewise.recommend.ease import EASE
from storewise.recommend.hybrid import Hybrid
from storewise.recommend.itemknn import ItemKNN
from storewise.recommend.popular import Popular
from storewise.recommend.repurchase import Repurchase
from storewise.recommend.userknn import UserKNN
from storewise.testing.recommender_contract import RecommenderContract


class TestPopular(RecommenderContract):
    model_class = Popular
    config: ClassVar[dict[str, Any]] = {"min_country_buyers": 2}


class TestItemKNNCosine(RecommenderContract):
    model_class = ItemKNN
    config: ClassVar[dict[str, Any]] = {"similarity": "cosine", "k": 10}


class TestItemKNNBM25(RecommenderContract):
    model_class = ItemKNN
    config: ClassVar[dict[str, Any]] = {"similarity": "bm25", "shrink": 2.0}


class TestUserKNN(RecommenderContract):
    model_class = UserKNN
    config: ClassVar[dict[str, Any]] = {"k": 5}


class TestContent(RecommenderContract):
    model_class = Content


class TestEASE(RecommenderContract):
    model_class = EASE
    config: ClassVar[dict[str, Any]] = {"l2": 10.0}


class TestALS(RecommenderContract):
    model_class = ALS
    config: ClassVar[dict[str, Any]] = {"factors": 8, "iterations": 5, "threads": 1}


class TestRepurchase(RecommenderContract):
    model_class = Repurchase
    config: ClassVar[dict[str, Any]] = {"k": 5}


class TestHybrid(RecommenderContract):
    model_class = Hybrid
    config: ClassVar[dict[str, Any]] = {
        "components": {"itemknn": {"k": 10}, "content": {}, "popular": {"min_country_buyers": 2}},
        "weights": {"itemknn": 1.0, "content": 0.5, "popular": 0.2},
        "cold_weights": {"content": 1.0, "popular": 0.5},
    }
