"""Answers out: personal recommendations, similar items, baskets, trending, guest sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from storewise.api.auth import Read
from storewise.api.deps import ServingDep, json_answer
from storewise.api.routes.docs import ERRORS, NOT_FOUND
from storewise.api.schemas import MAX_N, BasketIn, Id, RankedListOut, Scenario
from storewise.app import RuleSet

router = APIRouter(prefix="/v1", tags=["recommendations"], responses=ERRORS)
READ = {"x-scope": "read"}

NQuery = Annotated[int, Query(ge=1, le=MAX_N, description="How many items (1-100).")]
Listed = Annotated[
    list[Id] | None,
    Query(max_length=MAX_N, description="Repeat the parameter or separate values by commas."),
]


def _split(values: list[str] | None) -> tuple[str, ...]:
    """Values given repeated and/or comma-separated, in order, without blanks or repeats."""
    if not values:
        return ()
    parts = (p.strip() for v in values for p in v.split(","))
    return tuple(dict.fromkeys(p for p in parts if p))


@router.get(
    "/customers/{customer_id}/recommendations",
    response_model=RankedListOut,
    summary="Personal recommendations",
    openapi_extra=READ,
)
def customer_recommendations(
    customer_id: Annotated[Id, Path(description="The customer's id (unknown: cold start).")],
    engine: ServingDep,
    _key: Read,
    n: NQuery = 10,
    scenario: Annotated[Scenario, Query(description="for-you or buy-again.")] = "for-you",
    allow_repurchase: Annotated[
        bool, Query(description="Mix items bought before with discovery.")
    ] = False,
    category: Listed = None,
    exclude: Listed = None,
) -> Response:
    """What to show a customer now, from their fresh history (events count at once); a
    customer who withdrew personalization consent gets popular items instead."""
    rules = RuleSet(
        allow_repurchase=allow_repurchase,
        include_categories=_split(category),
        exclude_items=_split(exclude),
    )
    answer = engine.recommend(customer_id, n, scenario=scenario, rules=rules)
    return json_answer(answer.to_dict())


@router.get(
    "/items/{item_id}/similar",
    response_model=RankedListOut,
    responses=NOT_FOUND,
    summary="Similar items",
    openapi_extra=READ,
)
def similar_items(
    item_id: Annotated[Id, Path(description="The item's id.")],
    engine: ServingDep,
    _key: Read,
    n: NQuery = 10,
) -> Response:
    """Items like this one (bought together, else similar features); unknown item: 404."""
    return json_answer(engine.similar(item_id, n).to_dict())


@router.post(
    "/recommendations/basket",
    response_model=RankedListOut,
    responses=NOT_FOUND,
    summary="Frequently bought together",
    openapi_extra=READ,
)
def basket(body: BasketIn, engine: ServingDep, _key: Read) -> Response:
    """Items often bought with the basket's items (pairs seen with several customers)."""
    return json_answer(engine.basket(body.items, body.n).to_dict())


@router.get("/trending", response_model=RankedListOut, summary="Trending items", openapi_extra=READ)
def trending(
    engine: ServingDep,
    _key: Read,
    n: NQuery = 10,
    country: Annotated[Id | None, Query(description="Popular in this country.")] = None,
    category: Annotated[Id | None, Query(description="Only this category.")] = None,
) -> Response:
    """What sells now, overall, in a country or in a category."""
    return json_answer(engine.trending(n, country=country, category=category).to_dict())


@router.get(
    "/sessions/{anonymous_id}/recommendations",
    response_model=RankedListOut,
    summary="Guest recommendations",
    openapi_extra=READ,
)
def session_recommendations(
    anonymous_id: Annotated[Id, Path(description="The guest's anonymous id.")],
    engine: ServingDep,
    _key: Read,
    n: NQuery = 10,
) -> Response:
    """For a guest, from what they did this session (or their account once identified)."""
    return json_answer(engine.recommend_session(anonymous_id, n).to_dict())
