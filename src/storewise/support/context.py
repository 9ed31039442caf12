"""The customer card: who is writing, what they bought and returned, what they are worth.

:func:`build_card` turns plain inputs, the customer's events as a polars DataFrame plus
optional dicts the engine already has (profile, CLV/churn insights, consents, catalog,
recommendations, open issues), into a :class:`CustomerCard`. An unknown customer gets an
empty card (``known=False``), never an error. Recommendations are left off the card when
the customer refused personalisation.

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
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from storewise.errors import InputError, SchemaError
from storewise.privacy.consent import ConsentPolicy
from storewise.schema import PURPOSES, Customer, from_ms

__all__ = [
    "CustomerCard",
    "CustomerProfile",
    "OrderLine",
    "OrderSummary",
    "ReturnSummary",
    "SuggestedItem",
    "build_card",
]

_REQUIRED = ("event_type", "item_id", "ts")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OrderLine(_Model):
    """One item of an order: what, how many, at what unit price."""

    item_id: str
    title: str | None = None
    quantity: float = 1.0
    price: float | None = None

    @property
    def amount(self) -> float:
        """Line value, unit price times quantity (0 when the price is unknown)."""
        return round((self.price or 0.0) * abs(self.quantity), 2)


class OrderSummary(_Model):
    """An order as the agent needs to see it; ``order_id`` is None for untracked baskets."""

    order_id: str | None = None
    date: datetime
    items: list[OrderLine] = Field(default_factory=list)
    total: float = 0.0
    expected_delivery: _dt.date | None = None
    returned_item_ids: list[str] = Field(default_factory=list)


class ReturnSummary(_Model):
    """An item the customer sent back."""

    order_id: str | None = None
    item_id: str
    title: str | None = None
    quantity: float = 1.0
    amount: float = 0.0
    date: datetime


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

    @classmethod
    def unknown(cls, customer_id: str | None = None) -> CustomerCard:
        """The generic card of a customer the shop does not know."""
        profile = CustomerProfile(customer_id=customer_id) if customer_id else None
        return cls(known=False, profile=profile)

    @property
    def name(self) -> str | None:
        """The customer's name if known."""
        return self.profile.name if self.profile else None


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


def _orders(
    rows: list[dict[str, Any]], catalog: Mapping[str, Mapping[str, Any]]
) -> tuple[list[OrderSummary], list[ReturnSummary]]:
    baskets: dict[str, dict[str, Any]] = {}
    returns: list[ReturnSummary] = []
    for row in rows:
        kind = str(row["event_type"] or "").lower()
        moment = _as_datetime(row["ts"])
        if moment is None or row["item_id"] is None:
            continue
        order_id = str(row["order_id"]) if row["order_id"] not in (None, "") else None
        quantity = abs(float(row["quantity"])) if row["quantity"] is not None else 1.0
        price = float(row["price"]) if row["price"] is not None else None
        item_id = str(row["item_id"])
        if kind == "purchase":
            key = order_id or f"\x00{moment.isoformat()}"
            basket = baskets.setdefault(key, {"order_id": order_id, "date": moment, "lines": {}})
            basket["date"] = min(basket["date"], moment)
            lines: dict[str, OrderLine] = basket["lines"]
            previous = lines.get(item_id)
            lines[item_id] = OrderLine(
                item_id=item_id,
                title=_title(row, catalog) or (previous.title if previous else None),
                quantity=quantity + (previous.quantity if previous else 0.0),
                price=price if price is not None else (previous.price if previous else None),
            )
        elif kind == "return":
            returns.append(
                ReturnSummary(
                    order_id=order_id,
                    item_id=item_id,
                    title=_title(row, catalog),
                    quantity=quantity,
                    amount=round((price or 0.0) * quantity, 2),
                    date=moment,
                )
            )
    returned: dict[str | None, list[str]] = {}
    for item in returns:
        returned.setdefault(item.order_id, []).append(item.item_id)
    orders = [
        OrderSummary(
            order_id=b["order_id"],
            date=b["date"],
            items=list(b["lines"].values()),
            total=round(sum(line.amount for line in b["lines"].values()), 2),
            returned_item_ids=sorted(set(returned.get(b["order_id"], []))) if b["order_id"] else [],
        )
        for b in baskets.values()
    ]
    orders.sort(key=lambda o: o.date, reverse=True)
    returns.sort(key=lambda r: r.date, reverse=True)
    return orders, returns


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
) -> CustomerCard:
    """Build the card from the customer's events and what else the engine knows.

    ``events`` has columns event_type, item_id, ts (epoch ms or datetime) and optionally
    title, quantity, price, order_id; purchases are grouped into orders by ``order_id``.
    ``insights`` may hold segment, clv, churn_risk. ``catalog`` maps item_id to a dict with
    ``title`` and ``in_stock``: it fills missing titles and drops out-of-stock or returned
    items from ``recommendations`` (dicts with item_id, optional title and reason).
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
        orders, returns = _orders(rows, catalog)
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
            order_count=len(orders),
            total_spent=round(sum(o.total for o in orders), 2),
            returns=returns[:max_returns],
            segment=str(data["segment"]) if data.get("segment") is not None else None,
            clv=float(clv) if clv is not None else None,
            churn_risk=float(churn) if churn is not None else None,
            consent=consent,
            open_issues=[str(i) for i in open_issues or ()],
            recommendations=picks,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise InputError(f"customer {customer_id}: invalid {where}: {error['msg']}") from exc
    except (TypeError, ValueError, KeyError) as exc:
        raise InputError(f"customer {customer_id}: invalid event data ({exc!r})") from exc


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
