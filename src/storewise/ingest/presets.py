"""Column mappings and source-specific rules for the files retailers actually have.

A preset says which columns a kind of file has (with the names other tools use for them),
which are required, and what is special about the source (the UCI Online Retail export's
cancellations, guest rows and non-product stock codes). The shop-platform presets (``shopify``,
``woocommerce``, ``ga4-bigquery``) read the rows :mod:`storewise.ingest.layouts` decodes from
those platforms' exports: what needs several rows (an order's fields written once, a refunded
line standing for a purchase and a return, the products nested in a GA4 event) is done there,
what one row means is said here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from storewise.errors import InputError, NotFound, SchemaError
from storewise.ingest.clean import trimmed
from storewise.ingest.layouts import LAYOUTS, PART, shown_columns, squash

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
    #: Match only the names listed in ``columns``, not the canonical name itself (a platform
    #: export has a column ``customer_id`` or ``item_id`` that means something else).
    exact: bool = False
    #: The platform export (:data:`storewise.ingest.layouts.LAYOUTS`) this preset reads; a
    #: file that is not one is refused with the columns it lacks.
    layout: str | None = None


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


def _platform(frame: pl.DataFrame) -> Prepared:
    """Rows of a platform export: the event type is the first part of what the layout wrote
    (``"purchase | repair: ... | note: ..."``), the other parts are counted as repairs and
    notes on the rows kept."""
    parts = pl.col("event_type").cast(pl.Utf8).str.split(PART)
    frame = frame.with_columns(
        parts.list.first().alias("event_type"), parts.list.slice(1).alias("_parts")
    )
    found = sorted(set(frame["_parts"].explode().drop_nulls().to_list()))
    counted: dict[str, list[tuple[str, pl.Expr]]] = {"repair": [], "note": []}
    for part in found:
        kind, _, reason = part.partition(": ")
        if kind in counted and reason:
            counted[kind].append((reason, pl.col("_parts").list.contains(part)))
    return Prepared(frame, repairs=counted["repair"], notes=counted["note"])


def _ga4(frame: pl.DataFrame) -> Prepared:
    """GA4 rows: ``ga_session_id`` counts sessions per browser only, so the session id is
    ``user_pseudo_id.ga_session_id`` (the user id without a pseudo id), as Google's own
    BigQuery recipes key sessions; event names are mapped by the event rules."""
    owner = pl.coalesce(trimmed("anonymous_id"), trimmed("customer_id"))
    session = trimmed("session_id")
    unique = pl.when(owner.is_not_null()).then(owner + pl.lit(".") + session).otherwise(session)
    return Prepared(frame.with_columns(unique.alias("session_id")))


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
    "shopify": Preset(
        name="shopify",
        kind="orders",
        description="Shopify orders export (Orders > Export, CSV): line items as purchases, "
        "cancelled or voided orders rejected, refunded orders as purchases and returns, "
        "customers keyed by a hash of their e-mail.",
        columns={
            "event_id": ("storewise_event_id",),
            "event_type": ("storewise_event_type",),
            "timestamp": ("storewise_time",),
            "customer_id": ("storewise_customer_id",),
            "anonymous_id": ("storewise_anonymous_id",),
            "item_id": ("storewise_item_id",),
            "value": ("storewise_value",),
            "quantity": ("Lineitem quantity",),
            "price": ("Lineitem price",),
            "title": ("Lineitem name",),
            "order_id": ("Name",),
            "country": ("Billing Country", "Shipping Country"),
        },
        required=("event_id", "event_type", "timestamp", "item_id", "quantity", "order_id"),
        required_any=(("customer_id", "anonymous_id"),),
        default_event_type="purchase",
        prepare=_platform,
        exact=True,
        layout="shopify",
    ),
    "woocommerce": Preset(
        name="woocommerce",
        kind="orders",
        description="WooCommerce Customer / Order / Coupon Export, format Default - One Row "
        "per Item: completed and processing orders as purchases, cancelled, failed, pending "
        "and on-hold ones rejected, refunds as returns.",
        columns={
            "event_id": ("storewise_event_id",),
            "event_type": ("storewise_event_type",),
            "timestamp": ("storewise_time",),
            "customer_id": ("storewise_customer_id",),
            "anonymous_id": ("storewise_anonymous_id",),
            "item_id": ("storewise_item_id",),
            "quantity": ("storewise_quantity",),
            "price": ("storewise_price",),
            "value": ("storewise_value",),
            "title": ("item_name",),
            "order_id": ("order_id",),
            "country": ("billing_country", "shipping_country"),
        },
        required=("event_id", "event_type", "timestamp", "item_id", "quantity", "order_id"),
        required_any=(("customer_id", "anonymous_id"),),
        default_event_type="purchase",
        prepare=_platform,
        exact=True,
        layout="woocommerce",
    ),
    "ga4-bigquery": Preset(
        name="ga4-bigquery",
        kind="events",
        description="GA4 BigQuery export (events_YYYYMMDD rows as JSON lines or Parquet): one "
        "event per product; user_id stitched to user_pseudo_id; events naming no product "
        "(page_view, session_start, ...) reported, not imported.",
        columns={
            "event_id": ("storewise_event_id",),
            "event_type": ("event_name",),
            "timestamp": ("event_timestamp",),
            "customer_id": ("user_id",),
            "anonymous_id": ("user_pseudo_id",),
            "session_id": ("ga_session_id",),
            "item_id": ("item_id",),
            "title": ("item_name",),
            "category": ("item_category",),
            "price": ("price",),
            "quantity": ("quantity",),
            "order_id": ("transaction_id",),
            "query": ("search_term",),
            "country": ("geo.country", "geo_country"),
        },
        required=("event_type", "timestamp"),
        required_any=(("customer_id", "anonymous_id"),),
        prepare=_ga4,
        exact=True,
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
    by_squash = {squash(c): c for c in file_columns}
    taken = set(resolved.values())
    for canonical in preset.columns:
        if canonical in resolved:
            continue
        names = preset.columns[canonical]
        for candidate in names if preset.exact else (canonical, *names):
            found = by_squash.get(squash(candidate))
            if found is not None and found not in taken:
                resolved[canonical] = found
                taken.add(found)
                break
    missing = [c for c in preset.required if c not in resolved]
    for group in preset.required_any:
        if not any(c in resolved for c in group):
            missing.append(" or ".join(group))
    if missing:
        layout = LAYOUTS.get(preset.layout or "")
        lacking = layout.missing(file_columns) if layout is not None else []
        if layout is not None and lacking:
            raise SchemaError(
                f"{where}: not a {layout.title}: it lacks the column"
                f"{'s' if len(lacking) > 1 else ''} {', '.join(repr(m) for m in lacking)} "
                f"(file columns: {shown_columns(file_columns)})",
                details={"file": where, "missing": lacking, "layout": layout.name},
            )
        platform = next((lay for lay in LAYOUTS.values() if lay.decoded_from(file_columns)), None)
        hint = (
            f"; the file is a {platform.title}: read it with --preset {platform.name}"
            if platform is not None and platform.name in PRESETS
            else "; map one with --map SRC=DST"
        )
        raise SchemaError(
            f"{where}: missing required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(_wanted(preset, m) for m in missing)} for preset {preset.name!r} "
            f"(file columns: {shown_columns(file_columns)}){hint}",
            details={"file": where, "missing": missing},
        )
    return resolved


def _wanted(preset: Preset, missing: str) -> str:
    """A missing canonical column as a message names it, with the names the preset looks for
    (``'timestamp' (event_timestamp)``)."""
    names = [n for c in missing.split(" or ") for n in preset.columns.get(c, ())]
    if not names:
        return repr(missing)
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return f"{missing!r} ({'' if preset.exact else 'or '}{shown})"
