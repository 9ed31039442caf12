"""Insights for the dashboard and ``storewise stats``: store figures, monthly activity, item
facts and audiences (counts only), ingest reports, customer search, the training history and
the fairness audit of the served configuration.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from storewise import artifacts, persist
from storewise.data.dataset import Dataset
from storewise.errors import NotFitted, StoreError
from storewise.evaluate import fairness
from storewise.privacy.consent import ConsentPolicy
from storewise.recommend.rules import RuleSet
from storewise.store.aggregates import ItemAudience, MonthFigures
from storewise.store.base import Store


class Insights:
    """Aggregate, non-personal figures over one store and model folder."""

    def __init__(
        self, store: Store, *, models_dir: Path, policy: ConsentPolicy | None = None
    ) -> None:
        self.store = store
        self.models_dir = models_dir
        self.policy = policy
        self._audit: tuple[tuple[Any, ...], fairness.AuditSetup] | None = None
        self._audit_lock = threading.Lock()

    def store_answers(self) -> bool:
        """Whether the database answers a trivial query (readiness)."""
        try:
            self.store.ping()
        except StoreError:
            return False
        return True

    def stats(self) -> dict[str, Any]:
        """Counts, date range, top items and data-quality figures."""
        return self.store.stats()

    def activity(self) -> list[MonthFigures]:
        """Per month: active customers, orders and revenue."""
        return self.store.monthly_activity()

    def reports(self, limit: int = 20) -> list[dict[str, Any]]:
        """The most recent ingest reports, newest first."""
        return self.store.reports(limit=limit)

    def item(self, item_id: str) -> dict[str, Any] | None:
        """One catalog row, or None when unknown."""
        return self.store.item_facts(item_id)

    def item_audience(self, item_id: str) -> ItemAudience:
        """Who buys an item, as counts only (buyers, units, revenue, returns, countries)."""
        return self.store.item_audience(item_id)

    def search_customers(self, text: str, *, limit: int = 20) -> list[str]:
        """Customer ids starting with ``text``."""
        return self.store.search_customers(text, limit=limit)

    def bundle_history(self) -> list[artifacts.BundleVersion]:
        """Published model bundles, newest first (training history)."""
        return artifacts.versions(self.models_dir)

    def fairness(
        self, variants: Mapping[str, RuleSet], *, test_days: float = 30.0, k: int = 10
    ) -> dict[str, Any]:
        """The fairness audit of each rule set (ARP, long-tail share, Gini of exposure,
        miscalibration, NDCG per country and activity level) on the store's last
        ``test_days``, the served configuration refitted before them. The last fit is kept
        until the bundle or the data change, so trying other rules costs seconds."""
        version = artifacts.current_version(self.models_dir)
        if version is None:
            raise NotFitted("no trained model yet: run `storewise train` first")
        key = (version, test_days, self.store.change_seq())
        with self._audit_lock:
            if self._audit is None or self._audit[0] != key:
                self._audit = None  # free the old fit before making the new one
                manifest = persist.read_json(self.models_dir / version / artifacts.MANIFEST)
                setup = fairness.prepare(
                    Dataset.from_store(self.store, policy=self.policy),
                    manifest["chosen"]["discovery"],
                    configs=manifest.get("best_configs"),
                    test_days=test_days,
                )
                self._audit = (key, setup)
            return fairness.audit(self._audit[1], variants, k)

    def forget(self, customer_id: str) -> dict[str, int]:
        """Drop the kept audit fit, which holds customers' histories (an erasure hook)."""
        with self._audit_lock:
            kept, self._audit = self._audit is not None, None
        return {"fairness_audit_fits": int(kept)}


__all__ = ["Insights", "ItemAudience", "MonthFigures"]
