"""How long runs (training, tuning, evaluation) report and bound themselves.

A run goes through phases (reading the store, tuning, blending, fitting, publishing). It tells a
:class:`Progress` which phase it is in and, only where the work can be counted (trials, weight
searches, models to fit), how many steps are done out of how many, so a front-end never shows a
made-up percentage. A plain ``Callable[[str], None]`` still works: it receives one message per
phase and per step. A :class:`Budget` is the wall-clock time the whole run may take; time set
aside for work still to come (the final fit) is not available to the phases before it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

#: A plain message callback (the older form of progress reporting).
Messages = Callable[[str], None]


@runtime_checkable
class Progress(Protocol):
    """Where a run tells what it is doing."""

    def phase(self, name: str, total: int | None = None) -> None:
        """A new phase starts; ``total`` steps when its work can be counted, else None."""

    def update(self, done: int, detail: str = "") -> None:
        """``done`` steps of the current phase are finished; ``detail`` says what runs now."""

    def note(self, message: str) -> None:
        """Something the user should read in the summary (a step aside, a budget cut)."""


class _Said:
    """A :class:`Progress` over a plain message callback: one message per phase and step."""

    def __init__(self, say: Messages) -> None:
        self._say = say
        self._phase = ""

    def phase(self, name: str, total: int | None = None) -> None:
        self._phase = name
        self._say(name)

    def update(self, done: int, detail: str = "") -> None:
        if detail:
            self._say(f"{self._phase}: {detail}")

    def note(self, message: str) -> None:
        self._say(message)


class _Silent:
    """A :class:`Progress` that reports nothing."""

    def phase(self, name: str, total: int | None = None) -> None:
        return None

    def update(self, done: int, detail: str = "") -> None:
        return None

    def note(self, message: str) -> None:
        return None


def progress_of(progress: Progress | Messages | None) -> Progress:
    """A :class:`Progress` for what a caller passed: one, a message callback, or nothing."""
    if progress is None:
        return _Silent()
    if isinstance(progress, Progress):
        return progress
    return _Said(progress)


class Budget:
    """Wall-clock seconds a run may take, every phase counted.

    ``left()`` is what remains for the current phase once the time ``reserve``d for later work
    (the final fit) is set aside; a phase that can stop early (tuning, blending) stops when it
    reaches zero and keeps the best it has found.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.perf_counter) -> None:
        self.seconds = float(seconds)
        self.reserved = 0.0
        self._clock = clock
        self._start = clock()

    def spent(self) -> float:
        """Seconds since the run started."""
        return self._clock() - self._start

    def left(self) -> float:
        """Seconds still available, after the reserve (negative once overspent)."""
        return self.seconds - self.spent() - self.reserved

    def reserve(self, seconds: float) -> None:
        """Set ``seconds`` aside for work that must happen after the current phase."""
        self.reserved += max(0.0, seconds)

    def release(self) -> None:
        """The reserved work is about to run: its time is no longer set aside."""
        self.reserved = 0.0


__all__ = ["Budget", "Messages", "Progress", "progress_of"]
