"""Recommendation models behind one interface (``base.Recommender``), plus rules and results.

``MODELS`` maps each model's name to its class; bundles and the CLI name models this way.
"""

from __future__ import annotations

from storewise.recommend.als import ALS
from storewise.recommend.base import History, ModelConfig, Recommender
from storewise.recommend.content import Content
from storewise.recommend.ease import EASE
from storewise.recommend.hybrid import Hybrid
from storewise.recommend.itemknn import ItemKNN
from storewise.recommend.popular import Popular
from storewise.recommend.repurchase import Repurchase
from storewise.recommend.userknn import UserKNN

MODELS: dict[str, type[Recommender]] = {
    model.name: model
    for model in (Popular, ItemKNN, UserKNN, Content, EASE, ALS, Repurchase, Hybrid)
}

__all__ = ["MODELS", "History", "ModelConfig", "Recommender"]
