"""Starting and stopping the Spark session the trainer runs in, with clear errors for a
missing extra, a missing Java and an unreachable master.

pyspark is imported here lazily, inside functions, so importing :mod:`storewise.spark` never
needs it. Spark's own jars come with the pyspark wheel; nothing is fetched at run time.
"""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storewise.errors import ConfigError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: How the extra is installed, named by every "pyspark is missing" error.
EXTRA_HINT = "pip install 'storewise[spark]'"

#: Seconds to wait for a standalone master's port to answer before giving up.
MASTER_CONNECT_TIMEOUT_S = 5.0

#: Settings every storewise Spark session gets (a shop's `spark_conf` may override them).
DEFAULT_CONF: dict[str, str] = {
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.adaptive.enabled": "true",
}


def require_pyspark() -> None:
    """Raise a ConfigError naming the extra when pyspark is not installed."""
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"the Spark trainer needs the `spark` extra (pyspark): {EXTRA_HINT}"
        ) from exc


def check_master(master: str) -> None:
    """Fail fast and clearly when a ``spark://host:port`` master does not answer (Spark itself
    would retry for a minute and then stop the context with a less helpful message)."""
    if not master.startswith("spark://"):
        if not re.fullmatch(r"local(\[(\*|\d+)(,\d+)?\])?|yarn|k8s://.+", master):
            raise ConfigError(
                f"unknown Spark master {master!r}: use local[N], local[*] or spark://HOST:PORT"
            )
        return
    for address in master[len("spark://") :].split(","):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"Spark master {master!r} is not spark://HOST:PORT")
        try:
            with socket.create_connection((host, int(port)), timeout=MASTER_CONNECT_TIMEOUT_S):
                return
        except OSError:
            continue
    raise ConfigError(f"the Spark master at {master} is unreachable: is it running?")


@contextlib.contextmanager
def spark_session(
    master: str, *, work_dir: Path, conf: Mapping[str, str] | None = None
) -> Iterator[SparkSession]:
    """A SparkSession on ``master`` for one training run, stopped afterwards."""
    require_pyspark()
    check_master(master)
    from pyspark.errors import PySparkRuntimeError
    from pyspark.sql import SparkSession

    scratch = work_dir / "spark-local"
    scratch.mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = {
        **DEFAULT_CONF,
        "spark.local.dir": str(scratch),
        "spark.sql.warehouse.dir": str(work_dir / "warehouse"),
        **(conf or {}),
    }
    builder: Any = SparkSession.builder.master(master).appName("storewise-train")
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session: SparkSession = builder.getOrCreate()
    except PySparkRuntimeError as exc:
        raise ConfigError(
            "Spark could not start its Java gateway: the Spark trainer needs Java 17 or newer "
            "(install a JDK, e.g. `apt-get install openjdk-17-jre-headless`, or set JAVA_HOME)"
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    if "spark.sql.shuffle.partitions" not in (conf or {}):
        # Spark's 200 shuffle partitions cost more in task overhead than they save on a few
        # cores; twice the cores keeps every core busy (adaptive execution merges the rest).
        parallelism = session.sparkContext.defaultParallelism
        session.conf.set("spark.sql.shuffle.partitions", str(max(4, 2 * parallelism)))
    try:
        yield session
    finally:
        session.stop()


def spark_version() -> str:
    """The installed pyspark version (for the bundle's manifest)."""
    require_pyspark()
    import pyspark

    return str(pyspark.__version__)
