"""Model bundles on disk: ``manifest.json`` + ``arrays.npz``, checksummed, published atomically.

Never pickle: arrays are plain numpy (``allow_pickle=False``), everything else is JSON. A
bundle is written into a fresh folder, fsynced, then made current by atomically replacing
the ``CURRENT`` pointer file, so a reader sees either the old bundle or the new one, whole.

>>> import tempfile, numpy as np
>>> root = Path(tempfile.mkdtemp())
>>> version = publish(root, {"kind": "doc"}, {"x": np.arange(3)})
>>> load(root).arrays["x"].tolist()
[0, 1, 2]
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from storewise import __version__
from storewise.errors import ArtifactError, NotFitted

FORMAT = 1
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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_write(path: Path, data: bytes) -> None:
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
        buffer = io.BytesIO()
        for name, array in arrays.items():
            if array.dtype == object:
                raise ArtifactError(f"array {name!r} has dtype object; bundles hold plain arrays")
        np.savez(buffer, **dict(arrays))  # type: ignore[arg-type]
        _fsync_write(staging / ARRAYS, buffer.getvalue())
        body = {
            **manifest,
            "format": FORMAT,
            "version": version,
            "storewise_version": __version__,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        _fsync_write(staging / MANIFEST, json.dumps(body, indent=2, sort_keys=True).encode())
        sums = {MANIFEST: _sha256(staging / MANIFEST), ARRAYS: _sha256(staging / ARRAYS)}
        _fsync_write(staging / CHECKSUMS, json.dumps(sums, indent=2).encode())
        _fsync_dir(staging)
        os.replace(staging, final)
        pointer_tmp = root / f".{POINTER}.{version}.tmp"
        _fsync_write(pointer_tmp, version.encode())
        os.replace(pointer_tmp, root / POINTER)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _prune(root, keep=KEEP_VERSIONS, current=version)
    return version


def _prune(root: Path, *, keep: int, current: str) -> None:
    """Remove old bundles beyond the newest ``keep`` (never the current one)."""
    versions = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for name in versions[:-keep]:
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
        sums = json.loads((folder / CHECKSUMS).read_text())
        for name in (MANIFEST, ARRAYS):
            if _sha256(folder / name) != sums.get(name):
                raise ArtifactError(
                    f"model bundle {version} failed its checksum ({name} was changed or "
                    "corrupted); it was refused"
                )
        manifest = json.loads((folder / MANIFEST).read_text())
        with np.load(folder / ARRAYS, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except ArtifactError:
        raise
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"model bundle {version} in {root} is unreadable: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise ArtifactError(
            f"model bundle {version} has format {manifest.get('format')!r}; this storewise "
            f"reads format {FORMAT}: run `storewise train` again"
        )
    return ModelBundle(version=version, path=folder, manifest=manifest, arrays=arrays)


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
            manifest = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError):
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
