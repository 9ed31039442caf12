"""Training as a service: snapshot the store -> tune -> fit -> publish a model bundle, and the
offline evaluation of every model on a time split (the retail protocol).

The serving service picks a published bundle up by itself (hot reload), so training needs
nothing from it: a separate process (``storewise train``) or the Spark trainer can publish.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from storewise.evaluate.report import run_evaluation, write_html
from storewise.privacy.consent import ConsentPolicy
from storewise.privacy.erasure import drop_erased
from storewise.recommend import bundle
from storewise.recommend.training import Progress, TrainProgress, TrainReport, train
from storewise.store.base import Store


class Training:
    """Trains on one store and publishes into one model folder."""

    def __init__(self, store: Store, *, models_dir: Path, policy: ConsentPolicy) -> None:
        self.store = store
        self.models_dir = models_dir
        self.policy = policy

    def train(
        self,
        *,
        model: str | None = None,
        valid_days: float = 30.0,
        budget_seconds: float = 600.0,
        as_of_ms: int | None = None,
        progress: TrainProgress | None = None,
    ) -> TrainReport:
        """Tune on the most recent ``valid_days`` (unless ``model`` is given), refit on all data
        and publish a new current bundle, within about ``budget_seconds`` in all; ``progress``
        hears each phase (with a step count where the work can be counted)."""
        return train(
            self.store,
            self.models_dir,
            model=model,
            valid_days=valid_days,
            budget_seconds=budget_seconds,
            as_of_ms=as_of_ms,
            progress=progress,
            policy=self.policy,
        )

    def train_spark(
        self,
        *,
        master: str,
        work_dir: Path,
        events: Path | None = None,
        spark_conf: Mapping[str, str] | None = None,
        progress: Progress | None = None,
    ) -> TrainReport:
        """Train the models that scale on Apache Spark (``master``: local[N] or a cluster)
        from the consent-applied snapshot, or from a shop's Parquet ``events`` with consent
        applied, and publish the same bundle the local trainer writes. Needs the ``spark``
        extra; customers erased while Spark trained are dropped before publishing."""
        from storewise.spark import train as spark_train

        say = progress or (lambda _message: None)
        trained = spark_train(
            self.store,
            self.models_dir,
            master=master,
            policy=self.policy,
            work_dir=work_dir,
            events=events,
            conf=spark_conf,
            progress=say,
        )
        manifest = trained.manifest
        with bundle.lock(self.models_dir).hold():
            erased = self.store.erased_since(trained.snapshot_ms)
            late = drop_erased(trained.models, trained.customer_ids, erased, self.store.id_hash)
            if late:
                say(f"dropped {late} customer(s) erased since the snapshot was read")
                manifest["erasures_since_training"] = late
            version = bundle.save(
                self.models_dir,
                trained.models,
                trained.slots,
                item_ids=trained.item_ids,
                customer_ids=trained.customer_ids,
                cobuy=trained.cobuy,
                manifest=manifest,
            )
        say(f"published model bundle {version}")
        return TrainReport(
            version=version,
            seconds=float(manifest["train_seconds"]),
            chosen=trained.chosen,
            validation={},
            data=trained.data,
        )

    def evaluate(
        self,
        *,
        test_days: float = 30.0,
        valid_days: float = 30.0,
        budget_seconds: float = 600.0,
        report: Path | None = None,
        progress: TrainProgress | None = None,
    ) -> dict[str, Any]:
        """Every model and the tuned hybrid on a time split (tuning within ``budget_seconds``);
        an HTML report if ``report``."""
        result = run_evaluation(
            self.store,
            test_days=test_days,
            valid_days=valid_days,
            budget_seconds=budget_seconds,
            progress=progress,
            policy=self.policy,
        )
        if report is not None:
            write_html(result, report)
        return result


__all__ = ["TrainReport", "Training"]
