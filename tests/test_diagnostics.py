"""Tests of the longitudinal diagnostics (``evaluation.analyse.quant.diagnostics``).

Reference values, each with its source:

* Chi-square test of homogeneity: Agresti (2007), *An Introduction to Categorical Data
  Analysis*, 2nd ed., p. 39 (gender x party identification, n = 2757), as in the example of
  R's ``?chisq.test``: ``chisq.test(M)`` gives X-squared = 30.07, df = 2, p-value = 2.954e-07.
  Cramér's V of that table: sqrt(30.0701 / (2757 * 1)) = 0.10444 (Cramér 1946, the formula).
* Pastes (lme4), three-level random intercepts, REML,
  ``lmer(strength ~ (1 | batch) + (1 | batch:cask), Pastes)``: batch variance 1.657,
  cask-within-batch variance 8.434, residual variance 0.678, intercept 60.0533 (Bates 2010,
  *lme4: Mixed-effects modeling with R*, ch. 2; asserted against lme4 in statsmodels'
  ``test_lme.py::test_pastes_vcomp``, whose data file ships with statsmodels).

Everything else is checked by simulation with a planted truth.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels
from scipy import integrate, stats

from evaluation.analyse.quant.diagnostics import (
    ATTRITION_COLUMNS,
    COMPOSITION_COLUMNS,
    COMPOSITION_TEST_COLUMNS,
    MISSING,
    OPTIMISER_COLUMNS,
    attrition_table,
    composition_table,
    composition_tests,
    optimiser_agreement,
    optimiser_fits,
)
from evaluation.analyse.quant.effects import independent_rows
from evaluation.analyse.quant.longitudinal import ModelWarning, lmm_table

ROUNDS = ["T0", "T1", "T2", "T3"]


# --------------------------------------------------------------------------- composition


def cross_sections(seed: int, *, n: int, supervisor: dict[str, float]) -> pd.DataFrame:
    """Repeated cross-sections of ``n`` respondents a round; the share of supervisors per
    round is ``supervisor[round]``; participation 30 %, three organisations."""
    rng = np.random.default_rng(seed)
    parts = []
    for r in ROUNDS:
        parts.append(
            pd.DataFrame(
                {
                    "round": r,
                    "role": np.where(rng.random(n) < supervisor[r], "supervisor", "staff"),
                    "participant": (rng.random(n) < 0.3).astype(float),
                    "organisation": rng.choice(["Org A", "Org B", "Org C"], n),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def population_cramers_v(probs: np.ndarray, weights: np.ndarray) -> float:
    """Cramér's V of the population table p_ij = weights_j * probs[i, j]."""
    p = probs * weights[None, :]
    pi, pj = p.sum(axis=1), p.sum(axis=0)
    phi2 = float(np.sum((p - np.outer(pi, pj)) ** 2 / np.outer(pi, pj)))
    return math.sqrt(phi2 / (min(p.shape) - 1))


def test_chi_square_matches_agresti_and_r_chisq_test():
    counts = {("F", "Democrat"): 762, ("F", "Independent"): 327, ("F", "Republican"): 468}
    counts |= {("M", "Democrat"): 484, ("M", "Independent"): 239, ("M", "Republican"): 477}
    rows = [(g, party) for (g, party), k in counts.items() for _ in range(k)]
    s = pd.DataFrame(rows, columns=["round", "party"])
    out = composition_tests(s, rounds=["F", "M"], by=["party"], seed=1, n_sim=0)
    row = out.iloc[0]
    assert list(out.columns) == COMPOSITION_TEST_COLUMNS
    assert row["n"] == 2757 and row["df"] == 2
    assert row["statistic"] == pytest.approx(30.07, abs=5e-3)
    assert row["p"] == pytest.approx(2.954e-07, rel=1e-3)
    assert row["effect_size_type"] == "cramers_v"
    assert row["effect_size"] == pytest.approx(math.sqrt(30.0701 / 2757), abs=1e-5)
    assert row["effect_size"] == pytest.approx(0.10444, abs=1e-5)


def test_monte_carlo_p_agrees_with_asymptotic_p_and_is_seeded():
    s = cross_sections(3, n=300, supervisor={"T0": 0.2, "T1": 0.2, "T2": 0.25, "T3": 0.2})
    a = composition_tests(s, rounds=ROUNDS, by=["role"], seed=11, n_sim=1999).iloc[0]
    b = composition_tests(s, rounds=ROUNDS, by=["role"], seed=11, n_sim=1999).iloc[0]
    assert a["p_monte_carlo"] == b["p_monte_carlo"]
    # large expected counts: the asymptotic p holds; Monte Carlo SE <= 0.5 / sqrt(2000)
    assert a["min_expected"] > 50
    assert abs(a["p_monte_carlo"] - a["p"]) < 4 * 0.5 / math.sqrt(2000)
    assert a["p_monte_carlo"] >= 1 / 2000  # never 0


def test_planted_composition_shift_is_detected():
    share = {"T0": 0.2, "T1": 0.2, "T2": 0.45, "T3": 0.2}
    s = cross_sections(5, n=2000, supervisor=share)
    comp = composition_table(s, rounds=ROUNDS, min_n=5)
    assert list(comp.columns) == COMPOSITION_COLUMNS
    sup = comp[(comp["characteristic"] == "role") & (comp["level"] == "supervisor")]
    shares = dict(zip(sup["round"], sup["share"], strict=True))
    for r, q in share.items():  # binomial SE = sqrt(.25 * .75 / 2000) < 0.01
        assert shares[r] == pytest.approx(q, abs=0.035)
    tests = composition_tests(s, rounds=ROUNDS, seed=2, n_sim=199).set_index("characteristic")
    assert tests.at["role", "p"] < 1e-12
    probs = np.array([[1 - q for q in share.values()], list(share.values())])
    truth = population_cramers_v(probs, np.full(4, 0.25))
    assert tests.at["role", "effect_size"] == pytest.approx(truth, abs=0.02)
    # nothing planted in participation or organisation
    assert tests.at["participant", "p"] > 0.001 and tests.at["organisation", "p"] > 0.001


def test_chi_square_rejects_at_its_level_without_a_shift():
    share = dict.fromkeys(ROUNDS, 0.2)
    p = [
        composition_tests(
            cross_sections(seed, n=100, supervisor=share), rounds=ROUNDS, by=["role"], seed=seed,
            n_sim=0,
        ).at[0, "p"]
        for seed in range(150)
    ]  # fmt: skip
    rate = float(np.mean(np.array(p) < 0.05))
    assert 0.01 < rate < 0.10  # binomial SD of the rate: 0.018


def test_composition_suppresses_small_cells_and_their_complement():
    rows = [("T0", "staff")] * 20 + [("T0", "supervisor")] * 3 + [("T0", None)] * 6
    rows += [("T1", "staff")] * 20 + [("T1", "supervisor")] * 8
    rows += [("T2", "staff")] * 4  # a round below min_n
    s = pd.DataFrame(rows, columns=["round", "role"])
    out = composition_table(s, rounds=["T0", "T1", "T2"], by=["role"], min_n=5)
    cell = out.set_index(["level", "round"])
    # the small cell (3) and, as the only small one, the smallest other non-empty cell (6)
    assert cell.loc[("supervisor", "T0"), "suppressed"]
    assert np.isnan(cell.loc[("supervisor", "T0"), "n"])
    assert np.isnan(cell.loc[("supervisor", "T0"), "share"])
    assert cell.loc[(MISSING, "T0"), "suppressed"] and np.isnan(cell.loc[(MISSING, "T0"), "n"])
    assert cell.loc[("staff", "T0"), "n"] == 20 and cell.loc[("staff", "T0"), "n_round"] == 29
    # an empty cell is shown as 0
    assert cell.loc[(MISSING, "T1"), "n"] == 0 and not cell.loc[(MISSING, "T1"), "suppressed"]
    assert cell.loc[("supervisor", "T1"), "share"] == pytest.approx(8 / 28)
    # a round below min_n is suppressed whole
    t2 = out[out["round"] == "T2"]
    assert t2["suppressed"].all() and t2[["n_round", "n", "share"]].isna().all().all()
    # what is shown never reveals a small count: shown n are 0 or >= min_n
    shown = out.loc[~out["suppressed"], "n"]
    assert ((shown == 0) | (shown >= 5)).all()


def test_composition_does_not_modify_its_input():
    s = cross_sections(1, n=50, supervisor=dict.fromkeys(ROUNDS, 0.3))
    before = s.copy()
    composition_table(s, rounds=ROUNDS)
    composition_tests(s, rounds=ROUNDS, seed=1, n_sim=9)
    pd.testing.assert_frame_equal(s, before)


# --------------------------------------------------------------------------- attrition


def panel(seed: int, *, n: int, beta: float, coded: float = 0.8) -> pd.DataFrame:
    """A baseline of ``n`` respondents, ``coded`` of them with a link code; a coded respondent
    answers again in T1 with probability logistic(-0.2 + beta * z), z the standardised baseline
    score; every round also has new, uncoded respondents."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    has_code = rng.random(n) < coded
    codes = np.array([f"R{i:05d}" if c else "" for i, c in enumerate(has_code)], dtype=object)
    part = (rng.random(n) < 0.4).astype(float)
    base = pd.DataFrame({"round": "T0", "respondent": codes, "participant": part,
                         "qwl": 60 + 10 * z})  # fmt: skip
    stay = has_code & (rng.random(n) < 1 / (1 + np.exp(0.2 - beta * z)))
    again = pd.DataFrame({"round": "T1", "respondent": codes[stay], "participant": part[stay],
                          "qwl": 60 + 10 * z[stay] + rng.normal(0, 5, stay.sum())})  # fmt: skip
    new = pd.DataFrame({"round": "T1", "respondent": "", "participant": 0.0,
                        "qwl": rng.normal(60, 10, n // 4)})  # fmt: skip
    return pd.concat([base, again, new], ignore_index=True)


def selection_truth(beta: float) -> float:
    """Population standardised difference (stayers - leavers) of the baseline score under
    P(stay | z) = logistic(-0.2 + beta z), z ~ N(0, 1); SD pooled within the two groups."""

    def moment(k: int, stay: bool) -> float:
        def f(z):
            p = 1 / (1 + math.exp(0.2 - beta * z))
            return z**k * stats.norm.pdf(z) * (p if stay else 1 - p)

        return integrate.quad(f, -12, 12)[0]

    out = {}
    for stay in (True, False):
        w = moment(0, stay)
        mean = moment(1, stay) / w
        out[stay] = (w, mean, moment(2, stay) / w - mean**2)
    (w1, m1, v1), (w0, m0, v0) = out[True], out[False]
    return (m1 - m0) / math.sqrt((w1 * v1 + w0 * v0) / (w1 + w0))


def test_planted_attrition_by_baseline_score_is_detected():
    s = panel(21, n=6000, beta=0.8)
    out = attrition_table(s, rounds=["T0", "T1"], baseline="T0", measures=["qwl"], by=None)
    assert list(out.columns) == ATTRITION_COLUMNS
    row = out.iloc[0]
    assert row["effect_size_type"] == "hedges_g" and row["test"] == "welch_t"
    truth = selection_truth(0.8)
    assert truth > 0.5
    assert row["effect_size"] == pytest.approx(truth, abs=0.08)  # SE of g about 0.03
    assert row["es_ci_low"] > 0 and row["p"] < 1e-10
    assert row["diff"] > 0  # stayers scored higher at baseline
    assert row["n_baseline"] == 6000
    assert row["n_linkable"] == pytest.approx(0.8 * 6000, rel=0.05)
    assert row["n_stayed"] + row["n_left"] == row["n_linkable"]
    assert row["retention"] == pytest.approx(row["n_stayed"] / row["n_linkable"])


def test_attrition_interval_covers_zero_at_its_level_without_selection():
    covered = []
    for seed in range(120):
        s = panel(seed, n=200, beta=0.0)
        row = attrition_table(s, rounds=["T0", "T1"], baseline="T0", measures=["qwl"], by=None)
        covered.append(row.at[0, "es_ci_low"] <= 0 <= row.at[0, "es_ci_high"])
    assert 0.89 < np.mean(covered) < 0.995  # binomial SD of the coverage: 0.02


def test_attrition_equals_independent_rows_on_stayers_and_leavers():
    s = panel(4, n=300, beta=0.5)
    out = attrition_table(s, rounds=["T0", "T1"], baseline="T0", measures=["qwl"])
    base = s[s["round"] == "T0"]
    seen = set(s.loc[(s["round"] == "T1") & (s["respondent"] != ""), "respondent"])
    coded = base[base["respondent"] != ""]
    for group, part in [("all", coded), ("1", coded[coded["participant"] == 1])]:
        stay = part["respondent"].isin(seen)
        ref = independent_rows(part.loc[~stay, "qwl"], part.loc[stay, "qwl"]).iloc[0]
        row = out[out["group"] == group].iloc[0]
        assert row["n_stayed"] == stay.sum() and row["n_left"] == (~stay).sum()
        for col in ("statistic", "df", "p", "effect_size", "es_ci_low", "es_ci_high", "diff"):
            assert row[col] == pytest.approx(ref[col], rel=1e-12)
    assert set(out["group_by"]) == {"all", "participant"}


def test_attrition_linking_rule_and_suppression():
    base = [("T0", f"R{i}", 50.0 + i) for i in range(12)]
    base += [("T0", "DUP", 40.0), ("T0", "DUP", 41.0)]  # repeated at baseline: not linkable
    base += [("T0", "", 45.0), ("T0", None, 46.0)]  # no code
    base += [("T0", "R99", np.nan)]  # no value of the measure
    later = [("T1", f"R{i}", 55.0) for i in range(6)]  # R0..R5 stay
    later += [("T1", "R6", 1.0), ("T1", "R6", 2.0)]  # repeated in T1: cannot be linked
    later += [("T1", "R7", np.nan)]  # seen, but without a value: not in the paired rows
    s = pd.DataFrame(base + later, columns=["round", "respondent", "qwl"])
    row = attrition_table(
        s, rounds=["T0", "T1"], baseline="T0", measures=["qwl"], by=None, min_n=5
    ).iloc[0]
    assert (row["n_baseline"], row["n_linkable"], row["n_stayed"], row["n_left"]) == (16, 12, 6, 6)
    assert row["mean_stayed"] == pytest.approx(np.mean([50, 51, 52, 53, 54, 55]))
    assert row["mean_left"] == pytest.approx(np.mean([56, 57, 58, 59, 60, 61]))
    small = attrition_table(
        s, rounds=["T0", "T1"], baseline="T0", measures=["qwl"], by=None, min_n=7
    ).iloc[0]
    assert small["suppressed"]
    stats_cols = [c for c in ATTRITION_COLUMNS[5:-1] if c not in ("test", "effect_size_type")]
    assert small[stats_cols].isna().all()


# --------------------------------------------------------------------------- optimisers


def test_every_optimiser_matches_lme4_on_pastes():
    path = Path(statsmodels.__file__).parent / "regression/tests/results/pastes.csv"
    assert path.is_file(), f"{path} missing: the reference data come with statsmodels' wheel"
    data = pd.read_csv(path)
    out = optimiser_fits(data, "strength ~ 1", groups="batch", vc_formula={"cask": "0 + cask"})
    assert set(out["optimiser"]) == {"bfgs", "lbfgs", "powell", "nm"}
    assert out["converged"].all()
    for opt, part in out.groupby("optimiser"):
        est = dict(zip(part["parameter"], part["estimate"], strict=True))
        assert est["fe:Intercept"] == pytest.approx(60.0533, rel=1e-4), opt
        assert est["var_group"] == pytest.approx(1.657, rel=3e-3), opt
        assert est["vc:cask"] == pytest.approx(8.434, rel=1e-3), opt
        assert est["var_residual"] == pytest.approx(0.678, rel=1e-3), opt
    llf = out.loc[out["parameter"] == "llf", "estimate"]
    assert llf.max() - llf.min() < 1e-5


def did_data(seed: int = 8, per_unit: int = 12) -> pd.DataFrame:
    """Three rounds, 8 organisations of 3 units; DiD of T2 = 6, of T1 = 0."""
    rng = np.random.default_rng(seed)
    parts = []
    for o in range(8):
        u_org = rng.normal(0, 3)
        for u in range(3):
            u_unit = rng.normal(0, 2)
            for r, rnd in enumerate(["T0", "T1", "T2"]):
                p = (rng.random(per_unit) < 0.4).astype(float)
                y = 60 + u_org + u_unit + r + 2 * p + (6.0 if r == 2 else 0.0) * p
                parts.append(
                    pd.DataFrame({"round": rnd, "organisation": f"O{o}", "unit": f"U{u}",
                                  "participant": p, "qwl": y + rng.normal(0, 8, per_unit)})
                )  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def test_optimiser_agreement_reproduces_lmm_table_and_tabulates_spread():
    data = did_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelWarning)
        lmm = lmm_table(data, measure="qwl", rounds=["T0", "T1", "T2"], baseline="T0")
    out = optimiser_agreement(data, measure="qwl", rounds=["T0", "T1", "T2"], baseline="T0")
    assert list(out.columns) == OPTIMISER_COLUMNS
    assert set(out["optimiser"]) == {"bfgs", "lbfgs", "powell", "nm"}
    assert set(out["parameter"]) == {"llf", "did", "var_organisation", "var_unit", "var_residual"}
    # lmm_table fits the same organisation + unit model (no linked codes: no person level)
    # from sufficient statistics; statsmodels is the reference: on these data bfgs stops
    # without converging (listed, not compared), and the first clean fit agrees with lmm_table
    assert lmm["model"].iloc[0] == "lmm_reml_org_unit"
    status = out.groupby("optimiser", sort=False)[["converged", "warning"]].first()
    assert not status.at["bfgs", "converged"]
    assert status.at["bfgs", "warning"] == "fit_not_converged"
    clean = [
        o for o in status.index if status.at[o, "converged"] and status.at[o, "warning"] is None
    ]
    used = out[out["optimiser"] == clean[0]]
    for r in ("T1", "T2"):
        ref = lmm[(lmm["term"] == "did") & (lmm["round"] == r)]["estimate"].item()
        got = used[(used["parameter"] == "did") & (used["round"] == r)]["estimate"].item()
        assert got == pytest.approx(ref, abs=1e-4)
    # max_abs_diff is the range over the converged optimisers
    ok = out[out["converged"].fillna(False).astype(bool) & (out["parameter"] == "var_residual")]
    spread = out.loc[out["parameter"] == "var_residual", "max_abs_diff"].unique()
    assert len(spread) == 1 and spread[0] == pytest.approx(np.ptp(ok["estimate"]))
    assert out.loc[out["parameter"] == "llf", "max_abs_diff"].iloc[0] < 1e-3


def test_optimiser_agreement_skips_above_max_rows_and_suppresses_small_cells():
    data = did_data()
    skipped = optimiser_agreement(
        data, measure="qwl", rounds=["T0", "T1", "T2"], baseline="T0", max_rows=100
    )
    assert len(skipped) == 4 and skipped["estimate"].isna().all()
    assert skipped["note"].str.startswith(f"skipped: {len(data)} rows > max_rows 100").all()
    # T1 with only 3 participants: its DiD rows are suppressed, T2's are not
    t1 = data.index[(data["round"] == "T1") & (data["participant"] == 1)]
    small = data.drop(t1[3:])
    out = optimiser_agreement(
        small, measure="qwl", rounds=["T0", "T1", "T2"], baseline="T0", optimisers=["bfgs"]
    )
    did = out[out["parameter"] == "did"].set_index("round")
    assert did.at["T1", "suppressed"] and np.isnan(did.at["T1", "estimate"])
    assert not did.at["T2", "suppressed"] and np.isfinite(did.at["T2", "estimate"])
