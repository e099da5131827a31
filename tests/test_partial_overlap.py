"""The partially overlapping samples t-test (Derrick et al. 2017) and its place in prepost.csv.

Reference values:

- ``Partover.test`` example of the R package Partiallyoverlapping 2.0 (Derrick 2018; man page
  ``Partover.test``, taken from Derrick, Toher & White 2017, TQMP 13(2), 120-126): groups "a"
  and "b", ``var.equal = TRUE``: "p.value = 0.026". The published output is for T_new1 (equal
  variances); it checks the shared parts (means over all observations, the correlation of the
  pairs, the covariance term, the df) of the private ``_partover``, whose ``var_equal=False``
  branch is T_new2.
- Limits that must hold by the formulas (Derrick et al. 2017; Derrick, Toher & White 2019,
  "The performance of the partially overlapping samples t-tests at the limits"): with no pairs
  T_new2 is Welch's t with the Welch df (scipy ``ttest_ind(equal_var=False)``); with no
  unlinked observations it is the paired t with n - 1 df (scipy ``ttest_rel``).
- Simulation where the truth is known: type-I error under H0 and the coverage of the d_av_all
  interval.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluation.analyse.quant.effects import (
    PREPOST_COLUMNS,
    ROW_KEYS,
    _partial_overlap,
    _partover,
    family_sizes,
    paired_rows,
    partial_overlap_rows,
    prepost_table,
)
from tests.test_effects import KW, make_scores

# Partover.test example (R package Partiallyoverlapping 2.0, man/Partover.test.Rd).
A_UNPAIRED = np.array([20, 21, 16, 18, 14, 12, 14, 17], float)
A_PAIRED = np.array([14, 15, 18, 20, 11, 19, 14, 15], float)
B_UNPAIRED = np.array([10, 16, 18, 16, 15, 14, 13, 10], float)
B_PAIRED = np.array([15, 10, 15, 17, 13, 19, 12, 13], float)


def test_equal_variance_branch_matches_the_published_example():
    # Sample 1 = "a" (as the round), sample 2 = "b" (as the baseline).
    res = _partover(B_PAIRED, A_PAIRED, B_UNPAIRED, A_UNPAIRED, var_equal=True)
    assert res["p"] == pytest.approx(0.026, abs=5e-4)  # "p.value = 0.026"
    assert res["mean_r"] - res["mean_b"] == pytest.approx(2.0)  # 16.125 - 14.125
    # df of T_new1: (n12 - 1) + (na + nb + n12 - 1) / (na + nb + 2 n12) * (na + nb) = 18.5
    assert res["df"] == pytest.approx(7 + 23 / 32 * 16)


def test_t_new2_on_the_example_is_welch_type_and_close_to_t_new1():
    eq = _partover(B_PAIRED, A_PAIRED, B_UNPAIRED, A_UNPAIRED, var_equal=True)
    row = partial_overlap_rows(B_PAIRED, A_PAIRED, B_UNPAIRED, A_UNPAIRED).iloc[0]
    assert list(row.index) == ROW_KEYS
    assert (row["design"], row["test"], row["effect_size_type"]) == (
        "partial_overlap", "partial_overlap_t", "d_av_all",
    )  # fmt: skip
    assert row["n_baseline"] == row["n_round"] == 16
    # Nearly equal SDs (2.99, 2.78) and n: T_new2 within 0.01 of T_new1, df a little smaller.
    assert row["statistic"] == pytest.approx(eq["t"], abs=0.01)
    assert 7 < row["df"] < eq["df"]
    # Swapping the rounds flips the sign and nothing else.
    back = partial_overlap_rows(A_PAIRED, B_PAIRED, A_UNPAIRED, B_UNPAIRED).iloc[0]
    assert back["statistic"] == pytest.approx(-row["statistic"])
    assert back["p"] == pytest.approx(row["p"])
    assert back["effect_size"] == pytest.approx(-row["effect_size"])
    assert back["es_ci_low"] == pytest.approx(-row["es_ci_high"])


def test_without_pairs_it_is_welch():
    rng = np.random.default_rng(1)
    b, r = rng.normal(0, 1, 14), rng.normal(0.4, 2.5, 23)
    empty = np.array([])
    row = partial_overlap_rows(empty, empty, b, r).iloc[0]
    ref = stats.ttest_ind(r, b, equal_var=False)
    assert row["statistic"] == pytest.approx(ref.statistic, rel=1e-12)
    assert row["p"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert row["df"] == pytest.approx(ref.df, rel=1e-12)
    assert row["effect_size"] == pytest.approx(
        (r.mean() - b.mean()) / ((r.std(ddof=1) + b.std(ddof=1)) / 2)
    )


def test_without_unlinked_it_is_the_paired_t_and_d_av():
    rng = np.random.default_rng(2)
    b = rng.normal(0, 1, 17)
    r = 0.6 * b + rng.normal(0.3, 0.8, 17)
    empty = np.array([])
    row = partial_overlap_rows(b, r, empty, empty).iloc[0]
    ref = stats.ttest_rel(r, b)
    assert row["statistic"] == pytest.approx(ref.statistic, rel=1e-12)
    assert row["p"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert row["df"] == 16
    d_av = paired_rows(b, r).set_index("effect_size_type").loc["d_av"]
    for key in ("effect_size", "es_ci_low", "es_ci_high"):
        assert row[key] == pytest.approx(d_av[key], rel=1e-9), key


def test_one_pair_gives_no_test_and_inputs_are_not_modified():
    b_only, r_only = np.array([1.0, 2.0, 3.0, np.nan]), np.array([2.0, 3.0, 5.0])
    before = (b_only.copy(), r_only.copy())
    row = partial_overlap_rows([1.0], [2.0], b_only, r_only).iloc[0]
    assert row["n_baseline"] == 4 and row["n_round"] == 4  # the NaN is dropped
    assert math.isnan(row["statistic"]) and math.isnan(row["p"])
    np.testing.assert_array_equal(b_only, before[0])
    np.testing.assert_array_equal(r_only, before[1])
    with pytest.raises(ValueError, match="same length"):
        partial_overlap_rows([1.0, 2.0], [1.0], [], [])
    with pytest.raises(ValueError, match="ci"):
        partial_overlap_rows([1.0, 2.0], [1.0, 3.0], [], [], ci=1.5)


def _draw(rng, n12, n_r, n_b, rho, s_r, s_b, mu_r):
    z1 = rng.standard_normal(n12)
    z2 = rho * z1 + math.sqrt(1 - rho**2) * rng.standard_normal(n12)
    return (z1 * s_b, mu_r + z2 * s_r, rng.normal(0, s_b, n_b), rng.normal(mu_r, s_r, n_r))


def test_type_one_error_near_alpha_under_h0():
    # 2,000 replicates at alpha = 0.05: binomial SE = sqrt(.05 * .95 / 2000) = 0.0049; the
    # band 0.035-0.065 is about +-3 SE (and inside Bradley's liberal 0.025-0.075, the criterion
    # Derrick et al. 2017 use). Correlation 0.5, unequal variances and n.
    rng = np.random.default_rng(20251015)
    reps = 2000
    p = np.array([_partover(*_draw(rng, 20, 15, 15, 0.5, 1.0, 2.0, 0.0))["p"] for _ in range(reps)])
    rate = float((p < 0.05).mean())
    assert 0.035 <= rate <= 0.065, rate


@pytest.mark.parametrize(
    ("n12", "n_r", "n_b", "s_r", "s_b", "delta"),
    [(20, 15, 15, 1.0, 1.0, 0.5), (10, 30, 5, 1.0, 2.0, 0.8)],
)
def test_d_av_all_interval_covers_the_true_value(n12, n_r, n_b, s_r, s_b, delta):
    # True d_av_all = (mu_r - mu_b) / ((sigma_r + sigma_b) / 2) = delta. 1,000 replicates of a
    # 95% interval: SE of the coverage 0.0069; accept 0.93-0.97 (about +-3 SE).
    rng = np.random.default_rng(20251016)
    mu_r = delta * (s_r + s_b) / 2
    hits = 0
    for _ in range(1000):
        row = _partial_overlap(*_draw(rng, n12, n_r, n_b, 0.5, s_r, s_b, mu_r), 0.95)
        hits += row["es_ci_low"] <= delta <= row["es_ci_high"]
    assert 0.93 <= hits / 1000 <= 0.97, hits


# ---------------------------------------------------------------- in prepost.csv


@pytest.fixture(scope="module")
def scores() -> pd.DataFrame:
    return make_scores()


@pytest.fixture(scope="module")
def table(scores) -> pd.DataFrame:
    return prepost_table(scores, design="auto", **KW)


def test_partial_overlap_row_uses_every_respondent_of_the_group(scores, table):
    part = scores[(scores["organisation"] == "A") & (scores["unit"] == "north")]
    t0, t1 = part[part["round"] == "T0"], part[part["round"] == "T1"]
    linked = sorted(set(t0["respondent"].dropna()) & set(t1["respondent"].dropna()))
    b = t0.set_index("respondent").loc[linked, "qwl"].to_numpy()
    r = t1.set_index("respondent").loc[linked, "qwl"].to_numpy()
    expected = partial_overlap_rows(
        b, r, t0.loc[t0["respondent"].isna(), "qwl"], t1.loc[t1["respondent"].isna(), "qwl"]
    ).iloc[0]
    got = table[(table["measure"] == "qwl") & (table["group"] == "A / north")]
    row = got[got["design"] == "partial_overlap"]
    assert len(row) == 1
    row = row.iloc[0]
    assert row["population"] == "all" and row["test"] == "partial_overlap_t"
    assert row["n_baseline"] == len(t0) and row["n_round"] == len(t1)
    assert row["mean_baseline"] == pytest.approx(t0["qwl"].mean())
    for key in ("statistic", "df", "p", "effect_size", "es_ci_low", "es_ci_high"):
        assert row[key] == pytest.approx(expected[key]), key
    assert set(got.loc[got["design"] == "paired", "population"]) == {"linked"}
    assert set(got.loc[got["design"] == "independent", "population"]) == {"unlinked"}


def test_populations_when_everyone_or_no_one_is_linked(scores):
    linked = scores[scores["respondent"].notna()]
    out = prepost_table(linked, design="auto", **KW)
    assert "partial_overlap" not in set(out["design"])
    assert set(out["population"]) == {"all"}
    whole = out[(out["measure"] == "qwl") & (out["group_by"] == "all")]
    assert set(whole.loc[whole["test"] == "paired_t", "analysis"]) == {"primary"}
    assert set(whole.loc[whole["test"] == "wilcoxon", "analysis"]) == {"sensitivity"}
    anon = scores.assign(respondent=pd.Series(pd.NA, index=scores.index, dtype="string"))
    out = prepost_table(anon, design="auto", **KW)
    assert set(out["population"]) == {"all"}
    whole = out[(out["measure"] == "esis") & (out["group_by"] == "all")]
    assert set(whole.loc[whole["test"] == "welch_t", "analysis"]) == {"primary"}


def test_analysis_family_and_correction_rules(table):
    primary = table[table["analysis"] == "primary"]
    # One primary test per measure and round: the partially overlapping t of the whole study.
    assert set(primary["measure"]) == {"qwl", "esis"}
    assert set(primary["test"]) == {"partial_overlap_t"} and set(primary["group_by"]) == {"all"}
    assert (primary["family"] == "primary").all() and (primary["correction"] == "holm").all()
    assert primary["p_adjusted"].isna().all() and primary["p"].notna().all()
    assert (primary["family_size"] == 2).all()
    sens = table[table["analysis"] == "sensitivity"]
    assert set(sens["group_by"]) == {"all"}
    assert set(sens["population"]) == {"linked", "unlinked"}
    expl = table[table["analysis"] == "exploratory"]
    assert not (expl["group_by"] == "all").any()
    rest = table[table["analysis"] != "primary"]
    assert (rest["correction"] == "fdr_bh").all()
    own = rest["measure"] + ":" + rest["group_by"] + ":" + rest["test"] + ":" + rest["population"]
    assert (rest["family"] == own).all()
    # Only qwl / esis are primary by default; another list moves them.
    assert list(table.columns) == PREPOST_COLUMNS


def test_primary_measures_option(scores):
    out = prepost_table(scores, design="auto", primary_measures=["esis"], **KW)
    assert set(out.loc[out["analysis"] == "primary", "measure"]) == {"esis"}
    whole_qwl = out[(out["measure"] == "qwl") & (out["group_by"] == "all")]
    assert set(whole_qwl["analysis"]) == {"exploratory"}


def test_family_size_counts_published_tests(table):
    live = table[~table["suppressed"] & table["p"].notna()]
    keys = ["measure", "group_by", "group", "round", "test", "population"]
    for fam, part in table.groupby("family"):
        n = len(live[live["family"] == fam].drop_duplicates(keys))
        assert (part["family_size"] == n).all(), fam
    # After more rows are hidden (secondary suppression), the count follows.
    hidden = table.copy()
    first = hidden.index[(hidden["family"] == "qwl:unit:welch_t:unlinked") & ~hidden["suppressed"]][
        0
    ]
    hidden.loc[first, ["suppressed", "p"]] = [True, np.nan]
    before = int(table.loc[first, "family_size"])
    assert family_sizes(hidden).loc[first] == before - 1


def test_existing_rows_are_unchanged_by_the_new_rows(scores, table):
    """The paired and unlinked rows keep their numbers: only the new rows and columns differ
    (and p_adjusted / correction / family by the new family rules)."""
    stats_cols = ["n_baseline", "n_round", "mean_baseline", "mean_round", "diff", "statistic",
                  "df", "p", "effect_size", "es_ci_low", "es_ci_high", "suppressed"]  # fmt: skip
    paired = prepost_table(scores, design="paired", **KW)
    mine = table[table["design"] == "paired"].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine[stats_cols], paired[stats_cols])
