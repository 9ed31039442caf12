"""Where the Spark trainer's events come from, as one indexed Spark table.

Two doors, one shape (``customer_idx, item_idx, event_type, quantity, value, order_id, ts``,
indices into sorted id vocabularies exactly as :class:`~storewise.data.dataset.Dataset`
builds them):

- **the store**: the consent-applied snapshot (``Dataset.from_store(store, policy=...)``) is
  written as Parquet with polars and read by Spark, so a customer who opted out never
  reaches Spark;
- **Parquet files a shop already has** (``--events PATH``): columns ``customer_id``,
  ``item_id``, ``event_type``, ``ts`` (epoch milliseconds or a timestamp), optionally
  ``order_id``, ``quantity``, ``value``. The store's consent decisions are applied before
  anything is learned (the policy's excluded ids are dropped in Spark), and the store's
  catalog marks non-product codes out as the snapshot does.

In a cluster the work folder must be visible to every worker at the same path (a shared
mount), since workers read the exported Parquet files themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from storewise.data.dataset import Dataset
from storewise.errors import InputError, SchemaError
from storewise.privacy.consent import ConsentPolicy
from storewise.store.base import Store

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: Columns a shop's Parquet events must have.
REQUIRED_COLUMNS = ("customer_id", "item_id", "event_type", "ts")
#: Columns read when present (null otherwise).
OPTIONAL_COLUMNS = {"order_id": "string", "quantity": "double", "value": "double"}


@dataclass
class SparkEvents:
    """The indexed events in Spark plus what the bundle needs on the driver."""

    events: DataFrame
    #: (customer_idx, country) for customers with a known country.
    countries: DataFrame
    customer_ids: np.ndarray
    item_ids: np.ndarray
    as_of_ms: int
    n_events: int
    excluded_customers: int
    source: str

    @property
    def n_customers(self) -> int:
        """Customers with at least one event."""
        return len(self.customer_ids)

    @property
    def n_items(self) -> int:
        """Catalog items (products), with or without events."""
        return len(self.item_ids)


def _countries(customer_ids: np.ndarray, profiles: pl.DataFrame) -> pl.DataFrame:
    """(customer_idx, country) of the vocabulary's customers with a country on record."""
    index = pl.DataFrame(
        {"customer_id": customer_ids, "customer_idx": np.arange(len(customer_ids), dtype=np.int32)}
    )
    if "country" not in profiles.columns:
        return pl.DataFrame(schema={"customer_idx": pl.Int32, "country": pl.Utf8})
    return (
        index.join(profiles.select("customer_id", "country"), on="customer_id", how="inner")
        .select("customer_idx", pl.col("country").fill_null(""))
        .filter(pl.col("country") != "")
    )


def from_store(
    spark: SparkSession,
    store: Store,
    folder: Path,
    *,
    policy: ConsentPolicy,
    as_of_ms: int | None = None,
) -> SparkEvents:
    """The consent-applied snapshot of the store, exported as Parquet and read by Spark."""
    dataset = Dataset.from_store(store, as_of_ms=as_of_ms, policy=policy)
    dataset.require_events()
    folder.mkdir(parents=True, exist_ok=True)
    events_path = folder / "events.parquet"
    countries_path = folder / "countries.parquet"
    dataset.events.select(
        "customer_idx", "item_idx", "event_type", "quantity", "value", "order_id", "ts"
    ).write_parquet(events_path)
    countries = pl.DataFrame(
        {
            "customer_idx": np.arange(dataset.n_customers, dtype=np.int32),
            "country": dataset.customers["country"].fill_null("")
            if "country" in dataset.customers.columns
            else pl.Series([""] * dataset.n_customers, dtype=pl.Utf8),
        }
    ).filter(pl.col("country") != "")
    countries.write_parquet(countries_path)
    return SparkEvents(
        events=spark.read.parquet(str(events_path)),
        countries=spark.read.parquet(str(countries_path)),
        customer_ids=np.asarray(dataset.customer_ids, dtype=str),
        item_ids=np.asarray(dataset.item_ids, dtype=str),
        as_of_ms=dataset.as_of_ms,
        n_events=dataset.events.height,
        excluded_customers=dataset.excluded_customers,
        source="store",
    )


def _timestamp_ms(frame: DataFrame, path: Path) -> Any:
    """The ``ts`` column as epoch milliseconds (long), or a SchemaError."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    kind = frame.schema["ts"].dataType
    if isinstance(kind, T.TimestampType | T.TimestampNTZType):
        return F.unix_millis(F.col("ts").cast("timestamp"))
    if isinstance(kind, T.IntegralType):
        return F.col("ts").cast("long")
    if isinstance(kind, T.DateType):
        return F.unix_millis(F.col("ts").cast("timestamp"))
    raise SchemaError(
        f"{path}: column ts is {kind.simpleString()}; give epoch milliseconds or a timestamp"
    )


def check_columns(path: Path) -> None:
    """Fail before Spark starts when ``path`` is missing or lacks the needed columns (the
    published model stays untouched)."""
    import pyarrow.dataset as ds

    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    try:
        names = set(ds.dataset(str(path), format="parquet").schema.names)
    except Exception as exc:  # pyarrow raises several kinds for a file that is not Parquet
        raise InputError(f"{path}: not readable as Parquet ({str(exc)[:200]})") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise SchemaError(
            f"{path}: missing column(s) {', '.join(missing)}; the Spark trainer needs "
            f"{', '.join(REQUIRED_COLUMNS)} (and reads {', '.join(OPTIONAL_COLUMNS)} if present)"
        )


def from_parquet(
    spark: SparkSession,
    store: Store,
    path: Path,
    folder: Path,
    *,
    policy: ConsentPolicy,
    as_of_ms: int | None = None,
) -> SparkEvents:
    """A shop's own Parquet events, with the store's consent decisions and catalog applied."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    try:
        raw = spark.read.parquet(str(path))
    except AnalysisException as exc:
        raise InputError(f"{path}: not readable as Parquet ({exc.getMessage()[:200]})") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise SchemaError(
            f"{path}: missing column(s) {', '.join(missing)}; the Spark trainer needs "
            f"{', '.join(REQUIRED_COLUMNS)} (and reads {', '.join(OPTIONAL_COLUMNS)} if present)"
        )
    events = raw.select(
        F.col("customer_id").cast("string").alias("customer_id"),
        F.col("item_id").cast("string").alias("item_id"),
        F.col("event_type").cast("string").alias("event_type"),
        *(
            (F.col(c) if c in raw.columns else F.lit(None)).cast(t).alias(c)
            for c, t in OPTIONAL_COLUMNS.items()
        ),
        _timestamp_ms(raw, path).alias("ts"),
    ).where(F.col("customer_id").isNotNull() & F.col("item_id").isNotNull())
    if as_of_ms is not None:
        events = events.where(F.col("ts") <= F.lit(as_of_ms))
    # Consent: the policy's excluded customers never reach a model.
    excluded = sorted(policy.excluded_ids(store.consents(), "personalization"))
    folder.mkdir(parents=True, exist_ok=True)
    if excluded:
        pl.DataFrame({"customer_id": excluded}).write_parquet(folder / "excluded.parquet")
        gone = spark.read.parquet(str(folder / "excluded.parquet"))
        events = events.join(F.broadcast(gone), on="customer_id", how="left_anti")
    catalog = store.items()
    flags = catalog["is_product"].fill_null(True) if "is_product" in catalog.columns else None
    products = catalog["item_id"] if flags is None else catalog.filter(flags)["item_id"]
    if flags is not None and (~flags).any():
        codes = catalog.filter(~flags).select("item_id")
        codes.write_parquet(folder / "non_products.parquet")
        not_sold = spark.read.parquet(str(folder / "non_products.parquet"))
        events = events.join(F.broadcast(not_sold), on="item_id", how="left_anti")
    events = events.cache()
    seen_items = events.select("item_id").distinct().toArrow().column(0).to_pylist()
    customers = events.select("customer_id").distinct().toArrow().column(0).to_pylist()
    if not customers:
        raise InputError(f"{path}: no events with a customer and an item to learn from")
    item_ids = np.sort(np.asarray(sorted(set(seen_items) | set(products.to_list())), dtype=str))
    customer_ids = np.sort(np.asarray(customers, dtype=str))
    pl.DataFrame(
        {"customer_id": customer_ids, "customer_idx": np.arange(len(customer_ids), dtype=np.int32)}
    ).write_parquet(folder / "customer_vocab.parquet")
    pl.DataFrame(
        {"item_id": item_ids, "item_idx": np.arange(len(item_ids), dtype=np.int32)}
    ).write_parquet(folder / "item_vocab.parquet")
    _countries(customer_ids, store.customers()).write_parquet(folder / "countries.parquet")
    indexed = (
        events.join(spark.read.parquet(str(folder / "customer_vocab.parquet")), "customer_id")
        .join(F.broadcast(spark.read.parquet(str(folder / "item_vocab.parquet"))), "item_id")
        .select("customer_idx", "item_idx", "event_type", "quantity", "value", "order_id", "ts")
    )
    latest = indexed.agg(F.max("ts"), F.count(F.lit(1))).first()
    assert latest is not None
    events.unpersist()
    return SparkEvents(
        events=indexed,
        countries=spark.read.parquet(str(folder / "countries.parquet")),
        customer_ids=customer_ids,
        item_ids=item_ids,
        as_of_ms=int(as_of_ms if as_of_ms is not None else latest[0]),
        n_events=int(latest[1]),
        excluded_customers=len(excluded),
        source=str(path),
    )
