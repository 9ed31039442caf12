"""Request body size limit: announced sizes are refused before reading, streamed ones as soon
as they pass the limit (413 in the one error shape)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from storewise.api.errors import BodyTooLarge, error_json


class BodyLimitMiddleware:
    """Refuses request bodies larger than ``limit`` bytes."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    announced = int(value)
                except ValueError:
                    announced = -1
                if announced < 0 or announced > self.limit:
                    message = (
                        f"request body larger than {self.limit:,} bytes"
                        if announced > self.limit
                        else "invalid Content-Length"
                    )
                    status = 413 if announced > self.limit else 400
                    code = "payload_too_large" if status == 413 else "bad_request"
                    response = error_json(status, code, message)
                    await response(scope, receive, send)
                    return
                break
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, limited, send)
