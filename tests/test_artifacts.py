"""Model bundles: published atomically, verified on load, old (format 1) bundles still read."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from storewise import artifacts, persist
from storewise.errors import ArtifactError, NotFitted

ARRAYS = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "ids": np.asarray(["a", "b"])}


def _format_1(root: Path, version: str = "20240101T000000Z-abcdef") -> Path:
    """A bundle exactly as storewise wrote it before checksums moved into the manifest."""
    folder = root / version
    folder.mkdir(parents=True)
    buffer = io.BytesIO()
    np.savez(buffer, **ARRAYS)
    (folder / "arrays.npz").write_bytes(buffer.getvalue())
    manifest = {"kind": "doc", "format": 1, "version": version, "created_at": "2024-01-01"}
    (folder / "manifest.json").write_bytes(json.dumps(manifest, indent=2, sort_keys=True).encode())
    sums = {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in ("manifest.json", "arrays.npz")
    }
    (folder / "checksums.json").write_bytes(json.dumps(sums, indent=2).encode())
    (root / "CURRENT").write_text(version)
    return folder


def test_publish_then_load_round_trip(tmp_path: Path) -> None:
    version = artifacts.publish(tmp_path, {"kind": "doc"}, ARRAYS)
    assert artifacts.current_version(tmp_path) == version
    assert sorted(p.name for p in (tmp_path / version).iterdir()) == [
        "arrays.npz",
        "manifest.json",
    ]
    bundle = artifacts.load(tmp_path)
    assert bundle.manifest["kind"] == "doc"
    assert bundle.manifest["format"] == artifacts.FORMAT
    assert "document_sha256" not in bundle.manifest
    np.testing.assert_array_equal(bundle.arrays["w"], ARRAYS["w"])
    assert [v.version for v in artifacts.versions(tmp_path)] == [version]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_changed_manifest_or_arrays_file_is_refused(tmp_path: Path) -> None:
    version = artifacts.publish(tmp_path, {"kind": "doc"}, ARRAYS)
    manifest = tmp_path / version / "manifest.json"
    text = manifest.read_text()
    manifest.write_text(text.replace('"doc"', '"dog"'))
    with pytest.raises(ArtifactError, match=rf"model bundle {version} .*checksum mismatch"):
        artifacts.load(tmp_path)
    manifest.write_text(text)
    with (tmp_path / version / "arrays.npz").open("r+b") as handle:
        handle.seek(100)
        handle.write(b"tampered")
    with pytest.raises(ArtifactError, match=r"arrays\.npz: checksum mismatch"):
        artifacts.load(tmp_path)


def test_format_1_bundles_still_load_and_are_still_verified(tmp_path: Path) -> None:
    folder = _format_1(tmp_path)
    bundle = artifacts.load(tmp_path)
    assert bundle.manifest["kind"] == "doc"
    np.testing.assert_array_equal(bundle.arrays["w"], ARRAYS["w"])
    (folder / "manifest.json").write_text((folder / "manifest.json").read_text() + " ")
    with pytest.raises(ArtifactError, match=r"manifest\.json: checksum mismatch"):
        artifacts.load(tmp_path)


def test_unknown_formats_and_missing_bundles(tmp_path: Path) -> None:
    with pytest.raises(NotFitted):
        artifacts.load(tmp_path)
    artifacts.publish(tmp_path, {"kind": "doc", "format": 99}, ARRAYS)  # format is overwritten
    assert artifacts.load(tmp_path).manifest["format"] == artifacts.FORMAT
    with pytest.raises(ArtifactError, match="missing"):
        artifacts.load(tmp_path, "20000101T000000Z-000000")
    future = tmp_path / "29990101T000000Z-000000"
    persist.save(future / "manifest.json", {"format": 3}, ARRAYS, arrays_path=future / "arrays.npz")
    with pytest.raises(ArtifactError, match="has format 3"):
        artifacts.load(tmp_path, future.name)
