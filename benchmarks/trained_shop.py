"""A trained synthetic shop for benchmarks that serve lists (experiments, new items): one
place that writes the home folder, ingests the generator's files and trains."""

from __future__ import annotations

import time
from pathlib import Path

from storewise.app import FieldCipher, Ingest, Settings, SynthConfig, build, single_threaded_blas


def trained_shop(work: Path, *, customers: int, seed: int, budget_seconds: float = 30) -> Path:
    """The home folder of a shop of ``customers`` customers and 1,000 items (180 days, seeded),
    ingested and trained under ``work``; prints the training time."""
    single_threaded_blas()
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "storewise.toml").write_text(f'encryption_key = "{FieldCipher.generate_key()}"\n')
    config = SynthConfig(customers=customers, items=1000, days=180, seed=seed)
    files = Ingest.synthesize(config, work / "csv")
    with build(Settings(home=home)) as services:
        for kind in ("items", "customers", "events"):
            services.ingest.files(kind, [files[kind]])
        started = time.perf_counter()
        services.training.train(budget_seconds=budget_seconds)
        print(f"trained in {time.perf_counter() - started:.1f} s")
    return home
