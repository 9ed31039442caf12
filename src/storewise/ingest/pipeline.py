"""The one door data comes in by: read, map, validate, clean, store, report.

``ingest(store, kind, paths, ...)`` streams every file in chunks inside a single store
transaction (a failure stores nothing), and returns an :class:`IngestReport` that accounts
for every row read: stored, duplicate, or rejected with a reason and line number.
"""

from __future__ import annotations

import csv
import os
import time
import zlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from storewise.errors import InputError
from storewise.ingest import events as events_rules
from storewise.ingest.clean import (
    IngestReport,
    Limits,
    Rules,
    cleaned,
    has_control,
    has_text_control,
    normalise_numeric_id,
    not_numeric,
    parse_bool,
    parse_number,
    parse_timestamps,
    timestamp_bounds,
    too_long,
    trimmed,
)
from storewise.ingest.presets import Preset, get_preset, resolve_columns
from storewise.ingest.sources import BadRow, Chunk, Source
from storewise.privacy.spreadsheet import csv_writer
from storewise.schema import PURPOSES
from storewise.store.base import EventWrite, StoreWriter
from storewise.store.writer import now_ms

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


@dataclass(frozen=True)
class FileProgress:
    """How far the import of one file is: rows read and stored from it so far, its total rows
    when the file says (Parquet; a CSV or JSON-lines file is not counted ahead), and the stage
    the current chunk is in (reading, checking, storing, summarising, done)."""

    file: str
    rows_read: int
    stored: int
    total_rows: int | None
    stage: str


#: Called at each stage of each chunk of each file.
ProgressFn = Callable[[FileProgress], None]
#: Earliest plausible ``created_at`` of a customer profile (1900-01-01, epoch ms); later
#: than a day ahead is implausible too (a consent dated 9999 would outrank every later one).
CREATED_AT_LOW = -2_208_988_800_000
#: Errors the data libraries raise on input they cannot read: a last line of defence that
#: turns one into an :class:`InputError` naming the file and lines (nothing is stored).
DATA_ERRORS: tuple[type[BaseException], ...] = (
    pl.exceptions.PolarsError,
    pa.ArrowException,
    UnicodeError,
    csv.Error,
    RecursionError,
    OverflowError,
    zlib.error,
    EOFError,
    pl.exceptions.PanicException,  # (a BaseException: a crash inside polars on odd data)
)


@dataclass
class _Aggregates:
    """Per-item and per-customer facts gathered over a whole order file (bounded by ids)."""

    titles: Counter[tuple[str, str]] = field(default_factory=Counter)
    categories: Counter[tuple[str, str]] = field(default_factory=Counter)
    prices: dict[str, tuple[int, float]] = field(default_factory=dict)
    countries: Counter[tuple[str, str]] = field(default_factory=Counter)


class RejectWriter:
    """Writes rejected rows (file, line, reason, raw values) to a CSV, atomically."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp") if path else None
        self._handle: Any = None
        self._writer: Any = None
        if self._tmp is not None:
            self._tmp.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self._tmp.open("w", newline="", encoding="utf-8")
            self._writer = csv_writer(self._handle)
            self._writer.writerow(["file", "line", "reason", "raw"])

    def write(self, file: str, rows: list[tuple[int, str, str]]) -> None:
        """Append rejected rows of one file."""
        if self._writer is not None:
            self._writer.writerows((file, line, reason, raw) for line, reason, raw in rows)

    def commit(self) -> None:
        """Publish the file under its final name."""
        if self._handle is not None and self._tmp is not None and self.path is not None:
            self._handle.close()
            os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Remove the partial file after a failed import."""
        if self._handle is not None and self._tmp is not None:
            self._handle.close()
            self._tmp.unlink(missing_ok=True)


def _raw_text(frame: pl.DataFrame, delimiter: str) -> list[str]:
    if frame.width == 0:
        return [""] * frame.height
    return (
        frame.select(
            pl.concat_str(
                [pl.col(c).cast(pl.Utf8).fill_null("") for c in frame.columns], separator=delimiter
            )
        )
        .to_series()
        .to_list()
    )


def _select_canonical(
    chunk: Chunk, columns: Mapping[str, str], wanted: Sequence[str]
) -> pl.DataFrame:
    """The chunk with canonical column names (missing ones null) and a ``_line`` column."""
    frame = chunk.frame
    present = set(frame.columns)  # a JSON-lines chunk may lack a key the file has elsewhere
    exprs = [
        (pl.col(columns[name]) if columns.get(name) in present else pl.lit(None)).alias(name)
        for name in wanted
    ]
    out = frame.select(exprs).with_columns(pl.Series("_line", chunk.lines))
    strings = [
        pl.col(c).cast(pl.Utf8)
        for c, t in out.schema.items()
        if c != "_line" and c != "timestamp" and c != "created_at" and t != pl.Utf8
    ]
    return out.with_columns(strings) if strings else out


_EVENT_WANTED = events_rules.WANTED


class Converter:
    """Turns mapped chunks of one kind into canonical rows, rejects and repair counts."""

    def __init__(
        self,
        preset: Preset,
        time_format: str | None,
        source: str,
        limits: Limits | None = None,
    ) -> None:
        self.preset = preset
        self.time_format = time_format
        self.source = source[:100]
        self.limits = limits or Limits()
        self.low, self.high = timestamp_bounds(now_ms())

    @property
    def params(self) -> dict[str, Any]:
        """Values the event rule tables read: the plausible time window, the ceilings on
        numbers and the source."""
        return {
            "low": self.low,
            "high": self.high,
            "max_quantity": self.limits.max_quantity,
            "max_price": self.limits.max_price,
            "max_value": self.limits.max_value,
            "source": self.source,
        }

    # -- events and orders -------------------------------------------------------------------
    def events(
        self, raw: pl.DataFrame
    ) -> tuple[pl.DataFrame, pl.DataFrame, Counter[str], Counter[str]]:
        """(canonical events, rejected rows, repairs, notes) of one chunk."""
        return events_rules.convert_frame(raw, self.preset, self.time_format, self.params)

    def event_rows(
        self, raw: Sequence[Mapping[str, str | None]]
    ) -> tuple[list[tuple[Any, ...]], list[tuple[int, str]], Counter[str]]:
        """The same rules row by row for a few records: (stored-column tuples, (index, reason)
        rejections, repairs); only for presets without preparation and no time format."""
        if self.time_format is not None:
            raise ValueError("row-by-row conversion reads the default timestamp layouts only")
        return events_rules.convert_rows(raw, self.preset, self.params)

    # -- catalog ------------------------------------------------------------------------------
    def items(self, raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, Counter[str]]:
        """(catalog rows, rejected rows, repairs) of one chunk; an ``_attributes`` column, if
        any, holds the JSON of the file's unmapped columns."""
        rules = Rules()
        rules.reject("missing item_id", trimmed("item_id").is_null())
        rules.reject("id longer than 200 characters", too_long("item_id"))
        rules.reject(
            "control character (e.g. NUL, tab, line break) in an id", has_control("item_id")
        )
        rules.reject("non-numeric price", not_numeric("price"))
        rules.reject(
            "price beyond the ceiling (setting ingest_max_price)",
            parse_number("price").abs() > self.limits.max_price,
        )
        rules.reject("negative price", parse_number("price") < 0)
        rules.reject(
            "unrecognised in_stock value",
            trimmed("in_stock").is_not_null() & parse_bool("in_stock").is_null(),
        )
        rules.reject(
            "currency must be a 3-letter code",
            trimmed("currency").is_not_null() & ~trimmed("currency").str.contains(r"^[A-Za-z]{3}$"),
        )
        good, bad = rules.split(raw)
        items = good.select(
            trimmed("item_id").alias("item_id"),
            *(cleaned(c).alias(c) for c in ITEM_TEXT),
            (parse_number("price") + 0.0).alias("price"),  # (-0.0 + 0.0 is 0.0)
            trimmed("currency").str.to_uppercase().alias("currency"),
            parse_bool("in_stock").fill_null(True).alias("in_stock"),
            pl.lit(True).alias("is_product"),
            _attributes_of(good).alias("attributes"),
        )
        repairs = _text_repairs(good, ITEM_TEXT)
        missing_title = int(items["title"].null_count())
        if missing_title:
            repairs["item without title (kept; content models use category and attributes)"] = (
                missing_title
            )
        return items, bad, repairs

    # -- customers ------------------------------------------------------------------------------
    def customers(
        self, raw: pl.DataFrame
    ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, Counter[str]]:
        """(profiles, consents, rejected rows, repairs) of one chunk; an ``_attributes``
        column, if any, holds the JSON of the file's unmapped columns."""
        raw = raw.with_columns(
            (
                parse_timestamps(raw["created_at"], self.time_format)
                if raw["created_at"].null_count() < raw.height
                else pl.Series("created_at", [None] * raw.height, dtype=pl.Int64)
            ).alias("_created")
        )
        rules = Rules()
        rules.reject("missing customer_id", trimmed("customer_id").is_null())
        rules.reject("id longer than 200 characters", too_long("customer_id"))
        rules.reject(
            "control character (e.g. NUL, tab, line break) in an id", has_control("customer_id")
        )
        rules.reject(
            "unparseable created_at",
            pl.col("created_at").is_not_null() & pl.col("_created").is_null(),
        )
        for purpose in PURPOSES:
            column = f"consent_{purpose}"
            rules.reject(
                f"unrecognised {column} value (use yes/no, true/false, 1/0)",
                trimmed(column).is_not_null() & parse_bool(column).is_null(),
            )
        good, bad = rules.split(raw)
        implausible = (pl.col("_created") < CREATED_AT_LOW) | (pl.col("_created") > self.high)
        good = good.with_columns(
            pl.when(implausible).then(None).otherwise(pl.col("_created")).alias("_created"),
            implausible.fill_null(False).alias("_implausible"),
        )
        email_ok = cleaned("email").str.contains(EMAIL)
        repairs = _text_repairs(good, CUSTOMER_TEXT)
        if good.height:
            dropped = int(good["_implausible"].sum())
            if dropped:
                repairs["implausible created_at removed (before 1900 or in the future)"] = dropped
            bad_email = int(good.select((cleaned("email").is_not_null() & ~email_ok).sum()).item())
            if bad_email:
                repairs["invalid email removed (profile kept)"] = bad_email
            renamed = int(
                good.select(
                    (trimmed("customer_id") != normalise_numeric_id("customer_id")).sum()
                ).item()
            )
            if renamed:
                repairs["customer id normalised (e.g. 17850.0 -> 17850)"] = renamed
        profiles = good.select(
            normalise_numeric_id("customer_id").alias("customer_id"),
            cleaned("country").alias("country"),
            pl.col("_created").alias("created_at"),
            _attributes_of(good).alias("attributes"),
            pl.when(email_ok)
            .then(cleaned("email").str.to_lowercase())
            .otherwise(None)
            .alias("email"),
            cleaned("name").alias("name"),
        )
        stamp = now_ms()
        consent_frames = [
            good.select(
                normalise_numeric_id("customer_id").alias("customer_id"),
                pl.lit(purpose).alias("purpose"),
                parse_bool(f"consent_{purpose}").alias("granted"),
                pl.coalesce(pl.col("_created"), pl.lit(stamp)).alias("at"),
                pl.lit(self.source).alias("source"),
            ).filter(pl.col("granted").is_not_null())
            for purpose in PURPOSES
        ]
        consents = pl.concat(consent_frames)
        return profiles, consents, bad, repairs


#: Free text of catalog rows and profiles: control characters are removed (repair counted).
ITEM_TEXT = ("title", "description", "category", "brand")
CUSTOMER_TEXT = ("country", "email", "name")


def _attributes_of(frame: pl.DataFrame) -> pl.Expr:
    """The JSON attributes column (unmapped columns of the file), or null."""
    return pl.col("_attributes") if "_attributes" in frame.columns else pl.lit(None, pl.Utf8)


def _attributes(frame: pl.DataFrame, extra: Sequence[str]) -> pl.Series:
    """The unmapped columns of a chunk as one JSON text per row (keys the chunk lacks are
    left out), built apart from the canonical columns so no file column can collide."""
    present = [c for c in extra if c in frame.columns]
    if not present:
        return pl.Series("_attributes", [None] * frame.height, dtype=pl.Utf8)
    encoded = pl.struct([pl.col(c).cast(pl.Utf8) for c in present]).struct.json_encode()
    return frame.select(encoded.alias("_attributes")).to_series()


def _text_repairs(frame: pl.DataFrame, columns: Sequence[str]) -> Counter[str]:
    """The repair count of rows whose free text lost control characters."""
    repairs = Counter[str]()
    if frame.height:
        touched = pl.any_horizontal([has_text_control(c) for c in columns]).fill_null(False)
        count = int(frame.select(touched.sum()).item())
        if count:
            repairs[f"control characters removed from {', '.join(columns)}"] = count
    return repairs


def _read_rejects(
    chunk: Chunk, bad_rows: pl.DataFrame, delimiter: str, file_columns: Sequence[str]
) -> list[tuple[int, str, str]]:
    out = [(b.line, b.reason, b.raw) for b in chunk.bad]
    if bad_rows.height:
        lines = bad_rows["_line"].to_list()
        reasons = bad_rows["_reason"].to_list()
        original = chunk.frame.with_row_index("_i").filter(
            pl.col("_i").is_in(pl.Series(chunk.lines).search_sorted(bad_rows["_line"]).implode())
        )
        raws = _raw_text(
            original.select([c for c in file_columns if c in original.columns]), delimiter
        )
        out.extend(zip(lines, reasons, raws, strict=True))
    return out


def _aggregate(agg: _Aggregates, events: pl.DataFrame) -> None:
    sales = events.filter(pl.col("event_type") == "purchase")
    for column, target in (("title", agg.titles), ("category", agg.categories)):
        counts = (
            events.filter(pl.col(column).is_not_null()).group_by("item_id", column).len().rows()
        )
        for item, text, n in counts:
            target[(item, text)] += n
    prices = (
        sales.filter(pl.col("price").is_not_null())
        .group_by("item_id")
        .agg(pl.col("ts").max(), pl.col("price").sort_by("ts").last())
        .rows()
    )
    for item, ts, price in prices:
        if item not in agg.prices or agg.prices[item][0] <= ts:
            agg.prices[item] = (ts, price)
    counts = (
        events.filter(pl.col("country").is_not_null() & pl.col("customer_id").is_not_null())
        .group_by("customer_id", "country")
        .len()
        .rows()
    )
    for customer, country, n in counts:
        agg.countries[(customer, country)] += n


def _most_frequent(counter: Counter[tuple[str, str]]) -> dict[str, str]:
    """For each key, its most frequent value; ties go to the alphabetically first value."""
    best: dict[str, tuple[int, str]] = {}
    for (key, value), n in counter.items():
        current = best.get(key)
        if current is None or n > current[0] or (n == current[0] and value < current[1]):
            best[key] = (n, value)
    return {k: v for k, (_, v) in best.items()}


def ingest(
    store: Any,
    kind: str,
    paths: Sequence[str | Path],
    *,
    preset: str | None = None,
    mapping: Mapping[str, str] | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    time_format: str | None = None,
    rejected_csv: str | Path | None = None,
    chunk_rows: int = 200_000,
    progress: ProgressFn | None = None,
    limits: Limits | None = None,
) -> IngestReport:
    """Import ``paths`` of one ``kind`` (orders, events, items, customers) into ``store``.

    All files commit together or not at all; the report accounts for every row. A file that
    cannot be read at all is an :class:`InputError` naming it (nothing is stored); ``limits``
    are the ceilings on quantities and prices (default: :class:`Limits`).
    """
    chosen = get_preset(preset, kind)
    if not paths:
        raise InputError("no files given to ingest")
    started = time.perf_counter()
    report = IngestReport(kind=kind, preset=chosen.name, files=[str(p) for p in paths])
    sources = [
        Source(
            p,
            encoding=encoding,
            delimiter=delimiter,
            chunk_rows=chunk_rows,
            hasher=getattr(store, "id_hash", None),  # e-mail ids keyed by the store's secret
        )
        for p in paths
    ]
    plans = []
    for source in sources:
        columns = resolve_columns(source.columns(), chosen, mapping or {}, where=str(source.path))
        plans.append((source, columns))
    rejects = _reject_writer(Path(rejected_csv) if rejected_csv else None)
    try:
        with store.writer() as writer:
            for source, columns in plans:
                before = report.rows_read
                try:
                    _ingest_file(
                        writer,
                        source,
                        columns,
                        chosen,
                        kind,
                        time_format,
                        report,
                        rejects,
                        progress,
                        limits,
                    )
                except DATA_ERRORS as exc:
                    raise InputError(
                        f"{source.path}: cannot be imported, failed after its first "
                        f"{report.rows_read - before:,} rows ({_brief(exc)}); nothing was stored"
                    ) from exc
            report.seconds = time.perf_counter() - started  # the stored report says it too
            writer.record_report(kind, report.files, report.to_dict())
    except BaseException:
        rejects.abort()
        raise
    rejects.commit()
    report.seconds = time.perf_counter() - started
    return report


def _brief(exc: BaseException) -> str:
    """The first line of an error, with its type, short enough for one message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def _reject_writer(path: Path | None) -> RejectWriter:
    """The rejected-rows writer, or an :class:`InputError` if ``path`` cannot be written."""
    if path is not None and path.is_dir():
        raise InputError(f"{path}: is a folder; give a file name for the rejected rows")
    try:
        return RejectWriter(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write the rejected rows ({exc.strerror or exc})") from exc


def _ingest_file(
    writer: StoreWriter,
    source: Source,
    columns: Mapping[str, str],
    preset: Preset,
    kind: str,
    time_format: str | None,
    report: IngestReport,
    rejects: RejectWriter,
    progress: ProgressFn | None,
    limits: Limits | None,
) -> None:
    converter = Converter(preset, time_format, f"{preset.name}:{source.path.name}", limits)
    delimiter = source.delimiter or ","
    file_columns = source.columns()
    mapped = set(columns.values())
    extra = [c for c in file_columns if c not in mapped] if preset.keep_extra else []
    agg = _Aggregates()
    seen_items: set[str] = set()
    name = str(source.path)
    read_before, stored_before = report.rows_read, report.stored
    total_rows: list[int | None] = [None]

    def counted(done: int, total: int) -> None:  # rows for Parquet; bytes (not shown) otherwise
        if source.format == "parquet":
            total_rows[0] = total

    def tick(stage: str) -> None:
        if progress is not None:
            read, stored = report.rows_read - read_before, report.stored - stored_before
            progress(FileProgress(name, read, stored, total_rows[0], stage))

    def store(fresh: pl.DataFrame, events: pl.DataFrame) -> EventWrite:
        if fresh.height:
            writer.upsert_items(fresh, fill_only=True)
        return writer.add_events(events)

    def stored(pending: Future[EventWrite] | None) -> None:
        if pending is None:
            return
        tick("storing")
        result = pending.result()
        report.stored += result.stored
        report.duplicates += result.duplicates
        report.identities_linked += result.linked
        report.rejected.update(result.refused)  # an erased customer's rows
        report.repaired.update(result.anonymised)  # the collection rule's rows

    # Events of one chunk are stored on a second thread while the next chunk is read and
    # checked: the store's writes (SQLite steps, PostgreSQL round trips) and polars' work
    # release the interpreter lock, so the two overlap. Writes keep their order (one thread);
    # the with-block waits for the last one, so a failure rolls back only after it.
    pending: Future[EventWrite] | None = None
    tick("reading")
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="storewise-store") as storing:
        for chunk in source.chunks(counted if progress is not None else None):
            report.rows_read += chunk.frame.height + len(chunk.bad)
            tick("checking")
            for bad in chunk.bad:
                report.rejected[_short_reason(bad)] += 1
            if kind in ("orders", "events"):
                raw = _select_canonical(chunk, columns, _EVENT_WANTED)
                events, bad_rows, repairs, notes = converter.events(raw)
                report.repaired.update(repairs)
                report.notes.update(notes)
                codes = (
                    events.filter(pl.col("item_id").is_not_null())
                    .group_by("item_id")
                    .agg(pl.col("is_product").all())
                )
                fresh = codes.filter(~pl.col("item_id").is_in(list(seen_items)))
                seen_items.update(fresh["item_id"].to_list())
                stored(pending)
                pending = storing.submit(store, fresh, events)
                _aggregate(agg, events)
            elif kind == "items":
                raw = _select_canonical(chunk, columns, list(preset.columns))
                raw = raw.with_columns(_attributes(chunk.frame, extra)) if extra else raw
                items, bad_rows, repairs = converter.items(raw)
                report.repaired.update(repairs)
                tick("storing")
                unique = items.unique("item_id", keep="last")
                report.duplicates += items.height - unique.height
                report.items_upserted += writer.upsert_items(unique)
                report.stored += unique.height
            else:
                raw = _select_canonical(chunk, columns, list(preset.columns))
                raw = raw.with_columns(_attributes(chunk.frame, extra)) if extra else raw
                profiles, consents, bad_rows, repairs = converter.customers(raw)
                report.repaired.update(repairs)
                tick("storing")
                unique = profiles.unique("customer_id", keep="last")
                report.duplicates += profiles.height - unique.height
                report.customers_upserted += writer.upsert_customers(unique)
                report.stored += unique.height
                report.consents_recorded += writer.set_consents(consents)
            for reason, count in bad_rows.group_by("_reason").len().rows():
                report.rejected[reason] += count
            rejects.write(name, _read_rejects(chunk, bad_rows, delimiter, file_columns))
            tick("reading")
        stored(pending)
    if kind in ("orders", "events"):
        tick("summarising")
        _write_aggregates(writer, agg, report)
    tick("done")


def _short_reason(bad: BadRow) -> str:
    """Group malformed-line reasons by kind (the counts) while the CSV keeps the detail."""
    return bad.reason.split(" (")[0] if bad.reason.startswith("wrong field count") else bad.reason


def _write_aggregates(writer: StoreWriter, agg: _Aggregates, report: IngestReport) -> None:
    titles = _most_frequent(agg.titles)
    several = len({k for k, _ in agg.titles}) - 0
    multi = sum(1 for n in Counter(k for k, _ in agg.titles).values() if n > 1)
    if multi:
        report.notes["item with several descriptions: title = most frequent one"] = multi
    del several
    categories = _most_frequent(agg.categories)
    ids = sorted(set(titles) | set(categories) | set(agg.prices))
    if ids:
        items = pl.DataFrame(
            {
                "item_id": ids,
                "title": [titles.get(i) for i in ids],
                "category": [categories.get(i) for i in ids],
                "price": [agg.prices[i][1] if i in agg.prices else None for i in ids],
            },
            schema={"item_id": pl.Utf8, "title": pl.Utf8, "category": pl.Utf8, "price": pl.Float64},
        )
        report.items_upserted += writer.upsert_items(items, fill_only=True)
    countries = _most_frequent(agg.countries)
    if countries:
        profiles = pl.DataFrame(
            {"customer_id": list(countries), "country": list(countries.values())},
            schema={"customer_id": pl.Utf8, "country": pl.Utf8},
        )
        report.customers_upserted += writer.upsert_customers(profiles, fill_only=True)
