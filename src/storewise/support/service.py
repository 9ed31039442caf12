"""The support assistant over narrow ports: the customer's card from the data layer
(:class:`SupportFacts`), relevant picks (:class:`SupportRecommendations`), value and risk
(:class:`CustomerValue`), and answers with their facts filled in. It never sees the engine or
the other services: the composition root hands it these ports."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from storewise.errors import NotFitted, NotFound
from storewise.privacy.consent import ConsentPolicy
from storewise.recommend.results import RankedList
from storewise.support.assistant import Assistant, classify_file, load_kb
from storewise.support.context import CustomerCard, Fulfilment, build_card, catalog_words

MAX_CARD_EVENTS = 2000
#: A small starter knowledge base shipped with storewise (the demo's, and a template).
DEMO_KB = Path(__file__).parent / "demo_kb.md"


class SupportFacts(Protocol):
    """What the card reads about a customer (the store satisfies it)."""

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        """The profile with personal fields, or None."""
        ...

    def customer_history(self, customer_id: str, *, limit: int | None = None) -> pl.DataFrame:
        """The customer's events, oldest first."""
        ...

    def items(self) -> pl.DataFrame:
        """The catalog."""
        ...

    def change_seq(self) -> int:
        """Raised by every committed write: equal means the catalog is unchanged."""
        ...

    def consent_of(self, customer_id: str) -> dict[str, bool]:
        """The customer's recorded decision per purpose."""
        ...


class SupportRecommendations(Protocol):
    """Picks an agent can offer (the serving service satisfies it)."""

    def recommend(self, customer_id: str, n: int = 10) -> RankedList:
        """Personal recommendations (under the consent policy)."""
        ...

    def similar(self, item_id: str, n: int = 10) -> RankedList:
        """Items similar to one item."""
        ...


class CustomerValue(Protocol):
    """Segment, CLV and churn risk of a customer (marketing satisfies it)."""

    def customer_value(self, customer_id: str) -> dict[str, Any] | None:
        """The customer's value figures, or None without purchases."""
        ...


class SupportService:
    """Knowledge base + intent model (from the support folder) answering with context."""

    def __init__(
        self,
        facts: SupportFacts,
        recommendations: SupportRecommendations,
        value: CustomerValue,
        *,
        folder: Path,
        policy: ConsentPolicy,
        fulfilment: Fulfilment | None = None,
        clock: Callable[[], datetime] | None = None,
        max_card_events: int = MAX_CARD_EVENTS,
    ) -> None:
        self.facts = facts
        self.recommendations = recommendations
        self.value = value
        self.policy = policy
        self.folder = folder
        self._catalog: tuple[int, pl.DataFrame, dict[str, dict[str, Any]]] | None = None
        self.fulfilment = fulfilment or Fulfilment()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.max_card_events = max_card_events
        self._assistant: Assistant | None = None
        self._loaded_mtime = 0.0
        self._words: tuple[int, frozenset[str]] = (0, frozenset())

    def _stamp(self) -> float:
        marker = self.folder / "kb.json"
        return marker.stat().st_mtime if marker.exists() else 0.0

    @property
    def assistant(self) -> Assistant:
        """The loaded assistant (reloaded when ``load-kb`` replaced the knowledge base)."""
        stamp = self._stamp()
        if self._assistant is None or stamp != self._loaded_mtime:
            self._assistant = Assistant.load(self.folder)
            self._loaded_mtime = stamp
        return self._assistant

    def load_kb(self, files: list[Path]) -> dict[str, Any]:
        """Read knowledge-base files, train the intent model and save it for serving."""
        assistant = load_kb(files, self.folder)
        self._assistant = assistant
        self._loaded_mtime = self._stamp()
        kb = assistant.kb
        return {
            "folder": str(self.folder),
            "entries": len(kb.entries),
            "intents": len({e.intent for e in kb.entries}),
        }

    def _items(self) -> tuple[pl.DataFrame, dict[str, dict[str, Any]]]:
        """The catalog (frame and rows by id), read again only after a write to the store:
        cards are built per support message and must not reread every item each time."""
        seq = self.facts.change_seq()
        if self._catalog is None or self._catalog[0] != seq:
            items = self.facts.items()
            rows = items.select("item_id", "title", "price", "in_stock", "category").to_dicts()
            self._catalog = (seq, items, {row["item_id"]: row for row in rows})
        return self._catalog[1], self._catalog[2]

    def card(self, customer_id: str | None, *, full_history: bool = False) -> CustomerCard:
        """Everything an agent should see about a customer (empty card when unknown), from
        their latest ``max_card_events`` events, or all of them with ``full_history``."""
        if not customer_id:
            return CustomerCard.unknown(None)
        limit = None if full_history else self.max_card_events
        store = self.facts
        profile = store.customer(customer_id)
        events = store.customer_history(customer_id, limit=limit)
        if profile is None and events.height == 0:
            return CustomerCard.unknown(customer_id)
        items, catalog = self._items()
        titled = events.join(items.select("item_id", "title"), on="item_id", how="left")
        stamp = int(items["title"].hash().sum()) ^ items.height if items.height else 0
        if stamp != self._words[0]:
            self._words = (stamp, catalog_words(catalog))
        insights = self.value.customer_value(customer_id) or {}
        consents = store.consent_of(customer_id)
        picks = (
            self._picks(customer_id, events)
            if self.policy.allows(consents, "personalization")
            else []
        )
        return build_card(
            customer_id,
            titled,
            profile=profile,
            insights=insights,
            consents=consents,
            catalog=catalog,
            recommendations=picks,
            as_of=self.clock(),
            fulfilment=self.fulfilment,
            product_words=self._words[1],
            complete_history=limit is None or events.height < limit,
        )

    def _picks(self, customer_id: str, events: pl.DataFrame) -> list[dict[str, Any]]:
        """In-stock alternatives to the latest returned item, else the customer's picks."""
        serving = self.recommendations
        try:
            returns = events.filter(pl.col("event_type") == "return")
            if returns.height:
                returned = str(returns.sort("ts")["item_id"][-1])
                answer = serving.similar(returned, 5)
                reason = "an in-stock alternative to an item you returned"
                return [
                    {"item_id": r.item_id, "title": r.title, "reason": reason} for r in answer.items
                ]
            answer = serving.recommend(customer_id, 5)
        except (NotFitted, NotFound):  # no model yet, or an item the model does not know
            return []
        return [
            {"item_id": r.item_id, "title": r.title, "reason": r.reasons[0] if r.reasons else None}
            for r in answer.items
        ]

    def classify_file(self, messages: Path, out: Path) -> int:
        """Classify a file of messages (one per line) into a CSV; returns how many."""
        return classify_file(messages, out, self.assistant)

    def suggest(self, customer_id: str | None, message: str) -> dict[str, Any]:
        """Intent, confidence, filled answers, card, priority and next actions.

        The card holds the customer's latest events; when the message names an order number,
        item or date that is not among them, the whole history is read and the message
        answered again, so an old order is found rather than reported missing.
        """
        assistant = self.assistant
        card = self.card(customer_id)
        suggestion = assistant.suggest(message, card)
        match = suggestion.order
        missed = match.how in ("unknown_number", "no_match") or match.missing_date is not None
        if customer_id and not card.complete_history and missed:
            suggestion = assistant.suggest(message, self.card(customer_id, full_history=True))
        return suggestion.model_dump(mode="json")
