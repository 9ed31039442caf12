"""The one on-disk scheme: JSON + npz, atomic writes, checksums verified on load."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from storewise import persist
from storewise.errors import ArtifactError


def _save(folder: Path) -> Path:
    path = folder / "model.json"
    arrays = {"x": np.arange(4, dtype=np.float32), "names": np.asarray(["a", "b"])}
    persist.save(path, {"kind": "demo", "ratio": 0.1, "nested": {"n": [1, 2]}}, arrays)
    return path


def test_round_trip_strips_the_checksums_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = _save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.npz"]
    written = json.loads(path.read_text(encoding="utf-8"))
    assert {persist.DOCUMENT_SHA256, persist.ARRAYS_SHA256} <= set(written)
    document, arrays = persist.load(path)
    assert document == {"kind": "demo", "ratio": 0.1, "nested": {"n": [1, 2]}}
    assert arrays["x"].dtype == np.float32 and arrays["x"].tolist() == [0, 1, 2, 3]
    assert arrays["names"].tolist() == ["a", "b"]
    persist.save(path, document)  # a loaded document saves again (no stale checksum keys)
    assert persist.load(path) == (document, {})


def test_layout_does_not_matter_only_content(tmp_path: Path) -> None:
    path = _save(tmp_path)
    path.write_text(json.dumps(json.loads(path.read_text(encoding="utf-8"))), encoding="utf-8")
    assert persist.load(path)[0]["kind"] == "demo"


def test_a_changed_document_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = _save(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace("demo", "dema"), encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"model\.json: checksum mismatch"):
        persist.load(path)


def test_changed_arrays_are_refused_naming_the_file(tmp_path: Path) -> None:
    path = _save(tmp_path)
    arrays = tmp_path / "model.npz"
    blob = bytearray(arrays.read_bytes())
    blob[-30] ^= 0xFF
    arrays.write_bytes(bytes(blob))
    with pytest.raises(ArtifactError, match=r"model\.npz: checksum mismatch"):
        persist.load(path)


def test_missing_or_broken_files_are_artifact_errors(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"nothing\.json is missing"):
        persist.load(tmp_path / "nothing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"broken\.json is not valid JSON"):
        persist.load(broken)
    broken.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ArtifactError, match="does not hold a JSON object"):
        persist.load(broken)
    path = _save(tmp_path)
    (tmp_path / "model.npz").unlink()
    with pytest.raises(ArtifactError, match=r"model\.npz is missing"):
        persist.load(path)


def test_documents_without_a_checksum_only_load_as_legacy(tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"version": 1}), encoding="utf-8")
    with pytest.raises(ArtifactError, match="has no checksum"):
        persist.load(old)
    assert persist.load(old, legacy=True) == ({"version": 1}, {})


def test_legacy_documents_still_verify_the_arrays_they_name(tmp_path: Path) -> None:
    arrays = tmp_path / "old.npz"
    np.savez(arrays, x=np.arange(3))
    old = tmp_path / "old.json"
    good = persist.sha256_file(arrays)
    old.write_text(json.dumps({"v": 1, persist.ARRAYS_SHA256: good}), encoding="utf-8")
    document, loaded = persist.load(old, legacy=True)
    assert document == {"v": 1} and loaded["x"].tolist() == [0, 1, 2]
    old.write_text(json.dumps({"v": 1, persist.ARRAYS_SHA256: "0" * 64}), encoding="utf-8")
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        persist.load(old, legacy=True)


def test_object_arrays_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="dtype object"):
        persist.save(tmp_path / "m.json", {}, {"bad": np.asarray([{"a": 1}], dtype=object)})
    assert list(tmp_path.iterdir()) == []


def test_pickled_arrays_are_never_loaded(tmp_path: Path) -> None:
    arrays = tmp_path / "old.npz"
    np.savez(arrays, bad=np.asarray([{"a": 1}], dtype=object))  # pickles
    with pytest.raises(ArtifactError, match="not a readable array file"):
        persist.read_arrays(arrays, persist.sha256_file(arrays))


def test_a_failed_write_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    persist.write_atomic(path, "old")

    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        persist.write_atomic(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_written_files_get_the_usual_permissions(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    reference.write_text("x")
    path = tmp_path / "sub" / "state.json"
    persist.write_atomic(path, b"x")
    assert path.stat().st_mode == reference.stat().st_mode
