"""Shared CLI plumbing: settings from the root options, consoles, and error-to-exit-code mapping.

Exit codes: 0 success, 1 unexpected storewise error, 2 bad input, 3 not found, 4 not trained,
5 consent, 6 bad model bundle, 7 configuration, 8 store failure, 9 auth (see ``errors.py``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from storewise.errors import StorewiseError

if TYPE_CHECKING:  # the services are imported when a command first needs them
    from storewise.app import Services, Settings

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


class State:
    """Root options shared by every command (filled by the root callback)."""

    def __init__(self, home: Path | None, db_url: str | None) -> None:
        self.home = home
        self.db_url = db_url
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """The settings: root options override environment and ``storewise.toml``."""
        if self._settings is None:
            from storewise.app import Settings

            given: dict[str, Any] = {}
            if self.home is not None:
                given["home"] = self.home
            if self.db_url is not None:
                given["db_url"] = self.db_url
            self._settings = Settings(**given)
        return self._settings

    @contextmanager
    def services(self) -> Iterator[Services]:
        """The services over the configured store (its schema migrated if needed), closed
        when the command ends."""
        from storewise.app import build

        built = build(self.settings)
        try:
            yield built
        finally:
            built.close()


def state(ctx: typer.Context) -> State:
    """The root state object of a command's context."""
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State(None, None)
    return root.obj


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn storewise errors into a one-line message and the documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except StorewiseError as exc:
            # the message is text, not markup: "storewise[spark]" must print as written
            err_console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/]: nothing was committed")
            raise typer.Exit(130) from None

    return wrapper


def print_json(data: Any) -> None:
    """Print JSON to stdout, without rich markup, for scripts to parse."""
    typer.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
