"""``storewise serve``: the HTTP API under uvicorn, one engine per worker process.

``--demo-shop`` also serves a small shop at ``/demo-shop/`` whose pages use ``storewise.js``
and its widgets as a real shop's would, with a publishable key made for it at each start
(the previous demo key is revoked).
"""

from __future__ import annotations

import copy
import os
from typing import Annotated, Any

import typer

from storewise.cli.common import State, err_console, guarded, state
from storewise.errors import ConfigError, InputError

LOOPBACK = ("127.0.0.1", "localhost", "::1")
WORKER_START_SECONDS = 60
DEMO_KEY_NAME = "demo shop (storewise serve --demo-shop)"


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, plus storewise's own messages (model reloads, refused bundles)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["storewise"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


@guarded
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1)] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes (one engine each).", min=1)
    ] = 1,
    insecure_local: Annotated[
        bool,
        typer.Option(
            "--insecure-local",
            help="No API keys: for trying it out on this machine; binds only to 127.0.0.1.",
        ),
    ] = False,
    demo_shop: Annotated[
        bool,
        typer.Option(
            "--demo-shop",
            help="Also serve a demo shop at /demo-shop/ using storewise.js (one worker).",
        ),
    ] = False,
) -> None:
    """Serve the HTTP API (docs at /docs); refuses to start without an active API key."""
    import uvicorn

    from storewise.api.app import create_app

    root = state(ctx)
    settings = root.settings
    if insecure_local:
        if host not in LOOPBACK:
            raise InputError("--insecure-local serves without keys and binds only to 127.0.0.1")
        host = "127.0.0.1"
        settings = settings.model_copy(update={"api_insecure_local": True})
    if demo_shop and workers != 1:
        raise InputError("--demo-shop runs one worker: leave out --workers")
    demo_key: str | None = None
    if demo_shop:
        demo_key = "insecure-local" if insecure_local else _demo_key(root, host, port)
    if not insecure_local:
        with root.services() as services:
            has_key = services.keys.has_active()
        if not has_key:
            raise ConfigError(
                "no active API key: create one with `storewise keys create --scope read,ingest` "
                "(or try it on this machine with `storewise serve --insecure-local`)"
            )
    err_console.print(
        f"storewise API on http://{host}:{port} (docs: /docs)"
        + (" [yellow]without API keys (insecure-local)[/]" if insecure_local else "")
    )
    if demo_shop:
        err_console.print(f"demo shop on http://{host}:{port}/demo-shop/")
    common = {
        "host": host,
        "port": port,
        "access_log": False,  # uvicorn's access log shows raw paths, which hold customer ids
        "log_config": _log_config(),
        "log_level": "info",
        "timeout_graceful_shutdown": 10,
        "server_header": False,
    }
    if workers == 1:
        uvicorn.run(create_app(settings, demo_shop_key=demo_key), **common)  # type: ignore[arg-type]
        return
    # Each worker process builds its own settings from the environment: pass on the options.
    # Parallelism comes from worker processes: polars' own thread pool only adds hand-offs
    # on the small frames of a request (measured ~15% less CPU per answer with one thread).
    os.environ.setdefault("POLARS_MAX_THREADS", "1")
    os.environ["STOREWISE_HOME"] = str(settings.home)
    if settings.db_url:
        os.environ["STOREWISE_DB_URL"] = settings.db_url
    os.environ["STOREWISE_API_INSECURE_LOCAL"] = "true" if insecure_local else "false"
    uvicorn.run(
        "storewise.api.app:app_from_settings",
        factory=True,
        workers=workers,
        # A worker imports numpy, polars and the model bundle before it answers the supervisor's
        # health check; on a busy machine that takes longer than uvicorn's default 5 s.
        timeout_worker_healthcheck=WORKER_START_SECONDS,
        **common,  # type: ignore[arg-type]
    )


def _demo_key(root: State, host: str, port: int) -> str:
    """A fresh publishable key for the demo shop's pages (the previous one is revoked)."""
    hosts = dict.fromkeys(["127.0.0.1", "localhost", host])
    with root.services() as services:
        for key in services.keys.list_keys(include_revoked=False):
            if key.name == DEMO_KEY_NAME:
                services.keys.revoke(key.key_id)
        created = services.keys.create(
            ["collect"],
            name=DEMO_KEY_NAME,
            origins=[f"http://{h if ':' not in h else f'[{h}]'}:{port}" for h in hosts],
        )
    return created.key
