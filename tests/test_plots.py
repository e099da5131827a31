"""Figures drawn from tables of record never show a suppressed cell, and save identically."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.analyse.quant.descriptives import round_means, round_quantiles
from evaluation.report.plots import distribution_plot, save_figure, trajectory_plot

ROUNDS = ["T0", "T1", "T2"]


def scores() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    sizes = {"T0": 40, "T1": 3, "T2": 40}  # T1 is below min_n
    rows = [
        {"round": r, "participant": i % 2, "m": float(rng.normal(60, 10))}
        for r, n in sizes.items()
        for i in range(n)
    ]
    return pd.DataFrame(rows)


def test_trajectory_leaves_suppressed_rounds_out():
    means = round_means(scores(), measures=["m"], rounds=ROUNDS, by=None, min_n=5)
    fig = trajectory_plot(means, measure="m", rounds=ROUNDS)
    y = np.asarray(fig.axes[0].lines[0].get_ydata(), dtype=float)
    assert np.isfinite(y[0]) and np.isnan(y[1]) and np.isfinite(y[2])


def test_distribution_draws_no_box_for_a_suppressed_round():
    q = round_quantiles(scores(), measures=["m"], rounds=ROUNDS, min_n=5)
    fig = distribution_plot(q, measure="m", rounds=ROUNDS)
    boxes = [p.get_x() for p in fig.axes[0].patches]
    assert len(boxes) == 2 and all(abs(x - 0.75) > 0.1 for x in boxes)  # no box at T1


def test_saved_figures_are_byte_identical(tmp_path):
    means = round_means(scores(), measures=["m"], rounds=ROUNDS, min_n=5)
    first = save_figure(trajectory_plot(means, measure="m", rounds=ROUNDS), tmp_path / "a")
    second = save_figure(trajectory_plot(means, measure="m", rounds=ROUNDS), tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_png_figures_are_written_at_300_dpi(tmp_path):
    from PIL import Image

    from evaluation.report.plots import new_figure, save_figure, style_context

    with style_context():
        fig = new_figure(4, 3)
        fig.subplots().plot([0, 1], [0, 1])
    _svg, png = save_figure(fig, tmp_path / "f")
    with Image.open(png) as image:
        assert image.size == (1200, 900)
        assert round(image.info["dpi"][0]) == 300
