"""Tests of evaluation.analyse.quant.reliability against published values and known populations.

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
from scipy import stats
from sklearn.decomposition import FactorAnalysis

from evaluation.analyse.quant.reliability import (
    RELIABILITY_COLUMNS,
    _one_factor_ml,
    cronbach_alpha,
    em_covariance,
    mcdonald_omega,
    reliability_table,
)

FIXTURES = Path(__file__).parent / "fixtures"
REF = yaml.safe_load((FIXTURES / "published_effects.yaml").read_text(encoding="utf-8"))


SCALES = np.array([1, 2, 5, 10, 0.5])  # item SDs of exact_sample


def population_omega(loadings: np.ndarray, scales: np.ndarray | None = None) -> float:
    """Omega of the sum of items x_i = s_i (lambda_i f + e_i), var(e_i) = 1 - lambda_i^2."""
    s = np.ones_like(loadings) if scales is None else scales[: len(loadings)]
    common = (s * loadings).sum() ** 2
    return common / (common + (s**2 * (1 - loadings**2)).sum())


def exact_sample(corr: np.ndarray, n: int, seed: int) -> pd.DataFrame:
    """Data whose sample correlation matrix is exactly ``corr``."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, corr.shape[0]))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # sample cov = I
    x = z @ np.linalg.cholesky(corr).T
    return pd.DataFrame(x * SCALES[: corr.shape[0]] + 3, columns=_names(corr))


def _names(corr: np.ndarray) -> list[str]:
    return [f"item_{i}" for i in range(1, corr.shape[0] + 1)]


def one_factor_corr(loadings: np.ndarray) -> np.ndarray:
    corr = np.outer(loadings, loadings)
    np.fill_diagonal(corr, 1.0)
    return corr


# --------------------------------------------------------------------------- Cronbach's alpha


def test_alpha_matches_shrout_fleiss_icc3k():
    ref = REF["shrout_fleiss1979"]
    res = cronbach_alpha(pd.DataFrame(ref["judges"])).iloc[0]
    assert res["n"] == 6 and res["k_items"] == 4
    assert round(res["cronbach_alpha"], 2) == ref["alpha"]
    assert [round(res["alpha_ci_low"], 2), round(res["alpha_ci_high"], 2)] == ref["ci"]


def test_alpha_listwise_matches_r_psych_on_pingouin_dataset():
    ref = REF["cronbach_wide_missing"]
    data = pg.read_dataset("cronbach_wide_missing")
    before = data.copy()
    res = cronbach_alpha(data).iloc[0]
    assert res["n"] == ref["n_complete"]
    assert res["cronbach_alpha"] == pytest.approx(ref["alpha"], abs=5e-7)
    assert [round(res["alpha_ci_low"], 3), round(res["alpha_ci_high"], 3)] == ref["ci"]
    pd.testing.assert_frame_equal(data, before)


def test_alpha_agrees_with_pingouin_on_complete_data():
    rng = np.random.default_rng(4)
    f = rng.normal(size=(80, 1))
    items = pd.DataFrame(np.round(3 + f + rng.normal(size=(80, 6))), columns=list("abcdef"))
    items.iloc[[3, 17], 2] = np.nan
    res = cronbach_alpha(items, ci=0.90).iloc[0]
    alpha, ci = pg.cronbach_alpha(items.dropna(), ci=0.90)
    assert res["n"] == 78
    assert res["cronbach_alpha"] == pytest.approx(alpha, rel=1e-12)
    assert [res["alpha_ci_low"], res["alpha_ci_high"]] == pytest.approx(list(ci), abs=5e-4)


def test_feldt_interval_formula():
    rng = np.random.default_rng(8)
    items = pd.DataFrame(rng.normal(size=(30, 4)) + rng.normal(size=(30, 1)))
    res = cronbach_alpha(items).iloc[0]
    n, k, a = 30, 4, res["cronbach_alpha"]
    assert res["alpha_ci_low"] == pytest.approx(
        1 - (1 - a) * stats.f.ppf(0.975, n - 1, (n - 1) * (k - 1))
    )
    assert res["alpha_ci_high"] == pytest.approx(
        1 - (1 - a) * stats.f.ppf(0.025, n - 1, (n - 1) * (k - 1))
    )


def test_alpha_undefined_cases_are_nan():
    assert math.isnan(
        cronbach_alpha(pd.DataFrame({"a": [1.0, 2.0, 3.0]})).iloc[0]["cronbach_alpha"]
    )
    one_row = cronbach_alpha(pd.DataFrame({"a": [1.0], "b": [2.0]})).iloc[0]
    assert one_row["n"] == 1 and math.isnan(one_row["cronbach_alpha"])
    constant = cronbach_alpha(pd.DataFrame({"a": [2.0] * 5, "b": [2.0] * 5})).iloc[0]
    assert math.isnan(constant["cronbach_alpha"])


# --------------------------------------------------------------------------- McDonald's omega


def test_omega_recovers_exact_one_factor_population_of_the_raw_items():
    """Items with SDs 1, 2, 5, 10, 0.5: omega is that of their raw sum (what is scored), not
    of the standardized items."""
    lam = np.array([0.8, 0.7, 0.6, 0.5, 0.4])
    data = exact_sample(one_factor_corr(lam), n=200, seed=1)
    omega = mcdonald_omega(data)["omega"].item()
    assert omega == pytest.approx(population_omega(lam, SCALES), abs=1e-6)
    assert abs(omega - population_omega(lam)) > 0.05  # the standardized value differs


def test_omega_on_standardized_items_equals_the_correlation_fit():
    """For standardized items the covariance fit is the former correlation fit: omega from
    the standardized loadings of ``_one_factor_ml(R)``."""
    lam = np.array([0.8, 0.7, 0.6, 0.5, 0.4])
    data = exact_sample(one_factor_corr(lam), n=200, seed=1)
    z = (data - data.mean()) / data.std()
    load, psi = _one_factor_ml(np.corrcoef(z.to_numpy(), rowvar=False))
    old = load.sum() ** 2 / (load.sum() ** 2 + psi.sum())
    assert mcdonald_omega(z)["omega"].item() == pytest.approx(old, rel=1e-10)
    assert old == pytest.approx(population_omega(lam), abs=1e-6)


def test_omega_of_three_items_matches_the_closed_form_of_the_just_identified_model():
    """With three items the one-factor model is just identified: lambda_i^2 = s_ij s_ik / s_jk
    and psi_i = s_ii - lambda_i^2 (e.g. Bollen 1989, ch. 7), so the ML fit reproduces S."""
    rng = np.random.default_rng(5)
    f = rng.normal(size=(300, 1))
    x = f * [1.0, 2.5, 0.6] + rng.normal(size=(300, 3)) * [1.2, 1.5, 0.9] + 4
    s = np.cov(x, rowvar=False)
    lam = np.sqrt([s[0, 1] * s[0, 2] / s[1, 2], s[0, 1] * s[1, 2] / s[0, 2],
                   s[0, 2] * s[1, 2] / s[0, 1]])  # fmt: skip
    psi = np.diag(s) - lam**2
    expected = lam.sum() ** 2 / (lam.sum() ** 2 + psi.sum())
    assert mcdonald_omega(pd.DataFrame(x))["omega"].item() == pytest.approx(expected, rel=1e-7)


def test_omega_equals_alpha_for_tau_equivalent_items():
    """Equal raw loadings (tau-equivalent), unequal unique variances: omega = alpha."""
    lam = np.array([0.8, 0.6, 0.5, 0.7])
    data = exact_sample(one_factor_corr(lam), n=150, seed=2)  # raw loadings s_i lambda_i
    sd = 2.0 * 0.4 / lam  # choose SDs so that s_i lambda_i = 0.8 for every item
    raw = (data - data.mean()) / data.std() * sd
    cov = (0.8 * 0.8) * np.ones((4, 4)) + np.diag(sd**2 - 0.64)
    k = 4
    alpha_pop = k / (k - 1) * (1 - np.trace(cov) / cov.sum())
    assert mcdonald_omega(raw)["omega"].item() == pytest.approx(alpha_pop, abs=1e-6)
    assert cronbach_alpha(raw).iloc[0]["cronbach_alpha"] == pytest.approx(alpha_pop, abs=1e-9)


def test_omega_at_least_alpha_for_congeneric_items():
    lam = np.array([0.9, 0.7, 0.5, 0.3])
    data = exact_sample(one_factor_corr(lam), n=120, seed=3)
    assert (
        mcdonald_omega(data)["omega"].item() > cronbach_alpha(data).iloc[0]["cronbach_alpha"] + 0.01
    )


def test_omega_recovery_in_large_simulated_sample():
    lam = np.array([0.75, 0.65, 0.55, 0.7, 0.45, 0.6])
    rng = np.random.default_rng(12)
    n = 4000
    x = rng.standard_normal((n, 1)) * lam + rng.standard_normal((n, 6)) * np.sqrt(1 - lam**2)
    assert mcdonald_omega(pd.DataFrame(x))["omega"].item() == pytest.approx(
        population_omega(lam), abs=0.01
    )


def test_omega_loadings_agree_with_sklearn_factor_analysis_of_the_covariance():
    lam = np.array([0.8, 0.6, 0.7, 0.5, 0.65])
    rng = np.random.default_rng(21)
    x = rng.standard_normal((500, 1)) * lam + rng.standard_normal((500, 5)) * np.sqrt(1 - lam**2)
    x = x * SCALES
    fa = FactorAnalysis(n_components=1, tol=1e-10, max_iter=10000).fit(x)  # ML on raw cov
    load = np.abs(fa.components_[0])
    expected = load.sum() ** 2 / (load.sum() ** 2 + fa.noise_variance_.sum())
    assert mcdonald_omega(pd.DataFrame(x))["omega"].item() == pytest.approx(expected, abs=1e-4)


def test_omega_bootstrap_interval_is_seeded_and_covers_in_simulation():
    """Percentile bootstrap (79 resamples) over 25 simulated samples (n = 150, k = 4) of a
    known one-factor population: the interval covers the true omega in most of them
    (binomial(25, 0.95): fewer than 21 has probability < 0.01). A rough check only."""
    lam = np.array([0.8, 0.7, 0.6, 0.5])
    scales = np.array([1.0, 2.0, 0.5, 1.5])
    truth = population_omega(lam, scales)
    rng = np.random.default_rng(20251015)
    covered = 0
    for i in range(25):
        f = rng.standard_normal((150, 1))
        x = (f * lam + rng.standard_normal((150, 4)) * np.sqrt(1 - lam**2)) * scales
        r = mcdonald_omega(pd.DataFrame(x), n_boot=79, seed=i).iloc[0]
        assert r["omega_ci_low"] < r["omega"] < r["omega_ci_high"]
        covered += r["omega_ci_low"] <= truth <= r["omega_ci_high"]
    assert covered >= 21, covered
    again = mcdonald_omega(pd.DataFrame(x), n_boot=99, seed=24)
    pd.testing.assert_frame_equal(again, mcdonald_omega(pd.DataFrame(x), n_boot=99, seed=24))
    assert mcdonald_omega(pd.DataFrame(x))[["omega_ci_low", "omega_ci_high"]].isna().all(axis=None)


# --------------------------------------------------------------------------- alpha, EM


def test_em_covariance_matches_closed_form_ml_for_monotone_missingness():
    """x1 complete, x2 missing for some rows: the ML estimates have a closed form (Anderson
    1957; Little & Rubin 2002, sec. 7.2): regress x2 on x1 in the complete cases."""
    rng = np.random.default_rng(3)
    x = rng.multivariate_normal([1, 2], [[1, 0.6], [0.6, 2]], size=200)
    x[rng.random(200) < 0.3, 1] = np.nan
    mean, cov = em_covariance(x)
    c = x[~np.isnan(x[:, 1])]
    s_c = np.cov(c, rowvar=False, ddof=0)
    b = s_c[0, 1] / s_c[0, 0]
    mu1, s11 = x[:, 0].mean(), x[:, 0].var()
    mu2 = c[:, 1].mean() + b * (mu1 - c[:, 0].mean())
    s22 = s_c[1, 1] + b**2 * (s11 - s_c[0, 0])
    assert mean == pytest.approx([mu1, mu2], rel=1e-8)
    assert cov == pytest.approx(np.array([[s11, b * s11], [b * s11, s22]]), rel=1e-8)


def test_alpha_em_equals_listwise_on_complete_data():
    rng = np.random.default_rng(4)
    items = pd.DataFrame(rng.normal(size=(80, 5)) + rng.normal(size=(80, 1)))
    em = cronbach_alpha(items, missing="em").iloc[0]
    lw = cronbach_alpha(items).iloc[0]
    pd.testing.assert_series_equal(em, lw, rtol=1e-12)


def test_alpha_em_uses_every_respondent_and_recovers_complete_data_alpha_under_mcar():
    """10 items, 2000 respondents, 5 % of answers missing completely at random (about 40 %
    of respondents incomplete): the EM alpha is close to the alpha of the complete data."""
    rng = np.random.default_rng(7)
    full = pd.DataFrame(rng.normal(size=(2000, 1)) * 0.7 + rng.normal(size=(2000, 10)))
    holes = full.mask(rng.random(full.shape) < 0.05)
    truth = cronbach_alpha(full).iloc[0]["cronbach_alpha"]
    em = cronbach_alpha(holes, missing="em").iloc[0]
    assert em["n"] == 2000 and holes.dropna().shape[0] < 1300
    assert em["cronbach_alpha"] == pytest.approx(truth, abs=0.005)
    with pytest.raises(ValueError, match="missing"):
        cronbach_alpha(holes, missing="pairwise")


def test_omega_undefined_cases_are_nan():
    rng = np.random.default_rng(0)
    assert math.isnan(mcdonald_omega(pd.DataFrame(rng.normal(size=(50, 2))))["omega"].item())
    assert math.isnan(mcdonald_omega(pd.DataFrame(rng.normal(size=(3, 4))))["omega"].item())
    flat = pd.DataFrame(rng.normal(size=(20, 3))).assign(c=1.0)
    assert math.isnan(mcdonald_omega(flat)["omega"].item())


# --------------------------------------------------------------------------- reliability_table


def make_items(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for rnd, n in (("T0", 60), ("T1", 4)):
        f = rng.normal(size=(n, 1))
        esis = np.clip(np.round(3 + f + rng.normal(scale=0.8, size=(n, 10))), 1, 5)
        frame = pd.DataFrame(esis, columns=[f"esis_{i}" for i in range(1, 11)])
        frame["pair_1"] = np.round(f[:, 0] + rng.normal(size=n), 1)
        frame["pair_2"] = np.round(f[:, 0] + rng.normal(size=n), 1)
        frame["qwl"] = rng.normal(60, 10, n)
        frame.insert(0, "round", rnd)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True)
    out.loc[[2, 5], "esis_3"] = np.nan
    return out


INSTRUMENTS = {
    "esis": [f"esis_{i}" for i in range(1, 11)],
    "pair": ["pair_1", "pair_2"],
    "qwl": ["qwl"],
}


def test_reliability_table_rows_columns_and_suppression():
    data = make_items()
    before = data.copy()
    out = reliability_table(
        data, instruments=INSTRUMENTS, rounds=["T0", "T1", "T2"], min_n=5, reps=199, seed=1
    )
    again = reliability_table(
        data, instruments=INSTRUMENTS, rounds=["T0", "T1", "T2"], min_n=5, reps=199, seed=1
    )
    pd.testing.assert_frame_equal(out, again)
    pd.testing.assert_frame_equal(data, before)
    assert list(out.columns) == RELIABILITY_COLUMNS
    assert list(zip(out["instrument"], out["round"], strict=True)) == [
        ("esis", "T0"),
        ("esis", "T1"),
        ("esis", "T2"),
        ("pair", "T0"),
        ("pair", "T1"),
        ("pair", "T2"),
    ]  # qwl has one item: no row
    esis_t0 = out.iloc[0]
    assert esis_t0["n"] == 60 and esis_t0["k_items"] == 10 and not esis_t0["suppressed"]
    assert esis_t0["n_complete"] == 58  # two respondents skipped esis_3
    t0 = data[data["round"] == "T0"]
    direct = cronbach_alpha(t0[INSTRUMENTS["esis"]], missing="em").iloc[0]
    assert esis_t0["cronbach_alpha"] == pytest.approx(direct["cronbach_alpha"])
    assert esis_t0["alpha_ci_low"] < esis_t0["cronbach_alpha"] < esis_t0["alpha_ci_high"]
    assert esis_t0["omega"] == pytest.approx(
        mcdonald_omega(t0[INSTRUMENTS["esis"]])["omega"].item()
    )
    assert esis_t0["omega_ci_low"] < esis_t0["omega"] < esis_t0["omega_ci_high"]
    small = out[out["round"].isin(["T1", "T2"])]
    assert small["suppressed"].all()
    stat_cols = ["n", "cronbach_alpha", "alpha_ci_low", "alpha_ci_high", "omega"]
    stat_cols += ["omega_ci_low", "omega_ci_high", "n_complete"]
    assert small[stat_cols].isna().all().all()
    assert (small["k_items"] == small["instrument"].map({"esis": 10, "pair": 2})).all()
    pair_t0 = out[(out["instrument"] == "pair") & (out["round"] == "T0")].iloc[0]
    assert not math.isnan(pair_t0["cronbach_alpha"]) and math.isnan(pair_t0["omega"])


def test_reliability_table_min_n_and_missing_items():
    data = make_items()
    out = reliability_table(data, instruments={"esis": INSTRUMENTS["esis"]}, rounds=["T1"], min_n=3)
    assert not out["suppressed"].iloc[0] and out["n"].iloc[0] == 4
    with pytest.raises(ValueError, match="esis_99"):
        reliability_table(data, instruments={"x": ["esis_1", "esis_99"]}, rounds=["T0"])
    empty = reliability_table(data, instruments={"qwl": ["qwl"]}, rounds=["T0"])
    assert empty.empty and list(empty.columns) == RELIABILITY_COLUMNS


def test_a_bootstrap_replicate_from_pattern_counts_is_the_resampled_rows_covariance():
    from evaluation.analyse.quant.reliability import _counts_cov

    rng = np.random.default_rng(7)
    x = rng.integers(1, 6, size=(500, 4)).astype(float)
    patterns, counts = np.unique(x, axis=0, return_counts=True)
    draw = rng.multinomial(len(x), counts / len(x)).astype(float)
    rows = np.repeat(patterns, draw.astype(int), axis=0)
    np.testing.assert_allclose(_counts_cov(patterns, draw), np.cov(rows, rowvar=False), atol=1e-12)
    centred = patterns - x.mean(axis=0)  # as the bootstrap passes them: the same matrix
    np.testing.assert_allclose(_counts_cov(centred, draw), np.cov(rows, rowvar=False), atol=1e-12)


def test_distinct_missingness_patterns_as_numpy_unique():
    from evaluation.analyse.quant.reliability import _distinct_rows

    rng = np.random.default_rng(3)
    for k in (1, 5, 12):
        flags = rng.random((2000, k)) < 0.3
        patterns, inverse = _distinct_rows(flags)
        np.testing.assert_array_equal(patterns[inverse], flags)
        assert len(patterns) == len(np.unique(flags, axis=0))


def test_three_item_closed_form_equals_the_ml_fit():
    """The closed form the bootstrap refits of three items take is the ML fit's solution."""
    from evaluation.analyse.quant.reliability import _one_factor_ml, _three_item_solution

    rng = np.random.default_rng(9)
    for loadings in ([0.8, 0.6, 0.5], [0.4, 0.7, 0.9], [0.55, 0.55, 0.3]):
        x = rng.normal(size=(2000, 1)) * loadings + rng.normal(size=(2000, 3)) * 0.7
        corr = np.corrcoef(x, rowvar=False)
        lam, psi = _three_item_solution(corr)
        ml_lam, ml_psi = _one_factor_ml(corr)
        np.testing.assert_allclose(lam, ml_lam, atol=1e-6)
        np.testing.assert_allclose(psi, ml_psi, atol=1e-6)
    heywood = np.array([[1.0, 0.9, 0.5], [0.9, 1.0, 0.3], [0.5, 0.3, 1.0]])  # lambda_1^2 = 1.5
    assert _three_item_solution(heywood) is None


def test_a_replicate_refitted_by_fisher_scoring_is_the_ml_fit():
    """Bootstrap replicates are refitted by Fisher scoring from the full sample's solution:
    it reaches the strict L-BFGS-B fit's solution (to 1e-5 in every uniqueness and loading,
    omega to 1e-6 and at least as near as L-BFGS-B at the replicates' tolerance) for
    replicates of simulated one-factor data with 4-12 items, and gives way to
    L-BFGS-B (None; the same omega as without it) when the solution is on a bound."""
    from evaluation.analyse.quant.reliability import (
        _BOOT_TOL,
        _counts_cov,
        _omega_of_cov,
        _one_factor_ml,
        _one_factor_scoring,
    )

    rng = np.random.default_rng(17)
    checked, worst, lbfgsb = 0, 0.0, 0.0
    for k in (4, 6, 10, 12):
        lam = rng.uniform(0.3, 0.85, k)
        x = np.round(rng.normal(size=(400, 1)) * lam + rng.normal(size=(400, k)) * 0.8)
        corr = np.corrcoef(x, rowvar=False)
        _, start = _one_factor_ml(corr)
        patterns, counts = np.unique(x - x.mean(axis=0), axis=0, return_counts=True)
        for _ in range(20):
            cov = _counts_cov(patterns, rng.multinomial(len(x), counts / len(x)).astype(float))
            sd = np.sqrt(np.diag(cov))
            rep = cov / np.outer(sd, sd)
            scored = _one_factor_scoring(rep, start, _BOOT_TOL[1])
            assert scored is not None
            strict = _one_factor_ml(rep, start)
            np.testing.assert_allclose(scored[1], strict[1], atol=1e-5)
            np.testing.assert_allclose(scored[0], strict[0], atol=1e-5)
            fast, _ = _omega_of_cov(cov, start, _BOOT_TOL, scoring=True)
            exact = _omega_of_cov(cov, start)[0]
            worst = max(worst, abs(fast - exact))
            lbfgsb = max(lbfgsb, abs(_omega_of_cov(cov, start, _BOOT_TOL)[0] - exact))
            checked += 1
    assert checked == 80
    assert worst < 1e-6 and worst <= lbfgsb, (worst, lbfgsb)  # as near as L-BFGS-B, or nearer
    # lambda_1 above 1 in the population: the ML solution puts psi_1 on its lower bound
    heywood = np.array(
        [[1.0, 0.9, 0.5, 0.45], [0.9, 1.0, 0.3, 0.3], [0.5, 0.3, 1.0, 0.2], [0.45, 0.3, 0.2, 1.0]]
    )
    _, psi = _one_factor_ml(heywood)
    assert psi.min() == pytest.approx(0.005)
    assert _one_factor_scoring(heywood, np.full(4, 0.5), _BOOT_TOL[1]) is None
    with_scoring = _omega_of_cov(heywood, np.full(4, 0.5), _BOOT_TOL, scoring=True)
    without = _omega_of_cov(heywood, np.full(4, 0.5), _BOOT_TOL)
    assert with_scoring[0] == without[0]
    np.testing.assert_array_equal(with_scoring[1], without[1])


def test_replicates_refitted_together_are_those_refitted_one_at_a_time():
    """The bootstrap refits a chunk of replicates together (one set of array operations per
    Fisher-scoring step, :func:`_one_factor_scoring_stack`): each gets the omega of its own
    refit (:func:`_omega_of_cov` with scoring), also when its scoring gives way to L-BFGS-B
    (a solution on a bound) or it has no omega (an item without variance, a singular matrix);
    and the stacked covariance matrices are those of one replicate at a time."""
    from evaluation.analyse.quant.reliability import (
        _BOOT_TOL,
        _counts_cov,
        _counts_covs,
        _omega_of_cov,
        _omegas_of_covs,
        _one_factor_ml,
        _one_factor_scoring,
        _one_factor_scoring_stack,
    )

    rng = np.random.default_rng(29)
    for k, n in ((4, 30), (6, 200), (10, 60)):
        lam = rng.uniform(0.3, 0.9, k)
        x = np.round(rng.normal(size=(n, 1)) * lam + rng.normal(size=(n, k)) * 0.7)
        _, start = _one_factor_ml(np.corrcoef(x, rowvar=False))
        patterns, counts = np.unique(x - x.mean(axis=0), axis=0, return_counts=True)
        draws = rng.multinomial(n, counts / n, size=60).astype(float)
        covs = _counts_covs(patterns, draws)
        one_by_one = np.stack([_counts_cov(patterns, d) for d in draws])
        np.testing.assert_allclose(covs, one_by_one, rtol=1e-12, atol=1e-14)
        covs[0, 0, :] = covs[0, :, 0] = 0.0  # an item without variance: no omega
        covs[1, :, 1] = covs[1, :, 0]  # two identical items: singular
        covs[1, 1, :] = covs[1, 0, :]
        expected = np.array([_omega_of_cov(c, start, _BOOT_TOL, scoring=True)[0] for c in covs])
        assert np.isnan(expected[:2]).all() and np.isfinite(expected[2:]).all()
        np.testing.assert_allclose(_omegas_of_covs(covs, start), expected, rtol=0, atol=1e-12)
    heywood = np.array(
        [[1.0, 0.9, 0.5, 0.45], [0.9, 1.0, 0.3, 0.3], [0.5, 0.3, 1.0, 0.2], [0.45, 0.3, 0.2, 1.0]]
    )
    fine = np.corrcoef(rng.normal(size=(200, 1)) + rng.normal(size=(200, 4)), rowvar=False)
    start = np.full(4, 0.5)
    lam, psi, converged = _one_factor_scoring_stack(np.stack([heywood, fine]), start, 1e-6)
    assert converged.tolist() == [False, True]
    assert _one_factor_scoring(heywood, start, 1e-6) is None
    alone = _one_factor_scoring(fine, start, 1e-6)
    np.testing.assert_allclose(lam[1], alone[0], rtol=0, atol=1e-13)
    np.testing.assert_allclose(psi[1], alone[1], rtol=0, atol=1e-13)
    np.testing.assert_allclose(
        _omegas_of_covs(np.stack([heywood, fine]), start),
        [_omega_of_cov(c, start, _BOOT_TOL, scoring=True)[0] for c in (heywood, fine)],
        rtol=0,
        atol=1e-12,
    )
