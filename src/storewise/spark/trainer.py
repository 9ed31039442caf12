"""``storewise train --engine spark``: the models that scale, trained in Spark, returned as
fitted model objects rebuilt from their state (``cls.from_state``) for the one bundle format.

Which models serve which slot (the local tuner is not run here):

- ``discovery``: the last local tuning's choice when it uses only models Spark trains (a
  hybrid keeps its Spark-trainable components and their weights), else
  :data:`DEFAULT_DISCOVERY`;
- ``repurchase``: the same rule, else the repurchase model;
- ``popular``: popularity and trending; ``similar``: item-item co-occurrence.

Each model's hyperparameters are those the last local tuning chose (the bundle's
``best_configs``), else the model's defaults. The caller publishes (and drops customers
erased meanwhile); see :meth:`storewise.services.training.Training.train_spark`.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from storewise import artifacts, persist
from storewise.privacy.consent import ConsentPolicy
from storewise.recommend import MODELS
from storewise.recommend.base import Recommender
from storewise.recommend.hybrid import Hybrid
from storewise.schema import from_ms
from storewise.spark import models as spark_models
from storewise.spark.session import require_pyspark, spark_session, spark_version
from storewise.spark.source import SparkEvents, check_columns, from_parquet, from_store
from storewise.store.base import Store

Progress = Callable[[str], None]

#: Models the Spark trainer learns.
SPARK_MODELS = ("popular", "itemknn", "als", "repurchase")

#: Discovery without a usable earlier tuning: ALS and item-item neighbours, popularity added
#: so thin histories still get a sensible list (weights as the retail protocol measured).
DEFAULT_DISCOVERY: dict[str, Any] = {
    "model": "hybrid",
    "config": {
        "components": {"als": {}, "itemknn": {}, "popular": {}},
        "weights": {"als": 1.0, "itemknn": 0.5, "popular": 0.3},
    },
}
DEFAULT_REPURCHASE: dict[str, Any] = {"model": "repurchase", "config": {}}


@dataclass
class SparkTrained:
    """What a Spark run learned: fitted models by bundle name, slots and vocabularies."""

    models: dict[str, Recommender]
    slots: dict[str, str]
    item_ids: np.ndarray
    customer_ids: np.ndarray
    cobuy: sp.csr_matrix
    manifest: dict[str, Any]
    chosen: dict[str, dict[str, Any]]
    data: dict[str, Any]
    snapshot_ms: int


def last_choice(models_dir: Path) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """(best configs per model, chosen slot models) of the current bundle's manifest, if any.

    Only the manifest is read, not the arrays: a large bundle costs nothing here."""
    version = artifacts.current_version(models_dir)
    if version is None:
        return {}, {}
    try:
        manifest = persist.read_json(models_dir / version / artifacts.MANIFEST)
    except Exception:  # an unreadable manifest: train with defaults
        return {}, {}
    return dict(manifest.get("best_configs") or {}), dict(manifest.get("chosen") or {})


def _slot_choice(spec: Any, default: dict[str, Any]) -> dict[str, Any]:
    """A slot's earlier choice restricted to what Spark trains, else ``default``."""
    if not isinstance(spec, dict):
        return default
    model, config = spec.get("model"), dict(spec.get("config") or {})
    if model in SPARK_MODELS:
        return {"model": model, "config": config}
    if model != "hybrid":
        return default
    parts = {n: c for n, c in (config.get("components") or {}).items() if n in SPARK_MODELS}
    weights = {n: w for n, w in (config.get("weights") or {}).items() if n in parts and w > 0}
    if not weights:
        return default
    cold = {n: w for n, w in (config.get("cold_weights") or {}).items() if n in parts}
    kept = {**config, "components": {n: parts[n] for n in weights}, "weights": weights}
    kept["cold_weights"] = {n: w for n, w in cold.items() if n in weights}
    return {"model": "hybrid", "config": kept}


def plan(
    best: Mapping[str, dict[str, Any]], chosen: Mapping[str, Any]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(slot choice, one config per Spark model to train) from an earlier tuning."""
    choice = {
        "discovery": _slot_choice(chosen.get("discovery"), DEFAULT_DISCOVERY),
        "repurchase": _slot_choice(chosen.get("repurchase"), DEFAULT_REPURCHASE),
    }
    configs: dict[str, dict[str, Any]] = {}
    for spec in choice.values():
        if spec["model"] == "hybrid":
            for name, config in spec["config"]["components"].items():
                configs.setdefault(name, dict(config or best.get(name, {})))
        else:
            configs.setdefault(spec["model"], dict(spec["config"] or best.get(spec["model"], {})))
    for name in ("popular", "itemknn"):
        configs.setdefault(name, dict(best.get(name, {})))
    # one config per model: a hybrid names the configs actually trained
    configs = {
        name: MODELS[name].config_class.model_validate(c).model_dump(mode="json")
        for name, c in configs.items()
    }
    for spec in choice.values():
        if spec["model"] == "hybrid":
            spec["config"]["components"] = {n: configs[n] for n in spec["config"]["components"]}
        else:
            spec["config"] = configs[spec["model"]]
    return choice, configs


def _fit(
    name: str,
    config: dict[str, Any],
    spark: Any,
    folder: Path,
    source: SparkEvents,
    events: Any,
    popularity: np.ndarray,
) -> Recommender:
    """One Spark-trained model, rebuilt from its state by its own class."""
    cls = MODELS[name]
    cfg: Any = cls.config_class.model_validate(config)
    now, n_customers, n_items = source.as_of_ms, source.n_customers, source.n_items
    if name == "popular":
        meta, arrays = spark_models.popular(events, source.countries, cfg, now, n_items)
    elif name == "itemknn":
        meta, arrays = spark_models.itemknn(spark, folder, events, cfg, now, n_customers, n_items)
    elif name == "als":
        meta, arrays = spark_models.als(spark, folder, events, cfg, now, n_customers, n_items)
    else:
        meta, arrays = spark_models.repurchase(
            spark, folder, events, cfg, now, n_customers, n_items
        )
    return cls.from_state(
        cfg.model_dump(mode="json"),
        {**meta, "n_items": n_items, "model": name},
        {**arrays, "popularity": popularity},
    )


def _hybrid(
    config: dict[str, Any], parts: dict[str, Recommender], popularity: np.ndarray
) -> Recommender:
    """A hybrid over already-trained parts, through the hybrid's own state format."""
    meta: dict[str, Any] = {"n_items": int(popularity.size), "model": "hybrid"}
    arrays: dict[str, np.ndarray] = {"popularity": popularity}
    for name in config["components"]:
        part_config, part_meta, part_arrays = parts[name].export()
        meta[name] = {"config": part_config, "meta": part_meta}
        arrays.update({f"{name}/{key}": value for key, value in part_arrays.items()})
    return Hybrid.from_state(config, meta, arrays)


def train(
    store: Store,
    models_dir: Path,
    *,
    master: str,
    policy: ConsentPolicy,
    work_dir: Path,
    events: Path | None = None,
    conf: Mapping[str, str] | None = None,
    as_of_ms: int | None = None,
    progress: Progress | None = None,
) -> SparkTrained:
    """Train the scalable models on ``master`` from the store's consent-applied snapshot (or
    a shop's Parquet ``events``, consent applied); nothing is published here."""
    say = progress or (lambda _message: None)
    require_pyspark()
    if events is not None:
        check_columns(events)
    started = time.perf_counter()
    snapshot_ms = int(time.time() * 1000)
    best, chosen = last_choice(models_dir)
    choice, configs = plan(best, chosen)
    work_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=work_dir))
    fitted: dict[str, Recommender] = {}
    try:
        say(f"starting Spark on {master}")
        with spark_session(master, work_dir=folder, conf=conf) as spark:
            if events is None:
                say("exporting the store's snapshot (consent applied) as Parquet")
                source = from_store(spark, store, folder, policy=policy, as_of_ms=as_of_ms)
            else:
                say(f"reading {events} (consent applied)")
                source = from_parquet(
                    spark, store, events, folder, policy=policy, as_of_ms=as_of_ms
                )
            table = source.events.cache()
            say(f"counting buyers per item ({source.n_events:,} events)")
            popularity = spark_models.popularity(table, source.n_items)
            for name, config in configs.items():
                say(f"fitting {name} in Spark")
                fitted[name] = _fit(name, config, spark, folder, source, table, popularity)
            say("counting items bought together")
            cobuy = spark_models.cobuy(table, source.n_items)
            table.unpersist()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    slots: dict[str, str] = {}
    for slot in ("discovery", "repurchase"):
        spec = choice[slot]
        if spec["model"] != "hybrid":
            slots[slot] = spec["model"]
            continue
        if "hybrid" not in fitted:
            fitted["hybrid"] = _hybrid(spec["config"], fitted, popularity)
            slots[slot] = "hybrid"
        else:  # both slots blend, differently
            fitted[f"hybrid-{slot}"] = _hybrid(spec["config"], fitted, popularity)
            slots[slot] = f"hybrid-{slot}"
    slots["popular"] = "popular"
    slots["similar"] = "itemknn"
    data = {
        "as_of": from_ms(source.as_of_ms).isoformat(),
        "as_of_ms": source.as_of_ms,
        "customers": source.n_customers,
        "items": source.n_items,
        "events": source.n_events,
        "excluded_for_consent": source.excluded_customers,
    }
    manifest: dict[str, Any] = {
        "data": data,
        "chosen": choice,
        "best_configs": {**best, **configs},
        "validation": {},
        "engine": "spark",
        "spark": {"master": master, "version": spark_version(), "source": source.source},
        "train_seconds": round(time.perf_counter() - started, 2),
    }
    return SparkTrained(
        models=fitted,
        slots=slots,
        item_ids=source.item_ids,
        customer_ids=np.array(source.customer_ids, copy=True),
        cobuy=cobuy,
        manifest=manifest,
        chosen=choice,
        data=data,
        snapshot_ms=snapshot_ms,
    )
