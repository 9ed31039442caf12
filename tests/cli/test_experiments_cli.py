"""``storewise experiments analyze | power`` as an analyst runs them: the JSON contract, the
table, and bad files refused with exit code 2 and a message naming the column and line."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps
from typer.testing import CliRunner

from storewise.cli.experiments import app

runner = CliRunner()
FIELDS = ("absolute_lift", "ci_low", "ci_high", "p_value", "relative_lift", "relative_ci_low",
          "relative_ci_high")  # fmt: skip


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def run_json(*args: str) -> dict[str, Any]:
    code, out, err = run(*args, "--json")
    assert code == 0, out + err
    return json.loads(out)  # type: ignore[no-any-return]


def write_units(path: Path, arms: dict[str, int], seed: int = 0) -> dict[str, dict[str, Any]]:
    """A unit file with revenue (lifted 10% in every non-control arm), orders and last
    month's revenue; returns each arm's columns."""
    rng = np.random.default_rng(seed)
    columns: dict[str, dict[str, Any]] = {}
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["unit_id", "variant", "revenue", "orders", "revenue_before"])
        unit = 0
        for k, (name, n) in enumerate(arms.items()):
            before = rng.gamma(2.0, 10.0, n)
            revenue = (1.0 + 0.1 * (k > 0)) * (0.8 * before + rng.gamma(2.0, 6.0, n))
            orders = rng.poisson(1.5, n)
            columns[name] = {"revenue": revenue, "orders": orders, "before": before}
            for i in range(n):
                out.writerow([f"u{unit}", name, repr(float(revenue[i])), int(orders[i]),
                              repr(float(before[i]))])  # fmt: skip
                unit += 1
    return columns


def test_two_variants_report_the_treatment_against_scipy(tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    arms = write_units(path, {"control": 900, "new-ranker": 1100})
    report = run_json("analyze", str(path))
    assert set(report) >= {"srm_p_value", "srm_flag", "metrics"}
    assert set(report["metrics"]) == {"revenue", "orders", "revenue_before"}
    revenue = report["metrics"]["revenue"]
    assert revenue["variant"] == "new-ranker"
    t, c = arms["new-ranker"]["revenue"], arms["control"]["revenue"]
    assert revenue["control"] == {"n": 900, "mean": pytest.approx(c.mean())}
    assert revenue["treatment"] == {"n": 1100, "mean": pytest.approx(t.mean())}
    welch = sps.ttest_ind(t, c, equal_var=False)
    interval = welch.confidence_interval()
    assert revenue["p_value"] == pytest.approx(welch.pvalue, abs=1e-3)
    assert revenue["ci_low"] == pytest.approx(interval.low, abs=1e-3)
    assert revenue["ci_high"] == pytest.approx(interval.high, abs=1e-3)
    assert revenue["absolute_lift"] == pytest.approx(t.mean() - c.mean(), abs=1e-9)
    assert revenue["relative_lift"] == pytest.approx(t.mean() / c.mean() - 1, abs=1e-9)
    assert revenue["relative_ci_low"] < revenue["relative_lift"] < revenue["relative_ci_high"]
    srm = sps.chisquare([900, 1100])
    assert report["srm_p_value"] == pytest.approx(srm.pvalue) and report["srm_flag"] is True
    planned = run_json("analyze", str(path), "--split", "control=0.45,new-ranker=0.55")
    assert planned["srm_flag"] is False and planned["srm_p_value"] == pytest.approx(1.0)
    assert run_json("analyze", str(path), "--split", "0.45,0.55") == planned


def test_three_variants_key_each_metric_by_variant(tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    arms = write_units(path, {"base": 400, "b": 400, "a": 400})
    report = run_json("analyze", str(path), "--control", "base")
    revenue = report["metrics"]["revenue"]
    assert set(revenue) == {"a", "b"}
    for name in ("a", "b"):
        entry = revenue[name]
        assert entry["variant"] == name and set(FIELDS) <= set(entry)
        assert entry["control"]["n"] == 400 and entry["treatment"]["n"] == 400
        welch = sps.ttest_ind(arms[name]["revenue"], arms["base"]["revenue"], equal_var=False)
        assert entry["p_value"] == pytest.approx(welch.pvalue, abs=1e-3)
    assert report["srm_flag"] is False


def test_cuped_and_the_sequential_interval(tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    write_units(path, {"control": 1000, "treatment": 1000}, seed=2)
    plain = run_json("analyze", str(path))["metrics"]["revenue"]
    report = run_json("analyze", str(path), "--pre", "revenue=revenue_before", "--sequential")
    assert "revenue_before" not in report["metrics"]
    revenue = report["metrics"]["revenue"]
    assert revenue["cuped"]["pre"] == "revenue_before" and revenue["cuped"]["theta"] > 0
    width = revenue["ci_high"] - revenue["ci_low"]
    assert width < 0.8 * (plain["ci_high"] - plain["ci_low"])
    assert width / (plain["ci_high"] - plain["ci_low"]) == pytest.approx(
        revenue["cuped"]["width_ratio"], rel=1e-6
    )
    seq = revenue["sequential"]
    assert seq["ci_low"] < revenue["ci_low"] and revenue["ci_high"] < seq["ci_high"]
    assert (
        "sequential" in report["metrics"]["orders"] and "cuped" not in report["metrics"]["orders"]
    )


def test_the_table(tmp_path: Path) -> None:
    path = tmp_path / "units.csv"
    write_units(path, {"control": 300, "treatment": 200})
    code, out, _ = run("analyze", str(path), "--pre", "revenue=revenue_before", "--sequential")
    assert code == 0
    text = " ".join(out.split())
    assert "revenue" in text and "(CUPED)" in text and "orders" in text and "always-valid" in text
    assert "sample-ratio mismatch" in text and "control 300, treatment 200" in text


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("unit_id,variant,revenue\nu1,control,1\nu2,control,2\nu3,treatment,x1\nu4,treatment,3\n",
         (), "column 'revenue' has 'x1', which is not a finite number on line 4 (data row 3)"),
        ("unit_id,variant,revenue\nu1,control,1\nu2,control,2\nu3,treatment,1\nu4,treatment,3\n",
         ("--control", "ctrl"), "control 'ctrl' is not among the variants: control, treatment"),
        ("unit_id,variant,revenue\nu1,control,1\nu2,control,2\nu3,treatment,1\nu4,treatment,3\n",
         ("--split", "0.5,0.6"), "split shares must add up to 1"),
        ("unit_id,variant,revenue\nu1,control,1\nu2,control,2\nu3,treatment,1\nu4,treatment,3\n",
         ("--split", "0.2,0.3,0.5"), "--split has 3 share(s) for 2 variants"),
        ("unit_id,variant,revenue\nu1,control,1\nu2,control,2\nu3,treatment,1\nu4,treatment,3\n",
         ("--split", "control=0.5,treatment=0.6,holdout=-0.1"), "'holdout', which has no units"),
        ("unit_id,variant,revenue\nu1,control,1\nu2,control,2\nu3,treatment,1\n",
         (), "variant 'treatment' has 1 unit(s); at least 2 are needed"),
        ("unit_id,variant,revenue\nu1,control,1\nu2,control,2\n",
         (), "at least two variants"),
        ("unit_id,arm,revenue\nu1,control,1\n", (), "no 'variant' column"),
        ("unit_id,variant,revenue\nu1,control,1\nu2,control,2\n",
         ("--pre", "revenue=before"), "'before', which is not a column"),
        ("unit_id,variant,revenue\nu1,control,1\n", ("--pre", "revenue"), "METRIC=PRE_COLUMN"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_naming_what_and_where(
    tmp_path: Path, content: str, args: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "units.csv"
    path.write_text(content)
    code, out, err = run("analyze", str(path), *args, "--json")
    assert code == 2, out + err
    assert out == ""
    assert message in " ".join(err.split())


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    code, out, err = run("analyze", str(tmp_path / "nope.csv"))
    assert code == 2 and out == "" and "nope.csv: no such file" in " ".join(err.split())


def test_power_gives_the_mde_or_the_units() -> None:
    sized = run_json("power", "--baseline-mean", "10", "--sd", "8", "--mde", "0.1")
    assert sized["n_control"] == sized["n_treatment"] == 1005
    mde = run_json("power", "--baseline-mean", "10", "--sd", "8", "--n-per-arm", "1005")
    assert mde["mde_relative"] == pytest.approx(0.1, abs=1e-3) and mde["mde_absolute"] <= 1.0
    same = run_json("power", "--baseline-mean", "10", "--sd", "8", "--mde-absolute", "1")
    assert same["n_total"] == 2010
    uneven = run_json("power", "--baseline-mean", "10", "--sd", "8", "--mde", "0.1",
                      "--split", "control=0.8,treatment=0.2")  # fmt: skip
    assert (
        uneven["n_control"] == 4 * uneven["n_treatment"]
        or abs(uneven["n_control"] - 4 * uneven["n_treatment"]) <= 4
    )
    total = run_json("power", "--baseline-mean", "10", "--sd", "8", "--total", "2010")
    assert total["mde_absolute"] == pytest.approx(mde["mde_absolute"])
    code, out, _ = run("power", "--baseline-mean", "10", "--sd", "8", "--mde", "0.1")
    assert code == 0 and "1,005" in out
    code, _, err = run("power", "--baseline-mean", "10", "--sd", "8", "--mde", "0.1",
                       "--n-per-arm", "100")  # fmt: skip
    assert code == 2 and "exactly one of" in err
    code, _, err = run("power", "--baseline-mean", "10", "--sd", "0", "--n-per-arm", "100")
    assert code == 2 and "standard deviation must be positive" in err
