"""Fixtures for the marketing tests: the real datasets read from ../shared/datasets."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

#: ../shared/datasets relative to the repository root (tests/marketing -> repo root is parents[2]).
DATASETS = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"


def dataset_file(*parts: str) -> Path:
    """The path of a shared dataset file; skips with a clear reason when absent (fails in CI)."""
    path = DATASETS.joinpath(*parts)
    if not path.is_file():
        message = f"dataset {'/'.join(parts)} not found at {path.resolve()} (needs ../shared)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the shared datasets: {message}")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def cdnow_transactions() -> pl.DataFrame:
    """CDNOW sample as transactions: customer id (1st column), date, dollar value."""
    path = dataset_file("cdnow", "CDNOW_sample.txt")
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    return pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "ts": [datetime.strptime(r[2], "%Y%m%d") for r in rows],
            "value": [float(r[4]) for r in rows],
        }
    )


@pytest.fixture(scope="session")
def cdnow_master() -> pl.DataFrame:
    """The full CDNOW file (23,570 customers) as transactions; its first line is a header."""
    path = dataset_file("cdnow", "CDNOW_master.txt")
    rows = [line.split() for line in path.read_text().splitlines()]
    rows = [r for r in rows if r and r[1].isdigit()]
    return pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "ts": [datetime.strptime(r[1], "%Y%m%d") for r in rows],
            "value": [float(r[3]) for r in rows],
        }
    )


@pytest.fixture(scope="session")
def online_retail_lines() -> pl.DataFrame:
    """UCI Online Retail order lines with a customer, Quantity > 0 and UnitPrice > 0."""
    path = dataset_file("online-retail", "online_retail.csv.gz")
    raw = pl.read_csv(
        path,
        schema_overrides={"InvoiceNo": pl.Utf8, "StockCode": pl.Utf8, "CustomerID": pl.Utf8},
    )
    return raw.filter(
        pl.col("CustomerID").is_not_null(), pl.col("Quantity") > 0, pl.col("UnitPrice") > 0
    ).select(
        pl.col("CustomerID").alias("customer_id"),
        pl.col("InvoiceDate").str.strptime(pl.Datetime, "%Y-%m-%d %H:%M:%S").alias("ts"),
        pl.col("InvoiceNo").alias("order_id"),
        (pl.col("Quantity") * pl.col("UnitPrice")).alias("value"),
    )


@pytest.fixture(scope="session")
def hillstrom() -> pl.DataFrame:
    """Kevin Hillstrom's MineThatData e-mail experiment, 64,000 rows."""
    path = dataset_file("hillstrom", "hillstrom.csv.gz")
    return pl.read_csv(path, schema_overrides={"spend": pl.Float64})
