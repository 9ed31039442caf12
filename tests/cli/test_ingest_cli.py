"""The ingest and stats commands as a retailer runs them: exit codes, messages, reports."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from storewise.cli.main import app
from tests.conftest import shared_file

runner = CliRunner()


def run(home: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--home", str(home), *args])
    return result.exit_code, result.output


def test_missing_column_fails_with_file_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "orders.csv"
    bad.write_text("customer_id,item_id\nc1,i1\n")
    code, output = run(tmp_path / "home", "ingest", "orders", str(bad))
    assert code == 2
    assert "orders.csv" in output and "'timestamp'" in output
    code, output = run(tmp_path / "home", "stats", "--json")
    assert json.loads(output)["events"]["total"] == 0


def test_report_json_and_rejected_csv(tmp_path: Path) -> None:
    data = tmp_path / "orders.csv"
    data.write_text("customer_id,item_id,timestamp,quantity\nc1,i1,2024-01-01,1\nc2,i2,nope,1\n")
    report, rejects = tmp_path / "r.json", tmp_path / "rej.csv"
    code, _ = run(
        tmp_path / "home",
        "ingest",
        "orders",
        str(data),
        "--report-json",
        str(report),
        "--rejected-csv",
        str(rejects),
        "-q",
    )
    assert code == 0
    figures = json.loads(report.read_text())
    assert {k: figures[k] for k in ("rows_read", "stored", "duplicates")} == {
        "rows_read": 2,
        "stored": 1,
        "duplicates": 0,
    }
    assert figures["rejected"] == {"unparseable timestamp": 1}
    assert "repaired" in figures
    assert "3,unparseable timestamp" in rejects.read_text()


def test_unknown_preset_exit_code(tmp_path: Path) -> None:
    data = tmp_path / "orders.csv"
    data.write_text("customer_id,item_id,timestamp\nc1,i1,2024-01-01\n")
    code, output = run(tmp_path / "home", "ingest", "orders", str(data), "--preset", "nope")
    assert code == 3 and "unknown preset 'nope'" in output


def test_empty_file_is_a_clear_error(tmp_path: Path) -> None:
    data = tmp_path / "empty.csv"
    data.write_text("")
    code, output = run(tmp_path / "home", "ingest", "orders", str(data))
    assert code == 2 and "empty" in output


def test_customers_export_and_erase(tmp_path: Path) -> None:
    data = tmp_path / "orders.csv"
    data.write_text("customer_id,item_id,timestamp\nc1,i1,2024-01-01\nc2,i1,2024-01-02\n")
    home = tmp_path / "home"
    assert run(home, "ingest", "orders", str(data), "-q")[0] == 0
    code, output = run(home, "customers", "export", "c1")
    assert code == 0 and json.loads(output)["events"][0]["item_id"] == "i1"
    code, output = run(home, "customers", "erase", "c1", "--yes")
    assert code == 0 and "events 1" in output
    assert run(home, "customers", "export", "c1")[0] == 3


@pytest.mark.dataset
@pytest.mark.slow
def test_online_retail_full_file_accounts_every_row(tmp_path: Path) -> None:
    source = shared_file("online-retail", "online_retail.csv.gz")
    home, report = tmp_path / "home", tmp_path / "r.json"
    args = ("ingest", "orders", str(source), "--preset", "online-retail", "-q")
    assert run(home, *args, "--report-json", str(report))[0] == 0
    figures = json.loads(report.read_text())
    assert figures["rows_read"] == 541_909
    assert figures["stored"] + figures["duplicates"] + sum(figures["rejected"].values()) == 541_909
    assert figures["rejected"]["price <= 0 on a purchase or return"] > 0
    before = run(home, "stats", "--json")[1]
    assert run(home, *args, "--report-json", str(report))[0] == 0
    assert json.loads(report.read_text())["stored"] == 0
    assert run(home, "stats", "--json")[1] == before
    stats = json.loads(before)
    assert stats["events"]["return"] > 9000 and stats["non_product_codes"] > 0


def _garbage(size: int = 3000) -> bytes:
    return bytes((i * 7919 + 13) % 256 for i in range(size))


BAD_FILES: dict[str, bytes] = {
    "noise.csv": _garbage(),
    "cut.csv.gz": gzip.compress(b"customer_id,item_id,timestamp\n" + b"c1,i1,2024-03-01\n" * 3000)[
        :200
    ],
    "text.parquet": b"customer_id,item_id,timestamp\nc1,i1,2024-03-01\n",
    "deep.jsonl": b"[" * 10_000 + b"]" * 10_000 + b"\n",
    "workbook.csv": b"PK\x03\x04" + _garbage(500),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_unreadable_files_exit_2_with_a_message(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name])
    home = tmp_path / "home"
    result = runner.invoke(app, ["--home", str(home), "ingest", "orders", str(path), "-q"])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # no other exception escaped
    assert "Traceback" not in result.stderr
    assert name in result.stderr.replace("\n", "")
    assert json.loads(run(home, "stats", "--json")[1])["events"]["total"] == 0


def test_bad_options_exit_2(tmp_path: Path) -> None:
    data = tmp_path / "orders.csv"
    data.write_text("customer_id,item_id,timestamp\nc1,i1,2024-01-01\n")
    home = tmp_path / "home"
    for extra in (
        ["--delimiter", ";;"],
        ["--encoding", "klingon"],
        ["--report-json", str(tmp_path)],
    ):
        code, output = run(home, "ingest", "orders", str(data), "-q", *extra)
        assert code == 2 and "Traceback" not in output, (extra, output)
    assert json.loads(run(home, "stats", "--json")[1])["events"]["total"] == 0


def test_nul_and_absurd_numbers_are_rejected_rows(tmp_path: Path) -> None:
    data = tmp_path / "orders.csv"
    data.write_bytes(
        b"customer_id,item_id,timestamp,quantity,price\n"
        b"c\x001,i1,2024-01-01,1,2\n"
        b"c2,i1,2024-01-01,1e20,2\n"
        b"c3,i1,2024-01-01,1,1e308\n"
        b"c4,i1,2024-01-01,1,2\n"
    )
    report, rejects = tmp_path / "r.json", tmp_path / "rej.csv"
    args = ("ingest", "orders", str(data), "-q", "--report-json", str(report))
    code, _ = run(tmp_path / "home", *args, "--rejected-csv", str(rejects))
    assert code == 0
    figures = json.loads(report.read_text())
    assert figures["stored"] == 1 and figures["rejected_total"] == 3
    lines = {row.split(",")[1] for row in rejects.read_text().splitlines()[1:]}
    assert lines == {"2", "3", "4"}


def test_real_process_prints_no_traceback(tmp_path: Path) -> None:
    """The installed entry point, as a retailer runs it: exit code 2 and one clear line."""
    garbage, home = tmp_path / "orders.csv", tmp_path / "home"
    garbage.write_bytes(_garbage())
    env = {**os.environ, "COLUMNS": "200"}
    for args in (
        ["ingest", "orders", str(garbage)],
        ["datasets", "fetch", "online-retail", "--from", str(garbage), "--cache", str(home)],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "storewise.cli.main", "--home", str(home), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and "orders.csv" in done.stderr


def test_fetch_from_a_file_that_is_not_the_dataset(tmp_path: Path) -> None:
    other = tmp_path / "movies.csv"
    other.write_text("userId,movieId,rating\n1,2,3.5\n")
    cache = tmp_path / "cache"
    args = ("datasets", "fetch", "online-retail", "--from", str(other), "--cache", str(cache))
    result = runner.invoke(app, ["--home", str(tmp_path / "home"), *args])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    message = " ".join(result.stderr.split())
    assert "not the Online Retail file" in message and "InvoiceNo" in message
    assert not (cache / "online-retail" / "online_retail.csv.gz").exists()
