"""A tiny trained shop for API tests: synthetic data ingested, a model published, API keys."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from storewise.app import (
    DEMO_KB,
    FieldCipher,
    Ingest,
    Settings,
    SynthConfig,
    build,
    single_threaded_blas,
)

SCOPE_SETS = {
    "read": ["read"],
    "ingest": ["ingest"],
    "admin": ["admin"],
    "shop": ["read", "ingest"],
}


@dataclass(frozen=True)
class Shop:
    """A home folder with a trained model, and what tests need to know about it."""

    home: Path
    keys: dict[str, str]
    customers: list[str]
    items: list[str]
    categories: list[str]

    def settings(self, **overrides: object) -> Settings:
        """Settings over this home (its storewise.toml holds the encryption key file)."""
        return Settings(home=self.home, **overrides)  # type: ignore[arg-type]

    def headers(self, scope: str = "admin") -> dict[str, str]:
        """Authorization headers with the key of a scope set."""
        return {"Authorization": f"Bearer {self.keys[scope]}"}

    def copy(self, target: Path) -> Shop:
        """The same shop in another folder, for tests that change it."""
        shutil.copytree(self.home, target, ignore=shutil.ignore_patterns("csv", "run"))
        config = target / "storewise.toml"
        config.write_text(f'encryption_key_file = "{(target / "secret.key").as_posix()}"\n')
        return Shop(target, self.keys, self.customers, self.items, self.categories)


def build_shop(home: Path, *, model: str | None = None) -> Shop:
    """Generate, ingest and train a 150-customer shop in ``home`` (a few seconds)."""
    single_threaded_blas()
    home.mkdir(parents=True, exist_ok=True)
    (home / "secret.key").write_text(FieldCipher.generate_key())
    (home / "storewise.toml").write_text(
        f'encryption_key_file = "{(home / "secret.key").as_posix()}"\n'
    )
    settings = Settings(home=home)
    files = Ingest.synthesize(SynthConfig(customers=150, items=60, days=120, seed=1), home / "csv")
    with build(settings) as services:
        for kind in ("items", "customers", "events"):
            services.ingest.files(kind, [files[kind]])
        services.training.train(model=model, budget_seconds=5)
        services.support.load_kb([DEMO_KB])
        keys = services.keys
        created = {name: keys.create(scopes, name=name).key for name, scopes in SCOPE_SETS.items()}
        store = services.store
        buyers = store.events().filter(store.events()["event_type"] == "purchase")
        customers = sorted(set(buyers["customer_id"].drop_nulls().to_list()))
        catalog = store.items()
        items = catalog["item_id"].to_list()
        categories = sorted(set(catalog["category"].drop_nulls().to_list()))
    return Shop(home, created, customers, items, categories)
