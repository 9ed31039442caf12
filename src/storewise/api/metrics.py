"""Prometheus metrics in the text exposition format, without a client library.

Per route template (never the raw path, which holds customer ids): request counts by status
and latency histograms; plus events ingested by outcome and the served model version. With
several uvicorn workers each writes a snapshot file every second and ``/metrics`` adds up the
live workers' snapshots, so any worker answers for the whole server.
"""

from __future__ import annotations

import bisect
import json
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_SNAPSHOT_EVERY = 1.0


#: A worker counts as serving until this long after its last request ended.
IDLE_SECONDS = 0.05


class Metrics:
    """Counters and histograms of one worker process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = {}
        self.latency: dict[tuple[str, str], list[float]] = {}  # buckets..., +Inf, sum
        self.events: dict[str, int] = {"stored": 0, "duplicate": 0, "rejected": 0}
        #: Requests being answered right now, and when the last one ended (monotonic).
        self.in_flight = 0
        self.last_finished = 0.0

    def busy(self) -> bool:
        """Whether this worker is serving: a request in flight, or one ended less than
        :data:`IDLE_SECONDS` ago (traffic is still flowing). Background warming runs only
        in the gaps, so it never competes with requests for the interpreter."""
        return self.in_flight > 0 or time.monotonic() - self.last_finished < IDLE_SECONDS

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        key = (method, route)
        with self._lock:
            counts = self.requests
            status_key = (method, route, str(status))
            counts[status_key] = counts.get(status_key, 0) + 1
            row = self.latency.get(key)
            if row is None:
                row = self.latency[key] = [0.0] * (len(BUCKETS) + 2)
            row[bisect.bisect_left(BUCKETS, seconds)] += 1
            row[-1] += seconds

    def ingested(self, stored: int, duplicates: int, rejected: int) -> None:
        """Count the outcome of an ingested batch of events."""
        with self._lock:
            self.events["stored"] += stored
            self.events["duplicate"] += duplicates
            self.events["rejected"] += rejected

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy of every figure."""
        with self._lock:
            return {
                "requests": [[*k, v] for k, v in self.requests.items()],
                "latency": [[*k, list(v)] for k, v in self.latency.items()],
                "events": dict(self.events),
            }


def merge(snapshots: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Add up snapshots of several workers."""
    requests: dict[tuple[str, ...], int] = {}
    latency: dict[tuple[str, ...], list[float]] = {}
    events: dict[str, int] = {"stored": 0, "duplicate": 0, "rejected": 0}
    for snap in snapshots:
        for method, route, status, count in snap.get("requests", []):
            key = (method, route, status)
            requests[key] = requests.get(key, 0) + int(count)
        for method, route, row in snap.get("latency", []):
            mine = latency.setdefault((method, route), [0.0] * len(row))
            for i, value in enumerate(row):
                mine[i] += value
        for name, count in snap.get("events", {}).items():
            events[name] = events.get(name, 0) + int(count)
    return {"requests": requests, "latency": latency, "events": events}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(
    merged: dict[str, Any], *, model_version: str | None, reload_error: bool, workers: int
) -> str:
    """The text exposition format (version 0.0.4)."""
    out = [
        "# HELP storewise_http_requests_total HTTP requests answered, by route template.",
        "# TYPE storewise_http_requests_total counter",
    ]
    for (method, route, status), count in sorted(merged["requests"].items()):
        out.append(
            f'storewise_http_requests_total{{method="{method}",route="{_label(route)}",'
            f'status="{status}"}} {count}'
        )
    out += [
        "# HELP storewise_http_request_duration_seconds Time to answer, by route template.",
        "# TYPE storewise_http_request_duration_seconds histogram",
    ]
    for (method, route), row in sorted(merged["latency"].items()):
        labels = f'method="{method}",route="{_label(route)}"'
        running = 0.0
        for bound, count in zip((*BUCKETS, "+Inf"), row[:-1], strict=True):
            running += count
            out.append(
                f'storewise_http_request_duration_seconds_bucket{{{labels},le="{bound}"}} '
                f"{int(running)}"
            )
        out.append(f"storewise_http_request_duration_seconds_sum{{{labels}}} {row[-1]:.6f}")
        out.append(f"storewise_http_request_duration_seconds_count{{{labels}}} {int(running)}")
    out += [
        "# HELP storewise_events_ingested_total Events received through the API, by outcome.",
        "# TYPE storewise_events_ingested_total counter",
    ]
    for outcome, count in sorted(merged["events"].items()):
        out.append(f'storewise_events_ingested_total{{outcome="{outcome}"}} {count}')
    out += [
        "# HELP storewise_model_info The model bundle being served (1 when one is).",
        "# TYPE storewise_model_info gauge",
    ]
    if model_version is not None:
        out.append(f'storewise_model_info{{version="{_label(model_version)}"}} 1')
    out += [
        "# HELP storewise_model_reload_failed 1 when the newest bundle was refused.",
        "# TYPE storewise_model_reload_failed gauge",
        f"storewise_model_reload_failed {int(reload_error)}",
        "# HELP storewise_api_workers Worker processes whose figures are included.",
        "# TYPE storewise_api_workers gauge",
        f"storewise_api_workers {workers}",
    ]
    return "\n".join(out) + "\n"


class Shared:
    """Snapshot files of the workers of one server, under ``folder/<server pid>/``."""

    def __init__(self, root: Path) -> None:
        self.folder = root / str(os.getppid())
        self.path = self.folder / f"{os.getpid()}.json"

    def write(self, snapshot: dict[str, Any]) -> None:
        """Replace this worker's snapshot atomically."""
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(snapshot))
        os.replace(tmp, self.path)

    def others(self) -> list[dict[str, Any]]:
        """Snapshots of the other live workers (files of dead ones are removed)."""
        found: list[dict[str, Any]] = []
        if not self.folder.exists():
            return found
        for path in self.folder.glob("*.json"):
            if path == self.path:
                continue
            try:
                os.kill(int(path.stem), 0)
            except (ValueError, ProcessLookupError):
                path.unlink(missing_ok=True)
                continue
            except PermissionError:
                pass
            try:
                found.append(json.loads(path.read_text()))
            except (OSError, json.JSONDecodeError):
                continue
        return found

    def remove(self) -> None:
        """Drop this worker's snapshot at shutdown."""
        self.path.unlink(missing_ok=True)


class MetricsMiddleware:
    """Times every HTTP request and counts it under its route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        self.metrics.in_flight += 1  # one event loop thread: no lock needed

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.in_flight -= 1
            self.metrics.last_finished = time.monotonic()
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], template, status, time.perf_counter() - started)


def snapshot_loop(metrics: Metrics, shared: Shared, stop: threading.Event) -> None:
    """Write this worker's snapshot every second until ``stop`` is set."""
    while not stop.wait(_SNAPSHOT_EVERY):
        try:
            shared.write(metrics.snapshot())
        except OSError:
            continue
