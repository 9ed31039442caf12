"""Operations: liveness, readiness, Prometheus metrics and the offline docs page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from storewise.api.auth import metrics_access
from storewise.api.deps import ServicesDep, json_answer
from storewise.api.errors import error_json
from storewise.api.metrics import merge, render
from storewise.api.routes.docs import docs_page

router = APIRouter(tags=["operations"])


@router.get("/health", summary="Liveness")
async def health() -> dict[str, str]:
    """The process answers (no store or model check: see /ready)."""
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness",
    responses={503: {"description": "Store unreachable or no model bundle served."}},
)
def ready(request: Request, services: ServicesDep) -> Response:
    """Ready when the store answers and a model bundle is served; 503 otherwise."""
    checks: dict[str, Any] = {"store": "ok", "model_version": None}
    if not services.insights.store_answers():
        checks["store"] = "unreachable"
    checks["model_version"] = request.app.state.model_guard.version()
    refused = services.serving.last_reload_error is not None
    if refused and checks["model_version"] is not None:
        checks["warning"] = (
            f"the newest model bundle ({services.serving.refused_version}) was refused; "
            f"the previous one ({checks['model_version']}) serves"
        )
    if checks["store"] != "ok" or checks["model_version"] is None:
        if checks["store"] != "ok":
            message = "the store is unreachable"
        elif refused:
            message = "the model bundle was refused and none is served: run `storewise train`"
        else:
            message = "no trained model yet: run `storewise train` first"
        return error_json(503, "not_ready", message, checks)
    return json_answer({"status": "ready", **checks})


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
    openapi_extra={"x-scope": "admin (or a client on 127.0.0.1)"},
)
def metrics(request: Request, _access: Annotated[None, Depends(metrics_access)]) -> Response:
    """Request counts and latency histograms per route template, events ingested by outcome,
    the served model version; summed over all workers of the server."""
    state = request.app.state
    snapshots = [state.metrics.snapshot()]
    if state.shared_metrics is not None:
        snapshots += state.shared_metrics.others()
    text = render(
        merge(snapshots),
        model_version=state.model_guard.version(),
        reload_error=state.services.serving.last_reload_error is not None,
        workers=len(snapshots),
    )
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/docs", include_in_schema=False)
async def docs(request: Request) -> HTMLResponse:
    """Every operation on one page, from the OpenAPI schema (no scripts, no CDN)."""
    return HTMLResponse(docs_page(request.app.openapi()))
