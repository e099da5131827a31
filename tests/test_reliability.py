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
    cronbach_alpha,
    mcdonald_omega,
    reliability_table,
)

FIXTURES = Path(__file__).parent / "fixtures"
REF = yaml.safe_load((FIXTURES / "published_effects.yaml").read_text(encoding="utf-8"))


def population_omega(loadings: np.ndarray) -> float:
    common = loadings.sum() ** 2
    return common / (common + (1 - loadings**2).sum())


def exact_sample(corr: np.ndarray, n: int, seed: int) -> pd.DataFrame:
    """Data whose sample correlation matrix is exactly ``corr``."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, corr.shape[0]))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # sample cov = I
    x = z @ np.linalg.cholesky(corr).T
    return pd.DataFrame(x * [1, 2, 5, 10, 0.5][: corr.shape[0]] + 3, columns=_names(corr))


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


def test_omega_recovers_exact_one_factor_population():
    lam = np.array([0.8, 0.7, 0.6, 0.5, 0.4])
    data = exact_sample(one_factor_corr(lam), n=200, seed=1)
    assert mcdonald_omega(data)["omega"].item() == pytest.approx(population_omega(lam), abs=1e-6)


def test_omega_equals_standardized_alpha_for_equal_loadings():
    lam = np.full(4, 0.6)
    corr = one_factor_corr(lam)
    data = exact_sample(corr, n=150, seed=2)
    k, rbar = 4, 0.36
    std_alpha = k * rbar / (1 + (k - 1) * rbar)
    assert mcdonald_omega(data)["omega"].item() == pytest.approx(std_alpha, abs=1e-6)
    assert cronbach_alpha((data - data.mean()) / data.std()).iloc[0][
        "cronbach_alpha"
    ] == pytest.approx(std_alpha, abs=1e-9)


def test_omega_at_least_alpha_for_congeneric_items():
    lam = np.array([0.9, 0.7, 0.5, 0.3])
    data = exact_sample(one_factor_corr(lam), n=120, seed=3)
    std = (data - data.mean()) / data.std()
    assert (
        mcdonald_omega(data)["omega"].item() > cronbach_alpha(std).iloc[0]["cronbach_alpha"] + 0.01
    )


def test_omega_recovery_in_large_simulated_sample():
    lam = np.array([0.75, 0.65, 0.55, 0.7, 0.45, 0.6])
    rng = np.random.default_rng(12)
    n = 4000
    x = rng.standard_normal((n, 1)) * lam + rng.standard_normal((n, 6)) * np.sqrt(1 - lam**2)
    assert mcdonald_omega(pd.DataFrame(x))["omega"].item() == pytest.approx(
        population_omega(lam), abs=0.01
    )


def test_omega_loadings_agree_with_sklearn_factor_analysis():
    lam = np.array([0.8, 0.6, 0.7, 0.5, 0.65])
    rng = np.random.default_rng(21)
    x = rng.standard_normal((500, 1)) * lam + rng.standard_normal((500, 5)) * np.sqrt(1 - lam**2)
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    fa = FactorAnalysis(n_components=1, tol=1e-10, max_iter=10000).fit(z)
    load = np.abs(fa.components_[0])
    expected = load.sum() ** 2 / (load.sum() ** 2 + fa.noise_variance_.sum())
    assert mcdonald_omega(pd.DataFrame(x))["omega"].item() == pytest.approx(expected, abs=1e-4)


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
    out = reliability_table(data, instruments=INSTRUMENTS, rounds=["T0", "T1", "T2"], min_n=5)
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
    assert esis_t0["n"] == 58 and esis_t0["k_items"] == 10 and not esis_t0["suppressed"]
    t0 = data[data["round"] == "T0"]
    direct = cronbach_alpha(t0[INSTRUMENTS["esis"]]).iloc[0]
    assert esis_t0["cronbach_alpha"] == pytest.approx(direct["cronbach_alpha"])
    assert esis_t0["alpha_ci_low"] < esis_t0["cronbach_alpha"] < esis_t0["alpha_ci_high"]
    assert esis_t0["omega"] == pytest.approx(
        mcdonald_omega(t0[INSTRUMENTS["esis"]])["omega"].item()
    )
    small = out[out["round"].isin(["T1", "T2"])]
    assert small["suppressed"].all()
    stat_cols = ["n", "cronbach_alpha", "alpha_ci_low", "alpha_ci_high", "omega"]
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
