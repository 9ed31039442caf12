"""Answer suggestions for a support agent, filled with the writing customer's facts.

:meth:`Assistant.suggest` takes a message and the customer's :class:`CustomerCard` and
returns a :class:`Suggestion`: the recognised intent and its confidence (below the
threshold: ``needs_human``), the best KB answers with the customer's facts filled in, the
order and lines the message refers to (``matched_order``, ``matched_items`` and a one-line
``match`` explanation, see :mod:`storewise.support.orders`), suggested next actions, a
priority and who should take over (``handoff``: ``billing`` or ``human``).

Answers use the matched order's real state and dates (``{{Order Status}}``: "left our
warehouse on 2 December 2010 and should have arrived by 7 December 2010", "was cancelled on
17 May 2011"). When the message names an item or an order number the customer does not have,
no order is matched and the answer says so instead of describing an unrelated order. A refund
is only suggested for the lines the customer named (or, for an order named by number, its
lines not yet cancelled or returned), never for a guess; a cancellation only while the order
has not left the warehouse. Order-related answers start with a short "Your order A100 of 1 June
2024 (2 × Lantern) was cancelled on 3 June 2024." line unless the KB answer tells the state
itself (it has an ``{{Order Status}}`` slot), or with what could not be found.

Two rules sit on top of the intent model, each for a reason the model cannot see:

* **double charges** ("charged twice", "double charge", "billed twice", "duplicate payment")
  go to the KB's billing intent (the first of ``double_charge_intents`` it has) and are
  handed to billing: money taken twice must never be answered as an order change, and a KB
  such as Bitext has no example of it;
* **out of scope**: a confident ``out_of_scope`` intent (:func:`load_kb` adds built-in
  examples, ``out_of_scope.md``: wifi passwords, jobs, weather) or any uncertain intent hands
  the message to a person.

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
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from storewise.errors import ArtifactError, InputError
from storewise.privacy.spreadsheet import csv_writer
from storewise.support.context import CustomerCard, OrderLine, OrderSummary
from storewise.support.fill import (
    ShopFacts,
    canonical_placeholder,
    fill_placeholders,
    placeholders,
)
from storewise.support.intents import (
    INTENTS_ARRAYS,
    INTENTS_FILENAME,
    Classification,
    IntentConfig,
    IntentModel,
    IntentPrediction,
)
from storewise.support.kb import KnowledgeBase, read_kb
from storewise.support.orders import (
    OrderMatch,
    day_text,
    items_text,
    resolve_order,
    status_text,
)
from storewise.support.retrieve import Retriever

__all__ = [
    "Action",
    "Assistant",
    "AssistantConfig",
    "Handoff",
    "OrderMatch",
    "Priority",
    "SuggestedAnswer",
    "Suggestion",
    "classify_file",
    "classify_messages",
    "is_double_charge",
    "load_kb",
    "resolve_order",
    "with_out_of_scope",
]

Priority = Literal["low", "normal", "high"]
Handoff = Literal["billing", "human"]
ActionKind = Literal[
    "refund", "replacement", "cancel_order", "billing_review", "goodwill_coupon", "escalate"
]


class AssistantConfig(BaseModel):
    """Business rules of the assistant: limits, value/risk thresholds, intent roles."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    top_k: int = Field(default=3, ge=1, le=20, description="answers per suggestion")
    max_message_chars: int = Field(default=5000, ge=1, description="longer messages are refused")
    high_value_clv: float = Field(default=1000.0, description="CLV from which a customer is VIP")
    high_value_spent: float = Field(default=1000.0, description="or total spent from which")
    churn_risk_high: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="at-risk from this chance of no purchase in the next 90 days (about half "
        "of a typical shop sits above 0.5)",
    )
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
    human_intents: frozenset[str] = frozenset(
        {"contact_human_agent", "contact_customer_service", "contact_human"}
    )
    out_of_scope_intents: frozenset[str] = Field(
        default=frozenset({"out_of_scope"}),
        description="intents meaning 'not something the shop's support answers': a person takes "
        "over",
    )
    billing_intents: frozenset[str] = Field(
        default=frozenset({"billing", "double_charge", "billing_issue"}),
        description="intents the billing team handles",
    )
    double_charge_intents: tuple[str, ...] = Field(
        default=("billing", "double_charge", "billing_issue", "payment_issue", "payment_problem"),
        description="where a double charge goes: the first of these the KB has",
    )
    privacy_intents: frozenset[str] = frozenset({"delete_account"})
    other_urgent_intents: frozenset[str] = frozenset(
        {"track_refund", "payment_issue", "payment_problem", "billing", "double_charge"}
    )
    order_intents: frozenset[str] = frozenset(
        {
            "track_order",
            "change_order",
            "delivery_period",
            "get_invoice",
            "check_invoice",
            "change_shipping_address",
            "change_address",
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
    matched_order: OrderSummary | None = Field(
        default=None, description="the order the message refers to (None: none matches)"
    )
    matched_items: list[OrderLine] = Field(
        default_factory=list, description="the lines of it the message names"
    )
    match: str = Field(default="", description="how the order was found, or what did not match")
    handoff: Handoff | None = Field(
        default=None, description="who should take over: the billing team or a person"
    )
    intent_rule: str | None = Field(
        default=None, description="the rule that set the intent instead of the model, if any"
    )
    alternatives: list[tuple[str, float]] = Field(default_factory=list)


_AMOUNT_GAP = r"(?:[\w\s£$€,'-]|(?<=\d)\.(?=\d)){0,25}?"
_DOUBLE_CHARGE = re.compile(
    rf"\b(?:charged|charging|billed|debited|invoiced|paid|taken|took|deducted|withdrawn)\b"
    rf"{_AMOUNT_GAP}"
    r"\b(?:twice|two times|2 times|double|x2|2x|a second time)\b"
    r"|\bdouble[- ]?(?:charged|charge|charges|billed|billing|payment|payments|debit|debited)\b"
    r"|\bduplicate(?:d)? (?:charge|payment|transaction|debit|billing)s?\b"
    r"|\b(?:two|2|multiple) (?:charges|payments|debits)\b"
    r"|\bcharged (?:me )?(?:again|two)\b",
    re.IGNORECASE,
)


def is_double_charge(message: str) -> bool:
    """Whether a message reports being charged twice (a billing matter whatever the model says)."""
    return _DOUBLE_CHARGE.search(message) is not None


def _money(value: float, currency: str) -> str:
    return f"{currency}{value:,.2f}"


def _facts(card: CustomerCard, match: OrderMatch, currency: str) -> dict[str, str]:
    """The customer facts the answers' placeholders take, from the matched order."""
    facts: dict[str, str] = {}
    if card.name:
        facts["customer_name"] = card.name
    order = match.order
    if order is None:
        return facts
    if order.order_id:
        facts["order_number"] = order.order_id
    facts["order_date"] = day_text(order.date)
    facts["order_status"] = status_text(order, card.as_of, match.lines)
    if order.shipped_date:
        facts["shipped_date"] = day_text(order.shipped_date)
    if order.expected_delivery:
        facts["delivery_date"] = day_text(order.expected_delivery)
    lines = match.lines or order.items
    items = items_text(lines)
    if items:
        facts["order_items"] = items
    facts["order_total"] = _money(order.total, currency)
    refundable = _refundable(match)
    if refundable:
        facts["refund_amount"] = _money(sum(line.open_amount for line in refundable), currency)
    return facts


def _states_status(answer: str) -> bool:
    """Whether a KB answer has an ``{{Order Status}}`` slot (then it tells the state itself)."""
    return any(canonical_placeholder(name) == "order_status" for name in placeholders(answer))


def _refundable(match: OrderMatch) -> list[OrderLine]:
    """Lines a refund may cover: the named lines not yet cancelled or returned; for an order
    named by number or date without items, all its open lines; nothing for a guess or when
    the message named an item the order does not hold."""
    order = match.order
    if order is None or match.how == "recent":
        return []
    if match.named:
        return [line for line in match.lines if line.open_quantity > 0]
    return [line for line in order.items if line.open_quantity > 0]


def _already_reversed(match: OrderMatch) -> str | None:
    """ "was cancelled on 3 May 2011" when every named line was already cancelled/returned."""
    lines = match.lines
    if not lines or any(line.open_quantity > 0 for line in lines):
        return None
    cancelled = sum(line.cancelled_quantity for line in lines)
    returned = sum(line.returned_quantity for line in lines)
    verb = "cancelled" if cancelled >= returned else "returned"
    days = [line.reversed_on for line in lines if line.reversed_on]
    return f"was {verb} on {day_text(max(days))}" if days else f"was {verb}"


def _not_found(match: OrderMatch) -> str | None:
    """The sentence telling the customer what the assistant could not find."""
    if match.how == "unknown_number" and match.mentioned_number:
        return (
            f"I couldn't find order {match.mentioned_number} among your orders. Could you check "
            "the number on your confirmation e-mail?"
        )
    if match.how == "no_match" and match.named:
        what = " or ".join(f'"{name}"' for name in match.unmatched or match.named)
        return (
            f"I couldn't find {what} in any of your orders with us. Could you send the order "
            "number, or the item's name as it appears on your invoice?"
        )
    if match.how == "no_match":
        return "I couldn't find an order of yours placed then. Could you send the order number?"
    return None


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

    def route(self, message: str, prediction: IntentPrediction) -> IntentPrediction:
        """The prediction after the double-charge rule: such a message goes to the KB's
        billing intent (confidence 1) whatever the model guessed."""
        if not is_double_charge(message):
            return prediction
        known = set(self.intents.classes_)
        target = next((i for i in self.config.double_charge_intents if i in known), None)
        if target is None:
            return prediction
        return prediction.model_copy(
            update={"intent": target, "confidence": 1.0, "needs_human": False}
        )

    def personalize(self, answer: str, card: CustomerCard | None = None, message: str = "") -> str:
        """One KB answer with the facts of ``card`` (and the order ``message`` names) filled."""
        card = card or CustomerCard.unknown()
        facts = _facts(card, resolve_order(message, card), self.shop.currency)
        return fill_placeholders(answer, facts, self.shop)

    def suggest(self, message: str, card: CustomerCard | None = None) -> Suggestion:
        """Suggest answers, actions and a priority for one message from one customer."""
        text = self._check(message)
        card = card or CustomerCard.unknown()
        config = self.config
        match = resolve_order(text, card)
        model = self.intents.predict(text)
        prediction = self.route(text, model)
        rule = "double charge" if is_double_charge(text) else None
        out_of_scope = (
            not prediction.needs_human and prediction.intent in config.out_of_scope_intents
        )
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
        facts = _facts(card, match, self.shop.currency)
        preface, always = (
            self._preface(prediction, match) if config.personal_preface else ("", False)
        )
        answers = []
        for hit in found:
            body = fill_placeholders(hit.text, facts, self.shop)
            if preface and (always or not _states_status(hit.text)):
                intro = fill_placeholders(preface, facts, self.shop)
                body = f"{intro}\n\n{body}" if intro and body else body or intro
            if body:
                answers.append(SuggestedAnswer(text=body, score=hit.score, intent=hit.intent))
        handoff: Handoff | None = None
        if rule or (not prediction.needs_human and prediction.intent in config.billing_intents):
            handoff = "billing"
        elif prediction.needs_human or out_of_scope or prediction.intent in config.human_intents:
            handoff = "human"
        return Suggestion(
            intent=prediction.intent,
            confidence=prediction.confidence,
            needs_human=prediction.needs_human or out_of_scope,
            answers=answers,
            card=card,
            priority=self._priority(prediction, card),
            actions=self._actions(prediction, card, match, rule),
            order=match,
            matched_order=match.order,
            matched_items=list(match.lines),
            match=match.explanation,
            handoff=handoff,
            intent_rule=rule,
            alternatives=list(model.alternatives),
        )

    def _order_related(self, intent: str) -> bool:
        config = self.config
        return intent in (config.order_intents | config.urgent_intents | config.billing_intents)

    def _preface(self, prediction: IntentPrediction, match: OrderMatch) -> tuple[str, bool]:
        """The line put before an order-related answer, and whether it goes before every
        answer: what could not be found, or that the named items were already cancelled or
        returned (always); else the order with its state (when the answer does not tell it)."""
        config = self.config
        intent = prediction.intent
        if prediction.needs_human or not self._order_related(intent):
            return "", False
        missing = _not_found(match)
        if missing:
            return missing, True
        if match.order is None:
            return "", False
        done = _already_reversed(match)
        if done and intent in config.refund_intents | config.cancel_intents:
            return (
                "Our records show that {{Order Items}} from your order {{Order Number}} of "
                "{{Order Date}} " + done + ", so it has already been credited."
            ), True
        lead = "Your latest order" if match.how in ("recent", "latest") else "Your order"
        if intent in config.refund_intents and match.lines:
            return lead + (
                " {{Order Number}} of {{Order Date}}: {{Order Items}} "
                "(refund amount {{Refund Amount}}). It {{Order Status}}."
            ), False
        return (
            lead + " {{Order Number}} of {{Order Date}} ({{Order Items}}) {{Order Status}}.",
            False,
        )

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
        self,
        prediction: IntentPrediction,
        card: CustomerCard,
        match: OrderMatch,
        rule: str | None,
    ) -> list[Action]:
        config = self.config
        actions: list[Action] = []
        intent = None if prediction.needs_human else prediction.intent
        order = match.order
        order_id = order.order_id if order else match.mentioned_number
        refundable = _refundable(match)
        if intent in config.refund_intents and refundable:
            actions.append(
                Action(
                    kind="refund",
                    label=f"Refund {items_text(refundable, limit=3)}",
                    reason="the customer asks for a refund or return of "
                    + ("the items named" if match.named else f"order {order_id}"),
                    order_id=order_id,
                    item_ids=[line.item_id for line in refundable],
                    amount=round(sum(line.open_amount for line in refundable), 2),
                )
            )
        named_open = [line for line in match.lines if line.open_quantity > 0]
        if (intent in config.refund_intents | config.complaint_intents) and named_open:
            actions.append(
                Action(
                    kind="replacement",
                    label=f"Send a replacement for {items_text(named_open, limit=3)}",
                    reason="the message names an item of the order",
                    order_id=order_id,
                    item_ids=[line.item_id for line in named_open],
                )
            )
        if intent in config.cancel_intents and order is not None and order.status == "placed":
            actions.append(
                Action(
                    kind="cancel_order",
                    label=f"Cancel order {order_id or 'of ' + day_text(order.date)}",
                    reason="the customer asks to cancel and the order has not left the warehouse",
                    order_id=order_id,
                    item_ids=[line.item_id for line in order.items],
                    amount=order.total,
                )
            )
        if rule or intent in config.billing_intents:
            actions.append(self._billing_action(match, order_id, rule))
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

    def _billing_action(self, match: OrderMatch, order_id: str | None, rule: str | None) -> Action:
        """Ask billing to check the payments of the matched order (or to find the charge)."""
        order = match.order
        why = "the customer reports a double charge" if rule else "a billing question"
        if order is None:
            return Action(
                kind="billing_review",
                label="Find the charge with billing: ask for the order number, date and amount",
                reason=f"{why}; {match.explanation or 'no order matched'}",
                order_id=match.mentioned_number,
            )
        return Action(
            kind="billing_review",
            label=f"Check the payments taken for order {order_id or day_text(order.date)} "
            f"({order.total:,.2f}) and refund any duplicate",
            reason=why,
            order_id=order_id,
            amount=order.total,
        )

    def _escalation(
        self, prediction: IntentPrediction, card: CustomerCard, intent: str | None
    ) -> str | None:
        config = self.config
        if prediction.needs_human:
            return (
                f"not sure what the customer wants (confidence {prediction.confidence:.2f}); "
                "the message may be outside the knowledge base or in another language"
            )
        if intent in config.out_of_scope_intents:
            return "the message is outside what the shop's support answers"
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

    With an :class:`Assistant`, its rules apply as in :meth:`Assistant.suggest` (double
    charges to billing, out-of-scope messages to a person). Blank lines are skipped; a line
    over ``max_chars`` (default: the assistant's limit, 5,000) raises InputError naming its
    line number.
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
    if not isinstance(model, Assistant):
        return intents.classify(messages)
    rows = []
    for text, raw in zip(messages, intents.predict_many(messages), strict=True):
        p = model.route(text, raw)
        human = p.needs_human or p.intent in model.config.out_of_scope_intents
        rows.append(Classification(text, None if human else p.intent, p.confidence))
    return rows


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


#: Built-in examples of messages a shop's support does not answer (wifi passwords, jobs, ...).
OUT_OF_SCOPE_KB = Path(__file__).with_name("out_of_scope.md")


def with_out_of_scope(kb: KnowledgeBase) -> KnowledgeBase:
    """The KB with the built-in ``out_of_scope`` intent, unless it defines that intent itself:
    a reject class, so unrelated messages go to a person rather than to the nearest intent."""
    if "out_of_scope" in kb.intents:
        return kb
    return kb.merge(read_kb(OUT_OF_SCOPE_KB))


def load_kb(
    files: str | Path | Sequence[str | Path],
    folder: str | Path,
    *,
    intent_config: IntentConfig | None = None,
    config: AssistantConfig | None = None,
    shop: ShopFacts | None = None,
    out_of_scope: bool = True,
) -> Assistant:
    """Read KB file(s) (CSV/Markdown/kb.json, merged in order), train, save into ``folder``.

    This is ``storewise support load-kb FILE [FILE...]``; returns the ready assistant. With
    ``out_of_scope`` the built-in out-of-scope examples are added (:func:`with_out_of_scope`).
    """
    paths = [files] if isinstance(files, str | Path) else list(files)
    if not paths:
        raise InputError("no knowledge-base file given")
    first, *rest = [read_kb(path) for path in paths]
    kb = first.merge(*rest)
    if out_of_scope:
        kb = with_out_of_scope(kb)
    assistant = Assistant.from_kb(kb, intent_config=intent_config, config=config, shop=shop)
    try:
        assistant.save(folder)
    except OSError as exc:
        raise ArtifactError(f"cannot write the support folder '{folder}': {exc}") from exc
    return assistant
