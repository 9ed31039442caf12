"""The Spark trainer against the single-machine models on the same small shop, on local[2]
and on a standalone master with two workers: item-item and popularity answer the same (same
items, same order, scores to 1e-6), bought-together counts are equal, ALS agrees within a
stated overlap, the repurchase features match, and ``storewise serve``'s engine answers from
the Spark-written bundle. One Spark run per master; the checks share them."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from storewise import artifacts
from storewise.app import build
from storewise.data.dataset import Dataset
from storewise.datasets.synth import SynthConfig, write_csv
from storewise.errors import ConfigError, SchemaError
from storewise.ingest.pipeline import ingest
from storewise.privacy.consent import ConsentPolicy
from storewise.recommend import bundle
from storewise.recommend.als import ALS
from storewise.recommend.base import Recommender, histories_of
from storewise.recommend.basket import cobuy_counts
from storewise.recommend.itemknn import ItemKNN
from storewise.recommend.popular import Popular
from storewise.recommend.repurchase import Repurchase
from storewise.settings import Settings
from storewise.spark.session import check_master
from storewise.store import open_store
from tests.spark.conftest import Cluster, spark_home

#: Customers whose lists are compared.
ASKED = 60
#: Mean share of local ALS's top 10 that Spark's ALS also puts in its top 10 (different
#: solvers and initialisations: the lists must agree on most items, not on every one).
ALS_MIN_OVERLAP = 0.5
OPTED_OUT = "C000007"


@dataclass
class Shop:
    """A home folder with a small synthetic shop ingested, and its single-machine models."""

    home: Path
    dataset: Dataset
    parquet: Path
    local: dict[str, Recommender]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    spark_home()  # skip early without pyspark or Java (fail in CI)
    folder = tmp_path_factory.mktemp("spark-shop")
    files = write_csv(SynthConfig(customers=200, items=60, days=200, seed=3), folder / "csv")
    home = folder / "home"
    home.mkdir()
    (home / "storewise.toml").write_text(f'encryption_key = "{Fernet.generate_key().decode()}"\n')
    settings = Settings(home=home)
    store = open_store(settings)
    try:
        for kind in ("items", "customers", "events"):
            ingest(store, kind, [files[kind]])
    finally:
        store.close()
    with build(settings) as services:
        services.customers.set_consents(OPTED_OUT, {"personalization": False})
        events = services.store.events()
        dataset = Dataset.from_store(services.store, policy=ConsentPolicy())
    # The same events as a shop's own Parquet file (timestamps as timestamps).
    parquet = folder / "events.parquet"
    events.select(
        "customer_id",
        "item_id",
        "event_type",
        "quantity",
        "value",
        "order_id",
        pl.from_epoch("ts", time_unit="ms").alias("ts"),
    ).write_parquet(parquet)
    local: dict[str, Recommender] = {
        "popular": Popular().fit(dataset),
        "itemknn": ItemKNN().fit(dataset),
        "als": ALS().fit(dataset),
        "repurchase": Repurchase().fit(dataset),
    }
    return Shop(home=home, dataset=dataset, parquet=parquet, local=local)


@dataclass
class Trained:
    """A home trained by Spark and the bundle it published."""

    home: Path
    served: bundle.ServedModels


def _train(home: Path, master: str, **extra: Any) -> Trained:
    settings = Settings(home=home)
    with build(settings) as services:
        report = services.training.train_spark(master=master, work_dir=settings.spark_dir, **extra)
    served = bundle.load(settings.bundles_dir)
    assert served.version == report.version
    return Trained(home, served)


def _copy_home(shop: Shop, target: Path) -> Path:
    import shutil

    shutil.copytree(shop.home, target)
    return target


@pytest.fixture(scope="module")
def on_local(shop: Shop, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    home = _copy_home(shop, tmp_path_factory.mktemp("local") / "home")
    return _train(home, "local[2]")


@pytest.fixture(scope="module")
def on_cluster(
    shop: Shop, standalone: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Trained:
    home = _copy_home(shop, tmp_path_factory.mktemp("cluster") / "home")
    conf = {
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.executor.memory": "512m",
        "spark.cores.max": "2",
    }
    return _train(home, standalone.master, events=shop.parquet, spark_conf=conf)


def _same_lists(local: Recommender, spark: Recommender, shop: Shop) -> None:
    asked = histories_of(shop.dataset, list(range(min(ASKED, shop.dataset.n_customers))))
    for history in asked:
        want_items, want_scores = local.recommend(history, 10)
        got_items, got_scores = spark.recommend(history, 10)
        assert got_items.tolist() == want_items.tolist()
        np.testing.assert_allclose(got_scores, want_scores, rtol=1e-6, atol=1e-6)
    for item in range(shop.dataset.n_items):
        want_items, want_scores = local.similar_items(item, 10)
        got_items, got_scores = spark.similar_items(item, 10)
        assert got_items.tolist() == want_items.tolist()
        np.testing.assert_allclose(got_scores, want_scores, rtol=1e-6, atol=1e-6)


def _check_exact_models(shop: Shop, served: bundle.ServedModels) -> None:
    assert served.item_ids.tolist() == shop.dataset.item_ids.tolist()
    assert served.customer_ids.tolist() == shop.dataset.customer_ids.tolist()
    _same_lists(shop.local["itemknn"], served.models["itemknn"], shop)
    _same_lists(shop.local["popular"], served.models["popular"], shop)
    local_pop, spark_pop = shop.local["popular"], served.models["popular"]
    assert isinstance(local_pop, Popular) and isinstance(spark_pop, Popular)
    assert spark_pop.countries.tolist() == local_pop.countries.tolist()
    for country in [None, *local_pop.countries.tolist()]:
        np.testing.assert_allclose(
            spark_pop.for_country(country), local_pop.for_country(country), rtol=1e-6
        )
    np.testing.assert_allclose(spark_pop.trending, local_pop.trending, rtol=1e-6)
    want = cobuy_counts(shop.dataset)
    assert (served.cobuy != want).nnz == 0


def test_spark_on_local2_answers_like_the_single_machine_models(
    shop: Shop, on_local: Trained
) -> None:
    served = on_local.served
    _check_exact_models(shop, served)
    assert served.manifest["engine"] == "spark"
    assert served.manifest["spark"]["master"] == "local[2]"
    assert set(served.slots) == {"discovery", "repurchase", "popular", "similar"}


def test_spark_als_agrees_with_the_local_als_within_the_stated_overlap(
    shop: Shop, on_local: Trained
) -> None:
    local, spark = shop.local["als"], on_local.served.models["als"]
    asked = histories_of(shop.dataset, list(range(min(ASKED, shop.dataset.n_customers))))
    overlaps = []
    for history in asked:
        if history.is_empty:
            continue
        want, _ = local.recommend(history, 10)
        got, _ = spark.recommend(history, 10)
        overlaps.append(len(set(want.tolist()) & set(got.tolist())) / 10)
    assert np.mean(overlaps) >= ALS_MIN_OVERLAP, np.mean(overlaps)


def test_spark_repurchase_features_match(shop: Shop, on_local: Trained) -> None:
    local, spark = shop.local["repurchase"], on_local.served.models["repurchase"]
    assert isinstance(local, Repurchase) and isinstance(spark, Repurchase)
    np.testing.assert_allclose(spark.propensity, local.propensity, rtol=1e-6)
    np.testing.assert_allclose(spark.cycle_days, local.cycle_days, rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(spark.item_stats, local.item_stats, rtol=1e-6)
    assert abs(spark.habits - local.habits).max() < 1e-6
    assert (spark.ranker is None) == (local.ranker is None)
    asked = histories_of(shop.dataset, list(range(min(ASKED, shop.dataset.n_customers))))
    for history in asked:
        want, _ = local.buy_again(history, 5)
        got, _ = spark.buy_again(history, 5)
        assert set(got.tolist()) == set(want.tolist())


def test_serving_answers_from_the_spark_bundle_and_consent_held(
    shop: Shop, on_local: Trained
) -> None:
    served = on_local.served
    assert OPTED_OUT not in served.customer_ids.tolist()
    assert served.manifest["data"]["excluded_for_consent"] == shop.dataset.excluded_customers
    assert served.manifest["spark"]["source"] == "store"
    customer = str(shop.dataset.customer_ids[0])
    with build(Settings(home=on_local.home)) as services:
        answer = services.serving.recommend(customer, 5)
        assert len(answer.items) == 5
        assert services.serving.model_version == served.version
        assert services.serving.similar(str(shop.dataset.item_ids[0]), 5).items
    # nothing of the run's export is left behind (it held customers' events)
    assert not any(Settings(home=on_local.home).spark_dir.glob("run-*"))


def test_spark_on_a_standalone_cluster_from_shop_parquet_answers_alike(
    shop: Shop, on_cluster: Trained
) -> None:
    served = on_cluster.served
    _check_exact_models(shop, served)
    assert served.manifest["spark"]["master"].startswith("spark://127.0.0.1:")
    assert served.manifest["data"]["excluded_for_consent"] == shop.dataset.excluded_customers


def test_bad_input_ends_with_one_clear_error_before_spark_starts(
    shop: Shop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match="unreachable"):
        check_master("spark://127.0.0.1:1")
    thin = tmp_path / "thin.parquet"
    pl.DataFrame({"customer_id": ["a"], "item_id": ["x"]}).write_parquet(thin)
    home = _copy_home(shop, tmp_path / "home")
    settings = Settings(home=home)
    with build(settings) as services, pytest.raises(SchemaError, match="event_type, ts"):
        services.training.train_spark(master="local[2]", work_dir=settings.spark_dir, events=thin)
    assert artifacts.current_version(settings.bundles_dir) is None
    from storewise.cli.main import app

    monkeypatch.setitem(sys.modules, "pyspark", None)
    result = CliRunner().invoke(
        app, ["--home", str(home), "train", "--engine", "spark", "--master", "local[2]"]
    )
    assert result.exit_code == ConfigError.exit_code
    assert "the `spark` extra" in result.output
    with build(settings) as services, pytest.raises(ConfigError) as raised:
        services.training.train_spark(master="local[2]", work_dir=settings.spark_dir)
    assert "pip install 'storewise[spark]'" in raised.value.message
