"""Online experiments and recommendation analytics: define, start and stop experiments, read
their results, report feedback on served lists, and see what each placement earns."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import Field
from starlette.responses import Response

from storewise.api.auth import Admin, Ingest
from storewise.api.deps import ExperimentsDep, json_answer
from storewise.api.routes.docs import ERRORS, NOT_FOUND
from storewise.api.schemas import Id, Strict
from storewise.app import Plan

router = APIRouter(prefix="/v1", tags=["experiments"], responses=ERRORS)
ADMIN = {"x-scope": "admin"}
ExperimentId = Annotated[str, Path(min_length=1, max_length=64, description="Experiment id.")]
Metric = Literal[
    "revenue",
    "orders",
    "converted",
    "clicked",
    "clicks",
    "attributed_orders",
    "attributed_revenue",
]


class VariantIn(Strict):
    """One arm: its name, its share of traffic (all or none given; none = equal), and what it
    serves: a kept bundle version, a model of the bundle and/or list rules over the
    placement's own."""

    name: str = Field(min_length=1, max_length=64)
    weight: float | None = Field(default=None, gt=0, le=1)
    model: str | None = Field(default=None, max_length=100)
    version: str | None = Field(
        default=None, max_length=100, description="A kept model bundle version to serve."
    )
    rules: dict[str, Any] = Field(default_factory=dict)


class ExperimentIn(Strict):
    """A new experiment on one placement."""

    experiment_id: str = Field(min_length=1, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    placement: Literal[
        "for-you", "buy-again", "similar", "bought-together", "trending", "guest", "email"
    ]
    method: Literal["ab", "interleave"] = Field(
        default="ab",
        description="ab: each unit sees one variant; interleave: every list mixes the control "
        "and one challenger by team draft (far less traffic for comparing two rankers).",
    )
    variants: list[VariantIn] = Field(min_length=2, max_length=10)
    primary_metric: Metric = "revenue"
    guardrails: tuple[Metric, ...] = ("orders", "converted")
    window_days: int = Field(default=7, ge=1, le=90)
    control: str = "control"
    start: bool = False


class FeedbackIn(Strict):
    """What a shopper did with a served list: saw it, or clicked one of its items."""

    recommendation_id: str = Field(min_length=1, max_length=40)
    kind: Literal["impression", "click"]
    item_id: Id | None = None
    at_ms: int | None = Field(default=None, ge=0, description="When (ms since epoch; now).")


class FeedbackBatchIn(Strict):
    """Up to 1,000 feedback rows."""

    feedback: list[FeedbackIn] = Field(min_length=1, max_length=1000)


@router.post("/experiments", status_code=201, summary="Define an experiment", openapi_extra=ADMIN)
def create_experiment(body: ExperimentIn, experiments: ExperimentsDep, _key: Admin) -> Response:
    """A draft, or running at once with ``start``; refused (422) with the reason when the
    split does not add up to 1, a name repeats, the control is missing, or another experiment
    runs on the placement."""
    created = experiments.create(
        body.experiment_id,
        placement=body.placement,
        variants=[v.model_dump() for v in body.variants],
        plan=Plan(
            primary_metric=body.primary_metric,
            guardrails=tuple(body.guardrails),
            window_days=body.window_days,
            control=body.control,
        ),
        name=body.name,
        start=body.start,
        method=body.method,
    )
    return json_answer(created.to_dict(), 201)


@router.get("/experiments", summary="List experiments", openapi_extra=ADMIN)
def list_experiments(experiments: ExperimentsDep, _key: Admin) -> Response:
    """Every experiment, newest first."""
    return json_answer({"experiments": [e.to_dict() for e in experiments.all()]})


@router.get(
    "/experiments/{experiment_id}",
    responses=NOT_FOUND,
    summary="One experiment",
    openapi_extra=ADMIN,
)
def get_experiment(
    experiment_id: ExperimentId, experiments: ExperimentsDep, _key: Admin
) -> Response:
    """The experiment's definition and status."""
    return json_answer(experiments.get(experiment_id).to_dict())


@router.post(
    "/experiments/{experiment_id}/{action}",
    responses=NOT_FOUND,
    summary="Start or stop an experiment",
    openapi_extra=ADMIN,
)
def change_experiment(
    experiment_id: ExperimentId,
    action: Annotated[Literal["start", "stop"], Path(description="start or stop")],
    experiments: ExperimentsDep,
    _key: Admin,
) -> Response:
    """Start a draft, or stop a running experiment (its traffic returns to the default)."""
    changed = (experiments.start if action == "start" else experiments.stop)(experiment_id)
    return json_answer(changed.to_dict())


@router.get(
    "/experiments/{experiment_id}/results",
    responses=NOT_FOUND,
    summary="Experiment results",
    openapi_extra=ADMIN,
)
def experiment_results(
    experiment_id: ExperimentId, experiments: ExperimentsDep, _key: Admin
) -> Response:
    """Units per variant with the sample-ratio check, each metric against the control with
    a Welch 95% interval, p-value, relative lift (delta method), CUPED and an always-valid
    interval, and the cumulative lift of the primary metric by day."""
    return json_answer(experiments.results(experiment_id))


@router.post("/feedback", summary="Impressions and clicks", openapi_extra={"x-scope": "ingest"})
def feedback(body: FeedbackBatchIn, experiments: ExperimentsDep, _key: Ingest) -> Response:
    """Report what shoppers did with served lists (by recommendation id); a repeat counts
    once, and rows naming an unknown list are reported by position."""
    report = experiments.feedback([row.model_dump() for row in body.feedback])
    return json_answer(report.to_dict())


@router.get(
    "/analytics/recommendations",
    summary="What recommendations earn",
    openapi_extra=ADMIN,
)
def recommendation_analytics(
    experiments: ExperimentsDep,
    _key: Admin,
    days: Annotated[int, Query(ge=1, le=366, description="How many days back.")] = 30,
    window_days: Annotated[
        int, Query(ge=1, le=90, description="Attribution window after a click (days).")
    ] = 7,
) -> Response:
    """Per placement and model version (and per placement and day): lists served,
    impressions, clicks, click-through, add-to-carts, attributed orders and revenue."""
    return json_answer(experiments.analytics(days=days, window_days=window_days))


@router.get(
    "/analytics/off-policy",
    summary="Estimate a model before it goes live",
    openapi_extra=ADMIN,
)
def off_policy(
    experiments: ExperimentsDep,
    _key: Admin,
    model: Annotated[str, Query(min_length=1, max_length=100, description="A bundle model.")],
    days: Annotated[int, Query(ge=1, le=366, description="How many days of logs.")] = 30,
    clip: Annotated[
        float | None, Query(gt=0, le=1e6, description="Cap on importance weights.")
    ] = None,
) -> Response:
    """Clicks per for-you list that serving ``model`` would have earned, by IPS, SNIPS and
    doubly robust estimates from lists logged with propensities (``explore_share`` > 0), next
    to the same estimates for the current choice."""
    return json_answer(experiments.off_policy(model, days=days, clip=clip))
