"""Customers: login stitching, profile, and the rights of access and erasure."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.responses import Response

from storewise.api.auth import Admin, Ingest, Read
from storewise.api.deps import ServicesDep, json_answer
from storewise.api.routes.docs import ERRORS, NOT_FOUND
from storewise.api.schemas import ErasureOut, Id, IdentifyIn, IdentifyOut

router = APIRouter(prefix="/v1", tags=["customers"], responses=ERRORS)

CustomerPath = Annotated[Id, Path(description="The customer's id.")]


@router.post(
    "/identify",
    response_model=IdentifyOut,
    summary="Link a guest to a customer (login)",
    openapi_extra={"x-scope": "ingest"},
)
def identify(body: IdentifyIn, services: ServicesDep, _key: Ingest) -> Response:
    """The guest's events count for the customer from the very next answer."""
    return json_answer(services.customers.identify(body.anonymous_id, body.customer_id))


@router.get(
    "/customers/{customer_id}/profile",
    responses=NOT_FOUND,
    summary="History summary",
    openapi_extra={"x-scope": "read"},
)
def profile(customer_id: CustomerPath, services: ServicesDep, _key: Read) -> Response:
    """Orders, items bought, revenue, returns, first and last seen, consents, favourites."""
    return json_answer(services.customers.profile(customer_id))


@router.get(
    "/customers/{customer_id}/export",
    responses=NOT_FOUND,
    summary="Everything held about a customer",
    openapi_extra={"x-scope": "admin"},
)
def export(customer_id: CustomerPath, services: ServicesDep, key: Admin) -> Response:
    """The right of access: profile, linked anonymous ids, consents and every event, as JSON
    (recorded in the audit log)."""
    return json_answer(services.customers.export(customer_id, actor=f"api:{key.key_id}"))


@router.delete(
    "/customers/{customer_id}",
    response_model=ErasureOut,
    responses=NOT_FOUND,
    summary="Erase a customer",
    openapi_extra={"x-scope": "admin"},
)
def erase(customer_id: CustomerPath, services: ServicesDep, key: Admin) -> Response:
    """The right to erasure: from the store, the caches and the served model bundle; returns
    what was removed (unknown customer: 404)."""
    return json_answer(services.customers.erase(customer_id, actor=f"api:{key.key_id}"))
