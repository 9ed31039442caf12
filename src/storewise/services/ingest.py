"""Data in: files (CSV, Parquet, JSON lines), API record batches, synthetic shops, datasets.

Every path writes through the store's transactional writer and returns a report that accounts
for every row. A catalog change tells the serving service to refresh its item facts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from storewise.datasets.fetch import (
    REGISTRY,
    DatasetSource,
    default_cache,
    fetch,
    movielens_items_path,
)
from storewise.datasets.synth import SynthConfig, write_csv
from storewise.ingest.clean import IngestReport, Limits
from storewise.ingest.pipeline import ProgressFn, ingest
from storewise.ingest.records import RecordsReport, check_records
from storewise.store.base import Store


class Ingest:
    """Imports into one store; ``on_items`` is called after the catalog changed."""

    def __init__(
        self,
        store: Store,
        *,
        home: Path,
        chunk_rows: int,
        on_items: Callable[[], None],
        limits: Limits | None = None,
    ) -> None:
        self.store = store
        self.home = home
        self.chunk_rows = chunk_rows
        self.on_items = on_items
        self.limits = limits or Limits()

    def files(
        self,
        kind: str,
        paths: Sequence[str | Path],
        *,
        preset: str | None = None,
        mapping: Mapping[str, str] | None = None,
        encoding: str | None = None,
        delimiter: str | None = None,
        time_format: str | None = None,
        rejected_csv: str | Path | None = None,
        progress: ProgressFn | None = None,
    ) -> IngestReport:
        """Import files of one kind (orders, events, items, customers) in one transaction."""
        report = ingest(
            self.store,
            kind,
            paths,
            preset=preset,
            mapping=mapping,
            encoding=encoding,
            delimiter=delimiter,
            time_format=time_format,
            rejected_csv=rejected_csv,
            chunk_rows=self.chunk_rows,
            progress=progress,
            limits=self.limits,
        )
        if kind == "items":
            self.on_items()
        return report

    def records(
        self, kind: str, records: Sequence[dict[str, Any]], *, source: str = "api"
    ) -> RecordsReport:
        """Validate and store a batch of events, items or customer profiles (one transaction).

        Returns what was stored, already there (duplicate event ids) and rejected, by position.
        """
        checked = check_records(kind, records, source=source, limits=self.limits)  # no lock yet
        with self.store.writer() as writer:
            report = checked.write(writer)
        if kind == "items":
            self.on_items()
        return report

    @staticmethod
    def synthesize(config: SynthConfig, folder: Path) -> dict[str, Path]:
        """Write a seeded synthetic shop (customers, items, events CSV) into ``folder``."""
        return write_csv(config, folder)

    @staticmethod
    def fetch_dataset(
        name: str, *, home: Path, cache: Path | None = None, from_path: Path | None = None,
        force: bool = False,
    ) -> Path:  # fmt: skip
        """A public dataset's local file (downloaded once into ``HOME/datasets``, or taken
        from ``from_path``); needs no store."""
        return fetch(name, cache or default_cache(home), from_path=from_path, force=force)

    @staticmethod
    def catalog_of(path: Path) -> Path:
        """The catalog file a fetched dataset comes with (MovieLens' films), which may not
        exist."""
        return movielens_items_path(path)

    @staticmethod
    def datasets() -> list[DatasetSource]:
        """The public datasets :meth:`fetch_dataset` knows."""
        return list(REGISTRY.values())


__all__ = ["Ingest", "SynthConfig"]
