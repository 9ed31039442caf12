"""The experiments service: experiments' lifecycle, assignment of units to variants, the
tagging and logging of every served list, feedback on lists, and the figures built on them
(recommendation analytics per placement and model version; experiment results).

Front-ends serve a list through :meth:`Experiments.serve`: it finds the placement's running
experiment, assigns the unit (sticky, carried from a guest id to the account at login), asks
``produce`` for the variant's list, tags the answer with a recommendation id (and the
experiment and variant) and logs the exposure.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import polars as pl

from storewise.errors import InputError, NotFound
from storewise.experiments.attribution import (
    DEFAULT_WINDOW_DAYS,
    list_figures,
    summarise,
    unit_metrics,
)
from storewise.experiments.exposures import (
    ExposureLog,
    Feedback,
    FeedbackReport,
    new_recommendation_id,
)
from storewise.experiments.plan import METRICS, Experiment, Plan, Variant
from storewise.experiments.report import report_dict
from storewise.experiments.stats import analyze, units_from_arrays
from storewise.privacy.consent import ConsentPolicy
from storewise.recommend.results import RankedList
from storewise.schema import DAY_MS
from storewise.store.base import Store

#: Seconds a worker keeps its list of running experiments before reading it again, so a start
#: or stop made on one worker reaches every worker within this time.
RUNNING_TTL_S = 5.0
ASSIGNMENT_CACHE = 100_000
#: The longest an analysis looks back for a unit's pre-period spend (CUPED's covariate).
PRE_PERIOD_DAYS = 28
#: The pre-period column CUPED adjusts each metric with (the others are compared as they are).
CUPED_COVARIATES = {"revenue": "pre_revenue", "orders": "pre_orders", "converted": "pre_orders"}
#: At most this many points on the cumulative-lift chart.
CHART_POINTS = 60


class Produce(Protocol):
    """Makes the list of a variant (None: no experiment runs, serve the default)."""

    def __call__(self, variant: Variant | None) -> RankedList: ...


def _now_ms() -> int:
    return int(time.time() * 1000)


class Experiments:
    """Experiments over one store: define, run, assign, log, attribute and analyse."""

    def __init__(
        self,
        store: Store,
        *,
        policy: ConsentPolicy,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock
        self.tables = store.experiment_tables()
        self.log = ExposureLog(self.tables, store)
        self._running: tuple[float, dict[str, Experiment]] | None = None
        self._assigned: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------
    def create(
        self,
        experiment_id: str,
        *,
        placement: str,
        variants: Sequence[Variant | Mapping[str, Any]],
        plan: Plan | None = None,
        name: str | None = None,
        start: bool = False,
    ) -> Experiment:
        """Define an experiment (a draft, or running at once with ``start``)."""
        experiment = Experiment.create(
            experiment_id,
            placement=placement,
            variants=variants,
            plan=plan,
            name=name,
            at_ms=self.clock(),
        )
        if self.tables.get(experiment_id) is not None:
            raise InputError(f"an experiment {experiment_id!r} exists already")
        self.tables.save(experiment.to_row())
        return self.start(experiment_id) if start else experiment

    def get(self, experiment_id: str) -> Experiment:
        """One experiment; NotFound naming the id."""
        row = self.tables.get(experiment_id)
        if row is None:
            raise NotFound(f"no experiment {experiment_id!r}")
        return Experiment.from_row(row)

    def all(self) -> list[Experiment]:
        """Every experiment, newest first."""
        return [Experiment.from_row(r) for r in self.tables.all()]

    def start(self, experiment_id: str) -> Experiment:
        """Start a draft; refused while another experiment runs on the same placement (two
        at once would split the same traffic twice)."""
        experiment = self.get(experiment_id)
        if experiment.status != "draft":
            raise InputError(f"experiment {experiment_id!r} is {experiment.status}, not a draft")
        for other in self.all():
            if other.status == "running" and other.placement == experiment.placement:
                raise InputError(
                    f"experiment {other.experiment_id!r} already runs on {experiment.placement!r}"
                )
        started = experiment.model_copy(update={"status": "running", "started_at": self.clock()})
        self.tables.save(started.to_row())
        self._running = None
        return started

    def stop(self, experiment_id: str) -> Experiment:
        """Stop a running experiment (its results stay; its traffic returns to the default)."""
        experiment = self.get(experiment_id)
        if experiment.status != "running":
            raise InputError(f"experiment {experiment_id!r} is {experiment.status}, not running")
        stopped = experiment.model_copy(update={"status": "stopped", "stopped_at": self.clock()})
        self.tables.save(stopped.to_row())
        self._running = None
        return stopped

    def running_for(self, placement: str) -> Experiment | None:
        """The experiment running on a placement, if any (re-read every few seconds)."""
        now = time.monotonic()
        cached = self._running
        if cached is None or now - cached[0] > RUNNING_TTL_S:
            running = {}
            for row in self.tables.all(status="running"):
                experiment = Experiment.from_row(row)
                running[experiment.placement] = experiment
            cached = (now, running)
            self._running = cached
        return cached[1].get(placement)

    # -- assignment and serving ----------------------------------------------------------------
    def assign(self, experiment: Experiment, unit_id: str, *, customer: bool) -> Variant:
        """The unit's variant: the one it has, else (for a customer) the one a guest id linked
        to them has, else by hashing; recorded so it stays."""
        key = (experiment.experiment_id, unit_id)
        with self._lock:
            known = self._assigned.get(key)
        if known is not None:
            return experiment.variant(known)
        carried_from = None
        name = experiment.variant_for(unit_id).name
        if customer:
            found = self.tables.assignment_of(experiment.experiment_id, unit_id)
            if found is not None:
                found_unit, name = found
                carried_from = found_unit if found_unit != unit_id else None
        kept = self.tables.assign(
            experiment.experiment_id,
            unit_id,
            name,
            at_ms=self.clock(),
            carried_from=carried_from,
        )
        with self._lock:
            self._assigned[key] = kept
            if len(self._assigned) > ASSIGNMENT_CACHE:
                self._assigned.popitem(last=False)
        return experiment.variant(kept)

    def _counted(self, unit_id: str | None, customer: bool) -> bool:
        """Whether a unit may be logged under its id: a customer who refused analytics is
        served the same way but logged without identity and left out of analyses."""
        if unit_id is None:
            return False
        if not customer:
            return True
        return self.policy.allows(self.store.consent_of(unit_id), "analytics")

    def serve(
        self,
        placement: str,
        unit_id: str | None,
        produce: Produce,
        *,
        customer: bool = True,
    ) -> RankedList:
        """Serve one list on a placement for a unit (a customer id, a guest's anonymous id, or
        None for lists about no one): experiment variant, tag, exposure log."""
        experiment = self.running_for(placement) if unit_id else None
        counted = self._counted(unit_id, customer)
        variant = None
        if experiment is not None and unit_id is not None:
            variant = (
                self.assign(experiment, unit_id, customer=customer)
                if counted
                else experiment.variant_for(unit_id)
            )
        answer = produce(variant)
        tagged = dataclasses.replace(
            answer,
            recommendation_id=new_recommendation_id(),
            placement=placement,
            experiment=experiment.experiment_id if variant is not None and experiment else None,
            variant=variant.name if variant is not None else None,
        )
        self.log.record(
            tagged,
            placement=placement,
            unit_id=unit_id if counted else None,
            experiment_id=tagged.experiment if counted else None,
            variant=tagged.variant if counted else None,
            at_ms=self.clock(),
        )
        return tagged

    def feedback(self, rows: Iterable[Feedback | Mapping[str, Any]]) -> FeedbackReport:
        """Record impressions and clicks on served lists (idempotent; bad rows reported)."""
        return self.log.feedback(rows)

    def forget(self, customer_id: str) -> dict[str, int]:
        """Erasure hook: drop this worker's cached assignments and queued served lists of
        the customer (the stored rows went with the customer's other rows)."""
        with self._lock:
            for key in [k for k in self._assigned if k[1] == customer_id]:
                del self._assigned[key]
        dropped = self.log.forget(customer_id)
        return {"queued_exposures": dropped} if dropped else {}

    # -- figures -------------------------------------------------------------------------------
    def _links(self, *frames: pl.DataFrame) -> dict[str, str]:
        ids: list[str] = []
        for frame in frames:
            for column in ("unit_id", "anonymous_id"):
                if column in frame.columns:
                    ids.extend(v for v in frame[column].drop_nulls().unique().to_list())
        return self.tables.customers_of(ids)

    def analytics(
        self, *, days: int = 30, window_days: int = DEFAULT_WINDOW_DAYS
    ) -> dict[str, Any]:
        """Per placement and model version, and per placement and day, over the last
        ``days``: lists served, impressions, clicks, click-through, add-to-carts, attributed
        orders and revenue (click-through) and view-through orders and revenue."""
        if not 1 <= days <= 366:
            raise InputError("days must be between 1 and 366")
        self.log.flush()
        since = self.clock() - days * DAY_MS
        exposures = self.tables.exposures(since_ms=since)
        feedback = self.tables.feedback(since_ms=since)
        outcomes = self.tables.outcomes(since_ms=since)
        links = self._links(exposures, outcomes)
        figures = list_figures(exposures, feedback, outcomes, links, window_days=window_days)
        by_day = summarise(figures, ["placement", "day"])
        for row in by_day:
            row["date"] = time.strftime("%Y-%m-%d", time.gmtime(row.pop("day") * DAY_MS / 1000))
        return {
            "days": days,
            "window_days": window_days,
            "attribution": "click-through, last click within the window; view-through: a "
            "shown item bought within the window after the list was served",
            "by_placement": summarise(figures, ["placement", "model_version"]),
            "by_day": by_day,
        }

    def unit_table(self, experiment: Experiment) -> tuple[pl.DataFrame, int]:
        """Per unit of an experiment: variant, first exposure, metrics and the pre-period
        spend (``pre_revenue``, ``pre_orders``); and the count of crossovers."""
        self.log.flush()
        assignments = self.tables.assignments(experiment.experiment_id)
        since = experiment.started_at or experiment.created_at
        until = experiment.stopped_at or self.clock()
        exposures = self.tables.exposures(
            since_ms=since, until_ms=until, experiment_id=experiment.experiment_id
        )
        feedback = self.tables.feedback(since_ms=since)
        outcomes = self.tables.outcomes(
            since_ms=since, until_ms=until + experiment.plan.window_days * DAY_MS
        )
        links = self._links(assignments, exposures, outcomes)
        table, crossovers = unit_metrics(
            assignments,
            exposures,
            feedback,
            outcomes,
            links,
            until_ms=until,
            window_days=experiment.plan.window_days,
        )
        firsts = dict(zip(table["unit_id"].to_list(), table["first_at"].to_list(), strict=True))
        pre = self.tables.spend_before(firsts, days=PRE_PERIOD_DAYS, day_ms=DAY_MS)
        table = table.with_columns(
            pl.Series("pre_revenue", [pre.get(u, (0.0, 0))[0] for u in firsts], pl.Float64),
            pl.Series("pre_orders", [float(pre.get(u, (0.0, 0))[1]) for u in firsts], pl.Float64),
        )
        return table, crossovers

    def results(self, experiment_id: str, *, chart: bool = True) -> dict[str, Any]:
        """The analysis of an experiment so far: units per variant with the sample-ratio
        check, every metric against the control (Welch interval, relative lift, CUPED on a
        28-day pre-period, always-valid interval for daily peeking) and, with ``chart``, the
        cumulative lift of the primary metric by day. InputError while a variant has fewer
        than two units."""
        experiment = self.get(experiment_id)
        table, crossovers = self.unit_table(experiment)
        counts = dict(table.group_by("variant").len().iter_rows()) if table.height else {}
        answer: dict[str, Any] = {
            "experiment": experiment.to_dict(),
            "primary_metric": experiment.plan.primary_metric,
            "units": {v.name: int(counts.get(v.name, 0)) for v in experiment.variants},
            "crossovers": crossovers,
        }
        missing = [name for name, n in answer["units"].items() if n < 2]
        if missing:
            raise InputError(
                f"experiment {experiment_id!r}: variant(s) {', '.join(missing)} have fewer than "
                "two exposed units yet; nothing to analyse"
            )
        answer.update(self._analyse(experiment, table))
        if chart:
            answer["cumulative"] = self._cumulative(experiment)
        return answer

    def _analyse(self, experiment: Experiment, table: pl.DataFrame) -> dict[str, Any]:
        data = units_from_arrays(
            table["variant"].to_list(),
            {m: table[m].to_numpy() for m in METRICS},
            pre={m: table[c].to_numpy() for m, c in CUPED_COVARIATES.items()},
        )
        split = dict(zip((v.name for v in experiment.variants), experiment.weights, strict=True))
        report = analyze(data, control=experiment.plan.control, split=split, sequential=True)
        return report_dict(report)

    def _cumulative(self, experiment: Experiment) -> list[dict[str, Any]]:
        """Per day since the start: units so far and the primary metric's mean per variant,
        with each treatment's relative lift over the control (cumulative, not daily)."""
        metric, control = experiment.plan.primary_metric, experiment.plan.control
        start = experiment.started_at or experiment.created_at
        end = experiment.stopped_at or self.clock()
        days = max(1, -(-(end - start) // DAY_MS))
        stride = max(1, -(-days // CHART_POINTS))
        assignments = self.tables.assignments(experiment.experiment_id)
        exposures = self.tables.exposures(
            since_ms=start, until_ms=end, experiment_id=experiment.experiment_id
        )
        feedback = self.tables.feedback(since_ms=start)
        outcomes = self.tables.outcomes(since_ms=start, until_ms=end)
        links = self._links(assignments, exposures, outcomes)
        points = []
        for day in range(stride, days + stride, stride):
            cut = min(start + day * DAY_MS, end)
            table, _ = unit_metrics(
                assignments.filter(pl.col("first_at") <= cut),
                exposures.filter(pl.col("at") <= cut),
                feedback.filter(pl.col("at") <= cut),
                outcomes.filter(pl.col("ts") <= cut),
                links,
                until_ms=cut,
                window_days=experiment.plan.window_days,
            )
            means = dict(table.group_by("variant").agg(pl.col(metric).mean()).iter_rows())
            base = means.get(control)
            points.append(
                {
                    "day": min(day, days),
                    "units": table.height,
                    "means": {k: float(v) for k, v in means.items()},
                    "lift": {
                        k: (float(v) / base - 1.0) if base else None
                        for k, v in means.items()
                        if k != control
                    },
                }
            )
        return points
