"""What recommenders return: structured reasons, and the ranked list front-ends show.

Models give :class:`Reason` values (what kind, about which item); the engine turns them into
text with item titles, so every recommended item carries at least one human-readable reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reason:
    """Why an item was recommended, before it is put into words."""

    kind: str
    item_idx: int | None = None
    value: float | None = None
    words: tuple[str, ...] = ()
    scope: str | None = None


def _days_phrase(days: float) -> str:
    if days >= 13:
        weeks = round(days / 7)
        return f"about every {weeks} weeks" if weeks > 1 else "about every week"
    whole = max(1, round(days))
    return f"about every {whole} days" if whole > 1 else "about every day"


def reason_text(reason: Reason, title_of: Any) -> str:
    """Put a reason into words; ``title_of(item_idx)`` names an item."""
    title = title_of(reason.item_idx) if reason.item_idx is not None else None
    if reason.kind == "because_you_bought" and title:
        return f"because you bought {title}"
    if reason.kind == "because_you_viewed" and title:
        return f"because you looked at {title}"
    if reason.kind == "bought_with" and title:
        return f"customers who bought {title} also bought this"
    if reason.kind == "bought_after" and title:
        return f"customers often pick this next after {title}"
    if reason.kind == "similar_to" and (title or reason.scope):
        shared = f" (shared: {', '.join(reason.words)})" if reason.words else ""
        return f"similar to {title or reason.scope}{shared}"
    if reason.kind == "repurchase":
        if reason.value:
            return f"you buy this {_days_phrase(reason.value)}"
        return "you bought this before"
    if reason.kind == "customers_like_you":
        return "customers with tastes like yours bought this"
    if reason.kind == "popular":
        where = f" in {reason.scope}" if reason.scope else ""
        return f"popular{where} this week"
    if reason.kind == "trending":
        where = f" in {reason.scope}" if reason.scope else ""
        return f"trending{where} right now"
    if reason.kind == "new_item" and title:
        return f"new, and similar to {title}"
    if reason.kind == "rule_boost":
        return "featured by the shop"
    return "recommended for you"


@dataclass(frozen=True)
class Recommendation:
    """One recommended item with its score, 1-based rank and reasons in words."""

    item_id: str
    score: float
    rank: int
    reasons: tuple[str, ...]
    title: str | None = None
    category: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "item_id": self.item_id,
            "score": round(float(self.score), 6),
            "rank": self.rank,
            "reasons": list(self.reasons),
            "title": self.title,
            "category": self.category,
        }


@dataclass(frozen=True)
class RankedList:
    """An answer: ranked items plus how it was made (scenario, model, version, policy)."""

    items: tuple[Recommendation, ...]
    scenario: str
    model: str
    model_version: str | None
    customer_id: str | None = None
    policy: str = "personalised"
    details: dict[str, Any] = field(default_factory=dict)
    #: Set when the list is served through the API: the id feedback and attribution use.
    recommendation_id: str | None = None
    placement: str | None = None
    experiment: str | None = None
    variant: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, the shape of API answers."""
        answer: dict[str, Any] = {
            "customer_id": self.customer_id,
            "scenario": self.scenario,
            "model": self.model,
            "model_version": self.model_version,
            "policy": self.policy,
            "items": [r.to_dict() for r in self.items],
        }
        if self.recommendation_id is not None:
            answer["recommendation_id"] = self.recommendation_id
            answer["placement"] = self.placement
            answer["experiment"] = self.experiment
            answer["variant"] = self.variant
        return answer

    @property
    def item_ids(self) -> list[str]:
        """The recommended item ids in rank order."""
        return [r.item_id for r in self.items]
