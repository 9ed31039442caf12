"""train / recommend / similar / evaluate as a retailer runs them."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

from typer.testing import CliRunner

from storewise.cli.main import app

runner = CliRunner()


def run(home: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--home", str(home), *args])
    return result.exit_code, result.output


def test_recommend_before_training_says_so(tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("c1\n")
    code, output = run(tmp_path / "home", "recommend", "--customers", str(ids))
    assert code == 4 and "storewise train" in output


def test_train_on_an_empty_store_says_nothing_to_learn(tmp_path: Path) -> None:
    code, output = run(tmp_path / "home", "train")
    assert code == 2 and "nothing to learn" in output


def test_batch_csv_similar_and_errors(trained_home: Path, tmp_path: Path) -> None:
    ids = tmp_path / "ids.txt"
    ids.write_text("C000010\nC000020\nunknown-person\n")
    out = tmp_path / "recs.csv"
    code, _ = run(trained_home, "recommend", "--customers", str(ids), "--n", "4", "--out", str(out))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0]) == ["customer_id", "rank", "item_id", "title", "score", "reasons"]
    assert len(rows) == 12 and {r["rank"] for r in rows} == {"1", "2", "3", "4"}
    assert all(r["reasons"] and r["title"] for r in rows)  # the synthetic catalog has titles
    code, output = run(trained_home, "recommend", "--all", "--n", "2", "--allow-repurchase")
    assert code == 0 and output.startswith("customer_id,rank,item_id,title,score,reasons")
    assert run(trained_home, "recommend", "--all", "--n", "0")[0] == 2
    assert run(trained_home, "recommend", "--all", "--n", "1000")[0] == 2
    assert run(trained_home, "recommend", "--n", "3")[0] == 2  # neither --all nor --customers
    item = rows[0]["item_id"]
    code, output = run(trained_home, "similar", item, "--n", "3", "--json")
    assert code == 0 and '"scenario": "similar"' in output
    code, output = run(trained_home, "similar", "no-such-item")
    assert code == 3 and "unknown item" in output


def test_single_model_training(trained_home: Path) -> None:
    code, output = run(trained_home, "train", "--model", "ease")
    assert code == 0 and "ease" in output
    code, output = run(trained_home, "train", "--model", "deep-magic")
    assert code == 2 and "unknown model" in output


def test_full_training_reports_whether_a_blend_earned_its_place(
    trained_home: Path, tmp_path: Path
) -> None:
    home = tmp_path / "shop"
    shutil.copytree(trained_home, home)
    code, output = run(home, "train", "--budget", "3")
    assert code == 0
    assert output.count("blend, out of fold") == 2  # one verdict per scenario, in the table
    assert "kept" in output
