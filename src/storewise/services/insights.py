"""Insights for the dashboard and ``storewise stats``: store figures, monthly activity, item
facts and audiences (counts only), ingest reports, customer search and the training history.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from storewise import artifacts
from storewise.errors import StoreError
from storewise.store.aggregates import ItemAudience, MonthFigures
from storewise.store.base import Store


class Insights:
    """Aggregate, non-personal figures over one store and model folder."""

    def __init__(self, store: Store, *, models_dir: Path) -> None:
        self.store = store
        self.models_dir = models_dir

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


__all__ = ["Insights", "ItemAudience", "MonthFigures"]
