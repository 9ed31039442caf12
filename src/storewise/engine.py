"""The serving service: recommendations, similar items, baskets, trending and buy-again.

It serves the current model bundle (hot-reloaded when ``storewise train`` publishes a new
one, the old one kept when the new one is bad), reads each customer's fresh history from the
store so new events count at once, applies the consent policy and the cold-start policy,
business rules and diversity, and puts reasons into words. It is built by the composition
root (:func:`storewise.app.build`) and handed, as a narrow port, to marketing and support.

Cold-start policy, in order: personalisation consent withdrawn -> popular in the customer's
country; no history -> popular in their country (or trending); an anonymous session ->
item-based results from the session; an unknown customer id is a new customer, not an error.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from storewise import artifacts
from storewise.errors import (
    ConfigError,
    InputError,
    NotFitted,
    NotFound,
    StorewiseError,
)
from storewise.privacy.consent import ConsentPolicy
from storewise.privacy.erasure import forget_in_bundles
from storewise.recommend import bundle
from storewise.recommend.base import HISTORY_SCHEMA, History
from storewise.recommend.basket import basket_scores
from storewise.recommend.hybrid import Hybrid
from storewise.recommend.neighbors import feature_similarity
from storewise.recommend.results import RankedList, Reason, Recommendation, reason_text
from storewise.recommend.rules import (
    Catalog,
    RuleSet,
    calibration_target,
    head_mask,
    placement_rules,
    select,
    under,
)
from storewise.store.base import Store

log = logging.getLogger("storewise.engine")

MAX_N = 100
HISTORY_LIMIT = 500
CATALOG_TTL_SECONDS = 30.0
#: The most items unseen by the models that an exploration slot draws from.
UNSEEN_POOL = 1000
ANSWER_CACHE_SIZE = 20_000
#: How long warming waits before looking again while requests are in flight.
WARM_YIELD_SECONDS = 0.005
DEFAULT_BASKET_MIN_CUSTOMERS = 5
SCENARIOS = ("for-you", "buy-again")


def single_threaded_blas() -> None:
    """Use one BLAS thread per process: serving does many small products, where OpenBLAS's
    thread hand-offs cost far more than they save (70x slower on a busy 2-core machine).
    Front-ends call this once at start; parallelism comes from processes (API workers)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def check_n(n: int) -> int:
    """Validate a list length."""
    if not isinstance(n, int) or n <= 0 or n > MAX_N:
        raise InputError(f"n must be between 1 and {MAX_N}, got {n!r}")
    return n


class Engine:
    """Recommendations, similar items, baskets, trending and buy-again from the served bundle."""

    def __init__(
        self,
        store: Store,
        models_dir: Path,
        policy: ConsentPolicy,
        *,
        placements: Mapping[str, Mapping[str, Any]] | None = None,
        basket_min_customers: int = DEFAULT_BASKET_MIN_CUSTOMERS,
        version: str | None = None,
    ) -> None:
        """``placements``: default rules per list (``Settings.placements``), under a request's
        own; ``basket_min_customers``: the fewest customers a bought-together pair needs;
        ``version``: serve that kept bundle as it is, instead of the published one."""
        self.store = store
        self.models_dir = models_dir
        self.policy = policy
        self.placements = placement_rules(placements or {})
        if basket_min_customers < 2:
            raise ConfigError("basket_min_customers must be at least 2 (never one person's)")
        self.basket_min_customers = basket_min_customers
        self._head: tuple[str, np.ndarray] | None = None
        self.bundles: bundle.BundleWatch | bundle.PinnedBundle = (
            bundle.PinnedBundle(models_dir, version)
            if version is not None
            else bundle.BundleWatch(models_dir)
        )
        self._pinned: dict[str, Engine] = {}
        self._unseen: list[Recommendation] = []
        self._pinned_lock = threading.Lock()
        self._catalog: Catalog | None = None
        self._catalog_version: str | None = None
        self._words: tuple[tuple[str, int], list[frozenset[str]]] | None = None
        self._catalog_at = 0.0
        self._catalog_epoch = 0
        self._catalog_stamp: int | None = None
        self._answers: OrderedDict[tuple[Any, ...], RankedList] = OrderedDict()
        self._answers_lock = threading.Lock()

    # -- model lifecycle -----------------------------------------------------------------------
    @property
    def served(self) -> bundle.ServedModels:
        """The bundle being served, loading or hot-reloading it when a new one is published
        (see :class:`~storewise.recommend.bundle.BundleWatch`)."""
        return self.bundles.current()

    @property
    def last_reload_error(self) -> str | None:
        """Why the newest published bundle was refused, or None."""
        return self.bundles.last_reload_error

    @property
    def refused_version(self) -> str | None:
        """The newest published bundle, when it could not be loaded (an older one may serve)."""
        return self.bundles.refused_version

    def published_version(self) -> str | None:
        """The newest published bundle's version (served or not), or None before training."""
        return artifacts.current_version(self.models_dir)

    def reload(self) -> str:
        """Load the current bundle now; returns the version served."""
        self.bundles.check_now()
        return self.served.version

    @property
    def model_version(self) -> str | None:
        """The served bundle's version, or None before training."""
        try:
            return self.served.version
        except NotFitted:
            return None

    @property
    def catalog(self) -> Catalog:
        """Fresh per-item facts (stock, category, titles) aligned with the served models."""
        served = self.served
        now = time.monotonic()
        if (
            self._catalog is None
            or self._catalog_version != served.version  # a new bundle: its own vocabulary
            or now - self._catalog_at > CATALOG_TTL_SECONDS
        ):
            items = self.store.items()
            fresh = Catalog.from_items(served.item_ids, items)
            self._unseen = _unseen(items, served.item_ids)
            stamp = fresh.fingerprint()
            if stamp != self._catalog_stamp:  # remembered answers depend on these facts
                self._catalog_stamp = stamp
                self._catalog_epoch += 1
            self._catalog = fresh
            self._catalog_version = served.version
            self._catalog_at = now
        return self._catalog

    def unseen_items(self, limit: int = UNSEEN_POOL) -> list[Recommendation]:
        """In-stock products the served models have never seen (added since training, or
        without any interaction): what an exploration slot shows, so they get seen before the
        next retrain can learn about them."""
        self.catalog  # noqa: B018 - refreshes the list with the catalog
        return self._unseen[:limit]

    def refresh_catalog(self) -> None:
        """Drop the cached catalog (after items are updated)."""
        self._catalog = None

    # -- histories -----------------------------------------------------------------------------
    def _history(self, events: pl.DataFrame, country: str | None, customer: str | None) -> History:
        catalog = self.catalog
        now_ms = int(time.time() * 1000)
        if events.height == 0:
            return History.empty(now_ms, country)
        index = [catalog.index(i) if i is not None else None for i in events["item_id"].to_list()]
        frame = events.with_columns(pl.Series("item_idx", index, dtype=pl.Int32)).filter(
            pl.col("item_idx").is_not_null()
        )
        return History(frame.select(list(HISTORY_SCHEMA)), now_ms, None, country)

    def customer_history(self, customer_id: str) -> tuple[History, dict[str, Any] | None]:
        """A customer's fresh history (as model indices) and profile; unknown = empty."""
        profile = self.store.customer(customer_id)
        country = profile["country"] if profile else None
        events = self.store.customer_history(customer_id, limit=HISTORY_LIMIT)
        return self._history(events, country, customer_id), profile

    def _history_from_rows(self, customer_id: str, country: str | None) -> History:
        """The request path's history read: one indexed query, indexed with a dictionary."""
        rows = self.store.history_rows(customer_id, limit=HISTORY_LIMIT)
        now_ms = int(time.time() * 1000)
        if not rows:
            return History.empty(now_ms, country)
        index = self.catalog._index
        kept = [(index[r[0]], *r[1:]) for r in rows if r[0] in index]
        columns: list[Any] = list(zip(*kept, strict=True)) if kept else [[]] * len(HISTORY_SCHEMA)
        frame = pl.DataFrame(dict(zip(HISTORY_SCHEMA, columns, strict=True)), schema=HISTORY_SCHEMA)
        return History(frame, now_ms, None, country)

    # -- answers -----------------------------------------------------------------------------
    def _finish(
        self,
        scenario: str,
        model_name: str,
        history: History,
        scores: np.ndarray,
        n: int,
        rules: RuleSet,
        *,
        customer_id: str | None,
        policy: str,
        explain: Any,
        fill: bool = True,
    ) -> RankedList:
        """Rules, fill (popular items, unless ``fill`` is off), caps, fairness, diversity and
        reasons: the shared last mile of every list.

        ``explain(items)`` returns a list of reasons for each chosen item index.
        """
        catalog = self.catalog
        chosen, chosen_scores = self._select(scores, n, rules, history, fill=fill)
        explained = explain(chosen) if chosen.size else []
        items = []
        for rank, (item, score, why) in enumerate(
            zip(chosen.tolist(), chosen_scores.tolist(), explained, strict=True), 1
        ):
            reasons = why or [Reason("popular", scope=history.country)]
            if str(catalog.item_ids[item]) in rules.pin:
                reasons = [Reason("rule_boost"), *reasons]
            texts = tuple(dict.fromkeys(reason_text(r, catalog.title) for r in reasons))
            items.append(
                Recommendation(
                    item_id=str(catalog.item_ids[item]),
                    score=float(score),
                    rank=rank,
                    reasons=texts,
                    title=catalog.title(item),
                    category=str(catalog.categories[item]) or None,
                )
            )
        return RankedList(
            items=tuple(items),
            scenario=scenario,
            model=model_name,
            model_version=self.served.version,
            customer_id=customer_id,
            policy=policy,
        )

    def _select(
        self, scores: np.ndarray, n: int, rules: RuleSet, history: History, *, fill: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """:func:`~storewise.recommend.rules.select` with what the served bundle provides: the
        popular fill, the head for the long-tail boost, the history's mix for calibration."""
        catalog = self.catalog
        purchased = history.owned() if not history.is_empty else np.empty(0, np.int64)
        popular = self.served.slot("popular").popularity
        return select(
            scores,
            n,
            rules,
            catalog,
            purchased=purchased,
            fill=popular if fill else None,
            head=self.head() if rules.long_tail_boost > 0 else None,
            target=calibration_target(history, catalog.categories) if rules.calibration else None,
            similarity=(
                feature_similarity(self.served.slot("similar")) if rules.diversity > 0 else None
            ),
            never=history.unwanted() if not history.is_empty else None,
        )

    def head(self) -> np.ndarray:
        """The served head (most popular items making 20% of interactions), as a mask."""
        served = self.served
        if self._head is None or self._head[0] != served.version:
            self._head = (served.version, head_mask(served.slot("popular").popularity))
        return self._head[1]

    def placement_rules(self, placement: str) -> RuleSet:
        """The default rules of a placement (``Settings.placements``; no rules when unset)."""
        return self.placements.get(placement, RuleSet())

    def _placed(self, placement: str, rules: RuleSet | None) -> RuleSet:
        """A request's rules over its placement's defaults."""
        return under(self.placements.get(placement), rules)

    def _popular_answer(
        self,
        scenario: str,
        history: History,
        n: int,
        rules: RuleSet,
        customer_id: str | None,
        policy: str,
    ) -> RankedList:
        model = self.served.slot("popular")
        scores = model.score([history])[0]
        return self._finish(
            scenario,
            model.name,
            history,
            scores,
            n,
            rules,
            customer_id=customer_id,
            policy=policy,
            explain=lambda items: model.explain_many(history, items),
        )

    def recommend(
        self,
        customer_id: str,
        n: int = 10,
        *,
        scenario: str = "for-you",
        rules: RuleSet | None = None,
        model: str | None = None,
    ) -> RankedList:
        """Personal recommendations for a customer (unknown ids are new customers); ``model``
        names another model of the served bundle than the trained choice (an experiment's)."""
        check_n(n)
        if scenario not in SCENARIOS:
            raise InputError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
        rules = self._placed(scenario, rules)
        country, granted, stamp = self.store.serving_facts(customer_id)
        allowed = self.policy.decision(granted, "personalization")
        # The answer depends only on the fresh history (its stamp), consent, the rules, the
        # served bundle and the catalog: an unchanged customer is answered from memory, and
        # any new event of theirs changes the stamp and recomputes.
        key = (
            customer_id,
            scenario,
            n,
            rules.model_dump_json(),
            stamp,
            country,
            allowed,
            self.served.version,
            self._catalog_epoch,
            model,
        )
        with self._answers_lock:
            cached = self._answers.get(key)
            if cached is not None:
                self._answers.move_to_end(key)
                return cached
        history = self._history_from_rows(customer_id, country)
        answer = self._recommend_fresh(customer_id, n, scenario, rules, history, allowed, model)
        with self._answers_lock:
            self._answers[key] = answer
            if len(self._answers) > ANSWER_CACHE_SIZE:
                self._answers.popitem(last=False)
        return answer

    def warm(
        self,
        limit: int,
        stop: threading.Event | None = None,
        busy: Callable[[], bool] | None = None,
    ) -> int:
        """Answer up to ``limit`` known customers (default list) so their next request is
        served from memory; stops early when a new bundle is served, and steps aside while
        ``busy()`` says requests are being answered (warming must never slow serving).
        Returns how many."""
        served = self.served
        done = 0
        for customer_id in served.customer_ids[:limit].tolist():
            while busy is not None and busy() and not (stop is not None and stop.is_set()):
                time.sleep(WARM_YIELD_SECONDS)
            if (stop is not None and stop.is_set()) or self.bundles.loaded is not served:
                break
            if not customer_id:
                continue
            try:
                self.recommend(customer_id)
            except StorewiseError:  # an erased or unreadable customer: skip, keep warming
                continue
            done += 1
        return done

    def _recommend_fresh(
        self,
        customer_id: str,
        n: int,
        scenario: str,
        rules: RuleSet,
        history: History,
        allowed: bool,
        model: str | None = None,
    ) -> RankedList:
        if not allowed:
            empty = History.empty(history.now_ms, history.country)
            return self._popular_answer(
                scenario, empty, n, rules, customer_id, "non-personalised (consent)"
            )
        if scenario == "buy-again":
            return self.buy_again(customer_id, n, history=history, rules=rules)
        if history.is_empty:
            return self._popular_answer(
                scenario, history, n, rules, customer_id, "cold-start: popular"
            )
        slot = "repurchase" if rules.allow_repurchase else "discovery"
        return self._personal(scenario, slot, [history], n, rules, [customer_id], model=model)[0]

    def _personal(
        self,
        scenario: str,
        slot: str,
        histories: Sequence[History],
        n: int,
        rules: RuleSet,
        customer_ids: Sequence[str | None],
        policy: str = "personalised",
        *,
        model: str | None = None,
    ) -> list[RankedList]:
        """Score histories in one batch with a slot's model (or the named model of the
        served bundle, when it holds one by that name), then finish each list."""
        served = self.served
        chosen = served.models.get(model) if model else None
        scorer = chosen if chosen is not None else served.slot(slot)
        if isinstance(scorer, Hybrid):
            scores, parts = scorer.score_parts(histories)
        else:
            scores, parts = scorer.score(histories), {}
        answers = []
        for row, (history, customer_id) in enumerate(zip(histories, customer_ids, strict=True)):
            own = {name: matrix[row] for name, matrix in parts.items()}
            explain = functools.partial(_explain_with, scorer, history, own)
            answers.append(
                self._finish(
                    scenario,
                    scorer.name,
                    history,
                    scores[row],
                    n,
                    rules,
                    customer_id=customer_id,
                    policy=policy,
                    explain=explain,
                )
            )
        return answers

    def recommend_many(
        self,
        customer_ids: Sequence[str],
        n: int = 10,
        *,
        rules: RuleSet | None = None,
        batch: int = 256,
        model: str | None = None,
    ) -> list[RankedList]:
        """Recommendations for many customers at once (batch export), same policy as one;
        ``model`` names another model of the bundle (an email experiment's variant)."""
        check_n(n)
        rules = self._placed("for-you", rules)
        slot = "repurchase" if rules.allow_repurchase else "discovery"
        allowed = set(
            self.policy.allowed_ids(customer_ids, self.store.consents(), "personalization")
        )
        countries = dict(self.store.customers().select("customer_id", "country").iter_rows())
        results: list[RankedList] = []
        catalog = self.catalog
        index = pl.DataFrame(
            {
                "item_id": catalog.item_ids,
                "item_idx": np.arange(len(catalog.item_ids), dtype=np.int32),
            }
        )
        empty = pl.DataFrame(schema=HISTORY_SCHEMA)
        for start in range(0, len(customer_ids), batch):
            part = list(customer_ids[start : start + batch])
            now_ms = int(time.time() * 1000)
            events = self.store.events(customer_ids=part).join(index, on="item_id", how="inner")
            grouped = (
                events.select("customer_id", *HISTORY_SCHEMA).partition_by(
                    "customer_id", as_dict=True, include_key=False
                )
                if events.height
                else {}
            )
            histories = [
                History(grouped.get((cid,), empty), now_ms, None, countries.get(cid))
                for cid in part
            ]
            personal = [
                i
                for i, (cid, h) in enumerate(zip(part, histories, strict=True))
                if cid in allowed and not h.is_empty
            ]
            answers: dict[int, RankedList] = {}
            if personal:
                done = self._personal(
                    "for-you",
                    slot,
                    [histories[i] for i in personal],
                    n,
                    rules,
                    [part[i] for i in personal],
                    model=model,
                )
                answers.update(zip(personal, done, strict=True))
            for i, cid in enumerate(part):
                if i not in answers:
                    policy = (
                        "non-personalised (consent)"
                        if cid not in allowed
                        else "cold-start: popular"
                    )
                    history = (
                        histories[i]
                        if cid in allowed
                        else History.empty(histories[i].now_ms, histories[i].country)
                    )
                    answers[i] = self._popular_answer("for-you", history, n, rules, cid, policy)
            results.extend(answers[i] for i in range(len(part)))
        return results

    def buy_again(
        self,
        customer_id: str,
        n: int = 10,
        *,
        history: History | None = None,
        rules: RuleSet | None = None,
    ) -> RankedList:
        """Items the customer bought before, most habitual first."""
        check_n(n)
        if history is None:
            history, _ = self.customer_history(customer_id)
        rules = self._placed("buy-again", rules).model_copy(update={"exclude_purchased": False})
        model = self.served.slot("repurchase")
        bought = history.purchased()
        scores = np.full(self.served.n_items, -np.inf)
        if bought.size:
            own = model.score([history])[0]
            scores[bought] = np.where(np.isfinite(own[bought]), own[bought], 0.0)
        catalog = self.catalog
        chosen, values = self._select(scores, n, rules, history, fill=False)
        items = []
        explained = model.explain_many(history, chosen) if chosen.size else []
        for rank, (item, score, why) in enumerate(
            zip(chosen.tolist(), values.tolist(), explained, strict=True), 1
        ):
            reasons = why if why and why[0].kind == "repurchase" else [Reason("repurchase")]
            items.append(
                Recommendation(
                    item_id=str(catalog.item_ids[item]),
                    score=float(score),
                    rank=rank,
                    reasons=tuple(reason_text(r, catalog.title) for r in reasons),
                    title=catalog.title(item),
                    category=str(catalog.categories[item]) or None,
                )
            )
        return RankedList(
            tuple(items),
            "buy-again",
            model.name,
            self.served.version,
            customer_id,
            "personalised" if items else "no past purchases",
        )

    def recommend_session(
        self,
        anonymous_id: str,
        n: int = 10,
        *,
        rules: RuleSet | None = None,
        model: str | None = None,
    ) -> RankedList:
        """Recommendations for a guest from their session (or their account once linked)."""
        check_n(n)
        rules = self._placed("for-you", rules)
        linked = self.store.resolve_anonymous(anonymous_id)
        if linked is not None:
            result = self.recommend(linked, n, rules=rules, model=model)
            return RankedList(
                result.items,
                "session",
                result.model,
                result.model_version,
                linked,
                result.policy + " (linked account)",
            )
        events = self.store.session_history(anonymous_id, limit=HISTORY_LIMIT)
        history = self._history(events, None, None)
        if history.is_empty:
            return self._trending_list(n, rules, None, "cold-start: trending", "session")
        return self._personal(
            "session",
            "similar",
            [history],
            n,
            rules,
            [None],
            policy="session: item-based",
            model=model,
        )[0]

    def similar(self, item_id: str, n: int = 10, *, rules: RuleSet | None = None) -> RankedList:
        """Items similar to one item (co-purchase, falling back to product features)."""
        check_n(n)
        catalog = self.catalog
        idx = catalog.index(item_id)
        if idx is None:
            return self._similar_to_new(item_id, n, rules)
        rules = self._placed("similar", rules).model_copy(update={"exclude_purchased": False})
        model = self.served.slot("similar")
        items, values = model.similar_items(idx, max(n * 5, 50))
        scores = np.full(self.served.n_items, -np.inf)
        scores[items] = values
        scores[idx] = -np.inf
        rules = rules.model_copy(update={"exclude_items": (*rules.exclude_items, item_id)})
        content = getattr(model, "parts", {}).get("content")

        def explain(items: np.ndarray) -> list[list[Reason]]:
            out = []
            for item in items.tolist():
                if self.served.cobuy[idx, item] >= self.basket_min_customers:
                    out.append([Reason("bought_with", item_idx=idx)])
                else:
                    words = content.shared_words(idx, item) if content is not None else ()
                    out.append([Reason("similar_to", item_idx=idx, words=words)])
            return out

        empty = History.empty(int(time.time() * 1000))
        return self._finish(
            "similar",
            model.name,
            empty,
            scores,
            n,
            rules,
            customer_id=None,
            policy="item-to-item",
            explain=explain,
        )

    def _similar_to_new(self, item_id: str, n: int, rules: RuleSet | None) -> RankedList:
        """Similar items for a catalog item the served model has not seen yet (added since the
        last training): the words of its title and description against the served items'
        titles, plus its category and brand, so it has neighbours from the moment it is
        stored. NotFound when the catalog does not have it either."""
        facts = self.store.item_facts(item_id)
        if facts is None:
            raise NotFound(f"unknown item {item_id!r}")
        catalog = self.catalog
        mine = _words(f"{facts.get('title') or ''} {facts.get('description') or ''}")
        theirs = self._title_words()
        scores = np.zeros(len(catalog.item_ids), dtype=np.float64)
        shared: list[tuple[str, ...]] = []
        for i, words in enumerate(theirs):
            common = mine & words
            shared.append(tuple(sorted(common))[:3])
            if common:
                scores[i] = len(common) / np.sqrt(len(mine) * len(words))
        category = str(facts.get("category") or "").lower()
        if category:
            scores += 0.5 * (np.char.lower(catalog.categories.astype(str)) == category)
        brand = str(facts.get("brand") or "").lower()
        brands = catalog.fields.get("brand")
        if brand and brands is not None:
            scores += 0.3 * (np.char.lower(brands.astype(str)) == brand)
        scores[scores <= 0] = -np.inf
        rules = self._placed("similar", rules).model_copy(update={"exclude_purchased": False})
        title = facts.get("title") or item_id

        def explain(items: np.ndarray) -> list[list[Reason]]:
            return [[Reason("similar_to", words=shared[i], scope=title)] for i in items.tolist()]

        return self._finish(
            "similar",
            "product features (new item)",
            History.empty(int(time.time() * 1000)),
            scores,
            n,
            rules,
            customer_id=None,
            policy="item-to-item: a new item, by its product features until the next training",
            explain=explain,
            fill=False,
        )

    def _title_words(self) -> list[frozenset[str]]:
        """The words of each served item's title (kept per catalog)."""
        catalog = self.catalog
        key = (self.served.version, self._catalog_epoch)
        if self._words is None or self._words[0] != key:
            self._words = (
                key,
                [_words(catalog.title(i) or "") for i in range(len(catalog.item_ids))],
            )
        return self._words[1]

    def basket(
        self,
        item_ids: Sequence[str],
        n: int = 10,
        *,
        min_customers: int | None = None,
        rules: RuleSet | None = None,
    ) -> RankedList:
        """Frequently bought together with a basket, only from pairs bought together by at
        least k distinct customers: k is ``basket_min_customers``, which ``min_customers``
        may raise but never lower (so a list never reveals what a few people bought)."""
        check_n(n)
        if not item_ids:
            raise InputError("a basket needs at least one item")
        floor = self.basket_min_customers
        if min_customers is None:
            min_customers = floor
        if min_customers < floor:
            raise InputError(
                f"min_customers must be at least {floor} (the shop's basket_min_customers): "
                "a pair seen with fewer customers could reveal what they bought"
            )
        catalog = self.catalog
        known = np.asarray(
            [i for i in (catalog.index(x) for x in item_ids) if i is not None], dtype=np.int64
        )
        if known.size == 0:
            raise NotFound(f"none of the basket items is known: {', '.join(item_ids[:5])}")
        popularity = self.served.slot("popular").popularity
        scores, source = basket_scores(self.served.cobuy, known, popularity, min_customers)
        rules = self._placed("bought-together", rules)
        rules = rules.model_copy(update={"exclude_items": (*rules.exclude_items, *item_ids)})
        empty = History.empty(int(time.time() * 1000))
        result = self._finish(
            "basket",
            "co-purchase",
            empty,
            scores,
            n,
            rules,
            customer_id=None,
            policy=f"pairs bought together by >= {min_customers} customers",
            explain=lambda items: [[Reason("bought_with", item_idx=int(source[i]))] for i in items],
            fill=False,
        )
        keep = tuple(r for r in result.items if np.isfinite(scores[catalog.index(r.item_id) or 0]))
        return RankedList(
            tuple(
                Recommendation(r.item_id, r.score, rank, r.reasons, r.title, r.category)
                for rank, r in enumerate(keep, 1)
            ),
            "basket",
            "co-purchase",
            result.model_version,
            None,
            result.policy,
        )

    def _trending_list(
        self, n: int, rules: RuleSet, country: str | None, policy: str, scenario: str = "trending"
    ) -> RankedList:
        model = self.served.slot("popular")
        trending = getattr(model, "trending", None)
        if country:
            scores = model.score([History.empty(0, country)])[0].astype(np.float64)
            reason = Reason("popular", scope=country)
        else:
            base = np.asarray(
                trending if trending is not None else model.popularity, dtype=np.float64
            )
            scores = base + 1e-6 * model.popularity
            reason = Reason("trending")
        rules = rules.model_copy(update={"exclude_purchased": False})
        empty = History.empty(int(time.time() * 1000), country)
        return self._finish(
            scenario,
            model.name,
            empty,
            scores,
            n,
            rules,
            customer_id=None,
            policy=policy,
            explain=lambda items: [[reason] for _ in items],
        )

    def trending(
        self,
        n: int = 10,
        *,
        country: str | None = None,
        category: str | None = None,
        rules: RuleSet | None = None,
    ) -> RankedList:
        """What sells now (in a country, in a category), under ``rules``."""
        check_n(n)
        rules = self._placed("trending", rules)
        if category:
            rules = rules.model_copy(update={"include_categories": (category,)})
        return self._trending_list(n, rules, country, "trending")

    # -- erasure hook ----------------------------------------------------------------------------
    def forget(self, customer_id: str) -> dict[str, int]:
        """Remove a customer from every kept bundle (and stale staging folders) and drop the
        remembered answers, so the next request serves the republished bundle (an erasure
        hook); returns what was removed where."""
        receipt = forget_in_bundles(self.models_dir, customer_id)
        with self._answers_lock:
            receipt["cached_answers"] = len(self._answers)
            self._answers.clear()
        self.bundles.check_now()
        with self._pinned_lock:
            pinned = list(self._pinned.values())
        for engine in pinned:  # their versions were rewritten on disk: read them again
            with engine._answers_lock:
                receipt["cached_answers"] += len(engine._answers)
                engine._answers.clear()
            engine.bundles.check_now()
        return receipt

    def at_version(self, version: str) -> Engine:
        """This engine's twin serving one kept bundle version (an experiment variant's);
        NotFound naming the kept versions when it is not one of them."""
        with self._pinned_lock:
            engine = self._pinned.get(version)
            if engine is None:
                engine = Engine(
                    self.store,
                    self.models_dir,
                    self.policy,
                    placements={},
                    basket_min_customers=self.basket_min_customers,
                    version=version,
                )
                engine.placements = self.placements
                self._pinned[version] = engine
        return engine

    def model_versions(self) -> list[str]:
        """The kept bundle versions an experiment variant may pin, oldest first."""
        return artifacts.version_names(self.models_dir)

    def model_names(self) -> list[str]:
        """The models of the served bundle a request (an experiment variant) may name."""
        return sorted(self.served.models)

    def model_info(self) -> dict[str, Any]:
        """The served bundle: version, data snapshot, chosen models, validation figures."""
        manifest = self.served.manifest
        return {
            "version": self.served.version,
            "created_at": manifest.get("created_at"),
            "data": manifest.get("data"),
            "chosen": manifest.get("chosen"),
            "validation": manifest.get("validation"),
            "tuning": manifest.get("tuning"),
            "train_seconds": manifest.get("train_seconds"),
            "erasures_since_training": manifest.get("erasures_since_training", 0),
            "last_reload_error": self.last_reload_error,
        }


def _unseen(items: pl.DataFrame, known: np.ndarray) -> list[Recommendation]:
    """In-stock products absent from a bundle's vocabulary (added since training, or never
    bought or viewed), at most :data:`UNSEEN_POOL` in catalog order."""
    fresh = items.filter(
        pl.col("is_product")
        & pl.col("in_stock")
        & ~pl.col("item_id").is_in(pl.Series(known.astype(str)).implode())
    ).head(UNSEEN_POOL)
    return [
        Recommendation(
            item_id=str(item_id),
            score=0.0,
            rank=0,
            reasons=("new in the shop",),
            title=title,
            category=category,
        )
        for item_id, title, category in fresh.select("item_id", "title", "category").iter_rows()
    ]


_WORD = re.compile(r"[^\W\d_]{3,}")


def _words(text: str) -> frozenset[str]:
    """Lower-case words of three letters or more (titles and descriptions compared)."""
    return frozenset(w.lower() for w in _WORD.findall(text))


def _explain_with(
    model: Any, history: History, parts: dict[str, np.ndarray], items: np.ndarray
) -> list[list[Reason]]:
    """Reasons from a model, reusing a hybrid's component scores when there are any."""
    if isinstance(model, Hybrid):
        return model.explain_many(history, items, parts or None)
    reasons: list[list[Reason]] = model.explain_many(history, items)
    return reasons


__all__ = ["Engine", "check_n", "single_threaded_blas"]
