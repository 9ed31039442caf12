"""Erasure that reaches the model bundles, not only the store.

Models that keep one row per customer (user-based CF, repurchase habits) hold that
customer's data; forgetting them zeroes the row, blanks their id in the vocabulary and
republishes the bundle atomically, so no served model keeps anything of theirs. Aggregate
parameters (item-item weights, factors) are refreshed by the next ``storewise train``, which
no longer sees the erased data; the manifest counts erasures since training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from storewise import artifacts
from storewise.recommend import bundle

_SKIP = ("models", "slots", "kind", "format", "version", "storewise_version", "created_at")


def forget_in_bundle(models_dir: Path, customer_id: str) -> int:
    """Remove a customer's rows from the current bundle and republish; returns rows touched."""
    version = artifacts.current_version(models_dir)
    if version is None:
        return 0
    served = bundle.load(models_dir, version)
    where = np.flatnonzero(served.customer_ids == customer_id)
    if where.size == 0:
        return 0
    row = int(where[0])
    touched = sum(drop_customer_row(model, row) for model in served.models.values())
    customer_ids = served.customer_ids.copy()
    customer_ids[row] = ""
    manifest = {k: v for k, v in served.manifest.items() if k not in _SKIP}
    manifest["erasures_since_training"] = int(manifest.get("erasures_since_training", 0)) + 1
    bundle.save(
        models_dir,
        served.models,
        served.slots,
        item_ids=served.item_ids,
        customer_ids=customer_ids,
        cobuy=served.cobuy,
        manifest=manifest,
    )
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
