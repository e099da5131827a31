"""Design effects of units in organisations with unequal sizes, change-score ICCs, the next
round's n from headcounts, and the monotonicity of the minimum detectable effect.

References and what each test checks against:
- Heo, M., & Leon, A. C. (2008). Statistical power and sample size requirements for three level
  hierarchical cluster randomized trials. Biometrics, 64, 1256-1262: with equal sizes
  deff = 1 + (n1 - 1) rho_unit + n1 (n2 - 1) rho_org (n1 per unit, n2 units per organisation).
- Eldridge, S. M., Ashby, D., & Kerry, S. (2006). Int J Epidemiol, 35, 1292-1300:
  deff = 1 + ((cv^2 + 1) m - 1) rho for one level with unequal sizes.
- The exact variance of the mean of all respondents under the nested random-intercept model,
  1' V 1 / N^2 with V built from the variance components (no formula of the module is used),
  and a seeded simulation of that model (tolerance from the sampling error of a variance).
- Searle, Casella & McCulloch (1992), Variance Components: the ANOVA estimators of the nested
  classification equal REML (statsmodels MixedLM) for balanced data when none is truncated,
  and the one-way ICC(1) (from scipy's one-way F) when every organisation has one unit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.power import TTestPower

from evaluation.analyse.quant.power import (
    DEFF_NESTED_COLUMNS,
    N_FROM_BOTH,
    N_FROM_HEADCOUNT,
    N_FROM_LATEST,
    NESTED_ICC_COLUMNS,
    design_effect,
    design_effect_nested,
    mde_paired,
    nested_icc,
    power_table,
)

# units per organisation, unequal (CV of the unit sizes about 0.8)
SIZES = {"A": [40, 5, 12], "B": [3, 25], "C": [8], "D": [15, 15, 2, 30]}


def _flat(sizes: dict[str, list[int]]) -> tuple[list[int], list[str]]:
    units = [m for org in sizes.values() for m in org]
    orgs = [o for o, ms in sizes.items() for _ in ms]
    return units, orgs


def nested(units, orgs, icc_unit, icc_org) -> float:
    res = design_effect_nested(units, orgs, icc_unit=icc_unit, icc_org=icc_org)
    assert list(res.columns) == DEFF_NESTED_COLUMNS and len(res) == 1
    return float(res["deff"].iloc[0])


def exact_deff(units, orgs, s2_org, s2_unit, s2_e) -> float:
    """N Var(mean) / s2_total from the covariance matrix of the nested model."""
    unit_of = np.repeat(np.arange(len(units)), units)
    org_of = np.repeat(np.array(orgs, dtype=object), units)
    same_unit = unit_of[:, None] == unit_of[None, :]
    same_org = org_of[:, None] == org_of[None, :]
    cov = s2_org * same_org + s2_unit * same_unit + s2_e * np.eye(len(unit_of))
    n = len(unit_of)
    return float(cov.sum() / n**2 * n / (s2_org + s2_unit + s2_e))


def test_equal_sizes_is_heo_and_leon():
    # 4 organisations x 3 units x 10 respondents, rho_unit = .2, rho_org = .1
    units, orgs = [10] * 12, [o for o in "ABCD" for _ in range(3)]
    assert nested(units, orgs, 0.2, 0.1) == pytest.approx(1 + 9 * 0.2 + 10 * 2 * 0.1)
    assert design_effect_nested(units, orgs, icc_unit=0.2, icc_org=0.1)["cv_unit"].item() == 0


def test_one_level_is_eldridge():
    # no unit effect (rho_unit = rho_org): Eldridge's formula on the organisation sizes
    units, orgs = _flat(SIZES)
    org_sizes = np.array([sum(v) for v in SIZES.values()], dtype=float)
    cv = org_sizes.std() / org_sizes.mean()
    expected = design_effect(org_sizes.mean(), 0.07, cv=cv)["deff"].item()
    assert nested(units, orgs, 0.07, 0.07) == pytest.approx(expected)
    assert expected == pytest.approx(1 + ((cv**2 + 1) * org_sizes.mean() - 1) * 0.07)


@pytest.mark.parametrize(("s2_org", "s2_unit"), [(0.1, 0.1), (0.0, 0.3), (0.2, 0.0)])
def test_unequal_sizes_exact_variance_of_the_mean(s2_org, s2_unit):
    units, orgs = _flat(SIZES)
    total = s2_org + s2_unit + 1.0
    got = nested(units, orgs, (s2_org + s2_unit) / total, s2_org / total)
    assert got == pytest.approx(exact_deff(units, orgs, s2_org, s2_unit, 1.0), rel=1e-12)


def test_unequal_sizes_simulation():
    # simulate y = a_org + b_unit + e (s2 .1, .15, .75) 20,000 times; the variance of the mean
    # of all respondents over N^-1 s2_total is the design effect. Sampling error of a variance
    # from R draws: relative SD sqrt(2 / (R - 1)) = 1 %; tolerance 4 % (4 SDs).
    rng = np.random.default_rng(20251015)
    units, orgs = _flat(SIZES)
    s2 = {"org": 0.1, "unit": 0.15, "e": 0.75}
    reps, n = 20_000, sum(units)
    org_codes = pd.factorize(pd.Series(orgs))[0]
    a = rng.normal(0, np.sqrt(s2["org"]), (reps, len(SIZES)))
    b = rng.normal(0, np.sqrt(s2["unit"]), (reps, len(units)))
    e_mean = rng.normal(0, np.sqrt(s2["e"] / n), reps)  # the mean of n residuals
    w = np.asarray(units, dtype=float) / n
    means = (a[:, org_codes] * w).sum(axis=1) + (b * w).sum(axis=1) + e_mean
    simulated = means.var(ddof=1) * n / sum(s2.values())
    formula = nested(units, orgs, 0.25, 0.1)
    assert simulated == pytest.approx(formula, rel=0.04)
    # the organisation level alone with the mean size (the 4.32-style figure) is far off
    org_sizes = [sum(v) for v in SIZES.values()]
    assert abs(simulated - (1 + (np.mean(org_sizes) - 1) * 0.1)) > 0.2 * simulated


def test_nested_deff_checks():
    with pytest.raises(ValueError, match="icc_org <= icc_unit"):
        design_effect_nested([5, 5], ["a", "b"], icc_unit=0.1, icc_org=0.2)
    with pytest.raises(ValueError, match="positive"):
        design_effect_nested([5, 0], ["a", "b"], icc_unit=0.1, icc_org=0.1)
    with pytest.raises(ValueError, match="cv"):
        design_effect(10, 0.1, cv=-1)


def simulate_nested(rng, sizes, s2_org, s2_unit, s2_e) -> pd.DataFrame:
    rows = []
    for org, units in sizes.items():
        a = rng.normal(0, np.sqrt(s2_org))
        for j, m in enumerate(units):
            b = rng.normal(0, np.sqrt(s2_unit))
            for y in a + b + rng.normal(0, np.sqrt(s2_e), m):
                rows.append({"o": org, "u": f"u{j}", "y": y})
    return pd.DataFrame(rows)


def icc_row(frame: pd.DataFrame) -> pd.Series:
    res = nested_icc(frame["y"], frame["o"], frame["u"])
    assert list(res.columns) == NESTED_ICC_COLUMNS and len(res) == 1
    return res.iloc[0]


def test_nested_icc_balanced_equals_reml():
    rng = np.random.default_rng(7)
    frame = simulate_nested(rng, {o: [12, 12, 12] for o in "ABCDEFGH"}, 0.3, 0.2, 1.0)
    est = icc_row(frame)
    fit = smf.mixedlm("y ~ 1", frame, groups="o", re_formula="1", vc_formula={"u": "0 + C(u)"}).fit(
        reml=True
    )
    s2_org, s2_unit, s2_e = float(fit.cov_re.iloc[0, 0]), float(fit.vcomp[0]), float(fit.scale)
    assert min(s2_org, s2_unit) > 0.01  # not truncated: ANOVA = REML
    assert est["var_org"] == pytest.approx(s2_org, rel=1e-3)
    assert est["var_unit"] == pytest.approx(s2_unit, rel=1e-3)
    assert est["var_resid"] == pytest.approx(s2_e, rel=1e-3)
    total = s2_org + s2_unit + s2_e
    assert est["icc_unit"] == pytest.approx((s2_org + s2_unit) / total, rel=1e-3)


def test_nested_icc_one_unit_per_organisation_is_icc1():
    rng = np.random.default_rng(3)
    frame = simulate_nested(rng, {f"o{i}": [m] for i, m in enumerate([4, 9, 15, 7, 22, 11])}, 0.4,
                            0.0, 1.0)  # fmt: skip
    f_stat = stats.f_oneway(*[g["y"] for _, g in frame.groupby("o")]).statistic
    sizes = frame.groupby("o").size().to_numpy()
    n, k = sizes.sum(), len(sizes)
    n0 = (n - (sizes**2).sum() / n) / (k - 1)
    icc1 = (f_stat - 1) / (f_stat + n0 - 1)
    est = icc_row(frame)
    assert est["icc_org"] == pytest.approx(max(icc1, 0.0)) and est["var_unit"] == 0
    assert est["icc_unit"] == pytest.approx(est["icc_org"])


def test_nested_icc_recovers_the_truth_and_truncates():
    rng = np.random.default_rng(11)
    sizes = {f"o{i}": list(rng.integers(3, 30, 4)) for i in range(60)}
    est = icc_row(simulate_nested(rng, sizes, 0.1, 0.15, 0.75))
    assert est["icc_org"] == pytest.approx(0.1, abs=0.04)
    assert est["icc_unit"] == pytest.approx(0.25, abs=0.04)
    flat = icc_row(simulate_nested(rng, {f"o{i}": [5, 5] for i in range(5)}, 0, 0, 1))
    assert flat["icc_org"] >= 0 and flat["icc_unit"] >= flat["icc_org"]


# --------------------------------------------------------------------------- power_table


def panel(seed: int = 1, org_sd: float = 8.0, change_sd: float = 0.0) -> pd.DataFrame:
    """Four organisations x two units, T0 and T1, everyone linked; large stable organisation
    effects (score ICC high) and, with ``change_sd``, an organisation effect on the change."""
    rng = np.random.default_rng(seed)
    rows = []
    sizes = {"A": (20, 14), "B": (12, 9), "C": (16, 6), "D": (10, 8)}
    for org, units in sizes.items():
        a, c = rng.normal(0, org_sd), rng.normal(0, change_sd)
        for j, m in enumerate(units):
            for i in range(m):
                person = a + rng.normal(0, 6)
                for rnd in ("T0", "T1"):
                    rows.append(
                        {
                            "round": rnd,
                            "organisation": org,
                            "unit": f"u{j}",
                            "respondent": f"{org}{j}-{i}",
                            "actor": "X" if org in "AB" else "Y",
                            "qwl": 60 + person + (rnd == "T1") * (2 + c) + rng.normal(0, 4),
                        }
                    )
    return pd.DataFrame(rows)


def table_of(scores, **kwargs) -> pd.DataFrame:
    options = {"measures": ["qwl"], "rounds": ["T0", "T1"], "baseline": "T0",
               "group_bys": ["all", "actor", "organisation"]}  # fmt: skip
    return power_table(scores, **{**options, **kwargs})


def row_of(table, group, design) -> pd.Series:
    return table[(table["group"] == group) & (table["design"] == design)].iloc[0]


def test_paired_design_effect_uses_the_change_scores():
    scores = panel()
    table = table_of(scores, icc={"qwl": {"organisation": 0.4, "unit": 0.45}})
    paired = row_of(table, "all", "paired")
    t0 = scores[scores["round"] == "T0"].set_index("respondent")["qwl"]
    t1 = scores[scores["round"] == "T1"].set_index("respondent")
    diff = t1["qwl"] - t0.reindex(t1.index)
    est = nested_icc(diff.to_numpy(), t1["organisation"], t1["unit"]).iloc[0]
    assert paired["icc"] == pytest.approx(est["icc_org"])
    assert paired["icc_unit"] == pytest.approx(est["icc_unit"])
    units = t1.groupby(["organisation", "unit"]).size()
    orgs = [k[0] for k in units.index]
    expected = nested(units.to_numpy(), orgs, est["icc_unit"], est["icc_org"])
    assert paired["deff"] == pytest.approx(expected)
    # stable organisation effects cancel in a change: far below the score-level deff
    independent = row_of(table, "all", "independent")
    assert independent["deff"] > 5 and paired["deff"] < 2
    assert independent["deff"] == pytest.approx(nested(units.to_numpy(), orgs, 0.45, 0.4))
    assert paired["mde_standardized"] == pytest.approx(
        mde_paired(paired["n_next"], deff=paired["deff"])["mde_standardized"].item()
    )


@pytest.mark.parametrize("change_sd", [0.0, 3.0])
def test_subgroup_with_fewer_pairs_has_no_smaller_paired_mde(change_sd):
    # the issue: the whole study's paired MDE (59 pairs) was larger than one organisation's,
    # because the score ICC (stable organisation effects) was applied to the change. Without
    # organisation effects on the change (change_sd = 0) every group with fewer pairs has a
    # larger MDE. With them (change_sd = 3) that holds under the same design, i.e. for groups
    # spanning several organisations; a one-organisation group is conditional on its
    # organisation (no organisation level), a different design.
    table = table_of(panel(change_sd=change_sd), icc={"qwl": {"organisation": 0.4, "unit": 0.5}})
    paired = table[table["design"] == "paired"]
    whole = row_of(table, "all", "paired")
    subgroups = paired[paired["group_by"] != "all"]
    if change_sd:
        subgroups = subgroups[subgroups["n_clusters"] > 1]
        assert len(subgroups) == 2 and whole["icc"] > 0.05
    for _, sub in subgroups.iterrows():
        assert sub["n_next"] < whole["n_next"]
        assert sub["mde_standardized"] >= whole["mde_standardized"]


def test_next_round_n_from_headcounts():
    scores = panel()
    heads = {"A": {"u0": 40, "u1": 20}, "B": {"u0": 20, "u1": 10}, "C": {"u0": 30, "u1": 10},
             "D": {"u0": 20, "u1": 10}, "E": {"x": 50}}  # fmt: skip
    icc = {"qwl": {"organisation": 0.1, "unit": 0.2}}
    table = table_of(scores, icc=icc, headcounts=heads, response_rate=0.5)
    whole = row_of(table, "all", "independent")
    assert whole["n_source"] == N_FROM_HEADCOUNT
    # E has no respondents yet: it counts in "all" only
    assert whole["n_next"] == pytest.approx(0.5 * 210) and whole["n_clusters"] == 5
    sizes = [20, 10, 10, 5, 15, 5, 10, 5, 25]
    orgs = ["A", "A", "B", "B", "C", "C", "D", "D", "E"]
    assert whole["deff"] == pytest.approx(nested(sizes, orgs, 0.2, 0.1))
    assert whole["n_latest"] == whole["n_baseline"] == 95
    base_units = scores[scores["round"] == "T0"].groupby(["organisation", "unit"]).size()
    assert whole["deff_baseline"] == pytest.approx(
        nested(base_units.to_numpy(), [k[0] for k in base_units.index], 0.2, 0.1)
    )
    org_a = row_of(table, "A", "independent")
    assert org_a["n_next"] == 30 and org_a["n_clusters"] == 1
    # expected pairs: everyone is linked, so pairs = the expected n; E, without respondents in
    # the latest round, gives none
    assert row_of(table, "A", "paired")["n_next"] == pytest.approx(30)
    assert row_of(table, "all", "paired")["n_next"] == pytest.approx(105 - 25)
    # a unit without a headcount keeps its latest count and says so
    partial = table_of(scores, icc=icc, headcounts={"A": {"u0": 40}}, response_rate=0.5)
    assert row_of(partial, "all", "independent")["n_source"] == N_FROM_BOTH
    assert row_of(partial, "all", "independent")["n_next"] == pytest.approx(20 + 95 - 20)
    assert row_of(partial, "B", "independent")["n_source"] == N_FROM_LATEST


def test_without_response_rate_the_latest_round_is_the_next():
    scores = panel()
    table = table_of(scores, headcounts={"A": {"u0": 40}})
    assert set(table["n_source"]) == {N_FROM_LATEST}
    whole = row_of(table, "all", "independent")
    assert whole["n_next"] == whole["n_latest"] == 95 and whole["deff"] == 1.0
    with pytest.raises(ValueError, match="response_rate"):
        table_of(scores, headcounts={"A": {"u0": 40}}, response_rate=1.5)
    with pytest.raises(ValueError, match="organisation <= unit"):
        table_of(scores, icc={"qwl": {"organisation": 0.3, "unit": 0.1}})


def test_suppression_uses_the_observed_counts():
    scores = panel()
    scores = scores[~((scores["organisation"] == "D") & (scores.index % 8 != 0))]
    table = table_of(scores, headcounts={"D": {"u0": 200, "u1": 200}}, response_rate=0.9)
    d = table[table["group"] == "D"]
    assert d["suppressed"].all() and d["n_next"].isna().all()


def test_paired_mde_where_the_doubled_bracket_lands_where_scipy_gives_nan():
    """31 pairs at deff 8 (3.875 effective pairs): the bracket's doubling reached d = 4.096,
    where scipy's noncentral t is NaN, and the MDE came out NaN between two finite ones
    (found by the property below)."""
    mdes = [mde_paired(n, deff=8.0)["mde_standardized"].item() for n in (30, 31, 32)]
    assert np.all(np.isfinite(mdes))
    assert mdes[0] > mdes[1] > mdes[2]
    # at the MDE the power is the one asked for
    power = TTestPower().power(effect_size=mdes[1], nobs=31 / 8, alpha=0.05)
    assert power == pytest.approx(0.8, abs=1e-9)


# --------------------------------------------------------------------------- properties


# (effective n = n / deff of at least 3: below it the t solver returns its search bound)
@settings(max_examples=40)
@given(n=st.integers(30, 2000), extra=st.integers(1, 500), deff=st.floats(1.0, 10.0))
def test_paired_mde_decreases_in_n(n, extra, deff):
    small = mde_paired(n, deff=deff)["mde_standardized"].item()
    large = mde_paired(n + extra, deff=deff)["mde_standardized"].item()
    assert np.isnan(small) or large <= small + 1e-7


@settings(max_examples=40)
@given(n=st.integers(60, 2000), deff=st.floats(1.0, 10.0), more=st.floats(0.01, 10.0))
def test_paired_mde_increases_in_deff(n, deff, more):
    low = mde_paired(n, deff=deff)["mde_standardized"].item()
    high = mde_paired(n, deff=deff + more)["mde_standardized"].item()
    assert np.isnan(high) or high >= low - 1e-7


@settings(max_examples=40)
@given(
    sizes=st.lists(st.integers(1, 60), min_size=2, max_size=12),  # deff <= 1 + 720
    icc_org=st.floats(0.0, 0.5),
    gap=st.floats(0.0, 0.4),
    more=st.floats(0.0, 0.1),
)
def test_deff_and_mde_increase_in_the_icc(sizes, icc_org, gap, more):
    orgs = [i // 2 for i in range(len(sizes))]
    low = nested(sizes, orgs, icc_org + gap, icc_org)
    high_org = nested(sizes, orgs, icc_org + gap + more, icc_org + more)
    high_unit = nested(sizes, orgs, icc_org + gap + more, icc_org)
    assert high_org >= low - 1e-12 and high_unit >= low - 1e-12 and low >= 1.0
    n = 20 * sum(sizes)  # effective n >= 3
    mde_low = mde_paired(n, deff=low)["mde_standardized"].item()
    mde_high = mde_paired(n, deff=high_org)["mde_standardized"].item()
    assert np.isnan(mde_high) or mde_high >= mde_low - 1e-7
