"""The offer catalog, next-best-offer decisions (uplift models or a Thompson-sampling bandit)
and offer-policy evaluation behind ``storewise offers``.

**No offer that loses money, outside a bounded exploration share.** An offer is assigned only
when its expected incremental value is positive at the current estimate (the uplift model's
prediction, or the bandit's posterior mean). A bandit must also try offers it is unsure of to
learn; that happens only for customers in the *exploration share* (default
:data:`DEFAULT_EXPLORATION_SHARE`, at most :data:`MAX_EXPLORATION_SHARE`, set with ``storewise
offers explore``), drawn afresh per customer whenever the segment's responses change. Those
customers get the Thompson-sampling choice, which may have a negative expected value; their
decision says ``exploring: true`` and why.

Uplift models are stored without pickle as the campaign rows they were trained on
(``uplift-campaign.csv``, checksummed in ``uplift.json``) and refitted when first needed. The
JSON files are written and verified by :mod:`storewise.persist`."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

import numpy as np
import numpy.typing as npt
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from storewise import persist
from storewise.errors import ArtifactError, InputError, NotFound
from storewise.marketing import offers as offer_math
from storewise.marketing.bandit import (
    ThompsonBandit,
    deterministic_policy,
    evaluate_policy,
    fit_reward_model,
)
from storewise.marketing.transactions import require_columns
from storewise.marketing.uplift import (
    UpliftConfig,
    UpliftModel,
    stratified_split,
    uplift_report,
)

if TYPE_CHECKING:
    pass

FloatArray = npt.NDArray[np.float64]

#: The do-nothing offer: the control of campaigns and the choice when no offer pays.
NO_OFFER_ID = "no-offer"
#: Customer features an uplift model may use: computable for every customer with purchases.
CUSTOMER_FEATURES: tuple[str, ...] = ("recency_days", "frequency", "monetary")
_PROPENSITY_DRAWS = 500
_VERSION = 1
#: Share of customers the bandit may explore with (offers whose expected value is not positive).
DEFAULT_EXPLORATION_SHARE = 0.10
#: The largest exploration share that can be set.
MAX_EXPLORATION_SHARE = 0.5


# -- offers ----------------------------------------------------------------------------------------
class CatalogOffer(BaseModel):
    """One offer of the catalog: a stable id, what it costs, and what marketers see."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="stable id, e.g. 10-off")
    name: str = Field(min_length=1, max_length=200, description="shown to marketers")
    discount: float = Field(0.0, ge=0.0, lt=1.0, description="share of order value given away")
    cost_per_order: float = Field(0.0, ge=0.0, description="paid on each order, e.g. shipping")
    cost_per_contact: float = Field(0.0, ge=0.0, description="paid per customer offered")
    description: str = Field("", max_length=1000, description="what the offer is")

    @model_validator(mode="after")
    def _free_baseline(self) -> Self:
        if self.id == NO_OFFER_ID and (
            self.discount or self.cost_per_order or self.cost_per_contact
        ):
            raise ValueError(f"{NO_OFFER_ID!r} is the do-nothing baseline and cannot cost anything")
        return self

    @classmethod
    def parse(cls, data: Any) -> CatalogOffer:
        """Validate one offer from JSON or the CLI; InputError naming every bad field."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'offer'}: {e['msg']}" for e in exc.errors()
            )
            raise InputError(f"invalid offer: {problems}") from None

    def as_offer(self) -> offer_math.Offer:
        """The :class:`~storewise.marketing.offers.Offer` the value computation takes."""
        return offer_math.Offer(
            name=self.id, discount=self.discount, cost_per_order=self.cost_per_order,
            cost_per_contact=self.cost_per_contact, description=self.description,
        )  # fmt: skip


#: The catalog until one is set: nothing, free shipping (a fixed cost per order), 10% off.
DEFAULT_OFFERS: tuple[CatalogOffer, ...] = (
    CatalogOffer(id=NO_OFFER_ID, name="No offer", description="send nothing: the baseline"),
    CatalogOffer(
        id="free-shipping",
        name="Free shipping",
        cost_per_order=4.95,
        description="free shipping on the next order; the shop pays a fixed cost per order",
    ),
    CatalogOffer(
        id="10-percent-off",
        name="10% off",
        discount=0.10,
        description="10% off the next order, paid on every order placed with it",
    ),
)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock across processes (API workers), where the OS supports ``flock``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: the thread lock still applies
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _bandit_reason(
    offer: CatalogOffer | None,
    expected: float,
    segment: str,
    seen: float,
    share: float,
    *,
    exploring: bool,
    best: tuple[str, float],
) -> str:
    """Why the bandit chose what it chose, with the expected value and how much it has learned."""
    learned = f"from {seen:g} responses so far in '{segment}'"
    if exploring:
        what = (
            f"{offer.name}, expected value {expected:.2f} at the current estimate"
            if offer is not None
            else "no offer"
        )
        return (
            f"exploring: this customer is in the {share:.0%} exploration share, where Thompson "
            f"sampling tries offers to learn which pays ({learned}); it chose {what}"
        )
    if offer is not None:
        return f"{offer.name}: expected value {expected:.2f} after its cost, {learned}"
    name, value = best
    return (
        f"no offer: none has a positive expected value yet (best: {name}, {value:.2f}), "
        f"{learned}; {share:.0%} of customers are offered one to learn"
    )


def _check_share(share: float) -> float:
    """The exploration share if it is a number in [0, MAX_EXPLORATION_SHARE]; else InputError."""
    value = float(share)
    if not 0.0 <= value <= MAX_EXPLORATION_SHARE:
        raise InputError(
            f"exploration share must be between 0 and {MAX_EXPLORATION_SHARE}, got {share}"
        )
    return value


def _read_csv(path: Path, what: str) -> pl.DataFrame:
    if not Path(path).is_file():
        raise InputError(f"{what} {path}: no such file")
    try:
        frame = pl.read_csv(path, infer_schema_length=10_000)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} {path} is not a readable CSV: {exc}") from None
    if frame.height == 0:
        raise InputError(f"{what} {path} has no rows")
    return frame


@dataclass(frozen=True)
class _Uplift:
    """Uplift models fitted per offer on all stored campaign rows, with their training record."""

    models: dict[str, UpliftModel]
    info: dict[str, Any]


class OfferBook:
    """The offer catalog, the bandit's state and the uplift models in ``<home>/marketing``.

    Self-contained (a folder in, JSON and CSV files out) so the service only adds customer
    facts; files are written atomically and the bandit under a cross-process lock.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.RLock()
        self._bandit_cache: tuple[int | None, ThompsonBandit] | None = None
        self._uplift_cache: tuple[int, _Uplift] | None = None

    @property
    def _offers_path(self) -> Path:
        return self.folder / "offers.json"

    def _settings(self) -> tuple[list[CatalogOffer], float]:
        """The catalog and the exploration share in ``offers.json`` (defaults until saved)."""
        path = self._offers_path
        if not path.exists():
            return list(DEFAULT_OFFERS), DEFAULT_EXPLORATION_SHARE
        data, _ = persist.load(path, legacy=True)
        try:
            items = data["offers"]
            share = float(data.get("exploration_share", DEFAULT_EXPLORATION_SHARE))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"offer catalog {path} is not valid: {exc}") from None
        return [CatalogOffer.parse(o) for o in items], _check_share(share)

    def catalog(self) -> list[CatalogOffer]:
        """The catalog in ``offers.json``, or :data:`DEFAULT_OFFERS` until one is saved.

        ArtifactError when the file is unreadable or fails its checksum (catalogs saved before
        checksums are read as they are)."""
        return self._settings()[0]

    def exploration_share(self) -> float:
        """Share of customers the bandit may show an offer it is not sure pays (see the module)."""
        return self._settings()[1]

    def set_exploration_share(self, share: float) -> float:
        """Set the exploration share (0 turns exploring off); returns it."""
        value = _check_share(share)
        with self._lock:
            self._save_catalog(self.catalog(), share=value)
        return value

    def _save_catalog(
        self, offers: Sequence[CatalogOffer], *, share: float | None = None
    ) -> list[dict[str, Any]]:
        ids = [o.id for o in offers]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise InputError(f"offer ids must be unique; repeated: {', '.join(duplicates)}")
        if NO_OFFER_ID not in ids:
            offers = [DEFAULT_OFFERS[0], *offers]
        payload = {
            "version": _VERSION,
            "offers": [o.model_dump() for o in offers],
            "exploration_share": self.exploration_share() if share is None else share,
        }
        persist.save(self._offers_path, payload)
        return [o.model_dump() for o in offers]

    def offers(self) -> list[dict[str, Any]]:
        """The offer catalog (the default until set): no-offer, free shipping, 10% off."""
        return [o.model_dump() for o in self.catalog()]

    def set_offer(self, offer: dict[str, Any]) -> list[dict[str, Any]]:
        """Add or replace one offer (by id) in the catalog; returns the catalog."""
        new = CatalogOffer.parse(offer)
        with self._lock:
            current = self.catalog()
            if any(o.id == new.id for o in current):
                return self._save_catalog([new if o.id == new.id else o for o in current])
            return self._save_catalog([*current, new])

    def replace_offers(self, offers: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Replace the whole catalog (``no-offer`` is added when missing); returns it."""
        parsed = [CatalogOffer.parse(o) for o in offers]
        with self._lock:
            return self._save_catalog(parsed)

    def remove_offer(self, offer_id: str) -> list[dict[str, Any]]:
        """Remove an offer from the catalog (NotFound listing the ids when it is not there)."""
        with self._lock:
            current = self.catalog()
            self.require(offer_id, current)
            if offer_id == NO_OFFER_ID:
                raise InputError(f"{NO_OFFER_ID!r} is the baseline and cannot be removed")
            return self._save_catalog([o for o in current if o.id != offer_id])

    def require(self, offer_id: str, catalog: Sequence[CatalogOffer] | None = None) -> CatalogOffer:
        """The offer ``offer_id`` of the catalog; NotFound listing the offer ids otherwise."""
        catalog = self.catalog() if catalog is None else catalog
        for offer in catalog:
            if offer.id == offer_id:
                return offer
        ids = [o.id for o in catalog]
        raise NotFound(
            f"unknown offer {offer_id!r}; offers are: {', '.join(ids)}",
            details={"offer": offer_id, "valid": ids},
        )

    # -- decisions -------------------------------------------------------------------------------
    def decide(
        self,
        ids: Sequence[str],
        features: pl.DataFrame,
        positions: Sequence[int],
        segments: Sequence[str],
        values: FloatArray,
        *,
        propensity: bool = False,
    ) -> list[dict[str, Any]]:
        """Next-best offers of ``ids``: uplift models for the customers at ``positions`` (whose
        ``features`` rows are given, in order) when models exist, the bandit for the others."""
        ids = [str(c) for c in ids]
        catalog, share = self._settings()
        out: list[dict[str, Any] | None] = [None] * len(ids)
        uplift = self._uplift()
        if uplift is not None and positions:
            picks = self._uplift_decide(
                uplift, [ids[k] for k in positions], features, values[list(positions)], catalog
            )
            for k, pick in zip(positions, picks or [], strict=False):
                out[k] = pick
        rest = [k for k, pick in enumerate(out) if pick is None]
        if rest:
            picks = self._bandit_decide(
                [ids[k] for k in rest],
                [segments[k] for k in rest],
                values[rest],
                catalog,
                share=share,
                propensity=propensity,
            )
            for k, pick in zip(rest, picks, strict=True):
                out[k] = pick
        return [pick for pick in out if pick is not None]

    @staticmethod
    def _pick(
        cid: str, offer: CatalogOffer | None, row: dict[str, Any], policy: str, reason: str
    ) -> dict[str, Any]:
        chosen = offer is not None and offer.id != NO_OFFER_ID
        return {
            "customer_id": cid,
            "offer_id": offer.id if offer is not None else NO_OFFER_ID,
            "name": offer.name if offer is not None else "No offer",
            "expected_value": round(float(row["expected_value"]), 4) if chosen else 0.0,
            "uplift": round(float(row["uplift"]), 4) if chosen else 0.0,
            "cost": round(float(row["cost"]), 4) if chosen else 0.0,
            "policy": policy,
            "propensity": 1.0,
            "exploring": False,
            "reason": reason,
        }

    def _uplift_decide(
        self,
        uplift: _Uplift,
        ids: list[str],
        features: pl.DataFrame,
        values: FloatArray,
        catalog: Sequence[CatalogOffer],
    ) -> list[dict[str, Any]] | None:
        usable = [o for o in catalog if o.id in uplift.models]
        if not usable:
            return None
        predictions = {o.id: uplift.models[o.id].predict(features) for o in usable}
        table = offer_math.next_best_offer(
            ids,
            [o.as_offer() for o in usable],
            uplift={k: p.uplift for k, p in predictions.items()},
            baseline={k: np.clip(p.baseline, 0.0, 1.0) for k, p in predictions.items()},
            order_value=values,
        )
        by_id = {o.id: o for o in catalog}
        untried = [o.id for o in catalog if o.id != NO_OFFER_ID and o.id not in uplift.models]
        tail = f" (no campaign data for {', '.join(untried)})" if untried else ""
        out = []
        for row in table.iter_rows(named=True):
            offer = by_id.get(row["offer"]) if row["offer"] != offer_math.NO_OFFER else None
            if offer is None:
                reason = "no offer pays for itself: the predicted uplift does not cover its cost"
            else:
                reason = (
                    f"{offer.name}: predicted +{row['uplift']:.1%} chance to order, worth "
                    f"{row['expected_value']:.2f} after its cost"
                )
            out.append(self._pick(row["customer_id"], offer, row, "uplift model", reason + tail))
        return out

    def _bandit_decide(
        self,
        ids: list[str],
        segments: list[str],
        values: FloatArray,
        catalog: Sequence[CatalogOffer],
        *,
        share: float,
        propensity: bool,
    ) -> list[dict[str, Any]]:
        """Bandit choices (see the module notes): the best positive posterior-mean value, or a
        Thompson draw for customers in the exploration ``share``."""
        paid = [o for o in catalog if o.id != NO_OFFER_ID]
        if not paid:
            reason = "the catalog has no offers besides no-offer"
            return [self._pick(c, None, {}, "catalog", reason) for c in ids]
        bandit = self._bandit(catalog)
        names = list(bandit.offers)
        col = {name: j for j, name in enumerate(names)}
        n = len(ids)
        draws = np.empty((n, len(names)))
        means = np.empty_like(draws)
        seen: list[float] = []
        exploring = np.zeros(n, dtype=bool)
        posteriors: dict[str, tuple[FloatArray, FloatArray]] = {}
        for k, (cid, segment) in enumerate(zip(ids, segments, strict=True)):
            if segment not in posteriors:
                post = bandit.posterior(segment)
                posteriors[segment] = (
                    np.array([post[n][0] for n in names]),
                    np.array([post[n][1] for n in names]),
                )
            alpha, beta = posteriors[segment]
            n_seen = float((alpha + beta).sum()) - len(names) * (
                bandit.prior_alpha + bandit.prior_beta
            )
            seen.append(n_seen)
            # Who explores is drawn afresh whenever the segment's responses change.
            key = f"{bandit.seed}|{segment}|{n_seen:g}|{cid}"
            exploring[k] = _digest(f"explore|{key}") / 2.0**64 < share
            rng = np.random.default_rng(_digest(key))
            draws[k] = rng.beta(alpha, beta)
            means[k] = alpha / (alpha + beta)
        # One value computation for every row needed: each customer's Thompson draw, their
        # posterior means (the value reported) and, for the propensity of an exploring
        # customer's random choice, draws from the posterior.
        blocks = [draws, means]
        sampled = [k for k in range(n) if exploring[k]] if propensity else []
        for k in sampled:
            rng = np.random.default_rng(_digest(f"propensity|{ids[k]}|{seen[k]:g}"))
            alpha, beta = posteriors[segments[k]]
            blocks.append(rng.beta(alpha, beta, size=(_PROPENSITY_DRAWS, len(names))))
        theta = np.vstack(blocks)
        row_values = np.concatenate(
            [values, values, *(np.repeat(values[k], _PROPENSITY_DRAWS) for k in sampled)]
        )
        base = theta[:, col[NO_OFFER_ID]]
        long = offer_math.offer_values(
            [str(r) for r in range(theta.shape[0])],
            [o.as_offer() for o in paid],
            uplift={o.id: theta[:, col[o.id]] - base for o in paid},
            baseline=base,
            order_value=row_values,
        )
        value = long.get_column("expected_value").to_numpy().reshape(len(paid), -1)
        # As offers.next_best_offer: the best positive value, ties to the offer listed first.
        best = np.where(value.max(axis=0) > 0, np.argmax(value, axis=0), -1)
        uplift = long.get_column("uplift").to_numpy().reshape(len(paid), -1)
        cost = long.get_column("cost").to_numpy().reshape(len(paid), -1)
        lows = {k: 2 * n + i * _PROPENSITY_DRAWS for i, k in enumerate(sampled)}
        out = []
        for k, cid in enumerate(ids):
            m = n + k  # the posterior-mean row of this customer
            # Exploring customers get the Thompson draw's choice; everyone else the best offer
            # at the posterior mean, which never has a negative expected value.
            j = int(best[k] if exploring[k] else best[m])
            offer = paid[j] if j >= 0 else None
            row = {}
            if offer is not None:
                row = {"expected_value": value[j, m], "uplift": uplift[j, m], "cost": cost[j, m]}
            pick = self._pick(cid, offer, row, "bandit", "")
            pick["exploring"] = bool(exploring[k])
            top = int(np.argmax(value[:, m]))
            pick["reason"] = _bandit_reason(
                offer, pick["expected_value"], segments[k], seen[k], share,
                exploring=bool(exploring[k]), best=(paid[top].name, float(value[top, m])),
            )  # fmt: skip
            if exploring[k]:
                pick["propensity"] = None  # a random choice: estimated on request
                if k in lows:
                    sample = best[lows[k] : lows[k] + _PROPENSITY_DRAWS]
                    pick["propensity"] = round(float(np.mean(sample == j)), 4)
            out.append(pick)
        return out

    # -- bandit state ----------------------------------------------------------------------------
    @property
    def _bandit_path(self) -> Path:
        return self.folder / "bandit.json"

    def _load_bandit(self, catalog: Sequence[CatalogOffer]) -> tuple[ThompsonBandit, bool]:
        """The saved bandit, or a fresh one (True) when none is saved or the offers changed."""
        ids = [o.id for o in catalog]
        path = self._bandit_path
        if path.exists():
            state, _ = persist.load(path, legacy=True)  # states saved before checksums: as is
            bandit = ThompsonBandit.from_json(json.dumps(state))
            if list(bandit.offers) == ids:
                return bandit, False
        return ThompsonBandit(ids, seed=0, per_segment=True), True

    def _bandit(self, catalog: Sequence[CatalogOffer]) -> ThompsonBandit:
        path = self._bandit_path
        stamp = path.stat().st_mtime_ns if path.exists() else None
        cached = self._bandit_cache
        if (
            cached is not None
            and cached[0] == stamp
            and list(cached[1].offers) == [o.id for o in catalog]
        ):
            return cached[1]
        bandit, _ = self._load_bandit(catalog)
        self._bandit_cache = (stamp, bandit)
        return bandit

    def record(self, offer_id: str, segment: str, converted: bool) -> dict[str, Any]:
        """Teach the bandit one outcome of showing an offer to a customer of ``segment``.

        Unknown offer: NotFound listing the catalog. The state is read, updated and written
        under a file lock, so concurrent API workers never lose a response. Changing the
        catalog's offers restarts learning (the old state is kept as ``bandit-previous.json``).
        """
        catalog = self.catalog()
        self.require(offer_id, catalog)
        if len(catalog) < 2:
            raise InputError("the catalog has no offers besides no-offer to learn about")
        with self._lock, _file_lock(self.folder / ".bandit.lock"):
            path = self._bandit_path
            bandit, fresh = self._load_bandit(catalog)
            if fresh and path.exists():
                os.replace(path, path.with_name("bandit-previous.json"))
            bandit.update(offer_id, 1.0 if converted else 0.0, segment=segment)
            persist.save(path, json.loads(bandit.to_json()), indent=None)
            self._bandit_cache = None
        posterior = bandit.posterior(segment)
        prior = (bandit.prior_alpha, bandit.prior_beta)
        return {
            "offer_id": offer_id,
            "segment": segment,
            "converted": bool(converted),
            "posterior": {
                name: {
                    "responses": round(a + b - prior[0] - prior[1], 6),
                    "conversions": round(a - prior[0], 6),
                    "rate": round(a / (a + b), 4),
                }
                for name, (a, b) in posterior.items()
            },
        }

    # -- uplift models from campaign history -----------------------------------------------------
    @property
    def _uplift_paths(self) -> tuple[Path, Path]:
        return self.folder / "uplift.json", self.folder / "uplift-campaign.csv"

    def model_info(self) -> dict[str, Any] | None:
        """What the stored uplift models were trained on and how they scored, or None."""
        spec, _ = self._uplift_paths
        if not spec.exists():
            return None
        info, _ = persist.load(spec, legacy=True)  # trained before checksums: read as is
        return info

    def _uplift(self) -> _Uplift | None:
        spec, data = self._uplift_paths
        if not spec.exists():
            return None
        stamp = spec.stat().st_mtime_ns
        cached = self._uplift_cache
        if cached is not None and cached[0] == stamp:
            return cached[1]
        with self._lock:
            info = self.model_info() or {}
            if not data.exists() or persist.sha256_file(data) != info.get("sha256"):
                raise ArtifactError(
                    f"{data} is missing or changed since training; run `storewise offers "
                    "train` again"
                )
            rows = pl.read_csv(data, infer_schema_length=None)
            config = UpliftConfig(learner=info["learner"], base=info["base"])
            models = {
                arm: UpliftModel(config).fit(
                    rows,
                    features=info["features"],
                    treatment="offer",
                    arm=arm,
                    control=NO_OFFER_ID,
                    outcome="outcome",
                )
                for arm in info["arms"]
            }
            trained = _Uplift(models, info)
            self._uplift_cache = (stamp, trained)
            return trained

    def train(
        self,
        campaign: Path,
        *,
        current: pl.DataFrame | None = None,
        treatment: str,
        outcome: str,
        control: str = NO_OFFER_ID,
        arms: dict[str, str] | None = None,
        rename: dict[str, str] | None = None,
        features: Sequence[str] | None = None,
        learner: Literal["t", "x"] = "t",
        base: Literal["linear", "hgb"] = "linear",
        test_size: float = 0.3,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Learn each offer's uplift over no offer from a past campaign with a control group.

        The CSV has a ``treatment`` column (``control`` = no offer; other values are offer ids,
        or mapped to them with ``arms``), a 0/1 ``outcome`` (ordered or not) and customer
        features among :data:`CUSTOMER_FEATURES` (``rename`` maps file columns to them). Missing
        features are taken from the store by ``customer_id`` (current values, not as of the
        campaign: noted in the report). Each arm is scored on a held-out ``test_size`` share
        (Qini, uplift in the top 30% vs the average effect), then refitted on all rows when
        serving; the rows are saved with a checksum.
        """
        frame = _read_csv(campaign, "campaign file")
        if rename:
            missing = [c for c in rename if c not in frame.columns]
            if missing:
                raise InputError(f"--map names column(s) {missing} the campaign file lacks")
            frame = frame.rename(rename)
        require_columns(frame, (treatment, outcome), what=f"campaign file {campaign}")
        catalog = self.catalog()
        ids = [o.id for o in catalog]
        mapping = {str(control): NO_OFFER_ID, **(arms or {})}
        for target in (arms or {}).values():
            self.require(target, catalog)
        offer = frame.get_column(treatment).cast(pl.Utf8).replace(mapping)
        unknown = sorted(set(offer.drop_nulls().unique().to_list()) - set(ids))
        if unknown or offer.null_count():
            raise InputError(
                f"treatment values {unknown or ['(empty)']} are not offers of the catalog "
                f"({', '.join(ids)}); map them with --arm VALUE=OFFER_ID or add the offers"
            )
        if NO_OFFER_ID not in set(offer.to_list()):
            raise InputError(f"no control rows: no {treatment} equal to {control!r}")
        y = frame.get_column(outcome)
        if (
            not (y.dtype.is_numeric() or y.dtype == pl.Boolean)
            or not set(y.cast(pl.Float64).drop_nulls().unique().to_list()) <= {0.0, 1.0}
            or y.null_count()
        ):
            raise InputError(f"outcome {outcome!r} must be 0/1 (ordered or not) on every row")
        wanted = (
            list(features) if features else [f for f in CUSTOMER_FEATURES if f in frame.columns]
        )
        wanted = wanted or list(CUSTOMER_FEATURES)
        bad = [f for f in wanted if f not in CUSTOMER_FEATURES]
        if bad:
            raise InputError(
                f"features {bad} cannot be computed for store customers; use "
                f"{', '.join(CUSTOMER_FEATURES)} (rename file columns with --map)"
            )
        notes: list[str] = []
        lacking = [f for f in wanted if f not in frame.columns]
        if lacking:
            if "customer_id" not in frame.columns or current is None:
                raise InputError(
                    f"the campaign file lacks feature(s) {lacking} and has no customer_id to "
                    "look them up in the store"
                )
            frame = frame.with_columns(pl.col("customer_id").cast(pl.Utf8)).join(
                current.select("customer_id", *lacking), on="customer_id", how="left"
            )
            notes.append(f"features {lacking} taken from the store's current data")
        data = frame.select(
            *(pl.col(f).cast(pl.Float64) for f in wanted),
            offer.alias("offer"),
            y.cast(pl.Float64).alias("outcome"),
        )
        arms_found = sorted(set(data.get_column("offer").to_list()) - {NO_OFFER_ID})
        if not arms_found:
            raise InputError("the campaign has only control rows: no offer to learn about")
        config = UpliftConfig(learner=learner, base=base, seed=seed)
        train, test = stratified_split(
            data, stratify=["offer", "outcome"], test_size=test_size, seed=seed
        )
        report: dict[str, Any] = {}
        for arm in arms_found:
            model = UpliftModel(config).fit(
                train, features=wanted, treatment="offer", arm=arm, control=NO_OFFER_ID,
                outcome="outcome",
            )  # fmt: skip
            scored = uplift_report(model, test, treatment="offer", control=NO_OFFER_ID,
                                   outcome="outcome", k=0.3)  # fmt: skip
            report[arm] = {
                "rows": int(data.filter(pl.col("offer") == arm).height),
                "ate": round(scored.ate, 6),
                "uplift_at_30pct": round(scored.uplift_at_k, 6),
                "qini_coefficient": round(scored.qini.qini_coefficient, 6),
                "beats_random": scored.beats_random,
            }
        spec, saved = self._uplift_paths
        with self._lock:
            persist.write_atomic(saved, data.write_csv())
            info = {
                "version": _VERSION,
                "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "source": str(campaign),
                "rows": data.height,
                "control_rows": int(data.filter(pl.col("offer") == NO_OFFER_ID).height),
                "features": wanted,
                "arms": arms_found,
                "learner": learner,
                "base": base,
                "test_size": test_size,
                "sha256": persist.sha256_file(saved),
                "report": report,
                "notes": notes,
            }
            persist.save(spec, info)
            self._uplift_cache = None
        return info

    def evaluate(
        self,
        log: Path,
        decide: Callable[[list[str]], list[dict[str, Any]]],
        *,
        action: str,
        reward: str,
        propensity: str,
        customer: str = "customer_id",
        policy_column: str | None = None,
        features: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Off-policy value (IPS, SNIPS, doubly robust) of a policy on logged offer decisions.

        The log has the offer shown (``action``, catalog ids), the ``reward`` and the logging
        policy's ``propensity`` of that offer. The policy evaluated is ``policy_column`` of the
        file when given, else ``decide(customer_ids)`` (the service's current choice for each
        logged customer). With ``features`` (numeric columns) DR uses a cross-fitted reward
        model, else the mean reward of each offer.
        """
        frame = _read_csv(log, "logged decisions")
        who = policy_column or customer
        require_columns(frame, (action, reward, propensity, who, *features), what=f"log {log}")
        names = [o.id for o in self.catalog()]
        actions = frame.get_column(action).cast(pl.Utf8).to_list()
        rewards = frame.get_column(reward).cast(pl.Float64).to_numpy()
        logged_p = frame.get_column(propensity).cast(pl.Float64).to_numpy()
        if policy_column is not None:
            chosen = frame.get_column(policy_column).cast(pl.Utf8).to_list()
            label = f"column {policy_column!r}"
        else:
            picks = decide(frame.get_column(customer).cast(pl.Utf8).to_list())
            chosen = [p["offer_id"] for p in picks]
            label = "current policy (" + ", ".join(sorted({p["policy"] for p in picks})) + ")"
        estimates = None
        if features:
            x = frame.select(pl.col(f).cast(pl.Float64) for f in features).to_numpy()
            estimates = fit_reward_model(x, actions, rewards, names)
        value = evaluate_policy(
            actions, rewards, logged_p, deterministic_policy(chosen, names), names,
            reward_estimates=estimates,
        )  # fmt: skip
        return {
            "policy": label,
            "n": value.n,
            "ips": value.ips,
            "snips": value.snips,
            "dr": value.dr,
            "logged_value": value.logged_value,
            "effective_sample_size": value.effective_sample_size,
            "max_weight": value.max_weight,
            "target_actions": dict(Counter(chosen).most_common()),
        }


# -- the analysis cache ----------------------------------------------------------------------------
