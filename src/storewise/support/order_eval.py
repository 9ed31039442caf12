"""Scoring the assistant on hand-written messages about customers' real orders.

A case (one JSON object per line of a ``.jsonl`` file) is a message from a known customer
with what a careful agent would answer: the order it refers to (``order``, null when the
customer has no such order), the lines it names (``items``: item ids, empty when it names
none), the intent, and optionally the order's state and who should take over (``handoff``).
Cases of kind ``out_of_scope`` are scored on the hand-over only.

:func:`score_cases` runs :meth:`Assistant.suggest` on each case with the customer's card and
counts

* **matched**: the suggestion's ``matched_order`` is the expected order (or none when none is
  expected) and ``matched_items`` are exactly the expected lines;
* **wrong-order answers**: the suggestion shows, cites in an answer or acts on an order of the
  customer other than the expected one (an honest "no match" is not wrong, a guess is);
* **wrong-item refunds**: a refund action for an item the customer did not name, or any
  refund when no order of theirs matches;
* intent, state and hand-over agreement.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from storewise.errors import InputError
from storewise.support.assistant import Assistant, Suggestion
from storewise.support.context import CustomerCard, OrderStatus

__all__ = ["CaseResult", "OrderCase", "OrderEvalReport", "read_cases", "score_cases"]

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


class OrderCase(BaseModel):
    """One hand-written message with the order, lines and intent a careful agent would pick."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    customer_id: str
    message: str = Field(min_length=1)
    kind: str = Field(description="what the case tests: number, item, no_match, recent, ...")
    order: str | None = None
    items: list[str] = Field(default_factory=list)
    intent: str
    status: OrderStatus | None = None
    handoff: Literal["billing", "human"] | None = None
    split: Literal["dev", "held_out"] = Field(
        default="dev",
        description="dev: looked at while building the matcher; held_out: written afterwards, "
        "scored without tuning",
    )
    note: str | None = None


class CaseResult(BaseModel):
    """How the assistant did on one case."""

    case: OrderCase
    matched_order: str | None
    matched_items: list[str]
    how: str
    explanation: str
    intent: str
    needs_human: bool
    handoff: str | None
    status: str | None
    matched: bool
    wrong_order: bool
    wrong_item_refund: bool
    intent_ok: bool
    handoff_ok: bool
    status_ok: bool | None
    answer: str


class OrderEvalReport(BaseModel):
    """Figures over all cases, and every case's result."""

    n_cases: int
    n_order_cases: int
    matched: int
    match_rate: float
    wrong_order: int
    wrong_order_rate: float
    wrong_item_refunds: int
    intent_accuracy: float
    handoff_ok: int
    n_status: int
    status_ok: int
    by_kind: dict[str, tuple[int, int]] = Field(description="kind -> (matched, cases)")
    by_split: dict[str, tuple[int, int]] = Field(description="split -> (matched, cases)")
    results: list[CaseResult]

    def failures(self) -> list[CaseResult]:
        """Cases with a wrong match, a wrong order, a wrong refund or a wrong intent/state."""
        return [
            r
            for r in self.results
            if not (r.matched and r.intent_ok and r.handoff_ok and r.status_ok is not False)
            or r.wrong_order
            or r.wrong_item_refund
        ]


def read_cases(path: str | Path) -> list[OrderCase]:
    """Read a ``.jsonl`` file of cases; InputError naming the line of a bad one."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: file not found")
    cases = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            cases.append(OrderCase.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise InputError(f"{file}: line {number}: {exc}") from exc
    ids = [c.id for c in cases]
    if len(set(ids)) != len(ids):
        raise InputError(f"{file}: duplicate case ids")
    return cases


def _orders_cited(suggestion: Suggestion, card: CustomerCard) -> set[str]:
    """The customer's order ids the suggestion shows, writes or acts on."""
    ids = {o.order_id for o in card.all_orders if o.order_id}
    cited = {a.order_id for a in suggestion.actions if a.order_id in ids}
    if suggestion.matched_order is not None and suggestion.matched_order.order_id:
        cited.add(suggestion.matched_order.order_id)
    for answer in suggestion.answers:
        cited |= ids & set(_TOKEN.findall(answer.text))
    return {c for c in cited if c}


def _score(case: OrderCase, suggestion: Suggestion, card: CustomerCard) -> CaseResult:
    order = suggestion.matched_order
    got_order = order.order_id if order else None
    got_items = sorted(line.item_id for line in suggestion.matched_items)
    scored = case.kind != "out_of_scope"
    matched = got_order == case.order and got_items == sorted(case.items)
    cited = _orders_cited(suggestion, card)
    wrong_order = scored and bool(cited - ({case.order} if case.order else set()))
    refunds = [a for a in suggestion.actions if a.kind == "refund"]
    wrong_refund = any(
        case.order is None or (case.items and not set(a.item_ids) <= set(case.items))
        for a in refunds
    )
    if case.kind == "out_of_scope":
        intent_ok = suggestion.needs_human and suggestion.handoff == "human"
    else:
        intent_ok = suggestion.intent == case.intent and not suggestion.needs_human
    status_ok = None if case.status is None else (order is not None and order.status == case.status)
    return CaseResult(
        case=case,
        matched_order=got_order,
        matched_items=got_items,
        how=suggestion.order.how,
        explanation=suggestion.match,
        intent=suggestion.intent,
        needs_human=suggestion.needs_human,
        handoff=suggestion.handoff,
        status=order.status if order else None,
        matched=matched or not scored,
        wrong_order=wrong_order,
        wrong_item_refund=wrong_refund,
        intent_ok=intent_ok,
        handoff_ok=suggestion.handoff == case.handoff,
        status_ok=status_ok,
        answer=suggestion.answers[0].text if suggestion.answers else "",
    )


def score_cases(
    assistant: Assistant, cases: Sequence[OrderCase], cards: Mapping[str, CustomerCard]
) -> OrderEvalReport:
    """Run the assistant on every case with its customer's card and count the figures."""
    results = []
    for case in cases:
        card = cards.get(case.customer_id)
        if card is None:
            raise InputError(f"case {case.id}: no card for customer {case.customer_id}")
        results.append(_score(case, assistant.suggest(case.message, card), card))
    scored = [r for r in results if r.case.kind != "out_of_scope"]
    by_kind: dict[str, tuple[int, int]] = {}
    by_split: dict[str, tuple[int, int]] = {}
    for r in results:
        hits, total = by_kind.get(r.case.kind, (0, 0))
        by_kind[r.case.kind] = (hits + r.matched, total + 1)
    for r in scored:
        hits, total = by_split.get(r.case.split, (0, 0))
        by_split[r.case.split] = (hits + r.matched, total + 1)
    n = max(len(scored), 1)
    statuses = [r for r in results if r.status_ok is not None]
    return OrderEvalReport(
        n_cases=len(results),
        n_order_cases=len(scored),
        matched=sum(r.matched for r in scored),
        match_rate=sum(r.matched for r in scored) / n,
        wrong_order=sum(r.wrong_order for r in scored),
        wrong_order_rate=sum(r.wrong_order for r in scored) / n,
        wrong_item_refunds=sum(r.wrong_item_refund for r in results),
        intent_accuracy=sum(r.intent_ok for r in results) / max(len(results), 1),
        handoff_ok=sum(r.handoff_ok for r in results),
        n_status=len(statuses),
        status_ok=sum(bool(r.status_ok) for r in statuses),
        by_kind=dict(sorted(by_kind.items())),
        by_split=dict(sorted(by_split.items())),
        results=results,
    )
