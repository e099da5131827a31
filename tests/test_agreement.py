"""The QWL proxy (mean of the area scores) and its agreement with the vendor's index."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import yaml

from evaluation.analyse.quant.agreement import (
    AGREEMENT_COLUMNS,
    AGREEMENT_IDENTIFYING,
    agreement,
    agreement_table,
    proxy_agreement_table,
)
from evaluation.config import load_instrument
from evaluation.errors import ConfigError
from evaluation.paths import DEFAULT_INSTRUMENTS, DEFAULT_LABELS
from evaluation.score import proxy_score

QWL = load_instrument(DEFAULT_INSTRUMENTS / "qwl.yaml")
AREAS = list(QWL.parts.values())

# Bland & Altman (1986), Lancet 327:307-310, table 1: peak expiratory flow rate (l/min) of 17
# subjects, the first reading with the Wright and with the mini Wright meter. The pairs as
# reproduced in the R package blandr (deepankardatta/blandr, unused/bland.altman.PEFR.r:
# WrightFirst, MiniWrightFirst; also BlandAltmanLeh's bland.altman.PEFR).
WRIGHT = [494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427]
MINI = [512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451]
# Published in the paper (differences Wright minus mini; limits = mean ± 2 SD, as the paper
# draws them): mean difference -2.1 l/min, SD 38.8, limits -79.7 and 75.5, r = 0.94.
PUBLISHED = {"bias": -2.1, "sd_diff": 38.8, "loa_low": -79.7, "loa_high": 75.5, "r": 0.94}


def test_bland_altman_1986_peak_flow_example():
    got = agreement(WRIGHT, MINI, k=2.0)
    assert got["n"] == 17
    # The paper rounds to 0.1 and draws its limits from the rounded mean and SD (-2.1 ± 2 *
    # 38.8): a limit may differ from the unrounded one by up to 0.05 + 2 * 0.05.
    tolerance = {"bias": 0.05, "sd_diff": 0.05, "loa_low": 0.15, "loa_high": 0.15, "r": 0.005}
    for key, value in PUBLISHED.items():
        assert got[key] == pytest.approx(value, abs=tolerance[key]), key
    # The limits' intervals by the paper's rule (section 5): SE = sqrt(3 s^2 / n) = 16.3 with
    # the published s and n, t(16) = 2.12: -79.7 ± 34.6 and 75.5 ± 34.6.
    half = 2.12 * np.sqrt(3 * 38.8**2 / 17)
    assert got["loa_low_ci_low"] == pytest.approx(-79.7 - half, abs=0.3)
    assert got["loa_high_ci_high"] == pytest.approx(75.5 + half, abs=0.3)
    # The bias interval: -2.1 ± 2.12 * 38.8 / sqrt(17).
    assert got["bias_ci_low"] == pytest.approx(-2.1 - 2.12 * 38.8 / np.sqrt(17), abs=0.1)


def test_difference_is_measure_minus_reference():
    a = agreement(MINI, WRIGHT, k=2.0)
    b = agreement(WRIGHT, MINI, k=2.0)
    assert a["bias"] == pytest.approx(-b["bias"])
    assert a["loa_low"] == pytest.approx(-b["loa_high"])


def _simulated(rng, n, bias, sd, slope=0.0):
    truth = rng.normal(60, 10, n)
    vendor = truth + rng.normal(0, sd / np.sqrt(2), n)
    proxy = truth + bias + slope * (truth - 60) + rng.normal(0, sd / np.sqrt(2), n)
    return proxy, vendor


def test_simulation_recovers_the_true_bias_and_limits():
    """The intervals cover the true bias and limits about as often as they say (95 %)."""
    rng = np.random.default_rng(20251)
    bias, sd, n, reps = 1.5, 3.0, 120, 400
    low_true, high_true = bias - 1.96 * sd, bias + 1.96 * sd
    cover = {"bias": 0, "loa_low": 0, "loa_high": 0}
    biases = []
    for _ in range(reps):
        got = agreement(*_simulated(rng, n, bias, sd))
        biases.append(got["bias"])
        cover["bias"] += got["bias_ci_low"] <= bias <= got["bias_ci_high"]
        cover["loa_low"] += got["loa_low_ci_low"] <= low_true <= got["loa_low_ci_high"]
        cover["loa_high"] += got["loa_high_ci_low"] <= high_true <= got["loa_high_ci_high"]
    assert np.mean(biases) == pytest.approx(bias, abs=0.05)
    for key, hits in cover.items():
        # binomial SE of a 95 % coverage over 400 runs is 1.1 points
        assert 0.91 <= hits / reps <= 0.985, key


def test_simulation_finds_proportional_bias_only_when_there_is_some():
    rng = np.random.default_rng(7)
    flat = agreement(*_simulated(rng, 400, 0.0, 3.0))
    steep = agreement(*_simulated(rng, 400, 0.0, 3.0, slope=0.2))
    assert flat["slope_ci_low"] <= 0 <= flat["slope_ci_high"]
    assert steep["slope_ci_low"] > 0.1


def _scores(n_per_round: dict[str, int], seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for rnd, n in n_per_round.items():
        proxy, vendor = _simulated(rng, n, 1.0, 3.0)
        frames.append(pd.DataFrame({"round": rnd, "qwl": vendor, "qwl_proxy": proxy}))
    return pd.concat(frames, ignore_index=True)


def test_small_round_is_suppressed_and_left_out_of_the_total():
    scores = _scores({"T0": 40, "T1": 3, "T2": 30})
    before = scores.copy()
    table = agreement_table(
        scores, measure="qwl_proxy", reference="qwl", rounds=["T0", "T1", "T2"], min_n=5
    )
    pd.testing.assert_frame_equal(scores, before)  # input unchanged
    assert list(table.columns) == AGREEMENT_COLUMNS
    by_round = table.set_index("round")
    assert bool(by_round.loc["T1", "suppressed"])
    stats_cols = [c for c in AGREEMENT_COLUMNS if c not in (*AGREEMENT_IDENTIFYING, "suppressed")]
    assert "n" in stats_cols and "bias" in stats_cols
    assert by_round.loc["T1", stats_cols].isna().all()
    # The all-rounds row pools only the shown rounds: T1 cannot be worked out by subtraction.
    assert by_round.loc["all", "rounds"] == "T0 T2"
    assert by_round.loc["all", "n"] == 70
    assert not by_round.loc[["T0", "T2", "all"], "suppressed"].any()


def test_no_pairs_no_rows():
    scores = _scores({"T0": 20}).assign(qwl_proxy=np.nan)
    table = proxy_agreement_table(
        scores, pairs=[("qwl_proxy", "qwl")], rounds=["T0"], min_n=5, ci=0.95
    )
    assert table.empty and list(table.columns) == AGREEMENT_COLUMNS
    assert proxy_agreement_table(
        scores.drop(columns="qwl_proxy"), pairs=[("qwl_proxy", "qwl")], rounds=["T0"]
    ).empty


# ------------------------------------------------------------------------- the proxy measure


def test_qwl_defines_the_proxy_as_a_secondary_measure():
    assert QWL.proxy is not None and QWL.proxy.id == "qwl_proxy"
    assert QWL.measures[0] == "qwl"  # the vendor's index stays the instrument's score
    assert QWL.measures[-1] == "qwl_proxy"
    assert QWL.score_method == "column" and QWL.score_column == "qwl"


def test_proxy_is_the_mean_of_the_areas_when_all_five_are_answered():
    data = pd.DataFrame([[50, 60, 70, 80, 90], [50, 60, 70, 80, np.nan]], columns=AREAS)
    got = proxy_score(data, QWL)
    assert got.name == "qwl_proxy"
    assert got.iloc[0] == 70.0
    assert np.isnan(got.iloc[1])  # min_answered 5
    four = dataclasses.replace(QWL, proxy=dataclasses.replace(QWL.proxy, min_answered=4))
    assert proxy_score(data, four).iloc[1] == 65.0


def test_absent_area_columns_give_no_proxy_and_no_error():
    data = pd.DataFrame({"qwl": [60.0, 70.0], AREAS[0]: [50.0, 55.0]})
    got = proxy_score(data, QWL)
    assert got.isna().all() and len(got) == 2


@pytest.mark.parametrize(
    ("proxy", "message"),
    [
        ({"id": "qwl_proxy", "method": "median"}, "proxy.method"),
        ({"id": "qwl_proxy", "min_answered": 6}, "between 1 and 5"),
        ({"id": "qwl_leadership"}, "already a measure"),
        ({"id": "qwl_proxy", "of": "items"}, "proxy.of"),
        ({"id": "qwl_proxy", "weights": [1]}, "weights"),
    ],
)
def test_a_bad_proxy_names_the_file_and_key(tmp_path, proxy, message):
    raw = yaml.safe_load((DEFAULT_INSTRUMENTS / "qwl.yaml").read_text(encoding="utf-8"))
    raw["proxy"] = proxy
    path = tmp_path / "qwl.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_instrument(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_a_proxy_needs_parts(tmp_path):
    raw = yaml.safe_load((DEFAULT_INSTRUMENTS / "qwl.yaml").read_text(encoding="utf-8"))
    del raw["parts"]
    path = tmp_path / "qwl.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError, match="needs `parts`"):
        load_instrument(path)


@pytest.mark.parametrize(
    ("language", "words"), [("fi", ("proksi", "ei toimittajan")), ("en", ("proxy", "not"))]
)
def test_the_proxy_is_labelled_as_a_proxy_in_both_languages(language, words):
    labels = yaml.safe_load((DEFAULT_LABELS / f"{language}.yaml").read_text(encoding="utf-8"))
    text = labels["qwl_proxy"].lower()
    assert all(w in text for w in words)
    assert labels["qwl_proxy"] != labels["qwl"]
    for key in ("rep_proxy", "rep_proxy_note", "rep_proxy_summary", "proxy_agreement_note"):
        assert key in labels


def test_blandaltman_figure_draws_no_bin_of_fewer_than_min_n():
    from evaluation.report.plots import blandaltman_plot

    scores = _scores({"T0": 3000})
    table = agreement_table(scores, measure="qwl_proxy", reference="qwl", rounds=["T0"])
    row = table[table["round"] == "all"].iloc[0].to_dict()
    pairs = pd.DataFrame(
        {
            "mean": (scores["qwl_proxy"] + scores["qwl"]) / 2,
            "diff": scores["qwl_proxy"] - scores["qwl"],
        }
    )
    fig = blandaltman_plot(pairs, row, min_n=5)
    counts = fig.axes[0].collections[0].get_array()
    assert len(counts) and counts.min() >= 5
    assert [line.get_ydata()[0] for line in fig.axes[0].get_lines()][1] == pytest.approx(
        row["bias"]
    )
