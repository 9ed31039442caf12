"""Next-best offer: pick per customer the offer with the highest expected incremental value.

An offer's expected incremental value for a customer is what it adds in revenue minus what it
costs on the orders placed under it::

    p0      = P(order without an offer)          (baseline, e.g. UpliftModel.predict().baseline)
    p       = clip(p0 + uplift, 0, 1)             (with the offer)
    value   = uplift * order_value
              - cost_per_contact - p * (cost_per_order + discount * order_value)

The discount is paid on *every* order under the offer, including those the customer would have
placed anyway, so a loyal customer with no uplift gets a negative value and "no offer". A
customer whose best value is not positive gets :data:`NO_OFFER`.

The uplift models, Qini evaluation, bandit and off-policy estimators this builds on live in
:mod:`storewise.marketing.uplift` and :mod:`storewise.marketing.bandit` and are re-exported here.

>>> offers = [Offer(name="10% off", discount=0.10), Offer(name="free shipping", cost_per_order=4.0)]
>>> picks = next_best_offer(
...     ["loyal", "persuadable"], offers,
...     uplift={"10% off": [0.0, 0.20], "free shipping": [0.0, 0.05]},
...     baseline=[0.9, 0.1], order_value=50.0,
... )
>>> picks.get_column("offer").to_list()
['no offer', '10% off']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator

from storewise.errors import InputError
from storewise.marketing.bandit import (
    PolicyValue,
    ThompsonBandit,
    deterministic_policy,
    evaluate_policy,
    fit_reward_model,
)
from storewise.marketing.uplift import (
    QiniCurve,
    UpliftConfig,
    UpliftModel,
    UpliftPrediction,
    UpliftReport,
    ate_table,
    average_treatment_effect,
    qini_curve,
    stratified_split,
    uplift_at_k,
    uplift_report,
)

__all__ = [
    "NO_OFFER",
    "Offer",
    "PolicyValue",
    "QiniCurve",
    "ThompsonBandit",
    "UpliftConfig",
    "UpliftModel",
    "UpliftPrediction",
    "UpliftReport",
    "ate_table",
    "average_treatment_effect",
    "deterministic_policy",
    "evaluate_policy",
    "fit_reward_model",
    "next_best_offer",
    "offer_values",
    "qini_curve",
    "stratified_split",
    "uplift_at_k",
    "uplift_report",
]

#: The choice made when no offer has a positive expected incremental value.
NO_OFFER = "no offer"

FloatArray = npt.NDArray[np.float64]


class Offer(BaseModel):
    """An offer and what it costs: a discount share, a per-order cost and a per-contact cost."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200, description="unique offer name")
    discount: float = Field(0.0, ge=0.0, lt=1.0, description="share of order value given away")
    cost_per_order: float = Field(0.0, ge=0.0, description="paid on each order, e.g. shipping")
    cost_per_contact: float = Field(0.0, ge=0.0, description="paid per customer offered")
    description: str = Field("", max_length=1000, description="shown to marketers")

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value.casefold() == NO_OFFER:
            raise ValueError(f"{NO_OFFER!r} is reserved for choosing nothing")
        return value


def _vector(value: Any, n: int, *, what: str) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    arr = arr.ravel()
    if arr.size != n:
        raise InputError(f"{what} has {arr.size} values for {n} customers")
    if not np.isfinite(arr).all():
        raise InputError(f"{what} has missing or non-finite values")
    return arr


def offer_values(
    customer_ids: Sequence[str],
    offers: Sequence[Offer],
    *,
    uplift: Mapping[str, Any],
    baseline: Any,
    order_value: Any,
) -> pl.DataFrame:
    """Expected incremental value of every offer for every customer (long format).

    ``uplift[offer.name]`` is the predicted change in order probability per customer;
    ``baseline`` the order probability without an offer (one array, or one per offer name);
    ``order_value`` the expected order value (a number or one per customer). Columns:
    ``customer_id, offer, uplift, p_order, cost, incremental_revenue, expected_value``.
    """
    ids = [str(c) for c in customer_ids]
    n = len(ids)
    if n == 0:
        raise InputError("no customers to choose offers for")
    if not offers:
        raise InputError("no offers to choose from")
    names = [o.name for o in offers]
    if len(set(names)) != len(names):
        raise InputError(f"offer names must be unique, got {names}")
    unknown = sorted(set(uplift) - set(names))
    if unknown:
        raise InputError(f"uplift given for unknown offer(s) {unknown}; offers are {names}")
    value = _vector(order_value, n, what="order_value")
    if (value < 0).any():
        raise InputError("order_value must not be negative")
    frames: list[pl.DataFrame] = []
    for offer in offers:
        if offer.name not in uplift:
            raise InputError(
                f"offer {offer.name!r} has no uplift predictions: there is no data for it; "
                "train an uplift model on a campaign with this offer or use the bandit"
            )
        up = _vector(uplift[offer.name], n, what=f"uplift of {offer.name!r}")
        base_in = baseline[offer.name] if isinstance(baseline, Mapping) else baseline
        if base_in is None:
            raise InputError(f"no baseline for offer {offer.name!r}")
        base = _vector(base_in, n, what=f"baseline of {offer.name!r}")
        if (base < 0).any() or (base > 1).any():
            raise InputError("baseline must be order probabilities between 0 and 1")
        p_order = np.clip(base + up, 0.0, 1.0)
        revenue = (p_order - base) * value
        cost = offer.cost_per_contact + p_order * (offer.cost_per_order + offer.discount * value)
        frames.append(
            pl.DataFrame(
                {
                    "customer_id": ids,
                    "offer": [offer.name] * n,
                    "uplift": up,
                    "p_order": p_order,
                    "cost": cost,
                    "incremental_revenue": revenue,
                    "expected_value": revenue - cost,
                }
            )
        )
    return pl.concat(frames)


def next_best_offer(
    customer_ids: Sequence[str],
    offers: Sequence[Offer],
    *,
    uplift: Mapping[str, Any],
    baseline: Any,
    order_value: Any,
) -> pl.DataFrame:
    """Per customer the offer with the highest positive expected incremental value, else no offer.

    Same inputs as :func:`offer_values`; ties go to the offer listed first. Columns:
    ``customer_id, offer, expected_value, uplift, cost`` (zeros for :data:`NO_OFFER`).
    """
    long = offer_values(
        customer_ids, offers, uplift=uplift, baseline=baseline, order_value=order_value
    )
    n = len(customer_ids)
    k = len(offers)
    values = long.get_column("expected_value").to_numpy().reshape(k, n)
    best = np.argmax(values, axis=0)
    cols = np.arange(n)
    best_value = values[best, cols]
    chosen = best_value > 0
    uplift_m = long.get_column("uplift").to_numpy().reshape(k, n)
    cost_m = long.get_column("cost").to_numpy().reshape(k, n)
    names = np.array([o.name for o in offers], dtype=object)
    return pl.DataFrame(
        {
            "customer_id": [str(c) for c in customer_ids],
            "offer": np.where(chosen, names[best], NO_OFFER).tolist(),
            "expected_value": np.where(chosen, best_value, 0.0),
            "uplift": np.where(chosen, uplift_m[best, cols], 0.0),
            "cost": np.where(chosen, cost_m[best, cols], 0.0),
        }
    )
