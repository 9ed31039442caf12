"""The narrow storage protocol every store implements, and the small result types it returns.

Front-ends never talk to a store directly: ingest writes through a :class:`StoreWriter` (one
transaction per import), and every service above the store (the dataset snapshot, serving,
customers, insights, marketing's facts) is typed against :class:`Store`, which covers the
serving hot path (``serving_facts``, ``history_rows``) as well as the bulk reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

# The frame schemas live in storewise.schema; re-exported here, where the stores' users look.
from storewise.privacy.crypto import FieldCipher
from storewise.schema import CONSENT_SCHEMA as CONSENT_SCHEMA
from storewise.schema import CUSTOMER_SCHEMA as CUSTOMER_SCHEMA
from storewise.schema import EVENT_SCHEMA as EVENT_SCHEMA
from storewise.schema import ITEM_SCHEMA as ITEM_SCHEMA
from storewise.store.aggregates import ItemAudience, MonthFigures
from storewise.store.experiments import ExperimentTables
from storewise.store.keys import KeyStore

#: One row of :meth:`Store.history_rows`: item_id, event_type, quantity, value, order_id, ts.
HistoryRow = tuple[str, str, float, float | None, str | None, int]


@dataclass(frozen=True)
class EventWrite:
    """What happened to a batch of events: newly stored, or already there (same event_id),
    how many anonymous ids were newly linked to a customer by login events, how many were
    refused (an erased customer's, by reason) and how many stored without identity (the
    collection rule), by reason."""

    stored: int
    duplicates: int
    linked: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    anonymised: dict[str, int] = field(default_factory=dict)
    refused_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CollectionRule:
    """What the store does with events as they arrive (set by the consent policy): rows of
    ``event_types`` whose customer's decision for ``purpose`` (``default`` without a record) is
    a refusal are stored without identity (customer and session ids removed, the anonymous id
    a one-off marker)."""

    purpose: str
    default: bool
    event_types: frozenset[str]


#: Why a row was refused: its customer was erased (the suppression list holds their id's hash).
REFUSED_ERASED = "customer was erased (suppression list)"


@dataclass(frozen=True)
class Erasure:
    """Counts of what erasing one customer removed from the store."""

    customer_id: str
    removed: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Rows removed in all tables."""
        return sum(self.removed.values())


class StoreWriter(Protocol):
    """Writes inside one transaction: all of them commit together or none does."""

    def add_events(self, events: pl.DataFrame) -> EventWrite:
        """Insert events, ignoring event_ids already stored; stitch identities they carry."""
        ...

    def upsert_items(self, items: pl.DataFrame, *, fill_only: bool = False) -> int:
        """Insert or update catalog rows; with ``fill_only``, never overwrite known fields."""
        ...

    def upsert_customers(self, customers: pl.DataFrame, *, fill_only: bool = False) -> int:
        """Insert or update profiles (email and name encrypted); returns rows written."""
        ...

    def set_consents(self, consents: pl.DataFrame) -> int:
        """Record consent decisions; a newer decision replaces an older one per purpose."""
        ...

    def link_identity(self, anonymous_id: str, customer_id: str, at_ms: int) -> int:
        """Link an anonymous id to a customer; returns events re-attributed to the customer."""
        ...

    def record_report(self, kind: str, files: Sequence[str], report: dict[str, Any]) -> None:
        """Keep an ingest report for the dashboard and ``stats``."""
        ...

    def audit(self, actor: str, action: str, subject: str | None, details: Any = None) -> None:
        """Append an entry to the audit log (never personal data)."""
        ...


class Store(Protocol):
    """Reads and transactional writes of customers, items, events, identities and consents."""

    url: str

    def writer(self) -> AbstractContextManager[StoreWriter]:
        """A writer whose work commits when the block ends cleanly, else rolls back."""
        ...

    def events(
        self, *, until_ms: int | None = None, customer_ids: Sequence[str] | None = None
    ) -> pl.DataFrame:
        """Events (all, or of some customers) with ``ts <= until_ms``, ordered by time."""
        ...

    def iter_events(self, *, batch_rows: int = 500_000) -> Iterator[pl.DataFrame]:
        """All events in batches, for exports that must not hold everything at once."""
        ...

    def items(self) -> pl.DataFrame:
        """The catalog, products and non-product codes, with features."""
        ...

    def customers(self) -> pl.DataFrame:
        """Customer profiles without personal fields."""
        ...

    def consents(self) -> pl.DataFrame:
        """The current consent decision per customer and purpose."""
        ...

    def consent_of(self, customer_id: str) -> dict[str, bool]:
        """The customer's current decision per purpose (purposes never decided are absent)."""
        ...

    def customer_history(self, customer_id: str, *, limit: int | None = None) -> pl.DataFrame:
        """A customer's events (stitched anonymous ones included), newest last."""
        ...

    def session_history(self, anonymous_id: str, *, limit: int | None = None) -> pl.DataFrame:
        """An anonymous visitor's events, newest last."""
        ...

    def resolve_anonymous(self, anonymous_id: str) -> str | None:
        """The customer an anonymous id was linked to, if any."""
        ...

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        """One profile with decrypted personal fields, or None if unknown."""
        ...

    def stats(self) -> dict[str, Any]:
        """Counts, date range, top items and data-quality figures for ``storewise stats``."""
        ...

    def reports(self, limit: int = 20) -> list[dict[str, Any]]:
        """The most recent ingest reports, newest first."""
        ...

    def export_customer(self, customer_id: str) -> dict[str, Any]:
        """Everything held about a customer, as JSON-ready data."""
        ...

    def erase_customer(self, customer_id: str, *, actor: str = "system") -> Erasure:
        """Delete a customer's rows everywhere in one transaction; returns what was removed."""
        ...

    def history_rows(self, customer_id: str, *, limit: int = 500) -> list[HistoryRow]:
        """The serving path's history read: a customer's most recent events with an item,
        oldest first, in one indexed query."""
        ...

    def serving_facts(
        self, customer_id: str
    ) -> tuple[str | None, bool | None, tuple[int, int, int]]:
        """(country, personalization decision or None, history stamp) in one indexed query;
        the stamp changes with any new, linked or erased event of the customer."""
        ...

    def contacts(self, customer_ids: Sequence[str]) -> dict[str, str]:
        """Decrypted e-mail addresses of the given customers that have one."""
        ...

    def change_seq(self) -> int:
        """A number every committed write transaction raises: equal means nothing changed."""
        ...

    def order_lines(self) -> tuple[pl.DataFrame, int | None]:
        """Purchases and returns of known customers summed per order (or customer and day),
        and the latest event time (ms) of the whole store."""
        ...

    def monthly_activity(self) -> list[MonthFigures]:
        """Per month: active customers, orders and revenue."""
        ...

    def item_facts(self, item_id: str) -> dict[str, Any] | None:
        """One catalog row, or None when unknown."""
        ...

    def item_audience(self, item_id: str) -> ItemAudience:
        """Who buys an item, as counts only."""
        ...

    def search_customers(self, text: str, *, limit: int = 20) -> list[str]:
        """Customer ids starting with ``text``."""
        ...

    def keys(self) -> KeyStore:
        """The API keys kept in this store."""
        ...

    def experiment_tables(self) -> ExperimentTables:
        """Experiments, assignments, the exposure log and feedback kept in this store."""
        ...

    def ping(self) -> None:
        """Run a trivial query; StoreError when the database does not answer."""
        ...

    def audit_entries(self, limit: int = 50) -> list[dict[str, Any]]:
        """The most recent audit log entries, newest first."""
        ...

    def retain(self, cutoffs: Mapping[str, int]) -> dict[str, int]:
        """Delete events of each type older than its cutoff (ms), keeping daily aggregates;
        returns the events removed per type."""
        ...

    def retained_aggregates(self) -> pl.DataFrame:
        """The daily aggregates retention kept."""
        ...

    def rotate_key(self, new: FieldCipher) -> int:
        """Re-encrypt every personal field with ``new``; returns the profiles re-encrypted."""
        ...

    def use_collection_rule(self, rule: CollectionRule | None) -> None:
        """Apply ``rule`` to every event written from now on (None: store events as given)."""
        ...

    def id_hash(self, customer_id: str) -> str:
        """The keyed hash the suppression list keeps for a customer id (never the id)."""
        ...

    def erased_since(self, since_ms: int) -> set[str]:
        """Hashes of the customers erased at or after ``since_ms`` (see :meth:`id_hash`)."""
        ...

    def limit_cache(self, mib: int) -> None:
        """Bound each new connection's page cache (a server's memory stays flat under load)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
