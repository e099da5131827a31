"""The declared primary family (``primary.csv``): selection, Holm over the joint family,
suppressed rows, missing tables.

Reference values
----------------
Holm (1979) by hand on the worked example of Wikipedia, "Holm–Bonferroni method", section
"Example": four hypotheses with p = 0.01, 0.04, 0.03, 0.005 at alpha = 0.05; H1 and H4 are
rejected, H2 and H3 are not. Adjusted p-values (sorted 0.005, 0.01, 0.03, 0.04):
4 x 0.005 = 0.02, 3 x 0.01 = 0.03, max(0.03, 2 x 0.03) = 0.06, max(0.06, 1 x 0.04) = 0.06,
i.e. 0.03, 0.06, 0.06, 0.02 in the order given (R: ``p.adjust(c(.01, .04, .03, .005),
"holm")``). Bonferroni: min(1, 4p) = 0.04, 0.16, 0.12, 0.02.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.analyse.quant.multiplicity import PRIMARY_COLUMNS, primary_table


def _pp(measure, rnd, p, *, test="welch_t", es="hedges_g", group_by="all", population="all",
        suppressed=False, n=(100.0, 90.0), diff=2.0):  # fmt: skip
    design = {"welch_t": "independent", "paired_t": "paired"}.get(test, "partial_overlap")
    row = {
        "measure": measure, "group_by": group_by, "group": "all" if group_by == "all" else "A",
        "round": rnd, "baseline": "T0", "design": design, "n_baseline": n[0], "n_round": n[1],
        "mean_baseline": 50.0, "mean_round": 50.0 + diff, "diff": diff, "test": test,
        "statistic": 2.0, "df": 100.0, "p": p, "p_adjusted": np.nan,
        "correction": "holm", "effect_size_type": es, "effect_size": 0.3, "es_ci_low": 0.1,
        "es_ci_high": 0.5, "suppressed": suppressed,
        "family": "primary" if group_by == "all" and population == "all" else "x",
        "population": population, "analysis": "primary", "family_size": np.nan,
    }  # fmt: skip
    if suppressed:
        for key in ("n_baseline", "n_round", "mean_baseline", "mean_round", "diff", "statistic",
                    "df", "p", "effect_size", "es_ci_low", "es_ci_high"):  # fmt: skip
            row[key] = np.nan
    return row


def _did(measure, rnd, p, *, analysis="primary", model="ols_wild_cluster_bootstrap",
         suppressed=False):  # fmt: skip
    return {
        "measure": measure, "term": "did", "round": rnd, "participant": np.nan,
        "estimate": np.nan if suppressed else 1.5, "ci_low": np.nan if suppressed else 0.2,
        "ci_high": np.nan if suppressed else 2.8, "p": np.nan if suppressed else p,
        "n": np.nan if suppressed else 400, "n_clusters": 12, "model": model,
        "level": "organisation", "suppressed": suppressed, "population": "all",
        "analysis": analysis,
    }  # fmt: skip


def test_holm_over_the_joint_family_matches_the_worked_example():
    # H1..H4 of the example: two pre/post changes and two DiDs of one measure, two rounds.
    prepost = pd.DataFrame([_pp("qwl", "T1", 0.01), _pp("qwl", "T2", 0.04)])
    lmm = pd.DataFrame([_did("qwl", "T1", 0.03), _did("qwl", "T2", 0.005)])
    out = primary_table(prepost, lmm, measures=["qwl"], rounds=["T0", "T1", "T2"], baseline="T0")
    assert list(out.columns) == PRIMARY_COLUMNS
    assert list(zip(out["comparison"], out["round"], strict=True)) == [
        ("change", "T1"), ("change", "T2"), ("did", "T1"), ("did", "T2")
    ]  # fmt: skip
    np.testing.assert_allclose(out["p_adjusted"], [0.03, 0.06, 0.06, 0.02], rtol=1e-12)
    assert list(out["p_adjusted"] <= 0.05) == [True, False, False, True]  # H1, H4 rejected
    assert (out["family_size"] == 4).all() and (out["family"] == "primary").all()
    assert (out["correction"] == "holm").all()
    assert list(out["source"]) == ["prepost", "prepost", "lmm", "lmm"]
    assert list(out["method"]) == ["welch_t", "welch_t", *["ols_wild_cluster_bootstrap"] * 2]
    bonf = primary_table(prepost, lmm, measures=["qwl"], correction="bonferroni")
    np.testing.assert_allclose(bonf["p_adjusted"], [0.04, 0.16, 0.12, 0.02], rtol=1e-12)
    from statsmodels.stats.multitest import multipletests

    holm = multipletests([0.01, 0.04, 0.03, 0.005], method="holm")[1]
    np.testing.assert_allclose(out["p_adjusted"], holm, rtol=1e-15)


def test_only_primary_rows_enter_the_family():
    prepost = pd.DataFrame(
        [
            _pp("qwl", "T1", 0.01),
            _pp("qwl", "T1", 0.2, test="mann_whitney_u", es="rank_biserial"),
            _pp("qwl", "T1", 0.001, group_by="unit"),
            _pp("qwl", "T1", 0.002, population="linked", test="paired_t", es="d_z"),
            _pp("esis", "T1", 0.03),
            _pp("esis_osa", "T1", 0.0001),  # not a primary measure
        ]
    )
    lmm = pd.DataFrame(
        [
            _did("qwl", "T1", 0.04),
            _did("qwl", "T1", 0.5, analysis="sensitivity", model="mixedlm_reml"),
            {**_did("qwl", "T1", 0.5), "term": "mean"},
        ]
    )
    out = primary_table(prepost, lmm, measures=["esis", "qwl"])
    assert list(zip(out["measure"], out["comparison"], strict=True)) == [
        ("esis", "change"), ("qwl", "change"), ("qwl", "did")
    ]  # fmt: skip
    assert (out["family_size"] == 3).all()
    # Holm over 0.03, 0.01, 0.04: 0.03 * 2 = 0.06, 0.01 * 3 = 0.03, max(0.06, 0.04) = 0.06
    np.testing.assert_allclose(out["p_adjusted"], [0.06, 0.03, 0.06])


def test_change_row_carries_the_prepost_numbers_and_one_effect_size_per_test():
    paired = [
        _pp("qwl", "T1", 0.01, test="paired_t", es="d_z", n=(40.0, 40.0)),
        {**_pp("qwl", "T1", 0.01, test="paired_t", es="d_av", n=(40.0, 40.0)), "effect_size": 0.2},
    ]
    out = primary_table(pd.DataFrame(paired), None, measures=["qwl"])
    assert len(out) == 1 and out["family_size"].iloc[0] == 1
    row = out.iloc[0]
    assert row["effect_size_type"] == "d_av" and row["effect_size"] == 0.2
    assert row["n"] == 80 and row["n_baseline"] == 40 and row["estimate"] == 2.0
    assert np.isnan(row["ci_low"]) and row["es_ci_low"] == 0.1 and row["design"] == "paired"
    assert row["p_adjusted"] == pytest.approx(0.01)


def test_suppressed_rows_stay_empty_and_out_of_the_family():
    prepost = pd.DataFrame([_pp("qwl", "T1", 0.01), _pp("qwl", "T2", np.nan, suppressed=True)])
    lmm = pd.DataFrame([_did("qwl", "T1", 0.02), _did("qwl", "T2", np.nan, suppressed=True)])
    out = primary_table(prepost, lmm, measures=["qwl"])
    assert len(out) == 4
    hidden = out[out["suppressed"]]
    assert list(zip(hidden["comparison"], hidden["round"], strict=True)) == [
        ("change", "T2"), ("did", "T2")
    ]  # fmt: skip
    stats = ["n", "estimate", "ci_low", "effect_size", "p", "p_adjusted"]
    assert hidden[stats].isna().all().all()
    assert (out["family_size"] == 2).all()
    np.testing.assert_allclose(out.loc[~out["suppressed"], "p_adjusted"], [0.02, 0.02])


def test_a_suppressed_flag_read_from_csv_text_is_honoured():
    row = {**_pp("qwl", "T1", 0.01), "suppressed": "true"}
    out = primary_table(pd.DataFrame([row]), None, measures=["qwl"])
    assert out["suppressed"].all() and out["p"].isna().all() and (out["family_size"] == 0).all()


def test_single_round_study_or_no_model_gives_change_rows_or_an_empty_table():
    prepost = pd.DataFrame([_pp("qwl", "T1", 0.01)])
    only_change = primary_table(prepost, None, measures=["qwl"])
    assert list(only_change["comparison"]) == ["change"]
    assert only_change["p_adjusted"].iloc[0] == pytest.approx(0.01)
    empty = primary_table(prepost.iloc[0:0], pd.DataFrame(), measures=["qwl"])
    assert empty.empty and list(empty.columns) == PRIMARY_COLUMNS
    assert primary_table(None, None, measures=["qwl"]).empty
    lmm = pd.DataFrame([_did("qwl", "T1", 0.03)])
    assert list(primary_table(prepost, lmm, measures=["qwl"], comparisons=["did"])["source"]) == [
        "lmm"
    ]


def test_two_primary_tests_for_one_round_are_refused():
    prepost = pd.DataFrame([_pp("qwl", "T1", 0.01), _pp("qwl", "T1", 0.02, test="paired_t")])
    with pytest.raises(ValueError, match="more than one primary pre/post test for qwl T1"):
        primary_table(prepost, None, measures=["qwl"])
    lmm = pd.DataFrame([_did("qwl", "T1", 0.01), _did("qwl", "T1", 0.02)])
    with pytest.raises(ValueError, match="more than one primary DiD row"):
        primary_table(None, lmm, measures=["qwl"])


def test_options_are_checked_and_inputs_not_modified():
    prepost = pd.DataFrame([_pp("qwl", "T1", 0.01)])
    before = prepost.copy()
    with pytest.raises(ValueError, match="comparisons"):
        primary_table(prepost, None, measures=["qwl"], comparisons=["trend"])
    with pytest.raises(ValueError, match="correction"):
        primary_table(prepost, None, measures=["qwl"], correction="fdr_bh")
    primary_table(prepost, None, measures=["qwl"])
    pd.testing.assert_frame_equal(prepost, before)


def test_family_wise_error_rate_under_the_null_by_simulation():
    # Truth known: every null hypothesis true, p uniform and independent. Holm keeps
    # P(any p_adj <= .05) at or under .05 (m = 6: 1 - (1 - .05/6)^6 = .049); unadjusted it
    # would be 1 - .95^6 = .265. 150 families (each a whole table: kept small for speed):
    # expected 7.4 hits (SD 2.6) with Holm, 40 without.
    rng = np.random.default_rng(20251015)
    hits = 0
    for _ in range(150):
        p = rng.uniform(size=6)
        prepost = pd.DataFrame([_pp("qwl", f"T{i}", p[i - 1]) for i in range(1, 4)])
        lmm = pd.DataFrame([_did("qwl", f"T{i}", p[i + 2]) for i in range(1, 4)])
        out = primary_table(prepost, lmm, measures=["qwl"])
        assert (out["family_size"] == 6).all()
        hits += bool((out["p_adjusted"] <= 0.05).any())
    assert 1 <= hits <= 18
