"""Off-policy evaluation: what a new policy would have earned, from data logged under the old.

The estimators take, for each logged impression ``i`` and slot ``k``, the importance weight
``w_ik = pi(a_ik at k | x_i) / mu(a_ik at k | x_i)`` of the shown item under the target policy
``pi`` against the logging policy ``mu``, and the observed reward ``r_ik`` (a click, a sale):

- **IPS** ``mean_i sum_k w_ik r_ik``;
- **SNIPS** ``sum_k (sum_i w_ik r_ik / sum_i w_ik)``, self-normalised per slot: a little bias
  for much less variance when weights are large;
- **doubly robust** ``mean_i [dm_i + sum_k w_ik (r_ik - q_ik)]`` with a reward model ``q``
  (``q_ik`` its prediction for the shown item, ``dm_i`` its value of the target's list):
  unbiased when either the propensities or the model are right (Dudik, Langford & Li 2011).

A list is handled with the item-position model (Li et al. 2018, "Offline evaluation of ranking
policies with click models"): a slot's reward depends on the item shown there and the slot
only, so each (impression, slot) is weighted by the logging propensity of the shown item at
that slot, and the value is the expected reward summed over slots. A single decision (an
offer, one recommended item) is the case of one slot. Standard errors are the sample standard
deviation of each impression's contribution (SNIPS: of its delta-method influence) over
``sqrt(n)``; intervals are normal. ``clip`` caps every weight (Ionides 2008), trading bias for
variance when the logging policy rarely showed what the target shows.

>>> logged = [["a", "b"], ["b", "a"], ["a", "b"], ["b", "a"]]
>>> value = evaluate_rankings(logged, [[1, 0], [0, 0], [1, 1], [0, 1]], [[0.5, 0.5]] * 4,
...                           [["a", "b"]] * 4)
>>> value.ips.value, value.snips.value
(1.5, 1.5)
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

from storewise.errors import InputError

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Estimate:
    """A policy value with its standard error and normal interval."""

    value: float
    standard_error: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class OffPolicyValue:
    """IPS, SNIPS and (with a reward model) doubly robust estimates, with weight diagnostics.

    ``effective_sample_size`` is Kish's ``(sum w)^2 / sum w^2`` over every weighted slot: far
    below the number of logged slots means a few impressions carry the estimate.
    """

    ips: Estimate
    snips: Estimate
    dr: Estimate | None
    n: int
    logged_value: float
    effective_sample_size: float
    max_weight: float
    clipped: int


def _estimate(value: float, contributions: FloatArray, z: float) -> Estimate:
    n = contributions.shape[0]
    se = float(contributions.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    return Estimate(float(value), se, float(value - z * se), float(value + z * se))


def _as_2d(name: str, value: Any, shape: tuple[int, ...] | None = None) -> FloatArray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise InputError(f"{name} must have one row per impression (and a column per slot)")
    if shape is not None and array.shape != shape:
        raise InputError(f"{name} has shape {array.shape}, expected {shape}")
    if not np.isfinite(array).all():
        raise InputError(f"{name} must be finite numbers")
    return array


def off_policy_value(
    weights: Any,
    rewards: Any,
    *,
    dm_target: Any = None,
    dm_logged: Any = None,
    clip: float | None = None,
    alpha: float = 0.05,
) -> OffPolicyValue:
    """IPS, SNIPS and DR from importance weights and rewards, each ``(impressions, slots)``.

    A slot left empty in an impression has weight and reward 0. ``dm_target`` (one value per
    impression) and ``dm_logged`` (per impression and slot) are the reward model's value of the
    target's list and its prediction for each shown item; DR is computed when both are given.
    """
    w = _as_2d("weights", weights)
    r = _as_2d("rewards", rewards, w.shape)
    n = w.shape[0]
    if n == 0:
        raise InputError("no logged impressions to evaluate")
    if (w < 0).any():
        raise InputError("importance weights must be non-negative")
    if clip is not None and not clip > 0:
        raise InputError(f"clip must be positive, got {clip}")
    if not 0.0 < alpha < 1.0:
        raise InputError(f"alpha must be between 0 and 1, got {alpha}")
    clipped = int((w > clip).sum()) if clip is not None else 0
    if clip is not None:
        w = np.minimum(w, clip)
    z = float(sps.norm.ppf(1.0 - alpha / 2.0))
    ips_i = (w * r).sum(axis=1)
    ips = _estimate(float(ips_i.mean()), ips_i, z)
    mean_w = w.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_slot = (w * r).sum(axis=0) / w.sum(axis=0)
        influence = (w * (r - per_slot) / mean_w).sum(axis=1)
    snips_value = float(per_slot.sum()) if (mean_w > 0).all() else float("nan")
    snips = _estimate(snips_value, influence, z)
    dr = None
    if (dm_target is None) != (dm_logged is None):
        raise InputError("doubly robust needs both dm_target and dm_logged")
    if dm_target is not None:
        target = _as_2d("dm_target", dm_target, (n, 1))[:, 0]
        logged = _as_2d("dm_logged", dm_logged, w.shape)
        dr_i = target + (w * (r - logged)).sum(axis=1)
        dr = _estimate(float(dr_i.mean()), dr_i, z)
    flat = w.ravel()
    ess = float(flat.sum() ** 2 / np.sum(flat**2)) if (flat > 0).any() else 0.0
    return OffPolicyValue(
        ips=ips, snips=snips, dr=dr, n=n, logged_value=float(r.sum(axis=1).mean()),
        effective_sample_size=ess, max_weight=float(flat.max()), clipped=clipped,
    )  # fmt: skip


def _padded(name: str, rows: Sequence[Sequence[Any]], width: int) -> FloatArray:
    out = np.zeros((len(rows), width), dtype=np.float64)
    for i, row in enumerate(rows):
        values = list(row)
        if len(values) > width:
            raise InputError(f"{name} of impression {i} has {len(values)} slots, more than shown")
        out[i, : len(values)] = values
    return out


def evaluate_rankings(
    shown: Sequence[Sequence[Hashable]],
    rewards: Sequence[Sequence[float]],
    logging_propensities: Sequence[Sequence[float]],
    target: Sequence[Sequence[Hashable]],
    *,
    q_logged: Sequence[Sequence[float]] | None = None,
    q_target: Sequence[float] | None = None,
    clip: float | None = None,
    alpha: float = 0.05,
) -> OffPolicyValue:
    """The value of a deterministic target ranker from logged lists, item-position model.

    Per impression: ``shown`` the logged list, ``rewards`` each slot's reward,
    ``logging_propensities`` the logging policy's probability of putting each shown item at
    its slot, ``target`` the list the target ranker would have shown. The target's propensity
    of a shown item at slot ``k`` is 1 when it puts that item there, else 0. For DR give
    ``q_logged`` (the reward model at each shown slot) and ``q_target`` (the model's value of
    the target's whole list).
    """
    n = len(shown)
    if not (len(rewards) == len(logging_propensities) == len(target) == n):
        raise InputError(
            f"shown, rewards, propensities and target lists differ in count: {n}, "
            f"{len(rewards)}, {len(logging_propensities)}, {len(target)}"
        )
    if n == 0:
        raise InputError("no logged impressions to evaluate")
    width = max(len(row) for row in shown)
    matches = np.zeros((n, width), dtype=np.float64)
    mu = np.ones((n, width), dtype=np.float64)
    for i in range(n):
        row = list(shown[i])
        props = [float(p) for p in logging_propensities[i]]
        if len(rewards[i]) != len(row) or len(props) != len(row):
            raise InputError(
                f"impression {i}: {len(row)} shown items but {len(rewards[i])} rewards and "
                f"{len(props)} propensities"
            )
        if any(not (0.0 < p <= 1.0) for p in props):
            raise InputError(f"impression {i}: logging propensities must be in (0, 1], got {props}")
        wanted = list(target[i])
        for k, item in enumerate(row):
            matches[i, k] = float(k < len(wanted) and wanted[k] == item)
            mu[i, k] = props[k]
    r = _padded("rewards", rewards, width)
    dm_logged = None if q_logged is None else _padded("q_logged", q_logged, width)
    return off_policy_value(
        matches / mu, r, dm_target=q_target, dm_logged=dm_logged, clip=clip, alpha=alpha
    )
