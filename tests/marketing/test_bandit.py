"""Tests of the Thompson-sampling bandit and the off-policy estimators."""

from __future__ import annotations

import json

import numpy as np
import pytest

from storewise.errors import InputError, NotFound
from storewise.marketing.bandit import (
    ThompsonBandit,
    deterministic_policy,
    evaluate_policy,
    fit_reward_model,
)

OFFERS = ["no offer", "10% off", "free shipping"]


def _run(bandit: ThompsonBandit, rates: dict[str, float], rounds: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    shown = []
    for _ in range(rounds):
        offer = bandit.choose()
        bandit.update(offer, float(rng.random() < rates[offer]))
        shown.append(offer)
    return shown


def test_learns_the_best_offer() -> None:
    bandit = ThompsonBandit(OFFERS, seed=0)
    shown = _run(bandit, {"no offer": 0.05, "10% off": 0.10, "free shipping": 0.20}, 3000, seed=1)
    late = shown[-500:]
    assert late.count("free shipping") / len(late) > 0.85
    alpha, beta = bandit.posterior()["free shipping"]
    assert alpha / (alpha + beta) == pytest.approx(0.20, abs=0.03)


def test_same_seed_same_choices() -> None:
    rates = {"no offer": 0.3, "10% off": 0.35, "free shipping": 0.32}
    a = _run(ThompsonBandit(OFFERS, seed=5), rates, 200, seed=2)
    b = _run(ThompsonBandit(OFFERS, seed=5), rates, 200, seed=2)
    c = _run(ThompsonBandit(OFFERS, seed=6), rates, 200, seed=2)
    assert a == b and a != c


def test_json_round_trip_continues_the_same_stream() -> None:
    bandit = ThompsonBandit(OFFERS, seed=3, per_segment=True, prior_alpha=2.0)
    for i in range(50):
        bandit.update(OFFERS[i % 3], float(i % 2), segment="vip" if i % 4 else "new")
    text = bandit.to_json()
    state = json.loads(text)  # plain JSON, no pickle
    assert state["offers"] == OFFERS and set(state["counts"]) == {"vip", "new"}
    restored = ThompsonBandit.from_json(text)
    assert restored.posterior(segment="vip") == bandit.posterior(segment="vip")
    assert [restored.choose("vip") for _ in range(30)] == [bandit.choose("vip") for _ in range(30)]


def test_corrupt_state_is_an_input_error() -> None:
    good = json.loads(ThompsonBandit(OFFERS).to_json())
    for bad in ("not json", json.dumps({**good, "version": 99}),
                json.dumps({**good, "counts": {"*": [[1.0], [1.0]]}}),
                json.dumps({k: v for k, v in good.items() if k != "rng"})):  # fmt: skip
        with pytest.raises(InputError):
            ThompsonBandit.from_json(bad)


def test_segments_learn_separately() -> None:
    bandit = ThompsonBandit(["a", "b"], seed=0, per_segment=True)
    for _ in range(200):
        bandit.update("a", 1.0, segment="s1")
        bandit.update("b", 0.0, segment="s1")
        bandit.update("a", 0.0, segment="s2")
        bandit.update("b", 1.0, segment="s2")
    assert bandit.choose("s1") == "a" and bandit.choose("s2") == "b"
    assert bandit.posterior("fresh") == {"a": (1.0, 1.0), "b": (1.0, 1.0)}
    with pytest.raises(InputError, match="per segment"):
        bandit.choose()


def test_action_probabilities_do_not_move_the_generator() -> None:
    bandit = ThompsonBandit(OFFERS, seed=9)
    twin = ThompsonBandit(OFFERS, seed=9)
    probs = bandit.action_probabilities()
    assert sum(probs.values()) == pytest.approx(1.0)
    assert [bandit.choose() for _ in range(10)] == [twin.choose() for _ in range(10)]


def test_bad_arguments() -> None:
    bandit = ThompsonBandit(OFFERS)
    with pytest.raises(NotFound, match="free shipping"):
        bandit.update("20% off", 1.0)
    with pytest.raises(InputError, match="between 0 and 1"):
        bandit.update("10% off", 2.0)
    with pytest.raises(InputError, match="not per segment"):
        bandit.choose(segment="vip")
    with pytest.raises(InputError, match="two offers"):
        ThompsonBandit(["only"])
    with pytest.raises(InputError, match="unique"):
        ThompsonBandit(["a", "a"])


def _logged(n: int, seed: int) -> dict[str, np.ndarray]:
    """Contexts x, a known reward model, and a context-dependent random logging policy."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    logits = np.column_stack([np.zeros(n), 0.8 * x[:, 0], -0.5 * x[:, 1]])
    logging = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    true_rate = 1 / (1 + np.exp(-np.column_stack([-1.5 + 0 * x[:, 0], -1.0 + x[:, 0],
                                                  -0.5 - x[:, 1]])))  # fmt: skip
    action = (logging.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    reward = (rng.random(n) < true_rate[np.arange(n), action]).astype(float)
    return {"x": x, "logging": logging, "rate": true_rate, "action": action, "reward": reward}


def test_estimators_recover_a_known_policy_value() -> None:
    data = _logged(30_000, seed=4)
    names = ["none", "discount", "shipping"]
    # target: discount when x0 > 0, else shipping
    chosen = np.where(data["x"][:, 0] > 0, 1, 2)
    truth = float(data["rate"][np.arange(chosen.size), chosen].mean())
    actions = [names[a] for a in data["action"]]
    propensity = data["logging"][np.arange(chosen.size), data["action"]]
    target = deterministic_policy([names[c] for c in chosen], names)
    plain = evaluate_policy(actions, data["reward"], propensity, target, names)
    model = fit_reward_model(data["x"], actions, data["reward"], names)
    robust = evaluate_policy(actions, data["reward"], propensity, target, names,
                             reward_estimates=model)  # fmt: skip
    assert plain.ips == pytest.approx(truth, abs=0.02)
    assert plain.snips == pytest.approx(truth, abs=0.02)
    assert plain.dr == pytest.approx(truth, abs=0.02)
    assert robust.dr == pytest.approx(truth, abs=0.015)
    assert plain.n == 30_000 and 0 < plain.effective_sample_size < plain.n
    # the logging policy's own value is just the mean logged reward
    same = evaluate_policy(actions, data["reward"], propensity, data["logging"], names)
    assert same.ips == pytest.approx(same.logged_value, abs=0.02)


def test_estimator_inputs_are_checked() -> None:
    names = ["a", "b"]
    target = deterministic_policy(["a", "b"], names)
    with pytest.raises(InputError, match="not among"):
        evaluate_policy(["a", "c"], [1, 0], [0.5, 0.5], target, names)
    with pytest.raises(InputError, match=r"\(0, 1\]"):
        evaluate_policy(["a", "b"], [1, 0], [0.0, 0.5], target, names)
    with pytest.raises(InputError, match="summing to 1"):
        evaluate_policy(["a", "b"], [1, 0], [0.5, 0.5], target * 2, names)
    with pytest.raises(InputError, match="shape"):
        evaluate_policy(["a", "b"], [1, 0], [0.5, 0.5], target[:1], names)
    with pytest.raises(InputError, match="no logged"):
        evaluate_policy([], [], [], np.zeros((0, 2)), names)
