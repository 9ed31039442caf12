"""The exposure log: every list served through the API carries a recommendation id and is
logged (who, where, which model and version, which experiment variant, which items), and what
shoppers did with it (impressions, clicks) is stored against that id.

Logging must never slow an answer: served lists go to an in-memory buffer that a background
thread of the server (or the next read of the log) writes in batches. A report of feedback is
idempotent: the same impression or click of the same list counts once, however often a
browser retries it.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from storewise.recommend.results import RankedList
from storewise.store.experiments import ExperimentTables

log = logging.getLogger(__name__)


class Suppressions(Protocol):
    """The store's list of erased customers (keyed hashes of their ids)."""

    def id_hash(self, customer_id: str) -> str: ...

    def erased_since(self, since_ms: int) -> set[str]: ...


FEEDBACK_KINDS = ("impression", "click")
#: Served lists kept in memory before a write is forced (and the most kept when the store is
#: down: the oldest are dropped then, counted in ``dropped``).
FLUSH_ROWS = 500
MAX_BUFFER = 50_000


def new_recommendation_id() -> str:
    """A fresh, unguessable recommendation id (24 hex characters)."""
    return secrets.token_hex(12)


@dataclass(frozen=True)
class Feedback:
    """One thing a shopper did with a served list: saw it, or clicked one of its items."""

    recommendation_id: str
    kind: str
    item_id: str | None = None
    at_ms: int | None = None

    def key(self) -> str:
        """The stored id: the same list, kind and item always give the same key."""
        text = f"{self.recommendation_id}\x1f{self.kind}\x1f{self.item_id or ''}"
        return hashlib.sha256(text.encode()).hexdigest()[:40]


@dataclass
class FeedbackReport:
    """What happened to a batch of feedback: stored, already there, or refused by row."""

    stored: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"stored": self.stored, "duplicates": self.duplicates, "rejected": self.rejected}


class ExposureLog:
    """Buffered writes of served lists, and checked writes of feedback on them."""

    def __init__(self, tables: ExperimentTables, suppressions: Suppressions | None = None) -> None:
        """``suppressions``: the store's list of erased customers, so a list queued on one
        worker is not written after another worker erased its customer."""
        self.tables = tables
        self.suppressions = suppressions
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self.dropped = 0

    def record(
        self,
        answer: RankedList,
        *,
        placement: str,
        unit_id: str | None,
        experiment_id: str | None = None,
        variant: str | None = None,
        at_ms: int | None = None,
        teams: list[int] | None = None,
        propensities: list[float] | None = None,
    ) -> None:
        """Queue one served list (its ``recommendation_id`` must be set) for writing, with
        the team of each item of an interleaved list and the serving policy's propensity of
        each item at its slot when the list was randomised."""
        if answer.recommendation_id is None:
            raise ValueError("a logged list needs a recommendation id")
        row = {
            "recommendation_id": answer.recommendation_id,
            "at": int(at_ms if at_ms is not None else time.time() * 1000),
            "placement": placement,
            "unit_id": unit_id,
            "model": answer.model,
            "model_version": answer.model_version,
            "experiment_id": experiment_id,
            "variant": variant,
            "items": answer.item_ids,
            "teams": teams,
            "propensities": propensities,
        }
        with self._lock:
            self._rows.append(row)
            if len(self._rows) > MAX_BUFFER:
                excess = len(self._rows) - MAX_BUFFER
                del self._rows[:excess]
                self.dropped += excess
            due = len(self._rows) >= FLUSH_ROWS
        if due:
            self.flush()

    @property
    def pending(self) -> int:
        """Served lists not yet written."""
        with self._lock:
            return len(self._rows)

    def flush(self) -> int:
        """Write the queued lists; on a store error they stay queued (and the error is
        logged, without ids). Returns how many were written."""
        with self._flushing:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            try:
                return self.tables.add_exposures(self._not_erased(rows))
            except Exception as exc:  # the store is down: keep the rows for the next try
                log.warning("could not write %d served lists: %s", len(rows), type(exc).__name__)
                with self._lock:
                    self._rows[:0] = rows
                return 0

    def _not_erased(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.suppressions is None:
            return rows
        erased = self.suppressions.erased_since(min(r["at"] for r in rows))
        if not erased:
            return rows
        hash_of = self.suppressions.id_hash
        return [r for r in rows if r["unit_id"] is None or hash_of(r["unit_id"]) not in erased]

    def forget(self, unit_id: str) -> int:
        """Drop the queued lists served to ``unit_id``; returns how many."""
        with self._lock:
            before = len(self._rows)
            self._rows = [r for r in self._rows if r["unit_id"] != unit_id]
            return before - len(self._rows)

    def feedback(self, items: Iterable[Feedback | Mapping[str, Any]]) -> FeedbackReport:
        """Store impressions and clicks of served lists; a row naming an unknown list or kind
        is refused with its reason, the others are stored (a repeat counts once)."""
        rows = [i if isinstance(i, Feedback) else _feedback_of(i) for i in items]
        self.flush()
        known = self.tables.known_recommendations(r.recommendation_id for r in rows)
        report = FeedbackReport()
        now = int(time.time() * 1000)
        keep: dict[str, dict[str, Any]] = {}
        for index, row in enumerate(rows):
            reason = _refusal(row, known)
            if reason:
                report.rejected.append({"row": index, "reason": reason})
                continue
            key = row.key()
            if key in keep:
                report.duplicates += 1
                continue
            keep[key] = {
                "feedback_id": key,
                "recommendation_id": row.recommendation_id,
                "kind": row.kind,
                "item_id": row.item_id,
                "at": int(row.at_ms if row.at_ms is not None else now),
            }
        stored = self.tables.add_feedback(list(keep.values()))
        report.stored = stored
        report.duplicates += len(keep) - stored
        return report


def _feedback_of(item: Mapping[str, Any]) -> Feedback:
    at = item.get("at_ms", item.get("ts"))
    return Feedback(
        recommendation_id=str(item.get("recommendation_id") or ""),
        kind=str(item.get("kind") or ""),
        item_id=str(item["item_id"]) if item.get("item_id") is not None else None,
        at_ms=int(at) if isinstance(at, int | float) else None,
    )


def _refusal(row: Feedback, known: set[str]) -> str | None:
    if row.kind not in FEEDBACK_KINDS:
        return f"kind {row.kind!r} is not one of {', '.join(FEEDBACK_KINDS)}"
    if row.kind == "click" and not row.item_id:
        return "a click names the clicked item_id"
    if row.recommendation_id not in known:
        return "unknown recommendation_id (not a list this shop served)"
    return None
