"""Both backends of a rule expression give the same value, nulls and NaN included."""

from __future__ import annotations

import math
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from storewise.ingest.exprs import X, any_of, coalesce, col, free_text, lit, text, when

floats = st.one_of(st.none(), st.sampled_from([0.0, -1.0, 2.5, math.nan, math.inf, -math.inf]))
flags = st.one_of(st.none(), st.booleans())


def _same(expr: X, columns: dict[str, tuple[Any, pl.DataType]]) -> None:
    frame = pl.DataFrame(
        {k: [v] for k, (v, _) in columns.items()}, schema={k: t for k, (_, t) in columns.items()}
    )
    expected = frame.select(expr.polars({}).alias("out")).item()
    got = expr.row({k: v for k, (v, _) in columns.items()}, {})
    assert got == expected or (got != got and expected != expected), (got, expected)


@settings(max_examples=200, deadline=None)
@given(a=floats, b=floats, p=flags, q=flags)
def test_operators_agree_with_polars(a: Any, b: Any, p: Any, q: Any) -> None:
    columns = {"a": (a, pl.Float64()), "b": (b, pl.Float64()), "p": (p, pl.Boolean())}
    columns["q"] = (q, pl.Boolean())
    x, y = col("a"), col("b")
    for expr in (
        x.eq(y), x.ne(y), x.lt(y), x.le(y), x.gt(y), x.lt(0), x.gt(0), x.le(0), x.eq(0),
        x.abs(), x * y, x.fill_null(1.0), x.is_null(), x.is_not_null(), x.is_finite(),
        x.is_in([0.0, 2.5]), coalesce(x, y), when(col("p"), x, y),
        col("p") & col("q"), col("p") | col("q"), ~col("p"), any_of(col("p"), col("q"), lit(False)),
    ):  # fmt: skip
        _same(expr, columns)


@settings(max_examples=100, deadline=None)
@given(value=st.one_of(st.none(), st.text(max_size=5)))
def test_text_agrees_with_polars(value: str | None) -> None:
    columns = {"s": (value, pl.Utf8())}
    for expr in (text("s"), text("s").len_chars().gt(2), text("s").is_in(["a"]), text("s").ne("a")):
        _same(expr, columns)


#: Characters around the edges of the control sets: C0, tab and line breaks, DEL, C1, NBSP.
EDGES = "\x00\x01\t\n\x0b\x0c\r\x1b\x1f \x7f\x80\x85\x9f\xa0\u2028a\u00e9"


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.none(), st.text(max_size=8), st.text(alphabet=EDGES, max_size=6)))
def test_control_character_rules_agree_with_polars(value: str | None) -> None:
    columns = {"s": (value, pl.Utf8())}
    for expr in (
        free_text("s"),
        text("s").has_control(),
        col("s").has_control(),
        col("s").has_text_control(),
    ):
        _same(expr, columns)
