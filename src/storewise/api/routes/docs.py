"""The error answers every route documents, and a docs page that needs no CDN."""

from __future__ import annotations

import html
from typing import Any

from storewise.api.schemas import ErrorOut

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No API key, or an invalid or revoked one."},
    403: {"model": ErrorOut, "description": "The key lacks the scope this route needs."},
    413: {"model": ErrorOut, "description": "Request body too large."},
    422: {"model": ErrorOut, "description": "Invalid request (fields, types, limits)."},
    503: {"model": ErrorOut, "description": "No trained model yet, or the store is down."},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Unknown customer or item."}
}

_METHODS = ("get", "post", "put", "delete", "patch")


def docs_page(schema: dict[str, Any]) -> str:
    """A self-contained HTML page listing every operation of the OpenAPI schema."""
    info = schema.get("info", {})
    rows = []
    for path, operations in schema.get("paths", {}).items():
        for method in _METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            params = ", ".join(f"{p['name']} ({p['in']})" for p in operation.get("parameters", []))
            scope = operation.get("x-scope", "")
            rows.append(
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td>"
                "<td>{}</td><td>{}</td></tr>".format(
                    method.upper(),
                    html.escape(path),
                    html.escape(operation.get("summary", "")),
                    html.escape(params),
                    html.escape(scope),
                )
            )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(info.get('title', 'API'))} docs</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}"
        "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;"
        "padding:.35rem .5rem;text-align:left;vertical-align:top}code{font-size:.95em}</style>"
        "</head><body>"
        f"<h1>{html.escape(info.get('title', 'API'))} {html.escape(info.get('version', ''))}</h1>"
        f"<p>{html.escape(info.get('description', ''))}</p>"
        "<p>The full machine-readable schema is at <a href='/openapi.json'>/openapi.json</a> "
        "(load it into any OpenAPI viewer or client generator).</p>"
        "<table><tr><th>method</th><th>path</th><th>what</th><th>parameters</th>"
        "<th>scope</th></tr>" + "".join(rows) + "</table></body></html>"
    )
