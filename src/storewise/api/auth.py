"""API-key authentication (a middleware, so a bad key is 401 before anything else) and scope
checks (dependencies: ``Ingest``, ``Read``, ``Admin``), with a short-lived key cache.

Keys come as ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``. Every ``/v1`` route needs a
valid key; the scope each route needs is declared next to it. ``/health``, ``/ready`` and
``/docs`` are open; ``/metrics`` is open to loopback clients (see settings) and else needs
``admin``. In insecure-local mode there are no keys and only loopback clients are answered.

The browser routes (``/v1/collect`` and ``/v1/public/...``, scope ``collect``) also take the
key as a ``key`` query parameter, and ``POST /v1/collect`` in a ``key`` field of its body:
``navigator.sendBeacon`` (how a page sends its last events as it unloads) cannot set headers,
and a request without custom headers needs no CORS preflight. That is safe only because a
``collect`` key is publishable (it sits in page source anyway and grants nothing else); no
other route reads a key from the query or the body. A browser route also checks the request's
``Origin`` against the key's origins (:func:`check_origin`).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import unquote_plus

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from storewise.api.errors import ScopeError, error_json
from storewise.app import KeyInfo, KeyStore, check_secret, grants, normalise_origin, split_key
from storewise.errors import AuthError, InputError

PRINCIPAL = "storewise.principal"
_UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="storewise"'}
_MISSING_CACHE_LIMIT = 10_000


#: Routes a page calls from the browser with a publishable key.
COLLECT_PATH = "/v1/collect"
PUBLIC_PREFIX = "/v1/public/"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key id (for the audit log), its scopes and, for a publishable key,
    the web origins it may be used from."""

    key_id: str
    scopes: tuple[str, ...]
    origins: tuple[str, ...] = ()


LOCAL = Principal("insecure-local", ("ingest", "read", "admin"))


def is_browser_path(path: str) -> bool:
    """Whether ``path`` is one of the routes pages call with a publishable key."""
    return path == COLLECT_PATH or path.startswith(PUBLIC_PREFIX)


def _query_key(scope: Scope) -> str | None:
    """The ``key`` query parameter (browser routes only read it)."""
    query: bytes = scope.get("query_string", b"")
    if b"key=" not in query:
        return None
    for part in query.split(b"&"):
        name, _, value = part.partition(b"=")
        if name == b"key" and value:
            return unquote_plus(value.decode("latin-1"))
    return None


def is_loopback(scope: Scope) -> bool:
    """Whether the client is on this machine (127.0.0.0/8 or ::1)."""
    client = scope.get("client")
    if not client:
        return False
    host = client[0]
    if host in ("testclient", "localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def presented_key(scope: Scope) -> str | None:
    """The key sent as ``Authorization: Bearer KEY``, else as ``X-API-Key: KEY``, if any."""
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    bearer = api_key = None
    for name, value in headers:
        if name == b"authorization" and bearer is None:
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                bearer = token.strip()
        elif name == b"x-api-key" and api_key is None and value.strip():
            api_key = value.decode("latin-1").strip()
    found = bearer or api_key
    if found is None and is_browser_path(scope.get("path", "")):
        found = _query_key(scope)
    return found


class KeyCache:
    """Verified keys kept for ``ttl`` seconds so most requests never touch the database."""

    def __init__(self, keys: KeyStore, ttl: float) -> None:
        self.keys = keys
        self.ttl = ttl
        self._rows: dict[str, tuple[float, tuple[str, KeyInfo] | None]] = {}

    def verify(self, key: str) -> KeyInfo | None:
        """The active key matching ``key``, or None; hashes compared in constant time."""
        parsed = split_key(key)
        if parsed is None:
            return None
        key_id, secret = parsed
        now = time.monotonic()
        cached = self._rows.get(key_id)
        if cached is None or now - cached[0] > self.ttl:
            if len(self._rows) >= _MISSING_CACHE_LIMIT:
                self._rows.clear()
            cached = (now, self.keys.lookup(key_id))
            self._rows[key_id] = cached
        return check_secret(secret, cached[1])


class AuthMiddleware:
    """Authenticates every request that carries a key; ``/v1`` requests must carry a valid one."""

    def __init__(self, app: ASGIApp, *, insecure_local: bool) -> None:
        self.app = app
        self.insecure_local = insecure_local

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        protected = scope["path"].startswith("/v1")
        if self.insecure_local:
            if not is_loopback(scope):
                response = error_json(
                    403, "forbidden", "this server answers only on 127.0.0.1 (insecure-local)"
                )
                await response(scope, receive, send)
                return
            scope[PRINCIPAL] = LOCAL
            await self.app(scope, receive, send)
            return
        key = presented_key(scope)
        if key is not None:
            cache: KeyCache | None = getattr(scope["app"].state, "key_cache", None)
            info = cache.verify(key) if cache is not None else None
            if info is not None:
                scope[PRINCIPAL] = Principal(info.key_id, info.scopes, info.origins)
            elif protected or scope["path"] == "/metrics":
                response = error_json(
                    401, "unauthorized", "invalid or revoked API key", None, _UNAUTHORIZED
                )
                await response(scope, receive, send)
                return
        elif protected and not (scope["path"] == COLLECT_PATH and scope["method"] == "POST"):
            # (POST /v1/collect may carry its key in the body: the route checks it.)
            response = error_json(
                401,
                "unauthorized",
                "an API key is required: send `Authorization: Bearer KEY` or `X-API-Key: KEY`",
                None,
                _UNAUTHORIZED,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


# Declared for the OpenAPI schema (so /docs shows how to authenticate); checking is above.
_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer sw_...`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: sw_...`")


def require(scope_name: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that lets a request through only with a key holding ``scope_name``."""

    async def dependency(
        request: Request,
        _b: Annotated[Any, Depends(_bearer)] = None,
        _h: Annotated[Any, Depends(_header)] = None,
    ) -> Principal:
        principal: Principal | None = request.scope.get(PRINCIPAL)
        if principal is None:
            raise AuthError("an API key is required")
        if not grants(principal.scopes, scope_name):
            raise ScopeError(
                f"this API key lacks the {scope_name!r} scope",
                details={"required_scope": scope_name, "key_scopes": list(principal.scopes)},
            )
        return principal

    dependency.__name__ = f"require_{scope_name}"
    return dependency


async def metrics_access(request: Request) -> None:
    """``/metrics``: loopback clients when allowed by settings, else an admin key."""
    if request.scope.get(PRINCIPAL) is not None:
        principal: Principal = request.scope[PRINCIPAL]
        if not grants(principal.scopes, "admin"):
            raise ScopeError("metrics need the 'admin' scope", details={"required_scope": "admin"})
        return
    if request.app.state.settings.api_metrics_loopback_open and is_loopback(request.scope):
        return
    raise AuthError("metrics need an admin API key (or a request from 127.0.0.1)")


def body_key_principal(request: Request, key: str | None) -> Principal:
    """The caller of ``POST /v1/collect``: the key the middleware verified, else the key in
    the body (401 when missing or invalid, 403 without the ``collect`` scope)."""
    principal: Principal | None = request.scope.get(PRINCIPAL)
    if principal is None:
        if not key:
            raise AuthError(
                "an API key is required: a `key` field in the body, `?key=` or `X-API-Key`"
            )
        cache: KeyCache = request.app.state.key_cache
        info = cache.verify(key)
        if info is None:
            raise AuthError("invalid or revoked API key")
        principal = Principal(info.key_id, info.scopes, info.origins)
        request.scope[PRINCIPAL] = principal
    if not grants(principal.scopes, "collect"):
        raise ScopeError(
            "this API key lacks the 'collect' scope",
            details={"required_scope": "collect", "key_scopes": list(principal.scopes)},
        )
    return principal


def origin_allowed(origin: str, principal: Principal | None, fallback: frozenset[str]) -> bool:
    """Whether a browser at ``origin`` may read an answer: one of the caller's key's origins
    (or, before a key is known, of any publishable key's); any loopback page in insecure-local
    mode."""
    try:
        normal = normalise_origin(origin)
    except InputError:
        return False
    if principal is LOCAL:
        host = normal.split("://", 1)[1].rsplit(":", 1)[0].strip("[]")
        return host in ("127.0.0.1", "localhost", "::1")
    allowed = principal.origins if principal is not None and principal.origins else fallback
    return normal in allowed


def check_origin(request: Request, principal: Principal) -> None:
    """A browser route's check of the page's ``Origin``: a request from a page not on the
    key's list is refused (403). A request without ``Origin`` (not from a page's script: a
    server, a test, a load generator) is let through: the list guards against other sites'
    pages using the key, it is not what authenticates."""
    origin = request.headers.get("origin")
    if origin is None or origin_allowed(origin, principal, frozenset()):
        return
    raise ScopeError(
        f"origin {origin!r} is not allowed for this key",
        details={"origin": origin, "allowed": list(principal.origins)},
    )


Collect = Annotated[Principal, Depends(require("collect"))]
Ingest = Annotated[Principal, Depends(require("ingest"))]
Read = Annotated[Principal, Depends(require("read"))]
Admin = Annotated[Principal, Depends(require("admin"))]
