"""Evaluation truth: what a customer bought or liked after the cut, among known items."""

from __future__ import annotations

import polars as pl

from storewise.data.dataset import Dataset
from storewise.data.split import temporal_split
from storewise.evaluate.protocol import build_evalset

DAY = 86_400_000


def test_liked_ratings_are_hits_and_rated_items_are_not_new() -> None:
    rows = [
        ("u1", "a", "rating", 5.0, 1),
        ("u1", "b", "rating", 2.0, 2),
        ("u2", "a", "purchase", None, 3),
        ("u2", "c", "rating", 4.0, 4),
        ("u1", "c", "rating", 4.0, 20),  # liked after the cut: a hit
        ("u1", "b", "rating", 5.0, 21),  # rated before: not new for discovery
        ("u2", "b", "rating", 3.0, 22),  # not liked: no hit
        ("u2", "a", "purchase", None, 23),
    ]
    events = pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "item_id": [r[1] for r in rows],
            "event_type": [r[2] for r in rows],
            "value": [r[3] for r in rows],
            "ts": [r[4] * DAY for r in rows],
        }
    )
    split = temporal_split(Dataset.from_frames(events), 10 * DAY)
    ids = split.train.item_ids

    def named(truth: dict[int, set[int]]) -> dict[str, set[str]]:
        return {split.train.customer_ids[c]: {ids[i] for i in t} for c, t in truth.items()}

    assert named(build_evalset(split, "discovery").truth) == {"u1": {"c"}}
    assert named(build_evalset(split, "repurchase").truth) == {"u1": {"b", "c"}, "u2": {"a"}}
