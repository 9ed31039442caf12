"""Content-based filtering on product features: title and description words, category, brand
and price band.

Items are TF-IDF vectors (scikit-learn) joined with weighted one-hot category, brand and
price-band features; a customer's profile is the recency-weighted mean of the vectors of
what they bought. New items with no sales yet are reachable through their features.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import polars as pl
import scipy.sparse as sp
from pydantic import Field

from storewise.data.dataset import Dataset
from storewise.recommend.base import (
    History,
    ModelConfig,
    Recommender,
    history_matrix,
    sparse_arrays,
    sparse_from,
)
from storewise.recommend.neighbors import most_similar, row_normalise, strongest_sources
from storewise.recommend.results import Reason


class ContentConfig(ModelConfig):
    """Hyperparameters of the content-based model."""

    text_weight: float = Field(default=1.0, ge=0, description="Weight of title/description words.")
    category_weight: float = Field(default=0.5, ge=0, description="Weight of the category.")
    brand_weight: float = Field(default=0.3, ge=0, description="Weight of the brand.")
    price_weight: float = Field(default=0.3, ge=0, description="Weight of the price band.")
    price_bands: int = Field(default=5, ge=1, description="Number of price quantile bands.")
    bigrams: bool = Field(default=True, description="Use word pairs as well as single words.")
    min_df: int = Field(default=1, ge=1, description="Ignore words in fewer items than this.")


class Content(Recommender):
    """Feature-similarity recommender with explainable shared words."""

    name = "content"
    config_class = ContentConfig
    config: ContentConfig

    def fit(self, dataset: Dataset) -> Self:
        """Vectorise the catalog."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        cfg = self.config
        items = dataset.items
        text = (
            items.select(
                pl.concat_str(
                    [pl.col("title").fill_null(""), pl.col("description").fill_null("")],
                    separator=" ",
                )
            )
            .to_series()
            .to_list()
        )
        blocks: list[sp.csr_matrix] = []
        names: list[str] = []
        if any(t.strip() for t in text):
            vectorizer = TfidfVectorizer(
                lowercase=True,
                stop_words="english",
                token_pattern=r"(?u)\b[^\W\d_]{2,}\b",
                ngram_range=(1, 2) if cfg.bigrams else (1, 1),
                min_df=cfg.min_df,
                sublinear_tf=True,
                dtype=np.float32,
            )
            try:
                words = vectorizer.fit_transform(text)
                blocks.append(sp.csr_matrix(words * cfg.text_weight))
                names.extend(f"w:{w}" for w in vectorizer.get_feature_names_out())
            except ValueError:  # every text was a stop word or number
                pass
        for column, weight, prefix in (
            ("category", cfg.category_weight, "c:"),
            ("brand", cfg.brand_weight, "b:"),
        ):
            values = items[column].fill_null("").to_list()
            block, labels = _one_hot(values, weight)
            blocks.append(block)
            names.extend(prefix + v for v in labels)
        prices = items["price"].to_numpy().astype(np.float64)
        bands = _price_bands(prices, cfg.price_bands)
        block, labels = _one_hot(bands, cfg.price_weight)
        blocks.append(block)
        names.extend("p:" + v for v in labels)
        features = sp.hstack(blocks, format="csr") if blocks else sp.csr_matrix((items.height, 0))
        self.features = row_normalise(features)
        self.feature_names = np.asarray(names if names else [""], dtype=str)
        self._fit_common(dataset)
        self.fitted = True
        return self

    def _profiles(self, histories: Sequence[History]) -> sp.csr_matrix:
        x = history_matrix(histories, self.n_items, self.config.interactions)
        return row_normalise(x @ self.features)

    def score(self, histories: Sequence[History]) -> np.ndarray:
        """Cosine between each item's features and the customer's profile."""
        self._require_fitted()
        profiles = self._profiles(histories)
        scores = np.asarray((profiles @ self.features.T).toarray(), dtype=np.float32)
        x_nnz = np.diff(profiles.indptr)
        scores[x_nnz == 0] = -np.inf
        return scores

    def similar_items(self, item_idx: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Items whose features are closest to ``item_idx``'s."""
        self._require_fitted()
        sims = np.asarray((self.features @ self.features[item_idx].T).toarray()).ravel()
        return most_similar(sims, n, item_idx)

    def shared_words(self, a: int, b: int, limit: int = 3) -> tuple[str, ...]:
        """The strongest features two items share, as words (for 'similar to' reasons)."""
        left, right = self.features[a], self.features[b]
        common = left.multiply(right).tocsr()
        if common.nnz == 0:
            return ()
        order = np.argsort(-common.data, kind="stable")
        words: list[str] = []
        for position in order:
            name = str(self.feature_names[common.indices[position]])
            if name.startswith("w:") and " " not in name:
                word = name[2:]
                if not any(word in w or w in word for w in words):
                    words.append(word)
            elif name.startswith("c:") and name[2:] not in words:
                words.append(name[2:])
            if len(words) >= limit:
                break
        return tuple(words)

    def explain_many(self, history: History, items: np.ndarray) -> list[list[Reason]]:
        """For each item, the most similar item in the history and the features they share."""
        x = history_matrix([history], self.n_items, self.config.interactions)
        sources = x.indices.astype(np.int64)
        sims = np.asarray((self.features[sources] @ self.features[items].T).toarray())
        return [
            [Reason("similar_to", item_idx=source, words=self.shared_words(source, int(item)))]
            if source is not None
            else [Reason("customers_like_you")]
            for source, item in zip(strongest_sources(sims, x.data, sources), items, strict=True)
        ]

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The item feature matrix and feature names."""
        return {}, {
            **sparse_arrays("features", self.features),
            "feature_names": self.feature_names,
        }

    def set_state(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Restore the features."""
        self.features = sparse_from("features", arrays)
        self.feature_names = arrays["feature_names"].astype(str)


def _one_hot(values: Sequence[str], weight: float) -> tuple[sp.csr_matrix, list[str]]:
    labels = sorted({v for v in values if v})
    index = {v: i for i, v in enumerate(labels)}
    rows = [r for r, v in enumerate(values) if v]
    cols = [index[values[r]] for r in rows]
    data = np.full(len(rows), weight, dtype=np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(len(values), len(labels))), labels


def _price_bands(prices: np.ndarray, bands: int) -> list[str]:
    known = prices[np.isfinite(prices)]
    if known.size == 0 or bands <= 1:
        return ["" for _ in prices]
    edges = np.quantile(known, np.linspace(0, 1, bands + 1)[1:-1])
    out = []
    for price in prices:
        out.append("" if not np.isfinite(price) else f"band{int(np.searchsorted(edges, price))}")
    return out
