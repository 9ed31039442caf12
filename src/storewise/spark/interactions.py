"""Events to interaction strengths in Spark SQL, by the rules of
:func:`storewise.data.interactions.weighted_events` (weights per event type, liked ratings
only, one count per order, time decay, transform), and the BM25 weighting of
:mod:`storewise.recommend.neighbors`.

Values are rounded to float32 where the single-machine code stores float32, so both trainers
learn from the same numbers and their models answer alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from storewise.data.interactions import DAY_MS, LIKED_RATING, InteractionConfig

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


def f32(column: Column) -> Column:
    """A double rounded to float32 precision (and back to double for further arithmetic)."""
    return column.cast("float").cast("double")


def positive() -> Column:
    """Purchases and liked ratings (:func:`storewise.data.interactions.positive`)."""
    from pyspark.sql import functions as F

    liked = F.coalesce(F.col("value"), F.lit(0.0)) >= F.lit(LIKED_RATING)
    return (F.col("event_type") == "purchase") | ((F.col("event_type") == "rating") & liked)


def order_key() -> Column:
    """An event's order, or its timestamp when it has none (polars' ``cast(pl.Utf8)`` text)."""
    from pyspark.sql import functions as F

    return F.coalesce(F.col("order_id"), F.col("ts").cast("string"))


def weighted(events: DataFrame, config: InteractionConfig, now_ms: int) -> DataFrame:
    """(customer_idx, item_idx, strength) with strength > 0, as float32 values in doubles."""
    from pyspark.sql import functions as F

    weight: Any = F.lit(0.0)
    for kind, value in config.weights.items():
        weight = F.when(F.col("event_type") == kind, F.lit(float(value))).otherwise(weight)
    disliked = (F.col("event_type") == "rating") & (
        F.coalesce(F.col("value"), F.lit(0.0)) < F.lit(LIKED_RATING)
    )
    frame = events.withColumn("_w", F.when(disliked, F.lit(0.0)).otherwise(weight)).where(
        F.col("_w") != 0
    )
    if config.unit == "order":
        frame = frame.groupBy(
            "customer_idx", "item_idx", "event_type", order_key().alias("_o")
        ).agg(F.first("_w").alias("_w"), F.max("ts").alias("ts"))
    if config.half_life_days is not None:
        age = F.greatest(F.lit(now_ms) - F.col("ts"), F.lit(0)) / F.lit(float(DAY_MS))
        frame = frame.withColumn(
            "_w", F.col("_w") * F.pow(F.lit(0.5), age / F.lit(config.half_life_days))
        )
    summed = frame.groupBy("customer_idx", "item_idx").agg(F.sum("_w").alias("strength"))
    summed = summed.where(F.col("strength") > 1e-9)
    if config.transform == "log":
        summed = summed.withColumn("strength", F.log1p("strength"))
    elif config.transform == "binary":
        summed = summed.withColumn("strength", F.lit(1.0))
    return summed.withColumn("strength", f32(F.col("strength"))).where(F.col("strength") != 0)


def to_numpy(frame: DataFrame, key: str, value: str, size: int, dtype: Any) -> np.ndarray:
    """A dense vector from (key, value) rows collected to the driver; missing keys are 0."""
    table = frame.select(key, value).toArrow()
    out = np.zeros(size, dtype=np.float64)
    if table.num_rows:
        out[table.column(0).to_numpy()] = table.column(1).to_numpy(zero_copy_only=False)
    return out.astype(dtype)


def bm25_stats(matrix: DataFrame, n_rows: int, n_items: int) -> tuple[np.ndarray, float]:
    """(idf per item, mean row length) of a strength table, as
    :func:`storewise.recommend.neighbors.bm25_stats` computes them (float32 idf)."""
    from pyspark.sql import functions as F

    df = to_numpy(
        matrix.groupBy("item_idx").agg(F.count(F.lit(1)).alias("df")),
        "item_idx",
        "df",
        n_items,
        np.float64,
    )
    idf = np.maximum(np.log(max(n_rows, 1)) - np.log1p(df), 0.0).astype(np.float32)
    lengths = to_numpy(
        matrix.groupBy("customer_idx").agg(f32(F.sum("strength")).alias("length")),
        "customer_idx",
        "length",
        n_rows,
        np.float32,
    )
    avg = float(lengths.mean()) if lengths.size else 1.0
    return idf, avg


def bm25_weighted(
    matrix: DataFrame,
    idf: DataFrame,
    avg: float,
    *,
    k1: float = 1.2,
    b: float = 0.75,
) -> DataFrame:
    """The strengths BM25-weighted with training statistics (``idf``: item_idx, idf)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    length = f32(F.sum("strength").over(Window.partitionBy("customer_idx")))
    norm = F.lit(1.0 - b) + F.lit(b) * F.col("_len") / F.lit(max(avg, 1e-9))
    weight = (
        F.col("strength") * F.lit(k1 + 1.0) / (F.lit(k1) * norm + F.col("strength")) * F.col("idf")
    )
    return (
        matrix.withColumn("_len", length)
        .join(F.broadcast(idf), "item_idx")
        .select("customer_idx", "item_idx", f32(weight).alias("strength"))
    )
