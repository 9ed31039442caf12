"""``storewise keys create|list|revoke``: API keys for the HTTP API (shown once, stored hashed).

A ``collect`` key is publishable: it goes into the shop's page source for ``storewise.js``,
grants nothing else, and lists the web origins (``--origin``) browsers may use it from.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from storewise.app import PUBLISHABLE, SCOPES, parse_scopes
from storewise.cli.common import console, err_console, guarded, print_json, state
from storewise.errors import InputError, NotFound

app = typer.Typer(help="API keys: create (printed once), list, revoke.", no_args_is_help=True)


def _when(ms: int | None) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M") if ms else ""


@app.command("create")
@guarded
def create(
    ctx: typer.Context,
    scope: Annotated[
        str,
        typer.Option("--scope", help=f"Comma-separated scopes: {', '.join(SCOPES)}."),
    ],
    name: Annotated[str | None, typer.Option("--name", help="What the key is for.")] = None,
    origin: Annotated[
        list[str] | None,
        typer.Option(
            "--origin",
            help="collect keys: a web origin the shop's pages are served from, e.g. "
            "https://shop.example (repeat for several).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a key and print it once: only its hash is kept, it cannot be shown again."""
    scopes = parse_scopes(scope)
    with state(ctx).services() as services:
        created = services.keys.create(scopes, name=name, origins=origin or ())
    if as_json:
        print_json({**created.info.to_dict(), "key": created.key})
        return
    if PUBLISHABLE in scopes:
        err_console.print(
            f"created publishable key [bold]{created.info.key_id}[/] for "
            f"{', '.join(created.info.origins)}; it goes into the page source "
            "(storewise.init({key: ...})); sign logins with its identity secret "
            f"(storewise keys identity-secret {created.info.key_id}):"
        )
    else:
        err_console.print(
            f"created key [bold]{created.info.key_id}[/] with scopes {', '.join(scopes)}; "
            "copy it now, it is not shown again:"
        )
    typer.echo(created.key)


@app.command("list")
@guarded
def list_keys(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every key with its scopes and state (never the secret)."""
    with state(ctx).services() as services:
        keys = services.keys.list_keys()
    if as_json:
        print_json([k.to_dict() for k in keys])
        return
    table = Table("key id", "name", "scopes", "origins", "created", "revoked", title="API keys")
    for key in keys:
        table.add_row(
            key.key_id,
            key.name or "",
            ",".join(key.scopes),
            " ".join(key.origins),
            _when(key.created_at),
            _when(key.revoked_at),
        )
    console.print(table)


@app.command("revoke")
@guarded
def revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key id (as in `storewise keys list`).")],
) -> None:
    """Revoke a key: running servers refuse it within a few seconds."""
    with state(ctx).services() as services:
        info = services.keys.revoke(key_id)
    console.print(f"revoked key {info.key_id} ({info.name or 'no name'})")


@app.command("identity-secret")
@guarded
def identity_secret(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="A publishable (collect) key's id.")],
) -> None:
    """Print the identity secret of a publishable key: the shop's server signs each login
    with it (hex HMAC-SHA256 of the customer id), and pages pass the signature to
    storewise.identify(customerId, signature). Keep it on the server, never in a page."""
    with state(ctx).services() as services:
        found = [k for k in services.keys.list_keys() if k.key_id == key_id]
        if not found or not found[0].active:
            raise NotFound(f"no active API key with id {key_id!r}")
        if PUBLISHABLE not in found[0].scopes:
            raise InputError(f"key {key_id!r} is not a publishable ({PUBLISHABLE}) key")
        typer.echo(services.collect.signer.secret(key_id))
