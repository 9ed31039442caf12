"""Shop-platform exports, recognised by their header and read as the rows they stand for.

Three exports a shop can download cannot be read one row at a time:

- **Shopify's orders export** (Orders > Export > "Export orders", CSV for Excel, Numbers or
  other spreadsheet programs) has one row per line item and writes an order's own fields
  (e-mail, financial status, dates, cancellation, addresses) on the order's first row only;
  the order's later rows leave them blank. The export has no customer id.
- **WooCommerce Customer / Order / Coupon Export**, format "Default - One Row per Item":
  every row is complete, but the order ``status`` decides whether it is a sale at all, and
  refunds are per line (``item_refunded_qty``, ``item_refunded``).
- **GA4's BigQuery export** (the ``events_YYYYMMDD`` tables, extracted as newline-delimited
  JSON, where 64-bit integers are JSON strings, or as Parquet): one row per event, with the
  products nested in ``items`` and the session and search term in ``event_params``.

:class:`~storewise.ingest.sources.Source` asks :func:`recognise` about a file's columns; a
recognised file's chunks pass through the layout's decoder, which

- keeps what it needs across chunks (a Shopify order whose rows straddle two chunks),
- rejects the rows the platform itself marks as no sale, with the platform's own reason
  (a cancelled order, a failed payment, a GA4 page view that names no product),
- turns a row into the events it stands for (a refunded line: its purchase and its return;
  a GA4 event: one row per product), each output chunk holding a file line at most once,
- adds ``storewise_*`` columns with what the layout implies: a stable event id, the event
  type, time, customer and item of each row.

The platform presets (:mod:`storewise.ingest.presets`) map those columns; other presets see
the platform's own columns and ignore them. ``storewise_event_type`` holds the event type,
optionally followed by ``" | repair: ..."`` or ``" | note: ..."`` parts that the platform
presets count in the report (so a decision taken here is never silent).

A customer known only by an e-mail address (every Shopify order, a WooCommerce guest) gets
:func:`email_key` of it as customer id, never the address itself: ids end up in logs,
recommendation files and API paths.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import polars as pl

from storewise.errors import SchemaError
from storewise.ingest.clean import CONTROL, parse_number, parse_timestamps, trimmed
from storewise.schema import EVENT_TYPE_ALIASES, EVENT_TYPES

#: Separator of the parts of ``storewise_event_type`` (the type, then repairs and notes).
PART = " | "
#: Prefix of the customer ids made from e-mail addresses.
EMAIL_PREFIX = "em_"
#: Namespace hashed in front of an e-mail address (so the id is not the bare SHA-256 of the
#: address that ad platforms use for customer matching).
EMAIL_NAMESPACE = b"storewise customer e-mail\x1f"
#: A refund's date is not in the Shopify or WooCommerce export: its return is dated this long
#: after the purchase, so the return is the line's latest event.
RETURN_DELAY_MS = 1000


def squash(name: str) -> str:
    """A column name compared without case, spaces, underscores, dashes or dots."""
    return re.sub(r"[\s_\-.]+", "", name.strip().lower())


def shown_columns(names: Sequence[str], most: int = 30) -> str:
    """Column names as a message shows them: control characters as ``?``, each at most 40
    characters, at most ``most`` of them (a binary header would flood the terminal)."""
    cut = [CONTROL.sub("?", n[:40]) + ("..." if len(n) > 40 else "") for n in names[:most]]
    return ", ".join(cut) + (f", ... ({len(names) - most} more)" if len(names) > most else "")


#: Turns a normalised e-mail address into the hex digest an id is cut from (the store's keyed
#: hash in an import; a plain SHA-256 where no store is at hand, e.g. this module's examples).
EmailHasher = Callable[[str], str]


def _plain_hash(text: str) -> str:
    return hashlib.sha256(EMAIL_NAMESPACE + text.encode("utf-8", "surrogatepass")).hexdigest()


def email_key(email: str, hasher: EmailHasher | None = None) -> str:
    """The customer id of an e-mail address: ``em_`` and 24 hex digits of a hash of the
    trimmed, lower-cased address.

    The same address always gives the same id in one store (orders of one customer join up
    across files and platforms), and the address itself is never stored as an id. An import
    hashes with the store's secret key (``Store.id_hash``), so an id cannot be tested against
    a guessed address by anyone without the store; ``storewise customers find --email`` finds
    a customer's id for an access or erasure request.

    >>> email_key(" Ada@Example.com ") == email_key("ada@example.com")
    True
    >>> email_key("ada@example.com").startswith("em_"), len(email_key("x@y.z"))
    (True, 27)
    """
    normal = email.strip().lower()
    digest = (hasher or _plain_hash)("email\x1f" + normal if hasher else normal)
    return EMAIL_PREFIX + digest[:24]


def email_keys(values: pl.Series, hasher: EmailHasher | None = None) -> pl.Series:
    """:func:`email_key` of each non-blank text of a column (null stays null)."""
    text = values.cast(pl.Utf8).str.strip_chars()
    distinct = [v for v in text.unique().to_list() if v]
    keys = {v: email_key(v, hasher) for v in distinct}
    return text.replace_strict(keys, default=None, return_dtype=pl.Utf8).rename(values.name)


def event_id(*parts: object) -> str:
    """A stable event id from the parts that identify an event in its export."""
    key = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _event_ids(frame: pl.DataFrame, namespace: str, columns: Sequence[str]) -> pl.Series:
    keys = frame.select(
        pl.concat_str(
            [pl.lit(namespace), *(pl.col(c).cast(pl.Utf8).fill_null("") for c in columns)],
            separator="\x1f",
        )
    ).to_series()
    digests = [
        hashlib.blake2b(k.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        for k in keys
    ]
    return pl.Series("storewise_event_id", digests, dtype=pl.Utf8)


def _iso(ms: pl.Expr) -> pl.Expr:
    """Epoch milliseconds as ISO 8601 UTC text, the form every timestamp reader accepts."""
    return pl.from_epoch(ms, time_unit="ms").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")


@dataclass
class Piece:
    """Decoded rows (each file line at most once, lines ascending) and the rows rejected
    while decoding, as (line, reason, raw text)."""

    frame: pl.DataFrame
    lines: np.ndarray
    rejected: list[tuple[int, str, str]] = field(default_factory=list)


class Decoder(Protocol):
    """Reads the chunks of one file in order."""

    def decode(self, frame: pl.DataFrame, lines: np.ndarray) -> list[Piece]:
        """The pieces a chunk of the file's own columns (all text) stands for."""
        ...

    def finish(self) -> list[Piece]:
        """Pieces still held back once the file has ended (none for these layouts)."""
        ...


@dataclass(frozen=True)
class Layout:
    """One platform export: how to recognise it, what it needs, what it adds."""

    name: str
    title: str
    formats: tuple[str, ...]
    #: Columns that together tell this export apart from any other file.
    signature: tuple[str, ...]
    #: Columns without which its rows cannot be read.
    required: tuple[str, ...]
    #: Columns used when present.
    optional: tuple[str, ...]
    #: Columns the decoder adds, whatever the file has.
    adds: tuple[str, ...]
    decoder: Callable[[Mapping[str, str], list[str], str, EmailHasher | None], Decoder]
    #: Columns of the decoded rows, from the file's own (None: the file's own plus ``adds``).
    decoded: Callable[[Mapping[str, str]], list[str]] | None = None

    def names(self, columns: Iterable[str]) -> dict[str, str]:
        """The export's documented column names found in ``columns`` (matched without case,
        spaces or underscores), mapped to the file's own spelling."""
        by_squash: dict[str, str] = {}
        for column in columns:
            by_squash.setdefault(squash(column), column)
        wanted = (*self.signature, *self.required, *self.optional)
        return {n: by_squash[squash(n)] for n in wanted if squash(n) in by_squash}

    def recognises(self, columns: Sequence[str], file_format: str) -> bool:
        """Whether a file of this format with these columns is this export."""
        found = self.names(columns)
        return file_format in self.formats and all(n in found for n in self.signature)

    def missing(self, columns: Sequence[str]) -> list[str]:
        """The signature and required columns a file lacks."""
        found = self.names(columns)
        return [n for n in dict.fromkeys((*self.signature, *self.required)) if n not in found]

    def decoded_from(self, columns: Sequence[str]) -> bool:
        """Whether ``columns`` are those of rows this layout decoded."""
        found = self.names(columns)
        return all(a in columns for a in self.adds) and all(
            s in found for s in self.signature if s in self.required
        )

    def columns(self, columns: Sequence[str], where: str) -> list[str]:
        """The columns of the decoded rows; a required column missing is a :class:`SchemaError`
        naming the file and the column."""
        missing = self.missing(columns)
        if missing:
            raise SchemaError(
                f"{where}: a {self.title} needs the column"
                f"{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)}, "
                f"which the file lacks (file columns: {shown_columns(columns)}); "
                "export it again with all columns",
                details={"file": where, "missing": missing, "layout": self.name},
            )
        names = self.names(columns)
        if self.decoded is not None:
            return self.decoded(names)
        return [*columns, *(a for a in self.adds if a not in columns)]


def _raw_text(frame: pl.DataFrame, columns: Sequence[str], delimiter: str) -> list[str]:
    """Each row's own values joined by the delimiter, as the rejected-rows file keeps them."""
    if frame.height == 0:
        return []
    if not columns:
        return [""] * frame.height
    return (
        frame.select(
            pl.concat_str(
                [pl.col(c).cast(pl.Utf8).fill_null("") for c in columns], separator=delimiter
            )
        )
        .to_series()
        .to_list()
    )


def _split(frame: pl.DataFrame, columns: Sequence[str]) -> list[Piece]:
    """Rows (with ``_line`` and ``_copy``: 0 for a row as read, 1 for its added copy) as one
    piece per copy number, so no piece holds a line twice."""
    pieces = []
    for copy in sorted(set(frame["_copy"].to_list())) or [0]:
        part = frame.filter(pl.col("_copy") == copy).sort("_line", maintain_order=True)
        pieces.append(Piece(part.select(columns), part["_line"].to_numpy().astype(np.int64)))
    return pieces


def _empty(columns: Sequence[str]) -> Piece:
    return Piece(pl.DataFrame(schema=dict.fromkeys(columns, pl.Utf8)), np.empty(0, np.int64))


def _notes(parts: Sequence[tuple[pl.Expr, str]]) -> pl.Expr:
    """The ``" | "``-joined texts whose condition holds on a row (empty text when none)."""
    if not parts:
        return pl.lit("")
    return pl.concat_str(
        [
            pl.when(when.fill_null(False)).then(pl.lit(PART + text)).otherwise(pl.lit(""))
            for when, text in parts
        ]
    )


def _first_reason(rules: Sequence[tuple[pl.Expr, str]]) -> pl.Expr:
    chain: Any = pl
    for when, reason in rules:
        chain = chain.when(when.fill_null(False)).then(pl.lit(reason))
    return chain.otherwise(pl.lit(None, pl.Utf8)) if rules else pl.lit(None, pl.Utf8)


# ------------------------------------------------------------------------------ Shopify

SHOPIFY_STORED = (
    "storewise_event_id",
    "storewise_event_type",
    "storewise_time",
    "storewise_customer_id",
    "storewise_anonymous_id",
    "storewise_item_id",
    "storewise_value",
)
#: Order fields Shopify writes on an order's first row only, filled into its later rows.
SHOPIFY_ORDER_FIELDS = (
    "Email",
    "Financial Status",
    "Paid at",
    "Created at",
    "Cancelled at",
    "Billing Country",
    "Shipping Country",
    "Refunded Amount",
    "Currency",
    "Id",
)
#: Financial statuses that are no sale: the row is rejected with this reason.
SHOPIFY_NO_SALE = {
    "voided": "payment voided (Financial Status voided)",
    "expired": "payment expired (Financial Status expired)",
}
#: Financial statuses kept as purchases with a note in the report.
SHOPIFY_NOTED = {
    "pending": "payment pending (Financial Status pending): kept as a purchase",
    "authorized": "payment authorized, not captured yet: kept as a purchase",
    "partially_paid": "order partially paid: kept as a purchase",
    "partially_refunded": (
        "order partially refunded: the export does not say which lines, all kept as purchases"
    ),
}
SHOPIFY_STATUSES = ("paid", "refunded", *SHOPIFY_NO_SALE, *SHOPIFY_NOTED)


class ShopifyOrders:
    """Decoder of Shopify's orders export (see the module docstring)."""

    def __init__(
        self,
        names: Mapping[str, str],
        columns: list[str],
        delimiter: str,
        hasher: EmailHasher | None = None,
    ) -> None:
        self.hasher = hasher
        self.n = names
        self.columns = columns
        self.out = [*columns, *(c for c in SHOPIFY_STORED if c not in columns)]
        self.delimiter = delimiter
        self.fill = [names[c] for c in SHOPIFY_ORDER_FIELDS if c in names]
        #: The last row read: its order name, position in the order and order fields.
        self.carry: dict[str, Any] | None = None

    def _col(self, name: str) -> pl.Expr:
        column = self.n.get(name)
        return trimmed(column) if column is not None else pl.lit(None, pl.Utf8)

    def _filled(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Order fields filled from the order's first row (kept across chunks); ``_position``
        is a row's place among its order's lines."""
        order = pl.col(self.n["Name"])
        carry = self.carry
        continuing = carry is not None and frame[self.n["Name"]][0] == carry["name"]
        frame = frame.with_columns(
            (order != order.shift(1)).fill_null(True).cum_sum().alias("_run")
        )
        first = pl.col("_run") == 1
        fills = []
        for column in self.fill:
            expr = pl.col(column).forward_fill().over("_run")
            if continuing and carry is not None and carry["fields"].get(column) is not None:
                expr = (
                    pl.when(first)
                    .then(expr.fill_null(pl.lit(carry["fields"][column])))
                    .otherwise(expr)
                )
            fills.append(expr.alias(column))
        offset = carry["position"] + 1 if continuing and carry is not None else 0
        position = pl.int_range(pl.len()).over("_run") + pl.when(first).then(offset).otherwise(0)
        frame = frame.with_columns(*fills, position.alias("_position"))
        last = frame.row(frame.height - 1, named=True)
        self.carry = {
            "name": last[self.n["Name"]],
            "position": last["_position"],
            "fields": {c: last[c] for c in self.fill},
        }
        return frame

    def decode(self, frame: pl.DataFrame, lines: np.ndarray) -> list[Piece]:
        """Fill, reject, key and (for refunded orders) double the rows of one chunk."""
        if frame.height == 0:
            return [_empty(self.out)]
        original = frame.with_columns(pl.Series("_line", lines))
        frame = self._filled(original)
        status = self._col("Financial Status").str.to_lowercase()
        reason = _first_reason(
            [
                (
                    self._col("Cancelled at").is_not_null(),
                    "cancelled order (its Cancelled at is set)",
                ),
                *((status == s, text) for s, text in SHOPIFY_NO_SALE.items()),
            ]
        )
        frame = frame.with_columns(reason.alias("_reason"))
        bad = original.filter(frame["_reason"].is_not_null())
        rejected = list(
            zip(
                bad["_line"].to_list(),
                frame.filter(pl.col("_reason").is_not_null())["_reason"].to_list(),
                _raw_text(bad, self.columns, self.delimiter),
                strict=True,
            )
        )
        kept = frame.filter(pl.col("_reason").is_null())
        if kept.height == 0:
            return [Piece(_empty(self.out).frame, np.empty(0, np.int64), rejected)]
        email = self._col("Email")
        sku = self._col("Lineitem sku")
        created = parse_timestamps(kept[self.n["Created at"]])
        repairs = [
            (sku.is_null(), "repair: no Lineitem sku: item keyed by its Lineitem name"),
            (email.is_null(), "repair: no Email: stored as a guest keyed by its order Name"),
        ]
        notes = [
            *((status == s, "note: " + text) for s, text in SHOPIFY_NOTED.items()),
            (
                ~status.is_in(SHOPIFY_STATUSES).fill_null(False),
                "note: Financial Status missing or not one of Shopify's: kept as a purchase",
            ),
        ]
        quantity = parse_number(self.n["Lineitem quantity"])
        price = parse_number(self.n["Lineitem price"])
        discount = (
            parse_number(self.n["Lineitem discount"]).fill_null(0.0)
            if "Lineitem discount" in self.n
            else pl.lit(0.0)
        )
        kept = kept.with_columns(
            pl.Series("_ms", created),
            pl.when(email.is_not_null())
            .then(pl.Series(email_keys(kept.select(email.alias("e")).to_series(), self.hasher)))
            .alias("storewise_customer_id"),
            pl.when(email.is_null())
            .then(pl.lit("guest-order-") + self._col("Name"))
            .alias("storewise_anonymous_id"),
            pl.coalesce(sku, self._col("Lineitem name")).alias("storewise_item_id"),
            (quantity * price - discount).cast(pl.Utf8).alias("storewise_value"),
            _notes(repairs).alias("_repairs"),
            _notes(notes).alias("_notes"),
            (status == "refunded").fill_null(False).alias("_refunded"),
        )
        time = pl.when(pl.col("_ms").is_not_null()).then(_iso(pl.col("_ms")))
        purchases = kept.with_columns(
            pl.lit(0).alias("_copy"),
            (pl.lit("purchase") + pl.col("_repairs") + pl.col("_notes")).alias(
                "storewise_event_type"
            ),
            time.otherwise(pl.col(self.n["Created at"])).alias("storewise_time"),
        )
        returns = kept.filter(pl.col("_refunded")).with_columns(
            pl.lit(1).alias("_copy"),
            (
                pl.lit("return")
                + pl.col("_repairs")
                + pl.lit(
                    PART
                    + "note: refund date not in the export: return dated just after its purchase"
                )
            ).alias("storewise_event_type"),
            pl.when(pl.col("_ms").is_not_null())
            .then(_iso(pl.col("_ms") + RETURN_DELAY_MS))
            .otherwise(pl.col(self.n["Created at"]))
            .alias("storewise_time"),
        )
        both = pl.concat([purchases, returns], how="vertical_relaxed")
        ids = _event_ids(
            both.with_columns(
                pl.when(pl.col("_copy") == 1)
                .then(pl.lit("return"))
                .otherwise(pl.lit("purchase"))
                .alias("_kind")
            ),
            "shopify",
            [self.n["Name"], "_position", "_kind"],
        )
        both = both.with_columns(ids)
        pieces = _split(both, self.out)
        pieces[0].rejected = rejected
        return pieces

    def finish(self) -> list[Piece]:
        """Nothing is held back: an order's rows are complete once filled."""
        return []


# --------------------------------------------------------------------------- WooCommerce

WOO_STORED = (
    "storewise_event_id",
    "storewise_event_type",
    "storewise_time",
    "storewise_customer_id",
    "storewise_anonymous_id",
    "storewise_item_id",
    "storewise_quantity",
    "storewise_price",
    "storewise_value",
)
#: Order statuses that are no sale: the row is rejected with this reason.
WOO_NO_SALE = {
    "cancelled": "cancelled order (status cancelled)",
    "failed": "failed payment (status failed)",
    "pending": "awaiting payment, never paid (status pending)",
    "on-hold": "on hold, not paid yet (status on-hold)",
    "checkout-draft": "checkout never completed (status checkout-draft)",
    "trash": "order in the trash (status trash)",
}
WOO_SALE = ("completed", "processing", "refunded")


class WooOrders:
    """Decoder of the WooCommerce Customer / Order / Coupon Export, Default - One Row per
    Item (see the module docstring)."""

    def __init__(
        self,
        names: Mapping[str, str],
        columns: list[str],
        delimiter: str,
        hasher: EmailHasher | None = None,
    ) -> None:
        self.hasher = hasher
        self.n = names
        self.columns = columns
        self.out = [*columns, *(c for c in WOO_STORED if c not in columns)]
        self.delimiter = delimiter

    def _col(self, name: str) -> pl.Expr:
        column = self.n.get(name)
        return trimmed(column) if column is not None else pl.lit(None, pl.Utf8)

    def _number(self, name: str) -> pl.Expr:
        column = self.n.get(name)
        return parse_number(column) if column is not None else pl.lit(None, pl.Float64)

    def decode(self, frame: pl.DataFrame, lines: np.ndarray) -> list[Piece]:
        """Reject, key and (for refunds) double the rows of one chunk."""
        if frame.height == 0:
            return [_empty(self.out)]
        frame = frame.with_columns(pl.Series("_line", lines))
        status = self._col("status").str.to_lowercase().str.strip_prefix("wc-")
        reason = _first_reason([(status == s, text) for s, text in WOO_NO_SALE.items()])
        frame = frame.with_columns(reason.alias("_reason"), status.alias("_status"))
        bad = frame.filter(pl.col("_reason").is_not_null())
        rejected = list(
            zip(
                bad["_line"].to_list(),
                bad["_reason"].to_list(),
                _raw_text(bad, self.columns, self.delimiter),
                strict=True,
            )
        )
        kept = frame.filter(pl.col("_reason").is_null())
        if kept.height == 0:
            return [Piece(_empty(self.out).frame, np.empty(0, np.int64), rejected)]
        account = self._col("customer_id").str.replace(r"^0+(\.0*)?$", "")
        account = pl.when(account == "").then(None).otherwise(account)
        email = self._col("billing_email")
        product = self._col("item_product_id")
        product = (
            pl.when(product.str.contains(r"^0+$").fill_null(False)).then(None).otherwise(product)
        )
        sku, name = self._col("item_sku"), self._col("item_name")
        quantity = self._number("item_quantity")
        refunded_qty = self._number("item_refunded_qty").abs().fill_null(0.0)
        refunded_amount = self._number("item_refunded").abs().fill_null(0.0)
        created = parse_timestamps(kept[self.n["date"]])
        guest_email = account.is_null() & email.is_not_null()
        repairs = [
            (guest_email, "repair: guest order: customer keyed by its billing e-mail"),
            (
                account.is_null() & email.is_null(),
                "repair: guest order without e-mail: stored as a guest keyed by its order_id",
            ),
            (
                product.is_null() & sku.is_not_null(),
                "repair: no item_product_id: item keyed by its SKU",
            ),
            (
                product.is_null() & sku.is_null(),
                "repair: no item_product_id or SKU: item keyed by its name",
            ),
        ]
        notes = [
            (
                ~pl.col("_status").is_in(WOO_SALE).fill_null(False),
                "note: custom order status: kept as a purchase",
            ),
            (
                (pl.col("_status") != "refunded") & (refunded_qty == 0) & (refunded_amount > 0),
                "note: an amount refunded without items: kept as a purchase",
            ),
        ]
        keyed = kept.select(pl.when(guest_email).then(email).alias("e")).to_series()
        kept = kept.with_columns(
            pl.Series("_ms", created),
            pl.coalesce(account, pl.Series(email_keys(keyed, self.hasher))).alias(
                "storewise_customer_id"
            ),
            pl.when(account.is_null() & email.is_null())
            .then(pl.lit("guest-order-") + self._col("order_id"))
            .alias("storewise_anonymous_id"),
            pl.coalesce(product, sku, name).alias("storewise_item_id"),
            pl.when(quantity > 0)
            .then(self._number("item_subtotal") / quantity)
            .cast(pl.Utf8)
            .alias("storewise_price"),
            _notes(repairs).alias("_repairs"),
            _notes(notes).alias("_notes"),
            pl.when(pl.col("_status") == "refunded")
            .then(quantity.abs())
            .when(refunded_qty > 0)
            .then(refunded_qty)
            .alias("_return_qty"),
            pl.when(pl.col("_status") == "refunded")
            .then(pl.coalesce(self._number("item_total"), pl.lit(None, pl.Float64)))
            .when(refunded_qty > 0)
            .then(refunded_amount)
            .alias("_return_value"),
        )
        time = pl.when(pl.col("_ms").is_not_null()).then(_iso(pl.col("_ms")))
        purchases = kept.with_columns(
            pl.lit(0).alias("_copy"),
            (pl.lit("purchase") + pl.col("_repairs") + pl.col("_notes")).alias(
                "storewise_event_type"
            ),
            time.otherwise(pl.col(self.n["date"])).alias("storewise_time"),
            pl.col(self.n["item_quantity"]).alias("storewise_quantity"),
            pl.col(self.n["item_total"]).alias("storewise_value"),
        )
        returns = kept.filter(pl.col("_return_qty").is_not_null()).with_columns(
            pl.lit(1).alias("_copy"),
            (
                pl.lit("return")
                + pl.col("_repairs")
                + pl.lit(
                    PART
                    + "note: refund date not in the export: return dated just after its purchase"
                )
            ).alias("storewise_event_type"),
            pl.when(pl.col("_ms").is_not_null())
            .then(_iso(pl.col("_ms") + RETURN_DELAY_MS))
            .otherwise(pl.col(self.n["date"]))
            .alias("storewise_time"),
            pl.col("_return_qty").cast(pl.Utf8).alias("storewise_quantity"),
            pl.col("_return_value").cast(pl.Utf8).alias("storewise_value"),
        )
        both = pl.concat([purchases, returns], how="vertical_relaxed").with_columns(
            pl.when(pl.col("_copy") == 1)
            .then(pl.lit("return"))
            .otherwise(pl.lit("purchase"))
            .alias("_kind"),
            pl.int_range(pl.len()).over(self.n["order_id"]).alias("_position"),
        )
        line = self.n.get("item_id")
        ids = _event_ids(
            both,
            "woocommerce",
            [self.n["order_id"], line if line is not None else "_position", "_kind"],
        )
        pieces = _split(both.with_columns(ids), self.out)
        pieces[0].rejected = rejected
        return pieces

    def finish(self) -> list[Piece]:
        """Nothing is held back: every row is complete."""
        return []


# ----------------------------------------------------------------------------------- GA4

#: Top-level GA4 columns passed through as they are.
GA4_SCALARS = (
    "event_date",
    "event_timestamp",
    "event_name",
    "event_bundle_sequence_id",
    "batch_event_index",
    "user_id",
    "user_pseudo_id",
    "stream_id",
    "platform",
)
#: Fields of each ``items`` entry, as columns of the row it becomes.
GA4_ITEM_FIELDS = (
    "item_id",
    "item_name",
    "item_brand",
    "item_variant",
    "item_category",
    "price",
    "quantity",
)
#: ``event_params`` keys taken as columns.
GA4_PARAMS = ("ga_session_id", "search_term")
GA4_ADDED = ("storewise_event_id",)
#: GA4's automatically collected, enhanced-measurement and recommended event names: one
#: reason each when they carry no product; any other name is a custom event.
GA4_KNOWN = frozenset(
    {
        "add_payment_info", "add_shipping_info", "add_to_cart", "add_to_wishlist",
        "begin_checkout", "click", "file_download", "first_open", "first_visit",
        "form_start", "form_submit", "generate_lead", "login", "page_view", "purchase",
        "refund", "remove_from_cart", "screen_view", "scroll", "search", "select_content",
        "select_item", "select_promotion", "session_start", "share", "sign_up",
        "user_engagement", "video_complete", "video_progress", "video_start",
        "view_cart", "view_item", "view_item_list", "view_promotion",
        "view_search_results",
    }
)  # fmt: skip
#: What GA4 writes where a value is unknown.
NOT_SET = "(not set)"


def _ga4_decoded(names: Mapping[str, str]) -> list[str]:
    """The columns of decoded GA4 rows, given the export's columns present."""
    out = [s for s in GA4_SCALARS if s in names]
    if "event_params" in names:
        out.extend(GA4_PARAMS)
    if "ecommerce" in names:
        out.append("transaction_id")
    if "items" in names:
        out.extend(GA4_ITEM_FIELDS)
    if "geo" in names:
        out.append("geo.country")
    return [*out, *GA4_ADDED]


def _text(value: Any) -> str | None:
    """A GA4 value as text: numbers as written (integers without a fraction), ``(not set)``
    and empty text as None."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = str(value).strip()
    return None if text in ("", NOT_SET) else text


def _parsed(text: Any) -> Any:
    """A nested GA4 field as the reader hands it over (JSON text), as Python values."""
    if text is None or isinstance(text, dict | list):
        return text
    try:
        return json.loads(str(text))
    except (ValueError, RecursionError):
        return None


def _param(value: Any) -> str | None:
    """The value of one ``event_params`` entry: the first of its string, int, float and
    double values that is set."""
    if not isinstance(value, dict):
        return None
    for key in ("string_value", "int_value", "float_value", "double_value"):
        found = _text(value.get(key))
        if found is not None:
            return found
    return None


class GA4Events:
    """Decoder of GA4's BigQuery export (see the module docstring)."""

    def __init__(
        self,
        names: Mapping[str, str],
        columns: list[str],
        delimiter: str,
        hasher: EmailHasher | None = None,
    ) -> None:
        self.hasher = hasher
        self.n = names
        self.columns = columns
        self.out = _ga4_decoded(names)
        self.delimiter = delimiter

    def _skip(self, name: str | None, kind: str | None) -> str:
        """Why an event without a product to import is not imported."""
        if name is None:
            return "GA4 event without event_name: not imported"
        shown = name if name in GA4_KNOWN else None
        if kind not in EVENT_TYPES:
            what = f"GA4 {shown} event" if shown else "custom GA4 event"
            return f"{what}: no storewise event type, not imported"
        if name == "refund":
            return "GA4 refund without items (a whole-order refund names no products): not imported"
        what = f"GA4 {shown} event" if shown else "custom GA4 event"
        return f"{what} names no product: not imported"

    def decode(self, frame: pl.DataFrame, lines: np.ndarray) -> list[Piece]:
        """One row per product of each event (a search: one row), other events rejected."""
        n = self.n
        rows: list[dict[str, Any]] = []
        rejected: list[tuple[int, str, str]] = []
        raws = _raw_text(frame, self.columns, self.delimiter)
        for index, record in enumerate(frame.iter_rows(named=True)):
            line = int(lines[index])
            name = _text(record.get(n["event_name"]))
            kind = None if name is None else EVENT_TYPE_ALIASES.get(name.lower(), name.lower())
            base = {s: _text(record.get(n[s])) for s in GA4_SCALARS if s in n}
            params: dict[str, str | None] = {}
            entries = _parsed(record.get(n["event_params"])) if "event_params" in n else None
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict) and entry.get("key") in GA4_PARAMS:
                    params[str(entry["key"])] = _param(entry.get("value"))
            if "event_params" in n:
                base.update({p: params.get(p) for p in GA4_PARAMS})
            if "ecommerce" in n:
                commerce = _parsed(record.get(n["ecommerce"]))
                base["transaction_id"] = (
                    _text(commerce.get("transaction_id")) if isinstance(commerce, dict) else None
                )
            if "geo" in n:
                geo = _parsed(record.get(n["geo"]))
                base["geo.country"] = _text(geo.get("country")) if isinstance(geo, dict) else None
            items = _parsed(record.get(n["items"])) if "items" in n else None
            products = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
            identity = (
                base.get("stream_id"),
                base.get("user_pseudo_id") or base.get("user_id"),
                base.get("event_timestamp"),
                name,
                base.get("event_bundle_sequence_id"),
                base.get("batch_event_index"),
            )
            if kind == "search":
                rows.append(
                    {
                        **base,
                        "_line": line,
                        "_copy": 0,
                        "storewise_event_id": event_id("ga4", *identity, 0),
                    }
                )
            elif kind in EVENT_TYPES and products:
                for position, item in enumerate(products):
                    fields = (
                        {f: _text(item.get(f)) for f in GA4_ITEM_FIELDS} if "items" in n else {}
                    )
                    rows.append(
                        {
                            **base,
                            **fields,
                            "_line": line,
                            "_copy": position,
                            "storewise_event_id": event_id("ga4", *identity, position),
                        }
                    )
            else:
                rejected.append((line, self._skip(name, kind), raws[index]))
        if not rows:
            return [Piece(_empty(self.out).frame, np.empty(0, np.int64), rejected)]
        schema = {c: pl.Utf8 for c in self.out} | {"_line": pl.Int64, "_copy": pl.Int64}
        decoded = pl.DataFrame(
            [{c: r.get(c) for c in schema} for r in rows], schema=schema, orient="row"
        )
        pieces = _split(decoded, self.out)
        pieces[0].rejected = rejected
        return pieces

    def finish(self) -> list[Piece]:
        """Nothing is held back: every event is complete."""
        return []


LAYOUTS: dict[str, Layout] = {
    "shopify": Layout(
        name="shopify",
        title="Shopify orders export",
        formats=("csv",),
        signature=("Name", "Lineitem quantity", "Lineitem name"),
        required=(
            "Name",
            "Created at",
            "Financial Status",
            "Lineitem quantity",
            "Lineitem name",
            "Lineitem price",
        ),
        optional=(*SHOPIFY_ORDER_FIELDS, "Lineitem sku", "Lineitem discount"),
        adds=SHOPIFY_STORED,
        decoder=ShopifyOrders,
    ),
    "woocommerce": Layout(
        name="woocommerce",
        title="WooCommerce order export (Default - One Row per Item)",
        formats=("csv",),
        signature=("order_id", "status", "item_quantity", "item_total"),
        required=("order_id", "date", "status", "item_name", "item_quantity", "item_total"),
        optional=(
            "customer_id",
            "billing_email",
            "billing_country",
            "item_id",
            "item_product_id",
            "item_sku",
            "item_subtotal",
            "item_refunded",
            "item_refunded_qty",
        ),
        adds=WOO_STORED,
        decoder=WooOrders,
    ),
    "ga4-bigquery": Layout(
        name="ga4-bigquery",
        title="GA4 BigQuery export",
        formats=("jsonl", "parquet"),
        signature=("event_name", "event_params"),
        required=("event_name", "event_timestamp"),
        optional=(*GA4_SCALARS, "items", "ecommerce", "geo"),
        adds=GA4_ADDED,
        decoder=GA4Events,
        decoded=_ga4_decoded,
    ),
}


def recognise(columns: Sequence[str], file_format: str) -> Layout | None:
    """The platform export a file with these columns is, if any."""
    return next((lay for lay in LAYOUTS.values() if lay.recognises(columns, file_format)), None)


def decoder(
    layout: Layout, columns: Sequence[str], delimiter: str, hasher: EmailHasher | None = None
) -> Decoder:
    """A decoder for one file of ``layout`` whose own columns are ``columns``; e-mail ids are
    cut from ``hasher`` (the store's keyed hash in an import)."""
    return layout.decoder(layout.names(columns), list(columns), delimiter, hasher)


__all__ = [
    "LAYOUTS",
    "Decoder",
    "EmailHasher",
    "Layout",
    "Piece",
    "decoder",
    "email_key",
    "email_keys",
    "recognise",
    "shown_columns",
    "squash",
]
