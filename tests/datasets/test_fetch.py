"""The dataset loader: download through real HTTP into a cache, local override, offline error."""

from __future__ import annotations

import gzip
import io
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest

from storewise.datasets.fetch import fetch
from storewise.errors import InputError, NotFound

CSV = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "www"
    root.mkdir()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("Online Retail.csv", CSV)
    (root / "online+retail.zip").write_bytes(buffer.getvalue())
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_download_converts_and_caches(server: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = fetch("online-retail", cache, url=f"{server}/online+retail.zip")
    assert path == cache / "online-retail" / "online_retail.csv.gz"
    frame = pl.read_csv(gzip.decompress(path.read_bytes()), infer_schema=False)
    assert frame["StockCode"].to_list() == ["85123A"]
    assert (cache / "online-retail" / "manifest.json").exists()
    # cached: no network needed the second time
    assert fetch("online-retail", cache, url="http://127.0.0.1:9/unreachable") == path


def test_local_copy_and_errors(tmp_path: Path) -> None:
    local = tmp_path / "mine.csv.gz"
    local.write_bytes(gzip.compress(CSV.encode()))
    path = fetch("online-retail", tmp_path / "cache", from_path=local)
    assert path.exists()
    with pytest.raises(InputError, match="offline"):
        fetch("online-retail", tmp_path / "c2", url="http://127.0.0.1:9/none.zip", timeout=2)
    with pytest.raises(NotFound, match="unknown dataset"):
        fetch("imagenet", tmp_path)
    wrong = tmp_path / "wrong.csv.gz"
    wrong.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    with pytest.raises(InputError, match="not the Online Retail file"):
        fetch("online-retail", tmp_path / "c3", from_path=wrong)
