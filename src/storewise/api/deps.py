"""Shared route plumbing: the worker's engine and metrics, and fast JSON answers."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import Response

from storewise import artifacts
from storewise.api.metrics import Metrics
from storewise.engine import Engine
from storewise.errors import ArtifactError


class ModelGuard:
    """Remembers a bundle that failed to load while none is served, so requests answer 503 at
    once instead of each trying to load it again (the engine retries on every call then)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.refused: str | None = None

    def failed(self) -> None:
        """Note that the current bundle could not be loaded and nothing is served."""
        self.refused = artifacts.current_version(self.engine.models_dir)

    def blocked(self) -> bool:
        """Whether the current bundle is the one already refused (a new one is worth a try)."""
        if self.refused is None:
            return False
        if artifacts.current_version(self.engine.models_dir) == self.refused:
            return True
        self.refused = None
        return False

    def version(self) -> str | None:
        """The served bundle's version; None when there is none (or only a refused one)."""
        if self.blocked():
            return None
        try:
            return self.engine.model_version
        except ArtifactError:
            self.failed()
            return None


async def _engine(request: Request) -> Engine:
    """The engine of this worker process (created in the app's lifespan)."""
    engine: Engine = request.app.state.engine
    return engine


async def _serving(request: Request) -> Engine:
    """The engine, for routes that need a model: 503 at once while only a refused bundle exists."""
    guard: ModelGuard = request.app.state.model_guard
    if guard.blocked():
        raise ArtifactError("the current model bundle was refused")
    engine: Engine = request.app.state.engine
    return engine


async def _metrics(request: Request) -> Metrics:
    """This worker's metrics."""
    metrics: Metrics = request.app.state.metrics
    return metrics


EngineDep = Annotated[Engine, Depends(_engine)]
ServingDep = Annotated[Engine, Depends(_serving)]
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
