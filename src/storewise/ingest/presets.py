"""Column mappings and source-specific rules for the files retailers actually have.

A preset says which columns a kind of file has (with the names other tools use for them),
which are required, and what is special about the source (the UCI Online Retail export's
cancellations, guest rows and non-product stock codes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from storewise.errors import InputError, NotFound, SchemaError
from storewise.ingest.clean import CONTROL, trimmed

KINDS = ("orders", "events", "items", "customers")


@dataclass(frozen=True)
class Prepared:
    """A chunk after source-specific rules, with repairs and notes to count on kept rows."""

    frame: pl.DataFrame
    repairs: list[tuple[str, pl.Expr]] = field(default_factory=list)
    notes: list[tuple[str, pl.Expr]] = field(default_factory=list)


PrepareFn = Callable[[pl.DataFrame], Prepared]


@dataclass(frozen=True)
class Preset:
    """How to read one kind of file: columns, aliases, requirements, source rules."""

    name: str
    kind: str
    description: str
    columns: Mapping[str, tuple[str, ...]]
    required: tuple[str, ...] = ()
    required_any: tuple[tuple[str, ...], ...] = ()
    default_event_type: str | None = None
    prepare: PrepareFn | None = None
    #: Whether unmapped columns are kept as JSON attributes (catalog and customer files).
    keep_extra: bool = False


_EVENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "event_id": ("message_id", "messageid", "id"),
    "customer_id": ("user_id", "userid", "customer", "customerid", "client_id_known"),
    "anonymous_id": ("anonymousid", "user_pseudo_id", "client_id", "cookie_id", "visitor_id"),
    "session_id": ("ga_session_id", "session", "sessionid"),
    "item_id": ("product_id", "productid", "sku", "stock_code", "stockcode", "item"),
    "event_type": ("event_name", "event", "type", "action"),
    "quantity": ("qty", "quantity_ordered", "count"),
    "price": ("unit_price", "unitprice", "item_price"),
    "value": ("revenue", "amount", "total", "line_total"),
    "order_id": ("transaction_id", "invoice", "invoice_no", "invoiceno", "order"),
    "timestamp": ("event_timestamp", "event_time", "time", "date", "created_at", "datetime"),
    "query": ("search_term", "search_query", "q"),
    "title": ("name", "product_name", "item_name", "description"),
    "category": ("item_category", "product_category"),
    "country": ("geo_country", "country_code"),
}

_ITEM_COLUMNS: dict[str, tuple[str, ...]] = {
    "item_id": ("product_id", "productid", "sku", "stock_code", "stockcode", "id"),
    "title": ("name", "product_name", "item_name"),
    "description": ("body", "body_html", "details", "long_description"),
    "category": ("product_category", "product_type", "type", "department"),
    "brand": ("vendor", "manufacturer"),
    "price": ("unit_price", "unitprice", "variant_price", "list_price"),
    "currency": ("currency_code",),
    "in_stock": ("available", "availability", "instock", "is_in_stock"),
}

_CUSTOMER_COLUMNS: dict[str, tuple[str, ...]] = {
    "customer_id": ("user_id", "userid", "customerid", "id"),
    "country": ("country_code", "geo_country"),
    "created_at": ("signup_date", "registered_at", "first_seen", "joined"),
    "email": ("e_mail", "email_address", "mail"),
    "name": ("full_name", "customer_name"),
    "consent_personalization": ("personalization_consent", "consent_personalisation"),
    "consent_marketing": ("marketing_consent", "accepts_marketing", "newsletter"),
    "consent_analytics": ("analytics_consent",),
}

PRODUCT_CODE = re.compile(r"^\d{5}[A-Z]*$")


def _online_retail(frame: pl.DataFrame) -> Prepared:
    """UCI Online Retail: cancellations are returns, guests are keyed by invoice."""
    invoice = trimmed("order_id")
    cancelled = invoice.str.starts_with("C").fill_null(False)
    guest = trimmed("customer_id").is_null()
    code = trimmed("item_id").str.to_uppercase()
    frame = frame.with_columns(
        code.alias("item_id"),
        pl.when(cancelled).then(pl.lit("return")).otherwise(pl.lit("purchase")).alias("event_type"),
        pl.when(cancelled)
        .then(trimmed("quantity").str.strip_prefix("-"))
        .otherwise(trimmed("quantity"))
        .alias("quantity"),
        pl.when(guest)
        .then(pl.lit("guest-invoice-") + invoice.str.strip_prefix("C"))
        .otherwise(None)
        .alias("anonymous_id"),
        code.str.contains(PRODUCT_CODE.pattern).fill_null(True).alias("is_product"),
    )
    return Prepared(
        frame,
        repairs=[
            ("cancellation (invoice starting with C) stored as a return", cancelled),
            ("no CustomerID: stored as a guest event keyed by its invoice", guest),
        ],
        notes=[
            (
                "non-product stock code (postage, fee, adjustment, voucher, charge): "
                "kept as an order line, not a catalog item",
                ~pl.col("is_product"),
            )
        ],
    )


PRESETS: dict[str, Preset] = {
    "generic": Preset(
        name="generic",
        kind="orders",
        description="Order lines: customer_id,item_id,timestamp (+ order_id, quantity, price, "
        "event_type, title, category, country).",
        columns=_EVENT_COLUMNS,
        required=("customer_id", "item_id", "timestamp"),
        default_event_type="purchase",
    ),
    "online-retail": Preset(
        name="online-retail",
        kind="orders",
        description="UCI Online Retail export (InvoiceNo, StockCode, Description, Quantity, "
        "InvoiceDate, UnitPrice, CustomerID, Country).",
        columns={
            "order_id": ("InvoiceNo",),
            "item_id": ("StockCode",),
            "title": ("Description",),
            "quantity": ("Quantity",),
            "timestamp": ("InvoiceDate",),
            "price": ("UnitPrice",),
            "customer_id": ("CustomerID",),
            "country": ("Country",),
        },
        required=("order_id", "item_id", "quantity", "timestamp", "price", "customer_id"),
        default_event_type="purchase",
        prepare=_online_retail,
    ),
    "events": Preset(
        name="events",
        kind="events",
        description="Behaviour events (views, carts, purchases, ...); GA4/Segment-style names "
        "such as view_item, product_added, order_completed are accepted.",
        columns=_EVENT_COLUMNS,
        required=("event_type", "timestamp"),
        required_any=(("customer_id", "anonymous_id"),),
    ),
    "items": Preset(
        name="items",
        kind="items",
        description="Catalog: item_id (+ title, description, category, brand, price, currency, "
        "in_stock; other columns become attributes).",
        columns=_ITEM_COLUMNS,
        required=("item_id",),
        keep_extra=True,
    ),
    "customers": Preset(
        name="customers",
        kind="customers",
        description="Profiles: customer_id (+ country, created_at, email, name, "
        "consent_personalization/marketing/analytics; other columns become attributes).",
        columns=_CUSTOMER_COLUMNS,
        required=("customer_id",),
        keep_extra=True,
    ),
}

DEFAULT_PRESET = {
    "orders": "generic",
    "events": "events",
    "items": "items",
    "customers": "customers",
}


def get_preset(name: str | None, kind: str) -> Preset:
    """The named preset (or the kind's default), checked to fit the kind of file."""
    if kind not in KINDS:
        raise InputError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    key = name or DEFAULT_PRESET[kind]
    if key not in PRESETS:
        raise NotFound(
            f"unknown preset {key!r}; available: {', '.join(sorted(PRESETS))}",
            details={"presets": sorted(PRESETS)},
        )
    preset = PRESETS[key]
    compatible = {preset.kind} | (
        {"orders", "events"} if preset.kind in ("orders", "events") else set()
    )
    if kind not in compatible:
        raise InputError(f"preset {key!r} reads {preset.kind} files, not {kind}")
    return preset


def _squash(name: str) -> str:
    return re.sub(r"[\s_\-.]+", "", name.strip().lower())


def shown_columns(names: Sequence[str], most: int = 30) -> str:
    """Column names as a message shows them: control characters as ``?``, each at most 40
    characters, at most ``most`` of them (a binary header would flood the terminal)."""
    cut = [CONTROL.sub("?", n[:40]) + ("..." if len(n) > 40 else "") for n in names[:most]]
    return ", ".join(cut) + (f", ... ({len(names) - most} more)" if len(names) > most else "")


def parse_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """``["SRC=DST", ...]`` from the command line as a dict, with a clear error if malformed."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        source, sep, target = pair.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise InputError(f"--map expects SRC=DST, got {pair!r}")
        mapping[source.strip()] = target.strip()
    return mapping


def resolve_columns(
    file_columns: Sequence[str], preset: Preset, mapping: Mapping[str, str], *, where: str
) -> dict[str, str]:
    """Map canonical column names to the file's columns; missing required ones are an error."""
    resolved: dict[str, str] = {}
    known = set(preset.columns) | {"anonymous_id", "session_id", "event_id", "source"}
    if preset.kind in ("orders", "events"):
        known |= set(_EVENT_COLUMNS)
    for source, target in mapping.items():
        if source not in file_columns:
            raise SchemaError(
                f"{where}: --map names column {source!r}, which the file does not have "
                f"(columns: {shown_columns(file_columns)})"
            )
        if target not in known:
            raise InputError(
                f"{where}: --map target {target!r} is not a {preset.kind} column; "
                f"use one of {', '.join(sorted(known))}"
            )
        resolved[target] = source
    by_squash = {_squash(c): c for c in file_columns}
    taken = set(resolved.values())
    for canonical in preset.columns:
        if canonical in resolved:
            continue
        for candidate in (canonical, *preset.columns[canonical]):
            found = by_squash.get(_squash(candidate))
            if found is not None and found not in taken:
                resolved[canonical] = found
                taken.add(found)
                break
    missing = [c for c in preset.required if c not in resolved]
    for group in preset.required_any:
        if not any(c in resolved for c in group):
            missing.append(" or ".join(group))
    if missing:
        raise SchemaError(
            f"{where}: missing required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)} for preset {preset.name!r} "
            f"(file columns: {shown_columns(file_columns)}); map one with --map SRC=DST",
            details={"file": where, "missing": missing},
        )
    return resolved
