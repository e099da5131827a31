"""Tests of evaluation.analyse.quant.effects against published values, simulation and the contract.

Reference values and their sources: tests/fixtures/published_effects.yaml.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests

from evaluation.analyse.quant.effects import (
    HEDGES_G_COLUMNS,
    PREPOST_COLUMNS,
    PREPOST_IDENTIFYING,
    ROW_KEYS,
    _mann_whitney_asymptotic,
    _signed_rank_asymptotic,
    adjust_p,
    combine_cells,
    d_av_interval,
    hedges_g_with_variance,
    hedges_j,
    independent_rows,
    paired_rows,
    prepost_summary_table,
    prepost_table,
    summary_rows,
)

FIXTURES = Path(__file__).parent / "fixtures"
REF = yaml.safe_load((FIXTURES / "published_effects.yaml").read_text(encoding="utf-8"))


def records(frame: pd.DataFrame) -> list[dict]:
    """A result frame as row dicts (every estimator returns a DataFrame with ROW_KEYS)."""
    assert list(frame.columns) == ROW_KEYS
    return frame.to_dict("records")


def by(rows: pd.DataFrame | list[dict], test: str, es: str) -> dict:
    if isinstance(rows, pd.DataFrame):
        rows = records(rows)
    (row,) = [r for r in rows if r["test"] == test and r["effect_size_type"] == es]
    return row


# --------------------------------------------------------------------------- R: sleep data

SLEEP = REF["sleep"]
G1, G2 = np.array(SLEEP["group1"]), np.array(SLEEP["group2"])


def test_welch_matches_r_t_test_on_sleep():
    # R reports group 1 minus group 2: group 1 is the "round", group 2 the "baseline".
    row = by(independent_rows(G2, G1), "welch_t", "hedges_g")
    ref = SLEEP["welch"]
    assert row["statistic"] == pytest.approx(ref["t"], abs=5e-5)
    assert row["df"] == pytest.approx(ref["df"], abs=5e-4)
    assert row["p"] == pytest.approx(ref["p"], abs=5e-6)
    assert row["mean_round"] == pytest.approx(ref["mean_group1"])
    assert row["mean_baseline"] == pytest.approx(ref["mean_group2"])
    assert row["diff"] == pytest.approx(ref["mean_group1"] - ref["mean_group2"])


def test_paired_t_matches_r_t_test_on_sleep():
    rows = paired_rows(G2, G1)
    ref = SLEEP["paired"]
    for es in ("d_z", "d_av"):
        row = by(rows, "paired_t", es)
        assert row["statistic"] == pytest.approx(ref["t"], abs=5e-5)
        assert row["df"] == ref["df"]
        assert row["p"] == pytest.approx(ref["p"], abs=5e-7)


def test_mann_whitney_matches_r_wilcox_test_on_sleep():
    row = by(independent_rows(G2, G1), "mann_whitney_u", "rank_biserial")
    ref = SLEEP["mann_whitney"]
    assert row["statistic"] == ref["W"]  # R's W is U of its first sample (here the round)
    assert row["p"] == pytest.approx(ref["p"], abs=5e-6)
    assert row["effect_size"] == pytest.approx(2 * ref["W"] / 100 - 1)
    # pingouin's RBC has the same orientation when the round is passed first.
    assert row["effect_size"] == pytest.approx(pg.mwu(G1, G2)["RBC"].iloc[0])


likert = st.integers(1, 5).map(float)  # few values: many ties, as in survey answers
decimal = st.floats(-100, 100, allow_nan=False).map(lambda x: round(x, 2))


@settings(deadline=None, max_examples=200)
@given(
    st.lists(st.one_of(likert, decimal), min_size=1, max_size=60),
    st.lists(st.one_of(likert, decimal), min_size=1, max_size=60),
)
def test_mann_whitney_from_sorted_samples_is_scipy_s_asymptotic_test(x, y):
    """Our U and p (binary search in sorted samples) against scipy's rank-based ones, with
    ties, without, one value each, all values equal."""
    x, y = np.array(x), np.array(y)
    res = stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic")
    u, p = _mann_whitney_asymptotic(x, y)
    assert u == res.statistic
    assert p == pytest.approx(res.pvalue, rel=1e-12, abs=1e-300, nan_ok=True)


def test_mann_whitney_from_sorted_samples_at_survey_size():
    rng = np.random.default_rng(17)
    for x, y in [
        (rng.integers(1, 6, 40_000) / 1.0, rng.integers(1, 6, 30_000) / 1.0),
        (rng.normal(0, 1, 50_000), rng.normal(0.01, 1, 20_000)),
        (rng.integers(0, 21, 60_000) / 4, rng.integers(0, 21, 61_000) / 4 + 0.25),
    ]:
        res = stats.mannwhitneyu(x, y, alternative="two-sided", method="asymptotic")
        u, p = _mann_whitney_asymptotic(x, y)
        assert u == res.statistic
        assert p == pytest.approx(res.pvalue, rel=1e-9, abs=1e-300)


@settings(deadline=None, max_examples=200)
@given(st.lists(st.one_of(likert.map(lambda x: x - 3), decimal), min_size=1, max_size=60))
def test_signed_rank_from_one_sort_is_scipy_s_asymptotic_wilcoxon(d):
    """W+ and p from the sorted |D| against scipy's rank-based test, bit for bit: with ties,
    without, one difference, all differences equal (zeros are dropped before, as in the
    pre-post table)."""
    nz = np.array([x for x in d if x != 0] or [1.0])
    res = stats.wilcoxon(nz, zero_method="wilcox", correction=True, method="asymptotic")
    ranks = stats.rankdata(np.abs(nz))
    w_plus, p, ties = _signed_rank_asymptotic(nz)
    assert w_plus == float(ranks[nz > 0].sum())
    assert p == float(res.pvalue)
    assert ties == (len(np.unique(np.abs(nz))) < len(nz))


def test_signed_rank_from_one_sort_at_survey_size():
    rng = np.random.default_rng(23)
    for d in (rng.integers(-4, 5, 30_000) / 1.0, rng.normal(0.01, 1, 20_000)):
        nz = d[d != 0]
        res = stats.wilcoxon(nz, zero_method="wilcox", correction=True, method="asymptotic")
        w_plus, p, _ = _signed_rank_asymptotic(nz)
        assert w_plus == float(stats.rankdata(np.abs(nz))[nz > 0].sum())
        assert p == pytest.approx(res.pvalue, rel=1e-12, abs=1e-300)


def test_wilcoxon_matches_r_wilcox_test_paired_on_sleep():
    row = by(paired_rows(G2, G1), "wilcoxon", "rank_biserial")
    ref = SLEEP["wilcoxon_paired"]
    assert row["statistic"] == ref["V"]  # W+ of round - baseline = R's V
    assert row["p"] == pytest.approx(ref["p"], abs=5e-7)
    assert row["effect_size"] == -1.0  # every patient slept more on drug 2 (the baseline)
    # Reversed roles: W+ is then the whole rank sum of the 9 non-zero differences.
    rev = by(paired_rows(G1, G2), "wilcoxon", "rank_biserial")
    assert rev["statistic"] == 45 and rev["effect_size"] == 1.0
    assert rev["p"] == pytest.approx(row["p"])
    assert rev["es_ci_high"] == 1.0 and -1 < rev["es_ci_low"] < 1


# --------------------------------------------------------------------------- Lakens (2013)

LAK = REF["lakens2013"]
M1, M2 = np.array(LAK["movie_1"], float), np.array(LAK["movie_2"], float)


def test_independent_effect_sizes_match_lakens_2013():
    ref = LAK["independent"]
    rows = independent_rows(M2, M1)  # movie 1 rated higher: the "round"
    row = by(rows, "welch_t", "hedges_g")
    assert round(row["statistic"], 2) == ref["t"]  # equal n: Welch t = Student t
    assert round(row["p"], 3) == ref["p"]
    assert round(row["effect_size"], 2) == ref["g_s"]
    assert round(row["effect_size"] / hedges_j(ref["df"]), 2) == ref["d_s"]
    assert [round(row["es_ci_low"], 2), round(row["es_ci_high"], 2)] == ref["d_s_ci"]


def test_paired_effect_sizes_match_lakens_2013():
    ref = LAK["paired"]
    rows = paired_rows(M2, M1)
    dz, dav = by(rows, "paired_t", "d_z"), by(rows, "paired_t", "d_av")
    assert round(dz["statistic"], 2) == ref["t"]
    assert dz["df"] == ref["df"]
    assert round(dz["p"], 3) == ref["p"]
    assert dz["effect_size"] == pytest.approx(ref["d_z"], abs=5e-3)
    assert round(dav["effect_size"], 2) == ref["d_av"]
    assert round(dav["effect_size"] * hedges_j(ref["df"] * 2), 2) == ref["g_av"]
    # Lakens' interval came from ESCI, which standardises by the root-mean-square SD; the
    # package uses (s1 + s2) / 2 (his eq. 10), which moves the upper limit by < 0.01.
    assert dav["es_ci_low"] == pytest.approx(ref["d_av_ci"][0], abs=0.01)
    assert dav["es_ci_high"] == pytest.approx(ref["d_av_ci"][1], abs=0.01)
    d = M1 - M2
    rms = math.sqrt((M1.var(ddof=1) + M2.var(ddof=1)) / 2)
    lo, hi = d_av_interval(dz["statistic"], len(d), d.std(ddof=1), rms, 0.95)
    assert [round(lo, 2), round(hi, 2)] == ref["d_av_ci"]


def test_summary_rows_agree_with_raw_data():
    raw = by(independent_rows(M2, M1), "welch_t", "hedges_g")
    (summ,) = records(
        summary_rows(len(M2), M2.mean(), M2.std(ddof=1), len(M1), M1.mean(), M1.std(ddof=1))
    )
    assert summ.keys() == raw.keys()
    for key in ROW_KEYS:
        if isinstance(raw[key], float):
            assert summ[key] == pytest.approx(raw[key], rel=1e-12), key
        else:
            assert summ[key] == raw[key], key


# --------------------------------------------------------------------------- Hedges' J, variance


def test_hedges_j_exact_and_approximation():
    ref = REF["hedges_j"]
    assert hedges_j(ref["df"]) == pytest.approx(ref["j"], abs=5e-5)
    assert hedges_j(4000) == pytest.approx(1 - 3 / (4 * 4000 - 1), rel=1e-8)
    assert math.isnan(hedges_j(1))


def test_hedges_g_and_variance_match_borenstein_2009():
    ref = REF["borenstein2009"]
    t, c = ref["treated"], ref["control"]
    res = hedges_g_with_variance(c["n"], c["mean"], c["sd"], t["n"], t["mean"], t["sd"])
    assert list(res.columns) == HEDGES_G_COLUMNS and len(res) == 1
    res = res.iloc[0]
    assert res["effect_size_type"] == "hedges_g"
    assert res["effect_size"] == pytest.approx(ref["g"], abs=1e-4)
    assert res["variance"] == pytest.approx(ref["v_g"], abs=1e-4)
    assert math.sqrt(res["variance"]) == pytest.approx(ref["se_g"], abs=1e-4)
    g = res["effect_size"]
    (row,) = records(summary_rows(c["n"], c["mean"], c["sd"], t["n"], t["mean"], t["sd"]))
    assert row["effect_size"] == pytest.approx(g, rel=1e-12)
    assert hedges_j(98) == pytest.approx(ref["j"], abs=1e-4)


# --------------------------------------------------------------------------- rank-biserial (Kerby)


def test_rank_biserial_tortoise_and_hare():
    ref = REF["tortoise_hare"]
    order = ref["finish_order"]
    speed = {i: len(order) - i for i in range(len(order))}  # first home = fastest = highest
    hares = [speed[i] for i, a in enumerate(order) if a == "H"]
    tortoises = [speed[i] for i, a in enumerate(order) if a == "T"]
    row = by(independent_rows(tortoises, hares), "mann_whitney_u", "rank_biserial")
    assert row["statistic"] == ref["u_hares"]
    assert row["effect_size"] == pytest.approx(2 * ref["u_hares"] / 36 - 1)
    rev = by(independent_rows(hares, tortoises), "mann_whitney_u", "rank_biserial")
    assert rev["statistic"] == ref["u_tortoises"]
    assert rev["effect_size"] == pytest.approx(-row["effect_size"])


def test_rank_biserial_simple_difference_90_of_100():
    ref = REF["hare_90_of_100"]
    hares = np.arange(10, 20, dtype=float)  # beat the 9 slow tortoises: 90 pairs
    tortoises = np.r_[np.arange(9, dtype=float), 100.0]  # one tortoise beats all 10 hares
    row = by(independent_rows(tortoises, hares), "mann_whitney_u", "rank_biserial")
    assert row["statistic"] == ref["favourable_pairs"]
    assert row["effect_size"] == pytest.approx(ref["r"])


def test_matched_pairs_rank_biserial_signed_rank_example():
    ref = REF["signed_rank_example"]
    row = by(paired_rows(ref["x1"], ref["x2"]), "wilcoxon", "rank_biserial")
    assert row["statistic"] == ref["w_plus"]
    assert row["effect_size"] == pytest.approx(ref["r"])
    assert row["n_baseline"] == row["n_round"] == 10  # the zero pair is counted in n


# --------------------------------------------------------------------------- what libraries report


def test_pingouin_paired_cohen_d_is_not_d_z():
    """pingouin's paired 'cohen_d' divides by the RMS of the two SDs; it ignores the pairing."""
    rows = paired_rows(G2, G1)
    dz = by(rows, "paired_t", "d_z")["effect_size"]
    dav = by(rows, "paired_t", "d_av")["effect_size"]
    res = pg.ttest(G1, G2, paired=True)
    col = "cohen_d" if "cohen_d" in res else "cohen-d"
    pg_d = abs(float(res[col].iloc[0]))  # pingouin reports |d| in ttest
    pg_es = pg.compute_effsize(G1, G2, paired=True, eftype="cohen")
    rms = (G1.mean() - G2.mean()) / math.sqrt((G1.var(ddof=1) + G2.var(ddof=1)) / 2)
    assert pg_es == pytest.approx(rms)
    assert pg_d == pytest.approx(abs(rms))
    assert abs(dz) > 1.5 * pg_d  # d_z = 1.28 vs 0.83: the correlation between drugs is ~0.8
    assert dz == pytest.approx((G1 - G2).mean() / (G1 - G2).std(ddof=1))
    assert dav != pytest.approx(pg_es, abs=1e-4)  # (s1+s2)/2 vs RMS: close, not equal
    assert dav == pytest.approx(pg_es, abs=5e-3)


def test_scipy_two_sided_wilcoxon_statistic_is_min_not_w_plus():
    x1, x2 = REF["signed_rank_example"]["x1"], REF["signed_rank_example"]["x2"]
    res = stats.wilcoxon(np.subtract(x2, x1))
    assert res.statistic == 18  # min(W+, W-)
    assert by(paired_rows(x1, x2), "wilcoxon", "rank_biserial")["statistic"] == 27


# --------------------------------------------------------------------------- sign convention


def test_round_higher_gives_positive_differences_and_effect_sizes():
    rng = np.random.default_rng(3)
    base = rng.normal(50, 10, 40)
    other = base + 8 + rng.normal(0, 5, 40)
    for row in records(independent_rows(base, other)) + records(paired_rows(base, other)):
        assert row["diff"] > 0
        assert row["effect_size"] > 0
        assert row["es_ci_low"] < row["effect_size"] < row["es_ci_high"]
        if row["test"] in ("welch_t", "paired_t"):
            assert row["statistic"] > 0


finite = st.floats(-100, 100, allow_nan=False).map(lambda x: round(x, 2))


@settings(deadline=None)
@given(st.lists(finite, min_size=3, max_size=12), st.lists(finite, min_size=3, max_size=12))
def test_swapping_rounds_negates_independent_results(a, b):
    fwd, rev = records(independent_rows(a, b)), records(independent_rows(b, a))
    for f, r in zip(fwd, rev, strict=True):
        assert f["test"] == r["test"]
        for key in ("diff", "statistic", "effect_size") if f["test"] == "welch_t" else ("diff",):
            if math.isnan(f[key]):
                assert math.isnan(r[key])
            else:
                assert f[key] == pytest.approx(-r[key], abs=1e-9)
        if f["test"] == "mann_whitney_u":
            assert f["statistic"] + r["statistic"] == len(a) * len(b)
            assert f["effect_size"] == pytest.approx(-r["effect_size"], abs=1e-12)
        assert f["p"] == pytest.approx(r["p"], nan_ok=True)


@settings(deadline=None)
@given(st.lists(st.tuples(finite, finite), min_size=3, max_size=12))
def test_swapping_rounds_negates_paired_results(pairs):
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    for f, r in zip(records(paired_rows(a, b)), records(paired_rows(b, a)), strict=True):
        for key in ("diff", "effect_size", "es_ci_low"):
            other = "es_ci_high" if key == "es_ci_low" else key
            if math.isnan(f[key]):
                assert math.isnan(r[other])
            else:
                assert f[key] == pytest.approx(-r[other], abs=1e-6)
        assert f["p"] == pytest.approx(r["p"], nan_ok=True)


# --------------------------------------------------------------------------- simulation


def test_hedges_g_interval_covers_true_delta():
    rng = np.random.default_rng(20260101)
    delta, hits, runs = 0.5, 0, 200
    for _ in range(runs):
        b, o = rng.normal(0, 1, 15), rng.normal(delta, 1, 20)
        row = by(independent_rows(b, o), "welch_t", "hedges_g")
        hits += row["es_ci_low"] <= delta <= row["es_ci_high"]
    assert 0.90 <= hits / runs <= 0.99


def test_d_z_interval_covers_true_value_and_g_is_nearly_unbiased():
    rng = np.random.default_rng(11)
    # Rounds correlated 0.6, shift 0.4: true d_z = 0.4 / sqrt(2 * (1 - 0.6)).
    cov = [[1, 0.6], [0.6, 1]]
    true_dz = 0.4 / math.sqrt(0.8)
    hits, gs, runs = 0, [], 200
    for _ in range(runs):
        x = rng.multivariate_normal([0, 0.4], cov, size=12)
        row = by(paired_rows(x[:, 0], x[:, 1]), "paired_t", "d_z")
        hits += row["es_ci_low"] <= true_dz <= row["es_ci_high"]
        b, o = rng.normal(0, 1, 6), rng.normal(0.8, 1, 6)
        gs.append(by(independent_rows(b, o), "welch_t", "hedges_g")["effect_size"])
    assert 0.90 <= hits / runs <= 0.99
    # With n = 6 + 6, d is biased upwards by ~1/J = 8%; g should not be.
    assert abs(np.mean(gs) - 0.8) < 0.08


def test_rank_biserial_interval_covers_population_value():
    rng = np.random.default_rng(5)
    shift, hits, runs = 0.6, 0, 200
    true_r = 2 * stats.norm.cdf(shift / math.sqrt(2)) - 1  # 2 P(round > baseline) - 1
    for _ in range(runs):
        row = by(
            independent_rows(rng.normal(0, 1, 25), rng.normal(shift, 1, 30)),
            "mann_whitney_u",
            "rank_biserial",
        )
        hits += row["es_ci_low"] <= true_r <= row["es_ci_high"]
    assert 0.90 <= hits / runs <= 1.0


def test_degenerate_inputs_give_nan_not_errors():
    rows = independent_rows([1.0], [2.0, 3.0])
    assert math.isnan(by(rows, "welch_t", "hedges_g")["statistic"])
    rows = independent_rows([2.0, 2.0, 2.0], [2.0, 2.0])
    assert math.isnan(by(rows, "welch_t", "hedges_g")["effect_size"])
    rows = records(paired_rows([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]))
    assert all(math.isnan(r["p"]) for r in rows)
    with pytest.raises(ValueError):
        paired_rows([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        independent_rows([1.0, 2.0], [1.0, 3.0], ci=1.5)


def test_nan_values_are_dropped_and_inputs_not_modified():
    b = pd.Series([1.0, 2.0, np.nan, 4.0, 5.0])
    o = np.array([2.0, np.nan, 4.0, 6.0, 7.0])
    b0, o0 = b.copy(), o.copy()
    rows = records(independent_rows(b, o))
    assert rows[0]["n_baseline"] == 4 and rows[0]["n_round"] == 4
    prow = records(paired_rows(b, o))
    assert prow[0]["n_baseline"] == 3  # pairs complete on both sides
    pd.testing.assert_series_equal(b, b0)
    np.testing.assert_array_equal(o, o0)


# --------------------------------------------------------------------------- multiplicity


@pytest.mark.parametrize("method", ["holm", "fdr_bh"])
def test_adjust_p_equals_statsmodels_and_ignores_nan(method):
    p = np.array([0.01, np.nan, 0.04, 0.03, 0.5, np.nan, 0.001])
    got = adjust_p(p, method)
    ok = ~np.isnan(p)
    np.testing.assert_allclose(got[ok], multipletests(p[ok], method=method)[1], rtol=1e-15)
    assert np.isnan(got[~ok]).all()
    rng = np.random.default_rng(9)
    for size in (2, 3, 7, 20):  # with ties, p-values near 1 and tiny ones
        q = np.round(rng.beta(0.4, 1.0, size), 2)
        np.testing.assert_allclose(
            adjust_p(q, method), multipletests(q, method=method)[1], rtol=1e-15
        )
    assert adjust_p([0.2], method)[0] == 0.2
    assert np.isnan(adjust_p([np.nan], method)).all()
    with pytest.raises(ValueError):
        adjust_p(p, "bonferroni")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- prepost_table


def make_scores(seed: int = 0) -> pd.DataFrame:
    """Two organisations x two units x three rounds; unit B/small has only 3 respondents.

    Codes: even-numbered respondents keep their code across rounds (linked), odd ones are
    anonymous. T2 has no data (a planned round).
    """
    rng = np.random.default_rng(seed)
    rows = []
    for rnd, shift in (("T0", 0.0), ("T1", 6.0)):
        for org, unit, n in (("A", "north", 14), ("A", "south", 12), ("B", "small", 3)):
            for i in range(n):
                rows.append(
                    {
                        "round": rnd,
                        "organisation": org,
                        "unit": unit,
                        "respondent": f"{org}-{unit}-{i}" if i % 2 == 0 else None,
                        "participant": i % 3 == 0,
                        "role": "supervisor" if i == 0 else "staff",
                        "actor": "city" if org == "A" else "ngo",
                        "sector": "social",
                        "qwl": rng.normal(60 + shift, 10),
                        "esis": np.nan if i == 1 else rng.normal(3.5 + shift / 20, 0.5),
                    }
                )
    df = pd.DataFrame(rows)
    df["respondent"] = df["respondent"].astype("string")
    df["participant"] = df["participant"].astype("Int8")
    for col in ("round", "organisation", "unit", "role", "actor", "sector"):
        df[col] = df[col].astype("string")
    return df


KW = {
    "measures": ["qwl", "esis"],
    "rounds": ["T0", "T1", "T2"],
    "baseline": "T0",
    "group_bys": ["all", "unit", "participant"],
}


@pytest.fixture(scope="module")
def scores() -> pd.DataFrame:
    return make_scores()


@pytest.fixture(scope="module")
def auto_table(scores) -> pd.DataFrame:
    return prepost_table(scores, design="auto", **KW)


def test_prepost_columns_and_order(auto_table):
    assert list(auto_table.columns) == PREPOST_COLUMNS
    assert set(auto_table["design"]) == {"independent", "paired", "partial_overlap"}
    # The primary family is Holm (adjusted with the DiD tests elsewhere); the rest BH by default.
    primary = auto_table["analysis"] == "primary"
    assert set(auto_table.loc[primary, "correction"]) == {"holm"}
    assert set(auto_table.loc[~primary, "correction"]) == {"fdr_bh"}
    assert set(auto_table["round"]) == {"T1"}  # T2 has no data: no rows
    key = auto_table[["measure", "group_by", "group", "design", "test", "effect_size_type"]]
    assert list(auto_table["measure"].drop_duplicates()) == ["qwl", "esis"]
    for _, part in auto_table.groupby(["measure", "group_by"], sort=False):
        keys = list(key.loc[part.index].itertuples(index=False))
        assert keys == sorted(keys)
    gb = auto_table.loc[auto_table["measure"] == "qwl", "group_by"].drop_duplicates()
    assert list(gb) == ["all", "unit", "participant"]
    assert set(auto_table.loc[auto_table["group_by"] == "unit", "group"]) == {
        "A / north",
        "A / south",
        "B / small",
    }
    assert set(auto_table.loc[auto_table["group_by"] == "participant", "group"]) == {"0", "1"}
    assert (auto_table.loc[auto_table["group_by"] == "all", "group"] == "all").all()


def test_prepost_is_deterministic(scores, auto_table):
    again = prepost_table(scores, design="auto", **KW)
    pd.testing.assert_frame_equal(auto_table, again)


def test_prepost_does_not_modify_input():
    df = make_scores(1)
    before = df.copy(deep=True)
    prepost_table(df, design="auto", **KW)
    prepost_table(df, design="paired", **KW)
    pd.testing.assert_frame_equal(df, before)


def test_suppressed_rows_keep_identifiers_only(auto_table):
    small = auto_table[auto_table["group"] == "B / small"]
    assert len(small) > 0 and small["suppressed"].all()
    identifying = list(PREPOST_IDENTIFYING)
    assert small[identifying].notna().all().all()
    stats_cols = [c for c in PREPOST_COLUMNS if c not in [*identifying, "suppressed"]]
    assert small[stats_cols].isna().all().all()
    live = auto_table[~auto_table["suppressed"]]
    assert (live[["n_baseline", "n_round"]] >= 5).all().all()
    # Only the primary family leaves p_adjusted to primary.csv.
    assert live["p_adjusted"].isna().eq(live["family"].eq("primary")).all()


@pytest.mark.parametrize("method", ["holm", "fdr_bh"])
def test_p_adjusted_per_family_excludes_suppressed(scores, method):
    out = prepost_table(scores, design="auto", correction=method, **KW)
    assert set(out.loc[out["family"] != "primary", "correction"]) == {method}
    for fam, part in out.groupby("family"):
        if fam == "primary":
            assert part["p_adjusted"].isna().all() and set(part["correction"]) == {"holm"}
            continue
        measure, group_by, test, population = fam.split(":")
        assert set(part["measure"]) == {measure} and set(part["group_by"]) == {group_by}
        assert set(part["test"]) == {test} and set(part["population"]) == {population}
        live = part[~part["suppressed"]].drop_duplicates(subset=["group", "round"])
        if live.empty:
            continue
        expected = adjust_p(live["p"].to_numpy(), method)
        np.testing.assert_allclose(live["p_adjusted"].to_numpy(), expected)
    # Two families straight against statsmodels (each Holm call there costs a gc.collect()).
    for fam in ("qwl:unit:welch_t:unlinked", "esis:participant:wilcoxon:linked"):
        live = out[(out["family"] == fam) & ~out["suppressed"]]
        assert len(live) == 2  # e.g. two units of three: the small one is not in the family
        expected = multipletests(live["p"].to_numpy(), method=method)[1]
        np.testing.assert_allclose(live["p_adjusted"].to_numpy(), expected, rtol=1e-12)
        assert (live["p_adjusted"] >= live["p"]).all()


def test_d_z_and_d_av_share_one_test_in_the_family(auto_table):
    paired = auto_table[(auto_table["test"] == "paired_t") & ~auto_table["suppressed"]]
    for _, part in paired.groupby(["measure", "group_by", "group", "round"]):
        assert set(part["effect_size_type"]) == {"d_z", "d_av"}
        assert part["p_adjusted"].nunique() == 1


def test_auto_design_splits_linked_and_unlinked(scores, auto_table):
    part = scores[(scores["organisation"] == "A") & (scores["unit"] == "north")]
    t0, t1 = part[part["round"] == "T0"], part[part["round"] == "T1"]
    linked = sorted(set(t0["respondent"].dropna()) & set(t1["respondent"].dropna()))
    b = t0.set_index("respondent").loc[linked, "qwl"]
    o = t1.set_index("respondent").loc[linked, "qwl"]
    expected_paired = records(paired_rows(b.to_numpy(), o.to_numpy()))
    rest_b = t0.loc[t0["respondent"].isna(), "qwl"]
    rest_o = t1.loc[t1["respondent"].isna(), "qwl"]
    expected_ind = records(independent_rows(rest_b, rest_o))
    got = auto_table[(auto_table["measure"] == "qwl") & (auto_table["group"] == "A / north")]
    for exp in expected_paired + expected_ind:
        row = got[
            (got["design"] == exp["design"])
            & (got["test"] == exp["test"])
            & (got["effect_size_type"] == exp["effect_size_type"])
        ]
        assert len(row) == 1
        row = row.iloc[0]
        for key in ("n_baseline", "n_round", "statistic", "p", "effect_size", "es_ci_low"):
            assert row[key] == pytest.approx(exp[key], nan_ok=True), key
    assert len(linked) == 7
    assert got.loc[got["design"] == "paired", "n_round"].eq(7).all()
    assert got.loc[got["design"] == "independent", "n_baseline"].eq(7).all()


def test_independent_and_paired_designs_use_their_subsets(scores):
    ind = prepost_table(scores, design="independent", **KW)
    assert set(ind["design"]) == {"independent"}
    whole = ind[(ind["measure"] == "qwl") & (ind["group_by"] == "all")].iloc[0]
    n_t0 = int(((scores["round"] == "T0") & scores["qwl"].notna()).sum())
    assert whole["n_baseline"] == n_t0 == 29
    par = prepost_table(scores, design="paired", **KW)
    assert set(par["design"]) == {"paired"}
    whole = par[(par["measure"] == "qwl") & (par["group_by"] == "all")].iloc[0]
    assert whole["n_baseline"] == whole["n_round"] == 7 + 6 + 2


def test_anonymous_rounds_give_only_independent_rows(scores):
    anon = scores.assign(respondent=pd.Series(pd.NA, index=scores.index, dtype="string"))
    out = prepost_table(anon, design="auto", **KW)
    assert set(out["design"]) == {"independent"}
    ind = prepost_table(anon, design="independent", **KW)
    pd.testing.assert_frame_equal(out, ind)
    assert prepost_table(anon, design="paired", **KW).empty


def test_missing_measure_values_are_dropped_per_measure(auto_table, scores):
    ind = prepost_table(scores, design="independent", **KW)
    q = ind[(ind["measure"] == "qwl") & (ind["group_by"] == "all")].iloc[0]
    e = ind[(ind["measure"] == "esis") & (ind["group_by"] == "all")].iloc[0]
    assert q["n_round"] == 29 and e["n_round"] == 26  # respondent 1 of each unit lacks esis


def test_round_higher_is_positive_in_the_table(auto_table):
    whole = auto_table[(auto_table["group_by"] == "all") & (auto_table["measure"] == "qwl")]
    assert (whole["diff"] > 0).all()
    assert (whole["effect_size"] > 0).all()


def test_prepost_rejects_bad_arguments(scores):
    with pytest.raises(ValueError, match="design"):
        prepost_table(scores, design="mixed", **KW)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="correction"):
        prepost_table(scores, design="auto", correction="bonferroni", **KW)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nosuch"):
        prepost_table(scores, **{**KW, "measures": ["nosuch"]})


def test_prepost_empty_when_no_comparison(scores):
    out = prepost_table(scores[scores["round"] == "T0"], design="auto", **KW)
    assert out.empty and list(out.columns) == PREPOST_COLUMNS


# ---------------------------------------------------------------- summary statistics mode


def unit_summaries(scores: pd.DataFrame) -> pd.DataFrame:
    long = scores.melt(
        id_vars=["round", "organisation", "unit"], value_vars=["qwl", "esis"], var_name="measure"
    ).dropna(subset=["value"])
    return (
        long.groupby(["round", "organisation", "unit", "measure"], observed=True)["value"]
        .agg(n="size", mean="mean", sd="std")
        .reset_index()
    )


def test_summary_table_equals_individual_welch_rows(scores):
    summaries = unit_summaries(scores)
    before = summaries.copy()
    group_bys = ["all", "organisation", "unit"]
    kw = {"rounds": ["T0", "T1", "T2"], "baseline": "T0", "group_bys": group_bys}
    got = prepost_summary_table(summaries, measures=["qwl", "esis"], **kw)
    pd.testing.assert_frame_equal(summaries, before)
    ind = prepost_table(scores, measures=["qwl", "esis"], design="independent", **kw)
    expected = ind[ind["test"] == "welch_t"].reset_index(drop=True)
    assert list(got.columns) == PREPOST_COLUMNS
    assert len(got) == len(expected) == 2 * (1 + 2 + 3)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-9)
    assert got.loc[got["group"] == "B / small", "suppressed"].all()


def test_combine_cells_is_exact():
    rng = np.random.default_rng(2)
    parts = [rng.normal(size=k) for k in (4, 1, 7, 3)]
    n = [len(p) for p in parts]
    m = [p.mean() for p in parts]
    sd = [p.std(ddof=1) if len(p) > 1 else np.nan for p in parts]
    allx = np.concatenate(parts)
    got = combine_cells(np.array(n), np.array(m), np.array(sd))
    assert got == pytest.approx((len(allx), allx.mean(), allx.std(ddof=1)))
    assert combine_cells(np.array([0.0]), np.array([np.nan]), np.array([np.nan]))[0] == 0


def test_summary_table_rejects_repeated_cells(scores):
    summaries = unit_summaries(scores)
    twice = pd.concat([summaries, summaries.iloc[:1]], ignore_index=True)
    with pytest.raises(ValueError, match="twice"):
        prepost_summary_table(twice, rounds=["T0", "T1"], baseline="T0", group_bys=["all"])


def test_code_repeated_within_a_round_is_not_linked(scores):
    dup = scores.copy()
    # Give a second T1 respondent of A / north the code of an already linked one.
    t1_north = dup[(dup["round"] == "T1") & (dup["unit"] == "north")].index
    dup.loc[t1_north[1], "respondent"] = dup.loc[t1_north[0], "respondent"]
    kw = {**KW, "group_bys": ["unit"], "measures": ["qwl"]}
    out = prepost_table(dup, design="auto", **kw)
    north = out[out["group"] == "A / north"]
    paired = north[north["design"] == "paired"].iloc[0]
    independent = north[north["design"] == "independent"].iloc[0]
    assert paired["n_round"] == 6  # 7 linked before, one code now ambiguous
    assert (independent["n_baseline"], independent["n_round"]) == (8, 8)


# --------------------------------------------------------------------------- rank-biserial CIs
# Mann-Whitney: Newcombe, R. G. (2006). Confidence intervals for an effect size measure based on
# the Mann-Whitney statistic. Part 2: asymptotic methods and evaluation. Stat Med 25, 559-573
# (Method 5); its variance is Hanley & McNeil's (1982) with N* = (m + n) / 2.
# Hanley, J. A., & McNeil, B. J. (1982). The meaning and use of the area under a ROC curve.
# Radiology 143, 29-36: CT ratings of 58 normal and 51 abnormal patients (Table 1, categories
# 1-5: normal 33/6/6/11/2, abnormal 3/2/2/11/33), A = 0.893, SE(A) = 0.032.
HM_NORMAL = np.repeat([1, 2, 3, 4, 5], [33, 6, 6, 11, 2])
HM_ABNORMAL = np.repeat([1, 2, 3, 4, 5], [3, 2, 2, 11, 33])


def test_auc_variance_matches_hanley_mcneil_1982_ct_example():
    from evaluation.analyse.quant.effects import _theta_variance

    row = by(independent_rows(HM_NORMAL, HM_ABNORMAL), "mann_whitney_u", "rank_biserial")
    theta = (row["effect_size"] + 1) / 2
    assert theta == pytest.approx(0.893, abs=5e-4)
    n_b, n_r = len(HM_NORMAL), len(HM_ABNORMAL)
    se = math.sqrt(_theta_variance(theta, n_b, n_r, n_b - 1, n_r - 1))
    assert round(se, 3) == 0.032
    # The interval of r is Newcombe's Method 5 limits of theta, mapped by r = 2 theta - 1.
    assert row["es_ci_low"] < row["effect_size"] < row["es_ci_high"] < 1


@pytest.mark.parametrize("theta", [0.0, 0.1, 0.5, 0.893, 1.0])
def test_newcombe_method5_limits_solve_the_score_equation(theta):
    from evaluation.analyse.quant.effects import _newcombe_interval, _theta_variance

    n_b, n_r, z = 12, 20, stats.norm.ppf(0.975)
    lo, hi = _newcombe_interval(theta, n_b, n_r, 0.95)
    assert 0 <= lo <= theta <= hi <= 1 and lo < hi
    k = (n_b + n_r) / 2 - 1
    for limit in (lo, hi):
        if limit not in (0.0, 1.0) or limit != theta:
            gap = (limit - theta) ** 2 - z * z * _theta_variance(limit, n_b, n_r, k, k)
            assert gap == pytest.approx(0, abs=1e-10)
    # Swapping the groups mirrors the interval (N* is symmetric).
    lo2, hi2 = _newcombe_interval(1 - theta, n_r, n_b, 0.95)
    assert (lo2, hi2) == pytest.approx((1 - hi, 1 - lo), abs=1e-9)


def test_rank_biserial_interval_is_not_the_null_interval_for_large_effects():
    # Complete separation: r = 1, the interval stays finite and reaches 1.
    row = by(independent_rows([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]), "mann_whitney_u", "rank_biserial")
    assert row["effect_size"] == 1 and row["es_ci_high"] == 1 and 0 < row["es_ci_low"] < 1


@pytest.mark.parametrize(("shift", "n_b", "n_r"), [(0.0, 20, 25), (1.5, 20, 25), (2.5, 30, 30)])
def test_mann_whitney_rank_biserial_coverage_by_simulation(shift, n_b, n_r):
    # Normal shift: P(round > baseline) = Phi(shift / sqrt 2), r = 2 P - 1. The null SE
    # overstates the spread of r for large effects (coverage ~1); Method 5 should be near .95.
    from evaluation.analyse.quant.effects import _newcombe_interval

    rng = np.random.default_rng(11)
    true_r = 2 * stats.norm.cdf(shift / math.sqrt(2)) - 1
    runs, hits = 1000, 0
    for _ in range(runs):
        b, o = rng.normal(0, 1, n_b), rng.normal(shift, 1, n_r)
        theta = (o[:, None] > b[None, :]).mean()
        lo, hi = _newcombe_interval(theta, n_b, n_r, 0.95)
        hits += 2 * lo - 1 <= true_r <= 2 * hi - 1
    assert 0.925 <= hits / runs <= 0.975


def test_signed_rank_jackknife_se_equals_brute_force_leave_one_out():
    from evaluation.analyse.quant.effects import _signed_rank_jackknife_se

    rng = np.random.default_rng(3)
    for m in (3, 8, 25):
        d = rng.integers(-4, 6, size=m).astype(float)
        d = d[d != 0]
        loo = []
        for i in range(len(d)):
            rest = np.delete(d, i)
            ranks = stats.rankdata(np.abs(rest))
            total = len(rest) * (len(rest) + 1) / 2
            loo.append(ranks[rest > 0].sum() / total)
        loo = np.array(loo)
        brute = math.sqrt((len(d) - 1) / len(d) * ((loo - loo.mean()) ** 2).sum())
        assert _signed_rank_jackknife_se(d) == pytest.approx(brute, rel=1e-12)


@pytest.mark.parametrize(("mu", "m"), [(0.0, 30), (0.8, 30), (1.0, 30)])
def test_matched_pairs_rank_biserial_coverage_by_simulation(mu, m):
    # D ~ N(mu, 1), no zeros: E[W+] = m p1 + m (m - 1) / 2 p2 with p1 = Phi(mu),
    # p2 = P(D_i + D_j > 0) = Phi(mu sqrt 2) (Walsh averages), so E[r] = 2 E[W+] / T - 1.
    from evaluation.analyse.quant.effects import _wilcoxon

    rng = np.random.default_rng(12)
    total = m * (m + 1) / 2
    expected = m * stats.norm.cdf(mu) + m * (m - 1) / 2 * stats.norm.cdf(mu * math.sqrt(2))
    true_r = 2 * expected / total - 1
    runs, hits = 800, 0
    for _ in range(runs):
        b = rng.normal(0, 1, m)
        row = _wilcoxon(b, b + rng.normal(mu, 1, m), 0.95)
        hits += row["es_ci_low"] <= true_r <= row["es_ci_high"]
    assert 0.92 <= hits / runs <= 0.975


def test_exact_mann_whitney_is_scipys_and_rs():
    """The exact two-sided Mann-Whitney p (samples without ties, both under 50) from the
    null distribution of U counted as exact integers, kept per pair of sizes: scipy's
    ``method="exact"`` to 1e-12 (scipy sums floating-point probabilities) and U the same, for
    random sizes 1-49; R's ``wilcox.test(c(1, 2, 3), c(4, 5, 6))``: W = 0, p = 0.1 (2 of the
    20 orderings are as extreme)."""
    from evaluation.analyse.quant.effects import _mann_whitney_exact

    assert _mann_whitney_exact(np.array([1.0, 2, 3]), np.array([4.0, 5, 6])) == (0.0, 0.1)
    rng = np.random.default_rng(11)
    for _ in range(200):
        n1, n2 = rng.integers(1, 50, 2)
        x, y = rng.normal(size=n1) + rng.normal(), rng.normal(size=n2)
        res = stats.mannwhitneyu(x, y, alternative="two-sided", method="exact")
        u, p = _mann_whitney_exact(x, y)
        assert u == res.statistic
        assert p == pytest.approx(res.pvalue, rel=1e-12, abs=0)


def test_exact_signed_rank_is_scipys_and_rs():
    """The exact two-sided signed-rank p (no ties, no zeros, n under 50) from the null
    distribution of W+ counted as exact integers: scipy's ``method="exact"`` bit for bit for
    random n 1-49; R's ``wilcox.test(c(1, 2, 3, 4, 5))``: V = 15, p = 0.0625 (2 of 32 sign
    patterns as extreme)."""
    from evaluation.analyse.quant.effects import _signed_rank_asymptotic, _signed_rank_exact_p

    assert _signed_rank_exact_p(15, 5) == 0.0625 == _signed_rank_exact_p(0, 5)
    rng = np.random.default_rng(12)
    for _ in range(200):
        n = int(rng.integers(1, 50))
        d = rng.normal(size=n) + 0.5 * rng.normal()
        res = stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided", method="exact")
        assert _signed_rank_exact_p(int(_signed_rank_asymptotic(d)[0]), n) == res.pvalue
