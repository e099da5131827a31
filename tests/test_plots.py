"""Figures drawn from tables of record never show a suppressed cell, and save identically."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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


def test_png_figures_are_written_at_300_dpi(tmp_path, monkeypatch):
    from PIL import Image

    from evaluation.report import plots
    from evaluation.report.plots import new_figure, style_context

    def figure():
        with style_context():
            fig = new_figure(4, 3)
            fig.subplots().plot([0, 1], [0, 1])
        return fig

    _svg, png = save_figure(figure(), tmp_path / "f")
    with Image.open(png) as image:
        assert image.size == (1200, 900)
        assert round(image.info["dpi"][0]) == 300
        pixels = np.asarray(image)
    # written at a faster zlib level than matplotlib's default: the same pixels (lossless)
    monkeypatch.setattr(plots, "_SAVE_OPTIONS", {"svg": {}, "png": {}})
    _svg, default = save_figure(figure(), tmp_path / "default")
    with Image.open(default) as image:
        assert np.array_equal(np.asarray(image), pixels)
    assert png.read_bytes() != default.read_bytes()


def test_a_figure_saved_as_svg_and_png_is_laid_out_once_and_keeps_its_engine(tmp_path, monkeypatch):
    """The SVG lays the figure out (one unseen draw) and renders it; the PNG keeps that layout
    and only renders: three draws in all. The figure keeps its layout engine, and the PNG is
    byte for byte one saved after the SVG with the engine merely switched off."""
    from matplotlib.figure import Figure
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    means = round_means(scores(), measures=["m"], rounds=ROUNDS, min_n=5)
    draws = []
    real_draw = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda fig, r: draws.append(r) or real_draw(fig, r))
    fig = trajectory_plot(means, measure="m", rounds=ROUNDS)
    assert isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine)
    _svg, png = save_figure(fig, tmp_path / "a")
    assert len(draws) == 3
    assert isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine)

    monkeypatch.setattr(Figure, "draw", real_draw)
    other = trajectory_plot(means, measure="m", rounds=ROUNDS)
    save_figure(other, tmp_path / "b", formats=("svg",))
    other.set_layout_engine("none")  # a placeholder: savefig draws once more, unseen
    (reference,) = save_figure(other, tmp_path / "b", formats=("png",))
    assert png.read_bytes() == reference.read_bytes()


LABELS = {"fig_hidden_note": "Hidden below {min_n}: {hidden}.", "T1": "Round 1", "b": "Band B"}


def _note(fig) -> str:
    return fig._supxlabel.get_text() if fig._supxlabel is not None else ""


def test_trajectory_draws_each_mean_with_its_interval_from_the_table():
    means = round_means(scores(), measures=["m"], rounds=ROUNDS, by=None, min_n=5)
    fig = trajectory_plot(means, measure="m", rounds=ROUNDS)
    ax = fig.axes[0]
    band = np.concatenate([p.vertices[:, 1] for p in ax.collections[0].get_paths()])
    shown = means[~means["suppressed"]]
    assert band.min() == pytest.approx(shown["ci_low"].min())
    assert band.max() == pytest.approx(shown["ci_high"].max())
    caps = [line for line in ax.lines if line.get_marker() == "_"]
    assert caps  # error bars with caps at every shown mean


def test_trajectory_axis_covers_the_scale_and_names_it():
    """Means near 60 on a 0-100 scale: the axis shows 0-100, not 55-65."""
    means = round_means(scores(), measures=["m"], rounds=ROUNDS, by=None, min_n=5)
    labels = {"fig_mean_scale_ci": "Mean, scale {scale} ({level} % CI)"}
    fig = trajectory_plot(means, measure="m", rounds=ROUNDS, labels=labels, scale=(0, 100), ci=0.9)
    low, high = fig.axes[0].get_ylim()
    assert low <= 0 and high >= 100 and high - low <= 110
    assert fig.axes[0].get_ylabel() == "Mean, scale 0–100 (90 % CI)"


def test_scale_ylim_widens_only_for_a_value_outside_the_scale():
    from evaluation.report.plots import new_figure, scale_ylim, style_context

    with style_context():
        ax = new_figure(3, 2).subplots()
    scale_ylim(ax, (1, 5), [3.6, 3.7])
    assert ax.get_ylim()[0] < 1 < 5 < ax.get_ylim()[1] < 5.2
    scale_ylim(ax, (1, 5), [4.9, 5.3])  # an interval end beyond the scale stays visible
    assert ax.get_ylim()[1] >= 5.3


def test_a_hidden_round_of_the_trajectory_is_named_under_the_figure():
    means = round_means(scores(), measures=["m"], rounds=ROUNDS, by=None, min_n=5)
    fig = trajectory_plot(means, measure="m", rounds=ROUNDS, labels=LABELS, min_n=5)
    assert _note(fig) == "Hidden below 5: all: Round 1."
    whole = means[means["round"] != "T1"]
    assert _note(trajectory_plot(whole, measure="m", rounds=ROUNDS, labels=LABELS, min_n=5)) == ""


def test_a_band_hidden_for_privacy_is_named_under_the_figure():
    """A suppressed band leaves its bar short of 100 %: the note says which and when."""
    from evaluation.report.plots import band_plot

    bands = pd.DataFrame(
        {
            "measure": "m_band",
            "round": ["T0", "T0", "T1", "T1"],
            "band": ["a", "b", "a", "b"],
            "share": [0.5, 0.5, 0.88, np.nan],
            "suppressed": [False, False, False, True],
        }
    )
    fig = band_plot(bands, measure="m_band", band_order=["a", "b"], rounds=["T0", "T1"],
                    labels=LABELS, min_n=5)  # fmt: skip
    assert _note(fig) == "Hidden below 5: Band B: Round 1."
    tops = [p.get_y() + p.get_height() for p in fig.axes[0].patches]
    assert max(tops) == pytest.approx(100) and min(tops) < 100  # the short bar is there
    shown = bands.assign(share=[0.5, 0.5, 0.88, 0.12], suppressed=False)
    fig = band_plot(shown, measure="m_band", band_order=["a", "b"], rounds=["T0", "T1"],
                    labels=LABELS, min_n=5)  # fmt: skip
    assert _note(fig) == ""


def test_figures_take_every_text_from_the_labels():
    """No English fallback: a missing label shows its key, the labels' text otherwise."""
    means = round_means(scores(), measures=["m"], rounds=ROUNDS, by=None, min_n=5)
    fig = trajectory_plot(means, measure="m", rounds=ROUNDS, labels={}, min_n=5)
    assert fig.axes[0].get_ylabel() == "fig_mean_ci"
    assert "CI" not in _note(fig) and _note(fig).startswith("fig_hidden_note")
