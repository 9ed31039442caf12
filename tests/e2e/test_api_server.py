"""The API end to end through a real uvicorn process (two workers): ingest -> recommend ->
identify -> erase, metrics over both workers, and hot reload under load with no failures."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from storewise.recommend.training import train
from storewise.store import open_store
from tests.api.shop import Shop, build_shop


@dataclass
class Server:
    """A running ``storewise serve`` and the shop it serves."""

    url: str
    shop: Shop
    process: subprocess.Popen[bytes]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``python -m storewise.cli.main serve --workers 2`` over a trained shop."""
    root = tmp_path_factory.mktemp("e2e")
    shop = build_shop(root / "home", model="itemknn")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOREWISE_")}
    log = (root / "server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "storewise.cli.main",
            "--home",
            str(shop.home),
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (root / "server.log").read_text()
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.2)
        yield Server(url, shop, process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_ingest_recommend_identify_erase(server: Server) -> None:
    """The whole customer journey over HTTP, each step visible in the very next answer."""
    shop = server.shop
    with httpx.Client(base_url=server.url, headers=shop.headers("admin"), timeout=10) as api:
        assert httpx.get(f"{server.url}/v1/trending").status_code == 401
        path = "/v1/customers/e2e-1/recommendations?n=5"
        cold = api.get(path).json()
        assert cold["policy"].startswith("cold-start") and len(cold["items"]) == 5
        bought = cold["items"][0]["item_id"]
        events = [
            {
                "event_id": "e2e-a",
                "event_type": "purchase",
                "anonymous_id": "e2e-anon",
                "item_id": bought,
                "price": 4.0,
            },
            {
                "event_id": "e2e-a",
                "event_type": "purchase",
                "anonymous_id": "e2e-anon",
                "item_id": bought,
                "price": 4.0,
            },
        ]
        report = api.post("/v1/events", json=events).json()
        assert (report["stored"], report["duplicates"]) == (1, 1)
        guest = api.get("/v1/sessions/e2e-anon/recommendations?n=5").json()
        assert guest["policy"].startswith("session") and bought not in {
            i["item_id"] for i in guest["items"]
        }
        linked = api.post("/v1/identify", json={"anonymous_id": "e2e-anon", "customer_id": "e2e-1"})
        assert linked.json()["events_linked"] == 1
        # Both workers answer in turn: every answer after the login must reflect it.
        for _ in range(4):
            personal = api.get(path).json()
            assert personal["policy"] == "personalised"
            assert bought not in {i["item_id"] for i in personal["items"]}
            again = api.get(path + "&scenario=buy-again").json()
            assert [i["item_id"] for i in again["items"]] == [bought]
            for item in personal["items"]:
                assert {"item_id", "score", "rank", "reasons"} <= set(item) and item["reasons"]
        export = api.get("/v1/customers/e2e-1/export").json()
        assert export["anonymous_ids"][0]["anonymous_id"] == "e2e-anon"
        erased = api.delete("/v1/customers/e2e-1").json()
        assert erased["removed"]["events"] == 1 and erased["removed"]["anonymous_ids"] == 1
        assert api.get("/v1/customers/e2e-1/export").status_code == 404
        for _ in range(4):
            assert api.get(path).json()["policy"].startswith("cold-start")


def test_metrics_add_up_both_workers(server: Server) -> None:
    """/metrics answers for the server as a whole once both workers have written figures."""
    with httpx.Client(base_url=server.url, timeout=10) as api:
        for _ in range(20):
            api.get("/health")
        deadline = time.monotonic() + 10
        text = ""
        while time.monotonic() < deadline:
            text = api.get("/metrics").text
            if "storewise_api_workers 2" in text:
                break
            time.sleep(0.5)
        assert "storewise_api_workers 2" in text
        assert 'route="/health"' in text and "storewise_model_info{version=" in text


def test_hot_reload_under_load_fails_no_request(server: Server) -> None:
    """While a client hammers the server, a new bundle is trained and published; every
    request succeeds and the answers switch to the new version without a restart."""
    shop = server.shop
    customers = shop.customers[:20]
    statuses: Counter[int] = Counter()
    versions: Counter[str] = Counter()
    errors: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=server.url, headers=shop.headers("read"), timeout=30) as api:
            i = 0
            while not stop.is_set():
                try:
                    response = api.get(f"/v1/customers/{customers[i % 20]}/recommendations")
                    statuses[response.status_code] += 1
                    if response.status_code == 200:
                        versions[response.json()["model_version"]] += 1
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                i += 1

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        store = open_store(shop.settings())
        try:
            new = train(store, shop.home / "models", model="itemknn").version
        finally:
            store.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and versions[new] < 10:
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not errors, errors[:5]
    assert set(statuses) == {200}, statuses
    assert versions[new] >= 10 and len(versions) >= 2, versions
    assert sum(statuses.values()) > 50


def test_serve_log_has_no_customer_ids(server: Server) -> None:
    """The server's log never names a customer (no raw paths in it)."""
    text = (server.shop.home.parent / "server.log").read_text()
    assert "serving model bundle" in text
    assert "e2e-1" not in text and "/v1/customers/" not in text
