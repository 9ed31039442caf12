"""Marketing figures: RFM segments, CLV distribution, holdout fit and Qini/uplift curves.

Each function returns a matplotlib :class:`~matplotlib.figure.Figure` built without pyplot (no
global state, safe in web workers); :func:`to_svg` turns it into SVG text for the dashboard and
reports, :func:`save_png` writes a PNG with the Agg renderer.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import matplotlib
import numpy as np
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from storewise.errors import InputError
from storewise.marketing.clv import HoldoutEvaluation
from storewise.marketing.transactions import require_columns
from storewise.marketing.uplift import QiniCurve

_BLUE = "#1f77b4"
_ORANGE = "#ff7f0e"
_GREY = "#7f7f7f"


def _figure(width: float = 7.0, height: float = 4.0) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def to_svg(fig: Figure) -> str:
    """The figure as standalone SVG text (text kept as text, stable ids, no timestamp)."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "storewise"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def save_png(fig: Figure, path: str | Path, *, dpi: int = 100) -> Path:
    """Write the figure as a PNG file (Agg) and return its path."""
    target = Path(path)
    if not target.parent.exists():
        raise InputError(f"cannot write {target}: folder {target.parent} does not exist")
    FigureCanvasAgg(fig)
    fig.savefig(target, format="png", dpi=dpi, metadata={"Software": None})
    return target


def segment_chart(summary: pl.DataFrame) -> Figure:
    """Side-by-side bars of each RFM segment's share of customers and of revenue."""
    require_columns(summary, ("segment", "customer_share", "revenue_share"), what="segment summary")
    if summary.height == 0:
        raise InputError("segment summary is empty")
    names = summary.get_column("segment").to_list()[::-1]
    customers = summary.get_column("customer_share").fill_null(0.0).to_numpy()[::-1] * 100
    revenue = summary.get_column("revenue_share").fill_null(0.0).to_numpy()[::-1] * 100
    fig = _figure(8.0, 4.5)
    ax = fig.add_subplot()
    y = np.arange(len(names))
    ax.barh(y + 0.2, customers, height=0.4, color=_BLUE, label="customers")
    ax.barh(y - 0.2, revenue, height=0.4, color=_ORANGE, label="revenue")
    ax.set_yticks(y, names)
    ax.set_xlabel("share (%)")
    ax.set_title("RFM segments: share of customers and revenue")
    ax.legend(loc="lower right")
    return fig


def clv_histogram(clv: pl.DataFrame | Sequence[float], *, bins: int = 40) -> Figure:
    """Histogram of predicted CLV (top 1% folded into the last bin) with mean and median marked."""
    if isinstance(clv, pl.DataFrame):
        require_columns(clv, ("clv",), what="CLV predictions")
        values = clv.get_column("clv").cast(pl.Float64).to_numpy()
    else:
        values = np.asarray(clv, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise InputError("no CLV values to plot")
    cap = float(np.quantile(values, 0.99))
    fig = _figure()
    ax = fig.add_subplot()
    ax.hist(np.minimum(values, cap), bins=bins, color=_BLUE)
    for stat, label, color in (
        (values.mean(), "mean", _ORANGE),
        (np.median(values), "median", _GREY),
    ):
        ax.axvline(float(stat), color=color, linestyle="--", label=f"{label} {stat:,.2f}")
    ax.set_xlabel("predicted customer lifetime value (top 1% capped)")
    ax.set_ylabel("customers")
    ax.set_title(f"CLV distribution, {values.size:,} customers")
    ax.legend()
    return fig


def holdout_chart(evaluation: HoldoutEvaluation | pl.DataFrame) -> Figure:
    """Actual vs predicted mean holdout purchases by calibration-period repeat purchases."""
    table = evaluation.by_frequency if isinstance(evaluation, HoldoutEvaluation) else evaluation
    require_columns(table, ("frequency", "actual_mean", "predicted_mean"), what="holdout table")
    if table.height == 0:
        raise InputError("holdout table is empty")
    freq = table.get_column("frequency").to_numpy()
    labels = [str(int(f)) for f in freq]
    labels[-1] += "+"
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(freq, table.get_column("actual_mean").to_numpy(), "o-", color=_BLUE, label="actual")
    ax.plot(freq, table.get_column("predicted_mean").to_numpy(), "s--", color=_ORANGE,
            label="BG/NBD")  # fmt: skip
    ax.set_xticks(freq, labels)
    ax.set_xlabel("repeat purchases in calibration period")
    ax.set_ylabel("mean purchases in holdout period")
    ax.set_title("Conditional expectations: holdout period")
    ax.legend()
    return fig


def qini_chart(
    curves: QiniCurve | Mapping[str, QiniCurve], *, kind: Literal["qini", "uplift"] = "qini"
) -> Figure:
    """Qini (incremental outcomes) or cumulative uplift curves, with the random-targeting line."""
    named = {"model": curves} if isinstance(curves, QiniCurve) else dict(curves)
    if not named:
        raise InputError("no curves to plot")
    if kind not in ("qini", "uplift"):
        raise InputError(f"kind must be 'qini' or 'uplift', got {kind!r}")
    fig = _figure()
    ax = fig.add_subplot()
    for i, (name, curve) in enumerate(named.items()):
        color = matplotlib.colormaps["tab10"](i % 10)
        pct = curve.fraction * 100
        if kind == "qini":
            ax.plot(pct, curve.qini, color=color,
                    label=f"{name} (Qini coef. {curve.qini_coefficient:.4f})")  # fmt: skip
            ax.plot(pct, curve.random, color=color, linestyle=":", alpha=0.8)
        else:
            ax.plot(pct, curve.uplift, color=color, label=f"{name} (AUUC {curve.auuc:.4f})")
            random = 2.0 * curve.auuc_random * curve.fraction * curve.n
            ax.plot(pct, random, color=color, linestyle=":", alpha=0.8)
    ax.set_xlabel("customers targeted, by predicted uplift (%)")
    ax.set_ylabel("incremental outcomes" if kind == "qini" else "cumulative uplift x customers")
    ax.set_title("Qini curve (dotted: random targeting)" if kind == "qini" else "Uplift curve")
    ax.legend()
    return fig
