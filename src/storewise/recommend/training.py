"""``storewise train``: snapshot the store, tune on the most recent period, refit, publish.

Every distinct (model, config) is fitted once on all the data and shared by the slots and
hybrids that use it; the bundle records the data snapshot, the validation figures and the
chosen parameters. The budget counts every phase: the fixed costs (reading the store, counting
items bought together) are paid first, then tuning gets what is left once the time to refit
the models it tries is set aside; each phase is reported, with a step count where the work
can be counted.
"""

from __future__ import annotations

import json
import time
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
from storewise.recommend.progress import Budget, Messages, progress_of
from storewise.recommend.progress import Progress as PhaseProgress
from storewise.schema import from_ms
from storewise.store.base import Store

#: A plain message callback.
Progress = Messages
#: What ``train``'s ``progress`` may be: a phase reporter, or a plain message callback.
TrainProgress = PhaseProgress | Messages

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
    notes: list[str] = field(default_factory=list)  # step-asides and budget cuts


def _key(name: str, config: dict[str, Any]) -> str:
    return name + ":" + json.dumps(config, sort_keys=True)


class _Fitter:
    """Fits each distinct (model, config) once on the full snapshot."""

    def __init__(self, dataset: Dataset, report: PhaseProgress) -> None:
        self.dataset = dataset
        self.report = report
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
            self.report.update(self.count(), name)
            model = cls(cls.config_class.model_validate(config)).fit(self.dataset)
        label = name if name not in self.names.values() else f"{name}-{len(self.fitted)}"
        self.fitted[key] = model
        self.names[key] = label
        return label

    def count(self) -> int:
        """How many single models are fitted so far (hybrids only combine them)."""
        return sum(not isinstance(m, Hybrid) for m in self.fitted.values())

    def models(self) -> dict[str, Recommender]:
        """Fitted models by bundle name."""
        return {self.names[k]: m for k, m in self.fitted.items()}


def _singles(specs: list[tuple[str, dict[str, Any]]]) -> set[str]:
    """The distinct single models (hybrid components included) that ``specs`` need fitted."""
    keys: set[str] = set()
    for name, config in specs:
        if MODELS[name] is Hybrid:
            keys |= _singles(list(config["components"].items()))
        else:
            keys.add(_key(name, config))
    return keys


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
    budget_seconds: float = 600.0,
    as_of_ms: int | None = None,
    progress: TrainProgress | None = None,
    policy: ConsentPolicy | None = None,
) -> TrainReport:
    """Train (tuning unless ``model`` is given) and publish a new current bundle within about
    ``budget_seconds`` in all; the consent policy decides whose events the snapshot holds.

    Reading the store, every model's first setting and the final fit are the floor of any
    budget: a budget below them is overrun, and the report says so."""
    report = progress_of(progress)
    budget = Budget(budget_seconds)
    started = time.perf_counter()
    if model is not None and model not in MODELS:
        raise InputError(f"unknown model {model!r}; choose one of {', '.join(sorted(MODELS))}")
    report.phase("reading the store")
    snapshot_ms = int(time.time() * 1000)
    dataset = Dataset.from_store(store, as_of_ms=as_of_ms, policy=policy)
    dataset.require_events()
    report.phase("counting items bought together")
    cobuy = cobuy_counts(dataset)
    result = TuneResult()
    if model is None:
        result = tune(
            dataset, valid_days=valid_days, budget=budget, progress=report, reserve_refit=True
        )
        best = {
            name: config for scenario in result.best.values() for name, config in scenario.items()
        }
        choice = result.choice
    else:
        best = previous_choice(models_dir)
        config = best.get(model, {})
        if model == "hybrid" and not config:
            config = {
                "components": {"itemknn": {}, "popular": {}},
                "weights": {"itemknn": 1.0, "popular": 0.3},
            }
        choice = {s: {"model": model, "config": config} for s in ("discovery", "repurchase")}
    similar_config = {
        "components": {"itemknn": best.get("itemknn", {}), "content": best.get("content", {})},
        "weights": SIMILAR_WEIGHTS,
    }
    specs = {
        "discovery": (choice["discovery"]["model"], choice["discovery"]["config"]),
        "repurchase": (choice["repurchase"]["model"], choice["repurchase"]["config"]),
        "popular": ("popular", best.get("popular", {})),
        "similar": ("hybrid", similar_config),
    }
    budget.release()
    fitter = _Fitter(dataset, report)
    planned = len(_singles(list(specs.values())))
    report.phase(f"fitting {planned} model(s) on all the data", total=planned)
    slots = {slot: fitter.get(name, config) for slot, (name, config) in specs.items()}
    report.update(planned)
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
            "notes": result.notes,
        },
        "train_seconds": round(seconds, 2),
    }
    models = fitter.models()
    customer_ids = np.array(dataset.customer_ids, copy=True)
    report.phase("publishing the model bundle")
    with bundle.lock(models_dir).hold():
        # Customers erased while this run trained are dropped before anything is published.
        late = drop_erased(models, customer_ids, store.erased_since(snapshot_ms), store.id_hash)
        if late:
            report.note(f"dropped {late} customer(s) erased since the snapshot was read")
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
    notes = list(result.notes)
    if model is None and budget.spent() > budget.seconds * 1.1:
        notes.append(
            f"took {budget.spent():.0f} s, over the budget of {budget.seconds:g} s: reading the "
            "store, one setting per model and the final fit cannot be cut"
        )
        report.note(notes[-1])
    report.note(f"published model bundle {version}")
    return TrainReport(
        version=version,
        seconds=time.perf_counter() - started,
        chosen=choice,
        validation=result.validation,
        data=data,
        trials=result.table(),
        selection=result.selection,
        notes=notes,
    )


__all__ = ["Progress", "TrainProgress", "TrainReport", "artifacts", "previous_choice", "train"]
