"""The store's side of online experiments and attribution: experiment definitions, sticky
assignments, the exposure log (every list served) and feedback on served lists.

These writes do not raise the store's change sequence: exposures arrive with every answer, and
caches keyed on the sequence (marketing's analysis) must not go stale because lists were shown.

>>> from storewise.store import SqlStore
>>> tables = SqlStore.open("sqlite://").experiment_tables()
>>> tables.assign("e1", "guest-1", "b", at_ms=5)
'b'
>>> tables.assign("e1", "guest-1", "a", at_ms=9)  # sticky: the first assignment stays
'b'
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from storewise.store.tables import (
    events,
    experiment_assignments,
    experiments,
    exposures,
    identities,
    rec_feedback,
)

IN_CHUNK = 500

EXPOSURE_SCHEMA: dict[str, Any] = {
    "recommendation_id": pl.String,
    "at": pl.Int64,
    "placement": pl.String,
    "unit_id": pl.String,
    "model": pl.String,
    "model_version": pl.String,
    "experiment_id": pl.String,
    "variant": pl.String,
    "items": pl.List(pl.String),
    "teams": pl.List(pl.Int64),
    "propensities": pl.List(pl.Float64),
}
FEEDBACK_SCHEMA: dict[str, Any] = {
    "recommendation_id": pl.String,
    "kind": pl.String,
    "item_id": pl.String,
    "at": pl.Int64,
}
OUTCOME_SCHEMA: dict[str, Any] = {
    "customer_id": pl.String,
    "anonymous_id": pl.String,
    "item_id": pl.String,
    "event_type": pl.String,
    "quantity": pl.Float64,
    "price": pl.Float64,
    "value": pl.Float64,
    "order_id": pl.String,
    "ts": pl.Int64,
}
ASSIGNMENT_SCHEMA: dict[str, Any] = {
    "unit_id": pl.String,
    "variant": pl.String,
    "first_at": pl.Int64,
    "carried_from": pl.String,
}


def _items(value: Any) -> list[str]:
    if isinstance(value, str):
        value = json.loads(value)
    return [str(v) for v in value or ()]


def _numbers(value: Any) -> list[Any] | None:
    if isinstance(value, str):
        value = json.loads(value)
    return list(value) if value is not None else None


class ExperimentTables:
    """Experiments, assignments, exposures and feedback in one store (both dialects)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    def _insert_ignore(self, table: sa.Table) -> Any:
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        return dialect.insert(table).on_conflict_do_nothing()

    # -- definitions -------------------------------------------------------------------------
    def save(self, row: Mapping[str, Any]) -> None:
        """Insert an experiment, or replace the stored row with the same id."""
        with self.engine.begin() as conn:
            conn.execute(
                experiments.delete().where(experiments.c.experiment_id == row["experiment_id"])
            )
            conn.execute(experiments.insert().values(**row))

    def get(self, experiment_id: str) -> dict[str, Any] | None:
        """One experiment's stored row, or None."""
        query = sa.select(experiments).where(experiments.c.experiment_id == experiment_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return dict(row) if row is not None else None

    def all(self, *, status: str | None = None) -> list[dict[str, Any]]:
        """Every experiment (newest first), or those with one status."""
        query = sa.select(experiments).order_by(
            experiments.c.created_at.desc(), experiments.c.experiment_id
        )
        if status is not None:
            query = query.where(experiments.c.status == status)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    # -- assignments -------------------------------------------------------------------------
    def assign(
        self,
        experiment_id: str,
        unit_id: str,
        variant: str,
        *,
        at_ms: int,
        carried_from: str | None = None,
    ) -> str:
        """Record a unit's variant unless it has one already; returns the variant it keeps."""
        with self.engine.begin() as conn:
            conn.execute(
                self._insert_ignore(experiment_assignments),
                {
                    "experiment_id": experiment_id,
                    "unit_id": unit_id,
                    "variant": variant,
                    "first_at": int(at_ms),
                    "carried_from": carried_from,
                },
            )
            kept = conn.execute(
                sa.select(experiment_assignments.c.variant).where(
                    experiment_assignments.c.experiment_id == experiment_id,
                    experiment_assignments.c.unit_id == unit_id,
                )
            ).scalar_one()
        return str(kept)

    def assignment_of(self, experiment_id: str, customer_id: str) -> tuple[str, str] | None:
        """The (unit, variant) already assigned to a customer, or else to the earliest of the
        guest ids linked to them that has one (so a guest keeps their variant at login)."""
        a = experiment_assignments
        query = (
            sa.select(a.c.unit_id, a.c.variant)
            .select_from(a.outerjoin(identities, identities.c.anonymous_id == a.c.unit_id))
            .where(
                a.c.experiment_id == experiment_id,
                sa.or_(a.c.unit_id == customer_id, identities.c.customer_id == customer_id),
            )
            .order_by((a.c.unit_id != customer_id), a.c.first_at, a.c.unit_id)
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return (str(row[0]), str(row[1])) if row is not None else None

    def assignments(self, experiment_id: str) -> pl.DataFrame:
        """Every unit of an experiment with its variant and first exposure time."""
        a = experiment_assignments
        query = sa.select(a.c.unit_id, a.c.variant, a.c.first_at, a.c.carried_from).where(
            a.c.experiment_id == experiment_id
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return pl.DataFrame([tuple(r) for r in rows], schema=ASSIGNMENT_SCHEMA, orient="row")

    def customers_of(self, unit_ids: Sequence[str]) -> dict[str, str]:
        """The customer each guest id among ``unit_ids`` is linked to (unlinked ids absent)."""
        found: dict[str, str] = {}
        ids = list(dict.fromkeys(unit_ids))
        with self.engine.connect() as conn:
            for start in range(0, len(ids), IN_CHUNK):
                part = ids[start : start + IN_CHUNK]
                rows = conn.execute(
                    sa.select(identities.c.anonymous_id, identities.c.customer_id).where(
                        identities.c.anonymous_id.in_(part)
                    )
                )
                found.update({str(a): str(c) for a, c in rows})
        return found

    # -- exposure log and feedback ------------------------------------------------------------
    def add_exposures(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Store served lists (a recommendation id already stored is skipped); returns how
        many were new."""
        if not rows:
            return 0
        with self.engine.begin() as conn:
            result = conn.execute(self._insert_ignore(exposures), [dict(r) for r in rows])
        return max(int(result.rowcount), 0)

    def add_feedback(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Store impressions and clicks (a feedback id already stored is skipped, so a retried
        report counts once); returns how many were new."""
        if not rows:
            return 0
        with self.engine.begin() as conn:
            result = conn.execute(self._insert_ignore(rec_feedback), [dict(r) for r in rows])
        return max(int(result.rowcount), 0)

    def known_recommendations(self, recommendation_ids: Iterable[str]) -> set[str]:
        """Those of ``recommendation_ids`` that name a served list."""
        ids = list(dict.fromkeys(recommendation_ids))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(ids), IN_CHUNK):
                part = ids[start : start + IN_CHUNK]
                query = sa.select(exposures.c.recommendation_id).where(
                    exposures.c.recommendation_id.in_(part)
                )
                found.update(str(r) for (r,) in conn.execute(query))
        return found

    def exposures(
        self,
        *,
        since_ms: int | None = None,
        until_ms: int | None = None,
        experiment_id: str | None = None,
    ) -> pl.DataFrame:
        """Served lists in a time range (and of one experiment), oldest first."""
        query = sa.select(*(exposures.c[name] for name in EXPOSURE_SCHEMA)).order_by(exposures.c.at)
        if since_ms is not None:
            query = query.where(exposures.c.at >= since_ms)
        if until_ms is not None:
            query = query.where(exposures.c.at <= until_ms)
        if experiment_id is not None:
            query = query.where(exposures.c.experiment_id == experiment_id)
        with self.engine.connect() as conn:
            rows = [
                (*r[:-3], _items(r[-3]), _numbers(r[-2]), _numbers(r[-1]))
                for r in conn.execute(query)
            ]
        return pl.DataFrame(rows, schema=EXPOSURE_SCHEMA, orient="row")

    def feedback(self, *, since_ms: int | None = None) -> pl.DataFrame:
        """Impressions and clicks at or after ``since_ms``."""
        query = sa.select(*(rec_feedback.c[name] for name in FEEDBACK_SCHEMA))
        if since_ms is not None:
            query = query.where(rec_feedback.c.at >= since_ms)
        with self.engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(query)]
        return pl.DataFrame(rows, schema=FEEDBACK_SCHEMA, orient="row")

    def outcomes(self, *, since_ms: int, until_ms: int | None = None) -> pl.DataFrame:
        """Purchases and add-to-carts in a time range: what attribution looks for."""
        columns = [events.c[name] for name in OUTCOME_SCHEMA]
        query = sa.select(*columns).where(
            events.c.event_type.in_(("purchase", "add_to_cart")), events.c.ts >= since_ms
        )
        if until_ms is not None:
            query = query.where(events.c.ts <= until_ms)
        with self.engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(query)]
        return pl.DataFrame(rows, schema=OUTCOME_SCHEMA, orient="row")

    def spend_before(
        self, units: Mapping[str, int], *, days: int, day_ms: int
    ) -> dict[str, tuple[float, int]]:
        """Each unit's (purchase value, purchase count) in the ``days`` before its first
        exposure (``units``: unit id -> first exposure ms): the pre-period for CUPED."""
        if not units:
            return {}
        earliest = min(units.values()) - days * day_ms
        latest = max(units.values())
        query = sa.select(
            events.c.customer_id, events.c.anonymous_id, events.c.value, events.c.ts
        ).where(events.c.event_type == "purchase", events.c.ts >= earliest, events.c.ts < latest)
        totals: dict[str, tuple[float, int]] = {}
        with self.engine.connect() as conn:
            for customer, anonymous, value, ts in conn.execute(query):
                for unit in (customer, anonymous):
                    first = units.get(unit) if unit else None
                    if first is not None and first - days * day_ms <= ts < first:
                        spent, count = totals.get(unit, (0.0, 0))
                        totals[unit] = (spent + float(value or 0.0), count + 1)
        return totals

    # -- erasure -------------------------------------------------------------------------------
    def erase_units(self, conn: sa.Connection, unit_ids: Sequence[str]) -> dict[str, int]:
        """Delete the assignments, served lists and feedback of these units (a customer and
        their guest ids) inside the caller's transaction; returns rows removed per table."""
        removed = {"experiment_assignments": 0, "exposures": 0, "rec_feedback": 0}
        ids = list(dict.fromkeys(unit_ids))
        for start in range(0, len(ids), IN_CHUNK):
            part = ids[start : start + IN_CHUNK]
            served = sa.select(exposures.c.recommendation_id).where(exposures.c.unit_id.in_(part))
            res = conn.execute(
                rec_feedback.delete().where(rec_feedback.c.recommendation_id.in_(served))
            )
            removed["rec_feedback"] += int(res.rowcount)
            res = conn.execute(exposures.delete().where(exposures.c.unit_id.in_(part)))
            removed["exposures"] += int(res.rowcount)
            res = conn.execute(
                experiment_assignments.delete().where(
                    sa.or_(
                        experiment_assignments.c.unit_id.in_(part),
                        experiment_assignments.c.carried_from.in_(part),
                    )
                )
            )
            removed["experiment_assignments"] += int(res.rowcount)
        return removed
