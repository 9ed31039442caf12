"""Answers out: personal recommendations, similar items, baskets, trending, guest sessions.

Lists take the shop's placement rules (``Settings.placements``); the fairness and diversity
parameters given in a request win over them, and the ones left out keep the placement's.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from starlette.responses import Response

from storewise.api.auth import Read
from storewise.api.deps import ExperimentsDep, ServingDep, json_answer
from storewise.api.routes.docs import ERRORS, NOT_FOUND
from storewise.api.schemas import (
    CALIBRATION,
    DIVERSITY,
    LONG_TAIL_BOOST,
    MAX_N,
    BasketIn,
    Id,
    RankedListOut,
    Scenario,
)
from storewise.app import Engine, RankedList, RuleSet, Variant
from storewise.errors import InputError

router = APIRouter(prefix="/v1", tags=["recommendations"], responses=ERRORS)
READ = {"x-scope": "read"}

NQuery = Annotated[int, Query(ge=1, le=MAX_N, description="How many items (1-100).")]
Listed = Annotated[
    list[Id] | None,
    Query(max_length=MAX_N, description="Repeat the parameter or separate values by commas."),
]


def list_rules(
    max_per_category: Annotated[
        int | None, Query(ge=1, le=MAX_N, description="At most this many items of one category.")
    ] = None,
    max_per_brand: Annotated[
        int | None, Query(ge=1, le=MAX_N, description="At most this many items of one brand.")
    ] = None,
    long_tail_boost: Annotated[
        float | None, Query(ge=0.0, le=1.0, allow_inf_nan=False, description=LONG_TAIL_BOOST)
    ] = None,
    diversity: Annotated[
        float | None, Query(ge=0.0, le=1.0, allow_inf_nan=False, description=DIVERSITY)
    ] = None,
    boost: Annotated[
        list[str] | None,
        Query(
            max_length=20,
            description="Merchandising boost FIELD=VALUE:FACTOR, e.g. category=Kitchen:1.5 "
            "(>1 boosts, <1 buries); repeatable.",
        ),
    ] = None,
    pin: Annotated[
        list[Id] | None,
        Query(
            max_length=20,
            description="Items placed first, in this order, when the other rules allow them; "
            "repeat the parameter or separate by commas.",
        ),
    ] = None,
) -> dict[str, Any]:
    """The merchandising and exposure rules a request sets (only those given)."""
    given: dict[str, Any] = {
        "max_per_category": max_per_category,
        "max_per_brand": max_per_brand,
        "long_tail_boost": long_tail_boost,
        "diversity": diversity,
    }
    if boost:
        given["boost"] = _boosts(boost)
    if pin:
        given["pin"] = _split(pin)
    return {name: value for name, value in given.items() if value is not None}


def _boosts(values: list[str]) -> dict[str, float]:
    """``FIELD=VALUE:FACTOR`` parameters as the rule set's boosts; InputError naming a bad one."""
    boosts: dict[str, float] = {}
    for value in values:
        key, sep, factor = value.rpartition(":")
        try:
            number = float(factor)
        except ValueError:
            number = float("nan")
        if not sep or "=" not in key or not (0 < number < 1e6):
            raise InputError(
                f"boost {value!r} must look like FIELD=VALUE:FACTOR with a positive factor, "
                "e.g. category=Kitchen:1.5"
            )
        boosts[key] = number
    return boosts


ListRules = Annotated[dict[str, Any], Depends(list_rules)]


def viewer(
    customer_id: Annotated[
        Id | None, Query(description="Who sees the list (for experiments and attribution).")
    ] = None,
    anonymous_id: Annotated[
        Id | None, Query(description="The guest who sees the list, when not signed in.")
    ] = None,
) -> tuple[str | None, bool]:
    """(unit, is a customer) of an item list: the signed-in customer, else the guest."""
    return (customer_id, True) if customer_id else (anonymous_id, False)


Viewer = Annotated[tuple[str | None, bool], Depends(viewer)]


def _rules(variant: Variant | None, rules: RuleSet) -> RuleSet:
    """The request's rules over the experiment variant's, if one is served."""
    return variant.under(rules) if variant is not None else rules


def _engine(engine: Engine, variant: Variant | None) -> Engine:
    """The engine a variant is served by: its pinned bundle version, else the published one."""
    return engine.at_version(variant.version) if variant and variant.version else engine


def _model(variant: Variant | None) -> str | None:
    return variant.model if variant is not None else None


def _answer(answer: RankedList) -> Response:
    return json_answer(answer.to_dict())


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
    experiments: ExperimentsDep,
    _key: Read,
    fairness: ListRules,
    n: NQuery = 10,
    scenario: Annotated[Scenario, Query(description="for-you or buy-again.")] = "for-you",
    allow_repurchase: Annotated[
        bool | None, Query(description="Mix items bought before with discovery (default no).")
    ] = None,
    category: Listed = None,
    exclude: Listed = None,
    calibration: Annotated[
        float | None, Query(ge=0.0, le=1.0, allow_inf_nan=False, description=CALIBRATION)
    ] = None,
) -> Response:
    """What to show a customer now, from their fresh history (events count at once); a
    customer who withdrew personalization consent gets popular items instead."""
    given: dict[str, Any] = dict(fairness)
    if allow_repurchase is not None:
        given["allow_repurchase"] = allow_repurchase
    if calibration is not None:
        given["calibration"] = calibration
    if category:
        given["include_categories"] = _split(category)
    if exclude:
        given["exclude_items"] = _split(exclude)
    rules = RuleSet(**given)

    def produce(variant: Variant | None, extra: int = 0) -> RankedList:
        return _engine(engine, variant).recommend(
            customer_id,
            min(n + extra, MAX_N),
            scenario=scenario,
            rules=_rules(variant, rules),
            model=_model(variant),
        )

    extend = produce if scenario == "for-you" else None
    return _answer(experiments.serve(scenario, customer_id, produce, extend=extend))


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
    experiments: ExperimentsDep,
    _key: Read,
    fairness: ListRules,
    who: Viewer,
    n: NQuery = 10,
) -> Response:
    """Items like this one (bought together, else similar features); unknown item: 404."""
    rules = RuleSet(**fairness)
    answer = experiments.serve(
        "similar",
        who[0],
        lambda variant: _engine(engine, variant).similar(item_id, n, rules=_rules(variant, rules)),
        customer=who[1],
    )
    return _answer(answer)


@router.post(
    "/recommendations/basket",
    response_model=RankedListOut,
    responses=NOT_FOUND,
    summary="Frequently bought together",
    openapi_extra=READ,
)
def basket(body: BasketIn, engine: ServingDep, experiments: ExperimentsDep, _key: Read) -> Response:
    """Items often bought with the basket's items: only pairs bought together by at least
    the shop's basket_min_customers (default 5), which min_customers may raise."""
    rules = RuleSet(**body.rules())

    def produce(variant: Variant | None) -> RankedList:
        return _engine(engine, variant).basket(
            body.items, body.n, min_customers=body.min_customers, rules=_rules(variant, rules)
        )

    unit, customer = (body.customer_id, True) if body.customer_id else (body.anonymous_id, False)
    return _answer(experiments.serve("bought-together", unit, produce, customer=customer))


@router.get("/trending", response_model=RankedListOut, summary="Trending items", openapi_extra=READ)
def trending(
    engine: ServingDep,
    experiments: ExperimentsDep,
    _key: Read,
    fairness: ListRules,
    who: Viewer,
    n: NQuery = 10,
    country: Annotated[Id | None, Query(description="Popular in this country.")] = None,
    category: Annotated[Id | None, Query(description="Only this category.")] = None,
) -> Response:
    """What sells now, overall, in a country or in a category."""
    rules = RuleSet(**fairness)

    def produce(variant: Variant | None) -> RankedList:
        return _engine(engine, variant).trending(
            n, country=country, category=category, rules=_rules(variant, rules)
        )

    return _answer(experiments.serve("trending", who[0], produce, customer=who[1]))


@router.get(
    "/sessions/{anonymous_id}/recommendations",
    response_model=RankedListOut,
    summary="Guest recommendations",
    openapi_extra=READ,
)
def session_recommendations(
    anonymous_id: Annotated[Id, Path(description="The guest's anonymous id.")],
    engine: ServingDep,
    experiments: ExperimentsDep,
    _key: Read,
    fairness: ListRules,
    n: NQuery = 10,
) -> Response:
    """For a guest, from what they did this session (or their account once identified)."""
    rules = RuleSet(**fairness)

    def produce(variant: Variant | None, extra: int = 0) -> RankedList:
        return _engine(engine, variant).recommend_session(
            anonymous_id, min(n + extra, MAX_N), rules=_rules(variant, rules), model=_model(variant)
        )

    return _answer(
        experiments.serve("guest", anonymous_id, produce, customer=False, extend=produce)
    )
