"""``storewise demo`` runs the whole main job on the embedded default (without serving here)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from storewise.cli.main import app


def test_demo_generates_ingests_trains_and_recommends(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = CliRunner().invoke(
        app, ["--home", str(home), "demo", "--customers", "150", "--items", "50", "--no-serve"]
    )
    assert result.exit_code == 0, result.output
    for step in ("synthetic shop", "ingest", "train", "recommendations with reasons"):
        assert step in result.output
    assert "for you: customer" in result.output
    assert (home / "models" / "CURRENT").exists()
    assert (home / "support" / "kb.json").exists()
    # personal fields were stored encrypted with the demo's own key
    assert "encryption_key_file" in (home / "storewise.toml").read_text()
    # the synthetic CSVs (e-mails, names) lived only for the import: no copy under the home
    assert not list(home.rglob("*.csv"))
