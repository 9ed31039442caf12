"""List rules without a model: exposure caps, the long-tail boost, calibration, placements."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from storewise.errors import ConfigError
from storewise.evaluate.metrics import miscalibration
from storewise.recommend.base import HISTORY_SCHEMA, History, top_n
from storewise.recommend.rules import (
    Catalog,
    RuleSet,
    calibration_target,
    head_mask,
    placement_rules,
    rerank,
    select,
    under,
)

# 12 items: categories a/b/c in turn, brands x (0-5) and y (6-11), scores falling with the index
CATEGORIES = ["a", "b", "c"] * 4
BRANDS = ["x"] * 6 + ["y"] * 6


def catalog() -> Catalog:
    items = pl.DataFrame(
        {
            "item_id": [f"i{n}" for n in range(12)],
            "title": [f"item {n}" for n in range(12)],
            "category": CATEGORIES,
            "brand": BRANDS,
            "in_stock": [True] * 12,
        }
    )
    return Catalog.from_items(np.asarray([f"i{n}" for n in range(12)]), items)


def ranked(n: int = 12) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(n, dtype=np.int64), np.linspace(1.0, 0.1, n)


def history(items: list[int]) -> History:
    frame = pl.DataFrame(
        {
            "item_idx": items,
            "event_type": ["purchase"] * len(items),
            "quantity": [1.0] * len(items),
            "ts": [1_700_000_000_000] * len(items),
            "order_id": ["o1"] * len(items),
            "value": [None] * len(items),
        },
        schema=HISTORY_SCHEMA,
    )
    return History(frame, 1_700_000_000_000)


def test_knobs_off_keep_the_ranking() -> None:
    """No rule set: the best n candidates in order, untouched (today's answers)."""
    candidates, scores = ranked()
    chosen, values = rerank(candidates, scores, 5, RuleSet(), catalog(), head=np.ones(12, bool))
    assert chosen.tolist() == [0, 1, 2, 3, 4] and values.tolist() == scores[:5].tolist()
    plain = np.asarray([0.3, 0.9, -np.inf, 0.5, 0.9, 0.1] * 2)
    plain[6:] -= 1.0
    empty = np.empty(0, np.int64)
    picked, _ = select(plain, 3, RuleSet(in_stock_only=False), catalog(), purchased=empty)
    assert picked.tolist() == top_n(plain, 3)[0].tolist() == [1, 4, 3]


def test_brand_and_category_caps() -> None:
    """At most k of one brand and of one category; both caps hold together."""
    candidates, scores = ranked()
    chosen, _ = rerank(candidates, scores, 6, RuleSet(max_per_brand=2), catalog())
    assert chosen.tolist() == [0, 1, 6, 7]  # two of x, two of y: nothing else is allowed
    both, _ = rerank(candidates, scores, 6, RuleSet(max_per_brand=3, max_per_category=1), catalog())
    brands = [BRANDS[i] for i in both]
    assert max(brands.count(b) for b in set(brands)) <= 3
    assert len({CATEGORIES[i] for i in both}) == len(both) == 3


def test_head_is_the_items_making_a_fifth_of_interactions() -> None:
    """The head is the shortest most-popular prefix reaching 20% of interactions."""
    popularity = np.asarray([50.0, 30.0, 10.0, 5.0, 5.0, 0.0, 100.0])
    head = head_mask(popularity)  # total 200: item 6 alone makes 50%
    assert np.flatnonzero(head).tolist() == [6]
    assert np.flatnonzero(head_mask(popularity, 0.6)).tolist() == [0, 6]
    assert not head_mask(np.zeros(3)).any()


def test_long_tail_boost_promotes_tail_items_in_proportion() -> None:
    """0 changes nothing; a small boost lifts close tail items; 1 puts the tail first."""
    candidates, scores = ranked()
    head = np.zeros(12, dtype=bool)
    head[:6] = True
    off, _ = rerank(candidates, scores, 6, RuleSet(long_tail_boost=0.0), catalog(), head=head)
    assert off.tolist() == list(range(6))
    some, _ = rerank(candidates, scores, 6, RuleSet(long_tail_boost=0.3), catalog(), head=head)
    full, _ = rerank(candidates, scores, 6, RuleSet(long_tail_boost=1.0), catalog(), head=head)
    tail_share = [float(np.mean(~head[x])) for x in (off, some, full)]
    assert tail_share[0] < tail_share[1] < tail_share[2] == 1.0
    assert some[0] == 0  # the best item still leads: a 0.3 lift does not beat a 0.7 lead
    no_head, _ = rerank(candidates, scores, 6, RuleSet(long_tail_boost=1.0), catalog())
    assert no_head.tolist() == list(range(6))  # without a head nothing is promoted


def test_calibration_follows_the_customers_category_mix() -> None:
    """The customer bought only category c: more calibration, more c, lower KL (Steck)."""
    cat = catalog()
    target = calibration_target(history([2, 5]), cat.categories)
    assert target == {"c": 1.0}
    candidates, scores = ranked()
    kls = []
    for strength in (0.0, 0.3, 1.0):
        chosen, _ = rerank(candidates, scores, 4, RuleSet(calibration=strength), cat, target=target)
        kls.append(miscalibration(["c", "c"], [CATEGORIES[i] for i in chosen]))
        if strength == 0.0:
            assert chosen.tolist() == [0, 1, 2, 3]
    assert kls[0] > kls[1] >= kls[2]
    assert math.isclose(kls[2], 0.0, abs_tol=1e-9)  # four items of c: exactly the mix


def test_calibration_matches_a_mixed_target_proportionally() -> None:
    """A 50/50 mix of a and b gives a list half a, half b at full calibration."""
    cat = catalog()
    candidates, scores = ranked()
    target = {"a": 0.5, "b": 0.5}
    chosen, _ = rerank(candidates, scores, 4, RuleSet(calibration=1.0), cat, target=target)
    assert sorted(CATEGORIES[i] for i in chosen) == ["a", "a", "b", "b"]
    assert calibration_target(History.empty(0), cat.categories) == {}


def test_fairness_knobs_look_deeper_than_the_top_fifty() -> None:
    """A long-tail boost can reach past the first 50 candidates; plain lists cannot."""
    n_items = 300
    ids = np.asarray([f"i{n}" for n in range(n_items)])
    cat = Catalog.from_items(ids, pl.DataFrame({"item_id": ids.tolist()}))
    scores = np.linspace(1.0, 0.0, n_items)
    head = np.ones(n_items, dtype=bool)
    head[150] = False
    empty = np.empty(0, np.int64)
    plain, _ = select(scores, 10, RuleSet(), cat, purchased=empty, head=head)
    boosted, _ = select(scores, 10, RuleSet(long_tail_boost=1.0), cat, purchased=empty, head=head)
    assert 150 not in plain.tolist() and boosted[0] == 150


def test_placement_defaults_sit_under_explicit_rules() -> None:
    """A placement's defaults fill what the request leaves unset; explicit values win."""
    defaults = placement_rules({"for-you": {"long_tail_boost": 0.2, "max_per_brand": 3}})["for-you"]
    merged = under(defaults, RuleSet(max_per_brand=5, diversity=0.1))
    assert (merged.long_tail_boost, merged.max_per_brand, merged.diversity) == (0.2, 5, 0.1)
    assert under(defaults, None) == defaults == under(defaults, RuleSet())
    assert under(defaults, RuleSet(long_tail_boost=0.0)).long_tail_boost == 0.0
    assert under(None, None) == RuleSet()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"homepage": {"diversity": 0.2}}, "unknown placement 'homepage'"),
        ({"trending": {"long_tail_boost": 2}}, "placements.trending: long_tail_boost"),
        ({"similar": {"max_per_colour": 2}}, "max_per_colour"),
    ],
)
def test_bad_placement_settings_are_refused_with_their_name(
    settings: dict[str, dict[str, float]], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        placement_rules(settings)
