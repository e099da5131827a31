"""Descriptive tables behind the figures and the data-quality counts: disclosure control."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluation.analyse.quant.descriptives import band_shares, round_means, round_quantiles
from evaluation.analyse.quant.quality import response_counts

BANDS = ["low", "mid", "high", "top"]


def banded(counts: dict[str, dict[str, int]]) -> pd.DataFrame:
    rows = [(r, b) for r, per in counts.items() for b, n in per.items() for _ in range(n)]
    return pd.DataFrame(rows, columns=["round", "band"])


def test_small_band_cell_and_its_complement_are_hidden():
    data = banded({"T0": {"low": 20, "mid": 7, "high": 3}})
    out = band_shares(data, column="band", bands=BANDS, rounds=["T0"], min_n=5).set_index("band")
    assert out.loc["high", "suppressed"] and np.isnan(out.loc["high", "n_band"])
    # with only "high" hidden, it would be 30 - 20 - 7: the next smallest cell goes too
    assert out.loc["mid", "suppressed"] and np.isnan(out.loc["mid", "share"])
    assert out.loc["low", "share"] == pytest.approx(20 / 30) and not out.loc["low", "suppressed"]
    assert out.loc["top", "n_band"] == 0 and not out.loc["top", "suppressed"]


def test_round_below_min_n_is_suppressed_whole():
    data = banded({"T0": {"low": 3, "mid": 1}, "T1": {"low": 10}})
    out = band_shares(data, column="band", bands=BANDS, rounds=["T0", "T1"], min_n=5)
    assert out.loc[out["round"] == "T0", "suppressed"].all()
    assert out.loc[out["round"] == "T0", ["n_round", "share"]].isna().all().all()
    assert not out.loc[out["round"] == "T1", "suppressed"].any()


def test_round_means_ci_and_suppression():
    rng = np.random.default_rng(1)
    values = rng.normal(60, 10, 40)
    data = pd.DataFrame(
        {"round": ["T0"] * 40 + ["T1"] * 4, "participant": [1, 0] * 22, "m": [*values, 1, 2, 3, 4]}
    )
    out = round_means(data, measures=["m"], rounds=["T0", "T1"], min_n=5)
    row = out[(out["group_by"] == "all") & (out["round"] == "T0")].iloc[0]
    lo, hi = stats.t.interval(0.95, 39, loc=values.mean(), scale=stats.sem(values))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((lo, hi))
    small = out[out["round"] == "T1"]
    assert small["suppressed"].all() and small[["n", "mean", "sd"]].isna().all().all()


@pytest.mark.parametrize(
    "group",
    [
        pd.array([1, 0, pd.NA, 1, 0, 1] * 20, dtype="Int8"),  # participant: missing left out
        pd.array(["b", "a", None, "c", "a", "b"] * 20, dtype="str"),
        pd.Categorical(["y", "x", None, "y", "x", "y"] * 20, categories=["y", "x", "z"]),
    ],
    ids=["Int8", "str", "categorical"],
)
def test_round_means_groups_are_groupby_s_groups_in_groupby_s_order(group):
    """One row per measure x group x round, the groups those (and in the order) that
    ``groupby(observed=True, dropna=True)`` gives, whatever the grouping column's dtype."""
    rng = np.random.default_rng(3)
    data = pd.DataFrame(
        {"round": ["T0", "T1"] * 60, "g": group, "m": rng.normal(0, 1, 120), "k": 1.0}
    )
    out = round_means(data, measures=["m", "k"], rounds=["T0", "T1"], by="g", min_n=1)
    expected = [
        (measure, rnd, str(value), part.loc[part["round"] == rnd, measure].mean())
        for measure in ("m", "k")
        for value, part in [("all", data), *data.groupby("g", observed=True, dropna=True)]
        for rnd in ("T0", "T1")
    ]
    got = list(out[["measure", "round", "group", "mean"]].itertuples(index=False, name=None))
    assert [row[:3] for row in got] == [row[:3] for row in expected]
    assert [row[3] for row in got] == pytest.approx(
        [row[3] for row in expected], rel=1e-12, nan_ok=True
    )


def test_quantiles_leave_out_extremes_and_respect_min_n():
    data = pd.DataFrame({"round": ["T0"] * 11 + ["T1"] * 3, "m": [*range(11), 5, 6, 7]})
    out = round_quantiles(data, measures=["m"], rounds=["T0", "T1"], min_n=5)
    t0 = out.iloc[0]
    assert t0["q50"] == 5 and t0["q10"] == 1 and "min" not in out and "max" not in out
    assert out.iloc[1]["suppressed"] and np.isnan(out.iloc[1]["q50"])


def test_response_counts_rate_and_suppression():
    scores = pd.DataFrame(
        {"round": ["T0"] * 9, "organisation": ["A"] * 9, "unit": ["u1"] * 6 + ["u2"] * 3}
    )
    out = response_counts(
        scores, rounds=["T0", "T1"], headcounts={"A": {"u1": 10, "u2": 8}}, min_n=5
    )
    u1 = out[(out["round"] == "T0") & (out["unit"] == "u1")].iloc[0]
    assert u1["response_rate"] == pytest.approx(0.6) and not u1["suppressed"]
    u2 = out[(out["round"] == "T0") & (out["unit"] == "u2")].iloc[0]
    assert u2["suppressed"] and np.isnan(u2["n"]) and u2["headcount"] == 8
    assert out[out["round"] == "T1"]["suppressed"].all()  # no answers yet: nothing to show


def test_respondent_totals_count_every_respondent_and_follow_the_plan():
    """The covers' counts: the whole study and each organisation, including the respondents of
    units too small to show (u2 below); the plan, not the units, decides what is hidden."""
    from evaluation.analyse.quant.quality import respondent_totals
    from evaluation.disclosure.plan import Plan, hide_rows

    scores = pd.DataFrame(
        {
            "round": ["T0"] * 16,
            "organisation": ["A"] * 9 + ["B"] * 7,
            "unit": ["u1"] * 6 + ["u2"] * 3 + ["v1"] * 7,
        }
    )
    heads = {"A": {"u1": 10, "u2": 8}, "B": {"v1": 10}}
    out = respondent_totals(scores, rounds=["T0", "T1"], headcounts=heads, min_n=5)
    t0 = out[out["round"] == "T0"].set_index("group")
    assert t0.loc["all", "n"] == 16 and t0.loc["A", "n"] == 9  # u2's 3 counted
    assert t0.loc["A", "response_rate"] == pytest.approx(9 / 18)
    assert out[out["round"] == "T1"]["suppressed"].all()  # no answers yet
    plan = Plan(frozenset({"T|_respondents|T0|organisation|B"}), "auto", "T0")
    hidden = hide_rows(out, "respondent_totals", plan)
    assert out.loc[hidden, "group"].tolist() == ["B"]


def test_missingness_of_a_small_round_is_suppressed():
    from evaluation.analyse.quant.quality import missingness

    data = pd.DataFrame({"round": ["T0"] * 6 + ["T1"] * 2, "x": [1, None, 3, 4, 5, 6, None, 2]})
    out = missingness(data, instruments={"i": ["x"]}, rounds=["T0", "T1"], min_n=5)
    t0, t1 = out.iloc[0], out.iloc[1]
    assert t0["missing_share"] == pytest.approx(1 / 6) and not t0["suppressed"]
    assert t1["suppressed"] and np.isnan(t1["n_missing"]) and np.isnan(t1["missing_share"])
