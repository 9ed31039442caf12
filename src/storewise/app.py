"""The composition root: ``build(settings)`` wires every service once, and front-ends (CLI,
API, dashboard, demo) get everything they use from here and nothing else.

What is wired, and who may see what (``ARCHITECTURE.md`` draws it)::

    store (Store protocol: SQLite or PostgreSQL)
      -> serving    Engine: recommend / similar / basket / trending / buy-again
      -> customers  profile, consent, identity, export, erasure (+ erasure hooks)
      -> ingest     files, API records, synthetic shops, datasets
      -> training   snapshot -> tune -> fit -> publish; offline evaluation
      -> insights   dashboard aggregates, training history
      -> privacy    key rotation, retention, pseudonyms, the audit log
      -> marketing  ports: MarketingFacts (the store), Recommendations (campaign picks
                    through experiments), AuditTrail
      -> support    ports: SupportFacts (the store), SupportRecommendations (serving),
                    CustomerValue (marketing)
      -> collect    browser events and widget lists; ports: Records (ingest), Identities
                    (customers), ServedLists (experiments), Lists (serving), Facts (the store)
      -> experiments  variants, assignment, the exposure log, attribution, analysis;
                    every API list and campaign pick is served through it

One :class:`~storewise.privacy.consent.ConsentPolicy` and one
:class:`~storewise.privacy.audit.Audit` are shared by all of them.

Front-ends also take from this module the few request and answer types they speak in
(``RuleSet``, ``RankedList``, ``IngestReport``, ...), so they never import a room of the house.

>>> import tempfile
>>> with build(Settings(home=tempfile.mkdtemp())) as services:
...     services.insights.stats()["events"]["total"]
0
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

from storewise.collect.identity import IdentitySigner
from storewise.collect.limits import CollectLimits
from storewise.collect.rows import BatchTooLarge
from storewise.collect.service import PLACEMENTS as WIDGET_PLACEMENTS
from storewise.collect.service import Collect
from storewise.datasets.synth import SynthConfig
from storewise.engine import MAX_N, Engine, check_n, single_threaded_blas
from storewise.experiments.plan import Plan, Variant
from storewise.experiments.report import report_dict
from storewise.experiments.service import CampaignPicks, Experiments
from storewise.experiments.stats import (
    DEFAULT_ALPHA,
    DEFAULT_TUNING_N,
    SRM_THRESHOLD,
    analyze,
    plan_power,
    read_units_csv,
)
from storewise.ingest.clean import IngestReport, Limits
from storewise.ingest.presets import PRESETS, parse_mapping
from storewise.marketing.campaigns import write_audience, write_audience_csv
from storewise.marketing.offer_book import NO_OFFER_ID
from storewise.marketing.service import MarketingService
from storewise.privacy.audit import Audit
from storewise.privacy.consent import ConsentPolicy
from storewise.privacy.crypto import FieldCipher
from storewise.privacy.spreadsheet import csv_writer
from storewise.recommend.results import RankedList
from storewise.recommend.rules import RuleSet
from storewise.services.customers import Customers
from storewise.services.ingest import Ingest
from storewise.services.insights import Insights, ItemAudience, MonthFigures
from storewise.services.privacy import Privacy
from storewise.services.training import Training, TrainReport
from storewise.settings import Settings
from storewise.store import open_store
from storewise.store.base import Store
from storewise.store.keys import (
    PUBLISHABLE,
    SCOPES,
    KeyInfo,
    KeyStore,
    check_secret,
    grants,
    normalise_origin,
    parse_origins,
    parse_scopes,
    split_key,
)
from storewise.support.service import DEMO_KB, SupportService


@dataclass
class Services:
    """Everything a front-end may use, built by :func:`build` over one store."""

    settings: Settings
    store: Store
    policy: ConsentPolicy
    audit: Audit
    serving: Engine
    customers: Customers
    ingest: Ingest
    training: Training
    insights: Insights
    marketing: MarketingService
    support: SupportService
    keys: KeyStore
    privacy: Privacy
    experiments: Experiments
    collect: Collect

    @property
    def store_url(self) -> str:
        """The store's URL without its password (binds signed cookies to one installation)."""
        return self.store.url

    def serve(self, *, sqlite_cache_mib: int | None = None) -> None:
        """Set the services up for a long-running server: marketing recomputes in the
        background rather than inside a request, and (for a server that owns its store) each
        database connection keeps a small page cache so worker memory stays flat."""
        self.marketing.refresh_in_background = True
        if sqlite_cache_mib is not None:
            self.store.limit_cache(sqlite_cache_mib)

    def close(self) -> None:
        """Release the store's connections."""
        self.store.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def build(settings: Settings, *, store: Store | None = None) -> Services:
    """Wire the services over ``settings`` (or over a given store, e.g. in tests).

    Cheap: nothing is loaded until it is first used (the model bundle, the marketing analysis,
    the support assistant), so one-shot CLI commands pay only for what they touch.
    """
    store = store if store is not None else open_store(settings)
    policy = ConsentPolicy()
    store.use_collection_rule(policy.collection_rule())
    audit = Audit(store)
    serving = Engine(
        store,
        settings.bundles_dir,
        policy,
        placements=settings.placements,
        basket_min_customers=settings.basket_min_customers,
    )
    experiments = Experiments(
        store, policy=policy, explore_share=settings.explore_share, lists=serving
    )
    marketing = MarketingService(
        store,
        CampaignPicks(experiments),
        folder=settings.home / "marketing",
        policy=policy,
        audit=audit,
    )
    support = SupportService(
        store, serving, marketing, folder=settings.home / "support", policy=policy
    )
    insights = Insights(store, models_dir=settings.bundles_dir, policy=policy)
    customers = Customers(
        store,
        policy=policy,
        audit=audit,
        value=marketing,
        hooks=(serving, marketing, insights, experiments),
    )
    ingest = Ingest(
        store,
        home=settings.home,
        chunk_rows=settings.ingest_chunk_rows,
        on_items=serving.refresh_catalog,
        limits=Limits(settings.ingest_max_quantity, settings.ingest_max_price),
    )
    collect = Collect(
        signer=IdentitySigner(store.id_hash),
        records=ingest,
        identities=customers,
        served=experiments,
        lists=serving,
        facts=store,
    )
    return Services(
        settings=settings,
        store=store,
        policy=policy,
        audit=audit,
        serving=serving,
        customers=customers,
        ingest=ingest,
        training=Training(store, models_dir=settings.bundles_dir, policy=policy),
        insights=insights,
        marketing=marketing,
        support=support,
        keys=store.keys(),
        privacy=Privacy(store, settings=settings, audit=audit),
        experiments=experiments,
        collect=collect,
    )


__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_TUNING_N",
    "DEMO_KB",
    "MAX_N",
    "NO_OFFER_ID",
    "PRESETS",
    "PUBLISHABLE",
    "SCOPES",
    "SRM_THRESHOLD",
    "WIDGET_PLACEMENTS",
    "BatchTooLarge",
    "Collect",
    "CollectLimits",
    "Engine",
    "Experiments",
    "FieldCipher",
    "Ingest",
    "IngestReport",
    "ItemAudience",
    "KeyInfo",
    "KeyStore",
    "MonthFigures",
    "Plan",
    "RankedList",
    "RuleSet",
    "Services",
    "Settings",
    "SynthConfig",
    "TrainReport",
    "Variant",
    "analyze",
    "build",
    "check_n",
    "check_secret",
    "csv_writer",
    "grants",
    "normalise_origin",
    "parse_mapping",
    "parse_origins",
    "parse_scopes",
    "plan_power",
    "read_units_csv",
    "report_dict",
    "single_threaded_blas",
    "split_key",
    "write_audience",
    "write_audience_csv",
]
