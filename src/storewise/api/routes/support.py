"""Customer service: suggested answers with the customer's own context."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field
from starlette.responses import Response

from storewise.api.auth import Read
from storewise.api.deps import ServicesDep, json_answer
from storewise.api.routes.docs import ERRORS
from storewise.api.schemas import Id, Strict

router = APIRouter(prefix="/v1", tags=["support"], responses=ERRORS)

MAX_MESSAGE = 5_000


class SuggestIn(Strict):
    """A customer's message (and who wrote it, when known)."""

    customer_id: Id | None = None
    message: str = Field(min_length=1, max_length=MAX_MESSAGE)


@router.post("/support/suggest", summary="Suggested answers", openapi_extra={"x-scope": "read"})
def suggest(body: SuggestIn, services: ServicesDep, _key: Read) -> Response:
    """Intent and confidence, answers filled with the customer's facts, card, priority, actions."""
    return json_answer(services.support.suggest(body.customer_id, body.message))
