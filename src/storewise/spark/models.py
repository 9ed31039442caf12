"""The models that scale, learned in Spark: each function returns the state (metadata and
arrays) that the single-machine model class stores, so ``cls.from_state`` rebuilds a model
that answers as if it had been fitted on one machine.

- popularity and trending (:class:`~storewise.recommend.popular.Popular`): Spark SQL sums;
- item-item co-occurrence (:class:`~storewise.recommend.itemknn.ItemKNN`): a self-join of the
  interaction table on the customer, cosine with shrinkage, top-k per item by window;
- bought together (:func:`~storewise.recommend.basket.cobuy_counts`): a self-join on the order;
- implicit ALS (:class:`~storewise.recommend.als.ALS`): ``pyspark.ml.recommendation.ALS``;
- the repurchase features (:class:`~storewise.recommend.repurchase.Repurchase`): rates,
  cycles, habits, shop-wide item statistics and the learned ranker (Spark's logistic
  regression on the same features).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from storewise.data.interactions import DAY_MS, InteractionConfig
from storewise.recommend.als import ALSConfig
from storewise.recommend.base import sparse_arrays
from storewise.recommend.basket import MAX_LINES_PER_ORDER
from storewise.recommend.itemknn import ItemKNNConfig
from storewise.recommend.popular import PopularConfig
from storewise.recommend.repeat_ranker import FEATURES, MIN_POSITIVES
from storewise.recommend.repurchase import RepurchaseConfig
from storewise.spark.interactions import (
    bm25_stats,
    bm25_weighted,
    f32,
    order_key,
    positive,
    to_numpy,
    weighted,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

State = tuple[dict[str, Any], dict[str, np.ndarray]]


def _matrix(frame: DataFrame, row: str, col: str, value: str, shape: tuple[int, int]) -> Any:
    """A float32 CSR matrix from (row, col, value) rows collected to the driver."""
    table = frame.select(row, col, value).toArrow()
    rows = table.column(0).to_numpy().astype(np.int64)
    cols = table.column(1).to_numpy().astype(np.int64)
    data = table.column(2).to_numpy(zero_copy_only=False).astype(np.float32)
    matrix = sp.csr_matrix((data, (rows, cols)), shape=shape, dtype=np.float32)
    matrix.sum_duplicates()
    matrix.sort_indices()
    return matrix


def _top_k(frame: DataFrame, row: str, col: str, value: str, k: int) -> DataFrame:
    """The ``k`` largest values of each row, ties to the lower column (as ``keep_top_k``)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy(row).orderBy(F.col(value).desc(), F.col(col).asc())
    return frame.withColumn("_rank", F.row_number().over(order)).where(F.col("_rank") <= k)


def _table(spark: SparkSession, folder: Path, name: str, columns: dict[str, Any]) -> DataFrame:
    """A small driver-side table handed to Spark through a Parquet file."""
    path = folder / f"{name}.parquet"
    pl.DataFrame(columns).write_parquet(path)
    return spark.read.parquet(str(path))


def popularity(events: DataFrame, n_items: int) -> np.ndarray:
    """Distinct customers per item over every event: what each model fills lists with."""
    from pyspark.sql import functions as F

    counts = events.groupBy("item_idx").agg(F.countDistinct("customer_idx").alias("n"))
    return to_numpy(counts, "item_idx", "n", n_items, np.float32)


def popular(
    events: DataFrame, countries: DataFrame, config: PopularConfig, now: int, n_items: int
) -> State:
    """Decayed distinct buyers per item, overall and per country, and the trend ratio."""
    from pyspark.sql import functions as F

    kept = events.where(F.col("event_type") != "return")
    weight = F.when(positive(), F.lit(1.0)).otherwise(F.lit(config.view_weight))
    per_pair = (
        kept.withColumn("w", weight)
        .groupBy("customer_idx", "item_idx")
        .agg(F.max("ts").alias("ts"), F.max("w").alias("w"))
    )
    age = F.greatest(F.lit(now) - F.col("ts"), F.lit(0)) / F.lit(config.half_life_days * DAY_MS)
    per_pair = per_pair.withColumn("s", F.col("w") * F.pow(F.lit(0.5), age)).cache()
    totals = per_pair.groupBy("item_idx").agg(F.sum("s").alias("s"))
    overall = to_numpy(totals, "item_idx", "s", n_items, np.float64).astype(np.float32)
    located = per_pair.join(countries, "customer_idx")
    buyers = located.groupBy("country").agg(F.countDistinct("customer_idx").alias("n"))
    keep = sorted(
        r["country"] for r in buyers.where(F.col("n") >= config.min_country_buyers).collect()
    )
    by_country = np.zeros((len(keep), n_items), dtype=np.float32)
    if keep:
        index = {c: i for i, c in enumerate(keep)}
        rows = (
            located.where(F.col("country").isin(keep))
            .groupBy("country", "item_idx")
            .agg(F.sum("s").alias("s"))
            .toArrow()
        )
        where = np.asarray([index[c] for c in rows.column("country").to_pylist()], dtype=np.int64)
        by_country[where, rows.column("item_idx").to_numpy()] = rows.column("s").to_numpy()
    per_pair.unpersist()
    recent_from = now - int(config.trend_days * DAY_MS)
    base_from = recent_from - int(config.trend_baseline_days * DAY_MS)
    buys = kept.where(positive())
    counted = []
    for lo, hi in ((recent_from, now + 1), (base_from, recent_from)):
        part = buys.where((F.col("ts") >= lo) & (F.col("ts") < hi))
        counts = part.groupBy("item_idx").agg(F.countDistinct("customer_idx").alias("n"))
        counted.append(to_numpy(counts, "item_idx", "n", n_items, np.float64))
    recent, base = counted
    lift = (recent / config.trend_days) / ((base + 1.0) / config.trend_baseline_days)
    trending = (lift * np.log1p(recent)).astype(np.float32)
    return {}, {
        "overall": overall,
        "countries": np.asarray(keep, dtype=str),
        "by_country": by_country,
        "trending": trending,
    }


def _bm25_table(
    spark: SparkSession, folder: Path, x: DataFrame, n_rows: int, n_items: int, name: str
) -> tuple[np.ndarray, float, DataFrame]:
    idf, avg = bm25_stats(x, n_rows, n_items)
    table = _table(
        spark,
        folder,
        name,
        {"item_idx": np.arange(n_items, dtype=np.int32), "idf": idf.astype(np.float64)},
    )
    return idf, avg, table


def itemknn(
    spark: SparkSession,
    folder: Path,
    events: DataFrame,
    config: ItemKNNConfig,
    now: int,
    n_customers: int,
    n_items: int,
) -> State:
    """Top-k (asymmetric) cosine neighbours with shrinkage, as ``W = sim.T`` arrays."""
    from pyspark.sql import functions as F

    x = weighted(events, config.interactions, now)
    if config.similarity == "bm25":
        _, avg, idf = _bm25_table(spark, folder, x, n_customers, n_items, "itemknn_idf")
        x = bm25_weighted(x, idf, avg, k1=config.bm25_k1, b=config.bm25_b)
    x = x.cache()
    squares = x.groupBy("item_idx").agg(
        f32(F.sum(f32(F.col("strength") * F.col("strength")))).alias("sq")
    )
    left = x.select("customer_idx", F.col("item_idx").alias("a"), F.col("strength").alias("wa"))
    right = x.select("customer_idx", F.col("item_idx").alias("b"), F.col("strength").alias("wb"))
    gram = (
        left.join(right, "customer_idx")
        .where(F.col("a") != F.col("b"))
        .groupBy("a", "b")
        .agg(f32(F.sum(f32(F.col("wa") * F.col("wb")))).alias("g"))
        .where(F.col("g") != 0)
    )
    norms = F.broadcast(squares)
    sim = (
        gram.join(
            norms.select(F.col("item_idx").alias("a"), F.pow("sq", config.alpha).alias("nl")),
            "a",
        )
        .join(
            norms.select(F.col("item_idx").alias("b"), F.pow("sq", 1.0 - config.alpha).alias("nr")),
            "b",
        )
        .select(
            "a",
            "b",
            f32(
                F.col("g") / (F.col("nl") * F.col("nr") + F.lit(config.shrink) + F.lit(1e-9))
            ).alias("s"),
        )
    )
    top = _top_k(sim, "a", "b", "s", config.k)
    # W[i, j]: weight from history item i to candidate j; neighbours of j live in row j of sim.
    weights = _matrix(top, "b", "a", "s", (n_items, n_items))
    x.unpersist()
    return {}, sparse_arrays("weights", weights)


def cobuy(events: DataFrame, n_items: int, *, min_customers: int = 2, top_k: int = 100) -> Any:
    """Items x items: distinct customers who bought both in one order, top-k per item."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    lines = (
        events.where((F.col("event_type") == "purchase") & F.col("order_id").isNotNull())
        .select("customer_idx", "order_id", "item_idx")
        .distinct()
    )
    line = Window.partitionBy("order_id").orderBy("item_idx", "customer_idx")
    lines = lines.withColumn("_line", F.row_number().over(line)).where(
        F.col("_line") <= MAX_LINES_PER_ORDER
    )
    left = lines.select("customer_idx", "order_id", F.col("item_idx").alias("a"))
    right = lines.select("order_id", F.col("item_idx").alias("b"))
    pairs = (
        left.join(right, "order_id")
        .where(F.col("a") != F.col("b"))
        .select("customer_idx", "a", "b")
        .distinct()
        .groupBy("a", "b")
        .agg(F.count(F.lit(1)).cast("double").alias("n"))
        .where(F.col("n") >= min_customers)
    )
    return _matrix(_top_k(pairs, "a", "b", "n", top_k), "a", "b", "n", (n_items, n_items))


def als(
    spark: SparkSession,
    folder: Path,
    events: DataFrame,
    config: ALSConfig,
    now: int,
    n_customers: int,
    n_items: int,
) -> State:
    """Item factors of implicit ALS from Spark MLlib, and the BM25 statistics the model
    weighs every history with at query time.

    Spark scales the L2 penalty of each item's solve by its number of interactions (ALS-WR);
    the single-machine library does not. The trainer passes ``regularization`` divided by the
    mean interactions per item, so the average item is penalised as on one machine.
    """
    from pyspark.ml.recommendation import ALS as SparkALS
    from pyspark.sql import functions as F

    x = weighted(events, config.interactions, now)
    idf, avg, idf_table = _bm25_table(spark, folder, x, n_customers, n_items, "als_idf")
    if config.bm25:
        x = bm25_weighted(x, idf_table, avg)
    x = x.where(F.col("strength") > 0).cache()
    counts = x.agg(F.count(F.lit(1)), F.countDistinct("item_idx")).first()
    assert counts is not None
    per_item = float(counts[0]) / max(float(counts[1]), 1.0)
    factors = np.zeros((n_items, config.factors), dtype=np.float32)
    blocks = max(2, spark.sparkContext.defaultParallelism)
    if counts[0]:
        model = SparkALS(
            rank=config.factors,
            maxIter=config.iterations,
            regParam=config.regularization / max(per_item, 1.0),
            alpha=config.alpha,
            implicitPrefs=True,
            seed=config.seed,
            numUserBlocks=blocks,
            numItemBlocks=blocks,
            userCol="customer_idx",
            itemCol="item_idx",
            ratingCol="strength",
        ).fit(x)
        table = model.itemFactors.toArrow()
        ids = table.column("id").to_numpy()
        vectors = table.column("features").to_pylist()
        factors[ids] = np.asarray(vectors, dtype=np.float32)
    x.unpersist()
    return {"bm25_avg": avg}, {"item_factors": factors, "bm25_idf": idf}


def item_stats(events: DataFrame, n_items: int, as_of_ms: int, recent_days: float) -> np.ndarray:
    """Per-item (popularity, recent, last_week, trend, repeat_rate) as
    :func:`storewise.recommend.repeat_ranker.item_stats` computes them."""
    from pyspark.sql import functions as F

    buys = events.where((F.col("event_type") == "purchase") & (F.col("ts") <= as_of_ms))
    per_pair = buys.groupBy("customer_idx", "item_idx").agg(
        F.countDistinct(order_key()).alias("orders"), F.max("ts").alias("last")
    )
    recent_from = as_of_ms - int(recent_days * DAY_MS)
    week_from = as_of_ms - 7 * DAY_MS

    def count(condition: Any) -> Any:
        return F.sum(F.when(condition, 1).otherwise(0))

    table = (
        per_pair.groupBy("item_idx")
        .agg(
            F.count(F.lit(1)).alias("buyers"),
            count(F.col("last") >= recent_from).alias("recent"),
            count(F.col("last") >= week_from).alias("week"),
            count(F.col("orders") >= 2).alias("repeaters"),
        )
        .toArrow()
    )
    idx = table.column("item_idx").to_numpy()
    columns = {}
    for name in ("buyers", "recent", "week", "repeaters"):
        values = np.zeros(n_items)
        values[idx] = table.column(name).to_numpy()
        columns[name] = values
    buyers, recent, week, repeaters = (
        columns[n] for n in ("buyers", "recent", "week", "repeaters")
    )
    base = repeaters.sum() / max(buyers.sum(), 1.0)
    stats = np.column_stack(
        [
            np.log1p(buyers),
            np.log1p(recent),
            np.log1p(week),
            (recent + 1.0) / (buyers + 5.0),
            (repeaters + 2.0 * base) / (buyers + 2.0),
        ]
    )
    return stats.astype(np.float32)


def _ranker(
    spark: SparkSession,
    folder: Path,
    events: DataFrame,
    n_items: int,
    as_of_ms: int,
    config: RepurchaseConfig,
) -> dict[str, np.ndarray]:
    """The repeat ranker's arrays (:class:`~storewise.recommend.repeat_ranker.RepeatRanker`),
    learned by Spark's logistic regression on the single-machine features; empty when the
    data is too thin (as :func:`~storewise.recommend.repeat_ranker.learn` returns None)."""
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import functions as F

    cutoff = as_of_ms - int(config.horizon_days * DAY_MS)
    before = events.where(F.col("ts") < cutoff)
    after = events.where((F.col("ts") >= cutoff) & (F.col("event_type") == "purchase"))
    later = after.select("customer_idx", "item_idx").distinct().withColumn("label", F.lit(1.0))
    if later.limit(1).count() == 0 or before.limit(1).count() == 0:
        return {}
    stats = item_stats(before, n_items, cutoff - 1, config.recent_days)
    stat_names = FEATURES[4:]
    stat_table = _table(
        spark,
        folder,
        "ranker_stats",
        {
            "item_idx": np.arange(n_items, dtype=np.int32),
            **{name: stats[:, n].astype(np.float64) for n, name in enumerate(stat_names)},
        },
    )
    wanted = later.select("customer_idx").distinct()
    lines = (
        before.where(F.col("event_type") == "purchase")
        .join(wanted, "customer_idx", "left_semi")
        .withColumn("_o", order_key())
    )
    per_item = lines.groupBy("customer_idx", "item_idx").agg(
        F.countDistinct("_o").alias("count"), F.max("ts").alias("last"), F.min("ts").alias("first")
    )
    per_customer = lines.groupBy("customer_idx").agg(
        F.max("ts").alias("ref"), F.countDistinct("_o").alias("n_orders")
    )
    day = F.lit(float(DAY_MS))
    own = {
        "orders": F.log1p(F.col("count")),
        "share": F.col("count") / F.greatest(F.col("n_orders"), F.lit(1)),
        "age": F.log1p((F.col("ref") - F.col("last")) / day),
        "first": F.log1p((F.col("ref") - F.col("first")) / day),
    }
    rows = (
        per_item.join(per_customer, "customer_idx")
        .join(F.broadcast(stat_table), "item_idx")
        .join(later, ["customer_idx", "item_idx"], "left")
        .select(
            *(f32(expr).alias(name) for name, expr in own.items()),
            *(f32(F.col(name)).alias(name) for name in stat_names),
            F.coalesce(F.col("label"), F.lit(0.0)).alias("label"),
        )
        .cache()
    )
    summary = rows.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum("label").alias("positives"),
        *(F.mean(c).alias(f"mean_{c}") for c in FEATURES),
        *(F.stddev_pop(c).alias(f"std_{c}") for c in FEATURES),
    ).first()
    assert summary is not None
    n, positives = int(summary["n"]), float(summary["positives"] or 0.0)
    if n == 0 or positives < MIN_POSITIVES or positives == n:
        rows.unpersist()
        return {}
    mean = np.asarray([summary[f"mean_{c}"] for c in FEATURES], dtype=np.float64)
    scale = np.asarray([summary[f"std_{c}"] or 0.0 for c in FEATURES], dtype=np.float64)
    scale[scale < 1e-9] = 1.0
    standard = rows.select(
        *(
            ((F.col(c) - F.lit(float(m))) / F.lit(float(s))).alias(c)
            for c, m, s in zip(FEATURES, mean, scale, strict=True)
        ),
        "label",
    )
    assembled = (
        VectorAssembler(inputCols=list(FEATURES), outputCol="features")
        .transform(standard)
        .select("features", "label")
        .cache()
    )
    # scikit-learn's C = 1 on a summed loss is Spark's mean loss with regParam 1 / n.
    fitted = LogisticRegression(
        regParam=1.0 / n,
        elasticNetParam=0.0,
        standardization=False,
        maxIter=100,
        tol=1e-6,
    ).fit(assembled)
    assembled.unpersist()
    rows.unpersist()
    return {
        "ranker.mean": mean,
        "ranker.scale": scale,
        "ranker.coef": np.asarray(fitted.coefficients.toArray(), dtype=np.float64),
        "ranker.intercept": np.asarray([float(fitted.intercept)]),
    }


def repurchase(
    spark: SparkSession,
    folder: Path,
    events: DataFrame,
    config: RepurchaseConfig,
    now: int,
    n_customers: int,
    n_items: int,
) -> State:
    """Repurchase rates, cycles, row-normalised habit vectors, item statistics, ranker."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    orders_only = InteractionConfig(
        weights={"purchase": 1.0}, unit="order", half_life_days=None, transform="raw"
    )
    counts = weighted(events, orders_only, now)
    per_item = counts.groupBy("item_idx").agg(
        F.count(F.lit(1)).alias("buyers"),
        F.sum(F.when(F.col("strength") >= 2, 1).otherwise(0)).alias("repeaters"),
    )
    buyers = to_numpy(per_item, "item_idx", "buyers", n_items, np.float64)
    repeaters = to_numpy(per_item, "item_idx", "repeaters", n_items, np.float64)
    base_rate = repeaters.sum() / max(buyers.sum(), 1.0)
    propensity = ((repeaters + config.prior * base_rate) / (buyers + config.prior)).astype(
        np.float32
    )
    orders = (
        events.where(F.col("event_type") == "purchase")
        .groupBy("customer_idx", "item_idx", order_key().alias("_o"))
        .agg(F.min("ts").alias("ts"))
    )
    previous = F.lag("ts").over(Window.partitionBy("customer_idx", "item_idx").orderBy("ts"))
    gaps = orders.withColumn("gap", (F.col("ts") - previous) / F.lit(float(DAY_MS))).where(
        F.col("gap") > 0.5
    )
    medians = (
        gaps.groupBy("item_idx")
        .agg(F.percentile("gap", 0.5).alias("gap"), F.count(F.lit(1)).alias("n"))
        .where(F.col("n") >= 3)
        .toArrow()
    )
    cycles = np.full(n_items, np.nan, dtype=np.float32)
    cycles[medians.column("item_idx").to_numpy()] = medians.column("gap").to_numpy()
    x = weighted(events, config.interactions, now)
    squares = F.sum(f32(F.col("strength") * F.col("strength"))).over(
        Window.partitionBy("customer_idx")
    )
    inverse = F.when(F.col("_n") == 0, F.lit(1.0)).otherwise(f32(F.lit(1.0) / F.col("_n")))
    habits = x.withColumn("_n", f32(F.sqrt(f32(squares)))).select(
        "customer_idx", "item_idx", f32(F.col("strength") * inverse).alias("h")
    )
    habit_matrix = _matrix(habits, "customer_idx", "item_idx", "h", (n_customers, n_items))
    arrays: dict[str, np.ndarray] = {
        "propensity": propensity,
        "cycle_days": cycles,
        "item_stats": item_stats(events, n_items, now, config.recent_days),
    }
    if config.learn_own:
        arrays.update(_ranker(spark, folder, events, n_items, now, config))
    return {}, {**arrays, **sparse_arrays("habits", habit_matrix)}
