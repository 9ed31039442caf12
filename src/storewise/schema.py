"""Canonical record types and column names shared by ingest, store, dataset and API.

External ids are strings everywhere; timestamps are timezone-aware UTC. The store keeps
event times as integer milliseconds since the epoch (column ``ts``) for fast loading.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from types import UnionType
from typing import Any, get_args, get_origin

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class EventType(StrEnum):
    """What a customer did with an item."""

    VIEW = "view"
    ADD_TO_CART = "add_to_cart"
    REMOVE_FROM_CART = "remove_from_cart"
    PURCHASE = "purchase"
    RETURN = "return"
    RATING = "rating"
    SEARCH = "search"


class Purpose(StrEnum):
    """What a customer may consent to, each independently."""

    PERSONALIZATION = "personalization"
    MARKETING = "marketing"
    ANALYTICS = "analytics"


EVENT_TYPES: tuple[str, ...] = tuple(e.value for e in EventType)
PURPOSES: tuple[str, ...] = tuple(p.value for p in Purpose)

#: Event names used by GA4, Segment and common shop platforms, mapped to ours.
EVENT_TYPE_ALIASES: dict[str, str] = {
    "view_item": "view",
    "product_viewed": "view",
    "page_view": "view",
    "detail": "view",
    "click": "view",
    "add_to_cart": "add_to_cart",
    "product_added": "add_to_cart",
    "addtocart": "add_to_cart",
    "cart": "add_to_cart",
    "remove_from_cart": "remove_from_cart",
    "product_removed": "remove_from_cart",
    "purchase": "purchase",
    "order_completed": "purchase",
    "transaction": "purchase",
    "checkout_completed": "purchase",
    "refund": "return",
    "order_refunded": "return",
    "return": "return",
    "rating": "rating",
    "review": "rating",
    "product_reviewed": "rating",
    "search": "search",
    "view_search_results": "search",
    "products_searched": "search",
}

PERSONAL_FIELDS: tuple[str, ...] = ("email", "name")

#: Timestamps outside this window are rejected as implausible.
MIN_TIMESTAMP = datetime(1990, 1, 1, tzinfo=UTC)
MAX_FUTURE_SECONDS = 24 * 3600


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch of an aware datetime (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


#: Milliseconds in a day: event times are integer milliseconds since the epoch (UTC).
DAY_MS = 86_400_000


def from_ms(ms: int) -> datetime:
    """The aware UTC datetime of epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Customer(_Record):
    """A customer profile; email and name are personal and stored encrypted."""

    customer_id: str = Field(min_length=1, max_length=200)
    country: str | None = Field(default=None, max_length=100)
    created_at: datetime | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    email: str | None = Field(default=None, max_length=320)
    name: str | None = Field(default=None, max_length=200)

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _utc(value)


class Item(_Record):
    """A catalog item with the features content-based models use."""

    item_id: str = Field(min_length=1, max_length=200)
    title: str | None = Field(default=None, max_length=1000)
    description: str | None = Field(default=None, max_length=20_000)
    category: str | None = Field(default=None, max_length=200)
    brand: str | None = Field(default=None, max_length=200)
    price: float | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, max_length=3)
    in_stock: bool = True
    attributes: dict[str, Any] = Field(default_factory=dict)


class Event(_Record):
    """One thing a known customer or an anonymous visitor did.

    At least one of ``customer_id`` and ``anonymous_id`` is required; an event with both is a
    login and links the anonymous history to the customer.
    """

    event_id: str | None = Field(default=None, min_length=1, max_length=200)
    customer_id: str | None = Field(default=None, min_length=1, max_length=200)
    anonymous_id: str | None = Field(default=None, min_length=1, max_length=200)
    session_id: str | None = Field(default=None, max_length=200)
    item_id: str | None = Field(default=None, min_length=1, max_length=200)
    event_type: EventType
    quantity: float = 1.0
    price: float | None = Field(default=None, ge=0)
    value: float | None = None
    order_id: str | None = Field(default=None, max_length=200)
    timestamp: datetime
    source: str | None = Field(default=None, max_length=100)
    query: str | None = Field(default=None, max_length=1000)

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return _utc(value)

    @model_validator(mode="after")
    def _who_and_what(self) -> Event:
        if self.customer_id is None and self.anonymous_id is None:
            raise ValueError("an event needs customer_id or anonymous_id")
        if self.item_id is None and self.event_type is not EventType.SEARCH:
            raise ValueError(f"a {self.event_type.value} event needs item_id")
        return self


class Consent(_Record):
    """A customer's yes or no to one purpose, as of a moment."""

    customer_id: str = Field(min_length=1, max_length=200)
    purpose: Purpose
    granted: bool
    at: datetime
    source: str | None = Field(default=None, max_length=100)

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return _utc(value)


#: A datetime in the store's frames: integer milliseconds since the epoch (see :func:`to_ms`).
_EPOCH_MS = pl.Int64()
#: A datetime in an import's frames (such as synthetic data): aware UTC, microseconds.
MOMENT = pl.Datetime("us", "UTC")


def _dtype(annotation: Any, moment: pl.DataType) -> pl.DataType:
    """The polars dtype of a record field's column: datetimes as ``moment``, dicts as JSON."""
    if isinstance(annotation, UnionType):
        (annotation,) = (a for a in get_args(annotation) if a is not type(None))
    kind = get_origin(annotation) or annotation
    if kind is bool:
        return pl.Boolean()
    if kind is float:
        return pl.Float64()
    if kind is int:
        return pl.Int64()
    if kind is datetime:
        return moment
    if kind is dict or issubclass(kind, str):  # str, and the StrEnums
        return pl.Utf8()
    raise TypeError(f"no stored dtype for {annotation!r}")


def _frame_schema(
    record: type[BaseModel],
    *,
    renamed: Mapping[str, str] | None = None,
    omitted: tuple[str, ...] = (),
    added: Mapping[str, Mapping[str, pl.DataType]] | None = None,
    moment: pl.DataType = _EPOCH_MS,
) -> dict[str, pl.DataType]:
    """The columns of a record type's frame: one per field, in field order, typed by annotation.

    ``renamed`` maps a field to its column, ``omitted`` fields get no column, and ``added``
    columns (which the store derives, the record lacks) follow the field they are keyed by.
    """
    schema: dict[str, pl.DataType] = {}
    for name, info in record.model_fields.items():
        if name not in omitted:
            schema[(renamed or {}).get(name, name)] = _dtype(info.annotation, moment)
        schema.update((added or {}).get(name, {}))
    return schema


#: Polars schema of the events frame a store returns (and accepts, plus optional columns).
EVENT_SCHEMA: dict[str, pl.DataType] = _frame_schema(Event, renamed={"timestamp": "ts"})
#: Catalog frame; ``is_product`` marks real products (not postage, fees, discounts).
ITEM_SCHEMA: dict[str, pl.DataType] = _frame_schema(
    Item, added={"in_stock": {"is_product": pl.Boolean()}}
)
#: Customer frame; the personal fields are stored encrypted, apart from the frame.
CUSTOMER_SCHEMA: dict[str, pl.DataType] = _frame_schema(Customer, omitted=PERSONAL_FIELDS)
CONSENT_SCHEMA: dict[str, pl.DataType] = _frame_schema(Consent)

#: Columns of each canonical table, in store order.
EVENT_COLUMNS: tuple[str, ...] = tuple(EVENT_SCHEMA)
ITEM_COLUMNS: tuple[str, ...] = tuple(ITEM_SCHEMA)
CUSTOMER_COLUMNS: tuple[str, ...] = tuple(CUSTOMER_SCHEMA)
CONSENT_COLUMNS: tuple[str, ...] = tuple(CONSENT_SCHEMA)

#: What an import carries (a file's columns once mapped, an API record's keys), typed as the
#: records are. The importer sets an event's ``source``; a file's unmapped columns become an
#: item's or customer's ``attributes``; a customer has a yes/no column per consent purpose.
EVENT_IMPORT_SCHEMA: dict[str, pl.DataType] = _frame_schema(
    Event, omitted=("source",), moment=MOMENT
)
ITEM_IMPORT_SCHEMA: dict[str, pl.DataType] = _frame_schema(
    Item, omitted=("attributes",), moment=MOMENT
)
CUSTOMER_IMPORT_SCHEMA: dict[str, pl.DataType] = {
    **_frame_schema(Customer, omitted=("attributes",), moment=MOMENT),
    **{f"consent_{purpose}": pl.Boolean() for purpose in PURPOSES},
}
EVENT_IMPORT_COLUMNS: tuple[str, ...] = tuple(EVENT_IMPORT_SCHEMA)
ITEM_IMPORT_COLUMNS: tuple[str, ...] = tuple(ITEM_IMPORT_SCHEMA)
CUSTOMER_IMPORT_COLUMNS: tuple[str, ...] = tuple(CUSTOMER_IMPORT_SCHEMA)
