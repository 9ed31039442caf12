"""Team-draft interleaving: fair by construction, and the ranker users prefer wins."""

from __future__ import annotations

import numpy as np
import pytest

from storewise.errors import InputError
from storewise.experiments.interleave import analyze_interleaving, team_draft

CATALOG = [f"i{k}" for k in range(30)]


def test_same_seed_same_list_and_every_item_once() -> None:
    a, b = CATALOG[:10], CATALOG[5:15]
    first = team_draft(a, b, rng=3)
    assert first == team_draft(a, b, rng=3)
    assert len(set(first.items)) == len(first.items) == 15
    assert {team_draft(a, b, rng=seed).items for seed in range(20)} != {first.items}
    assert team_draft(a, b, rng=np.random.default_rng(3)) == first
    assert len(team_draft(a, b, rng=0, length=4).items) == 4


def test_each_ranker_places_half_of_every_prefix_at_its_own_order() -> None:
    rng = np.random.default_rng(1)
    first_picks = []
    for _ in range(2000):
        a = list(rng.permutation(CATALOG)[:10])
        b = list(rng.permutation(CATALOG)[:10])
        shown = team_draft(a, b, rng=rng, length=10)
        teams = np.array(shown.teams)
        share_a = np.cumsum(teams == 0) / np.arange(1, teams.size + 1)
        # both teams have picks left for 10 slots, so every even prefix is exactly half
        assert np.all(share_a[1::2] == 0.5)
        first_picks.append(shown.teams[0])
        for team, ranking in ((0, a), (1, b)):
            own = [item for item, t in zip(shown.items, shown.teams, strict=True) if t == team]
            assert own == sorted(own, key=ranking.index)
    assert np.mean(first_picks) == pytest.approx(0.5, abs=0.03)


def _simulate(
    rng: np.random.Generator, relevant: set[str], ranker_a: bool, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Users click relevant items with a position bias; ranker A knows the relevant items when
    ``ranker_a`` is true, ranker B is random."""
    clicks_a, clicks_b = [], []
    examine = 1.0 / np.log2(np.arange(2, 12))
    for _ in range(n):
        b = list(rng.permutation(CATALOG)[:10])
        if ranker_a:
            rest = [item for item in rng.permutation(CATALOG) if item not in relevant]
            a = (list(rng.permutation(sorted(relevant))) + rest)[:10]
        else:
            a = list(rng.permutation(CATALOG)[:10])
        shown = team_draft(a, b, rng=rng, length=10)
        looked = rng.random(10) < examine[: len(shown.items)]
        clicked = [item for item, saw in zip(shown.items, looked, strict=True)
                   if saw and item in relevant]  # fmt: skip
        ca, cb = shown.credit(clicked)
        clicks_a.append(ca)
        clicks_b.append(cb)
    return np.array(clicks_a), np.array(clicks_b)


def test_the_ranker_users_prefer_wins() -> None:
    rng = np.random.default_rng(5)
    relevant = set(CATALOG[:4])
    result = analyze_interleaving(*_simulate(rng, relevant, ranker_a=True, n=400))
    assert result.wins_a > 3 * result.wins_b
    assert result.preference_a > 0.75 and result.p_value < 1e-6 and result.delta > 0.2
    assert result.ci_low > 0.5


def test_two_equally_good_rankers_split_the_wins() -> None:
    rng = np.random.default_rng(6)
    result = analyze_interleaving(*_simulate(rng, set(CATALOG[:6]), ranker_a=False, n=2000))
    assert result.preference_a == pytest.approx(0.5, abs=0.05)
    assert result.p_value > 0.05
    assert result.wins_a + result.wins_b + result.ties == result.impressions == 2000


def test_bad_input() -> None:
    with pytest.raises(InputError, match="ranking B lists item 'x' twice"):
        team_draft(["a"], ["x", "y", "x"], rng=0)
    with pytest.raises(InputError, match="'z' was not in the interleaved list"):
        team_draft(["a"], ["b"], rng=0).credit(["z"])
    with pytest.raises(InputError, match="differ in length"):
        analyze_interleaving([1, 0], [1])
    with pytest.raises(InputError, match="non-negative"):
        analyze_interleaving([1, -1], [0, 0])
    none = analyze_interleaving([0, 0], [0, 0])
    assert none.ties == 2 and none.p_value == 1.0
