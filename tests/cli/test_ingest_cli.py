"""The ingest and stats commands as a retailer runs them: exit codes, messages, reports."""

from __future__ import annotations

import json
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
