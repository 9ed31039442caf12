"""The one consent policy: which customers a use of their data may include.

Every path that uses a customer's data asks this object, never the consent table directly:
collection (ingest), training (the dataset snapshot), serving (personal answers), analyses
(RFM, CLV), campaign audiences and their exports, and the support assistant's card.

**The rule for a customer without a record.** Each purpose is either *opt-out* or *opt-in*:

- ``personalization`` and ``analytics`` are opt-out: using a customer's own shopping to
  serve them and to understand the shop is part of running it, so a customer who never
  decided is included, and a recorded withdrawal excludes them;
- ``marketing`` is opt-in: contacting a customer needs an explicit, recorded grant (as
  e-mail law asks), so a customer who never decided is left out.

The latest recorded decision per customer and purpose always wins over the default.

**At collection** (:meth:`ConsentPolicy.collection_rule`, applied by the store to every event
written): behavioural events (views, carts, searches, ratings) of a customer whom the rule
does not allow ``analytics`` are stored *without identity* (customer and session ids removed,
the anonymous id replaced by a one-off ``~<event id>``, so no row links to the person, their
device or another row), so shop-wide counts stay right and nothing about the person is kept; their
purchases and returns are kept with identity (orders are records of a contract, not
tracking), and every analysis still leaves them out. Each such row is counted in the ingest
report. Events of an erased customer are refused (the store's suppression list).

>>> import polars as pl
>>> policy = ConsentPolicy()
>>> policy.allows({}, "personalization"), policy.allows({}, "marketing")
(True, False)
>>> consents = pl.DataFrame({"customer_id": ["a", "b"], "purpose": ["marketing"] * 2,
...                          "granted": [True, False]})
>>> sorted(policy.allowed_ids(["a", "b", "c"], consents, "marketing"))
['a']
>>> sorted(policy.allowed_ids(["a", "b", "c"], consents, "analytics"))
['a', 'b', 'c']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import polars as pl

from storewise.errors import InputError
from storewise.schema import PURPOSES
from storewise.store.base import CollectionRule

#: Purposes a customer is included in until they withdraw (the others need a recorded grant).
OPT_OUT: frozenset[str] = frozenset({"personalization", "analytics"})
#: Event types that are tracking (need analytics consent to keep their identity).
BEHAVIOURAL: frozenset[str] = frozenset(
    {"view", "add_to_cart", "remove_from_cart", "search", "rating"}
)


def _defaults() -> Mapping[str, bool]:
    return MappingProxyType({p: p in OPT_OUT for p in PURPOSES})


@dataclass(frozen=True)
class ConsentPolicy:
    """Answers "may this customer's data be used for this purpose?" by the module's rule."""

    defaults: Mapping[str, bool] = field(default_factory=_defaults)

    def collection_rule(self) -> CollectionRule:
        """What the store applies to arriving events (see the module notes)."""
        return CollectionRule("analytics", self.default("analytics"), BEHAVIOURAL)

    def default(self, purpose: str) -> bool:
        """What a customer without a record for ``purpose`` gets."""
        try:
            return self.defaults[purpose]
        except KeyError:
            raise InputError(
                f"unknown consent purpose {purpose!r}; use {', '.join(PURPOSES)}"
            ) from None

    def allows(self, decisions: Mapping[str, bool | None], purpose: str) -> bool:
        """Whether one customer's recorded decisions (purpose -> granted) allow ``purpose``."""
        decided = decisions.get(purpose)
        return self.default(purpose) if decided is None else bool(decided)

    def decision(self, granted: bool | None, purpose: str) -> bool:
        """The answer for one stored decision (None: no record)."""
        return self.default(purpose) if granted is None else bool(granted)

    def excluded_ids(self, consents: pl.DataFrame, purpose: str) -> set[str]:
        """Customers with a record who are *not* allowed ``purpose`` (the withdrawals, for an
        opt-out purpose). Customers without a record are never in it: see :meth:`allowed_ids`
        for an opt-in purpose."""
        self.default(purpose)
        if consents.height == 0:
            return set()
        refused = consents.filter((pl.col("purpose") == purpose) & ~pl.col("granted"))
        return set(refused.get_column("customer_id").cast(pl.Utf8).to_list())

    def granted_ids(self, consents: pl.DataFrame, purpose: str) -> set[str]:
        """Customers with a recorded grant of ``purpose``."""
        self.default(purpose)
        if consents.height == 0:
            return set()
        granted = consents.filter((pl.col("purpose") == purpose) & pl.col("granted"))
        return set(granted.get_column("customer_id").cast(pl.Utf8).to_list())

    def allowed_ids(
        self, customer_ids: Iterable[str], consents: pl.DataFrame, purpose: str
    ) -> list[str]:
        """The given customers ``purpose`` may include, in their order."""
        if self.default(purpose):
            refused = self.excluded_ids(consents, purpose)
            return [c for c in customer_ids if c not in refused]
        granted = self.granted_ids(consents, purpose)
        return [c for c in customer_ids if c in granted]

    def filter(
        self, frame: pl.DataFrame, consents: pl.DataFrame, purpose: str, column: str = "customer_id"
    ) -> pl.DataFrame:
        """Rows of ``frame`` whose customer (``column``) ``purpose`` may include; rows without
        a customer (guests) are kept only for an opt-out purpose."""
        if self.default(purpose):
            refused = self.excluded_ids(consents, purpose)
            if not refused:
                return frame
            return frame.filter(pl.col(column).is_null() | ~pl.col(column).is_in(list(refused)))
        granted = self.granted_ids(consents, purpose)
        return frame.filter(pl.col(column).is_in(list(granted)))


__all__ = ["BEHAVIOURAL", "OPT_OUT", "ConsentPolicy"]
