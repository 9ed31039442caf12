"""``storewise privacy rotate-key | retain | audit``: keys, retention and the audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from storewise.cli.common import console, guarded, print_json, state
from storewise.errors import InputError

app = typer.Typer(help="Encryption key rotation, retention of old events, the audit log.")


@app.command("rotate-key")
@guarded
def rotate_key(
    ctx: typer.Context,
    new_key_file: Annotated[
        Path, typer.Option("--new-key-file", help="File holding the new Fernet key.")
    ],
) -> None:
    """Re-encrypt every personal field with a new key (the current one must be configured),
    then point the configuration at the new key."""
    if not new_key_file.is_file():
        raise InputError(f"{new_key_file}: no such file")
    with state(ctx).services() as services:
        count = services.privacy.rotate_key(new_key_file.read_text())
    console.print(
        f"re-encrypted {count:,} customer profiles; now set encryption_key_file = "
        f'"{new_key_file}" in storewise.toml (the old key no longer opens this store)'
    )


@app.command("retain")
@guarded
def retain(
    ctx: typer.Context,
    days: Annotated[
        int | None,
        typer.Option("--days", min=1, help="Keep this many days (default: retention_days)."),
    ] = None,
    types: Annotated[
        list[str] | None,
        typer.Option("--type", help="Event type the --days apply to (repeatable)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Delete events older than their retention age, keeping their daily counts per item.

    With --days, applies to --type (default: views, carts and searches); without it, applies
    the `retention_days` setting.
    """
    policy: dict[str, int] | None = None
    if days is not None:
        chosen = types or ["view", "add_to_cart", "remove_from_cart", "search"]
        policy = dict.fromkeys(chosen, days)
    elif types:
        raise InputError("--type needs --days")
    with state(ctx).services() as services:
        removed = services.privacy.retain(policy)
    if as_json:
        print_json(removed)
        return
    if not removed:
        console.print("no retention configured: set retention_days or give --days")
        return
    for event_type, count in removed.items():
        console.print(f"{event_type}: removed {count:,} events (daily counts kept)")


@app.command("audit")
@guarded
def audit(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Who exported, erased or changed what, newest first (never the personal data)."""
    with state(ctx).services() as services:
        entries = services.privacy.audit_log(limit)
    if as_json:
        print_json(entries)
        return
    table = Table("at", "actor", "action", "details", title="audit log")
    for entry in entries:
        table.add_row(entry["at"], entry["actor"], entry["action"], str(entry["details"] or ""))
    console.print(table)
