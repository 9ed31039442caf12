"""``storewise demo``: a synthetic shop, ingested, summarised (later steps train and serve)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from storewise.app import DEMO_KB, FieldCipher, Ingest, Services, SynthConfig
from storewise.cli.common import console, guarded, state
from storewise.cli.ingest import show_report


def show_examples(services: Services, customers: int = 3, n: int = 5) -> None:
    """Print a few customers' recommendations, a similar-items list and trending items."""
    engine = services.serving
    chosen = services.customers.most_active(customers)
    for customer in chosen:
        answer = engine.recommend(customer, n)
        table = Table("rank", "item", "title", "why", title=f"for you: customer {customer}")
        for item in answer.items:
            table.add_row(str(item.rank), item.item_id, item.title or "", "; ".join(item.reasons))
        console.print(table)
    trending = engine.trending(n)
    if trending.items:
        first = trending.items[0]
        similar = engine.similar(first.item_id, n)
        table = Table("rank", "item", "title", "why", title=f"similar to {first.title}")
        for item in similar.items:
            table.add_row(str(item.rank), item.item_id, item.title or "", "; ".join(item.reasons))
        console.print(table)


def ensure_demo_key(home: Path) -> None:
    """Create an encryption key for the demo's personal fields and point the config at it."""
    config = home / "storewise.toml"
    if config.exists():
        return
    secrets = home / "secrets"
    secrets.mkdir(parents=True, exist_ok=True)
    key_file = secrets / "encryption.key"
    key_file.write_text(FieldCipher.generate_key())
    key_file.chmod(0o600)
    config.write_text(f'encryption_key_file = "{key_file.resolve().as_posix()}"\n')


@guarded
def demo(
    ctx: typer.Context,
    customers: Annotated[int, typer.Option(help="Synthetic customers.", min=10)] = 2000,
    items: Annotated[int, typer.Option(help="Synthetic catalog items.", min=10)] = 400,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="End by serving the API and dashboard.")
    ] = True,
    port: Annotated[int, typer.Option(help="Port of the API and dashboard.")] = 8000,
) -> None:
    """Generate a synthetic shop, ingest it, train, show recommendations, then serve."""
    root = state(ctx)
    home = root.settings.home
    home.mkdir(parents=True, exist_ok=True)
    if root.settings.fernet_key() is None:
        ensure_demo_key(home)
        root._settings = None  # re-read settings with the demo key
    console.rule("[bold]1. a synthetic shop")
    # The CSV files (with e-mails and names) live only as long as the import: the store keeps
    # personal fields encrypted, and an erasure must not miss a copy left under the home.
    with tempfile.TemporaryDirectory(prefix="storewise-demo-") as folder:
        files = Ingest.synthesize(
            SynthConfig(customers=customers, items=items, days=365, seed=seed), Path(folder)
        )
        with root.services() as services:
            console.rule("[bold]2. ingest")
            for kind in ("items", "customers", "events"):
                show_report(services.ingest.files(kind, [files[kind]]))
            console.rule("[bold]3. what storewise sees")
    from storewise.cli.stats import stats

    ctx.invoke(stats, ctx=ctx, as_json=False)
    console.rule("[bold]4. train (tuned on the most recent month)")
    from storewise.cli.recommend import train

    ctx.invoke(train, ctx=ctx, model=None, valid_days=30.0, budget=60.0)
    console.rule("[bold]5. recommendations with reasons")
    with root.services() as services:
        show_examples(services)
        services.support.load_kb([DEMO_KB])
        if not serve_after:
            return
        key = services.keys.create(["admin"], name="demo").key
    console.rule("[bold]6. the API and the dashboard")
    from storewise.cli.serve import serve

    console.print(
        f"dashboard: [bold]http://127.0.0.1:{port}/[/]  (sign in with the demo key)\n"
        f"API docs:  [bold]http://127.0.0.1:{port}/docs[/]\n"
        f"demo key:  [bold]{key}[/]  (admin scope; `storewise keys create` makes more)\n"
        "press Ctrl-C to stop"
    )
    ctx.invoke(serve, ctx=ctx, host="127.0.0.1", port=port, workers=1, insecure_local=False)
