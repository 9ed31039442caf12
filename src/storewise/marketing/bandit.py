"""Offers without campaign history: a Thompson-sampling bandit and off-policy evaluation.

:class:`ThompsonBandit` keeps a Beta(successes + prior, failures + prior) posterior of each
offer's response rate (optionally one per customer segment), shows the offer whose sampled rate
is highest, and learns from each outcome. Its whole state, random generator included, is plain
JSON so it survives restarts without pickle.

:func:`evaluate_policy` estimates what a new policy would have earned from data logged under
an old one (with the logged propensities): inverse propensity scoring (IPS), self-normalised IPS
(SNIPS) and doubly robust (DR, Dudik, Langford & Li 2011), computed by the estimators shared
with experiments (:func:`storewise.experiments.offpolicy.off_policy_value`).

>>> bandit = ThompsonBandit(["no offer", "free shipping"], seed=1)
>>> bandit.update("free shipping", 1.0)
>>> restored = ThompsonBandit.from_json(bandit.to_json())
>>> restored.choose() == bandit.choose()
True
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression, Ridge

from storewise.errors import InputError, NotFound
from storewise.experiments.offpolicy import off_policy_value

FloatArray = npt.NDArray[np.float64]
_STATE_VERSION = 1
_GLOBAL = "*"


class ThompsonBandit:
    """Beta-Bernoulli Thompson sampling over named offers, optionally per customer segment."""

    def __init__(
        self,
        offers: Sequence[str],
        *,
        seed: int = 0,
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
        per_segment: bool = False,
    ) -> None:
        names = [str(o) for o in offers]
        if len(names) < 2:
            raise InputError("a bandit needs at least two offers to choose between")
        if len(set(names)) != len(names):
            raise InputError(f"offer names must be unique, got {names}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InputError(f"seed must be a non-negative integer, got {seed!r}")
        if not (prior_alpha > 0 and prior_beta > 0):
            raise InputError("prior_alpha and prior_beta must be positive")
        self.offers: tuple[str, ...] = tuple(names)
        self.prior_alpha = float(prior_alpha)
        self.prior_beta = float(prior_beta)
        self.per_segment = per_segment
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        # segment -> [successes per offer, failures per offer]
        self._counts: dict[str, list[list[float]]] = {}

    def _key(self, segment: str | None) -> str:
        if self.per_segment:
            if segment is None or not str(segment):
                raise InputError("this bandit learns per segment; pass segment=...")
            return str(segment)
        if segment is not None:
            raise InputError("this bandit is not per segment; do not pass segment")
        return _GLOBAL

    def _index(self, offer: str) -> int:
        try:
            return self.offers.index(offer)
        except ValueError:
            raise NotFound(
                f"unknown offer {offer!r}; the bandit's offers are: {', '.join(self.offers)}",
                details={"offer": offer, "valid": list(self.offers)},
            ) from None

    def _posterior(self, key: str) -> tuple[FloatArray, FloatArray]:
        counts = self._counts.get(key)
        k = len(self.offers)
        wins = np.asarray(counts[0] if counts else [0.0] * k, dtype=np.float64)
        losses = np.asarray(counts[1] if counts else [0.0] * k, dtype=np.float64)
        return wins + self.prior_alpha, losses + self.prior_beta

    def choose(self, segment: str | None = None) -> str:
        """Draw each offer's rate from its posterior and return the offer with the highest draw."""
        alpha, beta = self._posterior(self._key(segment))
        return self.offers[int(np.argmax(self._rng.beta(alpha, beta)))]

    def action_probabilities(
        self, segment: str | None = None, *, n_samples: int = 4000
    ) -> dict[str, float]:
        """Each offer's chance of being chosen now (Monte Carlo), the propensity to log with it.

        Samples from a copy of the generator, so asking does not change later choices.
        """
        alpha, beta = self._posterior(self._key(segment))
        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = self._rng.bit_generator.state
        draws = rng.beta(alpha, beta, size=(n_samples, alpha.size))
        share = np.bincount(np.argmax(draws, axis=1), minlength=alpha.size) / n_samples
        return {o: float(p) for o, p in zip(self.offers, share, strict=True)}

    def update(self, offer: str, reward: float, segment: str | None = None) -> None:
        """Record one outcome of showing ``offer``: reward 1 (took it), 0 (did not) or a share."""
        if not 0.0 <= float(reward) <= 1.0:
            raise InputError(f"reward must be between 0 and 1, got {reward}")
        key = self._key(segment)
        i = self._index(offer)
        counts = self._counts.setdefault(key, [[0.0] * len(self.offers), [0.0] * len(self.offers)])
        counts[0][i] += float(reward)
        counts[1][i] += 1.0 - float(reward)

    def posterior(self, segment: str | None = None) -> dict[str, tuple[float, float]]:
        """Each offer's Beta (alpha, beta) posterior, for dashboards and tests."""
        alpha, beta = self._posterior(self._key(segment))
        return {o: (float(a), float(b)) for o, a, b in zip(self.offers, alpha, beta, strict=True)}

    def to_json(self) -> str:
        """The whole state as JSON (offers, priors, counts and the generator state); no pickle."""
        return json.dumps(
            {
                "version": _STATE_VERSION,
                "offers": list(self.offers),
                "prior_alpha": self.prior_alpha,
                "prior_beta": self.prior_beta,
                "per_segment": self.per_segment,
                "seed": self.seed,
                "counts": self._counts,
                "rng": self._rng.bit_generator.state,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ThompsonBandit:
        """Restore a bandit saved with :meth:`to_json`; InputError when the JSON is not one."""
        try:
            state = json.loads(text)
            if state.get("version") != _STATE_VERSION:
                raise InputError(f"unsupported bandit state version {state.get('version')!r}")
            bandit = cls(
                state["offers"],
                seed=int(state["seed"]),
                prior_alpha=float(state["prior_alpha"]),
                prior_beta=float(state["prior_beta"]),
                per_segment=bool(state["per_segment"]),
            )
            k = len(bandit.offers)
            counts: dict[str, list[list[float]]] = {}
            for key, pair in dict(state["counts"]).items():
                wins, losses = ([float(v) for v in pair[0]], [float(v) for v in pair[1]])
                if len(wins) != k or len(losses) != k or min(wins + losses) < 0:
                    raise InputError(f"bandit state counts for {key!r} do not match the offers")
                counts[str(key)] = [wins, losses]
            bandit._counts = counts
            rng_state = state["rng"]
            if rng_state.get("bit_generator") != "PCG64":
                raise InputError("bandit state has an unknown random generator")
            bandit._rng.bit_generator.state = rng_state
        except InputError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise InputError(f"not a valid bandit state: {exc}") from exc
        return bandit


@dataclass(frozen=True)
class PolicyValue:
    """Off-policy estimates of a target policy's mean reward per decision, with diagnostics."""

    ips: float
    snips: float
    dr: float
    logged_value: float
    n: int
    effective_sample_size: float
    max_weight: float


def _action_index(actions: Sequence[Any], names: Sequence[str]) -> npt.NDArray[np.int64]:
    lookup = {str(n): i for i, n in enumerate(names)}
    unknown = sorted({str(a) for a in actions} - set(lookup))
    if unknown:
        raise InputError(
            f"logged actions {unknown} are not among the policy's actions {list(names)}"
        )
    return np.fromiter((lookup[str(a)] for a in actions), dtype=np.int64, count=len(actions))


def deterministic_policy(chosen: Sequence[Any], action_names: Sequence[str]) -> FloatArray:
    """One-hot target probabilities (rows x actions) of a policy that picks ``chosen[i]``."""
    idx = _action_index(chosen, action_names)
    out = np.zeros((idx.size, len(action_names)), dtype=np.float64)
    out[np.arange(idx.size), idx] = 1.0
    return out


def evaluate_policy(
    actions: Sequence[Any],
    rewards: Any,
    propensities: Any,
    target: Any,
    action_names: Sequence[str],
    *,
    reward_estimates: Any = None,
) -> PolicyValue:
    """IPS, SNIPS and doubly robust value of a target policy from logged decisions.

    ``propensities[i]`` is the logging policy's probability of the logged action ``actions[i]``;
    ``target`` (rows x actions) the new policy's probabilities. ``reward_estimates`` (rows x
    actions) is the direct model DR uses; without one DR falls back to each action's mean
    logged reward, see :func:`fit_reward_model` for a better one.
    """
    a = _action_index(actions, action_names)
    r = np.asarray(rewards, dtype=np.float64).ravel()
    p = np.asarray(propensities, dtype=np.float64).ravel()
    pi = np.asarray(target, dtype=np.float64)
    n, k = a.size, len(action_names)
    if n == 0:
        raise InputError("no logged decisions to evaluate")
    if r.size != n or p.size != n:
        raise InputError(
            f"actions, rewards and propensities lengths differ: {n}, {r.size}, {p.size}"
        )
    if pi.shape != (n, k):
        raise InputError(f"target must have shape (rows, actions) = {(n, k)}, got {pi.shape}")
    if not (np.isfinite(r).all() and np.isfinite(p).all() and np.isfinite(pi).all()):
        raise InputError("rewards, propensities and target probabilities must be finite")
    if (p <= 0).any() or (p > 1).any():
        raise InputError("logged propensities must be in (0, 1]")
    if (pi < 0).any() or np.abs(pi.sum(axis=1) - 1.0).max() > 1e-6:
        raise InputError("each row of target must be probabilities summing to 1")
    if reward_estimates is None:
        means = np.array([r[a == j].mean() if (a == j).any() else r.mean() for j in range(k)])
        q = np.tile(means, (n, 1))
    else:
        q = np.asarray(reward_estimates, dtype=np.float64)
        if q.shape != (n, k) or not np.isfinite(q).all():
            raise InputError(f"reward_estimates must be finite with shape {(n, k)}")
    w = pi[np.arange(n), a] / p
    value = off_policy_value(w, r, dm_target=(pi * q).sum(axis=1), dm_logged=q[np.arange(n), a])
    assert value.dr is not None
    return PolicyValue(
        ips=value.ips.value, snips=value.snips.value, dr=value.dr.value,
        logged_value=value.logged_value, n=n,
        effective_sample_size=value.effective_sample_size, max_weight=value.max_weight,
    )  # fmt: skip


def fit_reward_model(
    features: Any,
    actions: Sequence[Any],
    rewards: Any,
    action_names: Sequence[str],
    *,
    folds: int = 2,
    seed: int = 0,
) -> FloatArray:
    """Cross-fitted per-action reward predictions (rows x actions) for the DR estimator.

    Logistic regression for 0/1 rewards, ridge otherwise; each row is predicted by models that
    did not see it, which keeps the DR estimate unbiased by overfitting.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    a = _action_index(actions, action_names)
    r = np.asarray(rewards, dtype=np.float64).ravel()
    if x.shape[0] != a.size or r.size != a.size:
        raise InputError("features, actions and rewards must have one row per logged decision")
    if folds < 2:
        raise InputError("folds must be at least 2")
    binary = bool(np.isin(np.unique(r), [0.0, 1.0]).all())
    fold = np.random.default_rng(seed).integers(0, folds, size=a.size)
    out = np.empty((a.size, len(action_names)), dtype=np.float64)
    for f in range(folds):
        train, test = fold != f, fold == f
        for j in range(len(action_names)):
            rows = train & (a == j)
            target = r[rows]
            if target.size == 0:
                out[test, j] = r[train].mean() if train.any() else r.mean()
            elif np.unique(target).size < 2:
                out[test, j] = target[0]
            elif binary:
                clf = LogisticRegression(max_iter=2000).fit(x[rows], target.astype(np.int64))
                out[test, j] = clf.predict_proba(x[test])[:, 1]
            else:
                out[test, j] = Ridge(alpha=1.0).fit(x[rows], target).predict(x[test])
    return out
