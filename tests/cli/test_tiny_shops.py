"""A shop smaller than a list works end to end: ingest, train, recommend, similar, evaluate.

Three items and forty customers, one item, and two customers: lists of ten come back shorter,
tuning steps aside with a note where there is too little to validate on, and nothing ends in
a traceback.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

from storewise.cli.main import app

runner = CliRunner()
TITLES = {"10001": "RED ENAMEL MUG", "10002": "BLUE ENAMEL MUG", "10003": "GREEN ENAMEL MUG"}


def _orders(path: Path, *, items: int, customers: int, seed: int = 1) -> Path:
    """Generic order lines over four months: each customer buys 1-3 times."""
    rng = np.random.default_rng(seed)
    codes = list(TITLES)[:items]
    rows = []
    for c in range(customers):
        for o in range(int(rng.integers(1, 4))):
            day = int(rng.integers(0, 120))
            month, mday = 1 + day // 30, 1 + day % 28
            size = int(rng.integers(1, items + 1))
            for code in rng.choice(codes, size=size, replace=False):
                rows.append(
                    [f"C{c:03d}", code, f"2011-{month:02d}-{mday:02d} 10:00:00", f"O{c}-{o}",
                     "2", "2.5", TITLES[str(code)]]
                )  # fmt: skip
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["customer_id", "item_id", "timestamp", "order_id", "quantity", "price", "title"]
        )
        writer.writerows(rows)
    return path


def _run(home: Path, *args: str) -> Result:
    result = runner.invoke(app, ["--home", str(home), *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback is a failure, whatever the exit code
    return result


@pytest.fixture(scope="module", params=[(3, 40), (1, 40), (3, 2)], ids=lambda p: f"{p[0]}x{p[1]}")
def shop(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained tiny shop (items x customers)."""
    items, customers = request.param
    folder = tmp_path_factory.mktemp(f"tiny-{items}x{customers}")
    orders = _orders(folder / "orders.csv", items=items, customers=customers)
    home = folder / "home"
    assert _run(home, "ingest", "orders", str(orders), "-q").exit_code == 0
    trained = _run(home, "train")
    assert trained.exit_code == 0, trained.output
    assert f"/ {items} /" in trained.output  # customers / items / events
    return home


def test_recommend_lists_are_as_long_as_the_catalog_allows(shop: Path) -> None:
    result = _run(shop, "recommend", "--all", "-n", "10", "--allow-repurchase")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows, "every customer of a tiny shop still gets something"
    by_customer: dict[str, list[str]] = {}
    for row in rows:
        by_customer.setdefault(row["customer_id"], []).append(row["item_id"])
        assert row["title"] == TITLES[row["item_id"]]
    n_items = len({row["item_id"] for row in rows})
    for items in by_customer.values():
        assert len(items) == len(set(items)) <= n_items <= 3


def test_similar_items_of_a_tiny_catalog(shop: Path) -> None:
    result = _run(shop, "similar", "10001", "-n", "10", "--json")
    assert result.exit_code == 0, result.output
    assert '"10001"' not in result.stdout.split('"items"', 1)[1]  # never the item itself


def test_evaluate_answers_or_says_why_not(shop: Path) -> None:
    result = _run(shop, "evaluate", "--json")
    if result.exit_code == 0:
        assert '"table"' in result.stdout
    else:  # two customers: no month to test on
        assert result.exit_code == 2 and "hold out fewer days" in result.output


def test_training_with_too_few_validation_customers_says_it_used_defaults(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    orders = _orders(tmp_path / "orders.csv", items=3, customers=2)
    _run(home, "ingest", "orders", str(orders), "-q")
    result = _run(home, "train")
    assert result.exit_code == 0
    assert "not tuned" in result.output and "itemknn" in result.output


def test_a_shop_younger_than_the_validation_period_still_trains(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(
        "customer_id,item_id,timestamp,order_id\n"
        + "".join(f"C{c},1000{c % 3 + 1},2011-01-0{c % 5 + 1} 10:00:00,O{c}\n" for c in range(30))
    )
    home = tmp_path / "home"
    _run(home, "ingest", "orders", str(orders), "-q")
    result = _run(home, "train")
    assert result.exit_code == 0, result.output
    assert "not tuned: no events before" in " ".join(result.output.split())
