"""Answer suggestions for a support agent, filled with the writing customer's facts.

:meth:`Assistant.suggest` takes a message and the customer's :class:`CustomerCard` and
returns a :class:`Suggestion`: the recognised intent and its confidence (below the
threshold: ``needs_human``), the best KB answers with the customer's facts filled in, the
order the customer most likely means, suggested next actions and a priority.

Which order: one whose number appears in the message; else the order holding the item the
message names best (title words, plural-insensitive); else the most recent order. The
refund amount of a return is price x quantity of the matched lines (the order total when no
line was named). Order-related answers that do not mention the order start with a short
"Your order A100 of 1 June 2024: 2 × Lantern." line.

When the intent is uncertain (``needs_human``) the answers come only from intents at least
``min_answer_probability`` likely, often none: a human reads the message, the card and the
"escalate" action instead of a guess.

A support folder (``storewise support load-kb FILE`` writes it) holds ``kb.json``,
``intents.json`` and ``intents.npz``; :func:`load_kb` creates it, :meth:`Assistant.load`
reads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from storewise.errors import ArtifactError, InputError
from storewise.privacy.spreadsheet import csv_writer
from storewise.support.context import CustomerCard, OrderLine, OrderSummary
from storewise.support.fill import ShopFacts, fill_placeholders
from storewise.support.intents import (
    INTENTS_ARRAYS,
    INTENTS_FILENAME,
    Classification,
    IntentConfig,
    IntentModel,
    IntentPrediction,
)
from storewise.support.kb import KnowledgeBase, read_kb
from storewise.support.retrieve import Retriever, tokenize

__all__ = [
    "Action",
    "Assistant",
    "AssistantConfig",
    "OrderMatch",
    "Priority",
    "SuggestedAnswer",
    "Suggestion",
    "classify_file",
    "classify_messages",
    "load_kb",
    "resolve_order",
]

Priority = Literal["low", "normal", "high"]
ActionKind = Literal["refund", "replacement", "cancel_order", "goodwill_coupon", "escalate"]


class AssistantConfig(BaseModel):
    """Business rules of the assistant: limits, value/risk thresholds, intent roles."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    top_k: int = Field(default=3, ge=1, le=20, description="answers per suggestion")
    max_message_chars: int = Field(default=5000, ge=1, description="longer messages are refused")
    high_value_clv: float = Field(default=1000.0, description="CLV from which a customer is VIP")
    high_value_spent: float = Field(default=1000.0, description="or total spent from which")
    churn_risk_high: float = Field(default=0.5, ge=0, le=1, description="at-risk from this risk")
    high_value_segments: frozenset[str] = frozenset({"champions", "loyal", "vip", "high_value"})
    at_risk_segments: frozenset[str] = frozenset(
        {"at_risk", "cant_lose", "about_to_sleep", "hibernating", "need_attention"}
    )
    coupon_percent: int = Field(default=10, ge=1, le=100, description="goodwill coupon size")
    refund_intents: frozenset[str] = frozenset(
        {"get_refund", "refund", "request_refund", "return", "return_item", "return_order"}
    )
    cancel_intents: frozenset[str] = frozenset({"cancel_order", "cancel"})
    complaint_intents: frozenset[str] = frozenset(
        {"complaint", "damaged_item", "missing_item", "wrong_item"}
    )
    human_intents: frozenset[str] = frozenset({"contact_human_agent", "contact_customer_service"})
    privacy_intents: frozenset[str] = frozenset({"delete_account"})
    other_urgent_intents: frozenset[str] = frozenset({"track_refund", "payment_issue"})
    order_intents: frozenset[str] = frozenset(
        {
            "track_order",
            "change_order",
            "delivery_period",
            "get_invoice",
            "check_invoice",
            "change_shipping_address",
            "where_is_my_order",
        }
    )
    low_intents: frozenset[str] = frozenset({"newsletter_subscription", "review"})
    min_answer_probability: float = Field(
        default=0.4,
        ge=0,
        le=1,
        description="when a human must take over, answers only from intents this probable",
    )
    personal_preface: bool = Field(
        default=True, description="start order answers with the order's number, date and items"
    )

    @property
    def urgent_intents(self) -> frozenset[str]:
        """Intents that make a valuable or at-risk customer's message high priority."""
        return (
            self.refund_intents
            | self.cancel_intents
            | self.complaint_intents
            | self.other_urgent_intents
        )


class SuggestedAnswer(BaseModel):
    """One answer the agent can send, already personalised."""

    model_config = ConfigDict(frozen=True)

    text: str
    score: float
    intent: str


class Action(BaseModel):
    """A next step the agent may take, with why."""

    model_config = ConfigDict(frozen=True)

    kind: ActionKind
    label: str
    reason: str
    order_id: str | None = None
    item_ids: list[str] = Field(default_factory=list)
    amount: float | None = None
    percent: int | None = None


class OrderMatch(BaseModel):
    """The order a message most likely refers to, and how it was found."""

    model_config = ConfigDict(frozen=True)

    order: OrderSummary | None = None
    lines: list[OrderLine] = Field(default_factory=list, description="the items named")
    how: Literal["number", "item", "recent", "unknown_number", "none"] = "none"
    mentioned_number: str | None = None


class Suggestion(BaseModel):
    """What the agent sees next to a customer's message."""

    intent: str
    confidence: float
    needs_human: bool
    answers: list[SuggestedAnswer]
    card: CustomerCard
    priority: Priority
    actions: list[Action]
    order: OrderMatch
    alternatives: list[tuple[str, float]] = Field(default_factory=list)


_ORDER_REF = re.compile(
    r"(?:\b(?:order|purchase|invoice|parcel|package)\s*(?:number|no\.?|id|#)?|#)\s*[:#]?\s*"
    r"([A-Za-z0-9][A-Za-z0-9-]*\d[A-Za-z0-9-]*)",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{1,}")
_GENERIC_TITLE_WORDS = frozenset(
    {
        "set",
        "pack",
        "piece",
        "size",
        "small",
        "large",
        "medium",
        "new",
        "with",
        "and",
        "for",
        "the",
        "of",
        "in",
    }
)


def _norm_id(value: str) -> str:
    value = value.strip().lstrip("#").lower()
    return (value.lstrip("0") or value) if value.isdigit() else value


def _title_words(text: str) -> set[str]:
    return {t for t in tokenize(text) if len(t) >= 3 and not t.isdigit()} - _GENERIC_TITLE_WORDS


def resolve_order(message: str, card: CustomerCard) -> OrderMatch:
    """Find the order a message is about: by number, by item named, else the latest."""
    by_id = {_norm_id(o.order_id): o for o in card.orders if o.order_id}
    for token in _TOKEN.findall(message):
        order = by_id.get(_norm_id(token))
        if order is not None:
            return OrderMatch(order=order, lines=_named_lines(message, [order])[1], how="number")
    mentioned = _ORDER_REF.search(message)
    order, lines = _named_lines(message, card.orders)
    if order is not None:
        return OrderMatch(order=order, lines=lines, how="item")
    if mentioned:
        return OrderMatch(how="unknown_number", mentioned_number=mentioned.group(1)[:40])
    if card.orders:
        return OrderMatch(order=card.orders[0], how="recent")
    return OrderMatch()


def _named_lines(
    message: str, orders: list[OrderSummary]
) -> tuple[OrderSummary | None, list[OrderLine]]:
    """The order (most recent among ties) with the lines whose titles the message names."""
    words = _title_words(message)
    best: tuple[float, OrderSummary | None, list[OrderLine]] = (0.0, None, [])
    for order in orders:  # most recent first: strict > keeps the latest on ties
        scored = []
        for line in order.items:
            title = _title_words(line.title or "")
            hits = len(words & title)
            if hits:
                scored.append((hits + hits / len(title), line))
        if not scored:
            continue
        top = max(score for score, _ in scored)
        if top > best[0]:
            best = (top, order, [line for score, line in scored if score == top])
    return best[1], best[2]


def _money(value: float, currency: str) -> str:
    return f"{currency}{value:,.2f}"


def _day(value: date | datetime) -> str:
    return f"{value.day} {value:%B %Y}"


def _items_text(lines: list[OrderLine]) -> str | None:
    names = []
    for line in lines:
        title = line.title or line.item_id
        qty = int(line.quantity) if float(line.quantity).is_integer() else line.quantity
        names.append(title if qty == 1 else f"{qty} × {title}")
    if not names:
        return None
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _facts(card: CustomerCard, match: OrderMatch, currency: str) -> dict[str, str]:
    facts: dict[str, str] = {}
    if card.name:
        facts["customer_name"] = card.name
    if match.mentioned_number:
        facts["order_number"] = match.mentioned_number
    order = match.order
    if order is None:
        return facts
    if order.order_id:
        facts["order_number"] = order.order_id
    facts["order_date"] = _day(order.date)
    if order.expected_delivery:
        facts["delivery_date"] = _day(order.expected_delivery)
    lines = match.lines or order.items
    items = _items_text(lines)
    if items:
        facts["order_items"] = items
    facts["order_total"] = _money(order.total, currency)
    facts["refund_amount"] = _money(sum(line.amount for line in lines), currency)
    return facts


class Assistant:
    """Suggests personalised answers, next actions and a priority for a customer message."""

    def __init__(
        self,
        kb: KnowledgeBase,
        intents: IntentModel,
        retriever: Retriever,
        *,
        config: AssistantConfig | None = None,
        shop: ShopFacts | None = None,
    ) -> None:
        self.kb = kb
        self.intents = intents
        self.retriever = retriever
        self.config = config or AssistantConfig()
        self.shop = shop or ShopFacts()

    @classmethod
    def from_kb(
        cls,
        kb: KnowledgeBase,
        *,
        intent_config: IntentConfig | None = None,
        config: AssistantConfig | None = None,
        shop: ShopFacts | None = None,
    ) -> Assistant:
        """Train the intent model and index the KB (a few seconds for 5,000 examples)."""
        intents = IntentModel(intent_config).fit(kb)
        return cls(kb, intents, Retriever().fit(kb), config=config, shop=shop)

    def save(self, folder: str | Path) -> Path:
        """Write the KB and the intent model into ``folder``; returns the folder."""
        target = Path(folder)
        self.intents.save(target)
        self.kb.save(target)
        return target

    @classmethod
    def load(
        cls,
        folder: str | Path,
        *,
        config: AssistantConfig | None = None,
        shop: ShopFacts | None = None,
    ) -> Assistant:
        """Open a support folder; NotFitted saying how to load a KB when there is none.

        The intent model is refitted from the KB when its files are missing or were fitted
        on another KB; ArtifactError if they are corrupt.
        """
        target = Path(folder)
        kb = KnowledgeBase.load(target)
        intents: IntentModel | None = None
        if (target / INTENTS_FILENAME).is_file() and (target / INTENTS_ARRAYS).is_file():
            intents = IntentModel.load(target)
            if intents.kb_checksum_ != kb.checksum():
                intents = None
        if intents is None:
            intents = IntentModel().fit(kb)
        return cls(kb, intents, Retriever().fit(kb), config=config, shop=shop)

    def _check(self, message: str) -> str:
        if not isinstance(message, str):
            raise InputError("the message must be text")
        text = message.strip()
        if not text:
            raise InputError("empty message: there is nothing to answer")
        limit = self.config.max_message_chars
        if len(text) > limit:
            raise InputError(f"message of {len(text)} characters; the limit is {limit}")
        return text

    def classify(self, messages: Iterable[str]) -> list[Classification]:
        """Batch intent routing: (message, intent or None when a human should answer, conf)."""
        return classify_messages(messages, self)

    def personalize(self, answer: str, card: CustomerCard | None = None, message: str = "") -> str:
        """One KB answer with the facts of ``card`` (and the order ``message`` names) filled."""
        card = card or CustomerCard.unknown()
        facts = _facts(card, resolve_order(message, card), self.shop.currency)
        return fill_placeholders(answer, facts, self.shop)

    def suggest(self, message: str, card: CustomerCard | None = None) -> Suggestion:
        """Suggest answers, actions and a priority for one message from one customer."""
        text = self._check(message)
        card = card or CustomerCard.unknown()
        prediction = self.intents.predict(text)
        config = self.config
        if prediction.needs_human:
            likely = {
                intent: p
                for intent, p in prediction.alternatives
                if p >= config.min_answer_probability
            }
            found = (
                self.retriever.search(text, k=config.top_k, intent_probs=likely, restrict=True)
                if likely
                else []
            )
        else:
            found = self.retriever.search(text, k=config.top_k, intent=prediction.intent)
        match = resolve_order(text, card)
        facts = _facts(card, match, self.shop.currency)
        preface = self._preface(prediction, match) if config.personal_preface else ""
        answers = []
        for hit in found:
            body = fill_placeholders(hit.text, facts, self.shop)
            if preface and facts.get("order_number", "\x00") not in body:
                intro = fill_placeholders(preface, facts, self.shop)
                body = f"{intro}\n\n{body}" if intro and body else body or intro
            if body:
                answers.append(SuggestedAnswer(text=body, score=hit.score, intent=hit.intent))
        return Suggestion(
            intent=prediction.intent,
            confidence=prediction.confidence,
            needs_human=prediction.needs_human,
            answers=answers,
            card=card,
            priority=self._priority(prediction, card),
            actions=self._actions(prediction, card, match, text),
            order=match,
            alternatives=list(prediction.alternatives),
        )

    def _preface(self, prediction: IntentPrediction, match: OrderMatch) -> str:
        config = self.config
        if prediction.needs_human or match.order is None:
            return ""
        intent = prediction.intent
        if intent in config.refund_intents and match.lines:
            return (
                "Your order {{Order Number}} of {{Order Date}}: {{Order Items}} "
                "(refund amount {{Refund Amount}})."
            )
        if intent in config.order_intents | config.urgent_intents:
            return "Your order {{Order Number}} of {{Order Date}}: {{Order Items}}."
        return ""

    def _segments(self, card: CustomerCard) -> tuple[bool, bool]:
        """(high value, at risk) of the card's customer under this config."""
        config = self.config
        segment = (card.segment or "").lower()
        high_value = (
            (card.clv is not None and card.clv >= config.high_value_clv)
            or card.total_spent >= config.high_value_spent
            or segment in config.high_value_segments
        )
        at_risk = (
            card.churn_risk is not None and card.churn_risk >= config.churn_risk_high
        ) or segment in config.at_risk_segments
        return high_value, at_risk

    def _priority(self, prediction: IntentPrediction, card: CustomerCard) -> Priority:
        high_value, at_risk = self._segments(card)
        urgent = not prediction.needs_human and prediction.intent in self.config.urgent_intents
        if urgent and (high_value or at_risk or card.open_issues):
            return "high"
        if not prediction.needs_human and prediction.intent in self.config.low_intents:
            return "low"
        return "normal"

    def _actions(
        self, prediction: IntentPrediction, card: CustomerCard, match: OrderMatch, text: str
    ) -> list[Action]:
        config = self.config
        actions: list[Action] = []
        intent = None if prediction.needs_human else prediction.intent
        order = match.order
        order_id = order.order_id if order else match.mentioned_number
        lines = match.lines or (order.items if order else [])
        item_ids = [line.item_id for line in lines]
        amount = round(sum(line.amount for line in lines), 2) if lines else None
        if intent in config.refund_intents and order is not None:
            actions.append(
                Action(
                    kind="refund",
                    label=f"Refund {_items_text(lines) or 'the order'}",
                    reason="the customer asks for a refund or return",
                    order_id=order_id,
                    item_ids=item_ids,
                    amount=amount,
                )
            )
        if (intent in config.refund_intents | config.complaint_intents) and match.lines:
            actions.append(
                Action(
                    kind="replacement",
                    label=f"Send a replacement for {_items_text(match.lines)}",
                    reason="the message names an item of the order",
                    order_id=order_id,
                    item_ids=[line.item_id for line in match.lines],
                )
            )
        if intent in config.cancel_intents and order is not None:
            actions.append(
                Action(
                    kind="cancel_order",
                    label=f"Cancel order {order_id or 'of ' + _day(order.date)}",
                    reason="the customer asks to cancel",
                    order_id=order_id,
                    item_ids=[line.item_id for line in order.items],
                    amount=order.total,
                )
            )
        high_value, at_risk = self._segments(card)
        if intent in config.urgent_intents and high_value and at_risk:
            actions.append(
                Action(
                    kind="goodwill_coupon",
                    label=f"Offer a {config.coupon_percent}% goodwill coupon",
                    reason="a high-value customer at risk of churning has a problem",
                    order_id=order_id,
                    percent=config.coupon_percent,
                )
            )
        escalate = self._escalation(prediction, card, intent)
        if escalate:
            actions.append(
                Action(kind="escalate", label="Hand over to a human agent", reason=escalate)
            )
        return actions

    def _escalation(
        self, prediction: IntentPrediction, card: CustomerCard, intent: str | None
    ) -> str | None:
        config = self.config
        if prediction.needs_human:
            return (
                f"not sure what the customer wants (confidence {prediction.confidence:.2f}); "
                "the message may be outside the knowledge base or in another language"
            )
        if intent in config.human_intents:
            return "the customer asks for a person"
        if intent in config.privacy_intents:
            return "account deletion is a privacy request: handle it with the erasure procedure"
        if intent in config.complaint_intents and self._priority(prediction, card) == "high":
            return "complaint from a high-value or at-risk customer"
        return None


def classify_messages(
    lines: Iterable[str], model: Assistant | IntentModel, *, max_chars: int | None = None
) -> list[Classification]:
    """Classify a batch of messages: (message, intent or None = human, confidence).

    Blank lines are skipped; a line over ``max_chars`` (default: the assistant's limit,
    5,000) raises InputError naming its line number.
    """
    intents = model.intents if isinstance(model, Assistant) else model
    limit = max_chars or (model.config.max_message_chars if isinstance(model, Assistant) else 5000)
    messages: list[str] = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        if len(text) > limit:
            raise InputError(f"line {number}: message of {len(text)} characters; limit {limit}")
        messages.append(text)
    return intents.classify(messages)


def classify_file(messages: str | Path, out: str | Path, model: Assistant | IntentModel) -> int:
    """Classify a UTF-8 file of one message per line into a CSV; returns the row count."""
    source = Path(messages)
    if not source.is_file():
        raise InputError(f"{source}: file not found")
    try:
        text = source.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not UTF-8 text (byte {exc.start})") from exc
    rows = classify_messages(text.splitlines(), model)
    with Path(out).open("w", encoding="utf-8", newline="") as handle:
        writer = csv_writer(handle)
        writer.writerow(["message", "intent", "confidence"])
        for row in rows:
            writer.writerow([row.message, row.intent or "", f"{row.confidence:.4f}"])
    return len(rows)


def load_kb(
    files: str | Path | Sequence[str | Path],
    folder: str | Path,
    *,
    intent_config: IntentConfig | None = None,
    config: AssistantConfig | None = None,
    shop: ShopFacts | None = None,
) -> Assistant:
    """Read KB file(s) (CSV/Markdown/kb.json, merged in order), train, save into ``folder``.

    This is ``storewise support load-kb FILE [FILE...]``; returns the ready assistant.
    """
    paths = [files] if isinstance(files, str | Path) else list(files)
    if not paths:
        raise InputError("no knowledge-base file given")
    first, *rest = [read_kb(path) for path in paths]
    kb = first.merge(*rest)
    assistant = Assistant.from_kb(kb, intent_config=intent_config, config=config, shop=shop)
    try:
        assistant.save(folder)
    except OSError as exc:
        raise ArtifactError(f"cannot write the support folder '{folder}': {exc}") from exc
    return assistant
