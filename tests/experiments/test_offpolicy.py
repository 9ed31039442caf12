"""Off-policy estimates of a ranker on simulated logs whose true value is known."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from storewise.errors import InputError
from storewise.experiments.offpolicy import evaluate_rankings, off_policy_value

SLOTS, PER_SLOT = 3, 5
EXAMINE = np.array([1.0, 0.6, 0.4])  # chance a user looks at each slot


class World:
    """Three slots, each filled from its own five items; clicks follow the item and the slot.

    The logging policy draws each slot's item from a softmax of the context mixed with 20%
    uniform exploration (so the propensity of an item at its slot is known exactly and never
    tiny); the target ranker puts each slot's most relevant item there.
    """

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.log_w = rng.normal(0, 0.8, (SLOTS, 2, PER_SLOT))
        self.rel_b = rng.normal(-1.0, 0.7, (SLOTS, PER_SLOT))
        self.rel_w = rng.normal(0, 0.8, (SLOTS, 2, PER_SLOT))

    def relevance(self, x: np.ndarray, k: int) -> np.ndarray:
        return np.asarray(1 / (1 + np.exp(-(self.rel_b[k] + x @ self.rel_w[k]))))

    def target(self, x: np.ndarray, k: int) -> np.ndarray:
        """The candidate ranker: each slot's most relevant item for the context."""
        return np.asarray(np.argmax(self.rel_b[k] + x @ self.rel_w[k], axis=-1))

    def truth(self, rng: np.random.Generator) -> float:
        x = rng.normal(size=(400_000, 2))
        value = 0.0
        for k in range(SLOTS):
            rel = self.relevance(x, k)
            value += EXAMINE[k] * rel[np.arange(len(x)), self.target(x, k)].mean()
        return float(value)

    def logs(self, rng: np.random.Generator, shape: tuple[int, int]) -> dict[str, Any]:
        """Logged impressions, shape (replications, impressions, slots) per field."""
        x = rng.normal(size=(*shape, 2))
        fields = ("shown", "target", "mu", "reward", "q", "q_t")
        out: dict[str, list[np.ndarray]] = {name: [] for name in fields}
        for k in range(SLOTS):
            logits = x @ self.log_w[k]
            probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
            probs = 0.8 * probs + 0.2 / PER_SLOT  # the logging policy explores
            shown = (probs.cumsum(axis=-1) < rng.random((*shape, 1))).sum(axis=-1)
            shown = np.minimum(shown, PER_SLOT - 1)
            rel = self.relevance(x, k)
            target = self.target(x, k)
            model = np.clip(rel + 0.05, 0, 1)  # a slightly wrong reward model, for DR
            pick = np.take_along_axis
            out["shown"].append(shown)
            out["target"].append(target)
            out["mu"].append(pick(probs, shown[..., None], -1)[..., 0])
            clicked = rng.random(shape) < EXAMINE[k] * pick(rel, shown[..., None], -1)[..., 0]
            out["reward"].append(clicked.astype(float))
            out["q"].append(EXAMINE[k] * pick(model, shown[..., None], -1)[..., 0])
            out["q_t"].append(EXAMINE[k] * pick(model, target[..., None], -1)[..., 0])
        return {key: np.stack(value, axis=-1) for key, value in out.items()}


def test_estimates_cover_the_true_value_of_another_policy() -> None:
    world = World(seed=0)
    truth = world.truth(np.random.default_rng(1))
    logs = world.logs(np.random.default_rng(2), (200, 2000))
    weights = (logs["shown"] == logs["target"]) / logs["mu"]
    covered = {"ips": 0, "snips": 0, "dr": 0}
    estimates: dict[str, list[float]] = {name: [] for name in covered}
    for rep in range(200):
        value = off_policy_value(weights[rep], logs["reward"][rep],
                                 dm_target=logs["q_t"][rep].sum(axis=1),
                                 dm_logged=logs["q"][rep])  # fmt: skip
        assert value.dr is not None
        for name, estimate in (("ips", value.ips), ("snips", value.snips), ("dr", value.dr)):
            covered[name] += estimate.ci_low <= truth <= estimate.ci_high
            estimates[name].append(estimate.value)
    for name in covered:
        assert covered[name] / 200 >= 0.9, (name, covered[name])
        assert np.mean(estimates[name]) == pytest.approx(truth, abs=0.01)
    # the logged policy's own value is far from the target's: the estimators did the work
    assert abs(logs["reward"].sum(axis=-1).mean() - truth) > 0.05
    # DR with a nearly right model is the most precise
    assert np.std(estimates["dr"]) < np.std(estimates["ips"])


def test_rankings_as_lists_give_the_same_estimates() -> None:
    world = World(seed=3)
    logs = world.logs(np.random.default_rng(4), (1, 300))
    names = np.array([[f"s{k}-{j}" for j in range(PER_SLOT)] for k in range(SLOTS)])

    def items(index: np.ndarray) -> list[list[str]]:
        return [[str(names[k, index[i, k]]) for k in range(SLOTS)] for i in range(len(index))]

    listed = evaluate_rankings(
        items(logs["shown"][0]), logs["reward"][0].tolist(), logs["mu"][0].tolist(),
        items(logs["target"][0]), q_logged=logs["q"][0].tolist(),
        q_target=logs["q_t"][0].sum(axis=1).tolist(),
    )  # fmt: skip
    direct = off_policy_value((logs["shown"][0] == logs["target"][0]) / logs["mu"][0],
                              logs["reward"][0], dm_target=logs["q_t"][0].sum(axis=1),
                              dm_logged=logs["q"][0])  # fmt: skip
    assert listed == direct


def test_clipping_caps_the_weights() -> None:
    rng = np.random.default_rng(9)
    w = rng.exponential(2.0, (500, 1)) ** 2
    r = rng.random((500, 1))
    plain = off_policy_value(w, r)
    clipped = off_policy_value(w, r, clip=5.0)
    assert clipped.max_weight == 5.0 and clipped.clipped == int((w > 5).sum()) > 0
    assert clipped.ips.standard_error < plain.ips.standard_error
    assert off_policy_value(w, r, clip=float(w.max())).ips == plain.ips
    # one slot: the textbook formulas
    assert plain.ips.value == pytest.approx(float(np.mean(w * r)))
    assert plain.snips.value == pytest.approx(float((w * r).sum() / w.sum()))


def test_bad_logs() -> None:
    with pytest.raises(InputError, match=r"propensities must be in \(0, 1\]"):
        evaluate_rankings([["a"]], [[1.0]], [[0.0]], [["a"]])
    with pytest.raises(InputError, match="1 shown items but 2 rewards"):
        evaluate_rankings([["a"]], [[1.0, 0.0]], [[0.5]], [["a"]])
    with pytest.raises(InputError, match="differ in count"):
        evaluate_rankings([["a"], ["b"]], [[1.0]], [[0.5]], [["a"]])
    with pytest.raises(InputError, match="shape"):
        off_policy_value(np.ones((3, 2)), np.ones((3, 1)))
    with pytest.raises(InputError, match="both dm_target and dm_logged"):
        off_policy_value(np.ones(3), np.ones(3), dm_target=np.ones(3))
    with pytest.raises(InputError, match="non-negative"):
        off_policy_value([-1.0, 1.0], [1.0, 1.0])
