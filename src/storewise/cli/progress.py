"""Long runs on the terminal: one line per phase, a count and percentage only where the work
can be counted.

:class:`PhaseLines` is what ``storewise train`` and ``evaluate`` hand to the training service
as its progress reporter: the current phase is shown live (spinner, what runs now, a bar and
``done/total  pct%`` when the phase counts its steps, elapsed time); each finished phase stays
as one line with its count and seconds, so a log of a run shows where the time went.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text


class _Count(ProgressColumn):
    """``done/total  pct%`` for a phase that counts its steps; nothing for one that cannot."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text(f"{task.completed:g}/{task.total:g} {task.percentage:3.0f}%")


class PhaseLines:
    """A progress reporter for the training service, drawn with rich on ``console``."""

    def __init__(self, console: Console, *, quiet: bool = False) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            _Count(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=quiet,
        )
        self._quiet = quiet
        self._task: TaskID | None = None
        self._name = ""
        self._total: int | None = None
        self._done = 0
        self._started = 0.0
        self._notes: list[str] = []

    def __enter__(self) -> PhaseLines:
        self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._finish(failed=kind is not None)
        self._progress.stop()

    def phase(self, name: str, total: int | None = None) -> None:
        """Close the current phase's line and start showing ``name``."""
        self._finish()
        self._name, self._total, self._done = name, total, 0
        self._started = time.perf_counter()
        self._task = self._progress.add_task(escape(name), total=total)

    def update(self, done: int, detail: str = "") -> None:
        """``done`` steps of the phase are finished; ``detail`` names what runs now."""
        self._done = done
        if self._task is not None:
            text = f"{self._name}: {detail}" if detail else self._name
            self._progress.update(self._task, completed=done, description=escape(text))

    def note(self, message: str) -> None:
        """A line worth keeping (a verdict, a step aside, a budget cut), printed under its
        phase's line once the phase ends."""
        line = f"  {escape(message)}"
        if self._task is None:
            self._print(line)
        else:
            self._notes.append(line)

    def _finish(self, *, failed: bool = False) -> None:
        if self._task is None:
            return
        self._progress.remove_task(self._task)
        self._task = None
        count = f" {self._done}/{self._total}" if self._total is not None else ""
        mark = "[red]x[/]" if failed else "[green]✓[/]"
        seconds = time.perf_counter() - self._started
        self._print(f"{mark} {escape(self._name)}{count} [dim]{seconds:.1f}s[/]")
        for line in self._notes:
            self._print(line)
        self._notes.clear()

    def _print(self, text: str) -> None:
        if not self._quiet:
            self._progress.console.print(text, highlight=False)


__all__ = ["PhaseLines"]
