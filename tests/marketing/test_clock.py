"""The analysis clock: "as of" is the data's own latest day, and stray event times are reported."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from storewise.marketing.clock import analysis_clock

START = date(2010, 12, 1)


def daily(n_days: int = 373, per_day: int = 50) -> list[date]:
    """A shop trading every day from 2010-12-01, ``per_day`` transactions a day."""
    return [START + timedelta(days=d) for d in range(n_days) for _ in range(per_day)]


def test_ordinary_history_is_as_of_its_last_day() -> None:
    clock = analysis_clock(daily(), latest_event=date(2011, 12, 8))
    assert clock.as_of == date(2011, 12, 8) and clock.left_out == 0
    assert clock.tolerance_days == 30 and not clock.warnings


def test_a_few_events_posted_today_do_not_move_the_clock() -> None:
    days = daily()
    today = date(2013, 11, 23)
    customers = [f"c{k % 400}" for k in range(len(days))] + ["new-1", "new-2", "new-1"]
    clock = analysis_clock(days + [today] * 3, latest_event=today, customers=customers)
    assert clock.as_of == date(2011, 12, 8)
    assert (clock.left_out, clock.left_out_customers) == (3, 2)
    message = " ".join(clock.warnings)
    assert "3 transactions by 2 customers dated 2013-11-23" in message
    assert "716 days after the rest" in message and "analyses are as of 2011-12-08" in message
    assert clock.as_dict()["left_out_transactions"] == 3


def test_live_data_becomes_the_data_once_it_is_more_than_one_percent() -> None:
    days = daily()
    live = [date(2013, 11, 1) + timedelta(days=d % 20) for d in range(400)]  # 2.1%
    clock = analysis_clock(days + live, latest_event=date(2013, 11, 20))
    assert clock.as_of == date(2013, 11, 20) and clock.left_out == 0


def test_latest_event_counts_only_when_near() -> None:
    near = analysis_clock(daily(), latest_event=date(2011, 12, 20))
    assert near.as_of == date(2011, 12, 20) and not near.warnings
    far = analysis_clock(daily(), latest_event=date(2013, 11, 23))
    assert far.as_of == date(2011, 12, 8)
    assert "latest event (2013-11-23)" in far.warnings[0]


def test_early_timestamps_are_reported_and_kept() -> None:
    clock = analysis_clock([date(1970, 1, 1), *daily()])
    assert clock.early == 1 and clock.as_of == date(2011, 12, 8)
    assert "dated from 1970-01-01" in clock.warnings[0]


def test_a_slow_shop_is_not_cut_short() -> None:
    # A purchase every three weeks for three years, the last one 40 days after the one before.
    days = [START + timedelta(days=21 * k) for k in range(52)]
    days.append(days[-1] + timedelta(days=40))
    clock = analysis_clock(days)
    assert clock.tolerance_days == 210 and clock.as_of == days[-1] and not clock.warnings


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2000), min_size=1, max_size=300))
def test_at_most_the_last_percent_is_ever_left_out(offsets: list[int]) -> None:
    days = [START + timedelta(days=d) for d in offsets]
    clock = analysis_clock(days)
    n = len(days)
    assert clock.left_out <= n - 1 - int(0.99 * (n - 1))
    assert min(days) <= clock.as_of <= max(days)
    kept = sum(1 for d in days if d <= clock.as_of)
    assert kept + clock.left_out == n
