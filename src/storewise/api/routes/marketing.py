"""Marketing: segments, campaign audiences, and offer responses that teach the bandit."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import Field
from starlette.responses import Response

from storewise.api.auth import Ingest, Read
from storewise.api.deps import ServicesDep, json_answer
from storewise.api.routes.docs import ERRORS, NOT_FOUND
from storewise.api.schemas import Id, Strict

router = APIRouter(prefix="/v1", tags=["marketing"], responses=ERRORS)


class AudienceIn(Strict):
    """Who to contact: a segment, a minimum lifetime value, how many picks per customer, and
    the answer's format: ``json`` rows, or a CSV file for Mailchimp/Klaviyo (``mailchimp``),
    Google Customer Match (``google``) or a Meta custom audience (``meta``); the last two hold
    only SHA-256-hashed, normalised e-mails."""

    segment: str | None = Field(default=None, max_length=100)
    min_clv: float | None = Field(default=None, ge=0)
    n_items: int = Field(default=4, ge=0, le=10)
    limit: int | None = Field(default=None, ge=1, le=100_000)
    offer: bool = True
    format: Literal["json", "mailchimp", "google", "meta"] = "json"


class OfferResponseIn(Strict):
    """What a customer did after being shown an offer."""

    customer_id: Id
    converted: bool


@router.get("/segments", summary="RFM segments", openapi_extra={"x-scope": "read"})
def segments(services: ServicesDep, _key: Read) -> Response:
    """Segment sizes, revenue and shares, mean lifetime value and churn risk."""
    return json_answer(services.marketing.segments())


#: The audience answer: JSON rows, or a CSV file for the e-mail tool and ad-platform formats.
AUDIENCE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    200: {
        "description": "JSON rows with a summary (format json), or the audience as CSV.",
        "content": {"application/json": {}, "text/csv": {"schema": {"type": "string"}}},
    },
}


@router.post(
    "/campaigns/audience",
    responses=AUDIENCE_RESPONSES,
    summary="Campaign audience with personalised picks",
    openapi_extra={"x-scope": "read"},
)
def audience(body: AudienceIn, services: ServicesDep, key: Read) -> Response:
    """Customers who granted marketing consent, with their offer and product picks (the
    export is recorded in the audit log). ``summary`` says how many were left out for consent
    and, for an empty audience, why and how to import consent."""
    fmt = "mailchimp" if body.format == "json" else body.format
    built = services.marketing.build_audience(
        segment=body.segment,
        min_clv=body.min_clv,
        n_items=body.n_items,
        limit=body.limit,
        offer=body.offer,
        actor=f"api:{key.key_id}",
        fmt=fmt,
    )
    if body.format == "json":
        return json_answer(
            {"customers": len(built.rows), "rows": built.rows, "summary": built.summary}
        )
    return Response(
        built.text(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="audience-{fmt}.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.post(
    "/offers/{offer_id}/responses",
    responses=NOT_FOUND,
    summary="Record an offer outcome (bandit feedback)",
    openapi_extra={"x-scope": "ingest"},
)
def offer_response(
    offer_id: Annotated[Id, Path(description="The offer's id.")],
    body: OfferResponseIn,
    services: ServicesDep,
    _key: Ingest,
) -> Response:
    """The bandit learns which offer works for customers like this one."""
    return json_answer(
        services.marketing.record_offer_response(offer_id, body.customer_id, body.converted)
    )
