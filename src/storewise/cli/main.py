"""The ``storewise`` command: one sub-command per domain (see ``storewise --help``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from storewise import __version__
from storewise.cli import (
    customers,
    datasets,
    demo,
    ingest,
    keys,
    marketing,
    recommend,
    serve,
    support,
)
from storewise.cli.common import State, console, guarded, print_json, state

app = typer.Typer(
    name="storewise",
    help="Self-hostable customer personalization for retailers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(ingest.app, name="ingest")
app.add_typer(datasets.app, name="datasets")
app.add_typer(customers.app, name="customers")
app.add_typer(support.app, name="support")
app.command("demo")(demo.demo)
app.command("train")(recommend.train)
app.command("recommend")(recommend.recommend)
app.command("similar")(recommend.similar)
app.command("evaluate")(recommend.evaluate)
app.command("segments")(marketing.segments)
app.command("clv")(marketing.clv)
app.add_typer(marketing.offers_app, name="offers")
app.add_typer(marketing.campaigns_app, name="campaigns")
app.command("serve")(serve.serve)
app.add_typer(keys.app, name="keys")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"storewise {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option("--home", help="Data folder (SQLite file, models). Env: STOREWISE_HOME."),
    ] = None,
    db_url: Annotated[
        str | None,
        typer.Option("--db-url", help="Store URL, e.g. postgresql://... Env: STOREWISE_DB_URL."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    """Global options shared by all commands."""
    ctx.obj = State(home, db_url)


@app.command("stats")
@guarded
def stats(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Counts of customers, items, events by type, orders, date range, top items, quality."""
    store = state(ctx).store()
    try:
        figures = store.stats()
    finally:
        store.close()
    if as_json:
        print_json(figures)
        return
    table = Table(title="storewise stats", show_header=False)
    table.add_row("customers", f"{figures['customers']:,}")
    table.add_row("items (products)", f"{figures['items']:,}")
    table.add_row("non-product codes", f"{figures['non_product_codes']:,}")
    for kind, count in figures["events"].items():
        table.add_row(f"events: {kind}", f"{count:,}")
    table.add_row("orders", f"{figures['orders']:,}")
    table.add_row("revenue", f"{figures['revenue']:,.2f}")
    table.add_row("from", str(figures["date_range"]["first"]))
    table.add_row("to", str(figures["date_range"]["last"]))
    for key, value in figures["data_quality"].items():
        table.add_row(f"quality: {key.replace('_', ' ')}", f"{value:,}")
    console.print(table)
    top = Table("item", "title", "purchases", "buyers", title="top items")
    for row in figures["top_items"]:
        top.add_row(
            row["item_id"], row["title"] or "", f"{row['purchases']:,}", f"{row['buyers']:,}"
        )
    console.print(top)


def main() -> None:
    """Console-script entry point."""
    from storewise.engine import single_threaded_blas

    single_threaded_blas()
    app()


if __name__ == "__main__":
    main()
