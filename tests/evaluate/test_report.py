"""``storewise evaluate``: every model on a held-out period, and the HTML report."""

from __future__ import annotations

import re
from pathlib import Path

from storewise.evaluate.report import run_evaluation, write_html
from storewise.settings import Settings
from storewise.store import open_store


def test_evaluation_table_and_html(trained_home: Path, tmp_path: Path) -> None:
    store = open_store(Settings(home=trained_home))
    try:
        result = run_evaluation(store, test_days=30, valid_days=30, budget_seconds=3)
    finally:
        store.close()
    for scenario in ("discovery", "repurchase"):
        rows = result["table"][scenario]
        assert rows and all(0.0 <= r["ndcg"] <= 1.0 for r in rows)
        assert {"coverage", "novelty", "gini", "miscalibration", "long_tail_share"} <= set(rows[0])
        assert result["groups"][scenario]["activity"]
    out = tmp_path / "report.html"
    write_html(result, out)
    text = out.read_text()
    assert text.count("<svg") >= 4 and "popularity bias" in text
    assert not re.search(r"(src|href)=[\"']https?://", text)  # nothing fetched from elsewhere
