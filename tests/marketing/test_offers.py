"""Tests of the next-best-offer policy."""

from __future__ import annotations

import numpy as np
import polars as pl
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storewise.errors import InputError
from storewise.marketing.offers import NO_OFFER, Offer, next_best_offer, offer_values

OFFERS = [
    Offer(name="10% off", discount=0.10),
    Offer(name="free shipping", cost_per_order=4.0),
    Offer(name="sms reminder", cost_per_contact=0.05),
]


def _choose(
    uplift: dict[str, list[float]], baseline: list[float], value: float = 50.0
) -> list[str]:
    ids = [f"c{i}" for i in range(len(baseline))]
    picks = next_best_offer(ids, OFFERS, uplift=uplift, baseline=baseline, order_value=value)
    return picks.get_column("offer").to_list()


def test_never_pays_a_discount_to_someone_who_buys_anyway() -> None:
    uplift = {"10% off": [0.0, 0.01], "free shipping": [0.0, 0.0], "sms reminder": [0.0, 0.0]}
    assert _choose(uplift, baseline=[0.95, 0.9]) == [NO_OFFER, NO_OFFER]


def test_picks_the_offer_with_the_best_net_value() -> None:
    uplift = {
        "10% off": [0.20, 0.05, 0.00],
        "free shipping": [0.05, 0.12, 0.00],
        "sms reminder": [0.00, 0.00, 0.02],
    }
    # c0: 10% off 10 - 0.3*5 = 8.5 vs shipping 2.5 - 0.15*4 = 1.9
    # c1: 10% off 2.5 - 0.15*5 = 1.75 vs shipping 6 - 0.22*4 = 5.12
    # c2: sms 1.0 - 0.05 = 0.95
    assert _choose(uplift, baseline=[0.1, 0.1, 0.1]) == ["10% off", "free shipping", "sms reminder"]
    values = offer_values(["c0"], OFFERS, uplift={k: v[:1] for k, v in uplift.items()},
                          baseline=[0.1], order_value=50.0)  # fmt: skip
    assert values.filter(values["offer"] == "10% off")["expected_value"][0] == pytest.approx(8.5)


def test_per_customer_order_values_and_per_offer_baselines() -> None:
    # a pure discount scales with order value; a per-order cost does not
    uplift = {"10% off": [0.0, 0.0], "free shipping": [0.1, 0.1], "sms reminder": [0.0, 0.0]}
    picks = next_best_offer(
        ["cheap", "big"], OFFERS, uplift=uplift,
        baseline={"10% off": [0.1, 0.1], "free shipping": [0.1, 0.1], "sms reminder": [0.1, 0.1]},
        order_value=[2.0, 200.0],
    )  # fmt: skip
    assert picks["offer"].to_list() == [NO_OFFER, "free shipping"]
    assert picks["expected_value"][0] == 0.0 and picks["cost"][0] == 0.0
    assert picks["expected_value"][1] == pytest.approx(0.1 * 200 - 0.2 * 4)
    assert picks["cost"][1] == pytest.approx(0.8)


def test_offer_without_data_is_named() -> None:
    with pytest.raises(InputError, match="'sms reminder' has no uplift"):
        _choose({"10% off": [0.1], "free shipping": [0.1]}, baseline=[0.1])
    with pytest.raises(InputError, match="unknown offer"):
        _choose({"10% off": [0.1], "free shipping": [0.1], "sms reminder": [0.0], "x": [0.0]},
                baseline=[0.1])  # fmt: skip


def test_bad_inputs_are_input_errors() -> None:
    full = {"10% off": [0.1], "free shipping": [0.1], "sms reminder": [0.1]}
    with pytest.raises(InputError, match="2 values for 1 customers"):
        _choose({**full, "10% off": [0.1, 0.2]}, baseline=[0.1])
    with pytest.raises(InputError, match="between 0 and 1"):
        _choose(full, baseline=[1.5])
    with pytest.raises(InputError, match="negative"):
        _choose(full, baseline=[0.1], value=-1.0)
    with pytest.raises(InputError, match="no offers"):
        next_best_offer(["a"], [], uplift={}, baseline=[0.1], order_value=1.0)
    with pytest.raises(InputError, match="unique"):
        next_best_offer(["a"], [OFFERS[0], OFFERS[0]], uplift={"10% off": [0.1]},
                        baseline=[0.1], order_value=1.0)  # fmt: skip
    with pytest.raises(pydantic.ValidationError):
        Offer(name="No offer")
    with pytest.raises(pydantic.ValidationError):
        Offer(name="too generous", discount=1.0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 1),
            st.floats(-0.2, 0.5),
            st.floats(-0.2, 0.5),
            st.floats(-0.2, 0.5),
            st.floats(0, 500),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_choice_is_the_best_positive_value(rows: list[tuple[float, ...]]) -> None:
    base = [r[0] for r in rows]
    uplift = {o.name: [r[i + 1] for r in rows] for i, o in enumerate(OFFERS)}
    value = [r[4] for r in rows]
    ids = [str(i) for i in range(len(rows))]
    picks = next_best_offer(ids, OFFERS, uplift=uplift, baseline=base, order_value=value)
    table = offer_values(ids, OFFERS, uplift=uplift, baseline=base, order_value=value)
    best = table.group_by("customer_id").agg(pl.col("expected_value").max().alias("best"))
    lookup = dict(zip(best["customer_id"].to_list(), best["best"].to_list(), strict=True))
    for row in picks.iter_rows(named=True):
        top = lookup[row["customer_id"]]
        if top > 0:
            assert row["offer"] != NO_OFFER and row["expected_value"] == pytest.approx(top)
        else:
            assert row["offer"] == NO_OFFER and row["expected_value"] == 0.0
    assert np.all(picks["expected_value"].to_numpy() >= 0)
