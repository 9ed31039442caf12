"""``storewise experiments create|list|start|stop|results|off-policy`` over a trained home."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from storewise.app import Settings, build
from storewise.cli.experiments import app

runner = CliRunner()


@pytest.fixture
def home(trained_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STOREWISE_HOME", str(trained_home))
    return trained_home


def test_the_lifecycle_through_the_cli(home: Path) -> None:
    made = runner.invoke(
        app,
        [
            "create", "picks", "--placement", "for-you",
            "--variant", "control:0.5", "--variant", "pop:0.5:model=popular",
            "--metric", "orders", "--start", "--json",
        ],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    created = json.loads(made.output)
    assert created["status"] == "running" and created["split"] == {"control": 0.5, "pop": 0.5}
    assert created["variants"][1]["model"] == "popular"
    listed = runner.invoke(app, ["list"])
    assert "picks (for-you, ab, running): control 50%, pop 50%" in listed.output
    early = runner.invoke(app, ["results", "picks"])
    assert early.exit_code == 2 and "fewer than two" in early.output
    with build(Settings(home=home)) as services:  # serve a few lists, as the API would
        engine = services.serving
        for customer in sorted(services.store.customers()["customer_id"].to_list())[:30]:
            services.experiments.serve(
                "for-you",
                customer,
                lambda v, c=customer: engine.recommend(c, 4, model=v.model if v else None),
            )
        services.experiments.log.flush()
    shown = runner.invoke(app, ["results", "picks"])
    assert shown.exit_code == 0, shown.output
    assert "sample-ratio p =" in shown.output and "orders *" in shown.output
    as_json = json.loads(runner.invoke(app, ["results", "picks", "--json"]).output)
    assert sum(as_json["units"].values()) > 10 and as_json["cumulative"]
    stopped = runner.invoke(app, ["stop", "picks"])
    assert stopped.exit_code == 0 and "stopped" in stopped.output
    again = runner.invoke(app, ["stop", "picks"])
    assert again.exit_code == 2 and "not running" in again.output


def test_bad_definitions_exit_2_and_store_nothing(home: Path) -> None:
    cases = [
        ["create", "x", "--placement", "for-you", "--variant", "control:0.7", "--variant", "b:0.2"],
        ["create", "x", "--placement", "nowhere", "--variant", "control", "--variant", "b"],
        ["create", "x", "--placement", "for-you", "--variant", "control", "--variant", "b:heavy"],
        ["create", "x", "--placement", "for-you", "--variant", "control", "--variant",
         "b:model=nosuch"],
        ["create", "x", "--placement", "for-you", "--variant", "control", "--variant", "b",
         "--metric", "happiness"],
    ]  # fmt: skip
    for args in cases:
        answer = runner.invoke(app, args)
        assert answer.exit_code == 2, (args, answer.output)
        assert "error" in answer.output
    assert "no experiments yet" in runner.invoke(app, ["list"]).output
    missing = runner.invoke(app, ["results", "nope"])
    assert missing.exit_code == 3 and "nope" in missing.output
    unlogged = runner.invoke(app, ["off-policy", "popular"])
    assert unlogged.exit_code == 2 and "explore_share" in unlogged.output


def test_error_messages_print_brackets_as_written(home: Path) -> None:
    answer = runner.invoke(
        app,
        ["create", "x", "--placement", "for-you", "--variant", "control", "--variant", "[b]"],
    )
    assert answer.exit_code == 2 and "'[b]'" in answer.output
