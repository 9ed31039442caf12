"""Request and response bodies of the HTTP API: strict (unknown fields are rejected), typed,
and documented once here so the OpenAPI schema says exactly what is accepted."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_BATCH = 1_000
MAX_N = 100


def _clean_text(value: str) -> str:
    """Refuse text a database cannot store faithfully (NUL, lone surrogates)."""
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from exc
    return value


Text = Annotated[str, AfterValidator(_clean_text)]
MaxPer = Annotated[int, Field(ge=1, le=MAX_N)]
Share = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
#: The list rules a request may set (fairness controls and diversity).
RULE_FIELDS = frozenset({"max_per_category", "max_per_brand", "long_tail_boost", "diversity"})
LONG_TAIL_BOOST = (
    "0-1 (default 0): weight of being in the long tail, i.e. outside the most popular items "
    "making 20% of interactions, against relevance; 1 puts every tail item first."
)
DIVERSITY = "0-1 (default 0): MMR diversity by product features; 1 is maximal."
CALIBRATION = (
    "0-1 (default 0): re-rank toward the customer's own category mix (Steck 2018); "
    "1 follows the mix only."
)
Id = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_clean_text)]
N = Annotated[int, Field(ge=1, le=MAX_N, description="How many items to return (1-100).")]


class Strict(BaseModel):
    """Base of every request body: unknown fields are an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class EventIn(Strict):
    """One thing a customer or visitor did (view, add_to_cart, purchase, ...)."""

    event_id: Id | None = Field(
        default=None,
        description="Your id of the event; a repeated id is ignored and counted as duplicate. "
        "Without one, an id is derived from the event's content.",
    )
    customer_id: Id | None = Field(default=None, description="The logged-in customer.")
    anonymous_id: Id | None = Field(default=None, description="A guest's cookie or device id.")
    session_id: Id | None = Field(default=None, description="The visit the event belongs to.")
    item_id: Id | None = Field(default=None, description="The item (all but searches).")
    event_type: Annotated[str, Field(min_length=1, max_length=50), AfterValidator(_clean_text)] = (
        Field(
            description="view, add_to_cart, remove_from_cart, purchase, return, rating or "
            "search (common aliases such as view_item are mapped).",
        )
    )
    quantity: float | None = Field(default=None, description="Units (default 1).")
    price: float | None = Field(default=None, description="Unit price.")
    value: float | None = Field(
        default=None,
        description="Line value, or the stars of a rating (4 or more: the customer liked it).",
    )
    order_id: Id | None = Field(default=None, description="The order a purchase belongs to.")
    timestamp: datetime | None = Field(
        default=None,
        description="When it happened (ISO 8601; naive means UTC); default: when received. "
        "Before 1990 or more than a day ahead is rejected with a reason.",
    )
    query: Annotated[str, Field(max_length=1000), AfterValidator(_clean_text)] | None = Field(
        default=None, description="What was searched for (search events)."
    )


class ItemIn(Strict):
    """One catalog item to insert or update (fields left out keep their stored value)."""

    item_id: Id
    title: Annotated[str, Field(max_length=1000), AfterValidator(_clean_text)] | None = None
    description: Text | None = None
    category: Annotated[str, Field(max_length=200), AfterValidator(_clean_text)] | None = None
    brand: Annotated[str, Field(max_length=200), AfterValidator(_clean_text)] | None = None
    price: float | None = Field(default=None, description="Price (>= 0).")
    currency: Annotated[str, Field(max_length=3), AfterValidator(_clean_text)] | None = Field(
        default=None, description="ISO 4217 code, e.g. GBP."
    )
    in_stock: bool | None = Field(default=None, description="Whether it can be bought now.")


class CustomerIn(Strict):
    """A customer's profile; e-mail and name are stored encrypted (needs the server's key)."""

    country: Annotated[str, Field(max_length=100), AfterValidator(_clean_text)] | None = None
    created_at: datetime | None = Field(default=None, description="When the account was opened.")
    email: Annotated[str, Field(max_length=320), AfterValidator(_clean_text)] | None = None
    name: Annotated[str, Field(max_length=200), AfterValidator(_clean_text)] | None = None


class ConsentsIn(Strict):
    """Consent decisions to record now; purposes left out keep their current decision."""

    personalization: bool | None = Field(
        default=None, description="Personal recommendations from the customer's history."
    )
    marketing: bool | None = Field(default=None, description="Personalised marketing.")
    analytics: bool | None = Field(default=None, description="Use in aggregate analytics.")


class BasketIn(Strict):
    """A basket to complete with frequently-bought-together items."""

    items: list[Id] = Field(min_length=1, max_length=MAX_N, description="Item ids in the basket.")
    n: N = 10
    min_customers: int | None = Field(
        default=None,
        ge=2,
        le=1_000_000,
        description="Only pairs bought together by at least this many customers. It may raise "
        "the shop's basket_min_customers (default 5), never lower it (else 422).",
    )
    max_per_category: MaxPer | None = Field(
        default=None, description="At most this many items of one category."
    )
    max_per_brand: MaxPer | None = Field(
        default=None, description="At most this many items of one brand."
    )
    long_tail_boost: Share | None = Field(default=None, description=LONG_TAIL_BOOST)
    diversity: Share | None = Field(default=None, description=DIVERSITY)
    customer_id: Id | None = Field(
        default=None, description="Who sees the list (for experiments and attribution)."
    )
    anonymous_id: Id | None = Field(
        default=None, description="The guest who sees the list, when not signed in."
    )

    def rules(self) -> dict[str, Any]:
        """The list rules given in the body (the rest come from the placement's settings)."""
        given: dict[str, Any] = self.model_dump(include=set(RULE_FIELDS), exclude_none=True)
        return given


class IdentifyIn(Strict):
    """A login: the guest's anonymous id now belongs to the customer."""

    anonymous_id: Id
    customer_id: Id


# -- responses ---------------------------------------------------------------------------------
class RecommendationOut(BaseModel):
    """One recommended item with its rank and reasons in words."""

    item_id: str
    score: float
    rank: int
    reasons: list[str]
    title: str | None = None
    category: str | None = None


class RankedListOut(BaseModel):
    """A ranked list and how it was made (model version, policy)."""

    customer_id: str | None
    scenario: str
    model: str
    model_version: str | None
    policy: str
    items: list[RecommendationOut]
    recommendation_id: str | None = Field(
        default=None,
        description="Report impressions and clicks of this list with this id (attribution).",
    )
    placement: str | None = None
    experiment: str | None = Field(
        default=None, description="The experiment this list was served in, if any."
    )
    variant: str | None = Field(default=None, description="The experiment variant served.")


class RejectedOut(BaseModel):
    """A record that was not stored: its position in the batch and why."""

    index: int
    reason: str


class IngestOut(BaseModel):
    """What a batch did: stored, duplicates ignored, rejected with reasons, repairs made."""

    received: int
    stored: int
    duplicates: int
    rejected: list[RejectedOut]
    repaired: dict[str, int]
    identities_linked: int


class ConsentsOut(BaseModel):
    """The customer's current decision per purpose."""

    customer_id: str
    consents: dict[str, bool]


class IdentifyOut(BaseModel):
    """The result of linking a guest to a customer."""

    anonymous_id: str
    customer_id: str | None
    events_linked: int
    already_linked_to_another: bool


class ErasureOut(BaseModel):
    """What erasing a customer removed (rows per table, model rows)."""

    customer_id: str
    removed: dict[str, int]


class ErrorBody(BaseModel):
    """The error itself: a stable code, a message for people, optional details."""

    code: str
    message: str
    details: Any = None


class ErrorOut(BaseModel):
    """The one shape of every error answer."""

    error: ErrorBody


Scenario = Literal["for-you", "buy-again"]
