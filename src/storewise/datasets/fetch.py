"""Real dataset loaders: download once into a cache folder, or take a local copy (``--from``).

Nothing here runs at serving time; the demo works without any download (synthetic data). A
file that is not the named dataset is an :class:`InputError` saying what was expected; the
cached copy is replaced only once the new one converted (a bad ``--from`` leaves it as it was).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from storewise.errors import InputError, NotFound

if TYPE_CHECKING:
    import polars as pl

#: The columns of the UCI Online Retail export, in order.
RETAIL_COLUMNS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)
RETAIL_EXPECTED = (
    "expected the UCI workbook (Online Retail.xlsx), the zip it comes in, or a CSV (.csv or "
    f".csv.gz) with the columns {', '.join(RETAIL_COLUMNS)}"
)
MOVIELENS_EXPECTED = (
    "expected GroupLens' ml-100k.zip or its u.data, or RecBole's ml-100k.inter or the wheel "
    "carrying it"
)


def _read_errors() -> tuple[type[BaseException], ...]:
    """What the readers raise on a file that is not what they read (no crash, a message)."""
    import polars as pl

    errors: tuple[type[BaseException], ...] = (
        OSError,
        EOFError,
        ValueError,  # UnicodeDecodeError among them
        zlib.error,
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        pl.exceptions.PolarsError,
    )
    try:
        import fastexcel
    except ImportError:
        return errors
    return (*errors, fastexcel.FastExcelError)


def _printable(name: str) -> str:
    """A column name as shown in a message: control characters as ``?``, at most 40 long."""
    return "".join("?" if ord(c) < 32 or 127 <= ord(c) < 160 else c for c in name[:40])


def _brief(exc: BaseException) -> str:
    """The first line of a reader's error, short."""
    lines = str(exc).strip().splitlines()
    return (lines[0][:200] if lines else "") or type(exc).__name__


@dataclass(frozen=True)
class DatasetSource:
    """Where a public dataset lives and how to turn the download into our input file."""

    name: str
    url: str
    filename: str
    description: str
    licence: str
    convert: Callable[[Path, Path], None]
    #: SHA-256 of the download, checked before it is used (None: the source changes over time).
    sha256: str | None = None


def _excel_to_csv_gz(source: Path, target: Path) -> None:
    """Convert the UCI workbook (zip or xlsx) to the gzipped CSV the preset reads."""
    import gzip

    try:
        frame = _retail_frame(source)
    except (InputError, ImportError):
        raise
    except _read_errors() as exc:
        raise InputError(
            f"{source}: not the Online Retail file ({_brief(exc)}); {RETAIL_EXPECTED}"
        ) from exc
    missing = [c for c in RETAIL_COLUMNS if c not in frame.columns]
    if missing:
        shown = ", ".join(_printable(c) for c in frame.columns[:10])
        shown += ", ..." if frame.width > 10 else ""
        raise InputError(
            f"{source}: not the Online Retail file (missing {missing}; its columns: {shown}); "
            f"{RETAIL_EXPECTED}"
        )
    if frame.height == 0:
        raise InputError(f"{source}: the Online Retail file has no rows")
    frame = frame.select(RETAIL_COLUMNS)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".tmp") as tmp:
        tmp.write(gzip.compress(frame.write_csv().encode("utf-8")))
    os.replace(tmp.name, target)


def _retail_frame(source: Path) -> pl.DataFrame:
    """The table in a copy of the UCI export: the workbook, a CSV, or a zip of either."""
    import gzip

    import polars as pl

    data = source.read_bytes()
    if zipfile.is_zipfile(io.BytesIO(data)) and source.suffix.lower() == ".zip":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith((".xlsx", ".csv"))]
            if not names:
                raise InputError(
                    f"{source}: not the Online Retail file (the archive holds no .xlsx or .csv "
                    f"file); {RETAIL_EXPECTED}"
                )
            data = archive.read(names[0])
            inner = names[0].lower()
    else:
        inner = source.name.lower()
    if inner.endswith((".csv", ".csv.gz")):
        raw = gzip.decompress(data) if inner.endswith(".gz") else data
        frame = pl.read_csv(io.BytesIO(raw), infer_schema=False)
    elif not inner.endswith((".xlsx", ".xlsm", ".xls", ".zip")) and not zipfile.is_zipfile(
        io.BytesIO(data)
    ):
        raise InputError(
            f"{source}: not the Online Retail file (not a workbook); {RETAIL_EXPECTED}"
        )
    else:
        try:
            frame = pl.read_excel(io.BytesIO(data), engine="calamine", infer_schema_length=0)
        except ImportError as exc:
            raise InputError(
                "reading the UCI workbook needs fastexcel: pip install 'storewise[datasets]'"
            ) from exc
    return frame


def _movielens_to_csv_gz(source: Path, target: Path) -> None:
    """MovieLens 100K ratings as an events file: one ``rating`` event (1 to 5 stars) each.

    Takes GroupLens' ``ml-100k.zip`` or its ``u.data``, or a wheel or file carrying RecBole's
    copy ``ml-100k.inter`` (the download used here: PyPI is reachable where GroupLens is not).
    """
    try:
        _movielens(source, target)
    except InputError:
        raise
    except _read_errors() as exc:
        raise InputError(
            f"{source}: not MovieLens 100K ratings ({_brief(exc)}); {MOVIELENS_EXPECTED}"
        ) from exc


def _movielens(source: Path, target: Path) -> None:
    """:func:`_movielens_to_csv_gz` with the readers' own errors."""
    import gzip

    import polars as pl

    data = source.read_bytes()
    name = source.name.lower()
    films: tuple[str, bytes] | None = None  # (member name, bytes) of the films file
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            found = [n for n in archive.namelist() if n.endswith(("ml-100k.inter", "/u.data"))]
            if not found:
                raise InputError(
                    f"{source}: the archive holds no ml-100k.inter or u.data; {MOVIELENS_EXPECTED}"
                )
            listed = [n for n in archive.namelist() if n.endswith(("ml-100k.item", "/u.item"))]
            films = (listed[0], archive.read(listed[0])) if listed else None
            name, data = found[0].lower(), archive.read(found[0])
    has_header = name.endswith(".inter")
    if b"\x00" in data[:4096]:
        raise InputError(
            f"{source}: not MovieLens 100K ratings (a binary file); {MOVIELENS_EXPECTED}"
        )
    try:
        frame = pl.read_csv(
            io.BytesIO(data),
            separator="\t",
            has_header=has_header,
            new_columns=["customer_id", "item_id", "value", "epoch"],
            schema_overrides={"customer_id": pl.Utf8, "item_id": pl.Utf8},
        )
        frame = frame.select(
            "customer_id",
            "item_id",
            pl.lit("rating").alias("event_type"),
            pl.col("value").cast(pl.Float64),
            pl.from_epoch(pl.col("epoch").cast(pl.Int64), time_unit="s")
            .dt.strftime("%Y-%m-%d %H:%M:%S")
            .alias("timestamp"),
        )
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise InputError(
            f"{source}: not MovieLens 100K ratings ({_brief(exc)}); {MOVIELENS_EXPECTED}"
        ) from exc
    if frame.height == 0 or frame["value"].is_null().any():
        raise InputError(f"{source}: no ratings, or ratings without stars; {MOVIELENS_EXPECTED}")
    if films is not None:  # the catalog only once the ratings are known to be good
        _movielens_films(*films, target)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".tmp") as tmp:
        tmp.write(gzip.compress(frame.write_csv().encode("utf-8")))
    os.replace(tmp.name, target)


#: The genre columns of GroupLens' ``u.item``, in order.
_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip


def movielens_items_path(events_path: Path) -> Path:
    """Where the MovieLens loader writes the films (a catalog file) beside the ratings."""
    return events_path.with_name("ml-100k-items.csv.gz")


def _movielens_films(name: str, data: bytes, events_target: Path) -> None:
    """The films as a catalog: title, first genre as category, all genres and the year as the
    description (what content-based recommendations read)."""
    import gzip

    import polars as pl

    rows: list[tuple[str, str, str | None, str]] = []
    recbole = name.endswith("ml-100k.item")  # UTF-8, tab-separated, a header; else u.item
    lines = data.decode("utf-8" if recbole else "latin-1").splitlines()
    for line in lines[1:] if recbole else lines:
        if recbole:
            item, title, year, classes = [*line.split("\t"), "", "", ""][:4]
            genres = classes.split()
        else:
            fields = line.split("|")
            if len(fields) < 5 + len(_GENRES):
                continue
            item, title, year = fields[0], fields[1], fields[2][-4:]
            genres = [g for g, flag in zip(_GENRES, fields[5:], strict=False) if flag == "1"]
        if item:
            rows.append((item, title, genres[0] if genres else None, " ".join([*genres, year])))
    frame = pl.DataFrame(rows, schema=["item_id", "title", "category", "description"], orient="row")
    target = movielens_items_path(events_target)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".tmp") as tmp:
        tmp.write(gzip.compress(frame.write_csv().encode("utf-8")))
    os.replace(tmp.name, target)


REGISTRY: dict[str, DatasetSource] = {
    "online-retail": DatasetSource(
        name="online-retail",
        url="https://archive.ics.uci.edu/static/public/352/online+retail.zip",
        filename="online_retail.csv.gz",
        description="UCI Online Retail: a UK gift shop's transactions, 2010-12 to 2011-12",
        licence="CC BY 4.0 (Chen, Sain & Guo 2012)",
        convert=_excel_to_csv_gz,
    ),
    "movielens-100k": DatasetSource(
        name="movielens-100k",
        url="https://files.pythonhosted.org/packages/ab/fe/"
        "7d606cb7cd2b166a36b100cb9435d21014ceee16c192d972deb0976967a8/"
        "recbole-1.2.1-py3-none-any.whl",
        filename="ml-100k-events.csv.gz",
        description="MovieLens 100K: 100,000 ratings (1-5 stars) of 1,682 films by 943 users, "
        "1997-09 to 1998-04, as rating events (from the copy in RecBole 1.2.1 on PyPI)",
        licence="GroupLens research licence: research use, cite Harper & Konstan 2015, "
        "no redistribution",
        convert=_movielens_to_csv_gz,
        sha256="9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
    ),
}


def default_cache(home: Path) -> Path:
    """The cache folder inside storewise's home."""
    return home / "datasets"


def fetch(
    name: str,
    cache_dir: Path,
    *,
    from_path: Path | None = None,
    url: str | None = None,
    timeout: float = 60.0,
    force: bool = False,
) -> Path:
    """The local path of dataset ``name``, downloading (or copying ``from_path``) if needed.

    A registry download with a known SHA-256 is refused if it differs; ``url`` (a mirror, or a
    test server) is taken as given, like a local copy.
    """
    if name not in REGISTRY:
        raise NotFound(f"unknown dataset {name!r}; available: {', '.join(sorted(REGISTRY))}")
    source = REGISTRY[name]
    folder = cache_dir / name
    target = folder / source.filename
    if target.exists() and not force and from_path is None:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    if from_path is not None:
        if not from_path.exists():
            raise NotFound(f"{from_path}: no such file")
        if from_path.is_dir():
            raise InputError(f"{from_path}: is a folder; give the dataset's file")
        source.convert(from_path, target)
        origin = str(from_path)
    else:
        download = folder / ("download" + Path(source.url).suffix)
        _download(url or source.url, download, timeout)
        if source.sha256 is not None and url is None:
            found = hashlib.sha256(download.read_bytes()).hexdigest()
            if found != source.sha256:
                download.unlink(missing_ok=True)
                raise InputError(
                    f"{source.url}: the download's SHA-256 is {found}, expected {source.sha256}"
                )
        source.convert(download, target)
        download.unlink(missing_ok=True)
        origin = url or source.url
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(
        json.dumps(
            {
                "name": name,
                "origin": origin,
                "file": source.filename,
                "sha256": digest,
                "licence": source.licence,
            },
            indent=2,
        )
    )
    return target


def _download(url: str, target: Path, timeout: float) -> None:
    """Stream ``url`` to ``target`` atomically, with a clear message when offline."""
    tmp = target.with_suffix(target.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, tmp.open("wb") as out:
            shutil.copyfileobj(response, out, length=1 << 20)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise InputError(
            f"cannot download {url} ({reason}); if this machine is offline, download the file "
            "elsewhere and run `storewise datasets fetch NAME --from PATH`"
        ) from exc
    os.replace(tmp, target)
