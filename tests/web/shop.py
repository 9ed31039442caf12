"""A small trained synthetic shop for the dashboard tests, built once per test process.

200 customers, 60 items (seed 2), ingested from CSV like a real import, an item-kNN model
bundle, a tiny support knowledge base, and API keys (admin and read-only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from storewise.app import (
    FieldCipher,
    Ingest,
    Services,
    Settings,
    SynthConfig,
    build,
    single_threaded_blas,
)

SECRET = b"dashboard-tests-secret-0123456789abcdef"

TINY_KB = """\
# Shop FAQ

## track_order
- where is my order?
- where is my parcel
- track my order
- has my order shipped yet
- when will my package arrive

Hi {{Customer Name}}, your order {{Order Number}} placed on {{Order Date}} is on its way.

## cancel_order
- cancel my order
- I want to cancel order 1234
- please cancel my purchase
- stop my order

Your order {{Order Number}} can be cancelled until it ships.

## return_item
- I want to return this
- how do I return an item
- refund please
- I'd like my money back

Once we receive {{Order Items}} back we will refund you.
"""


@dataclass
class Shop:
    """Everything a dashboard test needs about the shop."""

    settings: Settings
    services: Services
    admin_key: str
    read_key: str
    buyer: str  # a customer with several purchases
    erasable: str  # a customer only the erasure tests touch
    item: str  # a popular product
    unknown_customer: str = "NO-SUCH-CUSTOMER-42"


_SHOP: Shop | None = None


def build_shop(root: Path) -> Shop:
    """Generate, ingest and train the shop under ``root`` (once per process)."""
    global _SHOP
    if _SHOP is not None:
        return _SHOP
    single_threaded_blas()
    key_file = root / "encryption.key"
    key_file.write_text(FieldCipher.generate_key())
    settings = Settings(home=root / "home", encryption_key_file=key_file)
    services = build(settings)
    files = Ingest.synthesize(SynthConfig(customers=200, items=60, seed=2), root / "csv")
    for kind in ("items", "customers", "events"):
        services.ingest.files(kind, [files[kind]])
    services.training.train(model="itemknn")
    kb = root / "kb.md"
    kb.write_text(TINY_KB)
    services.support.load_kb([kb])
    keys = services.keys
    admin = keys.create(["admin"], name="tests admin").key
    read = keys.create(["read"], name="tests read").key
    stats = services.insights.stats()
    withdrew = set(
        services.store.consents().filter(~pl.col("granted"))["customer_id"].to_list()
    )  # the buyer shown everywhere has every consent, so segment and value are known
    buyers = (
        services.store.events()
        .filter(pl.col("event_type") == "purchase", pl.col("customer_id").is_not_null())
        .group_by("customer_id")
        .len()
        .sort(["len", "customer_id"], descending=[True, False])["customer_id"]
        .to_list()
    )
    consenting = [b for b in buyers if b not in withdrew]
    _SHOP = Shop(
        settings=settings,
        services=services,
        admin_key=admin,
        read_key=read,
        buyer=str(consenting[0]),
        erasable=str(buyers[-1]),
        item=str(stats["top_items"][0]["item_id"]),
    )
    return _SHOP


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    """The shared trained shop."""
    return build_shop(tmp_path_factory.mktemp("dashboard-shop"))


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form in a page."""
    found = _CSRF.search(html)
    assert found, "page has no CSRF field"
    return found.group(1)
