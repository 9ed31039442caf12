"""Streaming readers for CSV (any delimiter or encoding, ``.gz`` fine), Parquet and JSON lines.

Every reader yields bounded chunks of rows together with each row's line number, and reports
rows it cannot even split into fields (wrong field count, invalid JSON) as :class:`BadRow`,
so the pipeline can account for every line of the input.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from storewise.errors import InputError, NotFound

SAMPLE_BYTES = 1 << 20
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class BadRow:
    """A line that could not be read as a row, with its 1-based line number and reason."""

    line: int
    reason: str
    raw: str


@dataclass
class Chunk:
    """A block of rows: raw column values plus each row's 1-based line number in the file."""

    frame: pl.DataFrame
    lines: np.ndarray
    bad: list[BadRow] = field(default_factory=list)


ProgressFn = Callable[[int, int], None]


def _format_of(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".gzip"):
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in PARQUET_SUFFIXES:
        return "parquet"
    if last in JSONL_SUFFIXES:
        return "jsonl"
    return "csv"


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _sample(path: Path) -> bytes:
    if _is_gzip(path):
        with gzip.open(path, "rb") as handle:
            try:
                return handle.read(SAMPLE_BYTES)
            except (OSError, EOFError) as exc:
                raise InputError(f"{path}: not a readable gzip file ({exc})") from exc
    with path.open("rb") as handle:
        return handle.read(SAMPLE_BYTES)


def detect_encoding(sample: bytes) -> str:
    """The text encoding of a sample: UTF-8 (with or without BOM) when valid, else a guess."""
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 4:  # a character cut by the sample's end
            return "utf-8"
    from charset_normalizer import from_bytes

    matches = from_bytes(sample)
    guesses = [m.encoding for m in matches]
    # Western shop exports are overwhelmingly Windows-1252/Latin-1; small samples make
    # detectors pick a neighbouring code page, so prefer these whenever they fit.
    if not guesses or {"cp1252", "latin_1", "iso8859_15"} & set(guesses):
        try:
            sample.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            return "latin-1"
    best = matches.best()
    return str(best.encoding) if best is not None else "latin-1"


def detect_delimiter(text: str) -> str:
    """The field delimiter of a CSV sample among comma, semicolon, tab and pipe."""
    lines = text.splitlines()[:50]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        header = lines[0]
        counts = {d: header.count(d) for d in ",;\t|"}
        return max(counts, key=lambda d: counts[d]) if max(counts.values()) else ","


class _CountingFile(io.RawIOBase):
    """A read-only file wrapper that reports progress through the bytes it has read."""

    def __init__(self, path: Path, progress: ProgressFn | None) -> None:
        self._handle = path.open("rb")
        self._total = path.stat().st_size
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._handle.readinto(buffer)
        if self._progress is not None:
            self._progress(self._handle.tell(), self._total)
        return count

    def close(self) -> None:
        self._handle.close()
        super().close()


class Source:
    """One input file, its detected format, encoding and delimiter, read in chunks."""

    def __init__(
        self,
        path: str | Path,
        *,
        encoding: str | None = None,
        delimiter: str | None = None,
        chunk_rows: int = 200_000,
    ) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise NotFound(f"{self.path}: no such file")
        if self.path.is_dir():
            raise InputError(f"{self.path}: is a folder, not a file")
        self.format = _format_of(self.path)
        self.chunk_rows = chunk_rows
        self.encoding = encoding
        self.delimiter = delimiter
        self._columns: list[str] | None = None
        if self.path.stat().st_size == 0:
            raise InputError(f"{self.path}: the file is empty (not even a header line)")
        if self.format == "csv":
            sample = _sample(self.path)
            if not sample.strip():
                raise InputError(f"{self.path}: the file is empty (not even a header line)")
            self.encoding = encoding or detect_encoding(sample)
            try:
                text = sample.decode(self.encoding, errors="replace")
            except LookupError as exc:
                raise InputError(f"{self.path}: unknown encoding {self.encoding!r}") from exc
            self.delimiter = delimiter or detect_delimiter(text)
            reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=self.delimiter)
            header = next(reader, [])
            self._columns = [h.strip() for h in header]

    def columns(self) -> list[str]:
        """The column names as they appear in the file's header."""
        if self._columns is None:
            if self.format == "parquet":
                self._columns = list(pq.ParquetFile(self.path).schema_arrow.names)
            else:
                self._columns = self._jsonl_columns()
        return self._columns

    def _jsonl_columns(self) -> list[str]:
        names: dict[str, None] = {}
        with self._open_text() as handle:
            for number, line in enumerate(handle):
                if number >= 1000:
                    break
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict):
                    names.update(dict.fromkeys(record))
        return list(names)

    def _open_text(self) -> IO[str]:
        if _is_gzip(self.path):
            return io.TextIOWrapper(
                gzip.open(self.path, "rb"), encoding=self.encoding or "utf-8", errors="replace"
            )
        return self.path.open(encoding=self.encoding or "utf-8", errors="replace")

    def chunks(self, progress: ProgressFn | None = None) -> Iterator[Chunk]:
        """The file's rows in chunks of about ``chunk_rows``, with line numbers."""
        if self.format == "csv":
            yield from self._csv_chunks(progress)
        elif self.format == "parquet":
            yield from self._parquet_chunks(progress)
        else:
            yield from self._jsonl_chunks(progress)

    # -- CSV ---------------------------------------------------------------------------------
    def _csv_chunks(self, progress: ProgressFn | None) -> Iterator[Chunk]:
        header = self.columns()
        if len(set(header)) != len(header):
            dupes = sorted({h for h in header if header.count(h) > 1})
            raise InputError(f"{self.path}: duplicated column names in the header: {dupes}")
        bad: list[BadRow] = []

        def on_invalid(row: Any) -> str:
            number = int(row.number) if row.number is not None else -1
            bad.append(
                BadRow(
                    number,
                    f"wrong field count (expected {row.expected_columns}, "
                    f"got {row.actual_columns})",
                    str(row.text)[:1000],
                )
            )
            return "skip"

        raw = _CountingFile(self.path, progress)
        stream: Any = pa.PythonFile(raw, mode="r")
        if _is_gzip(self.path):
            stream = pa.CompressedInputStream(stream, "gzip")
        encoding = "utf8" if self.encoding in ("utf-8", "utf-8-sig") else str(self.encoding)
        block = max(1 << 16, min(64 << 20, self.chunk_rows * 100))
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(
                    use_threads=False, block_size=block, encoding=encoding
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.delimiter or ",",
                    invalid_row_handler=on_invalid,
                    newlines_in_values=False,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in header},
                    strings_can_be_null=True,
                    null_values=[""],
                    quoted_strings_can_be_null=True,
                ),
            )
        except (pa.ArrowInvalid, OSError) as exc:
            raw.close()
            raise InputError(f"{self.path}: cannot read as CSV ({exc})") from exc
        next_line = 2  # the header is line 1
        try:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except (pa.ArrowInvalid, OSError) as exc:
                    raise InputError(
                        f"{self.path}: unreadable near line {next_line} ({exc}); if the file "
                        "is not UTF-8, give --encoding"
                    ) from exc
                frame = pl.from_arrow(pa.Table.from_batches([batch]))
                assert isinstance(frame, pl.DataFrame)
                frame = frame.rename(
                    {old: new for old, new in zip(frame.columns, header, strict=True)}
                )
                skipped = sorted(b.line for b in bad)
                lines, next_line = _line_numbers(next_line, frame.height, skipped)
                yield Chunk(frame, lines, bad)
                bad = []
            if bad:
                yield Chunk(
                    pl.DataFrame(schema=dict.fromkeys(header, pl.Utf8)), np.empty(0, np.int64), bad
                )
        finally:
            raw.close()

    # -- Parquet -------------------------------------------------------------------------------
    def _parquet_chunks(self, progress: ProgressFn | None) -> Iterator[Chunk]:
        try:
            parquet = pq.ParquetFile(self.path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"{self.path}: not a readable Parquet file ({exc})") from exc
        total = parquet.metadata.num_rows
        done = 0
        for batch in parquet.iter_batches(batch_size=self.chunk_rows):
            frame = pl.from_arrow(pa.Table.from_batches([batch]))
            assert isinstance(frame, pl.DataFrame)
            lines = np.arange(done + 1, done + frame.height + 1, dtype=np.int64)
            done += frame.height
            if progress is not None:
                progress(done, total)
            yield Chunk(frame, lines)

    # -- JSON lines --------------------------------------------------------------------------
    def _jsonl_chunks(self, progress: ProgressFn | None) -> Iterator[Chunk]:
        total = self.path.stat().st_size
        records: list[dict[str, Any]] = []
        lines: list[int] = []
        bad: list[BadRow] = []
        raw = _CountingFile(self.path, progress)
        binary: IO[bytes] = gzip.GzipFile(fileobj=raw) if _is_gzip(self.path) else raw  # type: ignore[assignment]
        text = io.TextIOWrapper(binary, encoding=self.encoding or "utf-8", errors="replace")
        try:
            for number, line in enumerate(text, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    bad.append(BadRow(number, f"invalid JSON ({exc.msg})", line[:1000].rstrip()))
                    continue
                if not isinstance(record, dict):
                    bad.append(BadRow(number, "a line must hold one JSON object", line[:1000]))
                    continue
                records.append({k: _jsonl_value(v) for k, v in record.items()})
                lines.append(number)
                if len(records) >= self.chunk_rows:
                    yield _jsonl_chunk(records, lines, bad)
                    records, lines, bad = [], [], []
            if records or bad:
                yield _jsonl_chunk(records, lines, bad)
        except (OSError, EOFError) as exc:
            raise InputError(f"{self.path}: unreadable ({exc})") from exc
        finally:
            text.close()
            if progress is not None:
                progress(total, total)


def _jsonl_value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _jsonl_chunk(records: list[dict[str, Any]], lines: list[int], bad: list[BadRow]) -> Chunk:
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    columns = {name: [r.get(name) for r in records] for name in names}
    frame = pl.DataFrame(columns, schema=dict.fromkeys(names, pl.Utf8))
    return Chunk(frame, np.asarray(lines, dtype=np.int64), bad)


def _line_numbers(start: int, count: int, skipped: list[int]) -> tuple[np.ndarray, int]:
    """Line numbers of ``count`` good rows from ``start``, jumping over skipped bad lines."""
    if not skipped:
        return np.arange(start, start + count, dtype=np.int64), start + count
    span = np.arange(start, start + count + len(skipped), dtype=np.int64)
    keep = span[~np.isin(span, np.asarray(skipped, dtype=np.int64))][:count]
    end = max(int(keep[-1]) + 1 if keep.size else start, max(skipped) + 1)
    return keep, end
