"""The shop's web pages: ``storewise.js`` itself, the browser door ``POST /v1/collect`` and the
widgets' public lists ``GET /v1/public/recommendations``, all behind a publishable
(``collect``) key. The work is the collect service's; these handlers do HTTP: keys in the body
or the query, the page's origin, rate-limit answers, body and batch limits.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from storewise.api.auth import Collect as CollectKey
from storewise.api.auth import body_key_principal, check_origin
from storewise.api.deps import json_answer
from storewise.api.errors import BodyTooLarge, error_json
from storewise.api.routes.docs import ERRORS
from storewise.api.schemas import Id
from storewise.app import BatchTooLarge, Collect, Services

router = APIRouter(tags=["web pages"], responses=ERRORS)
COLLECT = {"x-scope": "collect"}

Placement = Literal["for-you", "buy-again", "similar", "bought-together", "trending"]


async def _collect(request: Request) -> Collect:
    """The collect service of this worker."""
    services: Services = request.app.state.services
    return services.collect


CollectDep = Annotated[Collect, Depends(_collect)]


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it passes ``limit`` bytes."""
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _key_in_body(body: bytes) -> str | None:
    """The ``key`` field of a JSON object body, if any (a body that is not one has none)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    key = data.get("key") if isinstance(data, dict) else None
    return key if isinstance(key, str) else None


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _limited(wait: float) -> Response:
    """429 with ``Retry-After``: the snippet backs off and retries with the same event ids."""
    seconds = max(1, math.ceil(wait))
    return error_json(
        429,
        "rate_limited",
        "too many requests: retry later",
        {"retry_after_seconds": seconds},
        {"Retry-After": str(seconds)},
    )


@router.post(
    "/v1/collect",
    status_code=202,
    summary="Events from a shop's pages (storewise.js)",
    openapi_extra={
        **COLLECT,
        "requestBody": {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": 'JSON text: {"key", "anonymous_id", "sent_at", "events": [...]}',
        },
    },
)
async def collect(request: Request, collect: CollectDep) -> Response:
    """Store a page's batch of events (GA4 names), identify and consent rows, and feedback on
    widgets; answer where every row went (stored, duplicate, not stored, rejected by index).
    The key may come in the body (``navigator.sendBeacon`` cannot set headers). Bots are
    answered like everyone else, with every row reported dropped."""
    body = await _body(request, collect.limits.max_body_bytes)
    principal = body_key_principal(request, _key_in_body(body))
    check_origin(request, principal)
    wait = collect.admit(principal.key_id, _address(request))
    if wait:
        return _limited(wait)
    try:
        batch = collect.read(body)
    except BatchTooLarge as exc:
        return error_json(413, "payload_too_large", exc.message, exc.details)
    report = await run_in_threadpool(
        collect.accept,
        batch,
        user_agent=request.headers.get("user-agent"),
        key_id=principal.key_id,
    )
    return json_answer(report.to_dict(), 202)


@router.get(
    "/v1/public/recommendations",
    summary="A widget's list (public catalog facts only)",
    openapi_extra=COLLECT,
)
def public_recommendations(
    request: Request,
    collect: CollectDep,
    principal: CollectKey,
    placement: Annotated[Placement, Query(description="Which list (data-storewise).")],
    n: Annotated[int, Query(ge=1, le=24, description="How many items (1-24).")] = 8,
    anonymous_id: Annotated[
        Id | None, Query(description="The visitor's anonymous id (sent with consent only).")
    ] = None,
    item: Annotated[Id | None, Query(description="similar: the item shown.")] = None,
    items: Annotated[
        str | None, Query(max_length=4200, description="bought-together: ids, comma-separated.")
    ] = None,
) -> Response:
    """Item ids, titles, prices, image and page URLs, reasons and the recommendation id the
    widget reports impressions and clicks with; nothing about any customer."""
    check_origin(request, principal)
    wait = collect.admit(principal.key_id, _address(request))
    if wait:
        return _limited(wait)
    answer = collect.public_list(
        placement,
        anonymous_id=anonymous_id,
        n=n,
        item_id=item,
        item_ids=[i.strip() for i in (items or "").split(",") if i.strip()],
    )
    response = json_answer(answer)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/sdk/storewise.js", include_in_schema=False)
def snippet(
    request: Request,
    collect: CollectDep,
    v: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """The snippet: cached for a year under its own ``?v=VERSION``, revalidated otherwise
    (ETag); gzip when the browser accepts it."""
    js = collect.snippet()
    headers = {
        "ETag": js.etag,
        "Cache-Control": js.cache_control(v),
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Access-Control-Allow-Origin": "*",  # a public file, never sent with credentials
        "X-Storewise-Version": js.version,
    }
    if js.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = js.body
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = js.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, headers=headers, media_type="text/javascript; charset=utf-8")
