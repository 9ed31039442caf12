"""``storewise datasets fetch|synth``: real public data into a cache, or a synthetic shop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from storewise.app import Ingest, SynthConfig
from storewise.cli.common import console, guarded, state

app = typer.Typer(help="Get data to try storewise on: public datasets or a synthetic shop.")


@app.command("fetch")
@guarded
def fetch_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A dataset name (see `storewise datasets list`).")],
    from_path: Annotated[
        Path | None, typer.Option("--from", help="Use this local copy instead of downloading.")
    ] = None,
    cache: Annotated[
        Path | None, typer.Option("--cache", help="Cache folder (default: HOME/datasets).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Download again even if cached.")] = False,
) -> None:
    """Download a public dataset once into the cache and print its local path."""
    home = state(ctx).settings.home
    path = Ingest.fetch_dataset(name, home=home, cache=cache, from_path=from_path, force=force)
    films = Ingest.catalog_of(path)
    console.print(f"{name}: {path}")
    if name == "movielens-100k" and films.exists():
        console.print(f"its catalog (films, genres): {films}")
    typer.echo(str(path))


@app.command("list")
def list_command() -> None:
    """List the datasets ``fetch`` knows."""
    for source in Ingest.datasets():
        console.print(f"[bold]{source.name}[/]: {source.description} ({source.licence})")


@app.command("synth")
@guarded
def synth_command(
    out: Annotated[Path, typer.Option("--out", help="Folder for customers/items/events CSV.")],
    customers: Annotated[int, typer.Option(help="Number of customers.", min=1)] = 2000,
    items: Annotated[int, typer.Option(help="Number of catalog items.", min=1)] = 400,
    days: Annotated[int, typer.Option(help="Days of history.", min=1)] = 365,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same shop).")] = 0,
) -> None:
    """Write a seeded synthetic shop (customers, catalog, events) as CSV files."""
    config = SynthConfig(customers=customers, items=items, days=days, seed=seed)
    paths = Ingest.synthesize(config, out)
    for kind, path in paths.items():
        console.print(f"{kind}: {path}")
