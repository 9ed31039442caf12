"""Rule expressions written once and run two ways: as polars expressions over a chunk, or on
one row (a dict) in plain Python, with polars' null (Kleene) and NaN semantics.

>>> rule = col("qty").lt(0) & col("kind").eq("purchase")
>>> rule.row({"qty": -1.0, "kind": "purchase"}, {}), rule.row({"qty": None, "kind": "view"}, {})
(True, False)
>>> import polars as pl
>>> pl.DataFrame({"qty": [-1.0, None]}).select(col("qty").lt(0).polars({})).to_series().to_list()
[True, None]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl

from storewise.ingest.clean import (
    CONTROL,
    CONTROL_PATTERN,
    TEXT_CONTROL,
    TEXT_CONTROL_PATTERN,
    clean_text,
    cleaned,
    trim_text,
    trimmed,
)

Row = Mapping[str, Any]
Params = Mapping[str, Any]
RowFn = Callable[[Row, Params], Any]


class X:
    """One node of a rule expression (operator and arguments); see the module docstring."""

    __slots__ = ("_row", "args", "op")

    def __init__(self, op: str, *args: Any) -> None:
        self.op = op
        self.args = args
        self._row: RowFn | None = None

    # -- building ---------------------------------------------------------------------------
    def __and__(self, other: X) -> X:
        return X("and", self, other)

    def __or__(self, other: X) -> X:
        return X("or", self, other)

    def __invert__(self) -> X:
        return X("not", self)

    def __mul__(self, other: X | float) -> X:
        return X("mul", self, _x(other))

    def eq(self, other: X | Any) -> X:
        """Equal (null if either side is null)."""
        return X("eq", self, _x(other))

    def ne(self, other: X | Any) -> X:
        """Not equal (null if either side is null)."""
        return X("ne", self, _x(other))

    def lt(self, other: X | Any) -> X:
        """Less than (NaN sorts above every number, as in polars)."""
        return X("lt", self, _x(other))

    def le(self, other: X | Any) -> X:
        """Less than or equal (NaN sorts above every number, as in polars)."""
        return X("le", self, _x(other))

    def gt(self, other: X | Any) -> X:
        """Greater than (NaN sorts above every number, as in polars)."""
        return X("gt", self, _x(other))

    def is_null(self) -> X:
        """True where the value is missing."""
        return X("is_null", self)

    def is_not_null(self) -> X:
        """True where the value is present."""
        return X("is_not_null", self)

    def is_in(self, values: Sequence[Any]) -> X:
        """Membership (null stays null)."""
        return X("is_in", self, tuple(values))

    def is_finite(self) -> X:
        """False for NaN and infinities (null stays null)."""
        return X("is_finite", self)

    def abs(self) -> X:
        """Absolute value."""
        return X("abs", self)

    def fill_null(self, value: Any) -> X:
        """``value`` where missing."""
        return X("fill_null", self, _x(value))

    def len_chars(self) -> X:
        """Length of text in characters."""
        return X("len", self)

    def has_control(self) -> X:
        """True where text holds a control character (any of Unicode's Cc; refused in ids)."""
        return X("has_control", self)

    def has_text_control(self) -> X:
        """True where text holds a control character :func:`free_text` removes."""
        return X("has_text_control", self)

    # -- the two backends -------------------------------------------------------------------
    def polars(self, params: Params) -> pl.Expr:
        """The polars expression, with ``params`` as literals."""
        return _POLARS[self.op](params, *self.args)

    def row(self, row: Row, params: Params) -> Any:
        """The value on one row (None for null)."""
        if self._row is None:
            self._row = _ROW[self.op](*self.args)
        return self._row(row, params)


def _x(value: X | Any) -> X:
    return value if isinstance(value, X) else lit(value)


def col(name: str) -> X:
    """A column."""
    return X("col", name)


def lit(value: Any) -> X:
    """A constant."""
    return X("lit", value)


def param(name: str) -> X:
    """A value given at evaluation time (the time window, the source name)."""
    return X("param", name)


def text(name: str) -> X:
    """A column as stripped text, empty as null (:func:`~storewise.ingest.clean.trimmed`)."""
    return X("trim", name)


def free_text(name: str) -> X:
    """A column as free text: control characters but tab and line breaks removed, stripped,
    empty as null (:func:`~storewise.ingest.clean.cleaned`)."""
    return X("clean", name)


def when(condition: X, then: X | Any, otherwise: X | Any) -> X:
    """``then`` where ``condition`` is true, else ``otherwise`` (null counts as false)."""
    return X("when", condition, _x(then), _x(otherwise))


def coalesce(*values: X) -> X:
    """The first value that is not null."""
    return X("coalesce", *values)


def any_of(*values: X) -> X:
    """Kleene OR of many conditions."""
    return X("any", *values)


# -- polars backend -------------------------------------------------------------------------
def _p(params: Params, node: X) -> pl.Expr:
    return node.polars(params)


_POLARS: dict[str, Callable[..., pl.Expr]] = {
    "col": lambda _p_, name: pl.col(name),
    "lit": lambda _p_, value: pl.lit(value),
    "param": lambda params, name: pl.lit(params[name]),
    "trim": lambda _p_, name: trimmed(name),
    "clean": lambda _p_, name: cleaned(name),
    "and": lambda p, a, b: _p(p, a) & _p(p, b),
    "or": lambda p, a, b: _p(p, a) | _p(p, b),
    "not": lambda p, a: ~_p(p, a),
    "mul": lambda p, a, b: _p(p, a) * _p(p, b),
    "eq": lambda p, a, b: _p(p, a) == _p(p, b),
    "ne": lambda p, a, b: _p(p, a) != _p(p, b),
    "lt": lambda p, a, b: _p(p, a) < _p(p, b),
    "le": lambda p, a, b: _p(p, a) <= _p(p, b),
    "gt": lambda p, a, b: _p(p, a) > _p(p, b),
    "is_null": lambda p, a: _p(p, a).is_null(),
    "is_not_null": lambda p, a: _p(p, a).is_not_null(),
    "is_in": lambda p, a, values: _p(p, a).is_in(list(values)),
    "is_finite": lambda p, a: _p(p, a).is_finite(),
    "abs": lambda p, a: _p(p, a).abs(),
    "fill_null": lambda p, a, b: _p(p, a).fill_null(_p(p, b)),
    "len": lambda p, a: _p(p, a).str.len_chars(),
    "has_control": lambda p, a: _p(p, a).str.contains(CONTROL_PATTERN),
    "has_text_control": lambda p, a: _p(p, a).str.contains(TEXT_CONTROL_PATTERN),
    "when": lambda p, c, t, o: pl.when(_p(p, c)).then(_p(p, t)).otherwise(_p(p, o)),
    "coalesce": lambda p, *xs: pl.coalesce([_p(p, x) for x in xs]),
    "any": lambda p, *xs: pl.any_horizontal([_p(p, x) for x in xs]),
}


# -- row backend (each builder returns a closure over its compiled children) ---------------
def _nan_last(value: Any) -> tuple[int, Any]:
    """Sort key with polars' float order: NaN equals NaN and is above every number."""
    if isinstance(value, float) and math.isnan(value):
        return (1, 0.0)
    return (0, value)


def _compare(test: Callable[[Any, Any], bool]) -> Callable[[X, X], RowFn]:
    def build(a: X, b: X) -> RowFn:
        def run(row: Row, params: Params) -> bool | None:
            left, right = a.row(row, params), b.row(row, params)
            if left is None or right is None:
                return None
            return test(_nan_last(left), _nan_last(right))

        return run

    return build


def _unary(fn: Callable[[Any], Any]) -> Callable[[X], RowFn]:
    def build(a: X) -> RowFn:
        def run(row: Row, params: Params) -> Any:
            value = a.row(row, params)
            return None if value is None else fn(value)

        return run

    return build


def _and(a: X, b: X) -> RowFn:
    def run(row: Row, params: Params) -> bool | None:
        left = a.row(row, params)
        if left is False:
            return False
        right = b.row(row, params)
        if right is False:
            return False
        return None if left is None or right is None else True

    return run


def _any(*xs: X) -> RowFn:
    def run(row: Row, params: Params) -> bool | None:
        unknown = False
        for x in xs:
            value = x.row(row, params)
            if value is True:
                return True
            unknown = unknown or value is None
        return None if unknown else False

    return run


def _mul(a: X, b: X) -> RowFn:
    def run(row: Row, params: Params) -> Any:
        left, right = a.row(row, params), b.row(row, params)
        return None if left is None or right is None else left * right

    return run


def _fill_null(a: X, b: X) -> RowFn:
    def run(row: Row, params: Params) -> Any:
        value = a.row(row, params)
        return b.row(row, params) if value is None else value

    return run


def _when(c: X, t: X, o: X) -> RowFn:
    def run(row: Row, params: Params) -> Any:
        return t.row(row, params) if c.row(row, params) is True else o.row(row, params)

    return run


def _coalesce(*xs: X) -> RowFn:
    def run(row: Row, params: Params) -> Any:
        for x in xs:
            value = x.row(row, params)
            if value is not None:
                return value
        return None

    return run


def _is_in(a: X, values: tuple[Any, ...]) -> RowFn:
    members = frozenset(values)

    def run(row: Row, params: Params) -> bool | None:
        value = a.row(row, params)
        return None if value is None else value in members

    return run


def _col(name: str) -> RowFn:
    return lambda row, _params: row[name]


def _lit(value: Any) -> RowFn:
    return lambda _row, _params: value


def _param(name: str) -> RowFn:
    return lambda _row, params: params[name]


def _trim(name: str) -> RowFn:
    return lambda row, _params: trim_text(row[name])


def _clean(name: str) -> RowFn:
    return lambda row, _params: clean_text(row[name])


def _is_null(a: X) -> RowFn:
    return lambda row, params: a.row(row, params) is None


def _is_not_null(a: X) -> RowFn:
    return lambda row, params: a.row(row, params) is not None


_ROW: dict[str, Callable[..., RowFn]] = {
    "col": _col,
    "lit": _lit,
    "param": _param,
    "trim": _trim,
    "clean": _clean,
    "and": _and,
    "or": lambda a, b: _any(a, b),
    "not": _unary(lambda v: not v),
    "mul": _mul,
    "eq": _compare(lambda a, b: a == b),
    "ne": _compare(lambda a, b: a != b),
    "lt": _compare(lambda a, b: a < b),
    "le": _compare(lambda a, b: a <= b),
    "gt": _compare(lambda a, b: a > b),
    "is_null": _is_null,
    "is_not_null": _is_not_null,
    "is_in": _is_in,
    "is_finite": _unary(math.isfinite),
    "abs": _unary(abs),
    "fill_null": _fill_null,
    "len": _unary(len),
    "has_control": _unary(lambda v: CONTROL.search(v) is not None),
    "has_text_control": _unary(lambda v: TEXT_CONTROL.search(v) is not None),
    "when": _when,
    "coalesce": _coalesce,
    "any": _any,
}
