"""Readers of the shared marketing datasets (CDNOW, Online Retail, Hillstrom) for the benchmarks.

Data are read from ``../shared/datasets`` next to the repository (see its README for sources and
licences); nothing is downloaded or copied into the repository.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import polars as pl

#: ../shared/datasets relative to the repository root.
DATASETS = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"


def dataset_file(*parts: str) -> Path:
    """The path of a shared dataset file; exits with a clear message when it is absent."""
    path = DATASETS.joinpath(*parts)
    if not path.is_file():
        sys.exit(f"dataset {'/'.join(parts)} not found at {path.resolve()}; needs ../shared")
    return path


def cdnow_transactions(name: str = "CDNOW_sample.txt") -> pl.DataFrame:
    """CDNOW purchases as transactions: customer id (1st column), purchase date, dollar value."""
    rows = [line.split() for line in dataset_file("cdnow", name).read_text().splitlines()]
    rows = [r for r in rows if r and r[-3].isdigit()]  # CDNOW_master.txt has a header line
    return pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "ts": [datetime.strptime(r[-3], "%Y%m%d") for r in rows],
            "value": [float(r[-1]) for r in rows],
        }
    )


def online_retail_lines() -> pl.DataFrame:
    """UCI Online Retail lines with a customer, Quantity > 0 and UnitPrice > 0, as order lines."""
    raw = pl.read_csv(
        dataset_file("online-retail", "online_retail.csv.gz"),
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


def hillstrom() -> pl.DataFrame:
    """Kevin Hillstrom's MineThatData e-mail experiment (64,000 customers)."""
    return pl.read_csv(
        dataset_file("hillstrom", "hillstrom.csv.gz"), schema_overrides={"spend": pl.Float64}
    )
