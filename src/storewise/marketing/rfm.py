"""RFM analysis: recency, frequency and monetary quintile scores and named customer segments.

Scores are 1..5 (5 best) from each customer's mid-rank among all customers, so tied customers
share a score and a skewed metric (most customers bought once) does not split ties arbitrarily.
Segments follow the widely used R x FM grid, FM being the rounded mean of F and M::

    FM \\ R   1              2              3               4                   5
    5        Can't lose     Can't lose     Loyal           Loyal               Champions
    4        At risk        At risk        Loyal           Loyal               Champions
    3        At risk        At risk        Need attention  Potential loyalist  Potential loyalist
    2        Hibernating    Hibernating    About to sleep  Potential loyalist  Potential loyalist
    1        Lost           Hibernating    About to sleep  Promising           New

>>> segment_for(5, 1)
'New'
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from storewise.errors import InputError, NotFound
from storewise.marketing.transactions import as_day, normalise_transactions

#: Segment names in display order, best first.
SEGMENTS: tuple[str, ...] = (
    "Champions",
    "Loyal",
    "Potential loyalist",
    "New",
    "Promising",
    "Need attention",
    "About to sleep",
    "At risk",
    "Can't lose",
    "Hibernating",
    "Lost",
)

#: What each segment means and the usual action, for reports and campaign screens.
SEGMENT_DESCRIPTIONS: dict[str, str] = {
    "Champions": "bought recently, buy often and spend the most; reward them",
    "Loyal": "buy regularly and spend well; upsell and ask for reviews",
    "Potential loyalist": "recent customers with average frequency; offer membership",
    "New": "bought very recently for the first time; onboard them",
    "Promising": "recent shoppers who have not spent much yet; build awareness",
    "Need attention": "average recency, frequency and spend; limited-time offers",
    "About to sleep": "below-average recency and frequency; reactivate before they go",
    "At risk": "spent well and often but long ago; win them back",
    "Can't lose": "were among the best customers but have not returned; reach out personally",
    "Hibernating": "last purchase long ago, low frequency and spend; cheap reminders only",
    "Lost": "lowest recency, frequency and spend; do not spend to win them back",
}

# _GRID[r - 1][fm - 1]
_GRID: tuple[tuple[str, ...], ...] = (
    ("Lost", "Hibernating", "At risk", "At risk", "Can't lose"),
    ("Hibernating", "Hibernating", "At risk", "At risk", "Can't lose"),
    ("About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"),
    ("Promising", "Potential loyalist", "Potential loyalist", "Loyal", "Loyal"),
    ("New", "Potential loyalist", "Potential loyalist", "Champions", "Champions"),
)

#: Columns of the frame :func:`rfm_scores` returns.
RFM_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "fm_score",
    "rfm",
    "segment",
)


def segment_names() -> tuple[str, ...]:
    """The valid segment names, best first, so front-ends can list and validate choices."""
    return SEGMENTS


def resolve_segment(name: str) -> str:
    """The canonical name of segment ``name`` (case, spaces, apostrophes ignored); else NotFound."""
    for segment in SEGMENTS:
        if _segment_key(segment) == _segment_key(str(name)):
            return segment
    raise NotFound(
        f"unknown RFM segment {name!r}; valid segments are: {', '.join(SEGMENTS)}",
        details={"segment": name, "valid": list(SEGMENTS)},
    )


def _segment_key(name: str) -> str:
    for char in "_-":
        name = name.replace(char, " ")
    return " ".join(name.replace("'", "").replace("\u2019", "").split()).casefold()


def segment_for(r_score: int, fm_score: int) -> str:
    """The segment of a recency score and a combined frequency-monetary score, both 1..5."""
    for label, value in (("r_score", r_score), ("fm_score", fm_score)):
        if not 1 <= int(value) <= 5:
            raise InputError(f"{label} must be between 1 and 5, got {value}")
    return _GRID[int(r_score) - 1][int(fm_score) - 1]


def _quintile(expr: pl.Expr) -> pl.Expr:
    # Mid-rank share in (0, 1) -> 1..5; ties share the score of their mid-rank.
    share = (expr.rank("average") - 0.5) / pl.len()
    return (share * 5).floor().clip(0, 4).cast(pl.Int8) + 1


def rfm_scores(transactions: pl.DataFrame, *, as_of: date | datetime | None = None) -> pl.DataFrame:
    """Per-customer recency/frequency/monetary values, 1..5 scores and segment as of a day.

    Uses transactions on or before ``as_of`` (a day, inclusive; default the last day in the data).
    A transaction with a non-negative value is a purchase: frequency counts purchases and recency
    is whole days since the last one; monetary is the net total including returns. Customers
    with no purchase in the window (returns only) are left out.
    """
    frame = normalise_transactions(transactions)
    frame = frame.with_columns(pl.col("ts").dt.date().alias("_day"))
    last_day = frame.get_column("_day").max()
    assert isinstance(last_day, date)
    cutoff = last_day if as_of is None else as_day(as_of, what="as_of")
    frame = frame.filter(pl.col("_day") <= cutoff)
    purchase = pl.col("value") >= 0
    per_customer = (
        frame.group_by("customer_id")
        .agg(
            pl.col("_day").filter(purchase).max().alias("_last"),
            purchase.sum().cast(pl.Int64).alias("frequency"),
            pl.col("value").sum().alias("monetary"),
        )
        .filter(pl.col("frequency") > 0)
    )
    if per_customer.height == 0:
        raise InputError(f"no purchases on or before {cutoff.isoformat()} to score")
    scored = per_customer.with_columns(
        (pl.lit(cutoff) - pl.col("_last")).dt.total_days().cast(pl.Int64).alias("recency_days"),
    ).with_columns(
        _quintile(-pl.col("recency_days")).alias("r_score"),
        _quintile(pl.col("frequency")).alias("f_score"),
        _quintile(pl.col("monetary")).alias("m_score"),
    )
    scored = scored.with_columns(
        ((pl.col("f_score").cast(pl.Int16) + pl.col("m_score") + 1) // 2)
        .cast(pl.Int8)
        .alias("fm_score"),
        pl.concat_str(
            [pl.col("r_score"), pl.col("f_score"), pl.col("m_score")], separator=""
        ).alias("rfm"),
    )
    grid = pl.DataFrame(
        {
            "r_score": [r + 1 for r in range(5) for _ in range(5)],
            "fm_score": [fm + 1 for _ in range(5) for fm in range(5)],
            "segment": [_GRID[r][fm] for r in range(5) for fm in range(5)],
        },
        schema={"r_score": pl.Int8, "fm_score": pl.Int8, "segment": pl.Utf8},
    )
    return (
        scored.join(grid, on=["r_score", "fm_score"], how="left")
        .select(RFM_COLUMNS)
        .sort("customer_id")
    )


def segment_summary(scores: pl.DataFrame) -> pl.DataFrame:
    """Size and revenue of every segment (zeros included) with their shares of the total.

    Columns: ``segment, customers, customer_share, revenue, revenue_share, mean_recency_days,
    mean_frequency``; revenue shares are null when total revenue is not positive.
    """
    _check_scores(scores)
    total_customers = scores.height
    total_revenue = float(scores.get_column("monetary").sum())
    agg = scores.group_by("segment").agg(
        pl.len().cast(pl.Int64).alias("customers"),
        pl.col("monetary").sum().alias("revenue"),
        pl.col("recency_days").mean().alias("mean_recency_days"),
        pl.col("frequency").mean().alias("mean_frequency"),
    )
    order = pl.DataFrame({"segment": list(SEGMENTS), "_order": list(range(len(SEGMENTS)))})
    revenue_share = (
        pl.col("revenue") / total_revenue if total_revenue > 0 else pl.lit(None, pl.Float64)
    )
    return (
        order.join(agg, on="segment", how="left")
        .with_columns(
            pl.col("customers").fill_null(0),
            pl.col("revenue").fill_null(0.0),
        )
        .with_columns(
            (pl.col("customers") / total_customers).alias("customer_share"),
            revenue_share.alias("revenue_share"),
        )
        .sort("_order")
        .select(
            "segment",
            "customers",
            "customer_share",
            "revenue",
            "revenue_share",
            "mean_recency_days",
            "mean_frequency",
        )
    )


def segment_customers(scores: pl.DataFrame, segment: str) -> pl.DataFrame:
    """The scored customers of one segment (name matched case-insensitively), for targeting.

    Raises NotFound listing the valid names when ``segment`` is not one of them.
    """
    _check_scores(scores)
    name = resolve_segment(segment)
    return scores.filter(pl.col("segment") == name)


def _check_scores(scores: pl.DataFrame) -> None:
    missing = [c for c in RFM_COLUMNS if c not in scores.columns]
    if missing:
        raise InputError(
            f"expected the frame rfm_scores returns; missing column(s) {', '.join(missing)}"
        )
