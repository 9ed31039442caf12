"""``storewise train``: snapshot the store, tune on the most recent period, refit, publish.

Every distinct (model, config) is fitted once on all the data and shared by the slots and
hybrids that use it; the bundle records the data snapshot, the validation figures and the
chosen parameters.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from storewise import artifacts
from storewise.data.dataset import Dataset
from storewise.errors import InputError
from storewise.evaluate.tuning import TuneResult, tune
from storewise.privacy.consent import ConsentPolicy
from storewise.privacy.erasure import drop_erased
from storewise.recommend import MODELS, bundle
from storewise.recommend.base import Recommender
from storewise.recommend.basket import cobuy_counts
from storewise.recommend.hybrid import Hybrid
from storewise.schema import from_ms
from storewise.store.base import Store

Progress = Callable[[str], None]

#: Similar items and guest sessions: co-purchase neighbours, product features for new items.
SIMILAR_WEIGHTS = {"itemknn": 1.0, "content": 0.25}


@dataclass
class TrainReport:
    """What a training run did."""

    version: str
    seconds: float
    chosen: dict[str, dict[str, Any]]
    validation: dict[str, dict[str, float]]
    data: dict[str, Any]
    trials: list[dict[str, Any]] = field(default_factory=list)
    selection: dict[str, dict[str, float]] = field(default_factory=dict)


def _key(name: str, config: dict[str, Any]) -> str:
    return name + ":" + json.dumps(config, sort_keys=True)


class _Fitter:
    """Fits each distinct (model, config) once on the full snapshot."""

    def __init__(self, dataset: Dataset, say: Progress) -> None:
        self.dataset = dataset
        self.say = say
        self.fitted: dict[str, Recommender] = {}
        self.names: dict[str, str] = {}

    def get(self, name: str, config: dict[str, Any]) -> str:
        """The bundle name of the fitted model (fitting it on first use)."""
        key = _key(name, config)
        if key in self.fitted:
            return self.names[key]
        cls = MODELS[name]
        if cls is Hybrid:
            parts = {
                part: self.fitted[_key(part, cfg)]
                for part, cfg in config["components"].items()
                if _key(part, cfg) in self.fitted or self.get(part, cfg)
            }
            model: Recommender = Hybrid(Hybrid.config_class.model_validate(config)).use_fitted(
                parts, self.dataset
            )
        else:
            self.say(f"fitting {name}")
            model = cls(cls.config_class.model_validate(config)).fit(self.dataset)
        label = name if name not in self.names.values() else f"{name}-{len(self.fitted)}"
        self.fitted[key] = model
        self.names[key] = label
        return label

    def models(self) -> dict[str, Recommender]:
        """Fitted models by bundle name."""
        return {self.names[k]: m for k, m in self.fitted.items()}


def previous_choice(models_dir: Path) -> dict[str, dict[str, Any]]:
    """Per-model configs chosen by the last full training, if any (for ``--model``)."""
    try:
        served = bundle.load(models_dir)
    except Exception:  # no bundle, or an unreadable one: fall back to defaults
        return {}
    best: dict[str, dict[str, Any]] = served.manifest.get("best_configs", {})
    return best


def train(
    store: Store,
    models_dir: Path,
    *,
    model: str | None = None,
    valid_days: float = 30.0,
    budget_seconds: float = 200.0,
    as_of_ms: int | None = None,
    progress: Progress | None = None,
    policy: ConsentPolicy | None = None,
) -> TrainReport:
    """Train (tuning unless ``model`` is given) and publish a new current bundle; the consent
    policy decides whose events the snapshot holds."""
    say = progress or (lambda _message: None)
    started = time.perf_counter()
    if model is not None and model not in MODELS:
        raise InputError(f"unknown model {model!r}; choose one of {', '.join(sorted(MODELS))}")
    say("reading the store")
    snapshot_ms = int(time.time() * 1000)
    dataset = Dataset.from_store(store, as_of_ms=as_of_ms, policy=policy)
    dataset.require_events()
    result = TuneResult()
    if model is None:
        result = tune(dataset, valid_days=valid_days, budget_seconds=budget_seconds, progress=say)
        best = {
            name: config for scenario in result.best.values() for name, config in scenario.items()
        }
        fallback = {"model": "itemknn", "config": {}}
        choice = result.choice or {s: fallback for s in ("discovery", "repurchase")}
    else:
        best = previous_choice(models_dir)
        config = best.get(model, {})
        if model == "hybrid" and not config:
            config = {
                "components": {"itemknn": {}, "popular": {}},
                "weights": {"itemknn": 1.0, "popular": 0.3},
            }
        choice = {s: {"model": model, "config": config} for s in ("discovery", "repurchase")}
    fitter = _Fitter(dataset, say)
    slots = {
        "discovery": fitter.get(choice["discovery"]["model"], choice["discovery"]["config"]),
        "repurchase": fitter.get(choice["repurchase"]["model"], choice["repurchase"]["config"]),
        "popular": fitter.get("popular", best.get("popular", {})),
    }
    similar_config = {
        "components": {"itemknn": best.get("itemknn", {}), "content": best.get("content", {})},
        "weights": SIMILAR_WEIGHTS,
    }
    slots["similar"] = fitter.get("hybrid", similar_config)
    say("counting items bought together")
    cobuy = cobuy_counts(dataset)
    data = {
        "as_of": from_ms(dataset.as_of_ms).isoformat(),
        "as_of_ms": dataset.as_of_ms,
        "customers": dataset.n_customers,
        "items": dataset.n_items,
        "events": dataset.events.height,
        "excluded_for_consent": dataset.excluded_customers,
    }
    seconds = time.perf_counter() - started
    manifest = {
        "data": data,
        "chosen": choice,
        "best_configs": best,
        "validation": result.validation,
        "tuning": {
            "valid_days": result.valid_days,
            "users": result.users,
            "selection": result.selection,
            "trials": result.table(),
        },
        "train_seconds": round(seconds, 2),
    }
    models = fitter.models()
    customer_ids = np.array(dataset.customer_ids, copy=True)
    with bundle.lock(models_dir).hold():
        # Customers erased while this run trained are dropped before anything is published.
        late = drop_erased(models, customer_ids, store.erased_since(snapshot_ms), store.id_hash)
        if late:
            say(f"dropped {late} customer(s) erased since the snapshot was read")
            manifest["erasures_since_training"] = late
        version = bundle.save(
            models_dir,
            models,
            slots,
            item_ids=dataset.item_ids,
            customer_ids=customer_ids,
            cobuy=cobuy,
            manifest=manifest,
        )
    say(f"published model bundle {version}")
    return TrainReport(
        version=version,
        seconds=time.perf_counter() - started,
        chosen=choice,
        validation=result.validation,
        data=data,
        trials=result.table(),
        selection=result.selection,
    )


__all__ = ["TrainReport", "artifacts", "previous_choice", "train"]
