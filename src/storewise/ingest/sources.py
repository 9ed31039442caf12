"""Streaming readers for CSV (any delimiter or encoding, ``.gz`` fine), Parquet and JSON lines.

Every reader yields bounded chunks of rows together with each row's line number, and reports
rows it cannot even split into fields (wrong field count, invalid JSON) as :class:`BadRow`,
so the pipeline can account for every line of the input. A file that cannot be read at all
(binary, not the format its name says, corrupt compression) is an :class:`InputError` that
names the file and the problem, raised before anything is stored where it can be.

A file whose header is a shop platform's export (Shopify's orders, WooCommerce's order
export, GA4's BigQuery events; see :mod:`storewise.ingest.layouts`) is read as the rows it
stands for: its chunks pass through the platform's decoder, and :meth:`Source.columns` are
the decoded rows' columns. A chunk then holds each file line at most once, as the pipeline
expects; a line standing for several events is in several chunks.
"""

from __future__ import annotations

import codecs
import csv
import functools
import gzip
import io
import json
import re
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from storewise.errors import InputError, NotFound
from storewise.ingest.layouts import EmailHasher, Layout, Piece, decoder, recognise

SAMPLE_BYTES = 1 << 20
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
PARQUET_SUFFIXES = (".parquet", ".pq")
#: A JSON line longer than this (in characters) is rejected without being held in memory.
MAX_LINE_CHARS = 64 << 20
#: Share of control characters (C0 but whitespace, and DEL) in a text file's first megabyte
#: above which it is called binary (random bytes have about 11%, text none), if there are at
#: least BINARY_COUNT of them (a stray NUL in a tiny file is a bad row). Bytes that are not
#: the encoding do not count: that is a text file needing --encoding, told per line.
BINARY_SHARE = 0.05
BINARY_COUNT = 32
_BINARY_CHARS = re.compile("[\x00-\x08\x0e-\x1f\x7f]")
#: Leading bytes of formats people hand in by mistake, and what to say about them.
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PAR1", "a Parquet file (name it .parquet)"),
    (b"PK\x03\x04", "a zip archive (an Excel .xlsx workbook?); unzip it or save it as CSV"),
    (b"\xd0\xcf\x11\xe0", "an Office document (an Excel .xls workbook?); save it as CSV"),
    (b"BZh", "a bzip2 archive; decompress it (gzip is read as it is)"),
    (b"\xfd7zXZ\x00", "an xz archive; decompress it (gzip is read as it is)"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive; decompress it (gzip is read as it is)"),
    (b"%PDF", "a PDF document"),
    (b"SQLite format 3\x00", "a SQLite database"),
)


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
            except (OSError, EOFError, zlib.error) as exc:
                raise InputError(f"{path}: not a readable gzip file ({exc})") from exc
    with path.open("rb") as handle:
        return handle.read(SAMPLE_BYTES)


def not_text(sample: bytes, text: str) -> str | None:
    """What a file whose first bytes are ``sample`` (decoded: ``text``) is, if not text."""
    for magic, what in MAGIC:
        if sample.startswith(magic):
            return f"it is {what}"
    if text:
        count = len(_BINARY_CHARS.findall(text))
        share = count / len(text)
        if share > BINARY_SHARE and count >= BINARY_COUNT:
            return f"it looks binary ({share:.0%} of its first characters are control codes)"
    return None


def _delimiter(value: str | None) -> str | None:
    """A CSV delimiter given by hand: one character (``\\t`` and ``tab`` mean a tab)."""
    if value is None:
        return None
    value = {"\\t": "\t", "tab": "\t"}.get(value.lower(), value)
    if len(value) != 1 or value in '"\r\n':
        raise InputError(
            f"the delimiter must be one character other than a quote or line break, got {value!r}"
        )
    return value


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
        hasher: EmailHasher | None = None,
    ) -> None:
        """``hasher``: the keyed hash a platform export's e-mail addresses become ids by."""
        self.path = Path(path)
        self.hasher = hasher
        if not self.path.exists():
            raise NotFound(f"{self.path}: no such file")
        if self.path.is_dir():
            raise InputError(f"{self.path}: is a folder, not a file")
        self.format = _format_of(self.path)
        self.chunk_rows = chunk_rows
        self.encoding = encoding
        self.delimiter = _delimiter(delimiter)
        #: The platform export the file is, once :meth:`columns` has looked (else None).
        self.layout: Layout | None = None
        self._header: list[str] | None = None
        self._columns: list[str] | None = None
        if encoding is not None:
            try:
                codecs.lookup(encoding)
            except LookupError as exc:
                raise InputError(f"{self.path}: unknown encoding {encoding!r}") from exc
        try:
            self._inspect()
        except OSError as exc:
            raise InputError(f"{self.path}: cannot be read ({exc.strerror or exc})") from exc

    def _inspect(self) -> None:
        """Refuse a file that is empty or not what its name says; read a CSV's header."""
        if self.path.stat().st_size == 0:
            raise InputError(f"{self.path}: the file is empty (not even a header line)")
        if self.format == "parquet":
            with self.path.open("rb") as handle:
                head = handle.read(4)
            if head != b"PAR1":
                what = "it is gzip-compressed; decompress it" if head[:2] == b"\x1f\x8b" else None
                sample = _sample(self.path)
                what = what or not_text(sample, sample.decode("utf-8", errors="replace"))
                raise InputError(
                    f"{self.path}: not a Parquet file (it does not start with PAR1)"
                    + (f": {what}" if what else "; if it is CSV or JSON lines, name it so")
                )
            return
        sample = _sample(self.path)
        if not sample.strip():
            raise InputError(f"{self.path}: the file is empty (not even a header line)")
        if self.format == "csv":
            self.encoding = self.encoding or detect_encoding(sample)
        elif self.encoding is None and sample.startswith(codecs.BOM_UTF8):
            self.encoding = "utf-8-sig"  # JSON lines saved by Windows tools
        text = sample.decode(self.encoding or "utf-8", errors="replace")
        problem = not_text(sample, text)
        if problem is not None:
            kind = "CSV" if self.format == "csv" else "JSON lines"
            raise InputError(
                f"{self.path}: not a {kind} text file: {problem}; if it is UTF-16 text, give "
                "--encoding utf-16"
            )
        if self.format == "csv":
            self.delimiter = self.delimiter or detect_delimiter(text)
            first = re.split(r"\r\n|\r|\n", text.lstrip("\ufeff"), maxsplit=1)[0]
            try:
                header = next(csv.reader([first], delimiter=self.delimiter), [])
            except csv.Error as exc:
                raise InputError(f"{self.path}: cannot read the header line ({exc})") from exc
            self._header = [h.strip() for h in header]

    def raw_columns(self) -> list[str]:
        """The column names as they appear in the file's header (or its objects' keys)."""
        if self._header is None:
            if self.format == "parquet":
                names = list(self._parquet().schema_arrow.names)
                if len(set(names)) != len(names):
                    dupes = sorted({n for n in names if names.count(n) > 1})
                    raise InputError(f"{self.path}: duplicated column names: {dupes}")
                self._header = names
            else:
                self._header = self._jsonl_columns()
        return self._header

    def columns(self) -> list[str]:
        """The columns of the rows :meth:`chunks` yields: the file's own, or those of the
        decoded rows of a platform export (a required column missing is a SchemaError)."""
        if self._columns is None:
            raw = self.raw_columns()
            self.layout = recognise(raw, self.format)
            self._columns = raw if self.layout is None else self.layout.columns(raw, str(self.path))
        return self._columns

    def _parquet(self) -> pq.ParquetFile:
        try:
            return pq.ParquetFile(self.path)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise InputError(f"{self.path}: not a readable Parquet file ({exc})") from exc

    def _jsonl_columns(self) -> list[str]:
        """The keys of the objects on the first 1,000 lines; none readable is an error."""
        names: dict[str, None] = {}
        first_problem = ""
        encoding = self.encoding or "utf-8"
        try:
            with self._open_text() as handle:
                for number, line in _lines(handle):
                    if number > 1000:
                        break
                    if _cut(line, handle):
                        record, reason = None, "too long"
                    elif not line.strip():
                        continue
                    else:
                        record, reason = _json_record(line, encoding)
                    if record is not None:
                        names.update(dict.fromkeys(record))
                    elif not first_problem:
                        first_problem = f"line {number}: {reason}"
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{self.path}: unreadable ({exc})") from exc
        if not names and first_problem:
            raise InputError(f"{self.path}: no line holds a readable JSON object ({first_problem})")
        return list(names)

    def _open_text(self) -> IO[str]:
        if _is_gzip(self.path):
            return io.TextIOWrapper(
                gzip.open(self.path, "rb"),
                encoding=self.encoding or "utf-8",
                errors="surrogateescape",
            )
        return self.path.open(encoding=self.encoding or "utf-8", errors="surrogateescape")

    def chunks(self, progress: ProgressFn | None = None) -> Iterator[Chunk]:
        """The file's rows in chunks of about ``chunk_rows``, with line numbers (decoded rows
        for a platform export)."""
        self.columns()
        if self.format == "csv":
            raw = self._csv_chunks(progress)
        elif self.format == "parquet":
            raw = self._parquet_chunks(progress)
        else:
            raw = self._jsonl_chunks(progress)
        if self.layout is None:
            yield from raw
            return
        decode = decoder(self.layout, self.raw_columns(), self.delimiter or ",", self.hasher)
        for chunk in raw:
            yield from self._decoded(decode.decode(chunk.frame, chunk.lines), chunk.bad)
        yield from self._decoded(decode.finish(), [])

    def _decoded(self, pieces: list[Piece], bad: list[BadRow]) -> Iterator[Chunk]:
        """Decoded pieces as chunks; the read's own bad rows go with the first one."""
        if not pieces and bad:
            empty = pl.DataFrame(schema=dict.fromkeys(self.columns(), pl.Utf8))
            pieces = [Piece(empty, np.empty(0, np.int64))]
        for index, piece in enumerate(pieces):
            rejected = [BadRow(line, reason, raw[:1000]) for line, reason, raw in piece.rejected]
            yield Chunk(piece.frame, piece.lines, (bad if index == 0 else []) + rejected)

    # -- CSV ---------------------------------------------------------------------------------
    def _csv_chunks(self, progress: ProgressFn | None) -> Iterator[Chunk]:
        header = self.raw_columns()
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
        undecodable: list[BaseException] = []
        restore = _catch_row_decoding(on_invalid, undecodable)
        try:
            try:
                reader = pacsv.open_csv(
                    stream,
                    read_options=pacsv.ReadOptions(
                        use_threads=False, block_size=block, encoding=encoding
                    ),
                    parse_options=pacsv.ParseOptions(
                        delimiter=self.delimiter or ",",
                        invalid_row_handler=on_invalid,
                        newlines_in_values=True,  # Shopify's notes span lines
                    ),
                    convert_options=pacsv.ConvertOptions(
                        column_types={name: pa.string() for name in header},
                        strings_can_be_null=True,
                        null_values=[""],
                        quoted_strings_can_be_null=True,
                    ),
                )
            except (pa.ArrowException, OSError, ValueError) as exc:
                problem = _csv_problem(exc, str(self.encoding), block, undecodable)
                raise InputError(f"{self.path}: cannot read as CSV ({problem})") from exc
            next_line = 2  # the header is row 1; rows counted as pyarrow counts them
            breaks = 0  # line breaks inside quoted values so far: a row's line is after them
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except (pa.ArrowException, OSError, ValueError) as exc:
                    problem = _csv_problem(exc, str(self.encoding), block, undecodable)
                    raise InputError(
                        f"{self.path}: unreadable near line {next_line} ({problem})"
                    ) from exc
                frame = pl.from_arrow(pa.Table.from_batches([batch]))
                assert isinstance(frame, pl.DataFrame)
                frame = frame.rename(
                    {old: new for old, new in zip(frame.columns, header, strict=True)}
                )
                skipped = sorted(b.line for b in bad)
                rows, next_line = _line_numbers(next_line, frame.height, skipped)
                lines, bad, breaks = _physical_lines(rows, _line_breaks(frame), bad, breaks)
                yield Chunk(frame, lines, bad)
                bad = []
            if bad:
                _, bad, breaks = _physical_lines(np.empty(0, np.int64), None, bad, breaks)
                yield Chunk(
                    pl.DataFrame(schema=dict.fromkeys(header, pl.Utf8)), np.empty(0, np.int64), bad
                )
        finally:
            restore()
            raw.close()

    # -- Parquet -------------------------------------------------------------------------------
    def _parquet_chunks(self, progress: ProgressFn | None) -> Iterator[Chunk]:
        parquet = self._parquet()
        total = parquet.metadata.num_rows
        done = 0
        batches = parquet.iter_batches(batch_size=self.chunk_rows)
        while True:
            try:
                table = pa.Table.from_batches([next(batches)])
                lines = np.arange(done + 1, done + table.num_rows + 1, dtype=np.int64)
                bad: list[BadRow] = []
                invalid = _invalid_text_rows(table)
                if invalid is not None:
                    reason = "text that is not valid UTF-8"
                    bad = [BadRow(int(n), reason, "") for n in lines[invalid]]
                    table, lines = table.filter(pa.array(~invalid)), lines[~invalid]
                frame = pl.from_arrow(table)
                assert isinstance(frame, pl.DataFrame)
                frame = _as_text_columns(frame)
            except StopIteration:
                break
            except (pa.ArrowException, pl.exceptions.PolarsError, OSError, ValueError) as exc:
                raise InputError(
                    f"{self.path}: unreadable after row {done:,} ({str(exc)[:300]})"
                ) from exc
            done += frame.height + len(bad)
            if progress is not None:
                progress(done, total)
            yield Chunk(frame, lines, bad)

    # -- JSON lines --------------------------------------------------------------------------
    def _jsonl_chunks(self, progress: ProgressFn | None) -> Iterator[Chunk]:
        total = self.path.stat().st_size
        records: list[dict[str, Any]] = []
        lines: list[int] = []
        bad: list[BadRow] = []
        raw = _CountingFile(self.path, progress)
        binary: IO[bytes] = gzip.GzipFile(fileobj=raw) if _is_gzip(self.path) else raw  # type: ignore[assignment]
        encoding = self.encoding or "utf-8"
        text = io.TextIOWrapper(binary, encoding=encoding, errors="surrogateescape")
        try:
            for number, line in _lines(text):
                if _cut(line, text):
                    reason = f"line longer than {MAX_LINE_CHARS:,} characters"
                    bad.append(BadRow(number, reason, _shown(line)))
                    continue
                if not line.strip():
                    continue
                record, reason = _json_record(line, encoding)
                if record is None:
                    bad.append(BadRow(number, reason or "invalid JSON", _shown(line)))
                    continue
                records.append(record)
                lines.append(number)
                if len(records) >= self.chunk_rows:
                    yield _jsonl_chunk(records, lines, bad)
                    records, lines, bad = [], [], []
            if records or bad:
                yield _jsonl_chunk(records, lines, bad)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{self.path}: unreadable ({exc})") from exc
        finally:
            text.close()
            if progress is not None:
                progress(total, total)


def _lines(text: IO[str]) -> Iterator[tuple[int, str]]:
    """(1-based number, text) of each line, none held longer than :data:`MAX_LINE_CHARS`: a
    longer line comes cut to that length (see :func:`_cut`), its remainder skipped."""
    return enumerate(iter(functools.partial(text.readline, MAX_LINE_CHARS), ""), start=1)


def _cut(line: str, text: IO[str]) -> bool:
    """Whether ``line`` was cut at :data:`MAX_LINE_CHARS`; if so its remainder is skipped."""
    if len(line) < MAX_LINE_CHARS or line.endswith("\n"):
        return False
    rest = line
    while rest and not rest.endswith("\n"):  # read on without keeping it
        rest = text.readline(MAX_LINE_CHARS)
    return True


def _shown(line: str) -> str:
    """The start of a line as kept in the rejected-rows file: valid text, no line break."""
    return line[:1000].rstrip("\r\n").encode("utf-8", "replace").decode("utf-8")


def _json_record(line: str, encoding: str = "utf-8") -> tuple[dict[str, str | None] | None, str]:
    """(the line's object with text values, "") or (None, why it cannot be one)."""
    if not line.isascii():
        try:
            line.encode("utf-8")
        except UnicodeEncodeError as exc:  # bytes the decoder could not read (surrogateescape)
            byte = ord(line[exc.start]) - 0xDC00
            return None, (
                f"not valid {encoding} text (byte 0x{byte & 0xFF:02X}); give the file's --encoding"
            )
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON ({exc.msg})"
    except RecursionError:
        return None, "invalid JSON (nested too deeply)"
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        return None, f"invalid JSON ({str(exc).split(':')[0]})"
    if not isinstance(record, dict):
        return None, "a line must hold one JSON object"
    try:
        values = {k: _jsonl_value(v) for k, v in record.items()}  # keys: str
    except (RecursionError, ValueError):
        return None, "invalid JSON (nested too deeply)"
    if ("\\ud" in line or "\\uD" in line) and not _encodable(values):
        return None, "text is not valid Unicode (a lone surrogate escape such as \\ud800)"
    return values, ""


def _encodable(values: dict[str, str | None]) -> bool:
    """Whether keys and values are valid Unicode (no lone surrogate)."""
    try:
        for key, value in values.items():
            key.encode("utf-8")
            if value is not None:
                value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _invalid_text_rows(table: pa.Table) -> np.ndarray | None:
    """Rows of a Parquet batch holding text that is not valid UTF-8, or None when all is
    valid: pyarrow reads Parquet strings unchecked, and polars would crash on them later."""
    try:
        table.validate(full=True)
        return None
    except pa.ArrowInvalid:
        pass
    invalid = np.zeros(table.num_rows, dtype=bool)
    for name, column in zip(table.column_names, table.columns, strict=True):
        values = column.combine_chunks()
        if pa.types.is_dictionary(values.type):
            values = values.dictionary_decode()
        if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
            raw = values.view(pa.binary() if pa.types.is_string(values.type) else pa.large_binary())
            for i, value in enumerate(raw.to_pylist()):
                if value is not None:
                    try:
                        value.decode("utf-8")
                    except UnicodeDecodeError:
                        invalid[i] = True
        else:
            try:
                values.validate(full=True)
            except pa.ArrowInvalid as exc:
                raise ValueError(f"column {name!r} is corrupt ({exc})") from exc
    if not invalid.any():
        raise ValueError("the batch is corrupt")
    return invalid


def _as_text_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Columns the rules cannot read as text (lists, structs, bytes, durations) made text:
    nested values as JSON, bytes as UTF-8 (or hex when not text), durations as numbers."""
    fixes: list[pl.Expr] = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if isinstance(dtype, pl.List | pl.Array | pl.Struct):
            encoded = pl.struct(column.alias("v")).struct.json_encode()  # '{"v":<json>}'
            text = encoded.str.slice(5).str.strip_suffix("}")
            fixes.append(pl.when(column.is_null()).then(None).otherwise(text).alias(name))
        elif dtype == pl.Binary:
            try:
                frame.select(column.cast(pl.Utf8))
                fixes.append(column.cast(pl.Utf8))
            except pl.exceptions.PolarsError:
                fixes.append(column.bin.encode("hex"))
        elif isinstance(dtype, pl.Duration):
            fixes.append(column.cast(pl.Int64).cast(pl.Utf8))
        elif dtype == pl.Object:
            fixes.append(column.map_elements(str, return_dtype=pl.Utf8))
    return frame.with_columns(fixes) if fixes else frame


def _catch_row_decoding(
    handler: Callable[[Any], str], caught: list[BaseException]
) -> Callable[[], None]:
    """Keep pyarrow from printing a traceback for a malformed row that is not valid text.

    pyarrow decodes such a row before calling ``handler`` and reports a failure as an
    "unraisable" error (a traceback on stderr) before failing the read; while installed, this
    keeps those reports in ``caught`` for the message instead. Returns the undo.
    """
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if unraisable.object is handler and isinstance(unraisable.exc_value, UnicodeError):
            caught.append(unraisable.exc_value)
        else:
            previous(unraisable)

    sys.unraisablehook = hook

    def restore() -> None:
        if sys.unraisablehook is hook:
            sys.unraisablehook = previous

    return restore


def _csv_problem(
    exc: BaseException, encoding: str, block: int, undecodable: Sequence[BaseException] = ()
) -> str:
    """What went wrong reading CSV, in words a person can act on."""
    text = str(exc).strip()
    if undecodable:
        return (
            f"not valid {encoding} text: a malformed line holds bytes that are not {encoding}; "
            "give the file's --encoding"
        )
    if "straddl" in text:
        size = f"{block >> 20} MiB" if block >= 1 << 20 else f"{block >> 10} KiB"
        return f"a line longer than {size}: not a CSV file, or its line breaks are missing"
    if isinstance(exc, UnicodeError) or "UTF8" in text or "utf8" in text:
        return f"not valid {encoding} text ({text[:200]}); give the file's --encoding"
    return text[:300]


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


def _line_breaks(frame: pl.DataFrame) -> np.ndarray | None:
    """Line breaks inside each row's values (quoted multi-line notes), or None if none has."""
    text = [
        pl.col(c).str.count_matches("\n").fill_null(0)
        for c, t in frame.schema.items()
        if t == pl.Utf8
    ]
    if not text or frame.height == 0:
        return None
    counts = frame.select(pl.sum_horizontal(text)).to_series().to_numpy().astype(np.int64)
    return counts if counts.any() else None


def _physical_lines(
    rows: np.ndarray, row_breaks: np.ndarray | None, bad: list[BadRow], before: int
) -> tuple[np.ndarray, list[BadRow], int]:
    """Row numbers (as pyarrow counts rows, bad ones included) as the file's line numbers:
    each row starts after the line breaks inside the quoted values of the rows before it.

    ``before`` is the count of such breaks in earlier chunks; returns the good rows' lines,
    the bad rows with their lines, and the new count.
    """
    bad_breaks = np.asarray([b.raw.count("\n") for b in bad], dtype=np.int64)
    if before == 0 and row_breaks is None and not bad_breaks.any():
        return rows, bad, before
    good = row_breaks if row_breaks is not None else np.zeros(rows.size, dtype=np.int64)
    numbers = np.concatenate([rows, np.asarray([b.line for b in bad], dtype=np.int64)])
    breaks = np.concatenate([good, bad_breaks])
    order = np.argsort(numbers, kind="stable")
    shift = np.empty_like(numbers)
    shift[order] = before + np.cumsum(breaks[order]) - breaks[order]
    physical = numbers + shift
    moved = [
        BadRow(int(line), b.reason, b.raw)
        for line, b in zip(physical[rows.size :], bad, strict=True)
    ]
    return physical[: rows.size], moved, before + int(breaks.sum())


def _line_numbers(start: int, count: int, skipped: list[int]) -> tuple[np.ndarray, int]:
    """Line numbers of ``count`` good rows from ``start``, jumping over skipped bad lines."""
    if not skipped:
        return np.arange(start, start + count, dtype=np.int64), start + count
    span = np.arange(start, start + count + len(skipped), dtype=np.int64)
    keep = span[~np.isin(span, np.asarray(skipped, dtype=np.int64))][:count]
    end = max(int(keep[-1]) + 1 if keep.size else start, max(skipped) + 1)
    return keep, end
