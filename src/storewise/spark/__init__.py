"""The distributed trainer: the models that scale, trained in Apache Spark, published as the
same model bundle ``storewise serve`` loads (extra ``spark``: ``pip install 'storewise[spark]'``).

Nothing here imports pyspark at import time: the CLI starts without it, and a missing extra is
reported by :func:`storewise.spark.session.require_pyspark` with the extra to install.
"""

from __future__ import annotations

from storewise.spark.trainer import SPARK_MODELS, SparkTrained, train

__all__ = ["SPARK_MODELS", "SparkTrained", "train"]
