"""What a browser sends to ``POST /v1/collect``, read and sorted row by row.

A batch is one JSON object::

    {"key": "sw_...", "anonymous_id": "a1b2...", "sent_at": 1718000000000,
     "events": [{"type": "view_item", "event_id": "e1", "item_id": "SKU-1", "ts": ...}, ...]}

Each row is sorted into what happens to it, and every row ends up in exactly one place of the
report (nothing is silently lost):

- item events under their GA4 names (``view_item`` -> view, ``add_to_cart``,
  ``remove_from_cart``, ``purchase``, ``view_search_results``/``search`` -> search) become
  storewise events of the batch's anonymous id, stored under ``web:`` + the client's event id,
  so a browser that retries a batch never counts an event twice;
- ``rec_impression`` / ``rec_click`` are feedback on a served list (its ``recommendation_id``);
- ``identify`` links the anonymous id to the customer who logged in, with the consent the
  visitor gave the page; ``consent`` records a later decision for an identified visitor;
- page events storewise keeps no item history for (``page_view``, ``begin_checkout``, ...) are
  accepted and reported as not stored;
- anything else is rejected with its reason: an unknown type, a missing or malformed field,
  a ``customer_id`` outside ``identify`` (a publishable key cannot write for a customer).

Times: the browser's clock may be wrong, so an event's time is the server's time less the age
the browser gives it (``sent_at - ts``, at most a day); a row without them gets the server's.

>>> batch = read_batch(b'{"anonymous_id": "guest-0001", "events": ['
...     b'{"type": "view_item", "event_id": "ev-1", "item_id": "A"},'
...     b'{"type": "page_view", "event_id": "ev-2"},'
...     b'{"type": "teleport", "event_id": "ev-3"}]}', max_batch=100)
>>> sorted_ = sort_rows(batch, now_ms=1_700_000_000_000)
>>> sorted_.events[0][1]["event_type"], sorted_.events[0][1]["event_id"]
('view', 'web:ev-1')
>>> sorted_.not_stored[0]["index"], sorted_.rejected[0]["reason"]
(1, "unknown event type 'teleport'")
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from storewise.errors import InputError
from storewise.schema import DAY_MS, PURPOSES

#: GA4 (and storewise) names of the item events a browser may send, and what they are stored as.
STORED_TYPES: dict[str, str] = {
    "view_item": "view",
    "view": "view",
    "add_to_cart": "add_to_cart",
    "remove_from_cart": "remove_from_cart",
    "purchase": "purchase",
    "view_search_results": "search",
    "search": "search",
}
#: GA4 events accepted from a page but not kept: storewise keeps item histories, and these
#: name no item a shopper acted on (``begin_checkout`` is followed by the purchase itself).
NOT_KEPT_TYPES = frozenset(
    {
        "page_view",
        "begin_checkout",
        "view_cart",
        "view_item_list",
        "select_item",
        "add_payment_info",
        "add_shipping_info",
        "add_to_wishlist",
        "login",
        "sign_up",
        "select_promotion",
        "view_promotion",
        "scroll",
    }
)
FEEDBACK_TYPES = {"rec_impression": "impression", "rec_click": "click"}
IDENTIFY, CONSENT = "identify", "consent"
#: Events a browser may not send: they belong to the shop's back office (``POST /v1/events``).
BACK_OFFICE_TYPES = frozenset({"refund", "return", "rating", "review"})

#: Prefix of the stored id of a browser event: keeps browser ids apart from server-side ones.
EVENT_ID_PREFIX = "web:"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{4,64}$")
_ANONYMOUS_ID = re.compile(r"^[A-Za-z0-9._-]{8,100}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_ID = 200
MAX_QUERY = 1_000
#: Oldest age (server time less this) a browser may give an event.
MAX_AGE_MS = DAY_MS


class BatchTooLarge(InputError):
    """More rows in one batch than the door takes (answered 413)."""


@dataclass(frozen=True)
class Batch:
    """A request body, read: the key it may carry, the visitor's id, the rows."""

    rows: list[Any]
    anonymous_id: str | None
    sent_at: int | None
    key: str | None


@dataclass
class Sorted:
    """Rows of a batch by what happens to them, each with its position in the batch."""

    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    feedback: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    identify: list[tuple[int, str, dict[str, bool]]] = field(default_factory=list)
    #: The shop server's signature sent with each identify row, by row position.
    signatures: dict[int, str | None] = field(default_factory=dict)
    consent: list[tuple[int, dict[str, bool]]] = field(default_factory=list)
    not_stored: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)


def _integer(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return int(value)


def read_batch(body: bytes, *, max_batch: int) -> Batch:
    """The batch in a request body; InputError (422) when it is not a batch at all,
    :class:`BatchTooLarge` (413) past ``max_batch`` rows. Row problems are left for
    :func:`sort_rows` to report one by one."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InputError('the body is not JSON: send {"events": [...]}') from exc
    if not isinstance(data, dict):
        raise InputError('the body must be a JSON object: {"anonymous_id": ..., "events": [...]}')
    rows = data.get("events")
    if not isinstance(rows, list):
        raise InputError('"events" must be a list of event objects')
    if len(rows) > max_batch:
        raise BatchTooLarge(
            f"at most {max_batch} events per batch (got {len(rows)}): send them in smaller batches",
            details={"max_batch": max_batch, "received": len(rows)},
        )
    anonymous = data.get("anonymous_id")
    if anonymous is not None and (
        not isinstance(anonymous, str) or not _ANONYMOUS_ID.match(anonymous)
    ):
        raise InputError("anonymous_id must be 8-100 letters, digits, '.', '_' or '-'")
    key = data.get("key")
    return Batch(
        rows=rows,
        anonymous_id=anonymous,
        sent_at=_integer(data.get("sent_at")),
        key=key if isinstance(key, str) else None,
    )


def _text(row: Mapping[str, Any], name: str, limit: int = MAX_ID) -> str | None:
    """A row's text field (numbers accepted as text), or None when absent; InputError when
    it is not usable."""
    value = row.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InputError(f"{name} must be text")
    text = str(value).strip()
    if len(text) > limit:
        raise InputError(f"{name} longer than {limit} characters")
    if _CONTROL.search(text):
        raise InputError(f"control character in {name}")
    return text or None


def _number(row: Mapping[str, Any], name: str) -> float | None:
    value = row.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{name} must be a number")
    return float(value)


def _decisions(value: Any) -> dict[str, bool]:
    """Consent decisions ``{purpose: bool}`` given to the page; InputError for anything else."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError('consent must be an object like {"analytics": true}')
    unknown = sorted(set(value) - set(PURPOSES))
    if unknown:
        raise InputError(f"unknown consent purposes {unknown}; use {', '.join(PURPOSES)}")
    if not all(isinstance(v, bool) for v in value.values()):
        raise InputError("each consent decision is true or false")
    return {str(k): bool(v) for k, v in value.items()}


def event_time(row: Mapping[str, Any], sent_at: int | None, now_ms: int) -> int:
    """The server-side time of a row: now less the age the browser gives it (0 to a day)."""
    ts = _integer(row.get("ts"))
    if ts is None or sent_at is None:
        return now_ms
    return now_ms - min(max(sent_at - ts, 0), MAX_AGE_MS)


def sort_rows(batch: Batch, *, now_ms: int) -> Sorted:
    """Every row of ``batch`` in one place of a :class:`Sorted` (see the module docstring)."""
    out = Sorted()
    for index, row in enumerate(batch.rows):
        try:
            _sort_row(out, index, row, batch, now_ms)
        except InputError as exc:
            out.rejected.append({"index": index, "reason": exc.message})
    return out


def _sort_row(out: Sorted, index: int, row: Any, batch: Batch, now_ms: int) -> None:
    if not isinstance(row, dict):
        raise InputError("an event is a JSON object")
    kind = row.get("type", row.get("event_type"))
    if not isinstance(kind, str) or not kind.strip():
        raise InputError("missing type (e.g. view_item, add_to_cart, purchase)")
    kind = kind.strip().lower()
    at = event_time(row, batch.sent_at, now_ms)
    if kind in NOT_KEPT_TYPES:
        out.not_stored.append(
            {"index": index, "reason": f"{kind} names no item: accepted, not stored"}
        )
        return
    if kind in FEEDBACK_TYPES:
        recommendation = _text(row, "recommendation_id", 64)
        if recommendation is None:
            raise InputError(f"{kind} needs the recommendation_id of the list it is about")
        out.feedback.append(
            (
                index,
                {
                    "recommendation_id": recommendation,
                    "kind": FEEDBACK_TYPES[kind],
                    "item_id": _text(row, "item_id"),
                    "at_ms": at,
                },
            )
        )
        return
    if batch.anonymous_id is None:
        raise InputError("the batch names no anonymous_id: events, identify and consent need it")
    if kind == IDENTIFY:
        customer = _text(row, "customer_id")
        if customer is None:
            raise InputError("identify needs the customer_id of the visitor who logged in")
        out.identify.append((index, customer, _decisions(row.get("consent"))))
        out.signatures[index] = _text(row, "signature")
        return
    if kind == CONSENT:
        decisions = _decisions(row.get("consent"))
        if not decisions:
            raise InputError('consent needs decisions, e.g. {"consent": {"analytics": false}}')
        out.consent.append((index, decisions))
        return
    if row.get("customer_id") is not None:
        raise InputError(
            "a publishable key cannot write events naming a customer_id: call identify once "
            "at login, and later events of this browser count for the customer"
        )
    if kind in BACK_OFFICE_TYPES:
        raise InputError(f"{kind} events come from the shop's back office, not from pages")
    stored = STORED_TYPES.get(kind)
    if stored is None:
        raise InputError(f"unknown event type {kind!r}")
    client_id = row.get("event_id")
    if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
        raise InputError(
            "event_id is required (4-64 letters, digits, '.', '_', ':' or '-'): it keeps a "
            "retried event from counting twice"
        )
    item = _text(row, "item_id")
    query = _text(row, "query", MAX_QUERY) or _text(row, "search_term", MAX_QUERY)
    if stored == "search" and query is None:
        raise InputError("a search needs its query (search_term)")
    event: dict[str, Any] = {
        "event_id": EVENT_ID_PREFIX + client_id,
        "anonymous_id": batch.anonymous_id,
        "item_id": item,
        "event_type": stored,
        "timestamp": at,
        "order_id": _text(row, "order_id") or _text(row, "transaction_id"),
        "query": query,
    }
    for name in ("quantity", "price", "value"):
        number = _number(row, name)
        if number is not None:
            event[name] = number
    out.events.append((index, {k: v for k, v in event.items() if v is not None}))
