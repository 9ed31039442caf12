"""CORS for the browser routes (``/v1/collect``, ``/v1/public/...``), with an origin
allow-list per publishable key.

A preflight (``OPTIONS`` with ``Access-Control-Request-Method``) is answered here, before
authentication (browsers send no key with it): 204 with ``Access-Control-Allow-Origin``
echoing the page's origin when it is on the list of the key named in ``?key=`` (or, when the
preflight names no key, of any active publishable key), else 403 in the one error shape with
no CORS header, so the browser refuses the real request. Answers to real requests get the
same echo when the caller's key lists the origin. Never ``*``, and never credentials: the
snippet sends no cookies to storewise (its anonymous id travels in the body).

The snippet's own requests need no preflight (a ``text/plain`` POST and plain GETs); the
preflight path serves pages that send JSON or an ``X-API-Key`` header.
"""

from __future__ import annotations

import time

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from storewise.api.auth import (
    LOCAL,
    PRINCIPAL,
    KeyCache,
    Principal,
    is_browser_path,
    origin_allowed,
    presented_key,
)
from storewise.api.errors import error_json
from storewise.app import Services

ALLOW_METHODS = "GET, POST"
ALLOW_HEADERS = "content-type, x-api-key"
#: Seconds a browser may reuse a preflight answer.
MAX_AGE = "600"


class BrowserCorsMiddleware:
    """Preflights and CORS headers of the browser routes (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, insecure_local: bool, ttl: float) -> None:
        self.app = app
        self.insecure_local = insecure_local
        self.ttl = ttl
        self._origins: tuple[float, frozenset[str]] | None = None

    def _any_key_origins(self, scope: Scope) -> frozenset[str]:
        """The origins of every active publishable key (re-read every ``ttl`` seconds)."""
        now = time.monotonic()
        if self._origins is None or now - self._origins[0] > self.ttl:
            services: Services = scope["app"].state.services
            self._origins = (now, services.keys.collect_origins())
        return self._origins[1]

    def _preflight_principal(self, scope: Scope) -> Principal | None:
        """The key a preflight names in ``?key=`` (None when it names none or a bad one)."""
        if self.insecure_local:
            return LOCAL
        key = presented_key(scope)
        cache: KeyCache | None = getattr(scope["app"].state, "key_cache", None)
        info = cache.verify(key) if key is not None and cache is not None else None
        return Principal(info.key_id, info.scopes, info.origins) if info is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_browser_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        origin = None
        preflight = False
        for name, value in scope.get("headers", ()):
            if name == b"origin":
                origin = value.decode("latin-1")
            elif name == b"access-control-request-method":
                preflight = True
        if origin is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and preflight:
            principal = self._preflight_principal(scope)
            fallback = frozenset() if principal is not None else self._any_key_origins(scope)
            if origin_allowed(origin, principal, fallback):
                response = Response(
                    status_code=204,
                    headers={
                        "Access-Control-Allow-Origin": origin,
                        "Access-Control-Allow-Methods": ALLOW_METHODS,
                        "Access-Control-Allow-Headers": ALLOW_HEADERS,
                        "Access-Control-Max-Age": MAX_AGE,
                        "Vary": "Origin",
                    },
                )
            else:
                response = error_json(
                    403,
                    "forbidden",
                    f"origin {origin!r} may not use this API: add it to the publishable key "
                    "(storewise keys create --scope collect --origin ...)",
                    {"origin": origin},
                    {"Vary": "Origin"},
                )
            await response(scope, receive, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                principal: Principal | None = scope.get(PRINCIPAL)
                fallback = frozenset() if principal is not None else self._any_key_origins(scope)
                headers = list(message.get("headers", []))
                headers.append((b"vary", b"Origin"))
                if origin is not None and origin_allowed(origin, principal, fallback):
                    headers.append((b"access-control-allow-origin", origin.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_cors)
