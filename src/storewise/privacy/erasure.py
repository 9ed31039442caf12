"""Erasure that reaches every model bundle on disk, not only the store.

Models that keep one row per customer (user-based CF, repurchase habits) hold that
customer's data; forgetting them zeroes the row and blanks their id in the vocabulary. Under
the publish lock (:func:`storewise.recommend.bundle.lock`), so no training run or other
erasure interleaves:

- every kept version holding the customer is rewritten in place;
- the current one is also republished as a new version (servers pick it up by hot reload);
- staging folders an interrupted run left behind are deleted (they may hold anyone).

A training run whose snapshot was read before an erasure drops the erased customers again
before it publishes (:func:`drop_erased`), so an erasure is never undone by a retrain.
Aggregate parameters (item-item weights, factors) are refreshed by the next ``storewise
train``, which no longer sees the erased data; the manifest counts erasures since training.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from storewise import artifacts
from storewise.recommend import bundle

_SKIP = ("models", "slots", "kind", "format", "version", "storewise_version", "created_at")


def forget_in_bundles(models_dir: Path, customer_id: str) -> dict[str, int]:
    """Remove a customer from every kept bundle and every staging folder; returns counts:
    ``model_rows`` (per-customer rows zeroed in the current bundle), ``model_versions``
    (versions that held the customer, current included) and ``staging_folders`` removed."""
    receipt = {"model_rows": 0, "model_versions": 0, "staging_folders": 0}
    if not models_dir.is_dir():
        return receipt
    with bundle.lock(models_dir).hold():
        for folder in artifacts.staging_folders(models_dir):
            shutil.rmtree(folder, ignore_errors=True)
            receipt["staging_folders"] += 1
        current = artifacts.current_version(models_dir)
        for version in artifacts.version_names(models_dir):
            served = bundle.load(models_dir, version)
            rows = np.flatnonzero(served.customer_ids == customer_id)
            if rows.size == 0:
                continue
            receipt["model_versions"] += 1
            touched = _drop_rows(served, [int(r) for r in rows])
            manifest = {k: v for k, v in served.manifest.items() if k not in _SKIP}
            manifest["erasures_since_training"] = (
                int(manifest.get("erasures_since_training", 0)) + 1
            )
            parts = dict(
                item_ids=served.item_ids,
                customer_ids=served.customer_ids,
                cobuy=served.cobuy,
                manifest=manifest,
            )
            body, arrays = bundle.contents(served.models, served.slots, **parts)
            artifacts.rewrite(models_dir, version, body, arrays)
            if version == current:  # servers reload when a new version is current
                receipt["model_rows"] += touched
                bundle.save(models_dir, served.models, served.slots, **parts)
    return receipt


def drop_erased(
    models: dict[str, Any],
    customer_ids: np.ndarray,
    erased: set[str],
    id_hash: Callable[[str], str],
) -> int:
    """Zero the rows of customers whose id hash is in ``erased`` (erased after a snapshot was
    read) in fitted models, and blank their ids in place; returns customers dropped."""
    if not erased:
        return 0
    rows = [i for i, cid in enumerate(customer_ids.tolist()) if cid and id_hash(cid) in erased]
    for row in rows:
        customer_ids[row] = ""
        for model in models.values():
            drop_customer_row(model, row)
    return len(rows)


def _drop_rows(served: bundle.ServedModels, rows: Iterable[int]) -> int:
    touched = 0
    for row in rows:
        touched += sum(drop_customer_row(model, row) for model in served.models.values())
        served.customer_ids[row] = ""
    return touched


def drop_customer_row(model: Any, row: int) -> int:
    """Zero a customer's row in models that keep per-customer vectors; returns rows touched."""
    touched = 0
    parts = getattr(model, "parts", None)
    if parts:
        for part in parts.values():
            touched += drop_customer_row(part, row)
        return touched
    for attribute, column in (("profiles", "by_item"), ("habits", "by_item")):
        matrix = getattr(model, attribute, None)
        if matrix is not None and row < matrix.shape[0]:
            matrix = matrix.tolil()
            matrix.rows[row] = []
            matrix.data[row] = []
            csr = matrix.tocsr()
            setattr(model, attribute, csr)
            setattr(model, column, csr.tocsc())
            touched += 1
    return touched


__all__ = ["drop_customer_row", "drop_erased", "forget_in_bundles"]
