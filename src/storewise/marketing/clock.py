"""The analysis clock: which day RFM, CLV and churn are "as of", taken from the data itself.

A shop's history is often imported (years old) while live events arrive today, or an event is
posted without a timestamp and takes the current time. Measuring recency from such a stray
event would age every customer at once (Champions at 715 days' recency), so the "as of" day
follows one rule, computed from the purchase and return transactions analysed:

1. **The body of the data** ends at the day of the transaction at the 99th percentile (the
   ``floor(0.99 * (n - 1))``-th in time order): at most 1% of transactions lie after it, and
   with 100 transactions or fewer only the very last one does.
2. **A tolerance** of ``max(30 days, 10 x the median gap between consecutive trading days)``
   separates "recent" from "far from the rest"; a slow shop trading every three weeks gets a
   tolerance of 210 days, a daily shop 30.
3. **As of** is the latest transaction day at most one tolerance after the body's end.
   Transactions after it are *left out* (RFM and CLV ignore them) and reported in a warning;
   they count once they are more than 1% of transactions, i.e. once they are the data.
4. The store's latest event of any kind (a view, say) moves "as of" later when it is within one
   tolerance of it and nothing was left out, so a shop whose last sale was a few days before its
   last visit is still measured to its last visit; a later stray event is ignored with a warning.

Transactions more than one tolerance *before* the first 1% are reported too (a timestamp of
1970-01-01 from a broken import, say), but kept: an early first purchase only lengthens history.

>>> from datetime import date, timedelta
>>> days = [date(2011, 1, 1) + timedelta(days=k % 300) for k in range(3000)]
>>> clock = analysis_clock(days + [date(2013, 11, 20)])
>>> clock.as_of, clock.left_out
(datetime.date(2011, 10, 27), 1)
>>> print(clock.warnings[0])  # doctest: +ELLIPSIS
1 transaction dated 2013-11-20 to 2013-11-20 lies 755 days after the rest ...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

#: Share of transactions that may lie after the body's end (the body is the first 99%).
TAIL_SHARE = 0.01
#: Smallest tolerance, in days, before an event counts as far from the rest.
MIN_TOLERANCE_DAYS = 30
#: The tolerance is at least this many median gaps between trading days.
GAP_MULTIPLE = 10

#: The rule in one sentence, for reports and API answers.
RULE = (
    "as of the latest transaction day within max(30 days, 10 median trading-day gaps) of the "
    "day by which 99% of transactions had happened; later transactions are left out"
)


@dataclass(frozen=True)
class Clock:
    """The "as of" day of an analysis and what the rule left out or found suspicious."""

    as_of: date
    latest_transaction: date
    latest_event: date | None
    body_end: date
    tolerance_days: int
    left_out: int = 0
    left_out_customers: int = 0
    early: int = 0
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the day, the rule and what it left out, for the segments/CLV answers."""
        return {
            "as_of": self.as_of.isoformat(),
            "rule": RULE,
            "latest_transaction": self.latest_transaction.isoformat(),
            "latest_event": self.latest_event.isoformat() if self.latest_event else None,
            "tolerance_days": self.tolerance_days,
            "left_out_transactions": self.left_out,
            "left_out_customers": self.left_out_customers,
            "early_transactions": self.early,
        }


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def analysis_clock(
    days: Sequence[date],
    *,
    latest_event: date | None = None,
    customers: Sequence[str] | None = None,
) -> Clock:
    """The "as of" day of transactions on ``days`` (one entry per transaction, any order).

    ``latest_event`` is the day of the store's latest event of any type; ``customers`` (one per
    transaction, same order) lets the warning say how many customers the left-out transactions
    belong to. See the module notes for the rule.
    """
    if not days:
        raise ValueError("no transactions to take the analysis day from")
    raw = np.fromiter((d.toordinal() for d in days), dtype=np.int64, count=len(days))
    order = np.argsort(raw, kind="stable")
    ordinals = raw[order]
    n = ordinals.size
    body_end = int(ordinals[int(np.floor((1.0 - TAIL_SHARE) * (n - 1)))])
    body_start = int(ordinals[int(np.ceil(TAIL_SHARE * (n - 1)))])
    trading = np.unique(ordinals)
    gaps = np.diff(trading)
    median_gap = float(np.median(gaps)) if gaps.size else 1.0
    tolerance = int(max(MIN_TOLERANCE_DAYS, round(GAP_MULTIPLE * median_gap)))
    keep = ordinals <= body_end + tolerance
    as_of = int(ordinals[keep].max())
    latest = int(ordinals[-1])
    left_out = int(n - keep.sum())
    warnings: list[str] = []
    left_customers = 0
    if left_out:
        if customers is not None:
            left_customers = len({customers[int(i)] for i in order[~keep]})
        first_late = int(ordinals[~keep].min())
        who = f" by {_plural(left_customers, 'customer')}" if customers is not None else ""
        verb = "lies" if left_out == 1 else "lie"
        warnings.append(
            f"{_plural(left_out, 'transaction')}{who} dated {date.fromordinal(first_late)} to "
            f"{date.fromordinal(latest)} {verb} {first_late - as_of} days after the rest of the "
            f"data (which ends {date.fromordinal(as_of)}) and {'is' if left_out == 1 else 'are'} "
            f"left out: analyses are as of {date.fromordinal(as_of)}. Check their timestamps "
            "(an event stamped when it arrived rather than when it happened, say); they count "
            "once they are more than 1% of transactions."
        )
    event_day = latest_event
    if event_day is not None and event_day.toordinal() > as_of:
        if not left_out and event_day.toordinal() <= as_of + tolerance:
            as_of = event_day.toordinal()
        elif event_day.toordinal() > latest:
            warnings.append(
                f"the store's latest event ({event_day}) is "
                f"{event_day.toordinal() - as_of} days after the latest purchase analysed "
                "and is not used as the analysis day"
            )
    early = int((ordinals < body_start - tolerance).sum())
    if early:
        warnings.append(
            f"{_plural(early, 'transaction')} dated from {date.fromordinal(int(ordinals[0]))} "
            f"lie more than {tolerance} days before the rest of the data (from "
            f"{date.fromordinal(body_start)}); check their timestamps"
        )
    return Clock(
        as_of=date.fromordinal(as_of),
        latest_transaction=date.fromordinal(latest),
        latest_event=event_day,
        body_end=date.fromordinal(body_end),
        tolerance_days=tolerance,
        left_out=left_out,
        left_out_customers=left_customers,
        early=early,
        warnings=tuple(warnings),
    )


__all__ = ["MIN_TOLERANCE_DAYS", "RULE", "TAIL_SHARE", "Clock", "analysis_clock"]
