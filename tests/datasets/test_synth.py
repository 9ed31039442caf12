"""The synthetic shop: deterministic, well-formed, and shaped like real retail data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from pydantic import ValidationError

from storewise.datasets.synth import (
    CUSTOMER_SCHEMA,
    EVENT_SCHEMA,
    EVENTS_PER_CUSTOMER,
    ITEM_SCHEMA,
    SynthConfig,
    SynthData,
    consents,
    generate,
    iter_event_chunks,
    make_customers,
    make_items,
    sized_for,
    write_csv,
)
from storewise.errors import InputError
from storewise.schema import EVENT_TYPES

CONSUMABLES = ["Coffee", "Tea", "Pet Food", "Bath", "Snacks"]
SMALL = SynthConfig(customers=150, items=60, days=120, seed=3)


@pytest.fixture(scope="module")
def shop() -> SynthData:
    """The default shop: 1,000 customers, 300 items, 2024."""
    return generate(SynthConfig())


def num(value: object) -> float:
    """A polars scalar as a float (narrowing its wide static type)."""
    assert isinstance(value, int | float), value
    return float(value)


def moment(value: object) -> datetime:
    """A polars scalar as a datetime."""
    assert isinstance(value, datetime), value
    return value


def by_type(data: SynthData, kind: str) -> pl.DataFrame:
    """Events of one type."""
    return data.events.filter(pl.col("event_type") == kind)


def check_invariants(data: SynthData, config: SynthConfig) -> None:
    """What must hold for any config: ids, window, funnel, money, identities."""
    events, n = data.events, data.events.height
    assert data.customers.schema == pl.Schema(CUSTOMER_SCHEMA)
    assert data.items.schema == pl.Schema(ITEM_SCHEMA)
    assert events.schema == pl.Schema(EVENT_SCHEMA)
    assert data.customers.height == config.customers
    assert data.items.height == config.items
    assert data.customers["customer_id"].n_unique() == config.customers
    assert data.items["item_id"].n_unique() == config.items
    assert data.items["title"].n_unique() == config.items
    assert events["event_id"].n_unique() == n
    assert events["event_id"].str.contains(r"^E\d{9}$").all()
    assert set(events["event_type"].unique()) <= set(EVENT_TYPES)
    if n == 0:
        return
    start = datetime(config.start.year, config.start.month, config.start.day, tzinfo=UTC)
    assert moment(events["timestamp"].min()) >= start
    assert moment(events["timestamp"].max()) < start + timedelta(days=config.days)
    assert events.filter(
        pl.col("customer_id").is_null() & pl.col("anonymous_id").is_null()
    ).is_empty()
    assert events["session_id"].null_count() == 0
    search = events["event_type"] == "search"
    assert events.filter(search)["item_id"].null_count() == int(search.sum())
    assert events.filter(search)["query"].null_count() == 0
    assert events.filter(~search)["item_id"].null_count() == 0
    assert set(events["customer_id"].drop_nulls()) <= set(data.customers["customer_id"])
    assert set(events["item_id"].drop_nulls()) <= set(data.items["item_id"])
    buys = by_type(data, "purchase")
    assert buys["order_id"].null_count() == 0
    assert (buys["quantity"] > 0).all() and (buys["price"] > 0).all()
    assert ((buys["value"] - (buys["price"] * buys["quantity"]).round(2)).abs() < 1e-9).all()
    # an order is one checkout: one session, one moment, each item once
    per_order = buys.group_by("order_id").agg(
        pl.col("session_id").n_unique().alias("sessions"),
        pl.col("timestamp").n_unique().alias("moments"),
        (pl.col("item_id").n_unique() == pl.len()).alias("distinct"),
    )
    assert (per_order["sessions"] == 1).all() and (per_order["moments"] == 1).all()
    assert per_order["distinct"].all()
    # funnel: every purchased line was viewed and carted earlier in the same session
    for kind in ("view", "add_to_cart"):
        before = by_type(data, kind).select("session_id", "item_id", pl.col("timestamp").alias("t"))
        matched = (
            buys.join(before, on=["session_id", "item_id"], how="left")
            .group_by("event_id")
            .agg((pl.col("t") < pl.col("timestamp")).any().alias("ok"))
        )
        assert matched["ok"].all(), kind
    # returns: a line bought earlier in the same order by the same person, money back
    returns = by_type(data, "return")
    assert (returns["value"] < 0).all()
    lines = buys.select(
        "order_id",
        "item_id",
        pl.col("timestamp").alias("bought"),
        pl.col("quantity").alias("bought_qty"),
        pl.col("customer_id").alias("buyer"),
        pl.col("anonymous_id").alias("cookie"),
    )
    joined = returns.join(lines, on=["order_id", "item_id"], how="left")
    assert joined.height == returns.height and joined["bought"].null_count() == 0
    assert (joined["bought"] < joined["timestamp"]).all()
    assert (joined["quantity"] <= joined["bought_qty"]).all()
    same_person = pl.when(pl.col("customer_id").is_not_null()).then(
        pl.col("customer_id") == pl.col("buyer")
    )
    assert joined.select(
        same_person.otherwise(pl.col("anonymous_id") == pl.col("cookie")).all()
    ).item()


# -- determinism and shape -----------------------------------------------------------------


def test_same_seed_same_data_and_other_seed_differs() -> None:
    first, again, other = (
        generate(SMALL),
        generate(SMALL),
        generate(SMALL.model_copy(update={"seed": 4})),
    )
    for name in ("customers", "items", "events"):
        assert_frame_equal(getattr(first, name), getattr(again, name))
    assert not first.events.equals(other.events)
    assert not first.items.equals(other.items)


def test_chunks_hold_exactly_the_generated_events_whatever_their_size() -> None:
    whole = generate(SMALL).events
    for size in (1, 37, 10_000):
        chunks = list(iter_event_chunks(SMALL, chunk_customers=size))
        assert len(chunks) == -(-SMALL.customers // size)
        assert_frame_equal(pl.concat(chunks).sort("timestamp", "event_id"), whole)
    assert_frame_equal(make_customers(SMALL, 40, 90), generate(SMALL).customers[40:90])
    with pytest.raises(InputError):
        next(iter_event_chunks(SMALL, chunk_customers=0))


def test_default_shop_invariants(shop: SynthData) -> None:
    check_invariants(shop, SynthConfig())


def test_size_follows_the_documented_ratio(shop: SynthData) -> None:
    per_customer = shop.events.height / 1000
    assert 0.6 * EVENTS_PER_CUSTOMER < per_customer < 1.5 * EVENTS_PER_CUSTOMER
    assert sized_for(10_000_000).customers == round(10_000_000 / EVENTS_PER_CUSTOMER)


def test_funnel_narrows_from_views_to_purchases(shop: SynthData) -> None:
    counts = dict(shop.events["event_type"].value_counts().iter_rows())
    assert counts["view"] > 2 * counts["add_to_cart"]
    assert counts["add_to_cart"] > 1.2 * counts["purchase"]
    assert 0 < counts["remove_from_cart"] < counts["add_to_cart"]
    assert 0 < counts["search"] < 0.1 * shop.events.height
    orders = by_type(shop, "purchase").group_by("order_id").len()
    assert num(orders["len"].mean()) > 1.3  # baskets have several lines


def test_ids_look_like_a_shop(shop: SynthData) -> None:
    assert shop.customers["customer_id"].str.contains(r"^C\d{6}$").all()
    assert shop.events["order_id"].drop_nulls().str.contains(r"^O\d{7}$").all()
    assert shop.events["anonymous_id"].drop_nulls().str.contains(r"^anon-[0-9a-f]{16}$").all()
    assert shop.customers["email"].str.contains(r"^[a-z.]+\d+@example\.(com|org)$").all()
    assert shop.customers["email"].n_unique() == shop.customers.height
    # a session belongs to one visitor: one cookie and at most one customer
    per_session = shop.events.group_by("session_id").agg(
        pl.col("customer_id").drop_nulls().n_unique().alias("c"),
        pl.col("anonymous_id").drop_nulls().n_unique().alias("a"),
    )
    assert (per_session["c"] <= 1).all() and (per_session["a"] <= 1).all()


def test_customers_have_plausible_profiles_and_consents(shop: SynthData) -> None:
    customers = shop.customers
    assert 0.7 < num((customers["country"] == "United Kingdom").mean()) < 0.92
    assert customers["country"].n_unique() > 4
    for column, share in [
        ("consent_personalization", 0.97),
        ("consent_marketing", 0.6),
        ("consent_analytics", 0.8),
    ]:
        assert abs(num(customers[column].mean()) - share) < 0.06, column
    long = consents(customers)
    assert long.height == 3 * customers.height
    assert set(long["purpose"].unique()) == {"personalization", "marketing", "analytics"}
    window = datetime(2024, 1, 1, tzinfo=UTC)
    assert moment(customers["created_at"].max()) < window + timedelta(days=365)
    assert num((customers["created_at"] < window).mean()) > 0.3


def test_catalog_reads_like_a_shop() -> None:
    items = make_items(SynthConfig(items=500))
    assert items["category"].n_unique() == 12
    assert (items["currency"] == "GBP").all() and (items["price"] > 0).all()
    assert 0.9 < num(items["in_stock"].mean()) < 0.99
    assert items["title"].str.contains(r"^[A-Z][A-Za-z-]*( [A-Za-z0-9&-]+)+").all()
    assert items["description"].str.ends_with(".").all()
    assert items["brand"].null_count() == 0
    coffee = num(items.filter(pl.col("category") == "Coffee")["price"].median())
    lamps = num(items.filter(pl.col("category") == "Lighting")["price"].median())
    assert coffee < lamps


# -- behaviour a model can learn from ------------------------------------------------------


def test_consumables_are_repurchased_more_than_durables(shop: SynthData) -> None:
    buys = by_type(shop, "purchase").filter(pl.col("customer_id").is_not_null())
    repeats = (
        buys.group_by("customer_id", "item_id")
        .agg(pl.col("order_id").n_unique().alias("orders"))
        .join(shop.items.select("item_id", "category"), on="item_id")
        .group_by(pl.col("category").is_in(CONSUMABLES).alias("consumable"))
        .agg((pl.col("orders") >= 2).mean().alias("repeat"))
    )
    rate = dict(repeats.iter_rows())
    assert rate[True] > 2 * rate[False]
    assert rate[True] > 0.2


def test_consumable_repurchases_follow_their_cycle(shop: SynthData) -> None:
    coffee = shop.items.filter(pl.col("category") == "Coffee")["item_id"]
    gaps = (
        by_type(shop, "purchase")
        .filter(pl.col("item_id").is_in(coffee.implode()) & pl.col("customer_id").is_not_null())
        .sort("timestamp")
        .group_by("customer_id", "item_id")
        .agg(pl.col("timestamp").diff().dt.total_days().drop_nulls().alias("gap"))
        .explode("gap")
        .drop_nulls()
    )
    assert gaps.height > 20
    assert 18 < num(gaps["gap"].median()) < 45  # coffee: about 30 days


def test_popularity_is_skewed(shop: SynthData) -> None:
    counts = by_type(shop, "purchase").group_by("item_id").len().sort("len", descending=True)
    top = num(counts["len"].head(30).sum()) / num(counts["len"].sum())  # 10% of 300 items
    assert top > 0.3


def test_items_are_bought_together(shop: SynthData) -> None:
    buys = by_type(shop, "purchase").select("order_id", "item_id")
    pairs = buys.join(buys, on="order_id").filter(pl.col("item_id") < pl.col("item_id_right"))
    counts = pairs.group_by("item_id", "item_id_right").len()
    assert num(counts["len"].max()) >= 5  # a real bought-together pair


def test_customers_stick_to_a_few_categories(shop: SynthData) -> None:
    views = by_type(shop, "view").filter(pl.col("customer_id").is_not_null())
    share = (
        views.join(shop.items.select("item_id", "category"), on="item_id")
        .group_by("customer_id", "category")
        .len()
        .with_columns((pl.col("len") / pl.col("len").sum().over("customer_id")).alias("share"))
        .sort("share", descending=True)
        .group_by("customer_id")
        .agg(pl.col("share").head(3).sum().alias("top3"), pl.col("len").sum().alias("n"))
        .filter(pl.col("n") >= 20)
    )
    assert num(share["top3"].median()) > 0.75


def test_returns_are_a_few_percent_of_lines(shop: SynthData) -> None:
    rate = by_type(shop, "return").height / by_type(shop, "purchase").height
    assert 0.015 < rate < 0.07


def test_november_december_are_the_peak(shop: SynthData) -> None:
    monthly = by_type(shop, "purchase").group_by(pl.col("timestamp").dt.month().alias("m")).len()
    counts = dict(monthly.iter_rows())
    assert len(counts) == 12
    average = sum(counts.values()) / 12
    assert counts[11] > 1.1 * average and counts[12] > 1.2 * average


def test_seasonality_can_be_switched_off() -> None:
    flat = generate(SynthConfig(customers=600, seasonality=0.0, seed=5))
    monthly = dict(
        by_type(flat, "purchase")
        .group_by(pl.col("timestamp").dt.month().alias("m"))
        .len()
        .iter_rows()
    )
    assert monthly[12] < 1.4 * sum(monthly.values()) / 12


def test_anonymous_history_is_stitched_by_a_login(shop: SynthData) -> None:
    events = shop.events
    logins = events.filter(
        pl.col("customer_id").is_not_null() & pl.col("anonymous_id").is_not_null()
    )
    assert logins.height > 20
    first_login = logins.group_by("anonymous_id").agg(
        pl.col("timestamp").min().alias("login"), pl.col("customer_id").n_unique().alias("who")
    )
    assert (first_login["who"] == 1).all()  # a cookie belongs to one customer
    earlier = (
        events.filter(pl.col("customer_id").is_null())
        .join(first_login, on="anonymous_id")
        .filter(pl.col("timestamp") < pl.col("login"))
    )
    assert earlier["anonymous_id"].n_unique() > 10  # anonymous events later linked by a login
    never = events.filter(~pl.col("anonymous_id").is_in(logins["anonymous_id"].implode()))
    assert never.filter(pl.col("customer_id").is_null()).height > 0  # pure guests too


# -- files and configs ---------------------------------------------------------------------


def test_write_csv_streams_the_same_shop(tmp_path: Path) -> None:
    paths = write_csv(SMALL, tmp_path / "shop", chunk_customers=40)
    assert {p.name for p in paths.values()} == {"customers.csv", "items.csv", "events.csv"}
    assert sorted(p.name for p in (tmp_path / "shop").iterdir()) == sorted(
        p.name for p in paths.values()
    )
    data = generate(SMALL)
    events = pl.read_csv(paths["events"], infer_schema=False)
    assert events.columns == list(EVENT_SCHEMA)
    assert events.height == data.events.height
    assert events["timestamp"].str.contains(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$").all()
    parsed = events.with_columns(
        pl.col("timestamp").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC", time_unit="us")
    )
    assert_frame_equal(
        parsed.select("event_id", "timestamp").sort("event_id"),
        data.events.select("event_id", "timestamp").sort("event_id"),
    )
    customers = pl.read_csv(paths["customers"], infer_schema=False)
    assert customers["customer_id"].to_list() == data.customers["customer_id"].to_list()
    assert customers["created_at"].str.ends_with("Z").all()
    assert set(customers["consent_marketing"].unique()) <= {"true", "false"}
    assert pl.read_csv(paths["items"]).height == SMALL.items
    with pytest.raises(InputError):
        write_csv(SMALL, paths["items"])


def test_config_is_validated_and_frozen() -> None:
    with pytest.raises(ValidationError):
        SynthConfig(customers=-1)
    with pytest.raises(ValidationError):
        SynthConfig(unknown_knob=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        SynthConfig(currency="pounds")
    config = SynthConfig(start="2023-06-01")
    assert config.start == date(2023, 6, 1)
    with pytest.raises(ValidationError):
        config.seed = 2  # type: ignore[misc]


def test_an_empty_shop_still_has_its_columns() -> None:
    data = generate(SynthConfig(customers=0, items=1, days=1))
    assert data.customers.is_empty() and data.events.is_empty()
    assert data.events.schema == pl.Schema(EVENT_SCHEMA)


@pytest.mark.timeout(120)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    customers=st.integers(0, 25),
    items=st.integers(1, 40),
    days=st.integers(1, 60),
    seed=st.integers(0, 2**32),
    month=st.integers(1, 12),
    guest=st.floats(0, 1),
    dropout=st.floats(0, 0.9),
    returns=st.floats(0, 1),
    visitors=st.floats(0, 2),
)
def test_any_small_config_gives_valid_data(
    customers: int,
    items: int,
    days: int,
    seed: int,
    month: int,
    guest: float,
    dropout: float,
    returns: float,
    visitors: float,
) -> None:
    config = SynthConfig(
        customers=customers,
        items=items,
        days=days,
        seed=seed,
        start=date(2023, month, 1),
        guest_share=guest,
        dropout=dropout,
        return_rate=returns,
        visitor_share=visitors,
    )
    check_invariants(generate(config), config)
