"""Tiny server-side SVG charts: horizontal bars and lines, no JavaScript, no CDN.

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

from markupsafe import Markup, escape

Formatter = Callable[[float], str]

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
    """Lines over shared x labels (e.g. months), one polyline per series, with a legend."""
    uid = _uid("chart")
    left, right, top, bottom = 56, 32, 16, 44
    plot_w = width - left - right
    plot_h = height - top - bottom
    values = [v for vs in series.values() for v in vs if math.isfinite(v)]
    top_value = _nice_max(max(values, default=0.0))
    n = len(labels)

    def x_of(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y_of(v: float) -> float:
        return top + plot_h - (max(v, 0.0) / top_value) * plot_h

    parts = [
        f'<svg class="chart" role="img" '
        f'aria-labelledby="{uid}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{uid}">{escape(title)}</title>',
    ]
    for step in range(5):
        v = top_value * step / 4
        y = y_of(v)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" />'
            f'<text class="chart-axis" x="{left - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{escape(fmt(v))}</text>'
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
        legend_x = left + k * 170
        parts.append(
            f'<g class="legend series-{k % 4}"><rect x="{legend_x}" y="{height - 18}" '
            f'width="12" height="12" /><text class="chart-axis" x="{legend_x + 18}" '
            f'y="{height - 8}">{escape(name)}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


__all__ = ["hbar_chart", "line_chart", "number"]
