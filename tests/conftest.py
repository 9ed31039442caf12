"""Shared fixtures: paths to the real datasets, the PostgreSQL server, fresh stores."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from storewise.app import Services
from storewise.privacy.crypto import FieldCipher
from storewise.store import SqlStore
from storewise.store.tables import metadata

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"
IN_CI = bool(os.environ.get("CI"))
PG_SERVER = os.environ.get("STOREWISE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def shared_file(*parts: str) -> Path:
    """A file of ../shared/datasets, or skip (never in CI) when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if IN_CI:
            pytest.fail(f"CI must have the shared dataset {path}")
        pytest.skip(f"needs the shared dataset {path} (absent on this machine)")
    return path


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str]:
    """A private schema on the real PostgreSQL server for this test session."""
    engine = sa.create_engine(PG_SERVER)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # pragma: no cover - depends on the machine
        engine.dispose()
        if IN_CI:
            pytest.fail(f"CI must reach PostgreSQL at {PG_SERVER}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_SERVER} (outside CI): {exc}")
    schema = f"sw_test_{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    yield f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture
def cipher() -> FieldCipher:
    """A fresh personal-field cipher."""
    return FieldCipher(FieldCipher.generate_key())


def _empty_pg(url: str, cipher: FieldCipher | None) -> SqlStore:
    """The shared test schema emptied, then opened with ``cipher`` (which binds its key)."""
    plain = SqlStore.open(url)
    names = ", ".join(t.name for t in reversed(metadata.sorted_tables))
    with plain.engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    plain.close()
    return SqlStore.open(url, cipher=cipher)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(
    request: pytest.FixtureRequest, tmp_path: Path, cipher: FieldCipher
) -> Iterator[SqlStore]:
    """An empty store, once on SQLite and once on the real PostgreSQL server."""
    if request.param == "sqlite":
        store = SqlStore.open(f"sqlite:///{tmp_path / 'store.db'}", cipher=cipher)
    else:
        store = _empty_pg(request.getfixturevalue("pg_schema_url"), cipher)
    yield store
    store.close()


@pytest.fixture
def sqlite_store(tmp_path: Path, cipher: FieldCipher) -> Iterator[SqlStore]:
    """An empty SQLite store in a temporary folder."""
    store = SqlStore.open(f"sqlite:///{tmp_path / 'store.db'}", cipher=cipher)
    yield store
    store.close()


def _build_trained_home(folder: Path) -> Path:
    """A home folder with a small synthetic shop ingested and a quick model trained."""
    from storewise.datasets.synth import SynthConfig, write_csv
    from storewise.ingest.pipeline import ingest
    from storewise.recommend.training import train
    from storewise.settings import Settings
    from storewise.store import open_store

    home = folder / "home"
    files = write_csv(SynthConfig(customers=250, items=70, days=200, seed=3), folder / "csv")
    key = FieldCipher.generate_key()
    home.mkdir(parents=True)
    (home / "storewise.toml").write_text(f'encryption_key = "{key}"\n')
    settings = Settings(home=home)
    store = open_store(settings)
    try:
        for kind in ("items", "customers", "events"):
            ingest(store, kind, [files[kind]])
        train(store, settings.bundles_dir, budget_seconds=3.0)
    finally:
        store.close()
    return home


@pytest.fixture(scope="session")
def trained_home_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per session; copy it (``trained_home``) before changing anything."""
    from storewise.engine import single_threaded_blas

    single_threaded_blas()
    return _build_trained_home(tmp_path_factory.mktemp("trained"))


@pytest.fixture
def trained_home(trained_home_template: Path, tmp_path: Path) -> Path:
    """A private copy of the trained home folder for one test."""
    import shutil

    target = tmp_path / "home"
    shutil.copytree(trained_home_template, target)
    return target


@pytest.fixture
def trained_services(trained_home: Path) -> Iterator[Services]:
    """The services over a private copy of the trained home, closed after the test."""
    from storewise.app import build
    from storewise.settings import Settings

    with build(Settings(home=trained_home)) as services:
        yield services
