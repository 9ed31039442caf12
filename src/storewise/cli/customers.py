"""``storewise customers find|export|erase``: the customer's rights of access and erasure."""

from __future__ import annotations

from typing import Annotated

import typer

from storewise.cli.common import console, guarded, print_json, state

app = typer.Typer(help="Everything held about one customer: export it, or erase it.")

CustomerArg = Annotated[str, typer.Argument(help="The customer's id.")]


@app.command("find")
@guarded
def find(
    ctx: typer.Context,
    email: Annotated[str, typer.Option("--email", help="The address the request came from.")],
) -> None:
    """Print the id an imported shop-platform export gave this e-mail address (exit 3: none)."""
    with state(ctx).services() as services:
        typer.echo(services.customers.find_by_email(email))


@app.command("export")
@guarded
def export(ctx: typer.Context, customer_id: CustomerArg) -> None:
    """Print everything held about a customer as JSON (right of access)."""
    with state(ctx).services() as services:
        print_json(services.customers.export(customer_id, actor="cli"))


@app.command("erase")
@guarded
def erase(
    ctx: typer.Context,
    customer_id: CustomerArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a customer everywhere (store, served model) and print what was removed."""
    if not yes:
        typer.confirm(f"Erase every record of customer {customer_id}?", abort=True)
    with state(ctx).services() as services:
        result = services.customers.erase(customer_id, actor="cli")
    removed = ", ".join(f"{name} {count}" for name, count in result["removed"].items())
    console.print(f"erased customer {customer_id}: {removed}")
