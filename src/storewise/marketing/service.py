"""The marketing service: segments, CLV, offers and audiences, over narrow ports.

A thin layer over the analysis modules (:mod:`~storewise.marketing.rfm`,
:mod:`~storewise.marketing.clv`, :mod:`~storewise.marketing.offers`,
:mod:`~storewise.marketing.bandit`, :mod:`~storewise.marketing.uplift`,
:mod:`~storewise.marketing.campaigns`). It never sees the engine or the services: the
composition root hands it three ports, :class:`MarketingFacts` (the store's order lines,
consents, contacts and change sequence), :class:`Recommendations` (picks for an audience) and
:class:`AuditTrail` (where audience exports are recorded); it is itself an erasure hook.

- **Data.** Purchases and returns of known customers, grouped into transactions (one per order,
  or per customer and day without an order id) exactly as
  :func:`~storewise.marketing.transactions.to_transactions` defines; the store groups them in
  SQL (:meth:`~storewise.store.base.Store.order_lines`) so Online Retail's 400k order lines
  arrive as 22k rows. The consent policy decides who is analysed (purpose ``analytics``).
- **Clock.** Analyses are "as of" the data's own latest day, not today: the latest transaction
  day within a tolerance of the day by which 99% of transactions had happened
  (:mod:`~storewise.marketing.clock` states the rule). Transactions far after the rest (an
  event posted without a timestamp on historic data, say) are left out and the answers of
  :meth:`MarketingService.segments` and :meth:`MarketingService.clv` warn about them.
- **Churn and seasonality.** Churn risk is P(no purchase in the next 90 days), checked on the
  shop's own last 90 days (:mod:`~storewise.marketing.churn`); forecasts use a seasonal index
  when the history covers more than a year (:mod:`~storewise.marketing.seasonality`) and say
  that they assume no seasonality otherwise.
- **Cache.** The analysis (RFM, BG/NBD + Gamma-Gamma 12-month CLV, the churn check) is
  computed once and reused while the store's change sequence is unchanged (checked at most
  every :data:`CHECK_SECONDS`, so repeated profile calls cost a dictionary lookup). In a
  server (``refresh_in_background``), a changed store never recomputes inside a request: the
  previous analysis answers while :meth:`refresh` (run by the server's background thread)
  computes the next one.
- **Offers.** A catalog in ``<home>/marketing/offers.json`` (a default one until set). The
  next-best offer is the one with the highest expected incremental value
  (:func:`~storewise.marketing.offers.offer_values`): from uplift models trained on a past
  campaign (``storewise offers train``) when there are some, else from a Thompson-sampling
  bandit per RFM segment (``bandit.json``) that learns from posted responses. An offer with a
  negative expected value is never assigned outside the bandit's bounded exploration share
  (:mod:`~storewise.marketing.offer_book`).
- **Audiences.** Customers with a recorded marketing grant, as an e-mail tool CSV or as a
  hashed e-mail list for Google Customer Match or a Meta custom audience; every export is
  audited, and an empty one says why (:func:`~storewise.marketing.campaigns.explain_audience`).

Uplift models are stored without pickle as the campaign rows they were trained on
(``uplift-campaign.csv``, checksummed in ``uplift.json``) and refitted when first needed: the
same code path as training for every learner (T or X) and base (logistic or boosted trees),
nothing to keep in step with scikit-learn's internals, and cheap (about a second for the 64,000
rows of the Hillstrom campaign, once per process).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import polars as pl

from storewise.errors import InputError
from storewise.marketing import campaigns
from storewise.marketing.churn import (
    CHURN_DEFINITION,
    CHURN_HORIZON_DAYS,
    ECE_WARNING,
    ChurnCheck,
    check_churn,
)
from storewise.marketing.clock import Clock, analysis_clock
from storewise.marketing.clv_fit import (
    DEFAULT_DISCOUNT_RATE,
    DEFAULT_HORIZON_DAYS,
    ClvFit,
    fit_clv_models,
)
from storewise.marketing.offer_book import (
    CUSTOMER_FEATURES,
    DEFAULT_OFFERS,
    NO_OFFER_ID,
    CatalogOffer,
    OfferBook,
)
from storewise.marketing.rfm import SEGMENT_DESCRIPTIONS, SEGMENTS, rfm_scores, segment_summary
from storewise.marketing.summary import (
    UNIT_DAYS,
    TimeUnit,
)
from storewise.marketing.transactions import as_day, to_transactions
from storewise.privacy.consent import ConsentPolicy
from storewise.recommend.results import RankedList

FloatArray = npt.NDArray[np.float64]

#: Seconds between two checks of the store fingerprint (results are reused in between).
CHECK_SECONDS = 2.0
#: The bandit's segment for customers without purchases.
NO_SEGMENT = "no purchases"


class MarketingFacts(Protocol):
    """What marketing reads from the data layer (the store satisfies it)."""

    def order_lines(self) -> tuple[pl.DataFrame, int | None]:
        """Purchase/return totals per order (customer_id, order_id, ts, value), latest ts."""
        ...

    def consents(self) -> pl.DataFrame:
        """The current consent decision per customer and purpose."""
        ...

    def contacts(self, customer_ids: Sequence[str]) -> dict[str, str]:
        """E-mail addresses of the given customers that have one."""
        ...

    def change_seq(self) -> int:
        """Raised by every committed write: equal means the facts are unchanged."""
        ...


class Recommendations(Protocol):
    """Personal picks for many customers at once (the serving service satisfies it)."""

    def recommend_many(self, customer_ids: Sequence[str], n: int = 10) -> list[RankedList]:
        """One list per customer, in order, under the same consent and cold-start policy."""
        ...


class AuditTrail(Protocol):
    """Where exports of personal data are recorded."""

    def exported(
        self, actor: str, what: str, *, rows: int, options: dict[str, Any] | None = None
    ) -> None:
        """Record that ``rows`` rows of personal data left the system, and how."""
        ...


@dataclass(frozen=True)
class _Analysis:
    """Everything computed for one store fingerprint."""

    fingerprint: tuple[Any, ...]
    as_of: date
    transactions: pl.DataFrame
    table: pl.DataFrame
    index: dict[str, int]
    summary: pl.DataFrame
    clv: ClvFit | None
    clv_note: str | None
    excluded: int
    mean_order_value: float
    clock: Clock
    churn_check: ChurnCheck | None
    churn_note: str | None

    def warnings(self) -> list[str]:
        """What a retailer should know about the data behind the figures."""
        out = list(self.clock.warnings)
        check = self.churn_check
        if check is not None and check.ece > ECE_WARNING:
            why = ""
            if not check.seasonal and self.clv is not None and self.clv.seasonal is not None:
                why = (
                    " (the check could not use a seasonal index: the history before its window "
                    "covers a year or less; today's forecasts do use one)"
                )
            out.append(
                f"churn risk was off by {check.ece * 100:.0f} percentage points on average on "
                f"the last {check.horizon_days} days (predicted {check.predicted_share:.0%} "
                f"lapsed, observed {check.observed_share:.0%}){why}: use it to rank customers, "
                "not as a rate"
            )
        return out

    def notes(self) -> list[str]:
        """How the forecasts were made, where a retailer should know it."""
        out = []
        if self.clv is not None and self.clv.seasonality_note:
            out.append(self.clv.seasonality_note)
        if self.churn_note:
            out.append(self.churn_note)
        return out


def _as_date(value: date | datetime | str | None, what: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise InputError(f"{what} must be a date like 2011-09-30, got {value!r}") from None
    return as_day(value, what=what)


def _round(value: Any, digits: int) -> float | None:
    if value is None:
        return None
    number = float(value)
    return round(number, digits) if np.isfinite(number) else None


def _no_data() -> InputError:
    return InputError("no purchases in the store yet: ingest orders first")


class MarketingService:
    """Segments, lifetime value, churn risk, next-best offers and campaign audiences."""

    def __init__(
        self,
        facts: MarketingFacts,
        recommendations: Recommendations,
        *,
        folder: Path,
        policy: ConsentPolicy,
        audit: AuditTrail,
    ) -> None:
        self.facts = facts
        self.recommendations = recommendations
        self.policy = policy
        self.audit = audit
        self.folder = folder
        self.check_seconds = CHECK_SECONDS
        #: In a server: never recompute inside a request; :meth:`refresh` runs in the background.
        self.refresh_in_background = False
        self._lock = threading.RLock()
        self._analysis_cache: _Analysis | None = None
        self._checked_at = 0.0
        self._clv_cache: OrderedDict[tuple[Any, ...], ClvFit] = OrderedDict()
        self.book = OfferBook(self.folder)

    # -- data and cache --------------------------------------------------------------------------
    def _fingerprint(self) -> tuple[Any, ...]:
        """The store's change sequence: any committed write (events, consents) changes it."""
        return ("seq", self.facts.change_seq())

    def invalidate(self) -> None:
        """Forget cached results (e.g. right after an erasure) so the next call recomputes."""
        with self._lock:
            self._analysis_cache = None
            self._clv_cache.clear()
            self._checked_at = 0.0

    def forget(self, customer_id: str) -> dict[str, int]:
        """Erasure hook: drop every cached figure, which may hold the erased customer."""
        self.invalidate()
        return {}

    def refresh(self) -> bool:
        """Recompute the analysis if the store changed since it was made (a server's background
        thread calls this, so requests never wait for it); True when it recomputed."""
        with self._lock:
            fingerprint = self._fingerprint()
            self._checked_at = time.monotonic()
            cached = self._analysis_cache
            if cached is not None and cached.fingerprint == fingerprint:
                return False
            self._analysis_cache = self._compute(fingerprint)
            self._clv_cache.clear()
            return True

    def _analysis(self) -> _Analysis | None:
        """The cached analysis, recomputed when the store changed (inline, or left to the
        background refresh in a server); None without any purchase."""
        cached = self._analysis_cache
        if cached is not None and (
            self.refresh_in_background or time.monotonic() - self._checked_at < self.check_seconds
        ):
            return cached
        self.refresh()
        return self._analysis_cache

    def _read_lines(self) -> tuple[pl.DataFrame, date | None]:
        """Purchase/return rows of known customers (per order or day) and the latest event day."""
        lines, last_ts = self.facts.order_lines()
        if last_ts is None:
            return lines, None
        return lines, datetime.fromtimestamp(float(last_ts) / 1000, UTC).date()

    def _compute(self, fingerprint: tuple[Any, ...]) -> _Analysis | None:
        lines, last_day = self._read_lines()
        excluded = 0
        withdrawn = self.policy.excluded_ids(self.facts.consents(), "analytics")
        if withdrawn:
            out = pl.col("customer_id").is_in(sorted(withdrawn))
            excluded = lines.filter(out).get_column("customer_id").n_unique()
            lines = lines.filter(~out)
        if last_day is None or lines.filter(pl.col("value") >= 0).height == 0:
            return None
        transactions = to_transactions(lines)
        clock = analysis_clock(
            transactions.get_column("ts").dt.date().to_list(),
            latest_event=last_day,
            customers=transactions.get_column("customer_id").to_list(),
        )
        as_of = clock.as_of
        current = transactions.filter(pl.col("ts").dt.date() <= as_of)
        if current.filter(pl.col("value") >= 0).height == 0:
            return None
        scores = rfm_scores(current, as_of=as_of)
        fit: ClvFit | None = None
        try:
            fit = fit_clv_models(current, fit_until=as_of)
            note = fit.note
        except InputError as exc:
            note = f"CLV not computed: {exc.message}"
        if fit is not None:
            table = scores.join(fit.table, on="customer_id", how="left")
        else:
            empty = ("p_alive", "churn_risk", "expected_purchases", "expected_purchases_90d",
                     "expected_spend", "clv")  # fmt: skip
            table = scores.with_columns(pl.lit(None, pl.Float64).alias(c) for c in empty)
        check, churn_note = self._check_churn(current, as_of, fit)
        purchases = current.filter(pl.col("value") >= 0).get_column("value")
        return _Analysis(
            fingerprint=fingerprint,
            as_of=as_of,
            transactions=transactions,
            table=table,
            index={cid: i for i, cid in enumerate(table.get_column("customer_id").to_list())},
            summary=segment_summary(scores),
            clv=fit,
            clv_note=note,
            excluded=excluded,
            mean_order_value=float(np.mean(purchases.to_numpy())),
            clock=clock,
            churn_check=check,
            churn_note=churn_note,
        )

    @staticmethod
    def _check_churn(
        transactions: pl.DataFrame, as_of: date, fit: ClvFit | None
    ) -> tuple[ChurnCheck | None, str | None]:
        """Churn risk checked on the last 90 days: refit without them (starting from the full
        fit's parameters), compare with who lapsed."""
        if fit is None:
            return None, None
        cut = as_of - timedelta(days=CHURN_HORIZON_DAYS)
        try:
            return check_churn(transactions, cut=cut, start=fit.bgnbd.params), None
        except InputError as exc:
            return None, (
                f"churn risk not checked on the last {CHURN_HORIZON_DAYS} days: {exc.message}"
            )

    def _ready(self) -> _Analysis:
        analysis = self._analysis()
        if analysis is None:
            raise _no_data()
        return analysis

    # -- segments and value ----------------------------------------------------------------------
    def customer_table(self) -> pl.DataFrame:
        """Per customer: RFM values, scores and segment joined with P(alive), CLV and churn risk."""
        return self._ready().table

    def segments(self) -> dict[str, Any]:
        """RFM segments as of the data's own latest day: size, revenue and their shares, mean
        CLV and churn risk, with the clock rule, the churn check and any warnings."""
        analysis = self._ready()
        per_segment = analysis.table.group_by("segment").agg(
            pl.col("clv").mean().alias("mean_clv"), pl.col("churn_risk").mean().alias("churn")
        )
        extra = {r["segment"]: r for r in per_segment.iter_rows(named=True)}
        rows = []
        for r in analysis.summary.iter_rows(named=True):
            more = extra.get(r["segment"], {})
            rows.append(
                {
                    "name": r["segment"],
                    "customers": int(r["customers"]),
                    "share": round(float(r["customer_share"]), 4),
                    "revenue": round(float(r["revenue"]), 2),
                    "revenue_share": _round(r["revenue_share"], 4),
                    "mean_recency_days": _round(r["mean_recency_days"], 1),
                    "mean_frequency": _round(r["mean_frequency"], 2),
                    "mean_clv": _round(more.get("mean_clv"), 2),
                    "mean_churn_risk": _round(more.get("churn"), 4),
                    "description": SEGMENT_DESCRIPTIONS[r["segment"]],
                }
            )
        return {
            "as_of": analysis.as_of.isoformat(),
            "customers": analysis.table.height,
            "revenue": round(float(analysis.table.get_column("monetary").sum()), 2),
            "excluded_for_consent": analysis.excluded,
            "segments": rows,
            "clv_note": analysis.clv_note,
            "clock": analysis.clock.as_dict(),
            "churn": self._churn_info(analysis),
            "seasonality": analysis.clv.seasonality() if analysis.clv is not None else None,
            "warnings": analysis.warnings(),
            "notes": analysis.notes(),
        }

    @staticmethod
    def _churn_info(analysis: _Analysis) -> dict[str, Any]:
        """What churn risk means and how it did on the shop's own last 90 days."""
        check = analysis.churn_check
        return {
            "definition": CHURN_DEFINITION,
            "horizon_days": CHURN_HORIZON_DAYS,
            "check": check.as_dict() if check is not None else None,
            "note": analysis.churn_note,
        }

    def _row(self, customer_id: str) -> tuple[_Analysis, dict[str, Any]] | None:
        analysis = self._analysis()
        i = analysis.index.get(str(customer_id)) if analysis is not None else None
        if analysis is None or i is None:
            return None
        return analysis, analysis.table.row(i, named=True)

    def segment_of(self, customer_id: str) -> str | None:
        """The customer's RFM segment, or None without purchases (or unknown)."""
        found = self._row(customer_id)
        return str(found[1]["segment"]) if found else None

    def customer_value(self, customer_id: str) -> dict[str, Any] | None:
        """Segment, RFM scores, 12-month CLV, P(alive), churn risk and next-best offer.

        None for an unknown customer or one without purchases (as of the analysis day). CLV
        fields are None (with ``clv_note``) when the store has too few customers to fit the
        models. ``churn_risk`` is P(no purchase in the next ``churn_horizon_days``); BG/NBD lets
        a customer drop out only after a repeat purchase, so ``p_alive`` is 1 for one-time buyers.
        """
        found = self._row(customer_id)
        if found is None:
            return None
        analysis, row = found
        value: dict[str, Any] = {
            "segment": row["segment"],
            "rfm": row["rfm"],
            "recency_score": int(row["r_score"]),
            "frequency_score": int(row["f_score"]),
            "monetary_score": int(row["m_score"]),
            "clv": _round(row["clv"], 2),
            "p_alive": _round(row["p_alive"], 4),
            "churn_risk": _round(row["churn_risk"], 4),
            "expected_purchases_90d": _round(row["expected_purchases_90d"], 3),
            "churn_horizon_days": CHURN_HORIZON_DAYS,
            "value_as_of": analysis.as_of.isoformat(),
            "next_best_offer": self._decide([customer_id], analysis, propensity=True)[0],
        }
        if analysis.clv_note:
            value["clv_note"] = analysis.clv_note
        return value

    def clv(
        self,
        horizon_days: int = DEFAULT_HORIZON_DAYS,
        fit_until: date | datetime | str | None = None,
        time_unit: TimeUnit = "week",
        discount_rate: float = DEFAULT_DISCOUNT_RATE,
    ) -> dict[str, Any]:
        """Fitted BG/NBD and Gamma-Gamma parameters and CLV figures (see :class:`ClvFit`).

        ``fit_until`` (default: the analysis day, see the module notes) fits on purchases on or
        before it, each customer's age measured at that day, as in the CDNOW papers. The answer
        adds ``as_of`` and ``warnings`` (transactions far from the rest). InputError when the
        data are too few to fit BG/NBD.
        """
        if time_unit not in UNIT_DAYS:
            raise InputError(f"time unit must be 'day' or 'week', got {time_unit!r}")
        if not 0 <= discount_rate < 1:
            raise InputError(f"discount rate must be in [0, 1) per month, got {discount_rate}")
        analysis = self._ready()
        until = _as_date(fit_until, "fit_until") or analysis.as_of
        key = (analysis.fingerprint, int(horizon_days), until, time_unit, float(discount_rate))
        default = (analysis.fingerprint, DEFAULT_HORIZON_DAYS, analysis.as_of, "week",
                   DEFAULT_DISCOUNT_RATE)  # fmt: skip
        extra = {"as_of": analysis.as_of.isoformat(), "warnings": list(analysis.clock.warnings)}
        if key == default and analysis.clv is not None:
            return {**analysis.clv.as_dict(), **extra}
        with self._lock:
            fit = self._clv_cache.get(key)
            if fit is None:
                fit = fit_clv_models(
                    analysis.transactions, fit_until=until, time_unit=time_unit,
                    horizon_days=int(horizon_days), discount_rate=discount_rate,
                )  # fmt: skip
                self._clv_cache[key] = fit
                while len(self._clv_cache) > 8:
                    self._clv_cache.popitem(last=False)
        return {**fit.as_dict(), **extra}

    # -- offers (the book holds the files; the service adds customer facts) ------------------------
    def offers(self) -> list[dict[str, Any]]:
        """The offer catalog (the default until set): no-offer, free shipping, 10% off."""
        return [o.model_dump() for o in self.book.catalog()]

    def set_offer(self, offer: dict[str, Any]) -> list[dict[str, Any]]:
        """Add or replace one offer (by id) in the catalog; returns the catalog."""
        return self.book.set_offer(offer)

    def replace_offers(self, offers: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Replace the whole catalog (``no-offer`` is added when missing); returns it."""
        return self.book.replace_offers(offers)

    def remove_offer(self, offer_id: str) -> list[dict[str, Any]]:
        """Remove an offer from the catalog (NotFound listing the ids when it is not there)."""
        return self.book.remove_offer(offer_id)

    def exploration_share(self) -> float:
        """Share of customers the bandit may show an offer not yet known to pay (default 10%)."""
        return self.book.exploration_share()

    def set_exploration_share(self, share: float) -> float:
        """Set the bandit's exploration share (0 to 0.5; 0 never explores); returns it."""
        return self.book.set_exploration_share(share)

    def _features(
        self, ids: list[str], analysis: _Analysis | None
    ) -> tuple[pl.DataFrame, list[int], list[str], FloatArray]:
        """Features of the customers with purchases (and their positions in ``ids``), every
        customer's bandit segment and order value.

        The order value is the Gamma-Gamma expected spend, else the customer's mean order, else
        the shop's mean order (customers without purchases).
        """
        if analysis is None:
            empty = pl.DataFrame(schema={f: pl.Float64 for f in CUSTOMER_FEATURES})
            return empty, [], [NO_SEGMENT] * len(ids), np.zeros(len(ids))
        index = [analysis.index.get(cid, -1) for cid in ids]
        positions = [k for k, i in enumerate(index) if i >= 0]
        part = (
            analysis.table[[index[k] for k in positions]] if positions else analysis.table.clear()
        )
        own = part.select(
            pl.col("segment"),
            pl.coalesce(
                pl.col("expected_spend"),
                pl.col("monetary") / pl.col("frequency"),
                pl.lit(analysis.mean_order_value),
            ).alias("value"),
        )
        segments, values = [NO_SEGMENT] * len(ids), np.full(len(ids), analysis.mean_order_value)
        for k, (segment, value) in zip(positions, own.iter_rows(), strict=True):
            segments[k], values[k] = str(segment), float(value)
        return part.select(CUSTOMER_FEATURES), positions, segments, np.clip(values, 0.0, None)

    def decide_offers(
        self, customer_ids: Sequence[str], *, propensity: bool = False
    ) -> list[dict[str, Any]]:
        """The next-best offer of many customers at once (see :meth:`next_best_offer`)."""
        return self._decide(customer_ids, self._analysis(), propensity=propensity)

    def _decide(
        self, customer_ids: Sequence[str], analysis: _Analysis | None, *, propensity: bool
    ) -> list[dict[str, Any]]:
        ids = [str(c) for c in customer_ids]
        if not ids:
            return []
        features, positions, segments, values = self._features(ids, analysis)
        return self.book.decide(ids, features, positions, segments, values, propensity=propensity)

    def next_best_offer(self, customer_id: str) -> dict[str, Any]:
        """The offer with the highest expected incremental value (``no-offer`` when none pays).

        Uses the uplift models of ``storewise offers train`` when they exist (customers with
        purchases), else the bandit's Thompson draw for the customer's segment (fixed per
        customer until new responses arrive). Keys: ``customer_id, offer_id, name,
        expected_value, uplift, cost, policy, propensity, reason``; ``propensity`` is the
        probability of this choice (1 for the uplift policy, a Monte Carlo estimate for the
        bandit's), to log with the decision for later off-policy evaluation.
        """
        return self.decide_offers([str(customer_id)], propensity=True)[0]

    def record_offer_response(
        self, offer_id: str, customer_id: str, converted: bool
    ) -> dict[str, Any]:
        """Teach the bandit one outcome of showing ``offer_id`` to a customer (their segment).

        Unknown offer: NotFound listing the catalog's offers.
        """
        self.book.require(offer_id)
        segment = self.segment_of(customer_id) or NO_SEGMENT
        return {"customer_id": str(customer_id), **self.book.record(offer_id, segment, converted)}

    def train_offer_model(self, campaign: Path, **options: Any) -> dict[str, Any]:
        """Train per-offer uplift models from a campaign CSV (see :meth:`OfferBook.train`);
        feature columns the file lacks are looked up in the store by ``customer_id``."""
        analysis = self._analysis()
        current = analysis.table if analysis is not None else None
        return self.book.train(campaign, current=current, **options)

    def offer_model_info(self) -> dict[str, Any] | None:
        """What the stored uplift models were trained on and how they scored, or None."""
        return self.book.model_info()

    def evaluate_offer_policy(self, log: Path, **options: Any) -> dict[str, Any]:
        """Off-policy value of a policy on logged offers (see :meth:`OfferBook.evaluate`); by
        default the policy is this service's current choice per logged customer."""
        return self.book.evaluate(log, self.decide_offers, **options)

    # -- campaigns -------------------------------------------------------------------------------
    def campaign_audience(
        self,
        segment: str | None = None,
        min_clv: float | None = None,
        n_items: int = 4,
        limit: int | None = None,
        offer: bool = True,
        *,
        actor: str,
        email_only: bool = False,
    ) -> list[dict[str, Any]]:
        """One row per customer to contact (see :meth:`build_audience`, e-mail tool format):
        the consent policy allows marketing (an explicit grant), in the segment, CLV >=
        ``min_clv``; with e-mail (when they have one; only those with ``email_only``), offer
        and ``n_items`` personal picks. The export is recorded in the audit log as ``actor``'s."""
        return self.build_audience(
            segment, min_clv, n_items, limit, offer, actor=actor, email_only=email_only
        ).rows

    def build_audience(
        self,
        segment: str | None = None,
        min_clv: float | None = None,
        n_items: int = 4,
        limit: int | None = None,
        offer: bool = True,
        *,
        actor: str,
        email_only: bool = False,
        fmt: str = "mailchimp",
    ) -> campaigns.Audience:
        """An audience export in ``fmt``: ``mailchimp`` (the Mailchimp/Klaviyo CSV with offer
        and picks), ``google`` (Customer Match) or ``meta`` (custom audience), the last two
        only customers with an e-mail, as SHA-256 of the normalised address.

        Only customers whose marketing consent is recorded as granted are included; the
        ``summary`` counts who was left out for consent and says why an empty audience is
        empty. Unknown segment: NotFound listing the valid names. Every export is recorded in
        the audit log as ``actor``'s (``campaign_audience`` or ``ads_audience``).
        """
        if fmt not in campaigns.AUDIENCE_FORMATS:
            raise InputError(
                f"unknown audience format {fmt!r}; use {', '.join(campaigns.AUDIENCE_FORMATS)}"
            )
        if not 0 <= n_items <= campaigns.MAX_ITEMS:
            raise InputError(f"n_items must be between 0 and {campaigns.MAX_ITEMS}, got {n_items}")
        ads = fmt != "mailchimp"
        analysis = self._ready()
        facts = self.facts
        consents = facts.consents()
        considered = campaigns.filter_scored(analysis.table, segment=segment, min_clv=min_clv)
        selected = campaigns.select_audience(
            analysis.table,
            consents,
            segment=segment,
            min_clv=min_clv,
            limit=limit,
            policy=self.policy,
        )
        ids = [str(c) for c in selected.get_column("customer_id").to_list()]
        emails = facts.contacts(ids) if ids else {}
        if email_only or ads:
            selected = selected.filter(pl.col("customer_id").is_in(list(emails)))
            ids = [c for c in ids if c in emails]
        rows: list[dict[str, Any]]
        if ads:
            header = campaigns.ADS_HEADERS[fmt]
            hashes = campaigns.ads_rows({"email": emails[c]} for c in ids)
            rows = [{header: h} for h in hashes]
        else:
            picks: dict[str, list[dict[str, Any]]] = {}
            if ids and n_items:
                for answer in self.recommendations.recommend_many(ids, n_items):
                    picks[str(answer.customer_id)] = [
                        {"item_id": r.item_id, "title": r.title, "reasons": list(r.reasons)}
                        for r in answer.items
                    ]
            chosen = (
                {p["customer_id"]: p for p in self.decide_offers(ids)} if offer and ids else None
            )
            rows = campaigns.audience_rows(
                selected, emails=emails, picks=picks, offers=chosen, n_items=n_items
            )
        summary = campaigns.explain_audience(
            considered.get_column("customer_id").cast(pl.Utf8).to_list(),
            consents,
            rows=len(rows),
            with_email=len(emails),
            policy=self.policy,
            email_only=email_only or ads,
        )
        options: dict[str, Any] = {"segment": segment, "min_clv": min_clv, "limit": limit}
        if ads:
            options["format"] = fmt
        else:
            options["n_items"] = n_items
        what = "ads_audience" if ads else "campaign_audience"
        self.audit.exported(actor, what, rows=len(rows), options=options)
        return campaigns.Audience(
            format=fmt, rows=rows, summary=summary, n_items=n_items, email_only=email_only
        )

    def audience_preview(
        self, segment: str | None = None, min_clv: float | None = None
    ) -> dict[str, Any]:
        """How many customers an audience would have and why not more (consent, e-mail), with
        no personal data and so no audit entry: for screens that warn before an export."""
        analysis = self._ready()
        consents = self.facts.consents()
        considered = campaigns.filter_scored(analysis.table, segment=segment, min_clv=min_clv)
        ids = considered.get_column("customer_id").cast(pl.Utf8).to_list()
        allowed = self.policy.allowed_ids(ids, consents, campaigns.MARKETING)
        return campaigns.explain_audience(
            ids, consents, rows=len(allowed), with_email=0, policy=self.policy
        )

    @staticmethod
    def save_segment_chart(summary: dict[str, Any], path: Path) -> None:
        """Write the customer and revenue share per segment (of :meth:`segments`) as a PNG."""
        from storewise.marketing import plots

        frame = pl.DataFrame(
            {
                "segment": [s["name"] for s in summary["segments"]],
                "customer_share": [s["share"] for s in summary["segments"]],
                "revenue_share": [s["revenue_share"] for s in summary["segments"]],
            }
        )
        plots.save_png(plots.segment_chart(frame), path)

    @staticmethod
    def segment_names() -> tuple[str, ...]:
        """The valid RFM segment names, best first."""
        return SEGMENTS


__all__ = [
    "CHECK_SECONDS",
    "CUSTOMER_FEATURES",
    "DEFAULT_OFFERS",
    "NO_OFFER_ID",
    "CatalogOffer",
    "ClvFit",
    "MarketingService",
    "OfferBook",
    "fit_clv_models",
]
