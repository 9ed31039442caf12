"""Tests of the marketing figures: they render to SVG text and PNG files with the right content."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from matplotlib.figure import Figure

from storewise.errors import InputError
from storewise.marketing.plots import (
    clv_histogram,
    holdout_chart,
    qini_chart,
    save_png,
    segment_chart,
    to_svg,
)
from storewise.marketing.rfm import rfm_scores, segment_summary
from storewise.marketing.uplift import qini_curve


@pytest.fixture()
def summary() -> pl.DataFrame:
    rows = [(f"c{i}", datetime(2024, 1, 1 + i % 28), 10.0 * (i % 7 + 1)) for i in range(60)]
    frame = pl.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "ts": [r[1] for r in rows],
            "value": [r[2] for r in rows],
        }
    )
    return segment_summary(rfm_scores(frame))


def test_segment_chart_svg_names_the_segments(summary: pl.DataFrame) -> None:
    svg = to_svg(segment_chart(summary))
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    assert "Champions" in svg and "Hibernating" in svg
    assert to_svg(segment_chart(summary)) == svg  # deterministic output


def test_png_is_written(summary: pl.DataFrame, tmp_path: Path) -> None:
    path = save_png(segment_chart(summary), tmp_path / "segments.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InputError, match="does not exist"):
        save_png(segment_chart(summary), tmp_path / "missing" / "x.png")


def test_clv_histogram_marks_mean_and_median() -> None:
    fig = clv_histogram(pl.DataFrame({"clv": np.random.default_rng(0).lognormal(3, 1, 500)}))
    assert isinstance(fig, Figure)
    svg = to_svg(fig)
    assert "mean" in svg and "median" in svg and "500 customers" in svg
    with pytest.raises(InputError, match="no CLV"):
        clv_histogram([float("nan")])


def test_holdout_chart_labels_the_open_bucket() -> None:
    table = pl.DataFrame(
        {"frequency": [0, 1, 2], "actual_mean": [0.2, 0.7, 1.4], "predicted_mean": [0.2, 0.5, 1.0]}
    )
    svg = to_svg(holdout_chart(table))
    assert "2+" in svg and "BG/NBD" in svg
    with pytest.raises(InputError, match="empty"):
        holdout_chart(table.clear())


def test_qini_chart_draws_each_curve() -> None:
    rng = np.random.default_rng(0)
    treated = rng.integers(0, 2, 400)
    outcome = rng.integers(0, 2, 400)
    curves = {
        "Mens": qini_curve(rng.random(400), treated, outcome),
        "Womens": qini_curve(rng.random(400), treated, outcome),
    }
    svg = to_svg(qini_chart(curves))
    assert "Mens" in svg and "Womens" in svg and "Qini" in svg
    assert "AUUC" in to_svg(qini_chart(curves["Mens"], kind="uplift"))
    with pytest.raises(InputError, match="no curves"):
        qini_chart({})
