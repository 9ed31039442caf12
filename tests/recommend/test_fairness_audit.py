"""The fairness audit: who is audited on the held-out period, the figures, and the service."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest

from storewise.app import RuleSet, Services
from storewise.data.dataset import Dataset
from storewise.errors import NotFitted
from storewise.evaluate import fairness

DAY = 86_400_000
T0 = 1_700_000_000_000


def _shop() -> Dataset:
    """a: three orders, then buys i4 (new to them) and i1 (theirs already) in the period;
    b: first seen in the period; c: views only before, buys i2 in it; d: re-buys i1 only."""
    rows = [
        ("a", "i1", "purchase", 0, "o1"),
        ("a", "i2", "purchase", 1, "o2"),
        ("a", "i3", "purchase", 2, "o3"),
        ("d", "i1", "purchase", 3, "o4"),
        ("e", "i1", "purchase", 4, "o5"),
        ("c", "i3", "view", 5, None),
        ("e", "i4", "view", 6, None),  # i4 is known before the period
        ("a", "i4", "purchase", 40, "o6"),
        ("a", "i1", "purchase", 40, "o6"),
        ("b", "i1", "purchase", 41, "o7"),
        ("b", "i9", "purchase", 41, "o7"),  # i9 never bought before: not a known item
        ("c", "i2", "purchase", 42, "o8"),
        ("d", "i1", "purchase", 43, "o9"),
    ]
    events = pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "item_id": [r[1] for r in rows],
            "event_type": [r[2] for r in rows],
            "ts": [T0 + r[3] * DAY for r in rows],
            "order_id": [r[4] for r in rows],
        }
    )
    items = pl.DataFrame(
        {
            "item_id": ["i1", "i2", "i3", "i4", "i9"],
            "category": ["x", "x", "y", "y", "z"],
        }
    )
    customers = pl.DataFrame(
        {"customer_id": ["a", "b", "c", "d", "e"], "country": ["FR", "FR", None, "FR", "FR"]}
    )
    return Dataset.from_frames(events, items=items, customers=customers)


def test_who_is_audited_and_how_active_they_were() -> None:
    """Buyers in the period with a known item they never had: old customers with their level,
    newcomers as 'new' with popular lists; re-purchases only are not audited."""
    setup = fairness.prepare(_shop(), {"model": "popular", "config": {}}, test_days=10)
    audited = {c.level: c for c in setup.customers}
    assert sorted(audited) == ["new", "regular"] and len(setup.customers) == 3
    assert audited["regular"].truth == {setup.train.item_index("i4")}
    newcomers = [c for c in setup.customers if c.level == "new"]
    assert {c.history.is_empty for c in newcomers} == {True, False}  # b first seen, c viewed
    assert {c.country for c in setup.customers} == {"FR", "unknown"}
    result = fairness.audit(setup, {"plain": RuleSet(in_stock_only=False)}, k=2)
    plain = result["variants"]["plain"]
    assert result["customers"] == plain["overall"]["customers"] == 3
    assert sum(g["customers"] for g in plain["activity"].values()) == 3
    assert plain["country"] == {
        "other countries": {"customers": 3} | dict.fromkeys(fairness.FIGURES)
    }
    overall = plain["overall"]
    assert 0 <= overall["ndcg"] <= 1 and 0 <= overall["long_tail_share"] <= 1
    assert 0 <= overall["gini"] <= 1 and overall["arp"] > 0
    assert overall["miscalibration"] is not None and overall["miscalibration"] >= 0


def test_audit_of_the_served_configuration(trained_services: Services) -> None:
    """Per rule set: the long-tail boost raises the tail share, calibration lowers the
    miscalibration, and the fit is reused for the next rule sets."""
    variants = {
        "plain": RuleSet(),
        "tail": RuleSet(long_tail_boost=0.6),
        "calibrated": RuleSet(calibration=0.8),
        "capped": RuleSet(max_per_brand=1, diversity=0.3),
    }
    result = trained_services.insights.fairness(variants, test_days=30)
    setup = trained_services.insights._audit
    figures = {name: v["overall"] for name, v in result["variants"].items()}
    assert result["customers"] >= 10 and result["head_items"] > 0
    assert figures["tail"]["long_tail_share"] > figures["plain"]["long_tail_share"]
    assert figures["calibrated"]["miscalibration"] < figures["plain"]["miscalibration"]
    assert result["variants"]["tail"]["rules"] == {"long_tail_boost": 0.6}
    for variant in result["variants"].values():
        assert set(variant["activity"]) <= set(fairness.ACTIVITY_LEVELS)
        total = sum(g["customers"] for g in variant["country"].values())
        assert total == result["customers"]
        for group in [*variant["activity"].values(), *variant["country"].values()]:
            shown = group["customers"] >= fairness.MIN_GROUP_CUSTOMERS
            assert (group["ndcg"] is not None) == shown  # small groups: their size only
            assert group["ndcg"] is None or math.isfinite(group["ndcg"])
    again = trained_services.insights.fairness({"plain": RuleSet()}, test_days=30)
    assert trained_services.insights._audit is setup  # same bundle and data: no refit
    assert again["variants"]["plain"] == result["variants"]["plain"]
    customer = trained_services.store.customers()["customer_id"][0]
    receipt = trained_services.customers.erase(customer)
    assert receipt["removed"]["fairness_audit_fits"] == 1
    assert trained_services.insights._audit is None  # the fit held their history


def test_audit_needs_a_trained_model(trained_services: Services) -> None:
    import shutil

    shutil.rmtree(trained_services.settings.bundles_dir)
    with pytest.raises(NotFitted, match="storewise train"):
        trained_services.insights.fairness({"plain": RuleSet()})


def test_cli_evaluate_fairness(trained_home: Path) -> None:
    """``storewise evaluate --fairness --json`` prints the audit; the table form names it."""
    from typer.testing import CliRunner

    from storewise.cli.main import app

    runner = CliRunner()
    result = runner.invoke(app, ["--home", str(trained_home), "evaluate", "--fairness", "--json"])
    assert result.exit_code == 0, result.output
    audit = json.loads(result.output)
    assert list(audit["variants"]) == ["no fairness rules"] and audit["customers"] > 0
    table = runner.invoke(app, ["--home", str(trained_home), "evaluate", "--fairness"])
    assert table.exit_code == 0 and "fairness audit" in table.output
