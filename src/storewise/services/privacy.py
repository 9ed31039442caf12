"""Privacy operations: key rotation, retention, pseudonyms and the audit trail.

Retention deletes events of each configured type older than its age (``retention_days``)
and keeps their daily counts per item; key rotation re-encrypts every personal field in one
transaction; pseudonyms stand in for customer ids in analytics exports and logs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from storewise.errors import InputError
from storewise.privacy.audit import Audit
from storewise.privacy.crypto import FieldCipher
from storewise.privacy.pseudonym import Pseudonymizer
from storewise.schema import DAY_MS, EVENT_TYPES
from storewise.settings import Settings
from storewise.store.base import Store


class Privacy:
    """Rotation, retention, pseudonyms and the audit log over one store."""

    def __init__(self, store: Store, *, settings: Settings, audit: Audit) -> None:
        self.store = store
        self.settings = settings
        self.audit = audit
        self._pseudonyms: Pseudonymizer | None = None
        self.last_retention: float | None = None

    def rotate_key(self, new_key: str) -> int:
        """Re-encrypt every personal field with ``new_key`` (the current key must be
        configured); returns the profiles re-encrypted. Configure the new key afterwards."""
        return self.store.rotate_key(FieldCipher(new_key.strip()))

    def retain(
        self, days: Mapping[str, int] | None = None, *, now_ms: int | None = None
    ) -> dict[str, int]:
        """Apply retention (default: the settings' ``retention_days``); events removed per
        type. Unknown types and non-positive ages are input errors."""
        policy = dict(self.settings.retention_days if days is None else days)
        unknown = sorted(set(policy) - set(EVENT_TYPES))
        if unknown:
            raise InputError(f"unknown event types {unknown}; use {', '.join(EVENT_TYPES)}")
        short = sorted(t for t, d in policy.items() if int(d) < 1)
        if short:
            raise InputError(f"retention must be at least one day, got {short}")
        now = int(time.time() * 1000) if now_ms is None else now_ms
        cutoffs = {t: now - int(d) * DAY_MS for t, d in policy.items()}
        removed = self.store.retain(cutoffs) if cutoffs else {}
        self.last_retention = time.monotonic()
        return removed

    def retention_due(self) -> bool:
        """Whether a server should apply retention now (configured, and not applied within
        ``retention_every_hours``)."""
        if not self.settings.retention_days:
            return False
        if self.last_retention is None:
            return True
        every = self.settings.retention_every_hours * 3600
        return time.monotonic() - self.last_retention >= every

    def pseudonym(self, customer_id: str) -> str:
        """The customer's pseudonym (keyed HMAC; see :mod:`storewise.privacy.pseudonym`)."""
        if self._pseudonyms is None:
            secret = self.settings.pseudonym_key
            key = (
                secret.get_secret_value().encode()
                if secret is not None
                else bytes.fromhex(self.store.id_hash("storewise pseudonym key"))
            )
            self._pseudonyms = Pseudonymizer(key)
        return self._pseudonyms(customer_id)

    def audit_log(self, limit: int = 50) -> list[dict[str, Any]]:
        """The most recent audit entries, newest first."""
        return self.audit.entries(limit)


__all__ = ["Privacy"]
