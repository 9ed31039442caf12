"""storewise.api: the HTTP API (FastAPI) over the engine; build it with ``create_app``."""

from storewise.api.app import create_app

__all__ = ["create_app"]
