"""Shared route plumbing: the worker's services and metrics, and fast JSON answers."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.responses import Response

from storewise.api.metrics import Metrics
from storewise.app import Engine, Experiments, Services
from storewise.errors import ArtifactError


class ModelGuard:
    """Remembers a bundle that failed to load while none is served, so requests answer 503 at
    once instead of each trying to load it again (the engine retries on every call then)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.refused: str | None = None

    def failed(self) -> None:
        """Note that the current bundle could not be loaded and nothing is served."""
        self.refused = self.engine.published_version()

    def blocked(self) -> bool:
        """Whether the current bundle is the one already refused (a new one is worth a try)."""
        if self.refused is None:
            return False
        if self.engine.published_version() == self.refused:
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


async def _services(request: Request) -> Services:
    """The services of this worker process (built in the app's lifespan)."""
    services: Services = request.app.state.services
    return services


async def _serving(request: Request) -> Engine:
    """The serving service, for routes that need a model: 503 at once while only a refused
    bundle exists."""
    guard: ModelGuard = request.app.state.model_guard
    if guard.blocked():
        raise ArtifactError("the current model bundle was refused")
    services: Services = request.app.state.services
    return services.serving


async def _experiments(request: Request) -> Experiments:
    """The experiments service: every list served goes through it (tag, variant, log)."""
    services: Services = request.app.state.services
    return services.experiments


async def _metrics(request: Request) -> Metrics:
    """This worker's metrics."""
    metrics: Metrics = request.app.state.metrics
    return metrics


ServicesDep = Annotated[Services, Depends(_services)]
ServingDep = Annotated[Engine, Depends(_serving)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
ExperimentsDep = Annotated[Experiments, Depends(_experiments)]


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
