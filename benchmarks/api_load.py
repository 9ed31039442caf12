"""HTTP API load benchmark: the Online Retail model served by ``storewise serve``, driven by
wrk from a separate process on the same machine.

Measures, against one server with ``--workers`` uvicorn workers:

- ``GET /v1/customers/{id}/recommendations`` for random known customers: req/s at 32
  connections (saturation) and p99 at 8 connections, and the same for bare ``/health``;
- ``POST /v1/events``: single-event p99 at 8 connections, and events/s in batches of 100;
- worker memory (RSS) over a soak of ``--soak`` seconds of recommendation traffic.

Usage (needs ``wrk``: ``apt-get install -y wrk``)::

    python -m benchmarks.api_load --home DIR [--prepare] [--workers 2] [--seconds 20] [--soak 120]
        [--only all|recs|events]

``--prepare`` ingests ``../shared/datasets/online-retail/online_retail.csv.gz`` with the
``online-retail`` preset and trains (``storewise train --budget 60``) when DIR has no model.
Results are printed as JSON; nothing is written to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets" / "online-retail" / "online_retail.csv.gz"
CLI = [sys.executable, "-m", "storewise.cli.main"]

RECS_LUA = """
local ids = {%(ids)s}
wrk.headers["Authorization"] = "Bearer %(key)s"
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
function init(args)
  math.randomseed(os.time() + seed * 7919)
end
request = function()
  local id = ids[math.random(#ids)]
  return wrk.format("GET", "/v1/customers/" .. id .. "/recommendations?n=10")
end
"""

EVENTS_LUA = """
local ids = {%(ids)s}
local items = {%(items)s}
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer %(key)s"
wrk.headers["Content-Type"] = "application/json"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
local function event()
  n = n + 1
  return string.format(
    '{"event_id":"bench-%(run)s-%%d-%%d","event_type":"view","customer_id":"%%s","item_id":"%%s"}',
    tid, n, ids[math.random(#ids)], items[math.random(#items)])
end
request = function()
  local size = %(batch)d
  if size == 1 then
    return wrk.format(nil, "/v1/events", nil, event())
  end
  local parts = {}
  for i = 1, size do parts[i] = event() end
  return wrk.format(nil, "/v1/events", nil, "[" .. table.concat(parts, ",") .. "]")
end
"""


def _ms(text: str) -> float:
    """A wrk duration ("812.00us", "3.21ms", "1.02s") in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"unexpected wrk duration {text!r}")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(url: str, connections: int, seconds: int, script: Path | None) -> dict[str, Any]:
    """Run wrk and parse requests/s, latency percentiles and non-2xx answers."""
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    result: dict[str, Any] = {
        "connections": connections,
        "req_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
    }
    for pct in ("50", "90", "99"):
        found = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.MULTILINE)
        if found:
            result[f"p{pct}_ms"] = round(_ms(found.group(1)), 2)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    result["non_2xx"] = int(bad.group(1)) if bad else 0
    result["socket_errors"] = errors.group(1).strip() if errors else ""
    return result


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(home: Path) -> None:
    """Ingest Online Retail and train, unless ``home`` already has a model."""
    if (home / "models" / "CURRENT").exists():
        return
    subprocess.run(
        [
            *CLI,
            "--home",
            str(home),
            "ingest",
            "orders",
            str(DATA),
            "--preset",
            "online-retail",
            "-q",
        ],
        check=True,
    )
    subprocess.run([*CLI, "--home", str(home), "train", "--budget", "60"], check=True)


def bench_key(home: Path) -> str:
    """A fresh read+ingest key for this run."""
    out = subprocess.run(
        [*CLI, "--home", str(home), "keys", "create", "--scope", "read,ingest", "--name", "bench"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.strip().splitlines()[-1]


def known_ids(home: Path) -> tuple[list[str], list[str]]:
    """Customers and items the served model knows."""
    from storewise.recommend import bundle

    served = bundle.load(home / "models")
    customers = [c for c in served.customer_ids.astype(str).tolist() if c]
    return customers, served.item_ids.astype(str).tolist()


def children(pid: int) -> list[int]:
    """Child process ids of ``pid`` (the uvicorn workers)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def lua_list(values: list[str]) -> str:
    """A Lua table body of quoted strings."""
    return ",".join(json.dumps(v) for v in values)


def main() -> None:
    """Run the benchmark and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="storewise home with the model")
    parser.add_argument("--prepare", action="store_true", help="ingest and train if needed")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=20, help="length of each wrk run")
    parser.add_argument("--soak", type=int, default=120, help="seconds of soak (0: skip)")
    parser.add_argument(
        "--only",
        choices=("all", "recs", "events"),
        default="all",
        help="run only the recommendation/health part or only the POST /v1/events part",
    )
    parser.add_argument(
        "--settle",
        type=int,
        default=600,
        help="wait up to this long for every worker to finish answering known customers "
        "ahead of requests (0: measure the cold path right away)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk: apt-get install -y wrk")
    home = args.home.resolve()
    if args.prepare:
        prepare(home)
    key = bench_key(home)
    customers, items = known_ids(home)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="sw-api-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOREWISE_")}
    log = (work / "server.log").open("wb")
    server = subprocess.Popen(
        [*CLI, "--home", str(home), "serve", "--port", str(port), "--workers", str(args.workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    results: dict[str, Any] = {
        "workers": args.workers,
        "customers": len(customers),
        "items": len(items),
        "load_before": os.getloadavg(),
    }
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit((work / "server.log").read_text())
            time.sleep(0.5)
        results["model_version"] = httpx.get(f"{url}/ready").json()["model_version"]
        started = time.monotonic()
        while args.settle and time.monotonic() - started < args.settle:
            server_log = (work / "server.log").read_text()
            if server_log.count("answers ready for") >= args.workers:
                break
            time.sleep(1)
        results["warm_seconds"] = round(time.monotonic() - started, 1)
        recs = work / "recs.lua"
        recs.write_text(RECS_LUA % {"ids": lua_list(customers), "key": key})
        run = str(int(time.time()))
        single, batch, warm = work / "single.lua", work / "batch.lua", work / "warm.lua"
        for path, size, tag in ((single, 1, "1"), (batch, 100, "100"), (warm, 1, "warm")):
            path.write_text(
                EVENTS_LUA
                % {
                    "ids": lua_list(customers[:2000]),
                    "items": lua_list(items[:2000]),
                    "key": key,
                    "run": f"{run}-{tag}",
                    "batch": size,
                }
            )
        seconds = args.seconds
        results["only"] = args.only
        if args.only in ("all", "recs"):
            run_wrk(url + "/", 8, 5, recs)  # warm up: caches, catalog, code paths
            results["recs_32"] = run_wrk(url + "/", 32, seconds, recs)
            results["recs_8"] = run_wrk(url + "/", 8, seconds, recs)
            results["health_32"] = run_wrk(url + "/health", 32, seconds, None)
            results["health_8"] = run_wrk(url + "/health", 8, seconds, None)
            results["ratio_recs_to_health_32"] = round(
                results["recs_32"]["req_per_s"] / results["health_32"]["req_per_s"], 3
            )
        if args.only in ("all", "events"):
            if args.only == "events":
                run_wrk(url + "/", 8, 5, warm)  # warm up the write path (its own event ids)
            results["events_single_8"] = run_wrk(url + "/", 8, seconds, single)
            results["events_batch100_8"] = run_wrk(url + "/", 8, seconds, batch)
            results["events_per_s_batch100"] = round(
                results["events_batch100_8"]["req_per_s"] * 100, 1
            )
        if args.soak:
            workers = children(server.pid)
            before = {pid: round(rss_mb(pid), 1) for pid in workers}
            samples = []
            started = time.monotonic()
            soak = subprocess.Popen(
                ["wrk", "-t2", "-c8", f"-d{args.soak}s", "-s", str(recs), url + "/"],
                stdout=subprocess.DEVNULL,
            )
            while soak.poll() is None:
                time.sleep(10)
                samples.append(
                    (
                        round(time.monotonic() - started),
                        {pid: round(rss_mb(pid), 1) for pid in workers},
                    )
                )
            results["soak"] = {
                "seconds": args.soak,
                "rss_mb_before": before,
                "rss_mb_samples": samples,
            }
        results["load_after"] = os.getloadavg()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
