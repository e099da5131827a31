"""The diagnostic figures (``report.plots.residual_plot``, ``random_effects_plot``) take every
visible word from the label files and draw what they are given."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.config import load_labels
from evaluation.report.plots import random_effects_plot, residual_plot, save_figure


@pytest.mark.parametrize("language", ["fi", "en"])
def test_residual_plot_axes_are_labelled_from_the_label_file(language):
    labels = load_labels(language)
    rng = np.random.default_rng(1)
    fitted = rng.normal(60, 5, 200)
    fig = residual_plot(fitted, rng.normal(0, 3, 200), labels)
    left, right = fig.axes
    assert left.get_xlabel() == labels["diag_fitted"]
    assert left.get_ylabel() == labels["diag_residual"]
    assert left.get_title(loc="left") == labels["diag_residuals_title"]
    assert right.get_xlabel() == labels["diag_theoretical_quantiles"]
    assert right.get_ylabel() == labels["diag_sample_quantiles"]
    assert right.get_title(loc="left") == labels["diag_qq_title"]


def test_residual_qq_points_are_means_of_blocks_of_at_least_min_n_residuals():
    """Every Q-Q mark is the mean of min_n or more ordered residuals (the figure is
    published: no mark shows one respondent), at the normal quantile of the block's middle."""
    rng = np.random.default_rng(2)
    resid = rng.normal(0, 3, 151)
    resid[5] = np.nan  # dropped pairwise
    fig = residual_plot(np.arange(151.0), resid, min_n=5)
    points = fig.axes[1].collections[0].get_offsets()
    ranked = np.sort(resid[np.isfinite(resid)])
    assert len(points) == 150 // 5
    blocks = np.array_split(ranked, 30)
    assert min(len(b) for b in blocks) >= 5
    np.testing.assert_allclose(points[:, 1], [b.mean() for b in blocks])
    assert np.all(np.diff(points[:, 0]) > 0)
    # a normal sample lies near the reference line: block means close to the quartile line
    assert abs(np.corrcoef(points[:, 0], points[:, 1])[0, 1]) > 0.97


def test_residual_hexbins_hide_bins_of_fewer_than_min_n_respondents():
    rng = np.random.default_rng(4)
    fitted = np.concatenate([rng.normal(60, 1, 400), [90.0, 91.0]])  # two outlying people
    resid = np.concatenate([rng.normal(0, 1, 400), [15.0, 16.0]])
    fig = residual_plot(fitted, resid, min_n=5)
    hexes = fig.axes[0].collections[0]
    counts = hexes.get_array()
    assert len(counts) > 0 and counts.min() >= 5
    centres = hexes.get_offsets()
    assert not np.any(centres[:, 0] > 80)  # the outliers' bin is not drawn


def test_residual_plot_with_fewer_than_two_blocks_says_no_data():
    fig = residual_plot(np.arange(6.0), np.zeros(6), {"no_data": "Ei tietoja"}, min_n=5)
    assert fig.axes[1].texts[0].get_text() == "Ei tietoja"


@pytest.mark.parametrize("language", ["fi", "en"])
def test_random_effects_plot_has_a_labelled_panel_per_level(language, tmp_path):
    labels = load_labels(language)
    rng = np.random.default_rng(3)
    blups = pd.DataFrame(
        {
            "level": ["organisation"] * 10 + ["unit"] * 30,
            "cluster": [f"O{i}" for i in range(10)] + [f"U{i}" for i in range(30)],
            "value": rng.normal(0, 2, 40),
            "n": [20] * 10 + [3] * 5 + [12] * 25,
        }
    )
    fig = random_effects_plot(blups, labels, min_n=5)
    assert len(fig.axes) == 2
    org, unit = fig.axes
    assert org.get_title(loc="left") == labels["organisation"]
    assert unit.get_title(loc="left") == labels["unit"]
    assert org.get_xlabel() == labels["diag_theoretical_quantiles"]
    assert org.get_ylabel() == labels["diag_blup"]
    assert fig.get_suptitle() == labels["diag_random_effects_title"]
    # units with fewer than min_n respondents are left out
    assert len(org.collections[0].get_offsets()) == 10
    assert len(unit.collections[0].get_offsets()) == 25
    first = save_figure(random_effects_plot(blups, labels), tmp_path / "a", formats=["svg"])
    second = save_figure(random_effects_plot(blups, labels), tmp_path / "b", formats=["svg"])
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_random_effects_plot_requires_its_columns():
    with pytest.raises(ValueError, match="value"):
        random_effects_plot(pd.DataFrame({"level": ["unit"], "cluster": ["U1"]}))
