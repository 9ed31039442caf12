"""The ``storewise`` command: one sub-command per domain (see ``storewise --help``).

Start-up stays light: this module imports typer and the package version only. Each
sub-command lives in its own module, which imports the services (and through them numpy,
polars, the store and the models); it is imported when that command is run, or asked for its
own ``--help``. ``storewise --help`` lists every command with the one-line help kept in
:data:`COMMANDS` (a test checks it against each command's own), so the root help and
``--version`` answer without loading any of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from storewise import __version__


@dataclass(frozen=True)
class Lazy:
    """Where a sub-command lives (``module:attribute``, a function or a ``typer.Typer``) and
    the help line the root lists for it."""

    target: str
    help: str


#: Every sub-command, in the order ``storewise --help`` lists them.
COMMANDS: dict[str, Lazy] = {
    "ingest": Lazy(
        "storewise.cli.ingest:app",
        "Import files into the store; every row is stored, repaired or reported.",
    ),
    "datasets": Lazy(
        "storewise.cli.datasets:app",
        "Get data to try storewise on: public datasets or a synthetic shop.",
    ),
    "customers": Lazy(
        "storewise.cli.customers:app",
        "Everything held about one customer: export it, or erase it.",
    ),
    "support": Lazy(
        "storewise.cli.support:app",
        "Suggested answers for customer messages, with the customer's context.",
    ),
    "demo": Lazy(
        "storewise.cli.demo:demo",
        "Generate a synthetic shop, ingest it, train, show recommendations, then serve.",
    ),
    "train": Lazy(
        "storewise.cli.recommend:train",
        "Tune on the most recent period, refit on all data and publish a model bundle.",
    ),
    "recommend": Lazy(
        "storewise.cli.recommend:recommend",
        "Batch recommendations as CSV: customer_id,rank,item_id,title,score,reasons.",
    ),
    "similar": Lazy("storewise.cli.recommend:similar", "Items similar to one item, with reasons."),
    "evaluate": Lazy(
        "storewise.cli.recommend:evaluate",
        "Every model and the tuned hybrid on a time split of the store (the retail protocol).",
    ),
    "segments": Lazy(
        "storewise.cli.marketing:segments",
        "RFM segments as of the data's own latest day: customers, revenue, value, churn risk.",
    ),
    "clv": Lazy(
        "storewise.cli.marketing:clv",
        "Fit BG/NBD (purchases, P(alive)) and Gamma-Gamma (spend); print parameters and CLV.",
    ),
    "offers": Lazy(
        "storewise.cli.marketing:offers_app",
        "The offer catalog, uplift models from past campaigns, bandit feedback, evaluation.",
    ),
    "campaigns": Lazy(
        "storewise.cli.marketing:campaigns_app",
        "Campaign audiences for e-mail tools and ad platforms (marketing consent only).",
    ),
    "serve": Lazy(
        "storewise.cli.serve:serve",
        "Serve the HTTP API (docs at /docs); refuses to start without an active API key.",
    ),
    "stats": Lazy(
        "storewise.cli.stats:stats",
        "Counts of customers, items, events by type, orders, date range, top items, quality.",
    ),
    "keys": Lazy("storewise.cli.keys:app", "API keys: create (printed once), list, revoke."),
    "privacy": Lazy(
        "storewise.cli.privacy:app",
        "Encryption key rotation, retention of old events, the audit log.",
    ),
    "experiments": Lazy(
        "storewise.cli.experiments:app",
        "Online experiments: define and run them on a placement, read their results, estimate "
        "a model off-policy; or analyse a file of units and size an experiment.",
    ),
}


def load(name: str) -> Any:
    """The click command of sub-command ``name``, importing its module."""
    module, _, attribute = COMMANDS[name].target.partition(":")
    found = getattr(importlib.import_module(module), attribute)
    if isinstance(found, typer.Typer):
        group = typer.main.get_group(found)
        group.name = name
        return group
    single = typer.Typer()
    single.command(name)(found)
    return typer.main.get_command(single)


class _Commands(MutableMapping[str, Any]):
    """The root's sub-commands by name: every name is known at once, a command's module is
    imported the first time that command is looked up."""

    def __init__(self, listing: _ListingFlag) -> None:
        self._loaded: dict[str, Any] = {}
        self._listing = listing

    def __getitem__(self, name: str) -> Any:
        if name in self._loaded:
            return self._loaded[name]
        if name not in COMMANDS:
            raise KeyError(name)
        if self._listing.on:  # the root's help lists names and help lines only
            return TyperCommand(name, help=COMMANDS[name].help)
        self._loaded[name] = load(name)
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._loaded if name not in COMMANDS)

    def __len__(self) -> int:
        return len(set(COMMANDS) | set(self._loaded))

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS or name in self._loaded


class _ListingFlag:
    """True while the root formats its help (commands are then listed, not imported)."""

    on = False


class LazyGroup(TyperGroup):
    """The root group: sub-commands from :data:`COMMANDS`, imported only when used."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listing = _ListingFlag()
        self.commands = _Commands(self._listing)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """The root's help: options and every command's help line, nothing imported."""
        self._listing.on = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing.on = False


app = typer.Typer(
    name="storewise",
    help="Self-hostable customer personalization for retailers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=LazyGroup,
)


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
    from storewise.app import single_threaded_blas
    from storewise.cli.common import State

    # The command's module (and numpy with its BLAS) is loaded by now: one BLAS thread.
    single_threaded_blas()
    ctx.obj = State(home, db_url)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
