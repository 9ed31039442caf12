"""Tiny server-side SVG charts: horizontal bars, lines and intervals, no JavaScript, no CDN.

Each chart is a self-contained ``<svg role="img">`` with a ``<title>`` (its accessible name) and
a ``<title>`` per mark, so screen readers and hover both tell the values. Pages show the same
numbers in a table next to each chart. Colours and fonts come from the dashboard stylesheet
through class names (no inline styles, so a strict Content-Security-Policy holds).

>>> svg = hbar_chart([("Champions", 12.0), ("Lost", 3.0)], title="Customers per segment")
>>> svg.startswith("<svg") and "Champions" in svg
True
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from markupsafe import Markup, escape

Formatter = Callable[[float], str]
#: Width of one legend entry of a line chart, and the height of a legend row.
LEGEND_WIDTH = 170
LEGEND_ROW = 16

_counter = itertools.count(1)


def number(value: float) -> str:
    """A compact human number: ``1234.5 -> '1,234.5'``, ``12000 -> '12,000'``."""
    if not math.isfinite(value):
        return "-"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.3f}"


def signed_percent(value: float) -> str:
    """A relative change as a signed percentage: ``0.123 -> '+12.3%'`` (``-`` when undefined)."""
    if not math.isfinite(value):
        return "-"
    return "0%" if value == 0 else f"{value * 100:+.1f}%"


def _uid(prefix: str) -> str:
    return f"{prefix}-{next(_counter)}"


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2, 2.5 or 5 times a power of ten)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * power:
            return step * power
    return 10.0 * power  # pragma: no cover - the loop always returns


def hbar_chart(
    rows: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 520,
    bar_height: int = 20,
    label_width: int = 170,
    fmt: Formatter = number,
) -> Markup:
    """Horizontal bars, one per ``(label, value)`` row, values written at the bar ends."""
    uid = _uid("chart")
    gap = 6
    top = 8
    height = top * 2 + max(1, len(rows)) * (bar_height + gap)
    finite = [v for _, v in rows if math.isfinite(v)]
    top_value = _nice_max(max([abs(v) for v in finite], default=0.0))
    plot_width = width - label_width - 70
    parts = [
        f'<svg class="chart" role="img" '
        f'aria-labelledby="{uid}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{uid}">{escape(title)}</title>',
    ]
    if not rows:
        parts.append(f'<text class="chart-empty" x="10" y="{height / 2 + 4}">no data</text>')
    for i, (label, value) in enumerate(rows):
        y = top + i * (bar_height + gap)
        shown = value if math.isfinite(value) else 0.0
        length = max(0.0, abs(shown) / top_value * plot_width)
        short = label if len(label) <= 28 else label[:27] + "…"
        parts.append(
            f'<g class="bar{" negative" if shown < 0 else ""}">'
            f"<title>{escape(label)}: {escape(fmt(value))}</title>"
            f'<text class="chart-label" x="{label_width - 8}" y="{y + bar_height * 0.7:.1f}" '
            f'text-anchor="end">{escape(short)}</text>'
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" />'
            f'<text class="chart-value" x="{label_width + length + 6:.1f}" '
            f'y="{y + bar_height * 0.7:.1f}">{escape(fmt(value))}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    title: str,
    width: int = 540,
    height: int = 240,
    fmt: Formatter = number,
) -> Markup:
    """Lines over shared x labels (e.g. months), one polyline per series, with a legend (in
    as many rows as it needs). Values below zero (a lift that fell) extend the axis down to a
    round value and draw the zero line; ``nan`` leaves a gap in its series."""
    uid = _uid("chart")
    per_row = max(1, round((width - 56) / LEGEND_WIDTH))  # the last may run past
    legend_rows = max(1, math.ceil(len(series) / per_row))
    height += (legend_rows - 1) * LEGEND_ROW
    left, right, top, bottom = 56, 32, 16, 44 + (legend_rows - 1) * LEGEND_ROW
    plot_w = width - left - right
    plot_h = height - top - bottom
    values = [v for vs in series.values() for v in vs if math.isfinite(v)]
    top_value = _nice_max(max(values, default=0.0))
    bottom_value = 0.0
    lowest, highest = min(values, default=0.0), max(values, default=0.0)
    if lowest < 0:  # below zero (a lift that fell): round steps through zero, zero marked
        step = _nice_max((max(highest, 0.0) - lowest) / 4)
        bottom_value = math.floor(lowest / step) * step
        while bottom_value + 4 * step < highest:
            step = _nice_max(step * 1.01)
            bottom_value = math.floor(lowest / step) * step
        top_value = bottom_value + 4 * step
    span = top_value - bottom_value
    n = len(labels)

    def x_of(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y_of(v: float) -> float:
        return top + plot_h - ((max(v, bottom_value) - bottom_value) / span) * plot_h

    parts = [
        f'<svg class="chart" role="img" '
        f'aria-labelledby="{uid}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{uid}">{escape(title)}</title>',
    ]
    for step in range(5):
        v = bottom_value + span * step / 4
        y = y_of(v)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" />'
            f'<text class="chart-axis" x="{left - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{escape(fmt(v))}</text>'
        )
    if bottom_value < 0:
        y = y_of(0.0)
        parts.append(
            f'<line class="zero" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" />'
        )
    every = max(1, math.ceil(n / 12))
    for i, label in enumerate(labels):
        if i % every == 0 or i == n - 1:
            parts.append(
                f'<text class="chart-axis" x="{x_of(i):.1f}" y="{height - bottom + 16}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    if n == 0:
        parts.append(f'<text class="chart-empty" x="{left + 10}" y="{top + 20}">no data</text>')
    for k, (name, vs) in enumerate(series.items()):
        points = " ".join(
            f"{x_of(i):.1f},{y_of(v):.1f}" for i, v in enumerate(vs) if math.isfinite(v)
        )
        parts.append(f'<g class="series series-{k % 4}"><title>{escape(name)}</title>')
        if points:
            parts.append(f'<polyline points="{points}" />')
        for i, v in enumerate(vs):
            if math.isfinite(v) and i < n:
                parts.append(
                    f'<circle cx="{x_of(i):.1f}" cy="{y_of(v):.1f}" r="3">'
                    f"<title>{escape(name)} {escape(labels[i])}: {escape(fmt(v))}</title>"
                    f"</circle>"
                )
        parts.append("</g>")
        legend_x = left + (k % per_row) * LEGEND_WIDTH
        legend_y = height - 18 - (legend_rows - 1 - k // per_row) * LEGEND_ROW
        parts.append(
            f'<g class="legend series-{k % 4}"><rect x="{legend_x}" y="{legend_y}" '
            f'width="12" height="12" /><text class="chart-axis" x="{legend_x + 18}" '
            f'y="{legend_y + 10}">{escape(name)}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


class Interval(NamedTuple):
    """One row of an interval chart: an estimate and its interval (``kind`` is a CSS class,
    e.g. ``primary`` or ``guardrail``, so rows can be told apart)."""

    label: str
    estimate: float
    low: float
    high: float
    kind: str = ""


def interval_chart(
    rows: Sequence[Interval],
    *,
    title: str,
    width: int = 660,
    row_height: int = 26,
    label_width: int = 190,
    value_width: int = 220,
    fmt: Formatter = signed_percent,
) -> Markup:
    """A forest plot: per row a dot at the estimate and a line across its interval, on one
    axis centred on zero (a line clear of zero is a difference the data support), with the
    figures written at the right."""
    uid = _uid("chart")
    top, axis = 8, 22
    height = top + max(1, len(rows)) * row_height + axis
    ends = [abs(v) for r in rows for v in (r.estimate, r.low, r.high) if math.isfinite(v)]
    extent = _nice_max(max(ends, default=0.0))
    plot_left = label_width
    plot_w = width - label_width - value_width

    def x_of(v: float) -> float:
        return plot_left + (min(max(v, -extent), extent) + extent) / (2 * extent) * plot_w

    bottom = top + max(1, len(rows)) * row_height
    parts = [
        f'<svg class="chart intervals" role="img" '
        f'aria-labelledby="{uid}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{uid}">{escape(title)}</title>',
    ]
    for step in range(5):
        v = -extent + extent * step / 2
        x = x_of(v)
        parts.append(
            f'<line class="{"zero" if step == 2 else "grid"}" x1="{x:.1f}" x2="{x:.1f}" '
            f'y1="{top}" y2="{bottom}" />'
            f'<text class="chart-axis" x="{x:.1f}" y="{bottom + 15}" '
            f'text-anchor="middle">{escape(fmt(v))}</text>'
        )
    if not rows:
        parts.append(f'<text class="chart-empty" x="10" y="{top + 16}">no data</text>')
    for i, row in enumerate(rows):
        mid = top + i * row_height + row_height / 2
        known = math.isfinite(row.estimate)
        bounded = math.isfinite(row.low) and math.isfinite(row.high)
        figures = (
            f"{fmt(row.estimate)} [{fmt(row.low)}, {fmt(row.high)}]"
            if known and bounded
            else (fmt(row.estimate) if known else "undefined")
        )
        short = row.label if len(row.label) <= 30 else row.label[:29] + "…"
        parts.append(
            f'<g class="interval {escape(row.kind)}">'
            f"<title>{escape(row.label)}: {escape(figures)}</title>"
            f'<text class="chart-label" x="{label_width - 8}" y="{mid + 4:.1f}" '
            f'text-anchor="end">{escape(short)}</text>'
        )
        if bounded:
            x1, x2 = x_of(row.low), x_of(row.high)
            parts.append(
                f'<line class="ci" x1="{x1:.1f}" x2="{x2:.1f}" y1="{mid:.1f}" y2="{mid:.1f}" />'
                f'<line class="ci" x1="{x1:.1f}" x2="{x1:.1f}" y1="{mid - 5:.1f}" '
                f'y2="{mid + 5:.1f}" />'
                f'<line class="ci" x1="{x2:.1f}" x2="{x2:.1f}" y1="{mid - 5:.1f}" '
                f'y2="{mid + 5:.1f}" />'
            )
        if known:
            parts.append(f'<circle cx="{x_of(row.estimate):.1f}" cy="{mid:.1f}" r="4" />')
        parts.append(
            f'<text class="chart-value" x="{plot_left + plot_w + 10}" y="{mid + 4:.1f}">'
            f"{escape(figures)}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


__all__ = ["Interval", "hbar_chart", "interval_chart", "line_chart", "number", "signed_percent"]
