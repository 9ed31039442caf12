"""What an experiment is: a placement, two or more variants with a traffic split, a primary
metric and guardrails; and how a unit (a customer or a guest) is assigned to a variant.

Assignment hashes the experiment's salt with the unit id, so every worker and every restart
gives the same unit the same variant without asking anyone (the assignment table then keeps it
sticky, and carries a guest's variant over to their account at login).

>>> plan = Experiment.create(
...     "ease-vs-blend", placement="for-you",
...     variants=[Variant(name="control"), Variant(name="ease", model="ease")],
...     salt="s1", at_ms=0,
... )
>>> plan.variant_for("customer-17").name in {"control", "ease"}
True
>>> plan.variant_for("customer-17") == plan.variant_for("customer-17")
True
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from storewise.errors import InputError
from storewise.recommend.rules import RuleSet, under

#: Where an experiment can run: the personal lists, the item lists, guests and email picks.
PLACEMENTS = ("for-you", "buy-again", "similar", "bought-together", "trending", "guest", "email")
#: Placements whose answer comes from a personal model, so a variant may name another model.
MODEL_PLACEMENTS = ("for-you", "guest", "email")
#: Per-unit metrics an experiment reports (see :mod:`storewise.experiments.attribution`).
METRICS = (
    "revenue",
    "orders",
    "converted",
    "clicked",
    "clicks",
    "attributed_orders",
    "attributed_revenue",
)
STATUSES = ("draft", "running", "stopped")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
#: Weights must add up to 1 within this much (a split is a plan, written by a person).
SPLIT_TOLERANCE = 1e-6


class Variant(BaseModel):
    """One arm: a name, its share of traffic, and what it serves: a kept bundle version
    (``version``; none = the published one), a model of that bundle (``model``; none = the
    trained choice) and rules over the placement's own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    weight: float | None = Field(default=None, gt=0, le=1)
    model: str | None = None
    #: A kept model bundle version to serve instead of the published one (none: published).
    version: str | None = None
    rules: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(
                f"variant name {value!r} must be 1-64 lowercase letters, digits, '.', '_' or '-'"
            )
        return value

    @field_validator("rules")
    @classmethod
    def _rules(cls, value: dict[str, Any]) -> dict[str, Any]:
        RuleSet(**value)  # a wrong field or value is refused now, not on first traffic
        return value

    def rule_set(self) -> RuleSet:
        """The variant's rules as a rule set (empty: the placement's defaults)."""
        return RuleSet(**self.rules)

    def under(self, rules: RuleSet | None) -> RuleSet:
        """A request's rules over this variant's (the request's own parameters win)."""
        return under(self.rule_set(), rules)


class Plan(BaseModel):
    """How the experiment is judged: a primary metric, guardrail metrics, the window after an
    exposure within which orders count, and the daily-peeking (sequential) interval."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    primary_metric: Literal[
        "revenue",
        "orders",
        "converted",
        "clicked",
        "clicks",
        "attributed_orders",
        "attributed_revenue",
    ] = "revenue"
    guardrails: tuple[str, ...] = ("orders", "converted")
    window_days: int = Field(default=7, ge=1, le=90)
    control: str = "control"

    @field_validator("guardrails")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [m for m in value if m not in METRICS]
        if unknown:
            raise ValueError(f"unknown guardrail metric(s) {unknown}; choose from {METRICS}")
        return value


class Experiment(BaseModel):
    """An experiment as stored: identity, placement, variants, plan and lifecycle times."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    experiment_id: str
    name: str
    placement: str
    status: Literal["draft", "running", "stopped"] = "draft"
    #: ``ab``: each unit sees one variant; ``interleave``: every list interleaves the control
    #: and one challenger by team draft, and clicks say which ranker shoppers prefer.
    method: Literal["ab", "interleave"] = "ab"
    salt: str
    variants: tuple[Variant, ...]
    plan: Plan = Plan()
    created_at: int
    started_at: int | None = None
    stopped_at: int | None = None

    @classmethod
    def create(
        cls,
        experiment_id: str,
        *,
        placement: str,
        variants: Sequence[Variant | Mapping[str, Any]],
        at_ms: int,
        name: str | None = None,
        plan: Plan | None = None,
        salt: str | None = None,
        method: str = "ab",
    ) -> Experiment:
        """A new draft experiment, checked: InputError saying what is wrong (variants may be
        given as mappings of their fields)."""
        try:
            return cls(
                experiment_id=experiment_id,
                name=name or experiment_id,
                placement=placement,
                salt=salt or secrets.token_hex(8),
                variants=tuple(v if isinstance(v, Variant) else Variant(**v) for v in variants),
                plan=plan or Plan(),
                method=method,
                created_at=at_ms,
            )
        except ValidationError as exc:
            raise InputError(f"experiment {experiment_id!r}: {_first_error(exc)}") from exc

    @model_validator(mode="after")
    def _whole(self) -> Experiment:
        """Check the whole: id, placement, variant names, the split and the control."""
        if not _SLUG.match(self.experiment_id):
            raise ValueError(
                f"experiment id {self.experiment_id!r} must be 1-64 lowercase letters, digits, "
                "'.', '_' or '-'"
            )
        if self.placement not in PLACEMENTS:
            raise ValueError(
                f"unknown placement {self.placement!r}; choose from {', '.join(PLACEMENTS)}"
            )
        names = [v.name for v in self.variants]
        if len(names) < 2:
            raise ValueError("an experiment needs at least two variants")
        if len(set(names)) != len(names):
            raise ValueError(f"variant names repeat: {names}")
        if self.plan.control not in names:
            raise ValueError(
                f"the control variant {self.plan.control!r} is not among the variants {names}"
            )
        if self.method == "interleave" and len(names) != 2:
            raise ValueError("an interleaving experiment compares exactly two variants")
        given = [v.weight for v in self.variants if v.weight is not None]
        if given and len(given) != len(names):
            raise ValueError("give every variant a weight, or none (an equal split)")
        if given and abs(sum(given) - 1.0) > SPLIT_TOLERANCE:
            raise ValueError(f"the variant weights add up to {sum(given):g}, not 1")
        if self.placement not in MODEL_PLACEMENTS:
            with_model = [v.name for v in self.variants if v.model]
            if with_model:
                raise ValueError(
                    f"variants {with_model} name a model, but {self.placement!r} lists come "
                    f"from a fixed model; models can vary in {', '.join(MODEL_PLACEMENTS)}"
                )
        return self

    @property
    def weights(self) -> list[float]:
        """Each variant's planned share, in variant order (equal when none was given)."""
        if all(v.weight is None for v in self.variants):
            return [1.0 / len(self.variants)] * len(self.variants)
        return [float(v.weight or 0.0) for v in self.variants]

    def variant(self, name: str) -> Variant:
        """The variant called ``name``."""
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise InputError(f"experiment {self.experiment_id!r} has no variant {name!r}")

    def variant_for(self, unit_id: str) -> Variant:
        """The variant a unit falls into by hashing (before any sticky assignment)."""
        point = bucket(self.salt, unit_id)
        edge = 0.0
        for variant, weight in zip(self.variants, self.weights, strict=True):
            edge += weight
            if point < edge:
                return variant
        return self.variants[-1]

    def to_row(self) -> dict[str, Any]:
        """The stored form (``experiments`` table)."""
        return {
            "experiment_id": self.experiment_id,
            "name": self.name,
            "placement": self.placement,
            "status": self.status,
            "salt": self.salt,
            "method": self.method,
            "variants": [v.model_dump() for v in self.variants],
            "plan": self.plan.model_dump(mode="json"),
            "created_at": self.created_at,
            "started_at": self.started_at,
            "stopped_at": self.stopped_at,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Experiment:
        """Back from the stored form."""
        return cls(**{**row, "variants": tuple(Variant(**v) for v in row["variants"])})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (no salt: it is what keeps assignment unpredictable)."""
        row = self.to_row()
        row.pop("salt")
        row["split"] = dict(zip((v.name for v in self.variants), self.weights, strict=True))
        return row


def bucket(salt: str, unit_id: str) -> float:
    """A unit's point in [0, 1) for one experiment: SHA-256 of ``salt:unit``, uniform and
    independent between experiments with different salts.

    >>> bucket("s", "u") == bucket("s", "u")
    True
    >>> 0 <= bucket("s", "u") < 1
    True
    """
    digest = hashlib.sha256(f"{salt}:{unit_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error.get("loc", ()))
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
