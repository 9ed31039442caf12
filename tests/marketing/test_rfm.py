"""Tests of RFM scoring, the segment grid and segment summaries."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storewise.errors import InputError, NotFound
from storewise.marketing.rfm import (
    SEGMENTS,
    resolve_segment,
    rfm_scores,
    segment_customers,
    segment_for,
    segment_names,
    segment_summary,
)


def _transactions(rows: list[tuple[str, datetime, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "ts": [r[1] for r in rows],
            "value": [r[2] for r in rows],
        }
    )


@pytest.fixture()
def shop() -> pl.DataFrame:
    rows = []
    # customer k (0..9) buys k+1 times, spends 10*(k+1) per order, last bought on day 30-k
    for k in range(10):
        for j in range(k + 1):
            rows.append((f"c{k}", datetime(2024, 1, 1 + j), 10.0 * (k + 1)))
        rows.append((f"c{k}", datetime(2024, 1, 31 - k), 0.0))
    return _transactions(rows)


def test_scores_rank_recency_frequency_and_spend(shop: pl.DataFrame) -> None:
    scores = rfm_scores(shop)
    assert scores.columns[:4] == ["customer_id", "recency_days", "frequency", "monetary"]
    best = scores.filter(pl.col("customer_id") == "c0").row(0, named=True)
    worst = scores.filter(pl.col("customer_id") == "c9").row(0, named=True)
    assert best["recency_days"] == 0 and best["r_score"] == 5
    assert best["f_score"] == 1 and best["m_score"] == 1
    assert worst["r_score"] == 1 and worst["f_score"] == 5 and worst["m_score"] == 5
    assert worst["rfm"] == "155" and worst["segment"] == "Can't lose"
    assert best["segment"] == "New"
    # quintiles: ten distinct values -> two customers per score
    assert scores.get_column("r_score").value_counts().get_column("count").to_list() == [2] * 5


def test_ties_share_a_score() -> None:
    rows = [(c, datetime(2024, 1, 1), 5.0) for c in "abcdef"]
    scores = rfm_scores(_transactions(rows))
    for col in ("r_score", "f_score", "m_score"):
        assert scores.get_column(col).n_unique() == 1
        assert scores.get_column(col)[0] == 3


def test_as_of_drops_later_purchases_and_measures_recency(shop: pl.DataFrame) -> None:
    scores = rfm_scores(shop, as_of=date(2024, 1, 25))
    c0 = scores.filter(pl.col("customer_id") == "c0").row(0, named=True)
    # c0's zero-value order on Jan 31 is after as_of; last purchase Jan 1
    assert c0["recency_days"] == 24 and c0["frequency"] == 1
    with pytest.raises(InputError, match="no purchases"):
        rfm_scores(shop, as_of=date(2023, 1, 1))


def test_returns_reduce_monetary_but_are_not_purchases() -> None:
    rows = [
        ("a", datetime(2024, 1, 1), 50.0),
        ("a", datetime(2024, 1, 9), -20.0),
        ("b", datetime(2024, 1, 5), 10.0),
        ("ghost", datetime(2024, 1, 3), -5.0),
    ]
    scores = rfm_scores(_transactions(rows))
    a = scores.filter(pl.col("customer_id") == "a").row(0, named=True)
    assert a["frequency"] == 1 and a["monetary"] == 30.0 and a["recency_days"] == 8
    assert "ghost" not in scores.get_column("customer_id").to_list()


def test_grid_covers_every_cell_with_known_segments() -> None:
    cells = {segment_for(r, fm) for r in range(1, 6) for fm in range(1, 6)}
    assert cells == set(SEGMENTS)
    assert segment_for(5, 5) == "Champions"
    assert segment_for(1, 1) == "Lost"
    assert segment_for(1, 5) == "Can't lose"
    assert segment_for(2, 3) == "At risk"
    assert segment_for(3, 3) == "Need attention"
    assert segment_for(4, 1) == "Promising"
    with pytest.raises(InputError, match="r_score"):
        segment_for(0, 3)


def test_unknown_segment_lists_the_valid_ones(shop: pl.DataFrame) -> None:
    assert segment_names() == SEGMENTS and len(SEGMENTS) == 11
    with pytest.raises(NotFound) as err:
        segment_customers(rfm_scores(shop), "Whales")
    assert "Champions" in err.value.message and "Hibernating" in err.value.message
    assert err.value.details["valid"] == list(SEGMENTS)


def test_segment_names_match_case_and_spacing(shop: pl.DataFrame) -> None:
    assert resolve_segment("potential_LOYALIST") == "Potential loyalist"
    assert resolve_segment("  at   risk ") == "At risk"
    assert resolve_segment("cant-lose") == "Can't lose"
    scores = rfm_scores(shop)
    picked = segment_customers(scores, "can't lose")
    assert picked.get_column("segment").unique().to_list() == ["Can't lose"]


def test_summary_lists_all_segments_with_shares(shop: pl.DataFrame) -> None:
    summary = segment_summary(rfm_scores(shop))
    assert summary.get_column("segment").to_list() == list(SEGMENTS)
    assert summary.get_column("customers").sum() == 10
    assert summary.get_column("customer_share").sum() == pytest.approx(1.0)
    assert summary.get_column("revenue_share").sum() == pytest.approx(1.0)
    lost = summary.filter(pl.col("segment") == "Lost").row(0, named=True)
    assert lost["customers"] == 0 and lost["revenue"] == 0.0


def test_summary_needs_a_scores_frame() -> None:
    with pytest.raises(InputError, match="missing column"):
        segment_summary(pl.DataFrame({"segment": ["Lost"]}))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 60), st.floats(-50, 500, allow_nan=False)),
        min_size=1,
        max_size=40,
    )
)
def test_scores_are_in_range_and_monotone(purchases: list[tuple[int, float]]) -> None:
    rows = [
        (f"c{i % 7}", datetime(2024, 1, 1 + day % 28, day % 24), max(value, 0.0))
        for i, (day, value) in enumerate(purchases)
    ]
    scores = rfm_scores(_transactions(rows))
    for col in ("r_score", "f_score", "m_score", "fm_score"):
        values = scores.get_column(col)
        assert values.min() >= 1 and values.max() <= 5  # type: ignore[operator]
    steps = scores.sort("monetary").get_column("m_score").cast(pl.Int64).diff().drop_nulls()
    assert steps.is_empty() or steps.min() >= 0  # type: ignore[operator]
    assert set(scores.get_column("segment").to_list()) <= set(SEGMENTS)
