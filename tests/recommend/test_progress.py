"""Budgets count every phase; progress reporters take either form."""

from __future__ import annotations

from storewise.recommend.progress import Budget, progress_of


def test_a_budget_sets_time_aside_for_later_work() -> None:
    now = [100.0]
    budget = Budget(60.0, clock=lambda: now[0])
    now[0] = 110.0
    assert budget.spent() == 10.0 and budget.left() == 50.0
    budget.reserve(15.0)
    budget.reserve(-3.0)  # nothing to set aside
    assert budget.left() == 35.0
    now[0] = 150.0
    assert budget.left() == -5.0  # tuning stops here: the reserve is for the final fit
    budget.release()
    assert budget.left() == 10.0


def test_a_message_callback_hears_phases_steps_and_notes() -> None:
    heard: list[str] = []
    progress = progress_of(heard.append)
    progress.phase("tuning: trying settings", total=3)
    progress.update(0, "ease {'l2': 300.0}")
    progress.update(1)  # a count alone says nothing new in words
    progress.note("time budget reached")
    assert heard == [
        "tuning: trying settings",
        "tuning: trying settings: ease {'l2': 300.0}",
        "time budget reached",
    ]


def test_a_reporter_is_used_as_it_is_and_none_is_silent() -> None:
    class Reporter:
        def phase(self, name: str, total: int | None = None) -> None: ...
        def update(self, done: int, detail: str = "") -> None: ...
        def note(self, message: str) -> None: ...

    reporter = Reporter()
    assert progress_of(reporter) is reporter
    silent = progress_of(None)
    silent.phase("reading the store")
    silent.note("nothing")
