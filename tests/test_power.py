"""Minimum detectable effects against Cohen's (1988) tables and G*Power, and power.csv.

References:
- Cohen, J. (1988). Statistical Power Analysis for the Behavioral Sciences, 2nd ed., Table
  2.4.1 (n per group for the two-sample t test, two-sided alpha = .05, power = .80):
  d = .20 -> 393, d = .50 -> 64, d = .80 -> 26.
- G*Power 3 (Faul et al. 2007), "Means: difference from constant (one sample case)" / matched
  pairs, two-sided alpha = .05, power = .80, d_z = .5 -> total n = 34 (actual power .808).
- Kish, L. (1965). Survey Sampling: deff = 1 + (m - 1) * icc.
- Eldridge, Ashby & Kerry (2006), Int J Epidemiol 35:1292-1300: deff = 1 + ((cv^2 + 1) m - 1)
  icc. The nested (three-level) design effect and the change-score ICCs are tested in
  test_power_design.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.analyse.quant.power import (
    DEFF_COLUMNS,
    MDE_INDEPENDENT_COLUMNS,
    MDE_PAIRED_COLUMNS,
    POWER_COLUMNS,
    design_effect,
    mde_independent,
    mde_paired,
    power_table,
)


def mde_i(*args, **kwargs) -> float:
    """The MDE of :func:`mde_independent` (a one-row frame) as a float."""
    res = mde_independent(*args, **kwargs)
    assert list(res.columns) == MDE_INDEPENDENT_COLUMNS and len(res) == 1
    return res["mde_standardized"].item()


def mde_p(*args, **kwargs) -> float:
    res = mde_paired(*args, **kwargs)
    assert list(res.columns) == MDE_PAIRED_COLUMNS and len(res) == 1
    return res["mde_standardized"].item()


def deff(*args, **kwargs) -> float:
    res = design_effect(*args, **kwargs)
    assert list(res.columns) == DEFF_COLUMNS and len(res) == 1
    return res["deff"].item()


@pytest.mark.parametrize(("n", "d"), [(393, 0.20), (64, 0.50), (26, 0.80)])
def test_mde_independent_matches_cohen_table(n, d):
    assert mde_i(n, n) == pytest.approx(d, abs=0.01)


@pytest.mark.parametrize(("n", "d"), [(64, 0.50), (26, 0.80)])
def test_mde_independent_brackets_the_exact_sample_size(n, d):
    # the exact (noncentral t) n per group is 64 for d = .5 and 26 for d = .8 (G*Power agrees
    # with Cohen here; for d = .2 Cohen's 393 comes from an approximation, exact is 394), so
    # the MDE at n is at most d and at n - 1 above d
    assert mde_i(n, n) <= d < mde_i(n - 1, n - 1)


def test_mde_paired_matches_gpower():
    assert mde_p(34) == pytest.approx(0.5, abs=0.01)
    assert mde_p(34) <= 0.5 < mde_p(33)


def test_design_effect_arithmetic_and_effective_n():
    assert deff(21, 0.05) == pytest.approx(2.0)
    assert deff(1, 0.3) == 1.0
    assert deff(11, 0.0) == 1.0
    # deff = 2 halves the effective sample
    assert mde_i(128, 128, deff=2.0) == pytest.approx(mde_i(64, 64))
    assert mde_p(68, deff=2.0) == pytest.approx(mde_p(34))
    with pytest.raises(ValueError):
        deff(10, -0.1)
    with pytest.raises(ValueError):
        deff(0.5, 0.1)


def test_mde_shrinks_with_n_and_grows_with_power_and_stricter_alpha():
    assert mde_i(200, 200) < mde_i(50, 50)
    assert mde_i(50, 50, power=0.9) > mde_i(50, 50)
    assert mde_i(50, 50, alpha=0.01) > mde_i(50, 50)
    assert np.isnan(mde_i(1, 1)) and np.isnan(mde_p(1))
    with pytest.raises(ValueError):
        mde_i(10, 10, alpha=1.5)


def make_scores(seed: int = 0) -> pd.DataFrame:
    """Three organisations (one tiny) of two actors, T0 and T1; half the T1 codes link to T0."""
    rng = np.random.default_rng(seed)
    rows = []
    sizes = {"A": 30, "B": 20, "C": 3}
    actors = {"A": "X", "B": "X", "C": "Y"}
    for rnd in ("T0", "T1"):
        for org, size in sizes.items():
            for i in range(size):
                linked = rnd == "T0" or i % 2 == 0
                rows.append(
                    {
                        "round": rnd,
                        "organisation": org,
                        "unit": f"u{i % 2}",
                        "respondent": f"{org}{i}" if linked else "",
                        "actor": actors[org],
                        "qwl": rng.normal(60 + (rnd == "T1") * 3, 10),
                    }
                )
    return pd.DataFrame(rows)


def test_power_table_rows_counts_and_raw_units():
    scores = make_scores()
    before = scores.copy(deep=True)
    table = power_table(
        scores,
        measures=["qwl"],
        rounds=["T0", "T1", "T2"],
        baseline="T0",
        group_bys=["all", "organisation"],
        icc={"qwl": 0.05},
    )
    pd.testing.assert_frame_equal(scores, before)
    assert list(table.columns) == POWER_COLUMNS
    assert set(table["latest_round"]) == {"T1"}
    allrow = table[(table["group_by"] == "all") & (table["design"] == "independent")].iloc[0]
    assert allrow["n_baseline"] == 53 and allrow["n_next"] == 53 and allrow["n_clusters"] == 3
    # three organisations of 30, 20 and 3: Eldridge's CV adjustment (float ICC = one level)
    cv = np.std([30, 20, 3]) / np.mean([30, 20, 3])
    assert allrow["deff"] == pytest.approx(deff(53 / 3, 0.05, cv=cv))
    assert allrow["deff"] == pytest.approx(1 + ((900 + 400 + 9) / 53 - 1) * 0.05)
    assert allrow["mde_standardized"] == pytest.approx(mde_i(53, 53, deff=allrow["deff"]))
    t0 = scores.loc[scores["round"] == "T0", "qwl"].to_numpy()
    t1 = scores.loc[scores["round"] == "T1", "qwl"].to_numpy()
    sd = np.sqrt((52 * t0.var(ddof=1) + 52 * t1.var(ddof=1)) / 104)
    assert allrow["sd"] == pytest.approx(sd)
    assert allrow["mde_raw"] == pytest.approx(allrow["mde_standardized"] * sd)
    paired = table[(table["group_by"] == "all") & (table["design"] == "paired")].iloc[0]
    assert paired["n_baseline"] == paired["n_next"] == 15 + 10 + 2
    assert paired["effect_size_type"] == "d_z"
    # one organisation = one cluster: no design effect
    org_a = table[(table["group"] == "A") & (table["design"] == "independent")].iloc[0]
    assert org_a["deff"] == 1.0 and org_a["n_next"] == 30


def test_small_groups_suppressed_with_statistics_empty():
    table = power_table(
        make_scores(),
        measures=["qwl"],
        rounds=["T0", "T1"],
        baseline="T0",
        group_bys=["organisation", "actor"],
    )
    small = table[table["group"].isin(["C", "Y"])]
    assert len(small) == 6 and small["suppressed"].all()  # independent, paired, overlap
    stats = ["n_baseline", "n_next", "n_clusters", "deff", "mde_standardized", "sd", "mde_raw"]
    assert small[stats].isna().all().all()
    assert not table.loc[~table["group"].isin(["C", "Y"]), "suppressed"].any()


def test_only_baseline_collected_plans_from_the_baseline():
    scores = make_scores()
    scores = scores[scores["round"] == "T0"]
    table = power_table(
        scores, measures=["qwl"], rounds=["T0", "T1"], baseline="T0", group_bys=["all"]
    )
    assert list(table["design"]) == ["independent"]
    row = table.iloc[0]
    assert row["latest_round"] == "T0" and row["n_next"] == row["n_baseline"] == 53
    assert np.isnan(row["icc"]) and row["deff"] == 1.0
    assert row["sd"] == pytest.approx(scores["qwl"].std(ddof=1))


def test_partial_overlap_rows_use_the_linked_answers_correlation():
    """The all-respondent (partially overlapping) MDE: Var(mean_r - mean_b) = sigma^2
    (deff_b/n_b + deff/n_r - 2 rho n_c/(n_b n_r)) (Derrick et al. 2017's variance of the
    difference of the two samples' means), as two equal independent samples of
    n_e = 2 / that factor. Positively correlated pairs make it smaller than the independent
    MDE of the same samples; without a design effect and with rho from the data it is exact."""
    rng = np.random.default_rng(5)
    rows = []
    for i in range(120):
        person = rng.normal(0, 8)
        for rnd in ("T0", "T1"):
            linked = i < 60
            if not linked and rnd == "T1":
                person = rng.normal(0, 8)  # a different person in T1
            rows.append(
                {
                    "round": rnd,
                    "organisation": "A",
                    "unit": "u",
                    "respondent": f"p{i}" if linked else "",
                    "qwl": 60 + person + rng.normal(0, 4),
                }
            )
    scores = pd.DataFrame(rows)
    table = power_table(
        scores, measures=["qwl"], rounds=["T0", "T1"], baseline="T0", group_bys=["all"]
    )
    ind = table[table["design"] == "independent"].iloc[0]
    over = table[table["design"] == "partial_overlap"].iloc[0]
    assert over["effect_size_type"] == "d_av_all" and over["deff"] == 1.0
    linked = scores[scores["respondent"] != ""].pivot(index="respondent", columns="round")
    rho = np.corrcoef(linked[("qwl", "T0")], linked[("qwl", "T1")])[0, 1]
    assert rho > 0.6
    n_e = 2 / (1 / 120 + 1 / 120 - 2 * rho * 60 / 120**2)
    assert over["mde_standardized"] == pytest.approx(mde_i(n_e, n_e))
    assert over["mde_standardized"] < ind["mde_standardized"]
    # everyone linked: no partially overlapping row (the paired row is the whole sample)
    all_linked = scores[scores["respondent"] != ""]
    table = power_table(
        all_linked, measures=["qwl"], rounds=["T0", "T1"], baseline="T0", group_bys=["all"]
    )
    assert "partial_overlap" not in set(table["design"])
