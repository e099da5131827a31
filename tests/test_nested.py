"""Tests of the nested random-intercept fitter (``evaluation.analyse.quant.nested``).

Reference values, each with its source:

* Pastes (lme4), ``lmer(strength ~ 1 + (1 | batch) + (1 | batch:cask), Pastes)``, REML:
  intercept 60.0533 (SE 0.6769), batch variance 1.657, cask variance 8.434, residual 0.678
  (Bates, D. 2010, *lme4: Mixed-effects modeling with R*, ch. 2). The design is balanced, so the
  REML estimates equal the nested ANOVA estimators when these are positive (Searle, Casella &
  McCulloch 1992, *Variance Components*, sections 4.6 and 6.8): s2_e = MS_within,
  s2_cask = (MS_cask - MS_within) / 2, s2_batch = (MS_batch - MS_cask) / 6, computed here exactly.
* dietox (geepack), ``lmer(Weight ~ Time + (1 | Pig), dietox)``, REML: fixed effects 15.723523,
  6.942505; SEs 0.78805374, 0.03338727; Pig variance 40.39395; residual 11.36692 (lme4 output in
  statsmodels' ``test_lme.py::test_dietox``).
* statsmodels ``MixedLM`` (groups = organisation, variance component unit; and a two-level model)
  fitted with a tight tolerance: the same REML and ML estimates, and statsmodels' own
  log-likelihood function evaluated at our estimates equals ours.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels
import statsmodels.formula.api as smf
from statsmodels.regression.mixed_linear_model import MixedLMParams
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from evaluation.analyse.quant.nested import fit_nested
from tests.test_longitudinal import pastes, simulate


def test_pastes_matches_lme4_and_exact_anova():
    d = pastes()
    cask = d["_org"] + " / " + d["_unit"]
    fit = fit_nested(np.ones((60, 1)), d["_y"].to_numpy(), [("batch", d["_org"]), ("cask", cask)])
    assert fit.converged and fit.singular == ()
    assert fit.beta[0] == pytest.approx(60.0533, rel=1e-5)
    assert math.sqrt(fit.cov[0, 0]) == pytest.approx(0.6769, rel=1e-4)
    assert fit.variances["batch"] == pytest.approx(1.657, rel=1e-3)
    assert fit.variances["cask"] == pytest.approx(8.434, rel=1e-4)
    assert fit.variances["residual"] == pytest.approx(0.678, rel=1e-4)
    # exact: balanced nested ANOVA (REML = ANOVA when the estimates are positive)
    y = d["_y"]
    cask_mean = y.groupby(cask).transform("mean")
    batch_mean = y.groupby(d["_org"]).transform("mean")
    ms_e = ((y - cask_mean) ** 2).sum() / 30
    ms_c = ((cask_mean - batch_mean) ** 2).sum() / 20
    ms_b = ((batch_mean - y.mean()) ** 2).sum() / 9
    assert fit.variances["residual"] == pytest.approx(ms_e, rel=1e-6)
    assert fit.variances["cask"] == pytest.approx((ms_c - ms_e) / 2, rel=1e-6)
    assert fit.variances["batch"] == pytest.approx((ms_b - ms_c) / 6, rel=1e-6)
    assert fit.cov[0, 0] == pytest.approx(ms_b / 60, rel=1e-6)  # Var(grand mean), balanced


def test_dietox_matches_lme4():
    path = Path(statsmodels.__file__).parent / "regression/tests/results/dietox.csv"
    assert path.is_file(), f"{path} missing: the reference data come with statsmodels' wheel"
    d = pd.read_csv(path)
    x = np.column_stack([np.ones(len(d)), d["Time"]])
    fit = fit_nested(x, d["Weight"].to_numpy(), [("pig", d["Pig"])])
    np.testing.assert_allclose(fit.beta, [15.723523, 6.942505], rtol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov)), [0.78805374, 0.03338727], rtol=1e-6)
    assert fit.variances["pig"] == pytest.approx(40.39395, rel=1e-6)
    assert fit.variances["residual"] == pytest.approx(11.36692, rel=1e-6)


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    d = simulate(7, n_org=9, per_unit=15)
    return d.assign(ou=d["organisation"] + " / " + d["unit"])


@pytest.mark.parametrize("reml", [True, False], ids=["reml", "ml"])
@pytest.mark.parametrize("levels", [1, 2], ids=["org", "org_unit"])
def test_equals_statsmodels(sim, reml, levels):
    kw = {"vc_formula": {"unit": "0 + C(unit)"}} if levels == 2 else {}
    model = smf.mixedlm(
        "qwl ~ C(round) * participant", sim, groups="organisation", re_formula="1", **kw
    )
    with warnings.catch_warnings():  # gtol 1e-10 is beyond what bfgs reports as met
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = model.fit(reml=reml, method="bfgs", gtol=1e-10)
    groups = [("organisation", sim["organisation"]), ("unit", sim["ou"])][:levels]
    fit = fit_nested(model.exog, sim["qwl"].to_numpy(), groups, reml=reml)
    assert fit.converged and fit.reml is reml
    np.testing.assert_allclose(fit.beta, res.fe_params, rtol=1e-6)
    assert fit.variances["organisation"] == pytest.approx(float(res.cov_re.iloc[0, 0]), rel=1e-6)
    assert fit.variances["residual"] == pytest.approx(res.scale, rel=1e-6)
    if levels == 2:
        assert fit.variances["unit"] == pytest.approx(float(res.vcomp[0]), rel=1e-6)
    assert fit.loglik == pytest.approx(res.llf, abs=1e-6)
    # statsmodels' own likelihood function at our estimates: the same criterion
    s2 = fit.variances["residual"]
    par = MixedLMParams.from_components(
        fit.beta,
        cov_re=np.array([[fit.variances["organisation"] / s2]]),
        vcomp=np.array([fit.variances["unit"] / s2]) if levels == 2 else np.zeros(0),
    )
    model.reml = reml
    assert model.loglike(par, profile_fe=False) == pytest.approx(fit.loglik, rel=1e-12)
    # fixed-effects covariance: lme4's s2 (X'V^-1X)^-1; statsmodels inverts the whole observed
    # information (fixed x variance cross terms included), which differs by ~1e-4 here
    np.testing.assert_allclose(np.sqrt(np.diag(fit.cov)), res.bse_fe, rtol=1e-3)


def test_covariance_blups_and_fitted_equal_dense_formulas():
    """Brute force with the dense V: b = (X'V^-1X)^-1 X'V^-1y, Cov = (X'V^-1X)^-1,
    BLUP u_l = s2_l Z_l' V^-1 (y - X b) (Henderson 1975); three nested levels."""
    rng = np.random.default_rng(3)
    org = np.repeat(np.arange(6), 40)
    unit = org * 10 + rng.integers(0, 3, 240)
    person = unit * 100 + rng.integers(0, 8, 240)
    x = np.column_stack([np.ones(240), rng.normal(size=240), rng.integers(0, 2, 240)])
    y = (
        x @ [5.0, 1.0, -2.0]
        + rng.normal(0, 2, 6)[org]
        + rng.normal(0, 1.5, 1000)[unit % 1000]
        + rng.normal(0, 2, 10000)[person % 10000]
        + rng.normal(0, 1, 240)
    )
    fit = fit_nested(x, y, [("org", org), ("unit", unit), ("person", person)])
    zs = {
        n: pd.get_dummies(c).to_numpy(float)
        for n, c in [("org", org), ("unit", unit), ("person", person)]
    }
    v = fit.variances["residual"] * np.eye(240)
    for name, z in zs.items():
        v += fit.variances[name] * z @ z.T
    vi = np.linalg.inv(v)
    cov = np.linalg.inv(x.T @ vi @ x)
    beta = cov @ x.T @ vi @ y
    np.testing.assert_allclose(fit.beta, beta, rtol=1e-9)
    np.testing.assert_allclose(fit.cov, cov, rtol=1e-8)
    r = y - x @ beta
    total = x @ beta
    for name, z in zs.items():
        u = fit.variances[name] * z.T @ vi @ r
        np.testing.assert_allclose(fit.blups[name].to_numpy(), u, rtol=1e-7, atol=1e-10)
        total = total + z @ u
    np.testing.assert_allclose(fit.fitted, total, rtol=1e-9)
    np.testing.assert_allclose(fit.resid, y - total, atol=1e-8)
    np.testing.assert_allclose(fit.fitted_fixed, x @ beta, rtol=1e-9)
    # log-likelihood: REML with the dense V (Harville 1977)
    n, p = x.shape
    _, logdet_v = np.linalg.slogdet(v)
    _, logdet_p = np.linalg.slogdet(x.T @ vi @ x)
    ll = -0.5 * ((n - p) * math.log(2 * math.pi) + logdet_v + logdet_p + r @ vi @ r)
    assert fit.loglik == pytest.approx(ll, rel=1e-10)


def test_simulation_recovers_variance_components():
    """Organisation > unit > person (4 rounds, half of the people answer twice or more):
    the averages over 8 seeds are within 10% of the true variances 16, 9, 25, 100."""
    est = []
    for seed in range(8):
        rng = np.random.default_rng(seed)
        rows = []
        for o in range(40):
            uo = rng.normal(0, 4)
            for u in range(4):
                uu = rng.normal(0, 3)
                for person in range(12):
                    up = rng.normal(0, 5)
                    for r in range(4):
                        if rng.random() < 0.6:
                            rows.append((o, f"{o}/{u}", f"{o}/{u}/{person}", r, uo + uu + up))
        d = pd.DataFrame(rows, columns=["org", "unit", "person", "round", "eff"])
        y = 50 + d["round"].to_numpy() + d["eff"].to_numpy() + rng.normal(0, 10, len(d))
        x = np.column_stack([np.ones(len(d)), d["round"]])
        fit = fit_nested(x, y, [("org", d["org"]), ("unit", d["unit"]), ("person", d["person"])])
        assert fit.converged
        est.append([fit.variances[k] for k in ("org", "unit", "person", "residual")])
    np.testing.assert_allclose(np.mean(est, axis=0), [16, 9, 25, 100], rtol=0.1)


def test_zero_variance_is_a_boundary_estimate():
    """Every cluster holds a permutation of the same values: the between variance is exactly
    at the boundary, reported as zero (lme4's singular fit), and the fit is OLS's."""
    rng = np.random.default_rng(0)
    values = rng.normal(0, 1, 20)
    y = np.concatenate([rng.permutation(values) for _ in range(8)])
    g = np.repeat(np.arange(8), 20)
    fit = fit_nested(np.ones((160, 1)), y, [("g", g)])
    assert fit.singular == ("g",) and fit.variances["g"] == 0.0
    assert fit.variances["residual"] == pytest.approx(np.var(y, ddof=1), rel=1e-10)


def test_not_nested_raises():
    with pytest.raises(ValueError, match="not nested"):
        fit_nested(
            np.ones((4, 1)), np.arange(4.0), [("org", ["a", "a", "b", "b"]), ("unit", list("xyxy"))]
        )


def test_compressed_sweep_equals_full_sweep():
    """The fast criterion (innermost clusters grouped by parent and size) equals the
    cluster-by-cluster recursion at arbitrary variance ratios, zeros included."""
    from evaluation.analyse.quant import nested

    rng = np.random.default_rng(8)
    org = rng.integers(0, 5, 500)
    unit = org * 10 + rng.integers(0, 4, 500)
    person = unit * 1000 + rng.integers(0, 150, 500)
    x = np.column_stack([np.ones(500), rng.normal(size=500), rng.integers(0, 2, 500)])
    y = rng.normal(size=500)
    codes = [nested._codes(c)[0] for c in (person, unit, org)]
    st = nested._sufficient(x, y, codes, ("person", "unit", "org"))
    assert len(st.g_n) < st.sizes[0]  # compressed
    for theta in ([0.7, 0.2, 1.5], [0.0, 0.3, 0.0], [2.0, 0.0, 0.1]):
        full = nested._sweep(st, np.array(theta))[:4]
        fast = nested._sweep_fast(st, np.array(theta))
        for a, b in zip(full, fast, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-9)
