"""Data in: events (one or a batch), catalog items, customer profiles and consents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from pydantic import Discriminator, Field, Tag
from starlette.responses import Response

from storewise.api.auth import Ingest
from storewise.api.deps import MetricsDep, ServicesDep, json_answer
from storewise.api.routes.docs import ERRORS
from storewise.api.schemas import (
    MAX_BATCH,
    ConsentsIn,
    ConsentsOut,
    CustomerIn,
    EventIn,
    Id,
    IngestOut,
    ItemIn,
)
from storewise.errors import ConfigError, InputError

router = APIRouter(prefix="/v1", tags=["data in"], responses=ERRORS)
INGEST = {"x-scope": "ingest"}

EventBatch = Annotated[list[EventIn], Field(max_length=MAX_BATCH)]
OneOrMany = Annotated[
    Annotated[EventIn, Tag("one")] | Annotated[EventBatch, Tag("many")],
    Discriminator(lambda v: "many" if isinstance(v, list) else "one"),
]
CustomerPath = Annotated[Id, Path(description="The customer's id.")]


def _records(rows: list[Any], **extra: Any) -> list[dict[str, Any]]:
    """Request models as the plain records the engine ingests."""
    return [{**row.model_dump(exclude_none=True), **extra} for row in rows]


@router.post(
    "/events", response_model=IngestOut, summary="Send one event or a batch", openapi_extra=INGEST
)
def post_events(
    body: Annotated[OneOrMany, Body(description=f"One event, or a list of up to {MAX_BATCH}.")],
    services: ServicesDep,
    metrics: MetricsDep,
    _key: Ingest,
) -> Response:
    """Store events in one transaction and answer after it commits: how many were stored,
    already there (same event_id) or rejected, with each rejection's position and reason."""
    events = body if isinstance(body, list) else [body]
    now = datetime.now(UTC)
    records = _records(events)
    for record in records:
        record.setdefault("timestamp", now)
    report = services.ingest.records("events", records, source="api")
    metrics.ingested(report.stored, report.duplicates, len(report.rejected))
    return json_answer(report.to_dict())


@router.put(
    "/items",
    response_model=IngestOut,
    summary="Insert or update catalog items",
    openapi_extra=INGEST,
)
def put_items(
    body: Annotated[list[ItemIn], Body(max_length=MAX_BATCH)],
    services: ServicesDep,
    _key: Ingest,
) -> Response:
    """Upsert up to 1,000 items; fields left out keep their stored values."""
    report = services.ingest.records("items", _records(body), source="api")
    return json_answer(report.to_dict())


@router.put(
    "/customers/{customer_id}",
    response_model=IngestOut,
    summary="Customer profile",
    openapi_extra=INGEST,
)
def put_customer(
    customer_id: CustomerPath,
    body: CustomerIn,
    services: ServicesDep,
    _key: Ingest,
) -> Response:
    """Insert or update a customer's profile (e-mail and name are stored encrypted)."""
    try:
        report = services.ingest.records("customers", _records([body], customer_id=customer_id))
    except ConfigError as exc:  # personal fields but no encryption key on this server
        raise InputError(exc.message) from exc
    return json_answer(report.to_dict())


@router.put(
    "/customers/{customer_id}/consents",
    response_model=ConsentsOut,
    summary="Consent decisions",
    openapi_extra=INGEST,
)
def put_consents(
    customer_id: CustomerPath,
    body: ConsentsIn,
    services: ServicesDep,
    _key: Ingest,
) -> Response:
    """Record consent decisions as of now; withdrawn personalization takes effect at once."""
    decisions = body.model_dump(exclude_none=True)
    if not decisions:
        raise InputError("give at least one of personalization, marketing, analytics")
    current = services.customers.set_consents(customer_id, decisions, source="api")
    return json_answer({"customer_id": customer_id, "consents": current})
