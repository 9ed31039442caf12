"""Spark test fixtures: a small shop in a home folder, and a Spark standalone cluster (one
master, two workers on 127.0.0.1) started from the scripts in the pyspark wheel."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IN_CI


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "spark: runs Apache Spark (extra `spark`, Java 17)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.spark)


def spark_home() -> Path:
    """The pyspark wheel's folder (it holds bin/, sbin/ and jars/), or skip outside CI."""
    try:
        import pyspark
    except ImportError:
        if IN_CI:
            pytest.fail("CI installs .[all], which must bring pyspark")
        pytest.skip("needs the spark extra (pip install 'storewise[spark]')")
    if shutil.which("java") is None:
        if IN_CI:
            pytest.fail("CI must have Java 17 for the Spark tests")
        pytest.skip("needs Java 17")
    return Path(pyspark.__file__).parent


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Cluster:
    """A running standalone master and its workers."""

    master: str
    web: str
    env: dict[str, str]
    daemon: Path


def _alive_workers(web: str) -> int:
    try:
        with urllib.request.urlopen(f"{web}/json/", timeout=2) as answer:
            return int(json.loads(answer.read())["aliveworkers"])
    except OSError:
        return 0


@pytest.fixture(scope="module")
def standalone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A Spark standalone master with two one-core workers on 127.0.0.1, started with the
    wheel's ``sbin/spark-daemon.sh`` and stopped (by its pid files) after the module."""
    home = spark_home()
    folder = tmp_path_factory.mktemp("spark-cluster")
    env = dict(
        os.environ,
        SPARK_HOME=str(home),
        SPARK_LOCAL_IP="127.0.0.1",
        SPARK_LOG_DIR=str(folder / "logs"),
        SPARK_PID_DIR=str(folder / "pids"),
        SPARK_WORKER_DIR=str(folder / "work"),
        SPARK_IDENT_STRING="storewise-test",
    )
    daemon = home / "sbin" / "spark-daemon.sh"
    port, web_port = free_port(), free_port()
    master = f"spark://127.0.0.1:{port}"
    web = f"http://127.0.0.1:{web_port}"
    started: list[tuple[str, str]] = []
    master_class = "org.apache.spark.deploy.master.Master"
    worker_class = "org.apache.spark.deploy.worker.Worker"

    def run(*args: str) -> None:
        subprocess.run(
            ["bash", str(daemon), *args], env=env, check=True, capture_output=True, timeout=60
        )

    try:
        run("start", master_class, "1", "--host", "127.0.0.1", "--port", str(port),
            "--webui-port", str(web_port))  # fmt: skip
        started.append((master_class, "1"))
        for instance in ("1", "2"):
            run("start", worker_class, instance, "--host", "127.0.0.1", "--cores", "1",
                "--memory", "1g", "--webui-port", str(free_port()), master)  # fmt: skip
            started.append((worker_class, instance))
        deadline = time.monotonic() + 90
        while _alive_workers(web) < 2:
            if time.monotonic() > deadline:
                logs = "\n".join(p.read_text()[-2000:] for p in (folder / "logs").glob("*"))
                raise RuntimeError(f"the Spark workers did not register:\n{logs}")
            time.sleep(0.5)
        yield Cluster(master=master, web=web, env=env, daemon=daemon)
    finally:
        for name, instance in reversed(started):
            subprocess.run(
                ["bash", str(daemon), "stop", name, instance],
                env=env,
                capture_output=True,
                timeout=60,
            )
