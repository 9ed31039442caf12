"""``storewise --help`` and ``--version`` answer without loading the engine; every command
is still listed with its own help and loads when used."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from storewise.cli.main import COMMANDS, app, load

HEAVY = ("numpy", "polars", "scipy", "sklearn", "pandas", "sqlalchemy", "storewise.app")

runner = CliRunner()


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_import_nothing_heavy(flag: str) -> None:
    script = (
        "import sys\n"
        "from storewise.cli.main import app\n"
        "try:\n"
        f"    app([{flag!r}])\n"
        "except SystemExit as stop:\n"
        "    assert not stop.code, stop.code\n"
        f"print('LOADED', [m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert "LOADED []" in done.stdout, done.stdout + done.stderr
    assert "storewise 0" in done.stdout if flag == "--version" else "experiments" in done.stdout


def test_the_root_help_lists_every_command_with_its_own_help_line() -> None:
    listed = runner.invoke(app, ["--help"], env={"COLUMNS": "400", "TERMINAL_WIDTH": "400"}).output
    for name, lazy in COMMANDS.items():
        command = load(name)
        own = " ".join((command.help or "").split("\n\n")[0].split())
        assert lazy.help == own, f"storewise {name}: the root lists {lazy.help!r}, not {own!r}"
        assert name in listed and lazy.help in " ".join(listed.split())


def test_a_command_loads_when_used_and_typos_are_caught() -> None:
    result = runner.invoke(app, ["ingest", "--help"])
    assert result.exit_code == 0 and "orders" in result.output
    result = runner.invoke(app, ["trian"])
    assert result.exit_code == 2 and "train" in result.output
