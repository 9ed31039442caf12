"""Time-decayed popularity: overall, per country, per category, and what is trending.

The fallback every shop needs: a new customer sees what sells now where they live. Scores
count distinct buyers (not units), so one wholesaler's bulk order does not dominate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import polars as pl
from pydantic import Field

from storewise.data.dataset import Dataset
from storewise.data.interactions import DAY_MS, positive
from storewise.recommend.base import History, ModelConfig, Recommender
from storewise.recommend.results import Reason


class PopularConfig(ModelConfig):
    """Hyperparameters of the popularity model."""

    half_life_days: float = Field(
        default=14.0, gt=0, description="Age at which a purchase counts half as much."
    )
    country_weight: float = Field(
        default=0.7, ge=0, le=1, description="Share of the country's own popularity in its list."
    )
    min_country_buyers: int = Field(
        default=20, ge=1, description="Countries with fewer recent buyers use the global list."
    )
    trend_days: float = Field(default=7.0, gt=0, description="Recent window for trending.")
    trend_baseline_days: float = Field(
        default=28.0, gt=0, description="Window the recent rate is compared with."
    )
    view_weight: float = Field(
        default=0.2, ge=0, description="A view or cart counts this much relative to a purchase."
    )


class Popular(Recommender):
    """Recently popular items, optionally localised to the customer's country."""

    name = "popular"
    config_class = PopularConfig
    config: PopularConfig

    def fit(self, dataset: Dataset) -> Self:
        """Count decayed distinct buyers per item, overall and per country; find trends."""
        cfg = self.config
        now = dataset.as_of_ms
        events = dataset.events.filter(pl.col("event_type") != "return")
        weight = pl.when(positive()).then(1.0).otherwise(cfg.view_weight)
        per_pair = (
            events.with_columns(weight.alias("w"))
            .group_by("customer_idx", "item_idx")
            .agg(pl.col("ts").max(), pl.col("w").max())
        )
        decay = 0.5 ** ((now - pl.col("ts")).clip(lower_bound=0) / (cfg.half_life_days * DAY_MS))
        per_pair = per_pair.with_columns((pl.col("w") * decay).alias("s"))
        self._fit_common(dataset)
        overall = np.zeros(self.n_items, dtype=np.float64)
        totals = per_pair.group_by("item_idx").agg(pl.col("s").sum())
        overall[totals["item_idx"].to_numpy()] = totals["s"].to_numpy()
        self.overall = overall.astype(np.float32)
        countries = dataset.customers["country"].fill_null("").to_numpy().astype(str)
        with_country = per_pair.with_columns(
            pl.Series("country", countries)[per_pair["customer_idx"]].alias("country")
            if per_pair.height
            else pl.lit("").alias("country")
        ).filter(pl.col("country") != "")
        buyers = with_country.group_by("country").agg(pl.col("customer_idx").n_unique().alias("n"))
        keep = sorted(buyers.filter(pl.col("n") >= cfg.min_country_buyers)["country"].to_list())
        self.countries = np.asarray(keep, dtype=str)
        self.by_country = np.zeros((len(keep), self.n_items), dtype=np.float32)
        index = {c: i for i, c in enumerate(keep)}
        rows = (
            with_country.filter(pl.col("country").is_in(keep))
            .group_by("country", "item_idx")
            .agg(pl.col("s").sum())
        )
        for country, item, score in rows.iter_rows():
            self.by_country[index[country], item] = score
        self.trending = self._trend(dataset, events, now)
        self.fitted = True
        return self

    def _trend(self, dataset: Dataset, events: pl.DataFrame, now: int) -> np.ndarray:
        """Smoothed ratio of the recent daily buyer rate to the baseline rate, per item."""
        cfg = self.config
        recent_from = now - int(cfg.trend_days * DAY_MS)
        base_from = recent_from - int(cfg.trend_baseline_days * DAY_MS)
        buys = events.filter(positive())
        recent = np.zeros(self.n_items)
        base = np.zeros(self.n_items)
        for target, lo, hi in ((recent, recent_from, now + 1), (base, base_from, recent_from)):
            part = buys.filter((pl.col("ts") >= lo) & (pl.col("ts") < hi))
            counts = part.group_by("item_idx").agg(pl.col("customer_idx").n_unique())
            target[counts["item_idx"].to_numpy()] = counts["customer_idx"].to_numpy()
        rate_recent = recent / cfg.trend_days
        rate_base = (base + 1.0) / cfg.trend_baseline_days
        lift = rate_recent / rate_base
        # favour items with real recent volume: lift weighted by the log of recent buyers
        return (lift * np.log1p(recent)).astype(np.float32)

    def _country_row(self, country: str | None) -> np.ndarray | None:
        if not country or self.countries.size == 0:
            return None
        where = np.searchsorted(self.countries, country)
        if where < self.countries.size and self.countries[where] == country:
            row: np.ndarray = self.by_country[where]
            return row
        return None

    def for_country(self, country: str | None = None) -> np.ndarray:
        """Scores for a customer in ``country`` (a blend with the global list)."""
        self._require_fitted()
        overall = self.overall / max(float(self.overall.max()), 1e-9)
        row = self._country_row(country)
        if row is None:
            return overall
        local = row / max(float(row.max()), 1e-9)
        w = self.config.country_weight
        return (w * local + (1 - w) * overall).astype(np.float32)

    def score(self, histories: Sequence[History]) -> np.ndarray:
        """The same popularity for everyone, localised by country."""
        self._require_fitted()
        return (
            np.vstack([self.for_country(h.country) for h in histories])
            if histories
            else (np.zeros((0, self.n_items), np.float32))
        )

    def similar_items(self, item_idx: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Popularity has no notion of similarity: the most popular other items."""
        from storewise.recommend.base import top_n

        self._require_fitted()
        return top_n(self.overall.astype(np.float64), n, exclude=np.asarray([item_idx]))

    def explain_many(self, history: History, items: np.ndarray) -> list[list[Reason]]:
        """Popular where the customer is, or overall."""
        scope = history.country if self._country_row(history.country) is not None else None
        return [[Reason("popular", scope=scope)] for _ in items]

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Arrays: overall, per-country and trending scores."""
        return {}, {
            "overall": self.overall,
            "countries": self.countries,
            "by_country": self.by_country,
            "trending": self.trending,
        }

    def set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Restore the arrays."""
        self.overall = arrays["overall"]
        self.countries = arrays["countries"].astype(str)
        self.by_country = arrays["by_country"]
        self.trending = arrays["trending"]
