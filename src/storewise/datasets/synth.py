"""Seeded synthetic retail data (catalog, customers, behaviour events) at any size.

The shop sells consumables that customers repurchase on a cycle (coffee, tea, pet food, bath,
snacks) and durables (kitchen, lighting, garden, ...). Customers follow the BG/NBD story: each
has a Gamma-distributed order rate and a Beta-distributed chance of churning after every order,
a lognormal budget, a style and Dirichlet category tastes concentrated on 2-3 categories, so
recommenders, RFM/CLV and the support assistant all have real signal to learn. Sessions run
view -> add_to_cart -> purchase funnels with seasonality (a November-December peak, busier
weekends and evenings), returns, searches, guest cookies and logins that stitch them.

Every customer (and every cookie-only visitor) draws from its own seeded random stream, so the
output depends only on the config: identical for a seed, identical whatever the chunk size.
At the defaults there are about :data:`EVENTS_PER_CUSTOMER` events per customer (visitors
included), so ``customers=385_000`` gives about 10 million events (see :func:`sized_for`).

>>> data = generate(SynthConfig(customers=50, items=40, days=90, seed=1))
>>> data.customers.height, data.items.height
(50, 40)
>>> sorted(data.events["event_type"].unique())[:3]
['add_to_cart', 'purchase', 'remove_from_cart']
"""

from __future__ import annotations

import math
import os
import random
from bisect import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from storewise.errors import InputError
from storewise.schema import (
    CUSTOMER_IMPORT_SCHEMA,
    EVENT_IMPORT_SCHEMA,
    ITEM_IMPORT_SCHEMA,
    PURPOSES,
)

#: Measured events per customer at the default config (days=365), visitors' events included.
EVENTS_PER_CUSTOMER = 26

_ISO = "%Y-%m-%dT%H:%M:%SZ"
_DAY = 86_400


class SynthConfig(BaseModel):
    """Every knob of the generator, declared once with its default and meaning."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customers: int = Field(1000, ge=0, description="Registered customers (C000001, ...).")
    items: int = Field(300, ge=1, description="Catalog size; spread over up to 12 categories.")
    days: int = Field(365, ge=1, le=3660, description="Length of the event window in days.")
    start: date = Field(date(2024, 1, 1), description="First day of the window (00:00 UTC).")
    seed: int = Field(0, description="Seed; the same config always gives the same data.")
    orders_per_year: float = Field(
        1.5, gt=0, le=365, description="Mean orders a year of a live customer (Gamma-spread)."
    )
    rate_shape: float = Field(
        1.0, ge=0.05, le=1e3, description="Gamma shape of order rates; smaller is more varied."
    )
    dropout: float = Field(
        0.25, ge=0, lt=1, description="Mean chance of churning after each order (Beta)."
    )
    existing_share: float = Field(
        0.6, ge=0, le=1, description="Customers registered before the window opens."
    )
    browse_ratio: float = Field(
        2.5, ge=0, description="Browse-only sessions per ordering session, while alive."
    )
    guest_share: float = Field(
        0.2, ge=0, le=1, description="Share of a customer's sessions that start logged out."
    )
    login_share: float = Field(
        0.5, ge=0, le=1, description="Share of logged-out sessions in which the customer logs in."
    )
    visitor_share: float = Field(
        0.3, ge=0, description="Cookie-only visitors (never registered) per customer."
    )
    search_share: float = Field(0.1, ge=0, le=1, description="Sessions opening with a search.")
    bundle_prob: float = Field(
        0.3, ge=0, le=1, description="Chance a basket item brings its bought-together partner."
    )
    return_rate: float = Field(0.04, ge=0, le=1, description="Share of order lines returned.")
    seasonality: float = Field(
        1.0, ge=0, le=2, description="Strength of monthly, weekly and category seasons; 0 = flat."
    )
    consent_personalization: float = Field(0.97, ge=0, le=1, description="Share granting it.")
    consent_marketing: float = Field(0.6, ge=0, le=1, description="Share granting it.")
    consent_analytics: float = Field(0.8, ge=0, le=1, description="Share granting it.")
    in_stock_share: float = Field(0.95, ge=0, le=1, description="Share of items in stock.")
    currency: str = Field("GBP", pattern=r"^[A-Z]{3}$", description="Currency of all prices.")


@dataclass(frozen=True)
class SynthData:
    """The three tables of one synthetic shop; events are sorted by time."""

    customers: pl.DataFrame
    items: pl.DataFrame
    events: pl.DataFrame


#: The tables are what an import of the shop would carry (see storewise.schema); quantities
#: are whole numbers, so the CSV files say 2 rather than 2.0.
CUSTOMER_SCHEMA: dict[str, pl.DataType] = CUSTOMER_IMPORT_SCHEMA
ITEM_SCHEMA: dict[str, pl.DataType] = ITEM_IMPORT_SCHEMA
EVENT_SCHEMA: dict[str, pl.DataType] = {**EVENT_IMPORT_SCHEMA, "quantity": pl.Int64()}

# ---------------------------------------------------------------------------------- vocabulary


@dataclass(frozen=True)
class _Category:
    """A catalog category: title words, price level, repurchase cycle and complements."""

    name: str
    nouns: tuple[str, ...]
    words: tuple[str, ...]  # materials (durables) or flavours (consumables)
    price: float  # mean price
    cycle: int  # days between repurchases; 0 for durables
    weight: float  # relative popularity
    complements: tuple[str, ...]
    brands: tuple[str, ...]
    pitch: str
    season: tuple[float, ...] = (1.0,) * 12


# fmt: off
_CATEGORIES: tuple[_Category, ...] = (
    _Category("Coffee", ("Coffee Beans", "Ground Coffee", "Espresso Pods", "Cold Brew Bags"),
              ("Colombian", "Ethiopian", "Brazilian", "Guatemalan", "Sumatran", "Decaf"), 8.5,
              30, 1.0, ("Kitchen", "Snacks"), ("Roastery Row", "Bean & Bloom", "Kettle Hill"),
              "roasted in small batches for a smooth daily cup"),
    _Category("Home Decor", ("Cushion", "Vase", "Photo Frame", "Throw", "Wall Clock", "Mirror"),
              ("Linen", "Velvet", "Ceramic", "Glass", "Jute", "Wool"), 24.0, 0, 0.9,
              ("Lighting", "Bath"), ("Hearth & Co", "Northwind Home", "Juniper House"),
              "to bring texture and colour to any room",
              (0.9, 0.9, 1.0, 1.0, 0.9, 0.9, 0.9, 0.9, 1.0, 1.1, 1.3, 1.3)),
    _Category("Kitchen", ("Mug", "Teapot", "Cafetiere", "Serving Bowl", "Chopping Board",
              "Storage Jar"), ("Ceramic", "Stoneware", "Enamel", "Glass", "Bamboo", "Oak"), 18.0,
              0, 0.85, ("Coffee", "Tea"), ("Kettle Hill", "Oak & Iron", "Larder Lane"),
              "sturdy enough for everyday use"),
    _Category("Snacks", ("Granola", "Biscuits", "Trail Mix", "Flapjacks", "Crackers"),
              ("Honey Almond", "Dark Chocolate", "Sea Salt", "Berry", "Peanut", "Oat"), 4.0, 21,
              0.7, ("Coffee", "Tea"), ("Larder Lane", "Crumb & Co", "Good Day Bakery"),
              "baked in small batches for snacking on the go"),
    _Category("Tea", ("Tea Bags", "Loose Leaf Tea", "Tea Pyramids"), ("Earl Grey",
              "English Breakfast", "Green", "Chai", "Peppermint", "Chamomile", "Darjeeling"), 5.5,
              40, 0.65, ("Kitchen", "Snacks"), ("Leaf & Lantern", "Brewhouse", "Morning Field"),
              "blended for a bright, fragrant brew"),
    _Category("Lighting", ("Lantern", "Table Lamp", "Pendant Light", "Floor Lamp",
              "Candle Holder", "String Lights"), ("Ceramic", "Rattan", "Brass", "Glass", "Linen",
              "Metal"), 32.0, 0, 0.6, ("Home Decor", "Garden"), ("Lumen Lane", "Hearth & Co",
              "Northwind Home"), "for a warm glow on long evenings",
              (0.9, 0.8, 0.8, 0.7, 0.7, 0.7, 0.7, 0.8, 1.0, 1.3, 1.6, 1.7)),
    _Category("Pet Food", ("Dog Food", "Cat Food", "Dog Treats", "Kitten Food"), ("Salmon",
              "Chicken", "Lamb", "Turkey", "Duck", "Beef"), 16.0, 28, 0.55, ("Pet Accessories",),
              ("Happy Paws", "Whisker & Tail", "Field Hound"),
              "made with real meat and no artificial colours"),
    _Category("Bath", ("Shower Gel", "Bath Salts", "Hand Soap", "Body Lotion", "Soap Bar"),
              ("Lavender", "Eucalyptus", "Rose", "Citrus", "Sea Salt", "Oatmeal"), 7.0, 45, 0.5,
              ("Home Decor",), ("Meadow Apothecary", "Tidewater", "Juniper House"),
              "gentle on skin and scented with natural oils"),
    _Category("Stationery", ("Notebook", "Journal", "Desk Organiser", "Pen Pot", "Planner",
              "Card Set"), ("Leather", "Linen", "Recycled Paper", "Cork", "Kraft"), 9.0, 0, 0.45,
              ("Toys", "Home Decor"), ("Inkwell", "Paper Mill Press", "Margin & Co"),
              "for lists, plans and letters",
              (1.2, 0.9, 0.9, 0.9, 0.9, 0.9, 1.0, 1.5, 1.6, 1.0, 1.0, 1.3)),
    _Category("Toys", ("Train Set", "Puzzle", "Rabbit", "Building Blocks", "Play Kitchen",
              "Kite"), ("Wooden", "Felt", "Knitted", "Cotton", "Cardboard"), 16.0, 0, 0.45,
              ("Stationery",), ("Little Oak", "Toybox Lane", "Marble & Mouse"),
              "designed for imaginative play",
              (0.7, 0.7, 0.8, 0.9, 0.8, 0.8, 0.9, 0.9, 0.9, 1.1, 1.8, 2.4)),
    _Category("Garden", ("Planter", "Watering Can", "Bird Feeder", "Plant Pot", "Trug"),
              ("Terracotta", "Galvanised", "Wooden", "Stone", "Wicker"), 19.0, 0, 0.4,
              ("Lighting",), ("Greenhouse & Co", "Potting Shed", "Wildflower"),
              "built to weather the British seasons",
              (0.5, 0.6, 1.3, 1.6, 1.7, 1.6, 1.4, 1.1, 0.9, 0.7, 0.5, 0.5)),
    _Category("Pet Accessories", ("Dog Bed", "Cat Toy", "Dog Lead", "Pet Bowl",
              "Scratching Post"), ("Cotton", "Rope", "Felt", "Leather", "Woven"), 15.0, 0, 0.3,
              ("Pet Food",), ("Happy Paws", "Field Hound", "Whisker & Tail"),
              "comfortable, durable and easy to clean"),
)
_STYLES = ("Nordic", "Rustic", "Modern", "Vintage")
_PALETTES = (
    ("White", "Grey", "Pale Blue", "Sand", "Frost"),
    ("Terracotta", "Olive", "Ochre", "Natural", "Rust"),
    ("Black", "Charcoal", "Slate", "Navy", "Graphite"),
    ("Cream", "Sage", "Dusty Rose", "Teal", "Burgundy"),
)
_LINES = ("Organic", "Artisan", "Everyday", "Classic")  # consumable range for each style
_SIZES = ("Small", "Large", "Set of 2", "Mini", "Set of 4")
_PACKS = ("250g", "500g", "1kg", "Twin Pack", "Multipack")
_TIER_PRICE = (0.55, 0.8, 1.0, 1.25, 1.8)  # budget tiers: target price / category mean
_TIER_CUTS = (-0.8416, -0.2533, 0.2533, 0.8416)  # quintiles of a standard normal
_MONTHS = (0.85, 0.85, 0.95, 0.95, 1.0, 0.95, 0.95, 0.95, 1.0, 1.05, 1.5, 1.65)
_WEEKDAYS = (0.95, 0.95, 0.97, 1.0, 0.98, 1.05, 1.12)  # Monday first
_HOURS = tuple(accumulate((1.0, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 2.2, 2.6, 2.8, 3.0, 3.2, 3.1,
                           2.9, 2.8, 2.9, 3.2, 3.8, 4.4, 4.6, 4.0, 2.8, 1.7)))
_COUNTRIES = ("United Kingdom", "Germany", "France", "EIRE", "Spain", "Netherlands", "Belgium",
              "Switzerland", "Portugal", "Italy", "Norway", "Sweden", "Australia", "Denmark")
_COUNTRY_CUM = tuple(accumulate((0.82, 0.04, 0.035, 0.03, 0.015, 0.015, 0.01, 0.008, 0.007,
                                 0.005, 0.005, 0.004, 0.004, 0.002)))
_FIRST = ("Ada", "Alan", "Grace", "Mary", "Isaac", "Rosalind", "Charles", "Florence", "Jane",
          "Charlotte", "Emily", "Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Noah",
          "Mia", "Leo", "Freya", "Arthur", "Lily", "Oscar", "Sophie", "Jack", "Chloe", "Thomas",
          "Ella", "William", "James", "Hannah", "Samuel", "Lucy", "Daniel", "Priya", "Arjun",
          "Aisha", "Omar", "Fatima", "Zara", "Hugo", "Lena", "Luca", "Sofia", "Pierre",
          "Camille", "Sean", "Niamh", "Mateo", "Lucia", "Finn", "Anna", "Katherine")
_LAST = ("Lovelace", "Turing", "Hopper", "Somerville", "Newton", "Franklin", "Babbage",
         "Nightingale", "Austen", "Bronte", "Smith", "Jones", "Taylor", "Brown", "Williams",
         "Wilson", "Johnson", "Davies", "Patel", "Wright", "Walker", "Evans", "Roberts", "Khan",
         "Clarke", "Hughes", "Green", "Hall", "Wood", "Lewis", "Harris", "Martin", "Cooper",
         "King", "Baker", "Shaw", "Murphy", "O'Brien", "Schmidt", "Dubois", "Garcia",
         "Rossi", "Jansen", "Kowalski", "Silva", "Byrne", "Nakamura", "Okafor")
# fmt: on
_VIEW, _CART, _REMOVE, _PURCHASE, _RETURN, _SEARCH = range(6)
_TYPE_NAMES = ("view", "add_to_cart", "remove_from_cart", "purchase", "return", "search")
#: Seconds between clicks: 4 + Exp(mean 35 s), as a 1024-quantile table for speed.
_GAPS = tuple(4 + int(-35.0 * math.log(1 - (k + 0.5) / 1024)) for k in range(1024))

# A row before it becomes a frame: (second, seq, type, item, quantity, order, session, who,
# cookie, query); who is 0 for the customer id only, 1 the cookie only, 2 both (a login).
_Row = tuple[int, int, int, int, int, int, int, int, str | None, str | None]
_Step = tuple[int, int, int, str | None]  # (type, item, quantity, query)
_Lines = list[tuple[int, int]]  # (item, quantity) of each order line
_Table = tuple[list[int], list[float]]  # items and their cumulative weights
_NORMAL, _PRE_SIGNUP, _SIGNUP = range(3)  # how a session treats identity
_BURN = 180  # days existing customers are simulated before the window, to start warm


def _cum(weights: list[float]) -> list[float]:
    """Cumulative weights for bisect sampling."""
    return list(accumulate(weights))


def _draw(rng: random.Random, cum: Sequence[float]) -> int:
    """Index drawn with probability proportional to the weights behind ``cum``."""
    return bisect(cum, rng.random() * cum[-1], 0, len(cum) - 1)


def _pick(rng: random.Random, table: _Table) -> int:
    """An item drawn from a sampling table."""
    members, cum = table
    return members[bisect(cum, rng.random() * cum[-1], 0, len(cum) - 1)]


def _second_of_day(rng: random.Random) -> int:
    """A second of the day, busier in the evening than at night."""
    hour = bisect(_HOURS, rng.random() * _HOURS[-1], 0, 23)
    return hour * 3600 + rng.randrange(3600)


# ------------------------------------------------------------------------------------ catalog


@dataclass(frozen=True)
class _Catalog:
    """Items as parallel lists plus the sampling tables shoppers draw from."""

    ids: list[str]
    titles: list[str]
    descriptions: list[str]
    category: list[int]
    brands: list[str]
    prices: list[float]
    in_stock: list[bool]
    categories: tuple[_Category, ...]
    tables: list[_Table]  # by (category, budget tier, style): popularity x price fit x style
    partners: list[tuple[int, ...]]  # bought-together items of each item
    category_cum: list[float]


def _price(rng: random.Random, mean: float) -> float:
    """A lognormal shelf price ending in .49 or .99 (whole pounds and .99 from 10 up)."""
    raw = mean * rng.lognormvariate(0.0, 0.45)
    return math.floor(raw) + 0.99 if raw >= 10 else math.floor(raw * 2) / 2 + 0.49


def _title(rng: random.Random, cat: _Category, style: int, brand: str) -> tuple[str, str]:
    """A readable title and a one-sentence description of a new item."""
    noun, word = rng.choice(cat.nouns), rng.choice(cat.words)
    if cat.cycle:
        line = _LINES[style]
        return f"{line} {word} {noun}", f"{line} {word} {noun.lower()} by {brand}, {cat.pitch}."
    colour = rng.choice(_PALETTES[style])
    text = (
        f"A {_STYLES[style].lower()}-style {noun.lower()} in {colour.lower()} {word.lower()} "
        f"by {brand}, {cat.pitch}."
    )
    return f"{colour} {word} {noun}", text


def _build_catalog(config: SynthConfig) -> _Catalog:
    """Items with readable titles, Zipf popularity and bought-together partners."""
    rng = random.Random(f"{config.seed}:catalog")
    cats = _CATEGORIES[: min(config.items, len(_CATEGORIES))]
    shares = [0.5 + c.weight for c in cats]
    extra = config.items - len(cats)
    counts = [1 + math.floor(extra * s / sum(shares)) for s in shares]
    for k in range(config.items - sum(counts)):
        counts[k] += 1
    rows: list[tuple[str, str, int, str, float, int, float]] = []
    seen: set[str] = set()
    for ci, (cat, count) in enumerate(zip(cats, counts, strict=True)):
        ranks = list(range(count))
        rng.shuffle(ranks)
        brand_cum = _cum([1.0 / (b + 1) for b in range(len(cat.brands))])
        for k in range(count):
            style = rng.randrange(len(_STYLES))
            brand = cat.brands[_draw(rng, brand_cum)]
            title, text = _title(rng, cat, style, brand)
            base, sizes, n = title, _PACKS if cat.cycle else _SIZES, 0
            while title in seen:
                n += 1
                title = f"{base} ({sizes[n - 1]})" if n <= len(sizes) else f"{base} No. {n}"
            seen.add(title)
            pop = 1.0 / (ranks[k] + 1) ** 1.1  # Zipf within the category
            rows.append((title, text, ci, brand, _price(rng, cat.price), style, pop))
    rng.shuffle(rows)
    category = [r[2] for r in rows]
    prices = [r[4] for r in rows]
    pops = [r[6] for r in rows]
    by_cat: list[list[int]] = [[] for _ in cats]
    for i, c in enumerate(category):
        by_cat[c].append(i)
    tables: list[_Table] = []
    for ci, members in enumerate(by_cat):
        for multiplier in _TIER_PRICE:
            target = cats[ci].price * multiplier
            fit = [pops[i] * math.exp(-(math.log(prices[i] / target) ** 2) / 0.72) for i in members]
            for style in range(len(_STYLES)):
                weights = [
                    w * (3.0 if rows[i][5] == style else 1.0)
                    for w, i in zip(fit, members, strict=True)
                ]
                tables.append((members, _cum(weights)))
    index = {c.name: k for k, c in enumerate(cats)}
    pop_tables = [(members, _cum([pops[i] for i in members])) for members in by_cat]
    partners: list[tuple[int, ...]] = []
    for i in range(len(rows)):
        mates = [index[n] for n in cats[category[i]].complements if n in index]
        chosen: set[int] = set()
        for _ in range(2):
            c = rng.choice(mates) if mates and rng.random() < 0.7 else category[i]
            chosen.add(_pick(rng, pop_tables[c]))
        chosen.discard(i)
        partners.append(tuple(sorted(chosen)))
    width = max(5, len(str(len(rows))))
    return _Catalog(
        ids=[f"I{k + 1:0{width}d}" for k in range(len(rows))],
        titles=[r[0] for r in rows],
        descriptions=[r[1] for r in rows],
        category=category,
        brands=[r[3] for r in rows],
        prices=prices,
        in_stock=[rng.random() < config.in_stock_share for _ in rows],
        categories=cats,
        tables=tables,
        partners=partners,
        category_cum=_cum([c.weight for c in cats]),
    )


# ------------------------------------------------------------------------------- the shoppers


@dataclass(frozen=True)
class _World:
    """What every shopper shares: the config, the catalog and the calendar of the window."""

    config: SynthConfig
    catalog: _Catalog
    epoch: int  # the window start, in epoch seconds
    end: int  # the window length in seconds
    season: list[float]  # relative shopping intensity of each day from -_BURN on
    top: float  # the largest of ``season``
    months: list[int]  # month (0-11) of each day from -_BURN on

    @classmethod
    def of(cls, config: SynthConfig) -> _World:
        """The shared context of a config (builds the catalog once)."""
        days = [config.start + timedelta(days=d) for d in range(-_BURN, config.days)]
        st = config.seasonality
        season = [
            (1 + st * (_MONTHS[d.month - 1] - 1)) * (1 + st * (_WEEKDAYS[d.weekday()] - 1))
            for d in days
        ]
        return cls(
            config=config,
            catalog=_build_catalog(config),
            epoch=int(datetime(*config.start.timetuple()[:3], tzinfo=UTC).timestamp()),
            end=config.days * _DAY,
            season=season,
            top=max(season),
            months=[d.month - 1 for d in days],
        )

    def seasonal_second(self, rng: random.Random) -> int:
        """A second of the window drawn with its day's seasonal weight (for arrivals)."""
        while True:
            day = rng.randrange(self.config.days)
            if rng.random() * self.top < self.season[day + _BURN]:
                return day * _DAY + _second_of_day(rng)


@dataclass
class _Shopper:
    """One customer's (or cookie-only visitor's) hidden behaviour and its random stream."""

    rng: random.Random
    index: int  # customer index, -1 for a visitor
    cookies: tuple[str, ...]
    born: int  # second (from the window start, maybe negative) activity begins
    until: int  # second activity ends at the latest
    rate: float  # orders per day while alive
    dropout: float  # chance of churning after each order
    taste: list[float]  # weight of each category
    tables: list[_Table]  # item sampling table of each category for this budget and style
    loyalty: float  # chance a bought consumable is scheduled for repurchase
    signs_up: bool  # registers inside the window (its first session is the sign-up)
    first_order: bool  # whether the sign-up session ends in an order
    browsed_first: bool  # whether a sign-up browsed anonymously before registering
    season_cum: dict[int, list[float]]  # category weights by month, built lazily


def _behaviour(
    rng: random.Random, world: _World, index: int, born: int, until: int, signs_up: bool
) -> _Shopper:
    """Draw a shopper's hidden parameters: rates, churn, budget, style, tastes."""
    config, catalog = world.config, world.catalog
    mean_rate = config.orders_per_year / 365.0
    rate = rng.gammavariate(config.rate_shape, mean_rate / config.rate_shape)
    # Beta(1, b) with mean ``dropout``; b is capped as a tiny mean would make it infinite
    b = min((1 - config.dropout) / config.dropout, 1e6) if config.dropout > 1e-9 else 0.0
    dropout = rng.betavariate(1.0, b) if b > 0 else 0.0
    focal = {_draw(rng, catalog.category_cum) for _ in range(rng.choice((2, 3)))}
    # Dirichlet(2 on focal categories, 0.08 elsewhere): Gamma(2) = -log(U1 U2) exactly,
    # Gamma(0.08) ~ Exp(1) U^(1/0.08) (Gamma(a) = Gamma(a+1) U^(1/a), Gamma(1.08) ~ Exp(1)).
    taste = [
        -math.log((1 - rng.random()) * (1 - rng.random()))
        if c in focal
        else rng.expovariate(1.0) * rng.random() ** 12.5 + 1e-9
        for c in range(len(catalog.categories))
    ]
    tier = bisect(_TIER_CUTS, rng.gauss(0.0, 1.0))
    style = rng.randrange(len(_STYLES))
    first = tier * len(_STYLES) + style
    step = len(_TIER_PRICE) * len(_STYLES)
    cookies = tuple(f"anon-{rng.getrandbits(64):016x}" for _ in range(1 + (rng.random() < 0.3)))
    return _Shopper(
        rng=rng,
        index=index,
        cookies=cookies,
        born=born,
        until=until,
        rate=rate,
        dropout=dropout,
        taste=taste,
        tables=[catalog.tables[c * step + first] for c in range(len(catalog.categories))],
        loyalty=rng.betavariate(2.0, 2.0),
        first_order=rng.random() < 0.6,
        signs_up=signs_up,
        browsed_first=rng.random() < config.guest_share,
        season_cum={},
    )


_Profile = tuple[str, int, str, str, bool, bool, bool]


def _customer(world: _World, index: int) -> tuple[_Profile, _Shopper]:
    """A customer's public profile row and hidden behaviour, both from its own stream."""
    config = world.config
    rng = random.Random(f"{config.seed}:customer:{index}")
    country = _COUNTRIES[_draw(rng, _COUNTRY_CUM)]
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    handle = "".join(ch for ch in f"{first}.{last}".lower() if ch.isalpha() or ch == ".")
    domain = "example.com" if rng.random() < 0.7 else "example.org"
    consent = (
        rng.random() < config.consent_personalization,
        rng.random() < config.consent_marketing,
        rng.random() < config.consent_analytics,
    )
    signs_up = rng.random() >= config.existing_share
    if signs_up:  # not in the last two hours, so the sign-up session fits in the window
        born = created = min(world.seasonal_second(rng), world.end - 7200)
    else:  # simulated from up to _BURN days before the window; only later sessions are kept
        created = -rng.randrange(_DAY, 730 * _DAY)
        born = max(created, -_BURN * _DAY)
    email = f"{handle}{index + 1}@{domain}"
    profile = (country, world.epoch + created, email, f"{first} {last}", *consent)
    return profile, _behaviour(rng, world, index, born, world.end, signs_up)


def _visitor(world: _World, j: int) -> _Shopper:
    """A never-registered visitor: a cookie that browses for a few weeks and rarely buys."""
    rng = random.Random(f"{world.config.seed}:visitor:{j}")
    born = world.seasonal_second(rng)
    until = min(world.end, born + int(rng.expovariate(1 / 30.0) * _DAY) + 3600)
    shopper = _behaviour(rng, world, -1, born, until, False)
    shopper.rate *= 0.5
    return shopper


# ------------------------------------------------------------------------------------- events


class _Events:
    """Generates the events of customers block by block, with running id counters."""

    def __init__(self, world: _World) -> None:
        self.world = world
        self.config = world.config
        self.catalog = world.catalog
        self.visitors = round(self.config.visitor_share * self.config.customers)
        self.events = self.sessions = self.orders = 0
        self.item_ids = pl.Series(self.catalog.ids, dtype=pl.Utf8)
        self.item_prices = pl.Series(self.catalog.prices, dtype=pl.Float64)
        self.cycles = [self.catalog.categories[c].cycle for c in self.catalog.category]

    # -- hidden processes -------------------------------------------------------------------
    def _next(self, rng: random.Random, t: float, rate: float, stop: float) -> float | None:
        """The next time (in days) of a seasonal Poisson process, or None from ``stop`` on."""
        if rate <= 0:
            return None
        season, top = self.world.season, self.world.top
        while True:
            t += rng.expovariate(rate * top)
            if t >= stop:
                return None
            if rng.random() * top < season[int(t + _BURN)]:
                return t

    def _category(self, s: _Shopper, month: int) -> int:
        """A category drawn from the shopper's tastes in this month's season."""
        cum = s.season_cum.get(month)
        if cum is None:
            st, cats = self.config.seasonality, self.catalog.categories
            cum = _cum(
                [w * (1 + st * (c.season[month] - 1)) for w, c in zip(s.taste, cats, strict=True)]
            )
            s.season_cum[month] = cum
        return _draw(s.rng, cum)

    def _quantity(self, rng: random.Random, item: int) -> int:
        """Units in a basket line: consumables often come in twos and threes."""
        r = rng.random()
        if self.cycles[item]:
            return 1 + (r < 0.35) + (r < 0.12)
        return 1 + (r < 0.07) + (r < 0.015)

    def _basket(self, s: _Shopper, t: float, due: dict[int, float], replenish: bool) -> _Lines:
        """Lines of an order on day ``t``: due consumables and/or new picks with partners."""
        rng, partners, bundle = s.rng, self.catalog.partners, self.config.bundle_prob
        chosen = [i for i, when in due.items() if when <= t + (7.0 if replenish else 3.0)]
        if not replenish or rng.random() < 0.25:
            month = self.world.months[min(int(t + _BURN), len(self.world.months) - 1)]
            for _ in range(1 + (rng.random() < 0.45) + (rng.random() < 0.2)):
                item = _pick(rng, s.tables[self._category(s, month)])
                chosen.append(item)
                chosen.extend(m for m in partners[item] if rng.random() < bundle)
        lines: _Lines = []
        seen: set[int] = set()
        for item in chosen:
            if item in seen:
                continue
            seen.add(item)
            due.pop(item, None)
            cycle = self.cycles[item]
            if cycle and rng.random() < s.loyalty:
                due[item] = t + cycle * rng.lognormvariate(0.0, 0.2)
            lines.append((item, self._quantity(rng, item)))
        return lines

    def _orders(self, s: _Shopper, plans: list[tuple[float, _Lines | None, int]]) -> float:
        """Append the shopper's orders to ``plans``; returns the day it churns (or its end).

        Orders arrive as a seasonal Poisson process plus replenishments of due consumables;
        after each order the shopper churns with its dropout chance, as BG/NBD assumes.
        """
        rng = s.rng
        born, stop = s.born / _DAY, s.until / _DAY
        due: dict[int, float] = {}
        if plans and plans[0][1]:
            for item, _ in plans[0][1]:  # a first order schedules its consumables too
                if self.cycles[item] and rng.random() < s.loyalty:
                    due[item] = born + self.cycles[item] * rng.lognormvariate(0.0, 0.2)
            if rng.random() < s.dropout:
                return born
        nxt = self._next(rng, born, s.rate, stop)
        while True:
            when = min(due.values(), default=math.inf)
            if nxt is None and when >= stop:
                return stop
            if nxt is None or when < nxt:
                plans.append((when, self._basket(s, when, due, True), _NORMAL))
            else:
                plans.append((nxt, self._basket(s, nxt, due, False), _NORMAL))
                nxt = self._next(rng, nxt, s.rate, stop)
            if rng.random() < s.dropout:
                return plans[-1][0]

    def _plan(self, s: _Shopper) -> list[tuple[int, _Lines | None, int]]:
        """Sessions (start second, order lines or None when browsing, identity mode)."""
        rng = s.rng
        born = s.born / _DAY
        plans: list[tuple[float, _Lines | None, int]] = []
        arrives = s.signs_up or s.index < 0  # a first session when signing up or landing
        if arrives:
            buys = s.first_order if s.signs_up else rng.random() < 0.1
            lines = self._basket(s, born, {}, False) if buys else None
            plans.append((born, lines, _SIGNUP if s.signs_up and s.browsed_first else _NORMAL))
        death = self._orders(s, plans)
        browse = s.rate * self.config.browse_ratio
        t = self._next(rng, born, browse, death)
        while t is not None:
            plans.append((t, None, _NORMAL))
            t = self._next(rng, t, browse, death)
        out: list[tuple[int, _Lines | None, int]] = []
        if s.signs_up and s.browsed_first:  # anonymous visits in the days before signing up
            for _ in range(1 + (rng.random() < 0.5)):
                sec = s.born - rng.randrange(3600, 14 * _DAY)
                if sec >= 0:
                    out.append((sec, None, _PRE_SIGNUP))
        for k, (when, lines, mode) in enumerate(plans):
            sec = s.born if arrives and k == 0 else int(when) * _DAY + _second_of_day(rng)
            if sec < s.born:
                sec = s.born + rng.randrange(60, 3600)
            if sec >= 0:  # burn-in sessions before the window are dropped
                out.append((sec, lines, mode))
        out.sort(key=lambda p: p[0])
        return out

    # -- sessions ---------------------------------------------------------------------------
    def _query(self, rng: random.Random, item: int) -> str:
        """Search text a shopper would type to find the item."""
        words = self.catalog.titles[item].split(" (")[0].split()
        r = rng.random()
        if r < 0.5:
            return " ".join(words[-2:]).lower()
        if r < 0.8:
            return self.catalog.categories[self.catalog.category[item]].name.lower()
        return f"{words[0]} {words[-1]}".lower()

    def _steps(self, s: _Shopper, sec: int, lines: _Lines | None) -> list[_Step]:
        """The (type, item, quantity, query) steps of one session, in order."""
        rng, tables, cfg = s.rng, s.tables, self.config
        rand = rng.random
        month = self.world.months[min(sec // _DAY + _BURN, len(self.world.months) - 1)]
        steps: list[_Step] = []
        if lines is None:  # browsing: views mostly in one category, sometimes a cart
            table = tables[self._category(s, month)]
            item = _pick(rng, table)
            if rand() < cfg.search_share:
                steps.append((_SEARCH, -1, 1, self._query(rng, item)))
            steps.append((_VIEW, item, 1, None))
            while len(steps) < 16 and rand() < 0.7:
                here = table if rand() < 0.8 else tables[self._category(s, month)]
                item = _pick(rng, here)
                steps.append((_VIEW, item, 1, None))
            carts = rand() < 0.45  # carts left behind: most carts are never bought
            while carts:
                q = self._quantity(rng, item)
                steps.append((_CART, item, q, None))
                if rand() < 0.25:
                    steps.append((_REMOVE, item, q, None))
                carts = rand() < 0.3
                if carts:
                    item = _pick(rng, table)
                    steps.append((_VIEW, item, 1, None))
            return steps
        if rand() < cfg.search_share:
            steps.append((_SEARCH, -1, 1, self._query(rng, lines[0][0])))
        category = self.catalog.category
        for item, q in lines:  # compare a few alternatives, then view and cart the pick
            while rand() < 0.5:
                steps.append((_VIEW, _pick(rng, tables[category[item]]), 1, None))
            steps.append((_VIEW, item, 1, None))
            steps.append((_CART, item, q, None))
        if rand() < 0.15:
            other = _pick(rng, tables[self._category(s, month)])
            steps += [(_VIEW, other, 1, None), (_CART, other, 1, None), (_REMOVE, other, 1, None)]
        steps += [(_PURCHASE, item, q, None) for item, q in lines]
        return steps

    def _shopper_rows(self, s: _Shopper) -> list[_Row]:
        """All events of one shopper, numbered with the global session and order counters."""
        rng, cfg, end = s.rng, self.config, self.world.end
        rand, bits = rng.random, rng.getrandbits
        rows: list[_Row] = []
        returns: list[tuple[int, int, int, int, int, str | None]] = []
        for start, lines, mode in self._plan(s):
            steps = self._steps(s, start, lines)
            if s.index < 0 or mode == _PRE_SIGNUP:
                guest, login = True, len(steps)  # a cookie that never logs in here
            elif mode == _SIGNUP or rand() < cfg.guest_share:
                guest, login = True, len(steps)
                if mode == _SIGNUP or rand() < cfg.login_share:  # log in by checkout
                    buy = next((j for j, x in enumerate(steps) if x[0] == _PURCHASE), len(steps))
                    login = rng.randint(min(1, buy - 1), buy - 1)
            else:
                guest, login = False, -1
            cookie = rng.choice(s.cookies) if guest else None
            session, order = self.sessions, self.orders if lines else -1
            self.sessions += 1
            self.orders += 1 if lines else 0
            t, prev, first = start, -1, len(rows)
            for j, (kind, item, q, query) in enumerate(steps):
                if kind != _PURCHASE or prev != _PURCHASE:  # order lines share a checkout time
                    t += _GAPS[bits(10)]
                prev = kind
                o = order if kind == _PURCHASE else -1
                if guest:
                    who = 1 if j < login else 2 if j == login else 0
                    c = cookie if who else None
                    rows.append((t, first + j, kind, item, q, o, session, who, c, query))
                else:
                    rows.append((t, first + j, kind, item, q, o, session, 0, None, query))
            if t >= end:  # a session running past the window closes just before it
                shift = t - end + 1
                rows[first:] = [(r[0] - shift, *r[1:]) for r in rows[first:]]
            for r in rows[len(rows) - len(lines or ()) :]:
                if rand() < cfg.return_rate:
                    back = r[0] + rng.randrange(2 * _DAY, 30 * _DAY)
                    if back < end:
                        who = 1 if r[7] == 1 else 0
                        returns.append((back, r[3], rng.randint(1, r[4]), order, who, cookie))
        for back, item, q, order, who, cookie in returns:
            rows.append(
                (
                    back,
                    len(rows),
                    _RETURN,
                    item,
                    q,
                    order,
                    self.sessions,
                    who,
                    cookie if who else None,
                    None,
                )
            )
            self.sessions += 1
        rows.sort()
        return rows

    def block(self, lo: int, hi: int) -> pl.DataFrame:
        """Events of customers ``lo..hi-1`` and their attached visitors, sorted by time.

        Visitor ``j`` is attached to customer ``j * customers // visitors`` and generated
        right after it, so numbering does not depend on where blocks are cut.
        """
        n, nv = self.config.customers, self.visitors
        rows: list[_Row] = []
        owners: list[int] = []
        v = -(-lo * nv // n) if n else 0
        for i in range(lo, hi):
            shoppers = [_customer(self.world, i)[1]]
            while v < nv and v * n // nv == i:
                shoppers.append(_visitor(self.world, v))
                v += 1
            for s in shoppers:
                got = self._shopper_rows(s)
                rows.extend(got)
                owners.extend([s.index] * len(got))
        first = self.events
        self.events += len(rows)
        return self._frame(rows, owners, first)

    def _frame(self, rows: list[_Row], owners: list[int], first: int) -> pl.DataFrame:
        """The canonical event frame of a block of rows, sorted by time then id."""
        if not rows:
            return pl.DataFrame(schema=EVENT_SCHEMA)
        ts, _, kind, item, qty, order, session, who, cookie, query = (
            [r[k] for r in rows] for k in range(10)
        )
        ints = {"ts": ts, "kind": kind, "item": item, "quantity": qty, "order": order}
        raw = (
            pl.DataFrame(
                {
                    "n": pl.int_range(first + 1, first + 1 + len(rows), eager=True),
                    "owner": pl.Series(owners, dtype=pl.Int64),
                    **{k: pl.Series(v, dtype=pl.Int64) for k, v in ints.items()},
                    "session": pl.Series(session, dtype=pl.Int64),
                    "who": pl.Series(who, dtype=pl.Int64),
                    "anonymous_id": pl.Series(cookie, dtype=pl.Utf8),
                    "query": pl.Series(query, dtype=pl.Utf8),
                }
            )
            .sort("ts", maintain_order=True)
            .with_columns(pl.when(pl.col("item") >= 0).then(pl.col("item")).alias("item"))
        )
        width = max(6, len(str(self.config.customers)))
        line = (pl.col("price") * pl.col("quantity")).round(2)
        return raw.with_columns(
            self.item_ids.gather(raw["item"]).alias("item_id"),
            self.item_prices.gather(raw["item"]).alias("price"),
        ).select(
            ("E" + pl.col("n").cast(pl.Utf8).str.zfill(9)).alias("event_id"),
            pl.when((pl.col("who") != 1) & (pl.col("owner") >= 0))
            .then("C" + (pl.col("owner") + 1).cast(pl.Utf8).str.zfill(width))
            .alias("customer_id"),
            "anonymous_id",
            ("S" + (pl.col("session") + 1).cast(pl.Utf8).str.zfill(9)).alias("session_id"),
            "item_id",
            pl.col("kind")
            .replace_strict(list(range(len(_TYPE_NAMES))), _TYPE_NAMES, return_dtype=pl.Utf8)
            .alias("event_type"),
            "quantity",
            "price",
            pl.when(pl.col("kind") == _PURCHASE)
            .then(line)
            .when(pl.col("kind") == _RETURN)
            .then(-line)
            .alias("value"),
            pl.when(pl.col("order") >= 0)
            .then("O" + (pl.col("order") + 1).cast(pl.Utf8).str.zfill(7))
            .alias("order_id"),
            _datetime(pl.col("ts") + self.world.epoch).alias("timestamp"),
            "query",
        )


def _datetime(seconds: pl.Expr | pl.Series) -> pl.Expr | pl.Series:
    """UTC microsecond datetimes of epoch seconds."""
    return (seconds * 1_000_000).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


# ------------------------------------------------------------------------------------ public API


def make_items(config: SynthConfig) -> pl.DataFrame:
    """The catalog table: readable titles, descriptions, brands and lognormal prices."""
    return _items_frame(_build_catalog(config), config.currency)


def _items_frame(cat: _Catalog, currency: str) -> pl.DataFrame:
    """The items table of a built catalog."""
    return pl.DataFrame(
        {
            "item_id": cat.ids,
            "title": cat.titles,
            "description": cat.descriptions,
            "category": [cat.categories[c].name for c in cat.category],
            "brand": cat.brands,
            "price": cat.prices,
            "currency": [currency] * len(cat.ids),
            "in_stock": cat.in_stock,
        },
        schema=ITEM_SCHEMA,
    )


def make_customers(config: SynthConfig, lo: int = 0, hi: int | None = None) -> pl.DataFrame:
    """Profiles and consents of customers ``lo..hi-1`` (all by default), as in ``generate``."""
    return _customers_frame(_World.of(config), lo, hi)


def _customers_frame(world: _World, lo: int, hi: int | None) -> pl.DataFrame:
    """The customers table of one block of customer indices."""
    n = world.config.customers
    hi = n if hi is None else min(hi, n)
    lo = min(max(lo, 0), hi)
    width = max(6, len(str(n)))
    rows = [_customer(world, i)[0] for i in range(lo, hi)]
    cols: list[tuple[object, ...]] = list(zip(*rows, strict=True)) if rows else [()] * 7
    return pl.DataFrame(
        {
            "customer_id": [f"C{i + 1:0{width}d}" for i in range(lo, hi)],
            "country": cols[0],
            "created_at": _datetime(pl.Series(cols[1], dtype=pl.Int64)),
            "email": cols[2],
            "name": cols[3],
            "consent_personalization": cols[4],
            "consent_marketing": cols[5],
            "consent_analytics": cols[6],
        },
        schema=CUSTOMER_SCHEMA,
    )


def _event_chunks(world: _World, chunk_customers: int) -> Iterator[pl.DataFrame]:
    """Event blocks of a prepared world."""
    if chunk_customers < 1:
        raise InputError(f"chunk_customers must be at least 1, not {chunk_customers}")
    gen = _Events(world)
    n = world.config.customers
    for lo in range(0, n, chunk_customers):
        yield gen.block(lo, min(lo + chunk_customers, n))


def iter_event_chunks(config: SynthConfig, chunk_customers: int = 10_000) -> Iterator[pl.DataFrame]:
    """Events in blocks of ``chunk_customers`` customers, each block sorted by time.

    Memory is bounded by the block. Together the blocks hold exactly the events of
    :func:`generate` (same ids), whatever the block size, since every shopper has its own
    random stream; cookie-only visitors come in the block of the customer they are attached to.
    """
    return _event_chunks(_World.of(config), chunk_customers)


def generate(config: SynthConfig | None = None) -> SynthData:
    """A whole synthetic shop in memory: customers, items and time-sorted events."""
    config = config or SynthConfig()
    world = _World.of(config)
    chunks = list(_event_chunks(world, 10_000))
    events = pl.concat(chunks) if chunks else pl.DataFrame(schema=EVENT_SCHEMA)
    return SynthData(
        customers=_customers_frame(world, 0, None),
        items=_items_frame(world.catalog, config.currency),
        events=events.sort("timestamp", "event_id"),
    )


def sized_for(events: int, base: SynthConfig | None = None) -> SynthConfig:
    """A config expected to give about ``events`` events (events / EVENTS_PER_CUSTOMER)."""
    base = base or SynthConfig()
    return base.model_copy(update={"customers": max(1, round(events / EVENTS_PER_CUSTOMER))})


def consents(customers: pl.DataFrame) -> pl.DataFrame:
    """One row per customer and purpose (customer_id, purpose, granted, at) for the store."""
    return pl.concat(
        [
            customers.select(
                "customer_id",
                pl.lit(purpose).alias("purpose"),
                pl.col(f"consent_{purpose}").alias("granted"),
                pl.col("created_at").alias("at"),
            )
            for purpose in PURPOSES
        ]
    )


def write_csv(
    config: SynthConfig, out_dir: str | Path, *, chunk_customers: int = 10_000
) -> dict[str, Path]:
    """Write customers.csv, items.csv and events.csv block by block; returns their paths.

    Timestamps are ISO 8601 in UTC with a ``Z``. Each file is written under a temporary name
    and renamed when complete, and memory stays bounded by ``chunk_customers`` at any size.
    """
    if chunk_customers < 1:
        raise InputError(f"chunk_customers must be at least 1, not {chunk_customers}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    world = _World.of(config)
    paths = {name: out / f"{name}.csv" for name in ("customers", "items", "events")}
    temps = {name: p.with_name(f".{p.name}.{os.getpid()}.tmp") for name, p in paths.items()}
    iso = {"created_at": pl.col("created_at").dt.strftime(_ISO)}
    try:
        _items_frame(world.catalog, config.currency).write_csv(temps["items"])
        with temps["customers"].open("wb") as handle:
            for lo in range(0, max(config.customers, 1), chunk_customers):
                part = _customers_frame(world, lo, lo + chunk_customers)
                part.with_columns(**iso).write_csv(handle, include_header=lo == 0)
        with temps["events"].open("wb") as handle:
            header = True
            for chunk in _event_chunks(world, chunk_customers):
                chunk = chunk.with_columns(pl.col("timestamp").dt.strftime(_ISO))
                chunk.write_csv(handle, include_header=header)
                header = False
            if header:
                pl.DataFrame(schema=EVENT_SCHEMA).write_csv(handle)
        for name, path in paths.items():
            os.replace(temps[name], path)
    finally:
        for temp in temps.values():
            temp.unlink(missing_ok=True)
    return paths
