"""The ``storewise`` command: one sub-command per domain (see ``storewise --help``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from storewise import __version__
from storewise.app import single_threaded_blas
from storewise.cli import (
    customers,
    datasets,
    demo,
    experiments,
    ingest,
    keys,
    marketing,
    privacy,
    recommend,
    serve,
    stats,
    support,
)
from storewise.cli.common import State

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
app.command("stats")(stats.stats)
app.add_typer(keys.app, name="keys")
app.add_typer(privacy.app, name="privacy")
app.add_typer(experiments.app, name="experiments")


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


def main() -> None:
    """Console-script entry point."""
    single_threaded_blas()
    app()


if __name__ == "__main__":
    main()
