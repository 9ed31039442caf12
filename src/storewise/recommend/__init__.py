"""Recommendation models behind one interface (``base.Recommender``), plus rules and results.

``MODELS`` maps each model's name to its class; bundles and the CLI name models this way.
"""

from __future__ import annotations

from storewise.recommend.base import History, ModelConfig, Recommender
from storewise.recommend.components import COMPONENTS
from storewise.recommend.hybrid import Hybrid

MODELS: dict[str, type[Recommender]] = {**COMPONENTS, Hybrid.name: Hybrid}

__all__ = ["MODELS", "History", "ModelConfig", "Recommender"]
