"""The dataset loader: download through real HTTP into a cache, local override, offline error."""

from __future__ import annotations

import gzip
import io
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest

from storewise.datasets.fetch import REGISTRY, fetch, movielens_items_path
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


U_DATA = "196\t242\t3\t881250949\n186\t302\t5\t891717742\n"
INTER = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n" + U_DATA


def _zip(name: str, text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, text)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("filename", "payload"),
    [
        ("u.data", U_DATA.encode()),
        ("ml-100k.zip", _zip("ml-100k/u.data", U_DATA)),
        ("recbole.whl", _zip("recbole/dataset_example/ml-100k/ml-100k.inter", INTER)),
    ],
)
def test_movielens_becomes_rating_events(tmp_path: Path, filename: str, payload: bytes) -> None:
    local = tmp_path / filename
    local.write_bytes(payload)
    path = fetch("movielens-100k", tmp_path / "cache", from_path=local)
    frame = pl.read_csv(gzip.decompress(path.read_bytes()), infer_schema=False)
    assert frame.rows() == [
        ("196", "242", "rating", "3.0", "1997-12-04 15:55:49"),
        ("186", "302", "rating", "5.0", "1998-04-04 19:22:22"),
    ]


def test_movielens_films_become_a_catalog(tmp_path: Path) -> None:
    flags = ["0"] * 19
    flags[1], flags[5] = "1", "1"  # Action, Comedy
    u_item = "242|Kolya (1996)|24-Jan-1997||http://x|" + "|".join(flags) + "\n"
    local = tmp_path / "ml-100k.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ml-100k/u.data", U_DATA)
        archive.writestr("ml-100k/u.item", u_item.encode("latin-1"))
    local.write_bytes(buffer.getvalue())
    events = fetch("movielens-100k", tmp_path / "a", from_path=local)
    films = pl.read_csv(gzip.decompress(movielens_items_path(events).read_bytes()))
    assert films.rows() == [(242, "Kolya (1996)", "Action", "Action Comedy 1997")]
    header = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
    wheel = tmp_path / "recbole.whl"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("recbole/dataset_example/ml-100k/ml-100k.inter", INTER)
        archive.writestr(
            "recbole/dataset_example/ml-100k/ml-100k.item",
            (header + "543\tMisérables, Les\t1995\tDrama Musical\n").encode("utf-8"),
        )
    wheel.write_bytes(buffer.getvalue())
    events = fetch("movielens-100k", tmp_path / "b", from_path=wheel)
    films = pl.read_csv(gzip.decompress(movielens_items_path(events).read_bytes()))
    assert films.rows() == [(543, "Misérables, Les", "Drama", "Drama Musical 1995")]


def test_movielens_bad_files_and_checksum(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = tmp_path / "u.data"
    wrong.write_text("not\ta rating file\n")
    with pytest.raises(InputError, match="not MovieLens 100K ratings"):
        fetch("movielens-100k", tmp_path / "c1", from_path=wrong)
    empty = tmp_path / "empty.zip"
    empty.write_bytes(_zip("readme.txt", "nothing"))
    with pytest.raises(InputError, match=r"no ml-100k\.inter or u\.data"):
        fetch("movielens-100k", tmp_path / "c2", from_path=empty)
    # a download whose checksum differs from the registry's is refused and not kept
    source = replace(REGISTRY["movielens-100k"], url=f"{server}/online+retail.zip")
    monkeypatch.setitem(REGISTRY, "movielens-100k", source)
    with pytest.raises(InputError, match="SHA-256"):
        fetch("movielens-100k", tmp_path / "c3")
    assert not any((tmp_path / "c3" / "movielens-100k").iterdir())


def _noise(size: int = 3000) -> bytes:
    return bytes((i * 7919 + 13) % 256 for i in range(size))


def _corrupt_zip(name: str, text: str) -> bytes:
    """A zip whose member's compressed bytes are damaged (the directory still reads)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, text * 50)
    data = bytearray(buffer.getvalue())
    data[40:80] = b"\xff" * 40
    return bytes(data)


NOT_RETAIL = {
    "noise.xlsx": _noise(),
    "noise.zip": _noise(),
    "page.csv": b"<!doctype html><html><body>Not found</body></html>\n",
    "movies.csv": b"userId,movieId,rating\n1,2,3.5\n",
    "binary.csv": _noise(),
    "cut.csv.gz": gzip.compress(CSV.encode() * 20)[:60],
    "header.csv": CSV.splitlines()[0].encode() + b"\n",
    "notes.txt": b"InvoiceNo is a column\n",
    "damaged.zip": _corrupt_zip("Online Retail.csv", CSV),
}


@pytest.mark.parametrize("name", sorted(NOT_RETAIL))
def test_a_file_that_is_not_online_retail_is_named(tmp_path: Path, name: str) -> None:
    cache = tmp_path / "cache"
    good = tmp_path / "good.csv"
    good.write_text(CSV)
    cached = fetch("online-retail", cache, from_path=good)
    before = cached.read_bytes()
    local = tmp_path / name
    local.write_bytes(NOT_RETAIL[name])
    with pytest.raises(InputError) as info:
        fetch("online-retail", cache, from_path=local)
    message = info.value.message
    assert str(local) in message
    assert "Online Retail" in message
    assert "\x00" not in message
    assert cached.read_bytes() == before  # the good copy still serves
    assert sorted(p.name for p in cached.parent.iterdir()) == [
        "manifest.json",
        "online_retail.csv.gz",
    ]


def test_fetch_from_a_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a folder"):
        fetch("online-retail", tmp_path / "cache", from_path=tmp_path)


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("noise.zip", _noise()),
        ("u.data", _noise()),
        ("damaged.zip", _corrupt_zip("ml-100k/u.data", U_DATA)),
        ("films.zip", _zip("ml-100k/u.data", U_DATA)[:-30]),
    ],
)
def test_a_file_that_is_not_movielens_is_named(tmp_path: Path, name: str, payload: bytes) -> None:
    local = tmp_path / name
    local.write_bytes(payload)
    with pytest.raises(InputError) as info:
        fetch("movielens-100k", tmp_path / "cache", from_path=local)
    assert str(local) in info.value.message and "MovieLens" in info.value.message
