"""``storewise evaluate``: every model, tuned on validation, measured on a held-out period,
as a table and an HTML report with plots (no external assets)."""

from __future__ import annotations

import html
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from storewise.data.dataset import Dataset
from storewise.data.interactions import DAY_MS
from storewise.evaluate import metrics
from storewise.evaluate.protocol import (
    SCENARIOS,
    build_evalset,
    evaluate,
    groups_of,
    recommend_lists,
    score_lists,
    time_split,
)
from storewise.evaluate.tuning import GRIDS, tune
from storewise.privacy.consent import ConsentPolicy
from storewise.recommend import MODELS
from storewise.recommend.base import Recommender
from storewise.recommend.hybrid import Hybrid
from storewise.recommend.progress import Messages, progress_of
from storewise.recommend.progress import Progress as PhaseProgress
from storewise.schema import from_ms
from storewise.store.base import Store

Progress = Callable[[str], None]


def run_evaluation(
    store: Store,
    *,
    test_days: float = 30.0,
    valid_days: float = 30.0,
    budget_seconds: float = 600.0,
    test_start_ms: int | None = None,
    progress: PhaseProgress | Messages | None = None,
    policy: ConsentPolicy | None = None,
) -> dict[str, Any]:
    """Tune on the period before the test (within ``budget_seconds``), refit on everything
    before it, test every model. A scenario tuning stepped aside from (too few validation
    customers) tests every model with its default settings."""
    report = progress_of(progress)
    report.phase("reading the store")
    dataset = Dataset.from_store(store, policy=policy)
    dataset.require_events()
    start = (
        test_start_ms if test_start_ms is not None else dataset.as_of_ms - int(test_days * DAY_MS)
    )
    split = time_split(dataset, start)
    tuning = tune(
        split.train, valid_days=valid_days, budget_seconds=budget_seconds, progress=report
    )
    fitted: dict[str, Recommender] = {}

    def model_for(name: str, config: dict[str, Any]) -> Recommender:
        key = name + json.dumps(config, sort_keys=True)
        if key not in fitted:
            if name == "hybrid":
                parts = {p: model_for(p, c) for p, c in config["components"].items()}
                fitted[key] = Hybrid(Hybrid.config_class.model_validate(config)).use_fitted(
                    parts, split.train
                )
            else:
                cls = MODELS[name]
                fitted[key] = cls(cls.config_class.model_validate(config)).fit(split.train)
        return fitted[key]

    table: dict[str, list[dict[str, Any]]] = {}
    groups: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    curves: dict[str, dict[str, list[float]]] = {}
    for scenario in SCENARIOS:
        evalset = build_evalset(split, scenario)
        rows = []
        candidates = dict(tuning.best.get(scenario) or {name: {} for name in GRIDS})
        chosen = tuning.choice.get(scenario)
        hybrid = bool(chosen and chosen["model"] == "hybrid")
        report.phase(f"testing {scenario}", total=len(candidates) + hybrid)
        for done, (name, config) in enumerate(candidates.items()):
            report.update(done, name)
            rows.append({"model": name, **evaluate(model_for(name, config), evalset, full=True)})
        if chosen and hybrid:
            report.update(len(candidates), "hybrid (chosen)")
            model = model_for("hybrid", chosen["config"])
            lists = recommend_lists(model, evalset)
            rows.append({"model": "hybrid (chosen)", **score_lists(lists, evalset, full=True)})
        elif chosen:
            model = model_for(chosen["model"], chosen["config"])
            lists = recommend_lists(model, evalset)
        else:
            lists = {}
        report.update(len(candidates) + hybrid)
        rows.sort(key=lambda r: -r["ndcg"])
        table[scenario] = rows
        if lists:
            groups[scenario] = {
                kind: metrics.by_group(lists, evalset.truth, members)
                for kind, members in groups_of(evalset).items()
            }
            curves[scenario] = _popularity_curve(lists, evalset.train)
    return {
        "split": {
            "train_until": from_ms(start - 1).isoformat(),
            "test_from": from_ms(start).isoformat(),
            "test_until": from_ms(dataset.as_of_ms).isoformat(),
            "valid_days": valid_days,
        },
        "chosen": tuning.choice,
        "validation": tuning.validation,
        "notes": tuning.notes,
        "table": table,
        "groups": groups,
        "popularity_curve": curves,
    }


def _popularity_curve(lists: dict[int, list[int]], train: Dataset) -> dict[str, list[float]]:
    """Share of recommendations and of training interactions per item-popularity decile."""
    counts = np.bincount(train.events["item_idx"].to_numpy(), minlength=train.n_items)
    order = np.argsort(-counts, kind="stable")
    deciles = np.array_split(order, 10)
    recommended = np.bincount(
        np.asarray([i for items in lists.values() for i in items], dtype=np.int64),
        minlength=train.n_items,
    )
    total_rec = max(int(recommended.sum()), 1)
    total_int = max(int(counts.sum()), 1)
    return {
        "recommendations": [float(recommended[d].sum() / total_rec) for d in deciles],
        "interactions": [float(counts[d].sum() / total_int) for d in deciles],
    }


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    return text[text.find("<svg") :]


def _bar_chart(rows: list[dict[str, Any]], metric: str, title: str) -> str:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 2.8))
    axis = figure.add_subplot()
    names = [r["model"] for r in rows]
    axis.barh(names[::-1], [r[metric] for r in rows][::-1], color="#3b6ea5")
    axis.set_title(title)
    axis.set_xlabel(metric)
    return _svg(figure)


def _curve_chart(curve: dict[str, list[float]], title: str) -> str:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 2.8))
    axis = figure.add_subplot()
    x = np.arange(1, 11)
    axis.plot(x, curve["interactions"], marker="o", label="training interactions")
    axis.plot(x, curve["recommendations"], marker="s", label="recommendations")
    axis.set_xlabel("item popularity decile (1 = most popular)")
    axis.set_ylabel("share")
    axis.set_title(title)
    axis.legend()
    return _svg(figure)


def write_html(result: dict[str, Any], path: Path) -> None:
    """A self-contained HTML report: tables, metric charts, popularity bias, per group."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>storewise evaluation</title><style>body{font-family:sans-serif;margin:2em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}"
        "</style></head><body><h1>storewise evaluation</h1>",
        f"<p>Split: {html.escape(json.dumps(result['split']))}</p>",
        *(f"<p>Note: {html.escape(note)}</p>" for note in result.get("notes", [])),
    ]
    keys = (
        "ndcg",
        "recall",
        "precision",
        "map",
        "hit_rate",
        "mrr",
        "coverage",
        "novelty",
        "arp",
        "long_tail_share",
        "gini",
        "miscalibration",
    )
    for scenario, rows in result["table"].items():
        parts.append(f"<h2>{html.escape(scenario)}</h2><table><tr><th>model</th>")
        parts.extend(f"<th>{k}</th>" for k in keys)
        parts.append("</tr>")
        for row in rows:
            parts.append(f"<tr><td>{html.escape(row['model'])}</td>")
            parts.extend(f"<td>{row.get(k, 0.0):.4f}</td>" for k in keys)
            parts.append("</tr>")
        parts.append("</table>")
        parts.append(_bar_chart(rows, "ndcg", f"NDCG@10, {scenario}"))
        parts.append(_bar_chart(rows, "coverage", f"catalog coverage, {scenario}"))
        curve = result["popularity_curve"].get(scenario)
        if curve:
            parts.append(_curve_chart(curve, f"popularity bias, {scenario}"))
        for kind, by in result["groups"].get(scenario, {}).items():
            parts.append(
                f"<h3>per {html.escape(kind)}</h3><table><tr><th>group</th>"
                "<th>users</th><th>NDCG@10</th><th>recall</th><th>hit rate</th></tr>"
            )
            for group, figures in sorted(by.items(), key=lambda kv: -kv[1]["users"])[:15]:
                parts.append(
                    f"<tr><td>{html.escape(str(group))}</td><td>{figures['users']}</td>"
                    f"<td>{figures['ndcg']:.4f}</td><td>{figures['recall']:.4f}</td>"
                    f"<td>{figures['hit_rate']:.4f}</td></tr>"
                )
            parts.append("</table>")
    parts.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(parts), encoding="utf-8")
