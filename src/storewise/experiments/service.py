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

import numpy as np
import polars as pl

from storewise.errors import InputError, NotFound, StorewiseError
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
from storewise.experiments.interleave import analyze_interleaving, team_draft
from storewise.experiments.offpolicy import evaluate_rankings
from storewise.experiments.plan import METRICS, Experiment, Plan, Variant
from storewise.experiments.report import report_dict
from storewise.experiments.stats import analyze, units_from_arrays
from storewise.privacy.consent import ConsentPolicy
from storewise.recommend.results import RankedList, Recommendation
from storewise.recommend.rules import RuleSet
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


class Extend(Protocol):
    """Makes a variant's list ``extra`` items longer (what exploration draws from)."""

    def __call__(self, variant: Variant | None, extra: int) -> RankedList: ...


class Lists(Protocol):
    """Serving, as experiments need it: a customer's list by a named model of the bundle."""

    def recommend(
        self,
        customer_id: str,
        n: int = 10,
        *,
        scenario: str = "for-you",
        rules: RuleSet | None = None,
        model: str | None = None,
    ) -> RankedList: ...

    def model_names(self) -> list[str]: ...

    def model_versions(self) -> list[str]: ...

    def unseen_items(self) -> list[Recommendation]: ...

    def at_version(self, version: str) -> Lists: ...

    def recommend_many(
        self,
        customer_ids: Sequence[str],
        n: int = 10,
        *,
        rules: RuleSet | None = None,
        batch: int = 256,
        model: str | None = None,
    ) -> list[RankedList]: ...


#: Exploration draws from this many items ranked just below the list.
EXPLORE_POOL = 20


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
        explore_share: float = 0.0,
        rng: np.random.Generator | None = None,
        lists: Lists | None = None,
    ) -> None:
        """``explore_share``: the share of lists given an exploration slot (see
        ``Settings.explore_share``)."""
        if not 0.0 <= explore_share <= 0.5:
            raise InputError("explore_share must be between 0 and 0.5")
        self.explore_share = explore_share
        self.lists = lists
        self.rng = rng if rng is not None else np.random.default_rng()
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
        method: str = "ab",
    ) -> Experiment:
        """Define an experiment (a draft, or running at once with ``start``)."""
        experiment = Experiment.create(
            experiment_id,
            placement=placement,
            variants=variants,
            plan=plan,
            name=name,
            at_ms=self.clock(),
            method=method,
        )
        if self.tables.get(experiment_id) is not None:
            raise InputError(f"an experiment {experiment_id!r} exists already")
        self._check_models(experiment)
        self.tables.save(experiment.to_row())
        return self.start(experiment_id) if start else experiment

    def _check_models(self, experiment: Experiment) -> None:
        """A variant naming a model the served bundle lacks is refused now, not served as
        the default in silence (checked when a bundle is served)."""
        named = [v.model for v in experiment.variants if v.model]
        pinned = [v.version for v in experiment.variants if v.version]
        if (not named and not pinned) or self.lists is None:
            return
        kept = self.lists.model_versions()
        missing = [v for v in pinned if v not in kept]
        if missing:
            raise InputError(
                f"experiment {experiment.experiment_id!r}: no kept model bundle {missing[0]!r};"
                f" kept versions: {', '.join(kept) or 'none'}"
            )
        if not named:
            return
        try:
            known = self.lists.model_names()
        except StorewiseError:  # no bundle yet: checked again when it starts
            return
        unknown = [m for m in named if m not in known]
        if unknown:
            raise InputError(
                f"experiment {experiment.experiment_id!r}: the served bundle has no model "
                f"{unknown[0]!r}; it has {', '.join(known)}"
            )

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
        self._check_models(experiment)
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
        extend: Extend | None = None,
    ) -> RankedList:
        """Serve one list on a placement for a unit (a customer id, a guest's anonymous id, or
        None for lists about no one): experiment variant (or, in an interleaving experiment,
        both rankers' lists interleaved), exploration slot (with ``extend``), tag, log."""
        experiment = self.running_for(placement) if unit_id else None
        counted = self._counted(unit_id, customer)
        variant = None
        teams: list[int] | None = None
        rid = new_recommendation_id()
        if experiment is not None and unit_id is not None and experiment.method == "interleave":
            answer, teams = self._interleaved(experiment, produce, rid)
        else:
            if experiment is not None and unit_id is not None:
                variant = (
                    self.assign(experiment, unit_id, customer=customer)
                    if counted
                    else experiment.variant_for(unit_id)
                )
            answer = produce(variant)
        propensities = None
        if extend is not None and teams is None and self.explore_share > 0:
            answer, propensities = self._explore(answer, variant, extend)
        in_experiment = experiment is not None and (variant is not None or teams is not None)
        tagged = dataclasses.replace(
            answer,
            recommendation_id=rid,
            placement=placement,
            experiment=experiment.experiment_id if in_experiment and experiment else None,
            variant=variant.name if variant is not None else ("interleaved" if teams else None),
        )
        self.log.record(
            tagged,
            placement=placement,
            unit_id=unit_id if counted else None,
            experiment_id=tagged.experiment if counted else None,
            variant=tagged.variant if counted else None,
            at_ms=self.clock(),
            teams=teams if counted else None,
            propensities=propensities,
        )
        return tagged

    def _interleaved(
        self, experiment: Experiment, produce: Produce, rid: str
    ) -> tuple[RankedList, list[int]]:
        """Team draft of the control (team 0) and the challenger (team 1), seeded by the
        recommendation id so a logged list can be replayed."""
        control = experiment.variant(experiment.plan.control)
        challenger = next(v for v in experiment.variants if v.name != control.name)
        first, second = produce(control), produce(challenger)
        by_id = {r.item_id: r for r in (*second.items, *first.items)}
        mixed = team_draft(
            first.item_ids, second.item_ids, rng=int(rid[:12], 16), length=len(first.items)
        )
        items = tuple(
            dataclasses.replace(by_id[str(item)], rank=rank)
            for rank, item in enumerate(mixed.items, 1)
        )
        answer = dataclasses.replace(
            first, items=items, model=f"{first.model}+{second.model}", policy="interleaved"
        )
        return answer, list(mixed.teams)

    def _explore(
        self, answer: RankedList, variant: Variant | None, extend: Extend
    ) -> tuple[RankedList, list[float]]:
        """With probability ``explore_share``, one slot of the lower half shows an item drawn
        uniformly from those ranked just below the list and the in-stock items the models have
        never seen (new ones). Returns the list and each shown item's probability of being at
        its slot under this policy (off-policy weights)."""
        n = len(answer.items)
        slots = list(range(n // 2, n))
        if not slots:
            return answer, [1.0] * n
        share, m = self.explore_share, len(slots)
        longer = extend(variant, EXPLORE_POOL)
        shown = set(answer.item_ids)
        pool = [r for r in longer.items[n:] if r.item_id not in shown]
        if self.lists is not None:  # items the models never saw: only exploration shows them
            taken = shown | {r.item_id for r in pool}
            pool += [r for r in self.lists.unseen_items() if r.item_id not in taken]
        if not pool:
            return answer, [1.0] * n
        kept = 1.0 - share / m
        propensities = [kept if k in slots else 1.0 for k in range(n)]
        if self.rng.random() >= share:
            return answer, propensities
        slot = slots[int(self.rng.integers(m))]
        pick = pool[int(self.rng.integers(len(pool)))]
        items = list(answer.items)
        items[slot] = dataclasses.replace(
            pick, rank=slot + 1, reasons=(*pick.reasons, "something new to discover")
        )
        propensities[slot] = share / (m * len(pool))
        return dataclasses.replace(answer, items=tuple(items)), propensities

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
        if experiment.method == "interleave":
            return self._interleaving_results(experiment)
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
        answer["guardrails"] = _guardrails(answer["metrics"], experiment.plan.guardrails)
        if chart:
            answer["cumulative"] = self._cumulative(experiment)
        return answer

    def _interleaving_results(self, experiment: Experiment) -> dict[str, Any]:
        """Per interleaved list (seen, when impressions are reported): clicks on each team's
        items; the winner of each list, the control's share of decided lists with its sign
        test, and Chapelle's delta."""
        self.log.flush()
        since = experiment.started_at or experiment.created_at
        lists = self.tables.exposures(
            since_ms=since,
            until_ms=experiment.stopped_at,
            experiment_id=experiment.experiment_id,
        ).filter(pl.col("teams").is_not_null())
        feedback = self.tables.feedback(since_ms=since)
        seen = set(feedback.filter(pl.col("kind") == "impression")["recommendation_id"])
        if seen:
            lists = lists.filter(pl.col("recommendation_id").is_in(list(seen)))
        clicks: dict[str, set[str]] = {}
        for rid, item in (
            feedback.filter(pl.col("kind") == "click")
            .select("recommendation_id", "item_id")
            .iter_rows()
        ):
            clicks.setdefault(rid, set()).add(item)
        per_team = np.zeros((lists.height, 2))
        for row, (rid, items, teams) in enumerate(
            lists.select("recommendation_id", "items", "teams").iter_rows()
        ):
            for item, team in zip(items, teams, strict=True):
                if item in clicks.get(rid, ()):
                    per_team[row, team] += 1
        control = experiment.plan.control
        challenger = next(v.name for v in experiment.variants if v.name != control)
        answer: dict[str, Any] = {
            "experiment": experiment.to_dict(),
            "method": "interleave",
            "teams": {"a": control, "b": challenger},
            "lists": lists.height,
        }
        if lists.height == 0:
            raise InputError(
                f"experiment {experiment.experiment_id!r}: no interleaved list served yet"
            )
        result = analyze_interleaving(per_team[:, 0], per_team[:, 1])
        answer["interleaving"] = dataclasses.asdict(result)
        answer["preferred"] = (
            (control if result.preference_a > 0.5 else challenger)
            if result.p_value < 0.05
            else None
        )
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

    def off_policy(
        self,
        model: str,
        *,
        days: int = 30,
        clip: float | None = None,
        limit: int = 20_000,
    ) -> dict[str, Any]:
        """What serving ``model`` on for-you would have earned in clicks per list, estimated
        from the last ``days`` of logged lists that carried propensities (those served while
        ``explore_share`` > 0): IPS, SNIPS and doubly robust (item-position model; the reward
        model is each slot's click rate), next to the same estimates for the current choice.

        The target's lists are computed from each customer's history as it is now, not as it
        was when the list was served: an approximation that a shop should read as such. Only
        slots where the target shows what the logging policy could show carry weight
        (``matched_slots`` says how many agreed with what was shown): a candidate far from
        the current lists is under-estimated, which more exploration fixes.
        """
        if self.lists is None:
            raise InputError("off-policy estimates need the serving service")
        known = self.lists.model_names()
        if model not in known:
            raise InputError(f"the served bundle has no model {model!r}; it has {known}")
        if not 1 <= days <= 366:
            raise InputError("days must be between 1 and 366")
        self.log.flush()
        since = self.clock() - days * DAY_MS
        logged = self.tables.exposures(since_ms=since).filter(
            (pl.col("placement") == "for-you")
            & pl.col("propensities").is_not_null()
            & pl.col("unit_id").is_not_null()
            & pl.col("teams").is_null()
        )
        feedback = self.tables.feedback(since_ms=since)
        seen = set(feedback.filter(pl.col("kind") == "impression")["recommendation_id"])
        if seen:
            logged = logged.filter(pl.col("recommendation_id").is_in(list(seen)))
        logged = logged.tail(limit)
        if logged.height < 2:
            raise InputError(
                f"only {logged.height} for-you list(s) with logged propensities in the last "
                f"{days} days; set explore_share above 0 and serve traffic first"
            )
        clicked: dict[str, set[str]] = {}
        for rid, item in (
            feedback.filter(pl.col("kind") == "click")
            .select("recommendation_id", "item_id")
            .iter_rows()
        ):
            clicked.setdefault(rid, set()).add(item)
        shown = logged["items"].to_list()
        rewards = [
            [float(i in clicked.get(rid, ())) for i in items]
            for rid, items in zip(logged["recommendation_id"], shown, strict=True)
        ]
        width = max(len(r) for r in rewards)
        padded = np.zeros((len(rewards), width))
        for row, values in enumerate(rewards):
            padded[row, : len(values)] = values
        slot_rate = padded.mean(axis=0)
        q_logged = [[float(slot_rate[k]) for k in range(len(r))] for r in rewards]
        units = logged["unit_id"].to_list()
        answer: dict[str, Any] = {
            "model": model,
            "lists": logged.height,
            "days": days,
            "logged_clicks_per_list": float(padded.sum(axis=1).mean()),
        }
        for name, candidate in (("candidate", model), ("current", None)):
            targets = [
                self.lists.recommend(unit, len(items), model=candidate).item_ids
                for unit, items in zip(units, shown, strict=True)
            ]
            q_target = [float(slot_rate[: len(t)].sum()) for t in targets]
            value = evaluate_rankings(
                shown,
                rewards,
                logged["propensities"].to_list(),
                targets,
                q_logged=q_logged,
                q_target=q_target,
                clip=clip,
            )
            slots = sum(len(t) for t in targets)
            matched = sum(
                sum(a == b for a, b in zip(t, row, strict=False))
                for t, row in zip(targets, shown, strict=True)
            )
            answer[name] = {
                "matched_slots": matched / slots if slots else 0.0,
                "ips": dataclasses.asdict(value.ips),
                "snips": dataclasses.asdict(value.snips),
                "dr": dataclasses.asdict(value.dr) if value.dr is not None else None,
                "effective_sample_size": value.effective_sample_size,
                "max_weight": value.max_weight,
                "clipped": value.clipped,
            }
        return answer

    def campaign_lists(self, customer_ids: Sequence[str], n: int = 10) -> list[RankedList]:
        """Personal picks for a campaign audience (the ``email`` placement): each customer's
        list by their variant when an email experiment runs, tagged and logged like any
        served list, in the order of ``customer_ids``."""
        if self.lists is None:
            raise InputError("campaign picks need the serving service")
        lists = self.lists
        experiment = self.running_for("email")
        groups: dict[str | None, list[int]] = {}
        variants: list[Variant | None] = []
        for index, customer in enumerate(customer_ids):
            variant = None
            if experiment is not None:
                counted = self._counted(customer, True)
                variant = (
                    self.assign(experiment, customer, customer=True)
                    if counted
                    else experiment.variant_for(customer)
                )
            variants.append(variant)
            groups.setdefault(variant.name if variant else None, []).append(index)
        answers: list[RankedList | None] = [None] * len(customer_ids)
        for indexes in groups.values():
            variant = variants[indexes[0]]
            source = lists.at_version(variant.version) if variant and variant.version else lists
            made = source.recommend_many(
                [customer_ids[i] for i in indexes],
                n,
                rules=variant.rule_set() if variant else None,
                model=variant.model if variant else None,
            )
            for i, answer in zip(indexes, made, strict=True):
                answers[i] = self._tagged_email(answer, customer_ids[i], experiment, variant)
        return [a for a in answers if a is not None]

    def _tagged_email(
        self,
        answer: RankedList,
        customer: str,
        experiment: Experiment | None,
        variant: Variant | None,
    ) -> RankedList:
        """An email list made for a variant, tagged and logged (the unit is assigned)."""
        counted = self._counted(customer, True)
        tagged = dataclasses.replace(
            answer,
            recommendation_id=new_recommendation_id(),
            placement="email",
            experiment=experiment.experiment_id if experiment else None,
            variant=variant.name if variant else None,
        )
        self.log.record(
            tagged,
            placement="email",
            unit_id=customer if counted else None,
            experiment_id=tagged.experiment if counted else None,
            variant=tagged.variant if counted else None,
            at_ms=self.clock(),
        )
        return tagged


def _guardrails(metrics: Mapping[str, Any], names: Iterable[str]) -> dict[str, dict[str, str]]:
    """Per guardrail metric and treatment: ``worse`` when it is significantly below the
    control (the experiment should not ship as is), else ``ok``."""
    out: dict[str, dict[str, str]] = {}
    for name in names:
        entry = metrics.get(name)
        if entry is None:
            continue
        entries = [entry] if "variant" in entry else list(entry.values())
        out[name] = {
            e["variant"]: "worse" if e["significant"] and (e["absolute_lift"] or 0.0) < 0 else "ok"
            for e in entries
        }
    return out


@dataclasses.dataclass(frozen=True)
class CampaignPicks:
    """Marketing's source of personal picks: lists for the ``email`` placement, through the
    experiments service (so an email experiment assigns, and every list is logged)."""

    experiments: Experiments

    def recommend_many(self, customer_ids: Sequence[str], n: int = 10) -> list[RankedList]:
        """One list per customer, in order (see :meth:`Experiments.campaign_lists`)."""
        return self.experiments.campaign_lists(customer_ids, n)
