"""What each dashboard page shows, gathered from the services of the composition root.

Every function here takes the :class:`~storewise.app.Services` and the page's inputs and
returns the template context: service answers, reshaped for display, plus charts. No figure
is computed here that a service does not provide.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from storewise.app import MonthFigures, RankedList, RuleSet, Services
from storewise.errors import ArtifactError, InputError, NotFitted, NotFound, StorewiseError
from storewise.web.charts import Interval, hbar_chart, interval_chart, line_chart, signed_percent

log = logging.getLogger("storewise.web")

#: Keys of ``Engine.profile`` that are not marketing figures.
PROFILE_KEYS = frozenset(
    {
        "customer_id",
        "country",
        "events",
        "orders",
        "items_bought",
        "revenue",
        "returns",
        "returned_value",
        "first_seen",
        "last_seen",
        "consents",
        "favourite_items",
    }
)
HISTORY_ROWS = 60
DIVERSITY_LEVELS = (0.0, 0.3, 0.6)
SCENARIO_TITLES = {
    "for-you": "For you",
    "with-repurchase": "For you, with repurchase",
    "buy-again": "Buy again",
}
OVERVIEW_CACHE_SECONDS = 60.0
MAX_MESSAGE = 4000


def _ticked(value: str) -> bool:
    """A checkbox's or flag's value as a bool (absent or empty: False)."""
    return value.strip().lower() in {"1", "on", "true", "yes"}


def parse_number(
    text: str,
    what: str,
    low: float | None = None,
    high: float | None = None,
    *,
    integer: bool = False,
) -> float:
    """A number typed into a form, or InputError saying what is wrong with it."""
    try:
        value = int(text) if integer else float(text)
    except ValueError as exc:
        raise InputError(
            f"{what} must be a {'whole ' if integer else ''}number, not {text!r}"
        ) from exc
    if value != value or (low is not None and value < low) or (high is not None and value > high):
        raise InputError(f"{what} must be between {low} and {high}, not {text!r}")
    return float(value)


# -- overview ------------------------------------------------------------------------------------
@dataclass
class _Cached:
    at: float
    value: Any


class OverviewCache:
    """Store-wide figures (counts, monthly activity), refreshed off the request path.

    They cost seconds on a large store (full scans) and change only when data comes in, so a
    page shows the figures last computed while a background thread recomputes those older
    than ``seconds``. Only a request finding nothing computed yet waits, and :meth:`warm`
    (started when the sign-in page is shown) usually does that work before anyone asks.
    """

    def __init__(self, seconds: float = OVERVIEW_CACHE_SECONDS) -> None:
        self.seconds = seconds
        self._entries: dict[str, _Cached] = {}
        self._refreshing: set[str] = set()
        self._lock = threading.Lock()
        self._computing: dict[str, threading.Lock] = {}

    def _store(self, key: str, compute: Callable[[], Any], *, since: float | None = None) -> Any:
        """Compute and keep ``key``, once at a time: a caller arriving while it is computed
        waits and takes that result (anything stored after ``since`` counts as fresh)."""
        with self._lock:
            guard = self._computing.setdefault(key, threading.Lock())
        with guard:
            entry = self._entries.get(key)
            if entry is not None and since is not None and entry.at >= since:
                return entry.value
            value = compute()
            with self._lock:
                self._entries[key] = _Cached(time.monotonic(), value)
            return value

    def _refresh(self, key: str, compute: Callable[[], Any]) -> None:
        try:
            self._store(key, compute)
        except Exception:  # a background refresh must never die silently
            log.exception("refreshing dashboard figures %r failed", key)
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def _start(self, key: str, compute: Callable[[], Any]) -> None:
        threading.Thread(
            target=self._refresh, args=(key, compute), name=f"dashboard-{key}", daemon=True
        ).start()

    def get(self, key: str, compute: Callable[[], Any]) -> Any:
        """The figures of ``key``: computed now if never before, else the last ones (a stale
        entry is recomputed in the background)."""
        with self._lock:
            entry = self._entries.get(key)
            stale = entry is not None and time.monotonic() - entry.at > self.seconds
            start = stale and key not in self._refreshing
            if start:
                self._refreshing.add(key)
        if entry is None:
            return self._store(key, compute, since=float("-inf"))
        if start:
            self._start(key, compute)
        return entry.value

    def warm(self, figures: dict[str, Callable[[], Any]]) -> None:
        """Compute missing figures in the background (e.g. while someone signs in)."""
        for key, compute in figures.items():
            with self._lock:
                start = key not in self._entries and key not in self._refreshing
                if start:
                    self._refreshing.add(key)
            if start:
                self._start(key, compute)

    def peek(self, key: str, compute: Callable[[], Any]) -> Any | None:
        """Like :meth:`get` but never waits: None while the first computation runs in the
        background (for figures that take a minute, such as the fairness audit)."""
        with self._lock:
            entry = self._entries.get(key)
            stale = entry is None or time.monotonic() - entry.at > self.seconds
            start = stale and key not in self._refreshing
            if start:
                self._refreshing.add(key)
        if start:
            self._start(key, compute)
        return entry.value if entry is not None else None

    def clear(self) -> None:
        """Forget everything (after an erasure): the next page recomputes."""
        with self._lock:
            self._entries.clear()


def store_figures(services: Services) -> dict[str, Callable[[], Any]]:
    """The cached store-wide figures of the overview, by cache key."""
    return {"stats": services.insights.stats, "activity": services.insights.activity}


def model_summary(services: Services) -> tuple[dict[str, Any] | None, str | None]:
    """The served model's info, or None and a message saying why there is none."""
    try:
        return services.serving.model_info(), None
    except NotFitted:
        return None, "No model has been trained yet: run `storewise train`."
    except ArtifactError as exc:
        return None, f"The model bundle could not be loaded: {exc.message}"


def overview(services: Services, cache: OverviewCache) -> dict[str, Any]:
    """Data health, KPIs, activity over time and the served model."""
    figures = store_figures(services)
    stats = cache.get("stats", figures["stats"])
    reports = services.insights.reports(limit=10)
    activity: list[MonthFigures] = cache.get("activity", figures["activity"])
    rejected: Counter[str] = Counter()
    for report in reports:
        rejected.update((report.get("report") or {}).get("rejected") or {})
    months = [m.month for m in activity]
    info, model_message = model_summary(services)
    return {
        "stats": stats,
        "reports": reports,
        "rejected": rejected.most_common(),
        "activity": activity,
        "activity_chart": line_chart(
            months,
            {"active customers": [float(m.active_customers) for m in activity]},
            title="Active customers per month",
        ),
        "orders_chart": line_chart(
            months,
            {"orders": [float(m.orders) for m in activity]},
            title="Orders per month",
        ),
        "revenue_chart": line_chart(
            months,
            {"revenue": [m.revenue for m in activity]},
            title="Revenue per month",
        ),
        "model": info,
        "model_message": model_message,
    }


# -- customers -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RuleToggles:
    """The rules a marketer previews on the Customer 360 page."""

    exclude_purchased: bool = True
    in_stock_only: bool = True
    diversity: float = 0.0
    n: int = 10

    @classmethod
    def from_query(
        cls, submitted: str, exclude_purchased: str, in_stock_only: str, diversity: str, n: str
    ) -> RuleToggles:
        """Toggles from the form; an unticked box is absent, so defaults apply only unsent."""
        level = parse_number(diversity or "0", "diversity")
        if level not in DIVERSITY_LEVELS:
            raise InputError(f"diversity must be one of {', '.join(map(str, DIVERSITY_LEVELS))}")
        size = int(parse_number(n or "10", "list length", 1, 50, integer=True))
        if not _ticked(submitted):
            return cls(diversity=level, n=size)
        return cls(_ticked(exclude_purchased), _ticked(in_stock_only), level, size)

    def rules(self, *, allow_repurchase: bool = False) -> RuleSet:
        """The rule set for these toggles."""
        return RuleSet(
            exclude_purchased=self.exclude_purchased,
            in_stock_only=self.in_stock_only,
            diversity=self.diversity,
            allow_repurchase=allow_repurchase,
        )


def _titles(services: Services) -> Any:
    """``item_id -> title`` from the served catalog (ids when no model is served)."""
    try:
        catalog = services.serving.catalog
    except (NotFitted, ArtifactError):
        return lambda item_id: item_id

    def title(item_id: str | None) -> str | None:
        if item_id is None:
            return None
        return catalog.title(catalog.index(item_id)) or item_id

    return title


def history_timeline(services: Services, customer_id: str) -> list[dict[str, Any]]:
    """The customer's most recent events, newest first, grouped by day for display."""
    events = services.customers.history(customer_id, limit=HISTORY_ROWS)
    title = _titles(services)
    from storewise.schema import from_ms

    days: list[dict[str, Any]] = []
    for row in reversed(events.to_dicts()):
        moment = from_ms(int(row["ts"]))
        day = moment.date().isoformat()
        if not days or days[-1]["day"] != day:
            days.append({"day": day, "events": []})
        days[-1]["events"].append(
            {
                "time": moment.strftime("%H:%M"),
                "type": row["event_type"],
                "item_id": row["item_id"],
                "title": title(row["item_id"]),
                "quantity": row["quantity"],
                "value": row["value"],
                "order_id": row["order_id"],
                "query": row["query"],
            }
        )
    return days


def recommendations(
    services: Services, customer_id: str, toggles: RuleToggles
) -> tuple[list[tuple[str, str, RankedList]], str | None]:
    """The three previews (for you, with repurchase, buy again), or why there are none."""
    try:
        return (
            [
                (
                    "for-you",
                    SCENARIO_TITLES["for-you"],
                    services.serving.recommend(customer_id, toggles.n, rules=toggles.rules()),
                ),
                (
                    "with-repurchase",
                    SCENARIO_TITLES["with-repurchase"],
                    services.serving.recommend(
                        customer_id, toggles.n, rules=toggles.rules(allow_repurchase=True)
                    ),
                ),
                (
                    "buy-again",
                    SCENARIO_TITLES["buy-again"],
                    services.serving.recommend(
                        customer_id, toggles.n, scenario="buy-again", rules=toggles.rules()
                    ),
                ),
            ],
            None,
        )
    except NotFitted:
        return [], "No model has been trained yet: run `storewise train`."
    except ArtifactError as exc:
        return [], f"The model bundle could not be loaded: {exc.message}"


def customer(services: Services, customer_id: str, toggles: RuleToggles) -> dict[str, Any]:
    """Customer 360: profile, marketing figures, consents, timeline and recommendations."""
    try:
        profile = services.customers.profile(customer_id)
    except NotFound as exc:
        raise NotFound(f"no customer with id {customer_id!r}") from exc
    lists, model_message = recommendations(services, customer_id, toggles)
    value = {k: v for k, v in profile.items() if k not in PROFILE_KEYS}
    return {
        "customer_id": customer_id,
        "profile": profile,
        "value": value,
        "consents": profile.get("consents") or {},
        "timeline": history_timeline(services, customer_id),
        "lists": lists,
        "model_message": model_message,
        "toggles": toggles,
        "diversity_levels": DIVERSITY_LEVELS,
    }


def find_customer(services: Services, text: str) -> tuple[str | None, list[str]]:
    """An exact customer id match, else the ids starting with ``text``."""
    text = text.strip()
    if not text:
        return None, []
    if services.customers.exists(text):
        return text, []
    return None, services.insights.search_customers(text)


# -- products ------------------------------------------------------------------------------------
def product(services: Services, item_id: str) -> dict[str, Any]:
    """A product: its facts, similar items, bought together, and who buys it (counts)."""
    facts = services.insights.item(item_id)
    if facts is None:
        raise NotFound(f"no product with id {item_id!r}")
    similar: RankedList | None = None
    together: RankedList | None = None
    model_message: str | None = None
    try:
        similar = services.serving.similar(item_id, 10)
        together = services.serving.basket([item_id], 10)
    except NotFound:
        model_message = (
            "This product is not in the trained model yet; "
            "it will be after the next `storewise train`."
        )
    except NotFitted:
        model_message = "No model has been trained yet: run `storewise train`."
    audience = services.insights.item_audience(item_id)
    return {
        "item": facts,
        "similar": similar,
        "together": together,
        "model_message": model_message,
        "audience": audience,
        "countries_chart": hbar_chart(
            [(c, float(n)) for c, n in audience.countries], title="Buyers per country"
        ),
    }


# -- segments and campaigns ----------------------------------------------------------------------
def segments(services: Services) -> dict[str, Any]:
    """Segment sizes and value (``MarketingService.segments``), with charts, for the builder,
    and a warning when no customer may be contacted yet (no marketing consent recorded)."""
    try:
        summary: dict[str, Any] = services.marketing.segments()
        preview: dict[str, Any] = services.marketing.audience_preview()
    except InputError as exc:  # no purchases yet: nothing to segment
        return {"summary": None, "message": exc.message, "segments": []}
    rows: list[dict[str, Any]] = summary.get("segments") or []
    return {
        "summary": summary,
        "message": None,
        "segments": rows,
        "consent_note": preview["note"] if not preview["with_marketing_consent"] else None,
        "size_chart": hbar_chart(
            [(r["name"], float(r["customers"])) for r in rows], title="Customers per segment"
        ),
        "value_chart": hbar_chart(
            [(r["name"], float(r["revenue"] or 0.0)) for r in rows], title="Revenue per segment"
        ),
        "clv_chart": hbar_chart(
            [(r["name"], float(r["mean_clv"])) for r in rows if r.get("mean_clv") is not None],
            title="Mean 12-month lifetime value per segment",
        ),
    }


def audience_csv(
    services: Services,
    segment: str,
    min_clv: float | None,
    n_items: int,
    *,
    actor: str,
    fmt: str = "mailchimp",
) -> str:
    """A campaign audience as CSV text in ``fmt`` (``mailchimp``, ``google`` or ``meta``),
    built by the marketing service (which records the export as ``actor``'s) and written in
    the CLI's exact format."""
    audience = services.marketing.build_audience(
        segment=segment or None, min_clv=min_clv, n_items=n_items, actor=actor, fmt=fmt
    )
    return audience.text()


# -- models --------------------------------------------------------------------------------------
def models(services: Services) -> dict[str, Any]:
    """The served model, tuning trials with NDCG per scenario, and the training history."""
    info, message = model_summary(services)
    history = services.insights.bundle_history()
    trials: list[dict[str, Any]] = []
    scenarios: list[str] = []
    charts = []
    if info:
        trials = list((info.get("tuning") or {}).get("trials") or [])
        scenarios = sorted({k[5:] for t in trials for k in t if k.startswith("ndcg_")})
        for scenario in scenarios:
            best: dict[str, float] = {}
            for trial in trials:
                value = trial.get(f"ndcg_{scenario}")
                if isinstance(value, int | float):
                    best[trial["model"]] = max(best.get(trial["model"], 0.0), float(value))
            charts.append(
                (
                    f"Best NDCG@10 per model, {scenario}",
                    hbar_chart(
                        sorted(best.items(), key=lambda kv: -kv[1]),
                        title=f"Best NDCG@10 per model, {scenario}",
                    ),
                )
            )
    metric_names = sorted(
        {m for v in history for metrics in v.validation.values() for m in metrics}
    )
    ordered = list(reversed(history))
    history_chart = (
        line_chart(
            [(v.created_at or v.version)[5:16].replace("T", " ") for v in ordered],
            {
                f"{scenario} {metric}": [
                    float(v.validation.get(scenario, {}).get(metric, float("nan"))) for v in ordered
                ]
                for scenario in sorted({s for v in history for s in v.validation})
                for metric in metric_names
                if metric.lower().startswith("ndcg")
            },
            title="Validation NDCG across training runs",
        )
        if metric_names
        else None
    )
    return {
        "model": info,
        "model_message": message,
        "trials": trials,
        "scenarios": scenarios,
        "trial_charts": charts,
        "history": history,
        "history_chart": history_chart,
    }


# -- fairness ------------------------------------------------------------------------------------
AUDIT_DAYS = (14, 30, 60, 90)
#: The audit refits models on the store: its figures are kept this long.
AUDIT_CACHE_SECONDS = 3600.0
KNOB_NAMES = ("long_tail_boost", "calibration", "max_per_category", "max_per_brand", "diversity")


@dataclass(frozen=True)
class FairnessKnobs:
    """The audit period and the rules a marketer tries on the Fairness page (None: not set)."""

    days: int = 30
    long_tail_boost: float | None = None
    calibration: float | None = None
    max_per_category: int | None = None
    max_per_brand: int | None = None
    diversity: float | None = None

    @classmethod
    def from_query(cls, days: str, **knobs: str) -> FairnessKnobs:
        """Knobs from the form; an empty field is a rule not tried."""
        period = int(parse_number(days or "30", "days", integer=True))
        if period not in AUDIT_DAYS:
            raise InputError(f"days must be one of {', '.join(map(str, AUDIT_DAYS))}")
        values: dict[str, Any] = {}
        for name, text in knobs.items():
            if name not in KNOB_NAMES:
                raise InputError(f"unknown rule {name!r}")
            if not text.strip():
                continue
            label = name.replace("_", " ")
            if name.startswith("max_per"):
                values[name] = int(parse_number(text, label, 1, 100, integer=True))
            else:
                values[name] = parse_number(text, label, 0.0, 1.0)
        return cls(period, **values)

    def rules(self) -> RuleSet | None:
        """The tried rule set, or None when no rule is set."""
        given = {n: getattr(self, n) for n in KNOB_NAMES if getattr(self, n) is not None}
        return RuleSet(**given) if given else None


def fairness(services: Services, cache: OverviewCache, knobs: FairnessKnobs) -> dict[str, Any]:
    """The fairness audit (``Insights.fairness``) of lists without fairness rules, with the
    for-you placement's settings and with the rules tried, computed in the background."""
    placements = {
        name: rules.model_dump(mode="json", exclude_defaults=True)
        for name, rules in services.serving.placements.items()
    }
    context: dict[str, Any] = {
        "knobs": knobs,
        "days_choices": AUDIT_DAYS,
        "placements": placements,
        "audit": None,
        "message": None,
        "computing": False,
    }
    info, message = model_summary(services)
    if info is None:
        return context | {"message": message}
    variants = {"no fairness rules": RuleSet()}
    served = services.serving.placement_rules("for-you")
    if served != RuleSet():
        variants["for-you settings"] = served
    tried = knobs.rules()
    if tried is not None:
        variants["rules tried"] = tried
    key = json.dumps(
        [info["version"], knobs.days, {n: r.model_dump(mode="json") for n, r in variants.items()}],
        sort_keys=True,
    )

    def compute() -> dict[str, Any]:
        try:
            return {"audit": services.insights.fairness(variants, test_days=knobs.days)}
        except StorewiseError as exc:  # e.g. a period without purchases: say so on the page
            return {"message": exc.message}

    found = cache.peek(key, compute)
    if found is None:
        return context | {"computing": True}
    if found.get("audit") is None:
        return context | {"message": found.get("message")}
    audit: dict[str, Any] = found["audit"]
    shown = "rules tried" if tried is not None else list(variants)[-1]
    figures = audit["variants"][shown]
    return context | {
        "audit": audit,
        "shown": shown,
        "charts": [
            hbar_chart(
                [(g, v["ndcg"]) for g, v in figures["activity"].items() if v["ndcg"] is not None],
                title=f"NDCG@{audit['k']} per activity level ({shown})",
            ),
            hbar_chart(
                [
                    (g, v["long_tail_share"])
                    for g, v in figures["activity"].items()
                    if v["long_tail_share"] is not None
                ],
                title=f"Long-tail share per activity level ({shown})",
            ),
            hbar_chart(
                [(g, v["ndcg"]) for g, v in figures["country"].items() if v["ndcg"] is not None],
                title=f"NDCG@{audit['k']} per country ({shown})",
            ),
        ],
    }


# -- experiments ---------------------------------------------------------------------------------
#: Periods the recommendation analytics page offers.
ANALYTICS_DAYS = (7, 30, 90)
#: What each experiment metric counts, for the reader of the results table.
METRIC_NOTES = {
    "revenue": "revenue per unit",
    "orders": "orders per unit",
    "converted": "share of units who ordered",
    "clicked": "share of units who clicked a list",
    "clicks": "clicks per unit",
    "attributed_orders": "orders after a click on a list, per unit",
    "attributed_revenue": "revenue after a click on a list, per unit",
}


def _when(ms: int | None) -> str | None:
    """A stored time (ms since the epoch) as ``YYYY-MM-DD HH:MM`` UTC, or None."""
    if ms is None:
        return None
    from storewise.schema import from_ms

    return from_ms(int(ms)).strftime("%Y-%m-%d %H:%M")


def _float(value: Any) -> float:
    """A service figure for a chart: ``None`` (undefined) becomes ``nan`` (a gap)."""
    return float(value) if isinstance(value, int | float) else float("nan")


def experiment_row(experiment: dict[str, Any]) -> dict[str, Any]:
    """An experiment's ``to_dict`` with its times readable and each variant's planned share."""
    split: dict[str, float] = experiment.get("split") or {}
    return {
        **experiment,
        "created": _when(experiment.get("created_at")),
        "started": _when(experiment.get("started_at")),
        "stopped": _when(experiment.get("stopped_at")),
        "arms": [
            {**variant, "share": split.get(variant["name"])}
            for variant in experiment.get("variants") or []
        ],
    }


def experiments(services: Services) -> dict[str, Any]:
    """Every experiment (newest first) with status, placement, variants and split."""
    return {"experiments": [experiment_row(e.to_dict()) for e in services.experiments.all()]}


def _metric_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per metric and treatment: the primary metric first, then the guardrails, then
    the rest in the service's order; a metric of several treatments maps each to its entry."""
    plan = results["experiment"].get("plan") or {}
    primary, guardrails = results["primary_metric"], tuple(plan.get("guardrails") or ())
    metrics: dict[str, Any] = results.get("metrics") or {}
    order = [primary, *guardrails, *metrics]
    rows = []
    for metric in dict.fromkeys(m for m in order if m in metrics):
        value = metrics[metric]
        entries = [value] if isinstance(value.get("variant"), str) else list(value.values())
        for entry in entries:
            rows.append(
                {
                    "metric": metric,
                    "note": METRIC_NOTES.get(metric, ""),
                    "primary": metric == primary,
                    "guardrail": metric in guardrails,
                    "several": len(entries) > 1,
                    **entry,
                }
            )
    return rows


def experiment(services: Services, experiment_id: str) -> dict[str, Any]:
    """One experiment: its definition and status, and (once every variant has two units) the
    results: units against the planned split, the sample-ratio check, every metric with its
    intervals (primary first, guardrails marked) and the cumulative lift by day. While a
    variant has too few units, the service's message says so instead."""
    found = experiment_row(services.experiments.get(experiment_id).to_dict())
    context: dict[str, Any] = {
        "experiment": found,
        "results": None,
        "message": None,
        "interleaving": None,
    }
    try:
        results = services.experiments.results(experiment_id)
    except InputError as exc:  # too few units yet: say so on the page
        return context | {"message": exc.message}
    if results.get("method") == "interleave":  # one list of both rankers: team wins
        return context | {"interleaving": results}
    control = results["control"]
    split: dict[str, float] = results.get("split") or {}
    units: dict[str, int] = results.get("units") or {}
    total = sum(units.values())
    unit_rows = [
        {
            "variant": name,
            "control": name == control,
            "units": count,
            "share": count / total if total else None,
            "planned": split.get(name),
        }
        for name, count in units.items()
    ]
    rows = _metric_rows(results)
    forest = interval_chart(
        [
            Interval(
                f"{r['metric']} ({r['variant']})" if r["several"] else r["metric"],
                _float(r.get("relative_lift")),
                _float(r.get("relative_ci_low")),
                _float(r.get("relative_ci_high")),
                "primary" if r["primary"] else "guardrail" if r["guardrail"] else "",
            )
            for r in rows
        ],
        title=f"Relative lift over {control} with its 95% interval, per metric",
    )
    cumulative: list[dict[str, Any]] = results.get("cumulative") or []
    treatments = [name for name in units if name != control]
    lift_chart = line_chart(
        [f"day {point['day']}" for point in cumulative],
        {name: [_float(p["lift"].get(name)) for p in cumulative] for name in treatments},
        title=f"Cumulative relative lift of {results['primary_metric']} over {control}",
        fmt=signed_percent,
    )
    return context | {
        "results": results,
        "units": unit_rows,
        "total_units": total,
        "metrics": rows,
        "forest_chart": forest,
        "cumulative": cumulative,
        "treatments": treatments,
        "variants": list(units),
        "lift_chart": lift_chart,
    }


def parse_days(text: str) -> int:
    """The analytics period chosen on the form: one of :data:`ANALYTICS_DAYS`."""
    days = int(parse_number(text or "30", "days", integer=True))
    if days not in ANALYTICS_DAYS:
        raise InputError(f"days must be one of {', '.join(map(str, ANALYTICS_DAYS))}")
    return days


def recommendation_analytics(services: Services, days: int) -> dict[str, Any]:
    """What each placement and model version earned over the last ``days``
    (``Experiments.analytics``), with per-day charts of lists served, click-through and
    attributed revenue, one line per placement."""
    figures = services.experiments.analytics(days=days)
    by_day: list[dict[str, Any]] = figures.get("by_day") or []
    dates = sorted({row["date"] for row in by_day})
    placements = sorted({row["placement"] for row in by_day})
    cell = {(row["placement"], row["date"]): row for row in by_day}

    def series(column: str, missing: float) -> dict[str, list[float]]:
        # a day without lists served on a placement: nothing served, clicked or earned
        return {
            placement: [
                _float(cell[placement, date][column]) if (placement, date) in cell else missing
                for date in dates
            ]
            for placement in placements
        }

    return {
        "days": days,
        "days_choices": ANALYTICS_DAYS,
        "analytics": figures,
        "by_placement": figures.get("by_placement") or [],
        "by_day": by_day,
        "charts": [
            (
                "Lists served per day and placement",
                line_chart(dates, series("served", 0.0), title="Lists served per day"),
            ),
            (
                "Click-through rate (clicks per impression) per day and placement",
                line_chart(
                    dates,
                    series("click_through_rate", float("nan")),
                    title="Click-through rate per day",
                    fmt=lambda v: f"{v * 100:.1f}%",
                ),
            ),
            (
                "Revenue of orders after a click on a list, per day and placement",
                line_chart(dates, series("revenue", 0.0), title="Attributed revenue per day"),
            ),
        ],
    }


# -- support -------------------------------------------------------------------------------------
def support(services: Services, customer_id: str | None, message: str) -> dict[str, Any]:
    """The assistant's suggestion for a message, with the customer's card."""
    if not message.strip():
        raise InputError("type the customer's message first")
    if len(message) > MAX_MESSAGE:
        raise InputError(f"a message can be at most {MAX_MESSAGE} characters")
    suggestion = services.support.suggest(customer_id or None, message)
    return {"suggestion": suggestion}


__all__ = [
    "FairnessKnobs",
    "OverviewCache",
    "RuleToggles",
    "audience_csv",
    "customer",
    "experiment",
    "experiments",
    "fairness",
    "find_customer",
    "models",
    "overview",
    "parse_days",
    "product",
    "recommendation_analytics",
    "segments",
    "support",
]
