"""Row validation and repair rules, vectorised with polars, and the :class:`IngestReport`.

Every input row ends in exactly one of three places: stored, a duplicate of something stored,
or rejected with one reason. Repairs (a change made so a row could be stored) are counted
by reason on top; notes count classifications that changed nothing in the row.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from storewise.schema import EVENT_TYPE_ALIASES, EVENT_TYPES, MAX_FUTURE_SECONDS, MIN_TIMESTAMP

MAX_ID_LENGTH = 200

#: Timestamp layouts tried in order; ``T`` is normalised to a space and ``Z`` to ``+00:00``.
AWARE_FORMATS = ("%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%z")
NAIVE_FORMATS = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%d")

TRUE_WORDS = ("true", "t", "yes", "y", "1", "in stock", "instock", "available")
FALSE_WORDS = ("false", "f", "no", "n", "0", "out of stock", "outofstock", "unavailable")


@dataclass
class IngestReport:
    """What an import did with every row it read."""

    kind: str
    preset: str
    files: list[str] = field(default_factory=list)
    rows_read: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    repaired: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)
    items_upserted: int = 0
    customers_upserted: int = 0
    consents_recorded: int = 0
    identities_linked: int = 0
    seconds: float = 0.0

    @property
    def rejected_total(self) -> int:
        """Rows rejected for any reason."""
        return sum(self.rejected.values())

    @property
    def accounted(self) -> bool:
        """True when stored + duplicates + rejected equals the rows read."""
        return self.stored + self.duplicates + self.rejected_total == self.rows_read

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, the shape of ``--report-json``."""
        return {
            "kind": self.kind,
            "preset": self.preset,
            "files": self.files,
            "rows_read": self.rows_read,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": dict(self.rejected.most_common()),
            "rejected_total": self.rejected_total,
            "repaired": dict(self.repaired.most_common()),
            "notes": dict(self.notes.most_common()),
            "items_upserted": self.items_upserted,
            "customers_upserted": self.customers_upserted,
            "consents_recorded": self.consents_recorded,
            "identities_linked": self.identities_linked,
            "seconds": round(self.seconds, 3),
            "accounted": self.accounted,
        }


@dataclass
class Checked:
    """A chunk after validation: rows to keep, and rejected rows with line and reason."""

    good: pl.DataFrame
    rejected: pl.DataFrame  # columns: _line, _reason (+ raw columns)
    repaired: Counter[str] = field(default_factory=Counter)


class Rules:
    """Collects reject rules (first match wins) and applies them to a frame in one pass."""

    def __init__(self) -> None:
        self._rules: list[tuple[str, pl.Expr]] = []

    def reject(self, reason: str, when: pl.Expr) -> None:
        """Reject rows where ``when`` is true, unless an earlier rule already rejected them."""
        self._rules.append((reason, when))

    def split(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(good rows, rejected rows with a ``_reason`` column)."""
        if not self._rules:
            return frame, frame.clear().with_columns(pl.lit(None, pl.Utf8).alias("_reason"))
        chain: Any = pl
        for reason, when in self._rules:
            chain = chain.when(when.fill_null(False)).then(pl.lit(reason))
        reasons = frame.with_columns(chain.otherwise(pl.lit(None, pl.Utf8)).alias("_reason"))
        bad = reasons.filter(pl.col("_reason").is_not_null())
        good = reasons.filter(pl.col("_reason").is_null()).drop("_reason")
        return good, bad


def trimmed(column: str) -> pl.Expr:
    """The column as stripped text, empty strings as null."""
    text = pl.col(column).cast(pl.Utf8).str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text)


def parse_number(column: str) -> pl.Expr:
    """Parse decimal text (a comma as decimal mark accepted when there is no dot)."""
    text = trimmed(column)
    text = (
        pl.when(text.str.contains(",") & ~text.str.contains(r"\."))
        .then(text.str.replace(",", "."))
        .otherwise(text.str.replace_all(",", ""))
    )
    return text.cast(pl.Float64, strict=False)


def not_numeric(column: str) -> pl.Expr:
    """True where the column has text that is not a finite number."""
    parsed = parse_number(column)
    return trimmed(column).is_not_null() & (parsed.is_null() | ~parsed.is_finite())


def parse_bool(column: str) -> pl.Expr:
    """Parse yes/no words (true/false, 1/0, in stock/out of stock) to booleans."""
    text = trimmed(column).str.to_lowercase()
    return (
        pl.when(text.is_in(TRUE_WORDS))
        .then(True)
        .when(text.is_in(FALSE_WORDS))
        .then(False)
        .otherwise(None)
    )


def parse_timestamps(values: pl.Series, time_format: str | None = None) -> pl.Series:
    """Epoch milliseconds (UTC) of timestamp text or datetimes; null where unparseable.

    Accepts ISO 8601 (``T`` or space, optional fraction, ``Z`` or offset; naive means UTC),
    ``YYYY-MM-DD``, epoch seconds/milliseconds/microseconds, or an explicit ``time_format``.
    """
    if values.dtype == pl.Datetime or values.dtype == pl.Date:
        moment = values.cast(pl.Datetime("ms")) if values.dtype == pl.Date else values
        if getattr(moment.dtype, "time_zone", None):
            moment = moment.dt.convert_time_zone("UTC")
        return moment.dt.epoch("ms").rename(values.name)
    if values.dtype.is_numeric():
        return _epoch_to_ms(values.cast(pl.Float64))
    text = values.cast(pl.Utf8).str.strip_chars()
    result = pl.Series(values.name, [None] * len(values), dtype=pl.Int64)
    if time_format:
        parsed = text.str.to_datetime(time_format, strict=False, time_unit="ms")
        if parsed.dtype.time_zone:  # type: ignore[attr-defined]
            parsed = parsed.dt.convert_time_zone("UTC")
        return parsed.dt.epoch("ms").rename(values.name)
    normal = text.str.replace(r"[zZ]$", "+00:00").str.replace(r"^(\d{4}-\d\d-\d\d)T", "$1 ")
    for fmt in (*AWARE_FORMATS, *NAIVE_FORMATS):
        todo = result.is_null() & normal.is_not_null()
        if not todo.any():
            break
        parsed = normal.str.to_datetime(fmt, strict=False, time_unit="ms")
        if parsed.dtype.time_zone:  # type: ignore[attr-defined]
            parsed = parsed.dt.convert_time_zone("UTC")
        result = result.fill_null(parsed.dt.epoch("ms"))
    todo = result.is_null() & text.str.contains(r"^\d{9,19}(\.\d+)?$")
    if todo.any():
        result = result.fill_null(_epoch_to_ms(text.cast(pl.Float64, strict=False)))
    return result.rename(values.name)


def _epoch_to_ms(numbers: pl.Series) -> pl.Series:
    """Epoch numbers in s, ms, µs or ns (told apart by magnitude) as milliseconds."""
    magnitude = numbers.abs()
    scaled = (
        pl.DataFrame({"n": numbers, "m": magnitude})
        .select(
            pl.when(pl.col("m") < 1e11)
            .then(pl.col("n") * 1000)
            .when(pl.col("m") < 1e14)
            .then(pl.col("n"))
            .when(pl.col("m") < 1e17)
            .then(pl.col("n") / 1000)
            .otherwise(pl.col("n") / 1e6)
        )
        .to_series()
    )
    return scaled.round(0).cast(pl.Int64, strict=False).rename(numbers.name)


def timestamp_bounds(now_ms: int) -> tuple[int, int]:
    """Plausible event times: from 1990 to a day after now."""
    return int(MIN_TIMESTAMP.timestamp() * 1000), now_ms + MAX_FUTURE_SECONDS * 1000


def event_type_expr(column: str, default: str | None) -> pl.Expr:
    """Canonical event type from names like GA4/Segment's, or ``default`` when missing."""
    text = trimmed(column).str.to_lowercase().str.replace_all(r"[\s\-]+", "_")
    mapped = text.replace_strict(EVENT_TYPE_ALIASES, default=text, return_dtype=pl.Utf8)
    return mapped if default is None else mapped.fill_null(pl.lit(default))


def is_known_event_type(expr: pl.Expr) -> pl.Expr:
    """True where the (mapped) event type is one storewise knows."""
    return expr.is_in(EVENT_TYPES)


def normalise_numeric_id(column: str) -> pl.Expr:
    """Ids exported through spreadsheets as floats (``17850.0``) back to ``17850``."""
    text = trimmed(column)
    return text.str.replace(r"^(\d+)\.0+$", "$1")


def stable_ids(frame: pl.DataFrame, columns: Sequence[str], namespace: str) -> pl.Series:
    """Deterministic event ids from a row's content, so re-imports are recognised.

    Exact duplicate rows get the same id and are stored once (counted as duplicates).
    """
    present = [c for c in columns if c in frame.columns]
    keys = frame.select(
        pl.concat_str(
            [pl.lit(namespace), *(pl.col(c).cast(pl.Utf8).fill_null("") for c in present)],
            separator="\x1f",
        )
    ).to_series()
    digests = [hashlib.blake2b(k.encode(), digest_size=16).hexdigest() for k in keys]
    return pl.Series("event_id", digests, dtype=pl.Utf8)


def too_long(*columns: str) -> pl.Expr:
    """True where any of the id columns exceeds the store's id length."""
    checks = [trimmed(c).str.len_chars() > MAX_ID_LENGTH for c in columns]
    return pl.any_horizontal(checks)


def finite_or_null(value: float | None) -> float | None:
    """``value`` unless it is NaN or infinite."""
    return None if value is None or not math.isfinite(value) else value
