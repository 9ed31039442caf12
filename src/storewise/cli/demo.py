"""``storewise demo``: a synthetic shop, ingested, summarised (later steps train and serve)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from storewise.cli.common import console, guarded, state
from storewise.cli.ingest import show_report
from storewise.ingest.pipeline import ingest
from storewise.privacy.crypto import FieldCipher


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
) -> None:
    """Generate a synthetic shop, ingest it and show what storewise sees."""
    from storewise.datasets.synth import SynthConfig, write_csv

    root = state(ctx)
    home = root.settings.home
    home.mkdir(parents=True, exist_ok=True)
    if root.settings.fernet_key() is None:
        ensure_demo_key(home)
        root._settings = None  # re-read settings with the demo key
    console.rule("[bold]1. a synthetic shop")
    files = write_csv(
        SynthConfig(customers=customers, items=items, days=365, seed=seed), home / "demo"
    )
    store = root.store()
    try:
        console.rule("[bold]2. ingest")
        for kind, key in (("items", "items"), ("customers", "customers"), ("events", "events")):
            report = ingest(store, kind, [files[key]])
            show_report(report)
        console.rule("[bold]3. what storewise sees")
    finally:
        store.close()
    from storewise.cli.main import stats

    ctx.invoke(stats, ctx=ctx, as_json=False)
