"""The single models a hybrid can blend, by name (``MODELS`` adds the hybrid itself).

Kept apart from the package's ``__init__`` so :mod:`~storewise.recommend.hybrid` can look its
components up without importing the package that imports it (no import cycle).
"""

from __future__ import annotations

from storewise.recommend.als import ALS
from storewise.recommend.base import Recommender
from storewise.recommend.content import Content
from storewise.recommend.ease import EASE
from storewise.recommend.itemknn import ItemKNN
from storewise.recommend.popular import Popular
from storewise.recommend.repurchase import Repurchase
from storewise.recommend.sequence import SequentialRules
from storewise.recommend.userknn import UserKNN

COMPONENTS: dict[str, type[Recommender]] = {
    model.name: model
    for model in (Popular, ItemKNN, UserKNN, Content, EASE, ALS, Repurchase, SequentialRules)
}

__all__ = ["COMPONENTS"]
