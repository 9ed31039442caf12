"""Settings: the only place that reads ``STOREWISE_*`` environment variables or ``storewise.toml``.

A ``Settings`` object is built once by a front-end (CLI, API) and passed in explicitly; nothing
builds one at import time. Secrets have no defaults: features that need them refuse to run.

>>> s = Settings(home="/tmp/sw-doc")
>>> s.database_url.startswith("sqlite:///")
True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _toml_paths(home: Any) -> list[Path]:
    """Config files read, later ones winning: ``<home>/storewise.toml``, then
    ``$STOREWISE_CONFIG`` or ``./storewise.toml``."""
    home_dir = Path(home or os.environ.get("STOREWISE_HOME") or "storewise-data").expanduser()
    return [home_dir / "storewise.toml", Path(os.environ.get("STOREWISE_CONFIG", "storewise.toml"))]


class Settings(BaseSettings):
    """All runtime configuration of storewise, with its meaning and default."""

    model_config = SettingsConfigDict(env_prefix="STOREWISE_", extra="forbid", frozen=True)

    home: Path = Field(
        default=Path("storewise-data"),
        description="Folder holding the SQLite database, model bundles and caches.",
    )
    db_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store; default: SQLite file in `home`.",
    )
    encryption_key: SecretStr | None = Field(
        default=None,
        description="Fernet key encrypting personal fields (email, name). No default.",
    )
    encryption_key_file: Path | None = Field(
        default=None,
        description="File holding the Fernet key, as an alternative to `encryption_key`.",
    )
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description="Secret for keyed-HMAC pseudonyms in exports and logs. No default.",
    )
    ingest_chunk_rows: int = Field(
        default=200_000, ge=1_000, description="Rows per chunk when streaming a file in."
    )
    ingest_max_quantity: float = Field(
        default=1_000_000.0,
        gt=0,
        allow_inf_nan=False,
        description="Largest quantity (units) an event or order line may carry; rows beyond "
        "are rejected with a reason, so a typo like 1e20 never becomes a purchase.",
    )
    ingest_max_price: float = Field(
        default=10_000_000.0,
        gt=0,
        allow_inf_nan=False,
        description="Largest unit price an event, order line or item may carry; rows beyond "
        "are rejected. A line value may reach ingest_max_quantity x ingest_max_price.",
    )
    retention_days: dict[str, int] = Field(
        default_factory=dict,
        description="Days each event type is kept, e.g. {view = 180, search = 90}; older events "
        "are deleted (their daily counts per item kept) by `storewise privacy retain` and by "
        "the server on a schedule. Types not named are kept for good.",
    )
    retention_every_hours: float = Field(
        default=24.0,
        gt=0,
        description="How often a running server applies `retention_days`.",
    )
    api_insecure_local: bool = Field(
        default=False,
        description="Serve the HTTP API without API keys; only loopback clients are answered "
        "(set by `storewise serve --insecure-local`).",
    )
    api_max_body_bytes: int = Field(
        default=2_000_000, ge=1_000, description="Largest HTTP request body accepted (else 413)."
    )
    api_key_cache_seconds: float = Field(
        default=2.0,
        ge=0.0,
        description="How long a verified API key is trusted before it is checked again "
        "(a revoked key stops working within this time).",
    )
    api_threads: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Threads per API worker process running engine calls (each may hold a "
        "database connection); parallelism comes from worker processes.",
    )
    api_sqlite_cache_mib: int = Field(
        default=8,
        ge=1,
        description="SQLite page cache per API database connection, in MiB (imports use a "
        "large one; serving reads small slices, and a large cache only grows worker memory).",
    )
    api_metrics_loopback_open: bool = Field(
        default=True,
        description="Answer GET /metrics without a key to clients on 127.0.0.1/::1; "
        "others need an admin key.",
    )
    basket_min_customers: int = Field(
        default=5,
        ge=2,
        description="'Bought together' shows a pair of items only when at least this many "
        "distinct customers bought both in one order; a request may raise it, never lower it.",
    )
    placements: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Default list rules per placement (for-you, buy-again, similar, "
        "bought-together, trending), e.g. {for-you = {long_tail_boost = 0.2, max_per_brand = "
        "3}}; a request's own parameters win over them. Checked when the services are built.",
    )
    explore_share: float = Field(
        default=0.0,
        ge=0.0,
        le=0.5,
        description="Share of personal lists (for-you, guest) in which one slot of the lower "
        "half shows an item drawn from those ranked just below the list, so new candidates get "
        "seen; the chance of every shown item is logged, which off-policy estimates need.",
    )
    api_warm_answers: int = Field(
        default=20_000,
        ge=0,
        description="After loading a model, answer this many known customers in the background "
        "(default list) so their first request is served from memory; 0 turns it off.",
    )

    spark_master: str = Field(
        default="local[*]",
        description="Spark master `storewise train --engine spark` runs on: local[N], "
        "local[*] or spark://HOST:PORT (a standalone cluster); `--master` overrides it.",
    )
    spark_work_dir: Path | None = Field(
        default=None,
        description="Folder for the Spark trainer's Parquet export and scratch files "
        "(default: `home`/spark-work); on a cluster, a path every worker sees (shared mount).",
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict,
        description="Extra Spark settings for the Spark trainer, e.g. "
        '{"spark.driver.memory" = "4g", "spark.sql.shuffle.partitions" = "64"}.',
    )

    @field_validator("home", mode="before")
    @classmethod
    def _expand_home(cls, value: Any) -> Any:
        return Path(value).expanduser() if isinstance(value, str | Path) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Precedence: explicit arguments, then environment, then ``storewise.toml``."""
        home = init_settings().get("home")
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=_toml_paths(home)),
        )

    @property
    def database_url(self) -> str:
        """The store URL: ``db_url`` if set, else a SQLite file inside ``home``."""
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.home / 'storewise.db').as_posix()}"

    @property
    def bundles_dir(self) -> Path:
        """Folder where published model bundles live."""
        return self.home / "models"

    @property
    def spark_dir(self) -> Path:
        """Where the Spark trainer keeps its per-run export (deleted after each run)."""
        return self.spark_work_dir or self.home / "spark-work"

    def fernet_key(self) -> bytes | None:
        """The encryption key for personal fields, or None when none is configured."""
        if self.encryption_key is not None:
            return self.encryption_key.get_secret_value().encode()
        if self.encryption_key_file is not None:
            return self.encryption_key_file.read_bytes().strip()
        return None
