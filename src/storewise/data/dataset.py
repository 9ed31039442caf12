"""The frozen snapshot every model and analysis reads: id vocabularies plus tables.

External string ids live at the boundary; inside, customers and items are dense integer
indices (``customer_idx``, ``item_idx``). Consent is applied here: customers who withdrew
``personalization`` consent contribute nothing to what models learn.

>>> import polars as pl
>>> events = pl.DataFrame({"customer_id": ["a", "a", "b"], "item_id": ["x", "y", "x"],
...     "event_type": ["purchase"] * 3, "ts": [1, 2, 3]})
>>> ds = Dataset.from_frames(events)
>>> ds.n_customers, ds.n_items
(2, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from storewise.errors import InputError
from storewise.privacy.consent import ConsentPolicy
from storewise.schema import CONSENT_SCHEMA, CUSTOMER_SCHEMA, EVENT_SCHEMA, ITEM_SCHEMA
from storewise.store.base import Store

#: Event columns a snapshot keeps (indices added).
SNAPSHOT_EVENT_COLUMNS = (
    "customer_idx",
    "item_idx",
    "event_type",
    "quantity",
    "price",
    "value",
    "order_id",
    "ts",
)


def _with_schema(frame: pl.DataFrame | None, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    if frame is None:
        return pl.DataFrame(schema=schema)
    return frame.select(
        [
            (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in schema.items()
        ]
    )


@dataclass(frozen=True)
class Dataset:
    """Customers, items and their events as of one moment, indexed for models."""

    customer_ids: np.ndarray
    item_ids: np.ndarray
    events: pl.DataFrame
    items: pl.DataFrame
    customers: pl.DataFrame
    as_of_ms: int
    excluded_customers: int = 0
    _customer_index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    _item_index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def from_store(
        cls,
        store: Store,
        *,
        as_of_ms: int | None = None,
        respect_consent: bool = True,
        policy: ConsentPolicy | None = None,
    ) -> Dataset:
        """Snapshot of the store's events up to ``as_of_ms`` (default: everything)."""
        return cls.from_frames(
            store.events(until_ms=as_of_ms),
            items=store.items(),
            customers=store.customers(),
            consents=store.consents() if respect_consent else None,
            as_of_ms=as_of_ms,
            policy=policy,
        )

    @classmethod
    def from_frames(
        cls,
        events: pl.DataFrame,
        *,
        items: pl.DataFrame | None = None,
        customers: pl.DataFrame | None = None,
        consents: pl.DataFrame | None = None,
        as_of_ms: int | None = None,
        policy: ConsentPolicy | None = None,
    ) -> Dataset:
        """Build a snapshot from canonical frames (the store's shapes; missing columns null).

        With ``consents``, the consent policy (default :class:`ConsentPolicy`) decides whose
        events models may learn from (purpose ``personalization``).

        Items are the catalog's products plus any item seen in events that the catalog does
        not mark as a non-product code; customers are those with at least one such event.
        """
        ev = _with_schema(events, EVENT_SCHEMA)
        if as_of_ms is not None:
            ev = ev.filter(pl.col("ts") <= as_of_ms)
        catalog = _with_schema(items, ITEM_SCHEMA).with_columns(
            pl.col("is_product").fill_null(True), pl.col("in_stock").fill_null(True)
        )
        profiles = _with_schema(customers, CUSTOMER_SCHEMA)
        excluded = 0
        if consents is not None:
            rule = policy or ConsentPolicy()
            decisions = _with_schema(consents, CONSENT_SCHEMA)
            excluded = len(rule.excluded_ids(decisions, "personalization"))
            ev = rule.filter(ev, decisions, "personalization")
        ev = ev.filter(pl.col("customer_id").is_not_null() & pl.col("item_id").is_not_null())
        non_products = catalog.filter(~pl.col("is_product"))["item_id"]
        ev = ev.filter(~pl.col("item_id").is_in(non_products.implode()))
        products = catalog.filter(pl.col("is_product"))
        seen = ev["item_id"].unique()
        missing = seen.filter(~seen.is_in(products["item_id"].implode()))
        if missing.len():
            products = pl.concat(
                [products, _with_schema(pl.DataFrame({"item_id": missing}), ITEM_SCHEMA)],
                how="vertical",
            ).with_columns(pl.col("is_product").fill_null(True), pl.col("in_stock").fill_null(True))
        products = products.sort("item_id")
        item_ids = products["item_id"].to_numpy().astype(str)
        customer_ids = np.sort(ev["customer_id"].unique().to_numpy().astype(str))
        if ev.height == 0 and as_of_ms is None:
            as_of = 0
        else:
            latest = ev["ts"].max()
            as_of = int(
                as_of_ms if as_of_ms is not None else latest if isinstance(latest, int) else 0
            )
        cmap = pl.DataFrame(
            {
                "customer_id": customer_ids,
                "customer_idx": np.arange(len(customer_ids), dtype=np.int32),
            }
        )
        imap = pl.DataFrame(
            {"item_id": item_ids, "item_idx": np.arange(len(item_ids), dtype=np.int32)}
        )
        indexed = (
            ev.join(cmap, on="customer_id", how="inner")
            .join(imap, on="item_id", how="inner")
            .select(SNAPSHOT_EVENT_COLUMNS)
            .sort("ts", "customer_idx", "item_idx")
        )
        table = (
            cmap.join(profiles, on="customer_id", how="left")
            .sort("customer_idx")
            .drop("customer_idx")
        )
        return cls(
            customer_ids=customer_ids,
            item_ids=item_ids,
            events=indexed,
            items=products.drop("is_product"),
            customers=table,
            as_of_ms=as_of,
            excluded_customers=excluded,
            _customer_index={c: i for i, c in enumerate(customer_ids.tolist())},
            _item_index={c: i for i, c in enumerate(item_ids.tolist())},
        )

    # -- vocabularies --------------------------------------------------------------------------
    @property
    def n_customers(self) -> int:
        """Number of customers with at least one event."""
        return len(self.customer_ids)

    @property
    def n_items(self) -> int:
        """Number of catalog items (products), with or without events."""
        return len(self.item_ids)

    def customer_index(self, customer_id: str) -> int | None:
        """The dense index of a customer, or None if the snapshot does not know them."""
        return self._customer_index.get(customer_id)

    def item_index(self, item_id: str) -> int | None:
        """The dense index of an item, or None if the snapshot does not know it."""
        return self._item_index.get(item_id)

    def item_indices(self, item_ids: Sequence[str]) -> np.ndarray:
        """Indices of the known items among ``item_ids`` (unknown ones are skipped)."""
        found = [self._item_index[i] for i in item_ids if i in self._item_index]
        return np.asarray(found, dtype=np.int64)

    def index_events(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Canonical events (e.g. fresh history from the store) with ``item_idx`` added.

        Events of items this snapshot does not know are dropped; ``customer_idx`` is the
        snapshot's index or -1 for customers it does not know.
        """
        if frame.height == 0:
            return pl.DataFrame(
                schema={
                    "item_idx": pl.Int32,
                    "event_type": pl.Utf8,
                    "quantity": pl.Float64,
                    "value": pl.Float64,
                    "order_id": pl.Utf8,
                    "ts": pl.Int64,
                }
            )
        imap = pl.DataFrame(
            {"item_id": self.item_ids, "item_idx": np.arange(self.n_items, dtype=np.int32)}
        )
        return (
            _with_schema(frame, EVENT_SCHEMA)
            .join(imap, on="item_id", how="inner")
            .select("item_idx", "event_type", "quantity", "value", "order_id", "ts")
            .sort("ts")
        )

    def until(self, cutoff_ms: int) -> Dataset:
        """The snapshot restricted to events strictly before ``cutoff_ms`` (same catalog)."""
        events = self.events.filter(pl.col("ts") < cutoff_ms)
        return self._rebuild(events, cutoff_ms - 1)

    def _rebuild(self, events: pl.DataFrame, as_of_ms: int) -> Dataset:
        """A new snapshot from indexed events of this one, re-indexing customers."""
        frame = events.with_columns(
            pl.Series("customer_id", self.customer_ids)[events["customer_idx"]].alias("customer_id")
            if events.height
            else pl.lit(None, pl.Utf8).alias("customer_id"),
            pl.Series("item_id", self.item_ids)[events["item_idx"]].alias("item_id")
            if events.height
            else pl.lit(None, pl.Utf8).alias("item_id"),
        )
        customers = self.customers
        return Dataset.from_frames(
            frame.drop("customer_idx", "item_idx"),
            items=self.items.with_columns(pl.lit(True).alias("is_product")),
            customers=customers,
            as_of_ms=as_of_ms,
        )

    def require_events(self) -> None:
        """Raise a clear error when there is nothing to learn from."""
        if self.events.height == 0:
            raise InputError(
                "there is nothing to learn from: the store has no customer events for catalog "
                "items; ingest orders or events first (`storewise ingest orders FILE`)"
            )
