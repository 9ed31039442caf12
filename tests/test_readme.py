"""README.md's commands work as written: the docs are a tested contract.

Every ``storewise ...`` line of the README's ```bash blocks runs, in order, through the installed
CLI in a fresh folder holding a small synthetic shop written under the file names the README
uses (catalog.csv, customers.csv, orders.csv, events.jsonl). The only changes to a line are
listed below with their reason: extra arguments (a local file instead of a download, a free
port) or a skip. A storewise line the README gains later is run like the others, so it either
works offline or has to be listed here. The commands named in the prose and the command table
are checked against the CLI's own command tree.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import typer.main
from cryptography.fernet import Fernet

from storewise.datasets.synth import SynthConfig, write_csv

README = Path(__file__).resolve().parents[1] / "README.md"

#: README lines that are not run, with why. Keep this list short.
SKIPPED: dict[str, str] = {
    "storewise train --engine spark --master spark://master-host:7077": (
        "needs a Spark standalone cluster at master-host; tests/spark starts one on 127.0.0.1 "
        "and trains on it, and the README's local[2] line runs here"
    ),
}

#: Arguments appended to a README line before it runs, with why ({name} is a fixture path).
EXTRA_ARGS: dict[str, tuple[tuple[str, ...], str]] = {
    "storewise datasets fetch online-retail": (
        ("--from", "{online_retail}"),
        "offline: a small file in the UCI layout instead of the download (the README's own "
        "alternative, `--from /path/to/online_retail.csv.gz`)",
    ),
    "storewise datasets fetch movielens-100k": (
        ("--from", "{movielens}"),
        "offline: a small ml-100k.zip (u.data ratings, u.item films) instead of the download",
    ),
    "storewise serve --workers 2": (
        ("--port", "{port}"),
        "a free port: 8000 may be taken on a shared machine",
    ),
}

#: Options whose value is a file the command must have written.
OUTPUT_OPTIONS = ("--out", "--report-json", "--rejected-csv", "--report")

#: Variables the README exports, which this test sets itself (home folder, encryption key).
EXPORTED = {"STOREWISE_HOME", "STOREWISE_ENCRYPTION_KEY"}

#: The item the README's `storewise similar` line asks about (an Online Retail stock code).
README_ITEM = "85123A"

#: GA4 / Segment event names used in events.jsonl, as the README says they are understood.
GA4_NAMES = {
    "view": "view_item",
    "search": "view_search_results",
    "return": "refund",
    "purchase": "purchase",
}

COMMAND_TIMEOUT = 120
SERVER_START_TIMEOUT = 60

# ------------------------------------------------------------------------------ README parsing


@dataclass(frozen=True)
class Line:
    """One command line of a ```bash block: its section and its words (quotes removed)."""

    section: str
    text: str
    words: tuple[str, ...]

    @property
    def key(self) -> str:
        """The line as written, comments and extra spaces dropped (the key of the tables)."""
        return " ".join(self.words)


def bash_lines(markdown: str) -> list[Line]:
    """Every command line of the ```bash blocks, continuation lines joined, in order."""
    lines: list[Line] = []
    section = ""
    block: list[str] | None = None
    for raw in markdown.splitlines():
        if block is None:
            if raw.startswith("#"):
                section = raw.lstrip("#").strip()
            elif raw.strip() == "```bash":
                block = []
            continue
        if raw.strip() == "```":
            text = "\n".join(block).replace("\\\n", " ")
            for command in text.splitlines():
                words = tuple(shlex.split(command, comments=True))
                if words:
                    lines.append(Line(section, command.strip(), words))
            block = None
            continue
        block.append(raw)
    assert block is None, "README.md has an unclosed ```bash block"
    return lines


def storewise_lines(markdown: str) -> list[Line]:
    """The README's ``storewise ...`` command lines, in order."""
    return [line for line in bash_lines(markdown) if line.words[0] == "storewise"]


def inline_commands(markdown: str) -> list[str]:
    """``storewise ...`` in inline code spans and table cells (outside the ```bash blocks)."""
    outside = re.sub(r"```.*?```", "", markdown, flags=re.DOTALL)
    return [span for span in re.findall(r"`([^`\n]+)`", outside) if span.startswith("storewise ")]


# ------------------------------------------------------------------------------ the CLI's tree


COMMAND_WORD = re.compile(r"\{?[a-z][a-z0-9-]*(?:[|,][a-z][a-z0-9-]*)*\}?")


def resolve(synopsis: str) -> tuple[list[tuple[tuple[str, ...], Any]], list[str]]:
    """The commands a synopsis names, and what in it names no command.

    ``storewise customers export|erase ID`` names two commands and ``storewise ingest
    {orders,events} FILE...`` two more: a word (or alternatives) is read as a sub-command while
    the command so far is a group.
    """
    from storewise.cli.main import app  # here: a broken CLI fails this test, not collection

    root: Any = typer.main.get_command(app)
    found: list[tuple[tuple[str, ...], Any]] = [((), root)]
    problems: list[str] = []
    for word in synopsis.replace("\\|", "|").split()[1:]:
        groups = [(path, cmd) for path, cmd in found if getattr(cmd, "commands", None)]
        if not groups:
            break
        if not COMMAND_WORD.fullmatch(word):
            problems.extend(
                f"`storewise {' '.join(path)}` needs a sub-command" for path, _ in groups
            )
            return [], problems
        found = []
        for path, group in groups:
            for choice in re.split(r"[|,]", word.strip("{}")):
                if choice in group.commands:
                    found.append(((*path, choice), group.commands[choice]))
                else:
                    problems.append(f"`storewise {' '.join((*path, choice))}` is not a command")
    return found, problems


def command_options(command: Any) -> set[str]:
    """Every option spelling a click command accepts (``--help`` included)."""
    spelled = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    return spelled | {"--help"}


# ------------------------------------------------------------------------------- a small shop


def write_shop(folder: Path) -> None:
    """A small synthetic shop under the README's file names, with the README's item in it.

    The catalog holds the README's columns; purchases of registered customers are the order
    lines; every other event (guest purchases included) is a JSON line with GA4-style names.
    """
    synth = write_csv(SynthConfig(customers=150, items=60, days=120, seed=7), folder / "synth")
    items = pl.read_csv(synth["items"], infer_schema=False)
    renamed = pl.col("item_id").replace({items["item_id"][0]: README_ITEM})
    catalog = items.with_columns(renamed).select(
        "item_id", "title", "description", "category", "brand", "price", "in_stock"
    )
    catalog.write_csv(folder / "catalog.csv")
    pl.read_csv(synth["customers"], infer_schema=False).write_csv(folder / "customers.csv")
    events = pl.read_csv(synth["events"]).with_columns(renamed)
    is_order_line = (pl.col("event_type") == "purchase") & pl.col("customer_id").is_not_null()
    orders = events.filter(is_order_line)
    assert orders.height > 0 and README_ITEM in set(events["item_id"].drop_nulls())
    orders.select("order_id", "customer_id", "item_id", "quantity", "price", "timestamp").write_csv(
        folder / "orders.csv"
    )
    others = events.filter(~is_order_line).with_columns(
        pl.col("event_type").replace(GA4_NAMES).alias("event_name"),
        pl.col("customer_id").alias("user_id"),
    )
    others = others.drop("event_type", "customer_id")
    others.write_ndjson(folder / "events.jsonl")


ONLINE_RETAIL = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,"
    "United Kingdom\n"
    "536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850.0,United Kingdom\n"
    "536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,17850.0,United Kingdom\n"
    "536367,84879,ASSORTED COLOUR BIRD ORNAMENT,32,2010-12-01 08:34:00,1.69,13047.0,"
    "United Kingdom\n"
    "536367,85123A,WHITE HANGING HEART T-LIGHT HOLDER,8,2010-12-01 08:34:00,2.55,13047.0,"
    "United Kingdom\n"
    "536368,POST,POSTAGE,1,2010-12-01 08:45:00,18.00,12583.0,France\n"
    "536368,22728,ALARM CLOCK BAKELIKE PINK,24,2010-12-01 08:45:00,3.75,12583.0,France\n"
    "536369,22633,HAND WARMER UNION JACK,2,2010-12-01 09:02:00,1.85,,United Kingdom\n"
    "C536370,84879,ASSORTED COLOUR BIRD ORNAMENT,-4,2010-12-01 09:41:00,1.69,13047.0,"
    "United Kingdom\n"
)


#: The shop-platform exports the README imports, under the names the platforms give them,
#: and the test files laid out as each platform writes them.
PLATFORM_EXPORTS = {
    "orders_export.csv": "shopify_orders_export.csv",
    "orders-export-2024_04_08_09_30_00.csv": "woocommerce_orders_export.csv",
    "events_20240305.json": "ga4_events_20240305.jsonl",
}
PLATFORM_FIXTURES = Path(__file__).resolve().parent / "ingest" / "fixtures"


def write_platform_exports(folder: Path) -> None:
    """Shopify's, WooCommerce's and GA4's exports as the README's lines name them."""
    for name, fixture in PLATFORM_EXPORTS.items():
        (folder / name).write_bytes((PLATFORM_FIXTURES / fixture).read_bytes())


def write_online_retail(path: Path) -> Path:
    """A few Online Retail rows: products, postage, a guest and a cancellation."""
    path.write_bytes(gzip.compress(ONLINE_RETAIL.encode("utf-8")))
    return path


def write_movielens(path: Path) -> Path:
    """A tiny ml-100k.zip: u.data ratings (tab separated) and u.item films (pipe separated)."""
    ratings = [
        f"{user}\t{film}\t{1 + (user * film) % 5}\t{881250949 + 3600 * (user + film)}"
        for user in range(1, 13)
        for film in range(1, 9)
        if (user + film) % 3
    ]
    genres = 19
    films = [
        f"{film}|Film {film} (1995)|01-Jan-1995||http://example.org/{film}|"
        + "|".join("1" if g == film % genres else "0" for g in range(genres))
        for film in range(1, 9)
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ml-100k/u.data", "\n".join(ratings) + "\n")
        archive.writestr("ml-100k/u.item", ("\n".join(films) + "\n").encode("latin-1"))
    path.write_bytes(buffer.getvalue())
    return path


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -------------------------------------------------------------------------------- running


def storewise_argv() -> list[str]:
    """The installed CLI: the console script beside this interpreter, else ``-m``."""
    script = Path(sys.executable).with_name("storewise")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "storewise.cli.main"]


def expand(words: tuple[str, ...], env: dict[str, str]) -> list[str]:
    """``$VAR`` and ``${VAR}`` as the shell would expand them (quotes are already gone)."""
    return [
        re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: env.get(m.group(1), ""), word)
        for word in words
    ]


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run one command to completion, capturing its output."""
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT
    )


def serve_and_check(argv: list[str], cwd: Path, env: dict[str, str], key: str | None) -> str:
    """Start the server, wait until it is ready, ask it one authenticated question, stop it."""
    port = argv[argv.index("--port") + 1]
    log = cwd / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not _get(f"{base}/ready"):
            assert process.poll() is None, f"serve exited:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"serve never became ready:\n{log.read_text()}"
            time.sleep(0.25)
        assert key is not None, "the README creates an API key before it serves"
        assert _get(f"{base}/v1/trending?n=3", key), "the README's key is refused"
    finally:
        _stop(process)
    return log.read_text()


def _get(url: str, key: str | None = None) -> bool:
    """Whether GET ``url`` answers 200."""
    request = urllib.request.Request(url)
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and the workers it started (its own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def shop(tmp_path: Path) -> tuple[Path, dict[str, str], dict[str, str]]:
    """A folder with the shop's files, the environment and the fixture paths for EXTRA_ARGS."""
    write_shop(tmp_path)
    write_platform_exports(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOREWISE_")}
    env["STOREWISE_HOME"] = str(tmp_path / "my-shop")
    env["STOREWISE_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    fixtures = {
        "online_retail": str(write_online_retail(tmp_path / "online_retail.csv.gz")),
        "movielens": str(write_movielens(tmp_path / "ml-100k.zip")),
        "port": str(free_port()),
    }
    return tmp_path, env, fixtures


# ---------------------------------------------------------------------------------- the tests


@pytest.mark.slow  # about 40 s: each command pays the CLI's ~2 s start-up
def test_readme_commands_run_in_order(shop: tuple[Path, dict[str, str], dict[str, str]]) -> None:
    """Each storewise line of the README exits 0 and writes the files it names."""
    cwd, env, fixtures = shop
    lines = storewise_lines(README.read_text(encoding="utf-8"))
    assert len(lines) >= 10, "the README's command lines were not found"
    seen: set[str] = set()
    key: str | None = None
    for line in lines:
        seen.add(line.key)
        if line.key in SKIPPED:
            continue
        extra = [arg.format(**fixtures) for arg in EXTRA_ARGS.get(line.key, ((), ""))[0]]
        argv = storewise_argv() + expand(line.words[1:], env) + extra
        where = f"README ({line.section}): {line.text}"
        if line.words[1] == "serve":
            serve_and_check(argv, cwd, env, key)
            continue
        started = time.perf_counter()
        done = run(argv, cwd, env)
        seconds = time.perf_counter() - started
        assert done.returncode == 0, (
            f"{where}\nexit {done.returncode} after {seconds:.1f}s\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )
        for option in OUTPUT_OPTIONS:
            if option in argv:
                written = cwd / argv[argv.index(option) + 1]
                assert written.is_file(), f"{where}: {written} was not written"
        if "--report-json" in argv:  # the shop is clean: every row is stored
            report = json.loads((cwd / argv[argv.index("--report-json") + 1]).read_text())
            assert report["rejected_total"] == 0, f"{where}: {report}"
        if line.words[1:3] == ("keys", "create"):
            key = done.stdout.strip().splitlines()[-1]
        if line.words[1:3] == ("datasets", "fetch"):
            assert Path(done.stdout.strip().splitlines()[-1]).is_file(), where
    stale = (set(SKIPPED) | set(EXTRA_ARGS)) - seen
    assert not stale, f"listed here but no longer in README.md: {sorted(stale)}"
    with (cwd / "recommendations.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and list(rows[0]) == ["customer_id", "rank", "item_id", "title", "score", "reasons"]
    assert all(row["title"] for row in rows)  # the README's catalog names every item


def test_readme_lines_are_parsed() -> None:
    """The parser sees the README's blocks: sections, quotes and comments handled."""
    lines = storewise_lines(README.read_text(encoding="utf-8"))
    keys = [line.key for line in lines]
    assert "storewise stats" in keys
    assert any(line.section == "Bring your own data" for line in lines)
    quoted = [line for line in lines if any("$STOREWISE_HOME" in word for word in line.words)]
    assert quoted and all("#" not in " ".join(line.words) for line in lines)


def test_readme_exports_only_what_the_test_sets() -> None:
    """The README's ``export`` lines set only the variables the run above provides."""
    exported = {
        line.words[1].partition("=")[0]
        for line in bash_lines(README.read_text(encoding="utf-8"))
        if line.words[0] == "export"
    }
    assert exported <= EXPORTED, f"README exports {sorted(exported - EXPORTED)} too"


def test_readme_names_real_commands_and_options() -> None:
    """Every storewise command the README names (lines, prose, table) exists with its options."""
    markdown = README.read_text(encoding="utf-8")
    synopses = [line.key for line in storewise_lines(markdown)] + inline_commands(markdown)
    problems: list[str] = []
    for synopsis in synopses:
        commands, unknown_commands = resolve(synopsis)
        problems.extend(f"{synopsis!r}: {problem}" for problem in unknown_commands)
        options = set(re.findall(r"(?<![\w-])--?[a-z][a-z0-9-]*", synopsis))
        for path, command in commands:
            unknown = options - command_options(command)
            if unknown:
                problems.append(f"{synopsis!r}: `storewise {' '.join(path)}` has no {unknown}")
    assert not problems, "\n".join(problems)
