"""The collect service: what a shop's web pages send (``storewise.js`` through a publishable
key), and the public lists its widgets show.

It takes ports, like marketing and support, so it never reaches into the engine, the other
services or the store's implementation:

- :class:`Records` (the ingest service): browser events are stored by the same rules as every
  other door, with the same per-row report;
- :class:`Identities` (the customers service): identify at login, consent records;
- :class:`ServedLists` (the experiments service): every public list is tagged and logged, and
  impressions and clicks are stored against it;
- :class:`Lists` (the serving service) and :class:`Facts` (the store: who an anonymous id
  belongs to, the catalog).

What a publishable key may do is decided here and in the API's scope check: write events of
the batch's anonymous id (never naming a customer), identify that anonymous id, record the
visitor's consent once identified, report feedback on lists, and read public lists (item ids,
titles, prices, image and page URLs, reasons, the recommendation id; nothing about a customer).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

from storewise.collect.bots import is_bot
from storewise.collect.identity import IdentitySigner
from storewise.collect.limits import CollectLimits, RateLimiter
from storewise.collect.public import CatalogCache, PublicCatalog
from storewise.collect.rows import Batch, Sorted, read_batch, sort_rows
from storewise.collect.snippet import Snippet, load_snippet
from storewise.errors import InputError, NotFound
from storewise.recommend.results import RankedList
from storewise.recommend.rules import RuleSet

#: The placements a widget may show (``data-storewise="..."``).
PLACEMENTS = ("for-you", "buy-again", "similar", "bought-together", "trending")
#: Most items one widget shows, and most basket items it may name.
MAX_PUBLIC_N = 24
MAX_BASKET = 20
SOURCE = "web"
BOT_REASON = "bot or crawler user agent: dropped, not stored"
UNSIGNED_REASON = (
    "identify needs the shop server's signature of the customer id (HMAC-SHA256 under the "
    "key's identity secret: storewise keys identity-secret KEY_ID)"
)


class RecordsOutcome(Protocol):
    """What the ingest door reports for a batch of records."""

    received: int
    stored: int
    duplicates: int
    rejected: list[dict[str, Any]]
    linked: int

    @property
    def repaired(self) -> Mapping[str, int]: ...


class Records(Protocol):
    """The ingest service's record door."""

    def records(
        self, kind: str, records: Sequence[dict[str, Any]], *, source: str = "api"
    ) -> RecordsOutcome: ...


class FeedbackOutcome(Protocol):
    """What the exposure log reports for a batch of impressions and clicks."""

    stored: int
    duplicates: int
    rejected: list[dict[str, Any]]


class VariantLike(Protocol):
    """An experiment arm: another model of the served bundle and/or rules."""

    @property
    def model(self) -> str | None: ...

    def under(self, rules: RuleSet | None) -> RuleSet: ...


class ServedLists(Protocol):
    """The experiments service: serve (tag, assign, log) and store feedback."""

    def serve(
        self,
        placement: str,
        unit_id: str | None,
        produce: Callable[[Any], RankedList],
        *,
        customer: bool = True,
    ) -> RankedList: ...

    def feedback(self, rows: Iterable[Mapping[str, Any]]) -> FeedbackOutcome: ...


class Lists(Protocol):
    """The serving service's lists."""

    def recommend(
        self,
        customer_id: str,
        n: int = 10,
        *,
        scenario: str = "for-you",
        rules: RuleSet | None = None,
        model: str | None = None,
    ) -> RankedList: ...

    def recommend_session(
        self,
        anonymous_id: str,
        n: int = 10,
        *,
        rules: RuleSet | None = None,
        model: str | None = None,
    ) -> RankedList: ...

    def similar(self, item_id: str, n: int = 10, *, rules: RuleSet | None = None) -> RankedList: ...

    def basket(
        self, item_ids: Sequence[str], n: int = 10, *, rules: RuleSet | None = None
    ) -> RankedList: ...

    def trending(self, n: int = 10, *, rules: RuleSet | None = None) -> RankedList: ...


class Identities(Protocol):
    """The customers service: login links and consent decisions."""

    def identify(self, anonymous_id: str, customer_id: str) -> dict[str, Any]: ...

    def set_consents(
        self, customer_id: str, decisions: Mapping[str, bool], *, source: str = "api"
    ) -> dict[str, bool]: ...


class Facts(Protocol):
    """The store: whose an anonymous id is, and the catalog."""

    def resolve_anonymous(self, anonymous_id: str) -> str | None: ...

    def items(self) -> pl.DataFrame: ...


@dataclass
class CollectReport:
    """Where every row of a batch went: ``received`` equals the sum of the others.

    ``stored``/``duplicates`` count item events (a duplicate is a retry: same event id) and
    feedback repeats; ``feedback`` the impressions and clicks stored; ``identified`` the logins
    linked; ``consents`` the consent records written; ``not_stored`` lists rows accepted but
    not kept (page events, bots, consent of a visitor not identified yet) and ``rejected`` the
    rows refused, each with its position and reason.
    """

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    feedback: int = 0
    identified: int = 0
    consents: int = 0
    not_stored: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    repaired: dict[str, int] = field(default_factory=dict)
    identities_linked: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, rows in batch order."""
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "feedback": self.feedback,
            "identified": self.identified,
            "consents": self.consents,
            "not_stored": sorted(self.not_stored, key=lambda r: int(r["index"])),
            "rejected": sorted(self.rejected, key=lambda r: int(r["index"])),
            "repaired": dict(self.repaired),
            "identities_linked": self.identities_linked,
        }


def _now_ms() -> int:
    return int(time.time() * 1000)


def _variant_rules(variant: VariantLike | None) -> RuleSet | None:
    return variant.under(None) if variant is not None else None


def _variant_model(variant: VariantLike | None) -> str | None:
    return variant.model if variant is not None else None


class Collect:
    """The browser door and the widgets' public lists (see the module docstring)."""

    def __init__(
        self,
        *,
        records: Records,
        identities: Identities,
        served: ServedLists,
        lists: Lists,
        facts: Facts,
        signer: IdentitySigner,
        limits: CollectLimits | None = None,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        """``signer`` checks that a login named by a page was signed by the shop's server."""
        self.signer = signer
        self.records = records
        self.identities = identities
        self.served = served
        self.lists = lists
        self.facts = facts
        self.limits = limits or CollectLimits()
        self.clock = clock
        self.rate = RateLimiter(self.limits)
        self.catalog = CatalogCache(facts.items)

    # -- the door ------------------------------------------------------------------------------
    def admit(self, key_id: str, address: str | None) -> float:
        """0.0 when a request of this key from this address may go on, else the seconds
        until it may (the rate limits of :mod:`storewise.collect.limits`)."""
        return self.rate.admit(key_id, address)

    def read(self, body: bytes) -> Batch:
        """A request body as a batch: InputError (422) when it is not one,
        ``BatchTooLarge`` (413) past the batch limit."""
        return read_batch(body, max_batch=self.limits.max_batch)

    def accept(self, batch: Batch, *, user_agent: str | None, key_id: str) -> CollectReport:
        """Store what a page sent through the publishable key ``key_id`` and say where every
        row went. A bot's rows are all reported dropped and nothing of them is stored; an
        identify without the shop server's signature is refused."""
        report = CollectReport(received=len(batch.rows))
        if is_bot(user_agent):
            report.not_stored = [{"index": i, "reason": BOT_REASON} for i in range(report.received)]
            return report
        rows = sort_rows(batch, now_ms=self.clock())
        report.not_stored.extend(rows.not_stored)
        report.rejected.extend(rows.rejected)
        self._events(rows, report)
        self._feedback(rows, report)
        if batch.anonymous_id is not None:
            self._identify(batch.anonymous_id, rows, report, key_id)
        return report

    def _events(self, rows: Sorted, report: CollectReport) -> None:
        """Item events: known catalog items only, through the ingest door."""
        if not rows.events:
            return
        catalog = self.catalog.current()
        named = (e.get("item_id") for _, e in rows.events)
        unknown = next((i for i in named if i is not None and i not in catalog.facts), None)
        if unknown is not None:  # perhaps an item added since the catalog was read
            catalog = self.catalog.current(missing=unknown)
        kept: list[tuple[int, dict[str, Any]]] = []
        for index, event in rows.events:
            item = event.get("item_id")
            facts = catalog.get(item) if item is not None else None
            if item is not None and facts is None:
                report.rejected.append(
                    {"index": index, "reason": "unknown item_id (not in the shop's catalog)"}
                )
                continue
            price = facts["price"] if facts else None
            if event["event_type"] == "purchase" and "price" not in event and price is not None:
                event["price"] = price
            kept.append((index, event))
        if not kept:
            return
        outcome = self.records.records("events", [e for _, e in kept], source=SOURCE)
        report.stored += outcome.stored
        report.duplicates += outcome.duplicates
        report.identities_linked += outcome.linked
        for reason, count in outcome.repaired.items():
            report.repaired[reason] = report.repaired.get(reason, 0) + int(count)
        report.rejected.extend(
            {"index": kept[int(r["index"])][0], "reason": r["reason"]} for r in outcome.rejected
        )

    def _feedback(self, rows: Sorted, report: CollectReport) -> None:
        """Impressions and clicks, stored once however often a browser retries them."""
        if not rows.feedback:
            return
        outcome = self.served.feedback([f for _, f in rows.feedback])
        report.feedback += outcome.stored
        report.duplicates += outcome.duplicates
        report.rejected.extend(
            {"index": rows.feedback[int(r["row"])][0], "reason": r["reason"]}
            for r in outcome.rejected
        )

    def _identify(
        self, anonymous_id: str, rows: Sorted, report: CollectReport, key_id: str
    ) -> None:
        """Logins (with the consent given to the page) and later consent decisions, in the
        order the page sent them."""
        steps: list[tuple[int, str | None, dict[str, bool]]] = [
            *rows.identify,
            *((index, None, decisions) for index, decisions in rows.consent),
        ]
        for index, customer_id, decisions in sorted(steps, key=lambda s: s[0]):
            if customer_id is not None:
                if not self.signer.verify(key_id, customer_id, rows.signatures.get(index)):
                    report.rejected.append({"index": index, "reason": UNSIGNED_REASON})
                    continue
                self._login(index, anonymous_id, customer_id, decisions, report)
                continue
            owner = self.facts.resolve_anonymous(anonymous_id)
            if owner is None:
                report.not_stored.append(
                    {
                        "index": index,
                        "reason": "visitor not identified: the decision stays in the page "
                        "until identify",
                    }
                )
                continue
            self.identities.set_consents(owner, decisions, source=SOURCE)
            report.consents += 1

    def _login(
        self,
        index: int,
        anonymous_id: str,
        customer_id: str,
        decisions: dict[str, bool],
        report: CollectReport,
    ) -> None:
        linked = self.identities.identify(anonymous_id, customer_id)
        if linked.get("already_linked_to_another"):
            report.not_stored.append(
                {
                    "index": index,
                    "reason": "this browser's anonymous id belongs to another account: "
                    "call storewise.reset() at logout",
                }
            )
            return
        report.identified += 1
        report.identities_linked += int(linked.get("events_linked") or 0)
        if decisions:
            self.identities.set_consents(customer_id, decisions, source=SOURCE)

    # -- public lists --------------------------------------------------------------------------
    def public_list(
        self,
        placement: str,
        *,
        anonymous_id: str | None = None,
        n: int = 8,
        item_id: str | None = None,
        item_ids: Sequence[str] = (),
    ) -> dict[str, Any]:
        """A widget's list: served (tagged, logged) and reduced to public catalog facts.

        ``anonymous_id`` (sent by the snippet only with the visitor's consent) personalises
        ``for-you`` from the session, or from the account once identified; ``buy-again`` needs
        an identified visitor and is empty otherwise. ``similar`` needs ``item_id``,
        ``bought-together`` ``item_ids``.
        """
        if placement not in PLACEMENTS:
            raise InputError(f"unknown placement {placement!r}; choose one of {PLACEMENTS}")
        if not 1 <= n <= MAX_PUBLIC_N:
            raise InputError(f"n must be between 1 and {MAX_PUBLIC_N}")
        customer = self.facts.resolve_anonymous(anonymous_id) if anonymous_id else None
        unit, is_customer = (customer, True) if customer else (anonymous_id, False)
        lists = self.lists
        answer: RankedList | None
        if placement == "for-you":
            answer = self._for_you(customer, anonymous_id, n)
        elif placement == "buy-again":
            answer = (
                self.served.serve(
                    "buy-again",
                    customer,
                    lambda v: lists.recommend(
                        customer, n, scenario="buy-again", rules=_variant_rules(v)
                    ),
                )
                if customer
                else None
            )
        elif placement == "similar":
            if not item_id:
                raise InputError("similar needs the item (data-item)")
            answer = self.served.serve(
                "similar",
                unit,
                lambda v: lists.similar(item_id, n, rules=_variant_rules(v)),
                customer=is_customer,
            )
        elif placement == "bought-together":
            basket = list(dict.fromkeys(i for i in item_ids if i))
            if not basket or len(basket) > MAX_BASKET:
                raise InputError(f"bought-together needs 1 to {MAX_BASKET} items (data-items)")
            answer = self.served.serve(
                "bought-together",
                unit,
                lambda v: lists.basket(basket, n, rules=_variant_rules(v)),
                customer=is_customer,
            )
        else:
            answer = self.served.serve(
                "trending",
                unit,
                lambda v: lists.trending(n, rules=_variant_rules(v)),
                customer=is_customer,
            )
        return self._public(placement, answer)

    def _for_you(self, customer: str | None, anonymous_id: str | None, n: int) -> RankedList:
        lists = self.lists
        if customer:
            return self.served.serve(
                "for-you",
                customer,
                lambda v: lists.recommend(
                    customer, n, rules=_variant_rules(v), model=_variant_model(v)
                ),
            )
        if anonymous_id:
            return self.served.serve(
                "guest",
                anonymous_id,
                lambda v: lists.recommend_session(
                    anonymous_id, n, rules=_variant_rules(v), model=_variant_model(v)
                ),
                customer=False,
            )
        return self.served.serve(
            "guest", None, lambda v: lists.trending(n, rules=_variant_rules(v)), customer=False
        )

    def _public(self, placement: str, answer: RankedList | None) -> dict[str, Any]:
        """Only public facts: ids, titles, prices, image and page URLs, reasons, the tag."""
        if answer is None:
            return {"recommendation_id": None, "placement": placement, "items": []}
        catalog = self.catalog.current()
        items = []
        for rec in answer.items:
            facts = catalog.get(rec.item_id) or {"item_id": rec.item_id, "title": rec.title}
            items.append(
                {
                    "item_id": rec.item_id,
                    "title": facts.get("title") or rec.title or rec.item_id,
                    "price": facts.get("price"),
                    "currency": facts.get("currency"),
                    "image_url": facts.get("image_url"),
                    "url": facts.get("url"),
                    "reasons": list(rec.reasons),
                }
            )
        return {
            "recommendation_id": answer.recommendation_id,
            "placement": placement,
            "items": items,
        }

    # -- the shop's side -----------------------------------------------------------------------
    def products(self, *, limit: int = 24, offset: int = 0) -> list[dict[str, Any]]:
        """Public facts of in-stock products in catalog order (a demo shop's listing)."""
        catalog = self.catalog.current()
        chosen = catalog.products[max(offset, 0) : max(offset, 0) + max(limit, 0)]
        return [dict(catalog.facts[i]) for i in chosen]

    def product(self, item_id: str) -> dict[str, Any]:
        """One item's public facts; NotFound naming it."""
        found = self.catalog.current(missing=item_id).get(item_id)
        if found is None:
            raise NotFound(f"no item {item_id!r} in the catalog")
        return dict(found)

    def public_catalog(self) -> PublicCatalog:
        """The public catalog as this worker holds it."""
        return self.catalog.current()

    @staticmethod
    def snippet() -> Snippet:
        """``storewise.js`` with its version and ETag."""
        return load_snippet()
