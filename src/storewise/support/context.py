"""The customer card: who is writing, what they bought and returned, what they are worth.

:func:`build_card` turns plain inputs, the customer's events as a polars DataFrame plus
optional dicts the engine already has (profile, CLV/churn insights, consents, catalog,
recommendations, open issues), into a :class:`CustomerCard`. An unknown customer gets an
empty card (``known=False``), never an error. Recommendations are left off the card when
the customer refused personalisation.

**Order state.** Each order gets a ``status`` derived from its events, since the shop has no
carrier feed: a purchase is ``placed`` until its dispatch day, ``shipped`` until its expected
delivery day, then ``delivered`` (working days from :class:`Fulfilment`); a reversal of some
or all of its lines makes it ``partly_cancelled``/``cancelled`` or
``partly_returned``/``returned``. A reversal is a ``return`` event or a purchase with a
negative quantity. It belongs to the order whose id it carries; otherwise (a credit note or
cancellation document with its own number, like the UCI Online Retail ``C536379`` invoices,
stored as returns by the ``online-retail`` preset) to the latest earlier order holding the
item with quantity left to reverse. It counts as a *cancellation* when its document id
matches ``Fulfilment.cancellation_ids``, when it is a negative purchase, or when it came
before the order was dispatched; otherwise as a *return*.

Example::

    >>> import polars as pl
    >>> events = pl.DataFrame({"event_type": ["purchase"], "item_id": ["L1"],
    ...     "title": ["Camping lantern"], "quantity": [1], "price": [24.5],
    ...     "order_id": ["A100"], "ts": [1_700_000_000_000]})
    >>> card = build_card("C1", events)
    >>> card.orders[0].order_id, card.orders[0].total
    ('A100', 24.5)
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from storewise.errors import InputError, SchemaError
from storewise.privacy.consent import ConsentPolicy
from storewise.schema import PURPOSES, Customer, from_ms
from storewise.support.titles import title_forms

__all__ = [
    "CustomerCard",
    "CustomerProfile",
    "Fulfilment",
    "OrderLine",
    "OrderStatus",
    "OrderSummary",
    "ReturnSummary",
    "SuggestedItem",
    "build_card",
    "catalog_words",
]

_REQUIRED = ("event_type", "item_id", "ts")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


OrderStatus = Literal[
    "placed", "shipped", "delivered", "partly_cancelled", "cancelled", "partly_returned", "returned"
]
ReversalKind = Literal["cancellation", "return"]


class Fulfilment(_Model):
    """How long the shop takes to dispatch and deliver, and which documents are cancellations;
    the order state is told from these and the order's age (there is no carrier feed)."""

    dispatch_days: int = Field(default=1, ge=0, le=60, description="working days to dispatch")
    delivery_days: int = Field(default=3, ge=0, le=60, description="working days in transit")
    cancellation_ids: str | None = Field(
        default=r"^[Cc]\d",
        description="regex of reversal document ids that are cancellations (Online Retail's "
        "'C' invoices); None: only timing and negative purchases decide",
    )


class OrderLine(_Model):
    """One item of an order: what, how many, at what unit price, and how much of it was
    cancelled or returned since."""

    item_id: str
    title: str | None = None
    quantity: float = 1.0
    price: float | None = None
    cancelled_quantity: float = 0.0
    returned_quantity: float = 0.0
    reversed_on: _dt.date | None = Field(default=None, description="latest cancellation/return")

    @property
    def amount(self) -> float:
        """Line value, unit price times quantity (0 when the price is unknown)."""
        return round((self.price or 0.0) * abs(self.quantity), 2)

    @property
    def open_quantity(self) -> float:
        """Quantity neither cancelled nor returned."""
        return max(abs(self.quantity) - self.cancelled_quantity - self.returned_quantity, 0.0)

    @property
    def open_amount(self) -> float:
        """Value of the quantity neither cancelled nor returned (what a refund could cover)."""
        return round((self.price or 0.0) * self.open_quantity, 2)


class OrderSummary(_Model):
    """An order as the agent needs to see it; ``order_id`` is None for untracked baskets."""

    order_id: str | None = None
    date: datetime
    items: list[OrderLine] = Field(default_factory=list)
    total: float = 0.0
    status: OrderStatus = "placed"
    status_date: _dt.date | None = Field(
        default=None, description="when it reached its status (dispatch, delivery, reversal)"
    )
    shipped_date: _dt.date | None = Field(default=None, description="(expected) dispatch day")
    expected_delivery: _dt.date | None = None
    returned_item_ids: list[str] = Field(default_factory=list)


class ReturnSummary(_Model):
    """An item the customer sent back or cancelled; ``order_id`` is the document that
    recorded it, ``for_order`` the order it reverses (None when none could be found)."""

    order_id: str | None = None
    item_id: str
    title: str | None = None
    quantity: float = 1.0
    amount: float = 0.0
    date: datetime
    kind: ReversalKind = "return"
    for_order: str | None = None


class CustomerProfile(_Model):
    """Identity facts: id, optional name (personal data), country, customer since."""

    customer_id: str
    name: str | None = None
    country: str | None = None
    since: datetime | None = None


class SuggestedItem(_Model):
    """An item the agent may offer, with why (e.g. an in-stock alternative to a return)."""

    item_id: str
    title: str | None = None
    reason: str


class CustomerCard(_Model):
    """Everything the support agent should see about the customer who is writing."""

    known: bool = False
    profile: CustomerProfile | None = None
    orders: list[OrderSummary] = Field(default_factory=list, description="most recent first")
    order_history: list[OrderSummary] = Field(
        default_factory=list,
        exclude=True,
        description="every order, most recent first, to find the one a message names "
        "(not serialised: ``orders`` shows the latest)",
    )
    order_count: int = 0
    total_spent: float = 0.0
    returns: list[ReturnSummary] = Field(default_factory=list, description="most recent first")
    segment: str | None = None
    clv: float | None = Field(default=None, description="predicted customer lifetime value")
    churn_risk: float | None = Field(default=None, ge=0, le=1)
    consent: dict[str, bool | None] = Field(
        default_factory=lambda: dict.fromkeys(PURPOSES),
        description="purpose -> granted (None = never asked)",
    )
    open_issues: list[str] = Field(default_factory=list)
    recommendations: list[SuggestedItem] = Field(default_factory=list)
    as_of: datetime | None = Field(default=None, description="the moment order states refer to")
    complete_history: bool = Field(
        default=True, description="False when only the customer's latest events were read"
    )
    product_words: frozenset[str] = Field(
        default_factory=frozenset,
        exclude=True,
        description="forms of the shop's catalog title words: which words of a message can "
        "name a product (empty: any word outside the support vocabulary can)",
    )

    @classmethod
    def unknown(cls, customer_id: str | None = None) -> CustomerCard:
        """The generic card of a customer the shop does not know."""
        profile = CustomerProfile(customer_id=customer_id) if customer_id else None
        return cls(known=False, profile=profile)

    @property
    def name(self) -> str | None:
        """The customer's name if known."""
        return self.profile.name if self.profile else None

    @property
    def all_orders(self) -> list[OrderSummary]:
        """Every order known for matching a message: the full history, else ``orders``."""
        return self.order_history or self.orders


def _as_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int | float):
        return from_ms(int(value))
    if isinstance(value, str):
        try:
            return _as_datetime(datetime.fromisoformat(value))
        except ValueError as exc:
            raise InputError(f"not an ISO date/time: {value!r}") from exc
    raise InputError(f"not a date/time: {value!r}")


def _profile(customer_id: str, profile: Customer | Mapping[str, Any] | None) -> CustomerProfile:
    if profile is None:
        return CustomerProfile(customer_id=customer_id)
    data = profile.model_dump() if isinstance(profile, Customer) else dict(profile)
    since = data.get("since", data.get("created_at"))
    return CustomerProfile(
        customer_id=customer_id,
        name=data.get("name") or None,
        country=data.get("country") or None,
        since=_as_datetime(since),
    )


def _events_rows(events: pl.DataFrame | None) -> list[dict[str, Any]]:
    if events is None or events.height == 0:
        return []
    missing = [c for c in _REQUIRED if c not in events.columns]
    if missing:
        raise SchemaError(f"customer events lack column(s) {', '.join(missing)}")
    columns = ["event_type", "item_id", "title", "quantity", "price", "order_id", "ts"]
    frame = events.with_columns(
        [pl.lit(None).alias(c) for c in columns if c not in events.columns]
    ).select(columns)
    return frame.to_dicts()


def _title(row: Mapping[str, Any], catalog: Mapping[str, Mapping[str, Any]]) -> str | None:
    title = row.get("title")
    if title:
        return str(title)
    known = catalog.get(str(row["item_id"]), {}).get("title")
    return str(known) if known else None


@lru_cache(maxsize=4096)
def _working_day(start: _dt.date, days: int) -> _dt.date:
    """The working day ``days`` working days after ``start`` (weekends skipped)."""
    shifted = np.busday_offset(np.datetime64(start, "D"), days, roll="forward")
    result: _dt.date = shifted.astype(_dt.date)
    return result


class _Basket:
    """A purchase order being assembled from its events: lines, reversals, dates."""

    def __init__(self, order_id: str | None, moment: datetime, rules: Fulfilment) -> None:
        self.order_id = order_id
        self.date = moment
        self.lines: dict[str, dict[str, Any]] = {}
        self.rules = rules
        self.reversals: list[tuple[datetime, ReversalKind]] = []

    @property
    def shipped(self) -> _dt.date:
        """The (expected) dispatch day."""
        return _working_day(self.date.date(), self.rules.dispatch_days)

    @property
    def delivered(self) -> _dt.date:
        """The expected delivery day."""
        return _working_day(self.shipped, self.rules.delivery_days)

    def add(self, item_id: str, title: str | None, quantity: float, price: float | None) -> None:
        """One purchase row (rows of the same item add up)."""
        line = self.lines.setdefault(
            item_id,
            {
                "title": None,
                "quantity": 0.0,
                "price": None,
                "cancelled": 0.0,
                "returned": 0.0,
                "reversed_on": None,
            },
        )
        line["title"] = line["title"] or title
        line["quantity"] += quantity
        line["price"] = price if price is not None else line["price"]

    def left(self, item_id: str) -> float:
        """Quantity of an item not yet cancelled or returned."""
        line = self.lines.get(item_id)
        if line is None:
            return 0.0
        return float(line["quantity"] - line["cancelled"] - line["returned"])

    def reverse(self, item_id: str, quantity: float, moment: datetime, kind: ReversalKind) -> None:
        """Record that ``quantity`` of an item was cancelled or returned at ``moment``."""
        line = self.lines[item_id]
        line["cancelled" if kind == "cancellation" else "returned"] += quantity
        day = moment.date()
        line["reversed_on"] = max(day, line["reversed_on"] or day)
        self.reversals.append((moment, kind))

    def summary(self, as_of: datetime) -> OrderSummary:
        """The order with its lines, total and state at ``as_of``."""
        lines = [
            OrderLine(
                item_id=item_id,
                title=data["title"],
                quantity=data["quantity"],
                price=data["price"],
                cancelled_quantity=min(data["cancelled"], data["quantity"]),
                returned_quantity=min(data["returned"], data["quantity"] - data["cancelled"]),
                reversed_on=data["reversed_on"],
            )
            for item_id, data in self.lines.items()
        ]
        status, since = self._status(lines, as_of)
        return OrderSummary(
            order_id=self.order_id,
            date=self.date,
            items=lines,
            total=round(sum(line.amount for line in lines), 2),
            status=status,
            status_date=since,
            shipped_date=self.shipped,
            expected_delivery=self.delivered,
            returned_item_ids=sorted(line.item_id for line in lines if line.returned_quantity > 0),
        )

    def _status(self, lines: list[OrderLine], as_of: datetime) -> tuple[OrderStatus, _dt.date]:
        if self.reversals:
            moment, kind = max(self.reversals, key=lambda r: r[0])
            everything = all(line.open_quantity <= 0 for line in lines)
            if kind == "cancellation":
                return ("cancelled" if everything else "partly_cancelled"), moment.date()
            return ("returned" if everything else "partly_returned"), moment.date()
        today = as_of.date()
        if today < self.shipped:
            return "placed", self.date.date()
        if today < self.delivered:
            return "shipped", self.shipped
        return "delivered", self.delivered


def _orders(
    rows: list[dict[str, Any]],
    catalog: Mapping[str, Mapping[str, Any]],
    rules: Fulfilment,
    as_of: datetime,
) -> tuple[list[OrderSummary], list[ReturnSummary]]:
    """Orders (most recent first) and reversals (most recent first) from the events."""
    baskets: dict[str, _Basket] = {}
    reversals: list[tuple[datetime, str | None, str, str | None, float, float | None, bool]] = []
    for row in rows:
        kind = str(row["event_type"] or "").lower()
        moment = _as_datetime(row["ts"])
        if moment is None or row["item_id"] is None:
            continue
        order_id = str(row["order_id"]) if row["order_id"] not in (None, "") else None
        signed = float(row["quantity"]) if row["quantity"] is not None else 1.0
        price = float(row["price"]) if row["price"] is not None else None
        item_id = str(row["item_id"])
        title = _title(row, catalog)
        if kind == "purchase" and signed >= 0:
            key = order_id or f"\x00{moment.isoformat()}"
            basket = baskets.get(key)
            if basket is None:
                basket = baskets[key] = _Basket(order_id, moment, rules)
            basket.date = min(basket.date, moment)
            basket.add(item_id, title, signed, price)
        elif kind == "return" or (kind == "purchase" and signed < 0):
            negative = kind == "purchase"
            reversals.append((moment, order_id, item_id, title, abs(signed), price, negative))
    by_id: dict[str | None, _Basket] = {b.order_id: b for b in baskets.values() if b.order_id}
    history = sorted(baskets.values(), key=lambda b: b.date, reverse=True)
    pattern = re.compile(rules.cancellation_ids) if rules.cancellation_ids else None
    returns: list[ReturnSummary] = []
    for moment, doc, item_id, title, quantity, price, negative in sorted(
        reversals, key=lambda r: r[0]
    ):
        targets = _reversal_targets(by_id, history, doc, item_id, moment)
        cancellation = negative or bool(doc and pattern is not None and pattern.search(doc))
        left = quantity
        linked: str | None = None
        for basket in targets:
            take = min(left, basket.left(item_id))
            if take <= 0:
                continue
            early = moment.date() < basket.shipped
            reversal: ReversalKind = "cancellation" if cancellation or early else "return"
            basket.reverse(item_id, take, moment, reversal)
            linked = linked or basket.order_id
            left -= take
            if left <= 0:
                break
        returns.append(
            ReturnSummary(
                order_id=doc,
                item_id=item_id,
                title=title or _line_title(targets, item_id),
                quantity=quantity,
                amount=round((price or 0.0) * quantity, 2),
                date=moment,
                kind="cancellation" if cancellation else "return",
                for_order=linked,
            )
        )
    orders = [basket.summary(as_of) for basket in history]
    returns.sort(key=lambda r: r.date, reverse=True)
    return orders, returns


def _reversal_targets(
    by_id: Mapping[str | None, _Basket],
    history: list[_Basket],
    doc: str | None,
    item_id: str,
    moment: datetime,
) -> list[_Basket]:
    """Orders a reversal may apply to: the one it names, else earlier orders holding the item,
    most recent first."""
    named = by_id.get(doc) if doc else None
    if named is not None:
        return [named] if item_id in named.lines else []
    return [b for b in history if b.date <= moment and item_id in b.lines]


def _line_title(baskets: list[_Basket], item_id: str) -> str | None:
    for basket in baskets:
        title = basket.lines.get(item_id, {}).get("title")
        if title:
            return str(title)
    return None


def build_card(
    customer_id: str | None,
    events: pl.DataFrame | None = None,
    *,
    profile: Customer | Mapping[str, Any] | None = None,
    insights: Mapping[str, Any] | None = None,
    consents: Mapping[str, bool | None] | None = None,
    catalog: Mapping[str, Mapping[str, Any]] | None = None,
    recommendations: Sequence[Mapping[str, Any]] | None = None,
    open_issues: Sequence[str] | None = None,
    max_orders: int = 10,
    max_returns: int = 10,
    as_of: datetime | date | str | None = None,
    fulfilment: Fulfilment | None = None,
    product_words: frozenset[str] | None = None,
    complete_history: bool = True,
) -> CustomerCard:
    """Build the card from the customer's events and what else the engine knows.

    ``events`` has columns event_type, item_id, ts (epoch ms or datetime) and optionally
    title, quantity, price, order_id; purchases are grouped into orders by ``order_id``.
    ``insights`` may hold segment, clv, churn_risk. ``catalog`` maps item_id to a dict with
    ``title`` and ``in_stock``: it fills missing titles and drops out-of-stock or returned
    items from ``recommendations`` (dicts with item_id, optional title and reason).
    Order states are those at ``as_of`` (default: now) under ``fulfilment``'s timings.
    ``product_words`` (see :func:`catalog_words`) saves deriving the catalog's title words
    again when the caller keeps them; ``complete_history`` is False when ``events`` are only
    the customer's latest.
    """
    rows = _events_rows(events)
    if not customer_id and not rows:
        return CustomerCard.unknown()
    if not customer_id:
        raise InputError("events were given without a customer_id")
    catalog = catalog or {}
    known = bool(rows) or profile is not None or bool(insights) or bool(consents)
    if not known:
        return CustomerCard.unknown(customer_id)
    try:
        moment = _as_datetime(as_of) or datetime.now(UTC)
        orders, returns = _orders(rows, catalog, fulfilment or Fulfilment(), moment)
        consent: dict[str, bool | None] = dict.fromkeys(PURPOSES)
        for purpose, granted in (consents or {}).items():
            key = str(getattr(purpose, "value", purpose))
            if key not in consent:
                raise InputError(f"unknown consent purpose {key!r}; use one of {PURPOSES}")
            consent[key] = None if granted is None else bool(granted)
        picks = _recommendations(recommendations or (), catalog, returns, consent)
        data = dict(insights or {})
        churn = data.get("churn_risk")
        clv = data.get("clv")
        return CustomerCard(
            known=True,
            profile=_profile(customer_id, profile),
            orders=orders[:max_orders],
            order_history=orders if len(orders) > max_orders else [],
            order_count=len(orders),
            total_spent=round(sum(o.total for o in orders), 2),
            returns=returns[:max_returns],
            segment=str(data["segment"]) if data.get("segment") is not None else None,
            clv=float(clv) if clv is not None else None,
            churn_risk=float(churn) if churn is not None else None,
            consent=consent,
            open_issues=[str(i) for i in open_issues or ()],
            recommendations=picks,
            as_of=moment,
            complete_history=complete_history,
            product_words=(
                product_words | _own_words(orders)
                if product_words
                else _product_words(catalog, orders)
            ),
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise InputError(f"customer {customer_id}: invalid {where}: {error['msg']}") from exc
    except (TypeError, ValueError, KeyError) as exc:
        raise InputError(f"customer {customer_id}: invalid event data ({exc!r})") from exc


def catalog_words(catalog: Mapping[str, Mapping[str, Any]]) -> frozenset[str]:
    """Forms of the words of the catalog's titles: the words that can name a product."""
    return title_forms(str(row.get("title")) for row in catalog.values() if row.get("title"))


def _own_words(orders: Sequence[OrderSummary]) -> frozenset[str]:
    return title_forms(line.title for order in orders for line in order.items if line.title)


def _product_words(
    catalog: Mapping[str, Mapping[str, Any]], orders: Sequence[OrderSummary]
) -> frozenset[str]:
    """Title word forms of the catalog and of the customer's lines; empty without a catalog."""
    words = catalog_words(catalog)
    return words | _own_words(orders) if words else frozenset()


def _recommendations(
    picks: Sequence[Mapping[str, Any]],
    catalog: Mapping[str, Mapping[str, Any]],
    returns: list[ReturnSummary],
    consent: Mapping[str, bool | None],
) -> list[SuggestedItem]:
    if not ConsentPolicy().allows(consent, "personalization"):
        return []
    returned = {r.item_id for r in returns}
    out: list[SuggestedItem] = []
    seen: set[str] = set()
    for pick in picks:
        item_id = str(pick["item_id"])
        info = catalog.get(item_id, {})
        if item_id in returned or item_id in seen or info.get("in_stock") is False:
            continue
        seen.add(item_id)
        title = pick.get("title") or info.get("title")
        out.append(
            SuggestedItem(
                item_id=item_id,
                title=str(title) if title else None,
                reason=str(pick.get("reason") or "recommended for this customer"),
            )
        )
    return out
