"""Customers: profile facts, consent decisions, identity stitching, export and erasure.

Erasure is one function that reaches the store, then every registered erasure hook (the
serving service drops the customer's model rows and cached answers; marketing drops cached
figures) and returns a receipt of what was removed where. Exports and erasures are recorded
in the audit trail here, whichever front-end asked.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import polars as pl

from storewise.errors import InputError, NotFound
from storewise.ingest.layouts import email_key
from storewise.privacy.audit import Audit
from storewise.privacy.consent import ConsentPolicy
from storewise.schema import CONSENT_SCHEMA, PURPOSES, from_ms
from storewise.store.base import Store


class ErasureHook(Protocol):
    """Something that keeps customer data outside the store and must forget it on erasure."""

    def forget(self, customer_id: str) -> dict[str, int]:
        """Forget the customer; returns counts of what was removed (may be empty)."""
        ...


class CustomerValue(Protocol):
    """Segment, CLV and churn risk of a customer (marketing satisfies it)."""

    def customer_value(self, customer_id: str) -> dict[str, Any] | None:
        """The customer's value figures, or None without purchases."""
        ...


def _iso(ms: Any) -> str | None:
    return from_ms(int(ms)).isoformat() if ms is not None else None


class Customers:
    """What storewise knows about one customer, and their rights over it."""

    def __init__(
        self,
        store: Store,
        *,
        policy: ConsentPolicy,
        audit: Audit,
        value: CustomerValue,
        hooks: Sequence[ErasureHook] = (),
    ) -> None:
        self.store = store
        self.policy = policy
        self.audit = audit
        self.value = value
        self.hooks = list(hooks)

    def known_ids(self) -> list[str]:
        """Every customer with a profile."""
        return [str(c) for c in self.store.customers().get_column("customer_id").to_list()]

    def most_active(self, limit: int) -> list[str]:
        """The customers with the most purchase events, most first (ties by id)."""
        events = self.store.events().filter(
            (pl.col("event_type") == "purchase") & pl.col("customer_id").is_not_null()
        )
        counts = events.group_by("customer_id").len()
        ranked = counts.sort("len", "customer_id", descending=[True, False])
        return [str(c) for c in ranked.get_column("customer_id").head(limit).to_list()]

    def exists(self, customer_id: str) -> bool:
        """Whether the store holds a profile or any event of this customer."""
        if self.store.customer(customer_id) is not None:
            return True
        return self.store.customer_history(customer_id, limit=1).height > 0

    def find_by_email(self, email: str) -> str:
        """The id a shop-platform import gave the customer with this e-mail address (a keyed
        hash of it, see :func:`storewise.ingest.layouts.email_key`), for an access or erasure
        request; NotFound when nothing is held under it."""
        if "@" not in email or len(email) > 320:
            raise InputError(f"{email!r} is not an e-mail address")
        customer_id = email_key(email, self.store.id_hash)
        if not self.exists(customer_id):
            raise NotFound("no customer was imported under this e-mail address")
        return customer_id

    def history(self, customer_id: str, *, limit: int | None = None) -> pl.DataFrame:
        """The customer's most recent events (stitched guest events included), oldest first."""
        return self.store.customer_history(customer_id, limit=limit)

    def profile(self, customer_id: str) -> dict[str, Any]:
        """Profile, history summary, consents and value figures (NotFound when unknown)."""
        store = self.store
        profile = store.customer(customer_id)
        events = store.customer_history(customer_id)
        if profile is None and events.height == 0:
            raise NotFound(f"unknown customer {customer_id!r}")
        buys = events.filter(pl.col("event_type") == "purchase")
        returns = events.filter(pl.col("event_type") == "return")
        summary: dict[str, Any] = {
            "customer_id": customer_id,
            "country": profile["country"] if profile else None,
            "events": events.height,
            "orders": buys["order_id"].n_unique() if buys.height else 0,
            "items_bought": buys["item_id"].n_unique() if buys.height else 0,
            "revenue": round(float(buys["value"].fill_null(0).sum()), 2),
            "returns": returns.height,
            "returned_value": round(float(returns["value"].fill_null(0).sum()), 2),
            "first_seen": _iso(events["ts"].min()) if events.height else None,
            "last_seen": _iso(events["ts"].max()) if events.height else None,
            "consents": store.consent_of(customer_id),
        }
        value = self.value.customer_value(customer_id)
        if value:
            summary.update(value)
        if buys.height:
            top = (
                buys.group_by("item_id")
                .agg(pl.len())
                .sort("len", "item_id", descending=[True, False])
                .head(5)
            )
            summary["favourite_items"] = [
                {"item_id": i, "title": (store.item_facts(i) or {}).get("title"),
                 "purchases": int(c)}
                for i, c in top.iter_rows()
            ]  # fmt: skip
        return summary

    def consents(self, customer_id: str) -> dict[str, bool]:
        """The customer's recorded decision per purpose (purposes never decided are absent)."""
        return self.store.consent_of(customer_id)

    def allows(self, customer_id: str, purpose: str) -> bool:
        """Whether the consent policy lets ``purpose`` use this customer's data."""
        return self.policy.allows(self.store.consent_of(customer_id), purpose)

    def set_consents(
        self, customer_id: str, decisions: Mapping[str, bool], *, source: str = "api"
    ) -> dict[str, bool]:
        """Record a customer's consent decisions (purpose -> granted) as of now, audited in the
        same transaction; returns their current decisions."""
        unknown = sorted(set(decisions) - set(PURPOSES))
        if unknown:
            raise InputError(f"unknown consent purposes {unknown}; use {', '.join(PURPOSES)}")
        now = int(time.time() * 1000)
        frame = pl.DataFrame(
            {
                "customer_id": [customer_id] * len(decisions),
                "purpose": list(decisions),
                "granted": [bool(v) for v in decisions.values()],
                "at": [now] * len(decisions),
                "source": [source] * len(decisions),
            },
            schema=CONSENT_SCHEMA,
        )
        with self.store.writer() as writer:
            writer.set_consents(frame)
            writer.audit(source, "consent", None, {"purposes": dict(decisions)})
        return self.store.consent_of(customer_id)

    def identify(self, anonymous_id: str, customer_id: str) -> dict[str, Any]:
        """Link a guest's anonymous id to a customer (login); their history counts at once."""
        if not anonymous_id.strip() or not customer_id.strip():
            raise InputError("identify needs a non-empty anonymous_id and customer_id")
        with self.store.writer() as writer:
            moved = writer.link_identity(anonymous_id, customer_id, int(time.time() * 1000))
        owner = self.store.resolve_anonymous(anonymous_id)
        return {
            "anonymous_id": anonymous_id,
            "customer_id": owner,
            "events_linked": moved,
            "already_linked_to_another": owner != customer_id,
        }

    def export(self, customer_id: str, *, actor: str) -> dict[str, Any]:
        """Everything held about a customer (right of access), recorded in the audit trail."""
        data = self.store.export_customer(customer_id)
        self.audit.exported(actor, "customer_export", rows=1 + len(data.get("events", [])))
        return data

    def erase(self, customer_id: str, *, actor: str = "system") -> dict[str, Any]:
        """Erase a customer from the store, then from everything the hooks keep (model rows,
        caches); returns the receipt: what was removed where."""
        erasure = self.store.erase_customer(customer_id, actor=actor)
        removed = dict(erasure.removed)
        for hook in self.hooks:
            removed.update(hook.forget(customer_id))
        return {"customer_id": customer_id, "removed": removed}


__all__ = ["CustomerValue", "Customers", "ErasureHook"]
