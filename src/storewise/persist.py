"""Files storewise keeps on disk: a JSON document and optional numpy arrays, checksummed,
each written atomically.

One scheme for model bundles, the intent model and the offer book. A file is written to a
temporary file in its own folder, fsynced, renamed over the old one and the folder fsynced,
so a reader sees the old file or the new one, whole. The document records the SHA-256 of its
own content (``document_sha256``, over a canonical JSON form, so the layout does not matter)
and of its arrays file (``arrays_sha256``); :func:`load` verifies both and raises
:class:`~storewise.errors.ArtifactError` naming the file and what is wrong. Arrays are plain
numpy in an ``.npz`` file, never pickle (``allow_pickle=False``).

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> save(folder / "model.json", {"kind": "demo"}, {"x": np.arange(3)})
>>> document, arrays = load(folder / "model.json")
>>> document, arrays["x"].tolist()
({'kind': 'demo'}, [0, 1, 2])
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from storewise.errors import ArtifactError

__all__ = [
    "ARRAYS_SHA256",
    "DOCUMENT_SHA256",
    "check_file",
    "load",
    "read_arrays",
    "read_json",
    "save",
    "sha256_file",
    "write_atomic",
]

#: Keys :func:`save` adds to a document: the checksums of the document and of its arrays.
DOCUMENT_SHA256 = "document_sha256"
ARRAYS_SHA256 = "arrays_sha256"
_BLOCK = 1 << 20


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (Windows cannot open a folder to fsync it)."""
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` completely or not at all.

    A temporary file in the same folder is written and fsynced, renamed over ``path``, and
    the folder fsynced; the file gets the usual permissions (0666 less the umask).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    try:
        with os.fdopen(os.open(temp, flags, 0o666), "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _digest(handle: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: handle.read(_BLOCK), b""):
        digest.update(block)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in blocks."""
    with path.open("rb") as handle:
        return _digest(handle)


def _document_digest(document: Mapping[str, Any]) -> str:
    """SHA-256 of a document's canonical JSON (sorted keys, no spaces): what was parsed."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _mismatch(path: Path) -> ArtifactError:
    return ArtifactError(f"{path}: checksum mismatch, the file was changed or corrupted")


def _verified(path: Path, handle: IO[bytes], expected: object) -> None:
    """Check the open file against ``expected`` and rewind it; ArtifactError otherwise."""
    if _digest(handle) != expected:
        raise _mismatch(path)
    handle.seek(0)


def check_file(path: Path, expected: object) -> None:
    """ArtifactError naming ``path`` when it is missing or its SHA-256 is not ``expected``."""
    try:
        with path.open("rb") as handle:
            _verified(path, handle, expected)
    except OSError as exc:
        raise ArtifactError(f"{path} is missing or unreadable ({exc})") from exc


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``, unchecked; ArtifactError when missing or not one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ArtifactError(f"{path} is missing or unreadable ({exc})") from exc
    except ValueError as exc:
        raise ArtifactError(f"{path} is not valid JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise ArtifactError(f"{path} does not hold a JSON object")
    return document


def read_arrays(path: Path, expected: object) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file whose SHA-256 must be ``expected`` (no pickle)."""
    try:
        with path.open("rb") as handle:
            _verified(path, handle, expected)
            with np.load(handle, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
    except ArtifactError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise ArtifactError(f"{path} is missing or not a readable array file ({exc})") from exc


def _npz(arrays: Mapping[str, np.ndarray], target: Path, compress: bool) -> bytes:
    for name, array in arrays.items():
        if np.asarray(array).dtype == object:
            raise ArtifactError(
                f"{target}: array {name!r} has dtype object; only plain arrays are stored"
            )
    buffer = io.BytesIO()
    savez = cast(Callable[..., None], np.savez_compressed if compress else np.savez)
    savez(buffer, **arrays)
    return buffer.getvalue()


def save(
    path: Path,
    document: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray] | None = None,
    *,
    arrays_path: Path | None = None,
    compress: bool = False,
    indent: int | None = 2,
) -> None:
    """Write ``document`` as JSON to ``path`` and ``arrays`` (if any) to ``arrays_path``
    (default: ``path`` with suffix ``.npz``), each atomically, with their checksums.

    The arrays are written first and the document, which names their checksum, last: a
    reader that meets a new arrays file beside an old document refuses the pair.
    """
    body = {k: v for k, v in document.items() if k not in (DOCUMENT_SHA256, ARRAYS_SHA256)}
    if arrays is not None:
        target = arrays_path or path.with_suffix(".npz")
        blob = _npz(arrays, target, compress)
        write_atomic(target, blob)
        body[ARRAYS_SHA256] = hashlib.sha256(blob).hexdigest()
    body[DOCUMENT_SHA256] = _document_digest(json.loads(json.dumps(body, ensure_ascii=False)))
    write_atomic(path, json.dumps(body, indent=indent, ensure_ascii=False) + "\n")


def load(
    path: Path, *, arrays_path: Path | None = None, legacy: bool = False
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(document, arrays) written by :func:`save`, both verified; the checksum keys are
    removed from the document. Arrays are read when the document names their checksum.

    ``legacy`` accepts a document written before documents carried their own checksum
    (nothing to verify it by); its arrays are still verified when it names their checksum.
    """
    document = read_json(path)
    recorded = document.pop(DOCUMENT_SHA256, None)
    if recorded is None and not legacy:
        raise ArtifactError(f"{path} has no checksum ({DOCUMENT_SHA256}); it was refused")
    if recorded is not None and _document_digest(document) != recorded:
        raise _mismatch(path)
    arrays_sum = document.pop(ARRAYS_SHA256, None)
    if arrays_sum is None:
        return document, {}
    return document, read_arrays(arrays_path or path.with_suffix(".npz"), arrays_sum)
