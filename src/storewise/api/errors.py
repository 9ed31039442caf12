"""One JSON error shape for every failure: ``{"error": {"code", "message", "details"}}``.

storewise errors map to statuses here; framework errors (404, 405, 413, 422) are reshaped;
anything unexpected becomes a 500 that says nothing internal (the log has the detail).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from storewise.errors import (
    ArtifactError,
    AuthError,
    ConfigError,
    ConsentError,
    InputError,
    NotFitted,
    NotFound,
    StoreError,
    StorewiseError,
)

log = logging.getLogger("storewise.api")

NOT_TRAINED = "no trained model yet: run `storewise train` first"


class ScopeError(AuthError):
    """A valid key that lacks the scope a route needs (403, unlike a bad key's 401)."""

    code = "forbidden"


class BodyTooLarge(HTTPException):
    """A request body over the configured limit (an HTTPException so FastAPI re-raises it)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit:,} bytes")


def error_json(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An error answer in the one shape."""
    body = json.dumps({"error": {"code": code, "message": message, "details": details}})
    return Response(body, status, headers=headers, media_type="application/json")


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
}


def storewise_error(exc: StorewiseError) -> Response:
    """Status, code and a safe message for a storewise error."""
    if isinstance(exc, ScopeError):
        return error_json(403, exc.code, exc.message, exc.details)
    if isinstance(exc, AuthError):
        headers = {"WWW-Authenticate": 'Bearer realm="storewise"'}
        return error_json(401, exc.code, exc.message, exc.details, headers)
    if isinstance(exc, InputError):
        return error_json(422, exc.code, exc.message, exc.details)
    if isinstance(exc, NotFound):
        return error_json(404, exc.code, exc.message, exc.details)
    if isinstance(exc, ConsentError):
        return error_json(403, exc.code, exc.message, exc.details)
    if isinstance(exc, NotFitted):
        return error_json(503, exc.code, NOT_TRAINED)
    if isinstance(exc, ArtifactError):
        log.debug("model bundle problem: %s", exc.message)
        return error_json(
            503, exc.code, "the model bundle could not be loaded: run `storewise train`"
        )
    if isinstance(exc, StoreError):
        log.error("store failure: %s", exc.message)
        return error_json(503, exc.code, "the store is unavailable; try again")
    if isinstance(exc, ConfigError):
        log.error("configuration problem: %s", exc.message)
        return error_json(500, exc.code, "the server is not configured for this request")
    # The message may name a customer: the log keeps only what kind of error it was.
    log.error("storewise error %s (%s)", type(exc).__name__, exc.code)
    return error_json(500, "internal_error", "internal server error")


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Where and what, without echoing the submitted values back."""
    return [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg"), "type": e.get("type")}
        for e in exc.errors()[:50]
    ]


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the one shape."""

    async def on_storewise(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StorewiseError)
        return storewise_error(exc)

    async def on_validation(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        details = _validation_details(exc)
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(first["loc"])
        message = f"{where}: {first['msg']}" if where else str(first["msg"])
        return error_json(422, "invalid_request", message, details)

    async def on_http(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404 and message == "Not Found":
            message = "no such route"
        headers = dict(exc.headers) if exc.headers else None
        return error_json(exc.status_code, code, message, None, headers)

    async def on_crash(_request: Request, exc: Exception) -> Response:
        log.exception("unexpected error answering a request", exc_info=exc)
        return error_json(500, "internal_error", "internal server error")

    app.add_exception_handler(StorewiseError, on_storewise)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Exception, on_crash)
