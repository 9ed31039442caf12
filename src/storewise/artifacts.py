"""Model bundles on disk: ``manifest.json`` + ``arrays.npz``, checksummed, published atomically.

Never pickle: arrays are plain numpy (``allow_pickle=False``), everything else is JSON; both
are written and verified by :mod:`storewise.persist`. A bundle is written into a fresh
folder, then made current by atomically replacing the ``CURRENT`` pointer file, so a reader
sees either the old bundle or the new one, whole.

>>> import tempfile, numpy as np
>>> root = Path(tempfile.mkdtemp())
>>> version = publish(root, {"kind": "doc"}, {"x": np.arange(3)})
>>> load(root).arrays["x"].tolist()
[0, 1, 2]
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from storewise import __version__, persist
from storewise.errors import ArtifactError, NotFitted

#: Format 2 keeps the checksums in the manifest; format 1 kept them in ``checksums.json``.
FORMAT = 2
READABLE_FORMATS = (1, 2)
POINTER = "CURRENT"
MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
CHECKSUMS = "checksums.json"
KEEP_VERSIONS = 5


@dataclass(frozen=True)
class ModelBundle:
    """A loaded bundle: its version, manifest and arrays (read-only)."""

    version: str
    path: Path
    manifest: dict[str, Any]
    arrays: dict[str, np.ndarray]


def new_version() -> str:
    """A sortable, unique bundle version like ``20261127T201500Z-1a2b3c``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def publish(root: Path, manifest: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> str:
    """Write a bundle under ``root`` and make it current; returns its version."""
    root.mkdir(parents=True, exist_ok=True)
    version = new_version()
    final = root / version
    staging = root / f".{version}.partial"
    staging.mkdir()
    try:
        body = {
            **manifest,
            "format": FORMAT,
            "version": version,
            "storewise_version": __version__,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        persist.save(staging / MANIFEST, body, arrays, arrays_path=staging / ARRAYS)
        os.replace(staging, final)
        persist.write_atomic(root / POINTER, version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _prune(root, keep=KEEP_VERSIONS, current=version)
    return version


def rewrite(
    root: Path, version: str, manifest: Mapping[str, Any], arrays: Mapping[str, Any]
) -> None:
    """Replace a published bundle's content in place (same version, same creation time), e.g.
    to erase a customer from an older version: the new content is written and verified in a
    staging folder first, then swapped in, so the version is either old or new, whole."""
    final = root / version
    old = persist.read_json(final / MANIFEST)
    staging = root / f".{version}.rewrite.partial"
    retired = root / f".{version}.retired"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        body = {
            **manifest,
            "format": FORMAT,
            "version": version,
            "storewise_version": __version__,
            "created_at": old.get("created_at"),
        }
        persist.save(staging / MANIFEST, body, arrays, arrays_path=staging / ARRAYS)
        os.replace(final, retired)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if retired.exists() and not final.exists():
            os.replace(retired, final)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def staging_folders(root: Path) -> list[Path]:
    """Folders a publish or rewrite left behind (an interrupted run); only safe to delete
    while holding the publish lock."""
    if not root.is_dir():
        return []
    return sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and p.name.startswith(".") and p.name.endswith((".partial", ".retired"))
    )


def version_names(root: Path) -> list[str]:
    """Every published version folder, oldest first."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _prune(root: Path, *, keep: int, current: str) -> None:
    """Remove old bundles beyond the newest ``keep`` (never the current one)."""
    for name in version_names(root)[:-keep]:
        if name != current:
            shutil.rmtree(root / name, ignore_errors=True)


def current_version(root: Path) -> str | None:
    """The version the pointer names, or None when nothing was published yet."""
    pointer = root / POINTER
    if not pointer.exists():
        return None
    return pointer.read_text().strip() or None


def load(root: Path, version: str | None = None) -> ModelBundle:
    """Load and verify a bundle (default: the current one); refuse anything corrupt."""
    version = version or current_version(root)
    if version is None:
        raise NotFitted(f"no trained model in {root}: run `storewise train` first")
    folder = root / version
    try:
        if (folder / CHECKSUMS).is_file():
            manifest, arrays = _load_format_1(folder)
        else:
            manifest, arrays = persist.load(folder / MANIFEST, arrays_path=folder / ARRAYS)
    except ArtifactError as exc:
        raise ArtifactError(f"model bundle {version} was refused: {exc.message}") from exc
    if manifest.get("format") not in READABLE_FORMATS:
        raise ArtifactError(
            f"model bundle {version} has format {manifest.get('format')!r}; this storewise "
            f"reads formats {READABLE_FORMATS}: run `storewise train` again"
        )
    return ModelBundle(version=version, path=folder, manifest=manifest, arrays=arrays)


def _load_format_1(folder: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A bundle published before the checksums moved into the manifest (``checksums.json``)."""
    sums = persist.read_json(folder / CHECKSUMS)
    persist.check_file(folder / MANIFEST, sums.get(MANIFEST))
    return persist.read_json(folder / MANIFEST), persist.read_arrays(
        folder / ARRAYS, sums.get(ARRAYS)
    )


@dataclass(frozen=True)
class BundleVersion:
    """One published model bundle: its manifest summary, for the training history."""

    version: str
    created_at: str | None
    current: bool
    chosen: dict[str, Any]
    validation: dict[str, dict[str, float]]
    data: dict[str, Any]
    train_seconds: float | None


def versions(models_dir: Path) -> list[BundleVersion]:
    """Published bundles, newest first, from each folder's ``manifest.json``."""
    found: list[BundleVersion] = []
    current = current_version(models_dir)
    if not models_dir.is_dir():
        return found
    for folder in sorted(models_dir.iterdir(), reverse=True):
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        try:
            manifest = persist.read_json(folder / MANIFEST)
        except ArtifactError:
            continue
        found.append(
            BundleVersion(
                version=folder.name,
                created_at=manifest.get("created_at"),
                current=folder.name == current,
                chosen=manifest.get("chosen") or {},
                validation=manifest.get("validation") or {},
                data=manifest.get("data") or {},
                train_seconds=manifest.get("train_seconds"),
            )
        )
    return found
