"""A canary customer, erased after two training runs, an interrupted one and during a fourth,
is found nowhere under the storewise home: not in the database files, any bundle version, a
staging folder, a cache; replayed events of theirs are refused."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from storewise import artifacts
from storewise.app import FieldCipher, Ingest, Services, Settings, SynthConfig, build
from storewise.store.base import REFUSED_ERASED

CANARY = "CANARY-7f3a91"


def _encodings(text: str) -> list[bytes]:
    """How the id can sit on disk: UTF-8 text, numpy's UTF-32 strings, UTF-16."""
    return [text.encode(codec) for codec in ("utf-8", "utf-32-le", "utf-16-le")]


def _files_holding(root: Path, text: str) -> list[str]:
    needles = _encodings(text)
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if any(n in data for n in needles):
                found.append(str(path.relative_to(root)))
    return found


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Services]:
    """A shop whose most active buyer is renamed to the canary id (CSV files kept outside)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "storewise.toml").write_text(f'encryption_key = "{FieldCipher.generate_key()}"\n')
    files = Ingest.synthesize(SynthConfig(customers=120, items=50, days=150, seed=4), tmp_path)
    events = pl.read_csv(files["events"], infer_schema=False)
    top = (
        events.filter((pl.col("event_type") == "purchase") & pl.col("customer_id").is_not_null())
        .group_by("customer_id")
        .len()
        .sort("len", "customer_id", descending=[True, False])["customer_id"][0]
    )
    for kind in ("events", "customers"):
        frame = pl.read_csv(files[kind], infer_schema=False)
        canary = pl.col("customer_id") == top
        if kind == "customers":  # the canary agreed to everything: every path holds them
            frame = frame.with_columns(
                pl.when(canary).then(pl.lit("true")).otherwise(pl.col(c)).alias(c)
                for c in frame.columns
                if c.startswith("consent_")
            )
        frame.with_columns(
            pl.when(canary)
            .then(pl.lit(CANARY))
            .otherwise(pl.col("customer_id"))
            .alias("customer_id")
        ).write_csv(files[kind])
    with build(Settings(home=home)) as services:
        for kind in ("items", "customers", "events"):
            services.ingest.files(kind, [files[kind]])
        yield services


def test_canary_erased_everywhere_under_the_home(shop: Services) -> None:
    home = shop.settings.home
    models = shop.settings.bundles_dir
    shop.training.train(model="repurchase")  # keeps one row per customer
    shop.training.train(model="userknn")
    current = artifacts.current_version(models)
    assert current is not None
    # an interrupted run: its staging folder holds a full copy of a bundle
    shutil.copytree(models / current, models / ".20990101T000000Z-dead00.partial")
    assert shop.serving.recommend(CANARY, 5).policy == "personalised"
    assert _files_holding(models, CANARY)  # the canary is in every bundle before erasure

    receipt = shop.customers.erase(CANARY, actor="test")["removed"]
    assert receipt["events"] > 0 and receipt["profile"] == 1
    assert receipt["model_versions"] == 2 and receipt["staging_folders"] == 1
    assert receipt["suppression_list"] == 1
    assert _files_holding(home, CANARY) == []
    assert shop.serving.recommend(CANARY, 5).policy.startswith("cold-start")
    for version in artifacts.version_names(models):  # every kept version still loads
        artifacts.load(models, version)


def test_a_training_run_that_read_its_snapshot_before_the_erasure_drops_the_customer(
    shop: Services,
) -> None:
    home = shop.settings.home

    def erase_mid_run(message: str) -> None:
        if message.startswith("counting items bought together"):  # fitted, not yet published
            shop.customers.erase(CANARY, actor="test")

    shop.training.train(model="repurchase", progress=erase_mid_run)
    assert not shop.customers.exists(CANARY)
    assert _files_holding(home, CANARY) == []
    info = shop.serving.model_info()
    assert info["erasures_since_training"] == 1


def test_replayed_events_of_an_erased_customer_are_refused(shop: Services) -> None:
    event = {"customer_id": CANARY, "item_id": "I00001", "event_type": "view",
             "timestamp": "2024-05-01T10:00:00Z"}  # fmt: skip
    shop.customers.erase(CANARY, actor="test")
    report = shop.ingest.records("events", [event])
    assert report.stored == 0
    assert report.rejected == [{"index": 0, "reason": REFUSED_ERASED}]
    assert not shop.customers.exists(CANARY)
    other = {**event, "customer_id": "someone-else"}
    assert shop.ingest.records("events", [other]).stored == 1
