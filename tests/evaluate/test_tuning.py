"""Auto-tuning picks models by validation NDCG and learns hybrid weights that help."""

from __future__ import annotations

from storewise.evaluate.tuning import tune
from storewise.testing.recommender_contract import small_shop


def test_tune_chooses_per_scenario_and_records_trials() -> None:
    shop = small_shop(customers=60, items=30)
    result = tune(
        shop, valid_days=15, budget_seconds=5, models=["popular", "itemknn", "repurchase"]
    )
    assert set(result.choice) == {"discovery", "repurchase"}
    assert result.trials and all(
        t.model in {"popular", "itemknn", "repurchase"} for t in result.trials
    )
    for scenario, chosen in result.choice.items():
        best_single = max(t.ndcg[scenario] for t in result.trials)
        assert result.validation[scenario]["ndcg@10"] >= best_single - 1e-9
        if chosen["model"] == "hybrid":
            assert set(chosen["config"]["weights"]) <= {"popular", "itemknn", "repurchase"}
