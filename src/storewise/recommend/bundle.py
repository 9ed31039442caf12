"""A set of fitted models as one bundle: named models, the slots they serve, vocabularies.

Slots say which model answers what: ``discovery`` (for you), ``repurchase`` (buy again and
mixed lists), ``popular`` (cold start, trending), ``similar`` (similar items, sessions).
Several slots may share one model; its arrays are stored once.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from storewise import artifacts
from storewise.errors import ArtifactError, NotFitted, NotFound
from storewise.recommend import MODELS
from storewise.recommend.base import Recommender, sparse_arrays, sparse_from
from storewise.store.locks import WriteLock

SLOTS = ("discovery", "repurchase", "popular", "similar")

log = logging.getLogger("storewise.engine")


@dataclass
class ServedModels:
    """What the engine serves from: models by slot, vocabularies and co-purchase counts."""

    version: str
    manifest: dict[str, Any]
    item_ids: np.ndarray
    customer_ids: np.ndarray
    models: dict[str, Recommender]
    slots: dict[str, str]
    cobuy: sp.csr_matrix
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def slot(self, name: str) -> Recommender:
        """The model serving a slot."""
        return self.models[self.slots[name]]

    @property
    def n_items(self) -> int:
        """Size of the model vocabulary."""
        return len(self.item_ids)


#: Seconds a publish, rewrite or erasure waits for another one to finish.
LOCK_TIMEOUT_S = 600.0


def lock(root: Path) -> WriteLock:
    """The cross-process lock around publishing, rewriting and erasing bundles in ``root``
    (re-entrant per thread): a training run, an erasure and another erasure never interleave."""
    root.mkdir(parents=True, exist_ok=True)
    return WriteLock(root / ".publish.lock", LOCK_TIMEOUT_S)


def save(
    root: Path,
    models: dict[str, Recommender],
    slots: dict[str, str],
    *,
    item_ids: np.ndarray,
    customer_ids: np.ndarray,
    cobuy: sp.csr_matrix,
    manifest: dict[str, Any],
) -> str:
    """Publish fitted models as a new current bundle; returns its version."""
    body, arrays = contents(
        models, slots, item_ids=item_ids, customer_ids=customer_ids, cobuy=cobuy,
        manifest=manifest,
    )  # fmt: skip
    with lock(root).hold():
        return artifacts.publish(root, body, arrays)


def contents(
    models: dict[str, Recommender],
    slots: dict[str, str],
    *,
    item_ids: np.ndarray,
    customer_ids: np.ndarray,
    cobuy: sp.csr_matrix,
    manifest: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(manifest body, arrays) of a bundle of fitted models, as :mod:`artifacts` stores them."""
    missing = [s for s in SLOTS if s not in slots]
    if missing:
        raise ValueError(f"slots without a model: {missing}")
    described: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {
        "vocab/item_ids": np.asarray(item_ids, dtype=str),
        "vocab/customer_ids": np.asarray(customer_ids, dtype=str),
        **{f"basket/{k}": v for k, v in sparse_arrays("cobuy", cobuy).items()},
    }
    for name, model in models.items():
        config, meta, model_arrays = model.export()
        described[name] = {"class": model.name, "config": config, "meta": meta}
        arrays.update({f"models/{name}/{key}": value for key, value in model_arrays.items()})
    body = {**manifest, "kind": "storewise-models", "models": described, "slots": slots}
    return body, arrays


def load(root: Path, version: str | None = None) -> ServedModels:
    """Load and verify a bundle and rebuild its models."""
    bundle = artifacts.load(root, version)
    manifest = bundle.manifest
    if manifest.get("kind") != "storewise-models":
        raise ArtifactError(f"{bundle.path} is not a storewise model bundle")
    models: dict[str, Recommender] = {}
    try:
        for name, spec in manifest["models"].items():
            cls = MODELS[spec["class"]]
            prefix = f"models/{name}/"
            own = {k[len(prefix) :]: v for k, v in bundle.arrays.items() if k.startswith(prefix)}
            models[name] = cls.from_state(spec["config"], spec["meta"], own)
        basket = {
            k[len("basket/") :]: v for k, v in bundle.arrays.items() if k.startswith("basket/")
        }
        return ServedModels(
            version=bundle.version,
            manifest=manifest,
            item_ids=bundle.arrays["vocab/item_ids"].astype(str),
            customer_ids=bundle.arrays["vocab/customer_ids"].astype(str),
            models=models,
            slots=dict(manifest["slots"]),
            cobuy=sparse_from("cobuy", basket),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise ArtifactError(f"model bundle {bundle.version} is incomplete: {exc}") from exc


#: Seconds between two looks at the published pointer (a new bundle is served within this).
RELOAD_CHECK_SECONDS = 2.0


class BundleWatch:
    """The bundle a server answers from, hot-reloaded when ``storewise train`` publishes a new
    one. A refused bundle keeps the previous one serving (and is logged once); a process that
    starts while the newest bundle is refused serves the newest one that loads."""

    def __init__(self, models_dir: Path) -> None:
        self.models_dir = models_dir
        self.loaded: ServedModels | None = None
        self.last_reload_error: str | None = None
        #: The newest published bundle, when it could not be loaded (an older one may serve).
        self.refused_version: str | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def check_now(self) -> None:
        """Look at the published pointer on the next :meth:`current` call."""
        self._checked_at = 0.0

    def current(self) -> ServedModels:
        """The served bundle, after a look at the pointer at most every few seconds;
        NotFitted before any training, ArtifactError when nothing published loads."""
        now = time.monotonic()
        if self.loaded is None or now - self._checked_at > RELOAD_CHECK_SECONDS:
            self._checked_at = now
            self._maybe_reload()
        if self.loaded is None:
            raise NotFitted("no trained model yet: run `storewise train` first")
        return self.loaded

    def _settled(self, current: str) -> bool:
        return self.loaded is not None and current in (self.loaded.version, self.refused_version)

    def _maybe_reload(self) -> None:
        current = artifacts.current_version(self.models_dir)
        if current is None or self._settled(current):
            return
        with self._lock:
            if self._settled(current):
                return
            try:
                fresh = load(self.models_dir, current)
            except (ArtifactError, NotFitted) as exc:
                if self.refused_version != current:  # said once per refused bundle
                    log.error("model bundle %s refused: %s", current, exc.message)
                self.refused_version = current
                self.last_reload_error = exc.message
                if self.loaded is None:
                    self.loaded = self._newest_valid(current)
                    if self.loaded is None:
                        raise
                    log.warning(
                        "serving the older model bundle %s: the newest, %s, was refused",
                        self.loaded.version,
                        current,
                    )
                return
            self.loaded = fresh
            self.last_reload_error = None
            self.refused_version = None
            log.info("serving model bundle %s", fresh.version)

    def _newest_valid(self, refused: str) -> ServedModels | None:
        """The newest kept bundle that loads, other than ``refused``."""
        for version in reversed(artifacts.version_names(self.models_dir)):
            if version == refused:
                continue
            try:
                return load(self.models_dir, version)
            except (ArtifactError, NotFitted):
                continue
        return None


class PinnedBundle:
    """One kept bundle version, served as it is (an experiment variant's model version); it is
    read again after :meth:`check_now`, e.g. when an erasure rewrote the kept bundles."""

    def __init__(self, models_dir: Path, version: str) -> None:
        if version not in artifacts.version_names(models_dir):
            kept = ", ".join(artifacts.version_names(models_dir)) or "none"
            raise NotFound(f"no kept model bundle {version!r}; kept versions: {kept}")
        self.models_dir = models_dir
        self.version = version
        self.loaded: ServedModels | None = None
        self.last_reload_error: str | None = None
        self.refused_version: str | None = None
        self._lock = threading.Lock()

    def check_now(self) -> None:
        """Read the version again on the next :meth:`current` call."""
        self.loaded = None

    def current(self) -> ServedModels:
        """The pinned bundle (ArtifactError when it was pruned or does not verify)."""
        loaded = self.loaded
        if loaded is None:
            with self._lock:
                if self.loaded is None:
                    self.loaded = load(self.models_dir, self.version)
                loaded = self.loaded
        return loaded
