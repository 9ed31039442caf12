"""The audit trail: one place that records who read or changed personal data, and how.

Every export of personal data (a customer's own data, a campaign audience with e-mail
addresses), every erasure and every consent change is written here by the service that does
it, so the CLI, the API and the dashboard leave the same entry. Entries carry counts and
options, never the personal data itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from storewise.store.base import Store


class Audit:
    """Appends entries to the store's audit log (each in its own transaction)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(
        self, actor: str, action: str, subject: str | None = None, details: Any = None
    ) -> None:
        """Append one entry: who (``cli``, ``api:<key id>``, ``dashboard:<key id>``), what,
        about whom (kept out for exports of many), and non-personal details."""
        with self.store.writer() as writer:
            writer.audit(actor, action, subject, details)

    def exported(
        self, actor: str, what: str, *, rows: int, options: Mapping[str, Any] | None = None
    ) -> None:
        """Record an export of personal data: ``what`` (``customer_export``,
        ``campaign_audience``), how many rows left the system, and the options used."""
        self.record(actor, what, None, {"rows": int(rows), **dict(options or {})})

    def entries(self, limit: int = 50) -> list[dict[str, Any]]:
        """The most recent entries, newest first: at, actor, action, subject, details."""
        return self.store.audit_entries(limit)


__all__ = ["Audit"]
