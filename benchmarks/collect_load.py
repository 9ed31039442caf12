"""Browser collection load benchmark: ``POST /v1/collect`` on ``storewise serve``, driven by
wrk from a separate process on the same machine, and the size of ``storewise.js``.

Each request is what the snippet sends: a ``text/plain`` JSON batch of ``--batch`` events
(views and add-to-carts with fresh client event ids, GA4 names) of one anonymous visitor, the
publishable key in the body, an ordinary browser's user agent and, in ``X-Forwarded-For``, one
of 50,000 visitor addresses (uvicorn takes it from a proxy on 127.0.0.1, as behind a real
reverse proxy; the per-address limit would otherwise see one client). Measured:

- saturation: events/s and latency at ``--connections`` (closed loop);
- paced: latency with each connection pausing ``--delay-ms`` between requests (about 3,000
  events/s in batches of 20 at 8 connections), the load the target is stated for;
- afterwards, that every answered event was stored (counted in the store);
- in process, before the server starts: the milliseconds of ``Collect.accept`` per batch,
  and of its two largest parts, the ingest rules (``check_records``) and the store write.

Usage (needs ``wrk``: ``apt-get install -y wrk``)::

    python -m benchmarks.collect_load --home DIR [--workers 2] [--seconds 20] [--batch 20]

A ``DIR`` without a store gets the synthetic shop's catalog and events first (400 items,
2,000 customers' year of events). Results are printed as JSON; nothing is written to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.api_load import CLI, free_port, lua_list, run_wrk

ORIGIN = "https://shop.example"
USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)

COLLECT_LUA = """
local items = {%(items)s}
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain;charset=UTF-8"
wrk.headers["User-Agent"] = "%(agent)s"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  math.randomseed(os.time() + tid * 7919)
end
local n = 0
local types = {"view_item", "view_item", "view_item", "add_to_cart"}
request = function()
  n = n + 1
  local visitor = string.format("bench-%(run)s-%%d-%%d", tid, math.random(1, 20000))
  local rows = {}
  for i = 1, %(batch)d do
    rows[i] = string.format(
      '{"type":"%%s","event_id":"%(run)s-%%d-%%d-%%d","item_id":"%%s","ts":%%d}',
      types[math.random(#types)], tid, n, i, items[math.random(#items)], 1700000000000 + i)
  end
  wrk.headers["X-Forwarded-For"] = string.format("10.%%d.%%d.%%d",
    math.random(0, 3), math.random(0, 255), math.random(1, 50))
  local body = string.format(
    '{"key":"%(key)s","anonymous_id":"%%s","sent_at":%%d,"events":[%%s]}',
    visitor, 1700000000000 + %(batch)d, table.concat(rows, ","))
  return wrk.format(nil, "/v1/collect", nil, body)
end
%(delay)s
"""

DELAY_LUA = """
function delay()
  return %d
end
"""


def prepare(home: Path) -> None:
    """The synthetic shop, unless ``home`` already has a catalog."""
    if (home / "storewise.db").exists():
        return
    folder = Path(tempfile.mkdtemp(prefix="sw-collect-shop-"))
    subprocess.run(
        [*CLI, "datasets", "synth", "--out", str(folder)], check=True, stdout=subprocess.DEVNULL
    )
    for kind in ("items", "events"):  # customer profiles are not needed (nor their key)
        files = sorted(folder.glob(f"{kind}*.csv*"))
        subprocess.run(
            [*CLI, "--home", str(home), "ingest", kind, *map(str, files), "-q"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    shutil.rmtree(folder)


def collect_key(home: Path) -> str:
    """A fresh publishable key for this run."""
    out = subprocess.run(
        [*CLI, "--home", str(home), "keys", "create", "--scope", "collect", "--origin", ORIGIN,
         "--name", "collect bench"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return out.strip().splitlines()[-1]


def catalog(home: Path) -> list[str]:
    from storewise.app import Settings, build

    with build(Settings(home=home)) as services:
        return [p["item_id"] for p in services.collect.products(limit=10_000)]


def stored_events(home: Path) -> int:
    """Events in the store (the write cost grows with the indexes)."""
    from storewise.app import Settings, build

    with build(Settings(home=home)) as services:
        return int(services.insights.stats()["events"]["total"])


def web_events(home: Path, run: str) -> int:
    """Events of this run in the store (their ids start with ``web:RUN-``)."""
    from storewise.app import Settings, build

    with build(Settings(home=home)) as services:
        events = services.store.events()
    return int(events["event_id"].str.starts_with(f"web:{run}-").sum())


def in_process(home: Path, items: list[str], batch: int, batches: int = 300) -> dict[str, float]:
    """Milliseconds per batch of ``Collect.accept`` (no HTTP), of the ingest rules and of the
    store write, median of ``batches`` fresh batches after a warm-up."""
    import random
    import statistics

    from storewise.app import Settings, build
    from storewise.collect.rows import sort_rows
    from storewise.ingest.records import check_records

    rng = random.Random(7)

    def body(n: int) -> bytes:
        rows = [
            {"type": rng.choice(["view_item", "add_to_cart"]), "event_id": f"inproc-{n}-{i}",
             "item_id": rng.choice(items), "ts": 1_700_000_000_000 + i}
            for i in range(batch)
        ]  # fmt: skip
        visitor = f"bench-inproc-{n % 500:05d}-{int(time.time())}"
        return json.dumps({"anonymous_id": visitor, "sent_at": 1_700_000_000_000 + batch,
                           "events": rows}).encode()  # fmt: skip

    timings: dict[str, list[float]] = {"accept": [], "rules": [], "write": []}
    with build(Settings(home=home)) as services:
        collect = services.collect
        for n in range(50):
            collect.accept(collect.read(body(n)), user_agent=USER_AGENT, key_id="bench")
        for n in range(50, 50 + batches):
            started = time.perf_counter()
            collect.accept(collect.read(body(n)), user_agent=USER_AGENT, key_id="bench")
            timings["accept"].append(time.perf_counter() - started)
        for n in range(50 + batches, 50 + 2 * batches):
            sorted_rows = sort_rows(collect.read(body(n)), now_ms=int(time.time() * 1000))
            records = [e for _, e in sorted_rows.events]
            started = time.perf_counter()
            checked = check_records("events", records, source="web")
            middle = time.perf_counter()
            with services.store.writer() as writer:
                checked.write(writer)
            timings["rules"].append(middle - started)
            timings["write"].append(time.perf_counter() - middle)
    return {name: round(statistics.median(v) * 1000, 2) for name, v in timings.items()}


def snippet_size() -> dict[str, int]:
    """storewise.js in bytes, plain and gzip -9 (as served)."""
    from storewise.app import Collect

    snippet = Collect.snippet()
    return {
        "bytes": len(snippet.body),
        "gzip_bytes": len(snippet.gzipped),
        "gzip_default_bytes": len(gzip.compress(snippet.body)),
    }


def main() -> None:
    """Run the benchmark and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="storewise home (made if new)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=20, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--batch", type=int, default=20, help="events per request")
    parser.add_argument(
        "--delay-ms", type=int, default=35, help="pause per connection in the paced run"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk: apt-get install -y wrk")
    home = args.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    prepare(home)
    key = collect_key(home)
    items = catalog(home)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="sw-collect-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOREWISE_")}
    log = (work / "server.log").open("wb")
    server = subprocess.Popen(
        [*CLI, "--home", str(home), "serve", "--port", str(port), "--workers", str(args.workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    run = f"b{int(time.time())}"
    results: dict[str, Any] = {
        "workers": args.workers,
        "batch": args.batch,
        "items": len(items),
        "events_in_store_before": stored_events(home),
        "in_process_ms_per_batch": in_process(home, items, args.batch),
        "snippet": snippet_size(),
        "load_before": os.getloadavg(),
    }
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit((work / "server.log").read_text())
            time.sleep(0.5)
        scripts = {}
        for name, tag, delay in (
            ("warm", f"{run}w", ""),
            ("saturation", f"{run}s", ""),
            ("paced", f"{run}p", DELAY_LUA % args.delay_ms),
        ):
            path = work / f"{name}.lua"
            path.write_text(
                COLLECT_LUA
                % {
                    "items": lua_list(items),
                    "agent": USER_AGENT,
                    "key": key,
                    "run": tag,
                    "batch": args.batch,
                    "delay": delay,
                }
            )
            scripts[name] = path
        run_wrk(url + "/", args.connections, 5, scripts["warm"])
        for name in ("saturation", "paced"):
            figures = run_wrk(url + "/", args.connections, args.seconds, scripts[name])
            figures["events_per_s"] = round(figures["req_per_s"] * args.batch, 1)
            results[name] = figures
        results["load_after"] = os.getloadavg()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    for name, tag in (("saturation", f"{run}s"), ("paced", f"{run}p")):
        sent = results[name]["requests"] * args.batch
        results[name]["events_stored"] = web_events(home, tag)
        results[name]["events_answered"] = sent
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
