"""The public face of the catalog: what a widget on a shop page may show about an item.

Only catalog facts anyone can see on the shop's own pages leave through a publishable key:
the item id, title, price and currency, an image URL and a page URL (taken from the item's
attributes ``image_url``/``image``/``image_link`` and ``url``/``link``, when they are web
addresses), and the reasons of a list. Nothing about a customer, no scores, no model names.

>>> import polars as pl
>>> items = pl.DataFrame({"item_id": ["A"], "title": ["Mug"], "price": [4.5],
...     "currency": ["EUR"], "in_stock": [True], "is_product": [True],
...     "attributes": ['{"image_url": "https://cdn.example/a.jpg", "url": "javascript:x"}']})
>>> facts = PublicCatalog.from_items(items).get("A")
>>> facts["title"], facts["price"], facts["image_url"], facts["url"]
('Mug', 4.5, 'https://cdn.example/a.jpg', None)
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

IMAGE_KEYS = ("image_url", "image", "image_link")
URL_KEYS = ("url", "link", "page_url")
#: A web address a page may link or load: http(s), or a path on the shop's own site.
_WEB = re.compile(r"^(https?://[^\s\"'<>]+|/(?!/)[^\s\"'<>]*)$", re.IGNORECASE)
#: Seconds the catalog is kept before it is read again (a catalog changes rarely; a new item
#: named by a browser event makes an earlier re-read, at most every MISS_REFRESH_S).
CATALOG_TTL_S = 60.0
MISS_REFRESH_S = 5.0


def web_address(value: Any) -> str | None:
    """``value`` when it is an http(s) URL or a site path, else None (no ``javascript:``)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text if len(text) <= 2000 and _WEB.match(text) else None


def _first(attributes: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        found = web_address(attributes.get(key))
        if found:
            return found
    return None


@dataclass(frozen=True)
class PublicCatalog:
    """Public facts per item id, and the products in catalog order."""

    facts: dict[str, dict[str, Any]]
    products: tuple[str, ...]

    @classmethod
    def from_items(cls, items: pl.DataFrame) -> PublicCatalog:
        """From the store's items frame (``Store.items()``)."""
        facts: dict[str, dict[str, Any]] = {}
        products: list[str] = []
        columns = set(items.columns)
        for row in items.iter_rows(named=True):
            raw = row.get("attributes") if "attributes" in columns else None
            try:
                loaded = json.loads(raw) if raw else {}
            except ValueError:
                loaded = {}
            attributes = loaded if isinstance(loaded, dict) else {}
            price = row.get("price")
            item_id = str(row["item_id"])
            facts[item_id] = {
                "item_id": item_id,
                "title": row.get("title") or item_id,
                "price": float(price) if price is not None and math.isfinite(price) else None,
                "currency": row.get("currency"),
                "image_url": _first(attributes, IMAGE_KEYS),
                "url": _first(attributes, URL_KEYS),
            }
            if row.get("is_product", True) and row.get("in_stock", True):
                products.append(item_id)
        return cls(facts, tuple(products))

    def get(self, item_id: str) -> dict[str, Any] | None:
        """An item's public facts, or None when the catalog does not hold it."""
        return self.facts.get(item_id)


class CatalogCache:
    """The public catalog of one worker, re-read every ``ttl`` seconds (and early, at most
    every :data:`MISS_REFRESH_S`, when asked about an item it does not hold)."""

    def __init__(
        self,
        read: Callable[[], pl.DataFrame],
        *,
        ttl: float = CATALOG_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.read = read
        self.ttl = ttl
        self.clock = clock
        self._catalog: PublicCatalog | None = None
        self._at = -math.inf
        self._lock = threading.Lock()

    def current(self, *, missing: str | None = None) -> PublicCatalog:
        """The catalog; re-read when stale, or when ``missing`` is not in it (not too often)."""
        now = self.clock()
        catalog = self._catalog
        stale = catalog is None or now - self._at > self.ttl
        if not stale and missing is not None and catalog is not None:
            stale = missing not in catalog.facts and now - self._at > MISS_REFRESH_S
        if stale:
            with self._lock:
                if self._catalog is catalog:  # no other thread re-read it meanwhile
                    self._catalog = PublicCatalog.from_items(self.read())
                    self._at = self.clock()
                catalog = self._catalog
        assert catalog is not None
        return catalog

    def clear(self) -> None:
        """Read the catalog again at the next use."""
        self._at = -math.inf
