"""Shared route plumbing: the worker's engine and metrics, and fast JSON answers."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import Response

from storewise.api.metrics import Metrics
from storewise.engine import Engine


async def _engine(request: Request) -> Engine:
    """The engine of this worker process (created in the app's lifespan)."""
    engine: Engine = request.app.state.engine
    return engine


async def _metrics(request: Request) -> Metrics:
    """This worker's metrics."""
    metrics: Metrics = request.app.state.metrics
    return metrics


EngineDep = Annotated[Engine, Depends(_engine)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]


def _finite(value: Any) -> Any:
    """Non-finite floats (never valid JSON) as null, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def json_answer(data: Any, status: int = 200) -> Response:
    """A JSON response, serialised once (the declared response models are for the docs)."""
    try:
        body = json.dumps(data, separators=(",", ":"), allow_nan=False, default=str)
    except ValueError:
        body = json.dumps(_finite(data), separators=(",", ":"), default=str)
    return Response(body, status, media_type="application/json")
