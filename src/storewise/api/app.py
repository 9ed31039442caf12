"""The HTTP API application: ``create_app(settings)`` builds it; each worker process gets its
own engine in the lifespan, plus a background thread that keeps the model bundle and catalog
fresh so hot reloads happen off the request path.

>>> from storewise.settings import Settings
>>> app = create_app(Settings(home="/tmp/sw-doc-api"))
>>> "/v1/customers/{customer_id}/recommendations" in app.openapi()["paths"]
True
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import sqlalchemy as sa
from fastapi import FastAPI

from storewise import __version__
from storewise.api import errors
from storewise.api.auth import AuthMiddleware, KeyCache
from storewise.api.deps import ModelGuard
from storewise.api.limits import BodyLimitMiddleware
from storewise.api.metrics import Metrics, MetricsMiddleware, Shared, snapshot_loop
from storewise.api.routes import customers, events, marketing, ops, recommendations, support
from storewise.engine import Engine, single_threaded_blas
from storewise.errors import ArtifactError, NotFitted
from storewise.settings import Settings
from storewise.store import SqlStore
from storewise.store.keys import KeyStore
from storewise.web import create_dashboard

log = logging.getLogger("storewise.api")

WARM_EVERY_SECONDS = 0.5

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


def _keep_fresh(
    engine: Engine, guard: ModelGuard, stop: threading.Event, warm_answers: int = 0
) -> None:
    """Touch the served bundle and catalog often, so checking for a newly published bundle,
    loading it and refreshing the catalog happen here rather than inside a request; after a
    bundle is loaded, answer known customers ahead of their requests."""
    warmed: str | None = None
    while not stop.wait(WARM_EVERY_SECONDS):
        try:
            _warm(engine, guard)
            version = guard.version()
            if warm_answers and version and version != warmed:
                warmed = version
                count = engine.warm(warm_answers, stop)
                log.info("answers ready for %d customers (bundle %s)", count, version)
        except Exception:  # a background thread must never die silently
            log.exception("keeping the model bundle fresh failed")


def limit_sqlite_cache(store: SqlStore, mib: int) -> None:
    """Give every new SQLite connection of the store a page cache of ``mib`` MiB, and drop the
    pooled ones so none keeps the import-sized cache (memory stays flat under load)."""
    if store.dialect != "sqlite":
        return

    def small_cache(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA cache_size=-{int(mib) * 1024}")
        cursor.close()

    sa.event.listen(store.engine, "connect", small_cache)
    store.engine.dispose()


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """The API over ``settings`` (or over a given engine, e.g. in tests)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        single_threaded_blas()
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        own = engine is None
        served = engine if engine is not None else Engine(settings)
        if own:
            limit_sqlite_cache(served.store, settings.api_sqlite_cache_mib)
        app.state.engine = served
        app.state.key_cache = KeyCache(KeyStore(served.store), settings.api_key_cache_seconds)
        guard = app.state.model_guard = ModelGuard(served)
        _warm(served, guard)
        log.info("serving model bundle %s", guard.version() or "(none yet)")
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=_keep_fresh,
                args=(served, guard, stop, settings.api_warm_answers if own else 0),
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
            if shared is not None:
                shared.remove()
            if own:
                served.store.close()

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
    errors.install(app)
    for module in (events, recommendations, customers, marketing, support, ops):
        app.include_router(module.router)
    app.include_router(create_dashboard(lambda: app.state.engine))
    # Added innermost first: metrics wrap everything, then authentication, then body size.
    app.add_middleware(BodyLimitMiddleware, limit=settings.api_max_body_bytes)
    app.add_middleware(AuthMiddleware, insecure_local=settings.api_insecure_local)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app


def app_from_settings() -> FastAPI:
    """Factory for ``uvicorn --factory``: settings from the environment and ``storewise.toml``
    (how ``storewise serve`` starts each worker process)."""
    return create_app(Settings())
