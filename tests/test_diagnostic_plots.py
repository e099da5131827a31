"""The diagnostic figures (``report.plots.residual_plot``, ``random_effects_plot``) take every
visible word from the label files and draw what they are given."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

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


def test_residual_qq_points_are_the_ordered_residuals_against_normal_quantiles():
    rng = np.random.default_rng(2)
    resid = rng.normal(0, 3, 150)
    resid[5] = np.nan  # dropped pairwise
    fig = residual_plot(np.arange(150.0), resid)
    points = fig.axes[1].collections[0].get_offsets()
    (theory, ordered), _ = stats.probplot(resid[np.isfinite(resid)], dist="norm")
    np.testing.assert_allclose(points[:, 0], theory)
    np.testing.assert_allclose(points[:, 1], ordered)
    np.testing.assert_allclose(ordered, np.sort(resid[np.isfinite(resid)]))
    assert len(fig.axes[0].collections[0].get_offsets()) == 149


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
