"""The HTTP API application: ``create_app(settings)`` builds it; each worker process gets its
own services from the composition root in the lifespan, plus a background thread that keeps
the model bundle, the catalog and the marketing analysis fresh, so hot reloads and heavy
recomputation happen off the request path.

>>> from storewise.settings import Settings
>>> app = create_app(Settings(home="/tmp/sw-doc-api"))
>>> "/v1/customers/{customer_id}/recommendations" in app.openapi()["paths"]
True
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from storewise import __version__
from storewise.api import errors
from storewise.api.auth import AuthMiddleware, KeyCache
from storewise.api.cors import BrowserCorsMiddleware
from storewise.api.deps import ModelGuard
from storewise.api.limits import BodyLimitMiddleware
from storewise.api.metrics import Metrics, MetricsMiddleware, Shared, snapshot_loop
from storewise.api.routes import (
    collect,
    customers,
    demo_shop,
    events,
    experiments,
    marketing,
    ops,
    recommendations,
    support,
)
from storewise.app import Engine, Services, Settings, build, single_threaded_blas
from storewise.errors import ArtifactError, NotFitted, StorewiseError
from storewise.web import create_dashboard

log = logging.getLogger("storewise.api")

WARM_EVERY_SECONDS = 0.5
#: Fewest seconds between two recomputations of the marketing analysis. Any committed write
#: changes the store's sequence, so under a steady stream of events (browsers' views) the
#: analysis was recomputed every turn: 0.2 s of CPU every 0.5 s in each worker on a
#: 250,000-event shop (more on a bigger one), which doubled the p99 of POST /v1/collect.
#: Segments and lifetime values move over days; half a minute's delay costs nothing.
MARKETING_EVERY_SECONDS = 30.0

DESCRIPTION = (
    "Events in, personalised answers out. Every /v1 route needs an API key "
    "(`Authorization: Bearer KEY` or `X-API-Key: KEY`) with the scope shown; create keys "
    "with `storewise keys create --scope read,ingest`. Errors always look like "
    '`{"error": {"code", "message", "details"}}`.'
)


def _warm(engine: Engine, guard: ModelGuard) -> None:
    """Load the current bundle and catalog if needed (noting a refused bundle)."""
    if guard.blocked():
        return
    try:
        engine.served  # noqa: B018 - the property checks for and loads a new bundle
        engine.catalog  # noqa: B018 - the property refreshes an expired catalog
    except (ArtifactError, NotFitted) as exc:
        if isinstance(exc, ArtifactError):
            guard.failed()


def _refresh_marketing(services: Services) -> bool:
    """Recompute the marketing analysis if the store changed (off the request path); True
    when it was recomputed."""
    try:
        return services.marketing.refresh()
    except StorewiseError as exc:  # e.g. no purchases yet: nothing to analyse
        log.debug("marketing analysis not refreshed: %s", exc.message)
        return False


def _keep_fresh(
    services: Services,
    guard: ModelGuard,
    stop: threading.Event,
    metrics: Metrics,
    warm_answers: int = 0,
) -> None:
    """Touch the served bundle, the catalog and the marketing analysis often, so checking for
    a newly published bundle, loading it, refreshing the catalog and recomputing segments and
    CLV happen here rather than inside a request; apply the retention policy on its
    schedule; write the served lists logged since the last turn; after a bundle is loaded,
    answer known customers ahead of their requests. The marketing analysis is recomputed at
    most every :data:`MARKETING_EVERY_SECONDS`."""
    warmed: str | None = None
    engine = services.serving
    marketing_at = -MARKETING_EVERY_SECONDS
    while not stop.wait(WARM_EVERY_SECONDS):
        try:
            services.experiments.log.flush()
            _warm(engine, guard)
            if time.monotonic() - marketing_at >= MARKETING_EVERY_SECONDS and (
                _refresh_marketing(services)
            ):
                marketing_at = time.monotonic()
            if services.privacy.retention_due():
                removed = services.privacy.retain()
                log.info("retention removed %s", removed)
            version = guard.version()
            if warm_answers and version and version != warmed:
                warmed = version
                count = engine.warm(warm_answers, stop, busy=metrics.busy)
                log.info("answers ready for %d customers (bundle %s)", count, version)
        except Exception:  # a background thread must never die silently
            log.exception("keeping the model bundle fresh failed")


def create_app(
    settings: Settings,
    *,
    services: Services | None = None,
    demo_shop_key: str | None = None,
) -> FastAPI:
    """The API over ``settings`` (or over given services, e.g. in tests); with
    ``demo_shop_key`` (a publishable key) it also serves the demo shop at ``/demo-shop/``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        single_threaded_blas()
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        own = services is None
        wired = services if services is not None else build(settings)
        wired.serve(sqlite_cache_mib=settings.api_sqlite_cache_mib if own else None)
        app.state.services = wired
        app.state.key_cache = KeyCache(wired.keys, settings.api_key_cache_seconds)
        guard = app.state.model_guard = ModelGuard(wired.serving)
        _warm(wired.serving, guard)
        log.info("serving model bundle %s", guard.version() or "(none yet)")
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=_keep_fresh,
                args=(
                    wired,
                    guard,
                    stop,
                    app.state.metrics,
                    settings.api_warm_answers if own else 0,
                ),
                name="storewise-fresh",
                daemon=True,
            )
        ]
        shared = None
        if multiprocessing.parent_process() is not None:  # one of several uvicorn workers
            shared = Shared(settings.home / "run" / "metrics")
            threads.append(
                threading.Thread(
                    target=snapshot_loop,
                    args=(app.state.metrics, shared, stop),
                    name="storewise-metrics",
                    daemon=True,
                )
            )
        app.state.shared_metrics = shared
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=5)
            wired.experiments.log.flush()
            if shared is not None:
                shared.remove()
            if own:
                wired.close()

    app = FastAPI(
        title="storewise",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.state.shared_metrics = None
    app.state.demo_shop_key = demo_shop_key
    errors.install(app)
    for module in (events, recommendations, customers, marketing, support, experiments, ops):
        app.include_router(module.router)
    app.include_router(collect.router)
    if demo_shop_key is not None:
        app.include_router(demo_shop.router)
    app.include_router(create_dashboard(lambda: app.state.services))
    # Added innermost first: metrics wrap everything, then the browser routes' CORS (whose
    # preflights carry no key), then authentication, then body size.
    app.add_middleware(BodyLimitMiddleware, limit=settings.api_max_body_bytes)
    app.add_middleware(AuthMiddleware, insecure_local=settings.api_insecure_local)
    app.add_middleware(
        BrowserCorsMiddleware,
        insecure_local=settings.api_insecure_local,
        ttl=settings.api_key_cache_seconds,
    )
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app


def app_from_settings() -> FastAPI:
    """Factory for ``uvicorn --factory``: settings from the environment and ``storewise.toml``
    (how ``storewise serve`` starts each worker process)."""
    return create_app(Settings())
