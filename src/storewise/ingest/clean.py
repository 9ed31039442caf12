"""Row validation and repair rules, vectorised with polars, and the :class:`IngestReport`.

Every input row ends in exactly one of three places: stored, a duplicate of something stored,
or rejected with one reason. Repairs (a change made so a row could be stored) are counted
by reason on top; notes count classifications that changed nothing in the row.

Each parsing rule also has a row twin (``trim_text``, ``number_of``, ``timestamp_of``,
``numeric_id_of``, ``event_type_of``, ``stable_id``) for small API batches: plain Python for
the common ASCII shapes, and the vectorised rule itself for any other text, so both agree.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from storewise.errors import ConfigError
from storewise.schema import EVENT_TYPE_ALIASES, EVENT_TYPES, MAX_FUTURE_SECONDS, MIN_TIMESTAMP

MAX_ID_LENGTH = 200

#: What ``trimmed`` strips: Unicode White_Space, as polars (Rust) defines it. Python's own
#: ``str.strip()`` would also strip the ASCII separators \x1c-\x1f, so both paths name the set.
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
#: Runs of these in an event name become one ``_`` ("Add to-cart" -> "add_to_cart").
NAME_SEPARATORS = "[" + WHITESPACE + r"\-]+"
#: Separator of the fields hashed into a stable event id.
ID_SEPARATOR = "\x1f"
#: Epoch numbers (s, ms, µs or ns) accepted as timestamps.
EPOCH_TEXT = r"^\d{9,19}(\.\d+)?$"

#: Timestamp layouts tried in order; ``T`` is normalised to a space and ``Z`` to ``+00:00``.
AWARE_FORMATS = ("%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%z")
NAIVE_FORMATS = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%d")

#: Control characters (Unicode category Cc: C0, DEL, C1), refused anywhere in an id. The
#: polars (Rust regex) and Python spellings name the same set.
CONTROL_PATTERN = r"[\x{00}-\x{1F}\x{7F}-\x{9F}]"
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
#: The control characters removed from free text (titles, names, ...): all but tab and line
#: breaks. A NUL would make PostgreSQL refuse the whole import; others garble terminals.
TEXT_CONTROL_PATTERN = r"[\x{00}-\x{08}\x{0B}\x{0C}\x{0E}-\x{1F}\x{7F}-\x{9F}]"
TEXT_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

TRUE_WORDS = ("true", "t", "yes", "y", "1", "in stock", "instock", "available")
FALSE_WORDS = ("false", "f", "no", "n", "0", "out of stock", "outofstock", "unavailable")


@dataclass(frozen=True)
class Limits:
    """Ceilings on imported numbers (settings ``ingest_max_quantity``, ``ingest_max_price``):
    a row beyond one is rejected with a reason, so a typo like 1e20 never becomes revenue."""

    max_quantity: float = 1_000_000.0
    max_price: float = 10_000_000.0

    def __post_init__(self) -> None:
        for name in ("max_quantity", "max_price"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"ingest {name} must be a positive finite number, not {value}")

    @property
    def max_value(self) -> float:
        """The largest line value: the largest quantity at the largest price."""
        return self.max_quantity * self.max_price


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
    text = pl.col(column).cast(pl.Utf8).str.strip_chars(WHITESPACE)
    return pl.when(text == "").then(None).otherwise(text)


def trim_text(value: str | None) -> str | None:
    """Row twin of :func:`trimmed`: stripped text, empty as None."""
    if value is None:
        return None
    return value.strip(WHITESPACE) or None


def cleaned(column: str) -> pl.Expr:
    """The column as free text: control characters but tab and line breaks removed, then
    stripped, empty strings as null."""
    text = (
        pl.col(column)
        .cast(pl.Utf8)
        .str.replace_all(TEXT_CONTROL_PATTERN, "")
        .str.strip_chars(WHITESPACE)
    )
    return pl.when(text == "").then(None).otherwise(text)


def clean_text(value: str | None) -> str | None:
    """Row twin of :func:`cleaned`."""
    if value is None:
        return None
    return TEXT_CONTROL.sub("", value).strip(WHITESPACE) or None


def has_control(column: str) -> pl.Expr:
    """True where the column's stripped text holds a control character (refused in ids)."""
    return trimmed(column).str.contains(CONTROL_PATTERN)


def has_text_control(column: str) -> pl.Expr:
    """True where the column holds a control character :func:`cleaned` removes."""
    return pl.col(column).cast(pl.Utf8).str.contains(TEXT_CONTROL_PATTERN)


def _vectorised(rule: Callable[[str], pl.Expr], value: str | None) -> Any:
    """The vectorised ``rule``'s answer for one text: the row twins' exact fallback."""
    return pl.DataFrame({"v": [value]}, schema={"v": pl.Utf8}).select(rule("v")).item()


def parse_number(column: str) -> pl.Expr:
    """Parse decimal text (a comma as decimal mark accepted when there is no dot)."""
    text = trimmed(column)
    text = (
        pl.when(text.str.contains(",") & ~text.str.contains(r"\."))
        .then(text.str.replace(",", "."))
        .otherwise(text.str.replace_all(",", ""))
    )
    return text.cast(pl.Float64, strict=False)


#: Decimal text the polars cast reads (after the comma rule); other text goes to polars itself.
_DECIMAL = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)", re.IGNORECASE
)


def number_of(value: str | None) -> float | None:
    """Row twin of :func:`parse_number`."""
    text = trim_text(value)
    if text is None:
        return None
    text = text.replace(",", ".", 1) if "," in text and "." not in text else text.replace(",", "")
    if text.isascii() and _DECIMAL.fullmatch(text):  # (IGNORECASE also folds 'ı' to 'i')
        return float(text)
    return _vectorised(parse_number, value)  # type: ignore[no-any-return]


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
    text = values.cast(pl.Utf8).str.strip_chars(WHITESPACE)
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
    todo = result.is_null() & text.str.contains(EPOCH_TEXT).fill_null(False)
    if todo.any():  # only text that looks like an epoch, whatever else the chunk holds
        epoch = _epoch_to_ms(text.cast(pl.Float64, strict=False))
        result = result.zip_with(~todo, epoch)
    return result.rename(values.name)


#: The ISO 8601 shapes read in plain Python: date, date hh:mm, date hh:mm:ss[.f][Z|±hh[:]mm].
_ISO = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[ T]([0-9]{2}):([0-9]{2})"
    r"(?::([0-9]{2})(?:\.([0-9]+))?(?:([zZ])|([+-])([0-9]{2}):?([0-9]{2}))?)?)?"
)
_EPOCH = re.compile(r"[0-9]{9,19}(?:\.[0-9]+)?")
_EPOCH_DAY = date(1970, 1, 1).toordinal()


def timestamp_of(value: str | None, time_format: str | None = None) -> int | None:
    """Row twin of :func:`parse_timestamps` for one text.

    ISO 8601 text of the usual shapes and epoch numbers are read here; anything else (other
    layouts the vectorised reader is lenient about, invalid dates, leap seconds, non-ASCII)
    is handed to :func:`parse_timestamps` itself.
    """
    if value is None:
        return None
    text = value.strip(WHITESPACE)
    if not text:
        return None
    if time_format is None and text.isascii():
        if _EPOCH.fullmatch(text):
            return _epoch_ms(float(text))
        found = _ISO.fullmatch(text)
        if found:
            ms = _iso_ms(found.groups())
            if ms is not None:
                return ms
    parsed = parse_timestamps(pl.Series("t", [value], dtype=pl.Utf8), time_format)[0]
    return None if parsed is None else int(parsed)


def _iso_ms(parts: Sequence[str | None]) -> int | None:
    """Epoch milliseconds of matched ISO parts, or None when polars must decide."""
    year, month, day, hour, minute, second, fraction, _zulu, sign, off_h, off_m = parts
    if sign is not None and (int(off_h or 0) > 23 or int(off_m or 0) > 59):
        return None
    h, m, s = int(hour or 0), int(minute or 0), int(second or 0)
    if h > 23 or m > 59 or s > 59:
        return None
    try:
        days = date(int(year or 0), int(month or 0), int(day or 0)).toordinal() - _EPOCH_DAY
    except ValueError:
        return None
    ms = ((days * 24 + h) * 60 + m) * 60_000 + s * 1000 + int((fraction or "").ljust(3, "0")[:3])
    if sign is not None:
        offset = (int(off_h or 0) * 60 + int(off_m or 0)) * 60_000
        ms -= offset if sign == "+" else -offset
    return ms


def _epoch_ms(number: float) -> int:
    """Row twin of :func:`_epoch_to_ms` (same magnitudes, half-to-even rounding)."""
    magnitude = abs(number)
    if magnitude < 1e11:
        scaled = number * 1000
    elif magnitude < 1e14:
        scaled = number
    elif magnitude < 1e17:
        scaled = number / 1000
    else:
        scaled = number / 1e6
    return round(scaled)


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
    text = trimmed(column).str.to_lowercase().str.replace_all(NAME_SEPARATORS, "_")
    mapped = text.replace_strict(EVENT_TYPE_ALIASES, default=text, return_dtype=pl.Utf8)
    return mapped if default is None else mapped.fill_null(pl.lit(default))


_NAME_SEPARATORS = re.compile(NAME_SEPARATORS)


def event_type_of(value: str | None, default: str | None) -> str | None:
    """Row twin of :func:`event_type_expr` (non-ASCII names are lowercased by polars)."""
    text = trim_text(value)
    if text is None:
        return default
    if not text.isascii():
        return _vectorised(lambda c: event_type_expr(c, default), value)  # type: ignore[no-any-return]
    name = _NAME_SEPARATORS.sub("_", text.lower())
    return EVENT_TYPE_ALIASES.get(name, name)


def is_known_event_type(expr: pl.Expr) -> pl.Expr:
    """True where the (mapped) event type is one storewise knows (a missing one is not)."""
    return expr.is_in(EVENT_TYPES).fill_null(False)


def normalise_numeric_id(column: str) -> pl.Expr:
    """Ids exported through spreadsheets as floats (``17850.0``) back to ``17850``."""
    text = trimmed(column)
    return text.str.replace(r"^(\d+)\.0+$", "$1")


_NUMERIC_ID = re.compile(r"([0-9]+)\.0+")


def numeric_id_of(value: str | None) -> str | None:
    """Row twin of :func:`normalise_numeric_id` (non-ASCII digits are polars' to judge)."""
    text = trim_text(value)
    if text is None:
        return None
    if not text.isascii():
        return _vectorised(normalise_numeric_id, value)  # type: ignore[no-any-return]
    found = _NUMERIC_ID.fullmatch(text)
    return found.group(1) if found else text


def _digest(key: str) -> str:
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def stable_ids(frame: pl.DataFrame, columns: Sequence[str], namespace: str) -> pl.Series:
    """Deterministic event ids from a row's content, so re-imports are recognised.

    Exact duplicate rows get the same id and are stored once (counted as duplicates).
    """
    present = [c for c in columns if c in frame.columns]
    keys = frame.select(
        pl.concat_str(
            [pl.lit(namespace), *(pl.col(c).cast(pl.Utf8).fill_null("") for c in present)],
            separator=ID_SEPARATOR,
        )
    ).to_series()
    blake2b = hashlib.blake2b  # the loop below is _digest, inlined: it runs once per row
    ids = [blake2b(key.encode(), digest_size=16).hexdigest() for key in keys.to_list()]
    return pl.Series("event_id", ids, dtype=pl.Utf8)


def stable_id(namespace: str, values: Sequence[str | None]) -> str:
    """Row twin of :func:`stable_ids`: the id of one row's text values."""
    return _digest(ID_SEPARATOR.join([namespace, *(v if v is not None else "" for v in values)]))


def too_long(*columns: str) -> pl.Expr:
    """True where any of the id columns exceeds the store's id length."""
    checks = [trimmed(c).str.len_chars() > MAX_ID_LENGTH for c in columns]
    return pl.any_horizontal(checks)


def finite_or_null(value: float | None) -> float | None:
    """``value`` unless it is NaN or infinite."""
    return None if value is None or not math.isfinite(value) else value
