"""Inter-coder reliability against published worked examples.

Sources:
- Cohen's kappa: the two-rater yes/no example of Wikipedia "Cohen's kappa" (50 proposals:
  20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no): p_o = .70, p_e = .50, kappa = .40.
- Fleiss' kappa: Fleiss (1971), as tabulated in Wikipedia "Fleiss' kappa" (10 subjects,
  14 raters, 5 categories): P-bar = .378, P-bar_e = .213, kappa = .210.
- Krippendorff's alpha: Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability.
  Annenberg School for Communication, section C (4 observers, 12 units, missing values):
  alpha_nominal = .743; and section A (2 observers, 10 binary units): alpha = .095.
- The `krippendorff` package's README example (3 coders, 15 units): alpha_nominal = .691.
"""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.analyse.qual.icr import (
    COEFFICIENT_COLUMNS,
    coefficient,
    disagreements,
    icr_table,
    ratings_from_matrix,
)

NAN = np.nan
KRIPPENDORFF_2011_C = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
)
KRIPPENDORFF_2011_A = np.array(
    [[0, 1, 0, 0, 0, 0, 0, 0, 1, 0], [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]], dtype=float
)
PACKAGE_README = np.array(
    [
        [NAN, NAN, NAN, NAN, NAN, 3, 4, 1, 2, 1, 1, 3, 3, NAN, 3],
        [1, NAN, 2, 1, 3, 3, 4, 3, NAN, NAN, NAN, NAN, NAN, NAN, NAN],
        [NAN, NAN, 2, 1, 3, 4, 4, NAN, 2, 1, 1, 3, 3, NAN, 4],
    ]
)
# Fleiss (1971) via Wikipedia: subjects x categories, counts of the 14 raters.
FLEISS_1971 = np.array(
    [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]
)  # fmt: skip


def _matrix_from_counts(counts: np.ndarray) -> np.ndarray:
    """raters x subjects matrix with the given category counts per subject."""
    cols = [np.repeat(np.arange(counts.shape[1]), row) for row in counts]
    return np.array(cols, dtype=float).T


def coef(matrix, metric: str) -> float:
    """The value of :func:`coefficient` (a one-row frame) as a float."""
    res = coefficient(matrix, metric)
    assert list(res.columns) == COEFFICIENT_COLUMNS and len(res) == 1
    return res["value"].item()


def test_cohen_kappa_wikipedia_example():
    a = [1] * 25 + [0] * 25
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    matrix = np.array([a, b], dtype=float)
    assert coef(matrix, "percent_agreement") == pytest.approx(0.70)
    assert coef(matrix, "cohen_kappa") == pytest.approx(0.40)


def test_fleiss_kappa_fleiss_1971():
    matrix = _matrix_from_counts(FLEISS_1971)
    assert matrix.shape == (14, 10)
    assert coef(matrix, "fleiss_kappa") == pytest.approx(0.2099, abs=5e-4)
    # Percent agreement is P-bar: the mean share of agreeing rater pairs.
    assert coef(matrix, "percent_agreement") == pytest.approx(0.378, abs=5e-4)


def test_krippendorff_alpha_2011_worked_examples():
    assert coef(KRIPPENDORFF_2011_C, "krippendorff_alpha_nominal") == pytest.approx(0.743, abs=5e-4)
    assert coef(KRIPPENDORFF_2011_A, "krippendorff_alpha_nominal") == pytest.approx(0.095, abs=5e-4)


@pytest.mark.parametrize("matrix", [KRIPPENDORFF_2011_C, KRIPPENDORFF_2011_A, PACKAGE_README])
def test_krippendorff_alpha_agrees_with_the_krippendorff_package(matrix):
    ours = coef(matrix, "krippendorff_alpha_nominal")
    theirs = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    assert ours == pytest.approx(theirs, abs=1e-12)


def test_package_readme_value():
    assert coef(PACKAGE_README, "krippendorff_alpha_nominal") == pytest.approx(0.691, abs=5e-4)


def test_two_coders_fleiss_equals_scotts_pi_and_is_close_to_alpha():
    # For two coders and complete data, Fleiss' kappa is Scott's pi, and Krippendorff's alpha
    # = pi + (1 - pi) / (2n) (Krippendorff 2011, section A).
    matrix = KRIPPENDORFF_2011_A
    pi = coef(matrix, "fleiss_kappa")
    n = matrix.shape[1]
    assert coef(matrix, "krippendorff_alpha_nominal") == pytest.approx(pi + (1 - pi) / (2 * n))


def test_undefined_values_are_nan_not_errors():
    same = np.ones((2, 6))  # everybody always says 1: expected agreement is 1
    assert np.isnan(coef(same, "cohen_kappa"))
    assert np.isnan(coef(same, "krippendorff_alpha_nominal"))
    assert coef(same, "percent_agreement") == 1.0


@settings(deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from([0.0, 1.0, 2.0, NAN]), min_size=8, max_size=8),
        min_size=2,
        max_size=4,
    )
)
def test_alpha_matches_the_package_and_is_symmetric_in_coders(rows):
    matrix = np.array(rows)
    ours = coef(matrix, "krippendorff_alpha_nominal")
    flipped = coef(matrix[::-1], "krippendorff_alpha_nominal")
    assert ours == pytest.approx(flipped, nan_ok=True)
    values = matrix[~np.isnan(matrix)]
    pairable = (np.sum(~np.isnan(matrix), axis=0) >= 2).any()
    if pairable and len(np.unique(values)) >= 2:
        try:
            theirs = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
        except ValueError:  # the package refuses data with a single pairable value
            return
        assert ours == pytest.approx(theirs, abs=1e-9, nan_ok=True)


def _codings(seed: int, n: int, p_agree: float, coders=("a", "b")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    codes = ["x", "y", "z"]
    rows = []
    for i in range(n):
        truth = codes[rng.integers(3)]
        for coder in coders:
            code = truth if rng.random() < p_agree else codes[rng.integers(3)]
            rows.append({"segment": f"s{i:04d}", "coder": coder, "code": code, "text": f"t{i}"})
    return pd.DataFrame(rows)


def test_simulated_coders_recover_the_analytic_kappa():
    # Each coder keeps the true code with p = .8, else picks uniformly among 3 codes: both are
    # right with q = .8 + .2/3; p_o = q^2 + (1-q)^2/2 and p_e = 1/3 -> kappa = (p_o - 1/3)/(2/3).
    q = 0.8 + 0.2 / 3
    p_o = q**2 + (1 - q) ** 2 / 2
    expected = (p_o - 1 / 3) / (2 / 3)
    table = icr_table(_codings(1, 4000, 0.8), reps=50, seed=1)
    kappa = table.query("code == 'all' and metric == 'cohen_kappa'")["value"].iloc[0]
    assert kappa == pytest.approx(expected, abs=0.03)


def test_icr_table_rows_cis_and_determinism():
    codings = _codings(2, 120, 0.7)
    table = icr_table(codings, reps=200, seed=7)
    assert list(table.columns[:7]) == [
        "code", "metric", "value", "ci_low", "ci_high", "n_segments", "n_coders",
    ]  # fmt: skip
    assert table["code"].iloc[0] == "all" and set(table["code"]) == {"all", "x", "y", "z"}
    assert set(table["metric"]) == {
        "percent_agreement", "cohen_kappa", "fleiss_kappa", "krippendorff_alpha_nominal",
        "krippendorff_alpha_masi",
    }  # fmt: skip
    assert set(table.query("metric == 'krippendorff_alpha_masi'")["code"]) == {"all"}
    assert ((table["ci_low"] <= table["value"]) & (table["value"] <= table["ci_high"])).all()
    assert (table["n_coders"] == 2).all() and (table["n_segments"] == 120).all()
    pd.testing.assert_frame_equal(table, icr_table(codings, reps=200, seed=7))


def test_three_coders_give_fleiss_but_no_cohen():
    table = icr_table(_codings(3, 60, 0.8, coders=("a", "b", "c")), reps=50, seed=1)
    assert "cohen_kappa" not in set(table["metric"])
    assert table.query("code == 'all' and metric == 'fleiss_kappa'")["value"].notna().all()


def test_suggestions_never_enter_unless_asked():
    human = _codings(4, 80, 0.7).assign(source="human")
    noise = human.assign(coder="suggestion", source="suggestion", code="x")
    both = pd.concat([human, noise], ignore_index=True)
    pd.testing.assert_frame_equal(
        icr_table(both, reps=20, seed=1), icr_table(human, reps=20, seed=1)
    )
    assert (icr_table(both, reps=20, seed=1, include_suggestions=True)["n_coders"] == 3).all()


def test_segments_with_several_codes_are_left_out_of_the_all_row_and_counted():
    codings = pd.DataFrame(
        {
            "segment": ["s1", "s1", "s1", "s2", "s2", "s3", "s3"],
            "coder": ["a", "a", "b", "a", "b", "a", "b"],
            "code": ["x", "y", "x", "x", "x", "y", "x"],
        }
    )
    table = icr_table(codings, reps=10, seed=1)
    row = table.query("code == 'all' and metric == 'percent_agreement'").iloc[0]
    assert row["n_segments"] == 2 and row["value"] == pytest.approx(0.5)
    assert row["note"].startswith("1 of 3 segment(s) coded by two or more coders left out")
    # The MASI row uses every segment: s1 is {x, y} against {x}, distance 1 - (1/2)(2/3).
    masi = table.query("code == 'all' and metric == 'krippendorff_alpha_masi'").iloc[0]
    assert masi["n_segments"] == 3 and masi["note"] == ""
    # Per code, s1 counts: code y was applied by a only.
    y = table.query("code == 'y' and metric == 'percent_agreement'").iloc[0]
    assert y["n_segments"] == 3 and y["value"] == pytest.approx(1 / 3)


def test_disagreement_list_names_segment_code_and_coders():
    codings = pd.DataFrame(
        {
            "segment": ["s1", "s1", "s2", "s2", "s3"],
            "coder": ["a", "b", "a", "b", "a"],
            "code": ["x", "x", "x", "y", "y"],
            "text": ["one", "one", "two", "two", "three"],
        }
    )
    out = disagreements(codings)
    assert out[["segment", "code", "coders_with", "coders_without", "text"]].values.tolist() == [
        ["s2", "x", "a", "b", "two"],
        ["s2", "y", "b", "a", "two"],
    ]


def test_ratings_matrix_counts_missing_as_missing():
    r = ratings_from_matrix(np.array([[1, NAN, 2], [1, 1, NAN]]))
    assert r.counts.tolist() == [[2, 0], [1, 0], [0, 1]]


@settings(deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from([0.0, 1.0, 2.0, NAN]), min_size=30, max_size=30),
        min_size=2,
        max_size=3,
    )
)
def test_collapsing_identical_segments_changes_no_coefficient(rows):
    from evaluation.analyse.qual.icr import COEFFICIENTS, compress

    r = ratings_from_matrix(np.array(rows))
    small, freq = compress(r)
    assert freq.sum() == r.counts.shape[0]
    for name, func in COEFFICIENTS.items():
        full = func(r, np.ones((1, r.counts.shape[0])))[0]
        collapsed = func(small, freq[None, :])[0]
        assert full == pytest.approx(collapsed, nan_ok=True), name


# --------------------------------------------------------------------------- set-valued codings
# MASI: Passonneau, R. (2006). Measuring agreement on set-valued items (MASI) for semantic and
# pragmatic annotation. LREC 2006: M = 1 identical, 2/3 subset, 1/3 overlap, 0 disjoint.
# NLTK's nltk.metrics.distance.masi_distance doctest: masi_distance({1, 2}, {1, 2, 3, 4}) = 0.665
# (NLTK rounds M to 0.67; with M = 2/3 the distance is 1 - (2/4)(2/3) = 0.6667).


def test_masi_distance_follows_passonneau_2006_and_nltk():
    from evaluation.analyse.qual.icr import masi_distance

    assert masi_distance({1, 2}, {1, 2}) == 0.0
    assert masi_distance({1, 2}, {1, 2, 3, 4}) == pytest.approx(1 - 0.5 * 2 / 3)
    assert masi_distance({1, 2}, {1, 2, 3, 4}) == pytest.approx(0.665, abs=2e-3)  # NLTK
    assert masi_distance({1, 2}, {2, 3}) == pytest.approx(1 - (1 / 3) * (1 / 3))
    assert masi_distance({1}, {2}) == 1.0
    assert masi_distance({3, 1}, {1, 3}) == masi_distance({1, 3}, {3, 1}) == 0.0


def _sets_from_matrix(matrix: np.ndarray) -> list[list]:
    return [[None if np.isnan(v) else {v} for v in row] for row in matrix]


@pytest.mark.parametrize("matrix", [KRIPPENDORFF_2011_C, KRIPPENDORFF_2011_A, PACKAGE_README])
def test_masi_alpha_of_single_codes_is_the_nominal_alpha(matrix):
    from evaluation.analyse.qual.icr import alpha_masi

    res = alpha_masi(_sets_from_matrix(matrix))
    assert list(res.columns) == COEFFICIENT_COLUMNS
    nominal = coefficient(matrix, "krippendorff_alpha_nominal")
    assert res["value"].item() == pytest.approx(nominal["value"].item(), abs=1e-12)
    assert res["n_segments"].item() == nominal["n_segments"].item()
    theirs = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    assert res["value"].item() == pytest.approx(theirs, abs=1e-12)


def test_masi_alpha_2011_worked_example_value():
    from evaluation.analyse.qual.icr import alpha_masi

    # Krippendorff (2011), section C: alpha_nominal = .743 (single codes: MASI = nominal).
    value = alpha_masi(_sets_from_matrix(KRIPPENDORFF_2011_C))["value"].item()
    assert value == pytest.approx(0.743, abs=5e-4)


def _random_sets(seed: int, coders: int, units: int, p_missing: float = 0.2) -> list[list]:
    rng = np.random.default_rng(seed)
    codes = ["x", "y", "z", "w"]
    out = []
    for _ in range(coders):
        row = []
        for _ in range(units):
            if rng.random() < p_missing:
                row.append(None)
            else:
                k = rng.integers(1, 4)
                row.append(set(rng.choice(codes, size=k, replace=False).tolist()))
        out.append(row)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_masi_alpha_equals_the_krippendorff_package_with_a_masi_metric(seed):
    from evaluation.analyse.qual.icr import alpha_masi, masi_distance

    sets = _random_sets(seed, coders=3, units=25)
    domain = sorted({frozenset(v) for row in sets for v in row if v is not None}, key=sorted)
    dist = np.array([[masi_distance(a, b) for b in domain] for a in domain])
    data = np.array(
        [[np.nan if v is None else domain.index(frozenset(v)) for v in row] for row in sets]
    )

    def metric(v1, v2, i1, i2, n_v, dtype=np.float64):
        return dist[i1, i2].astype(dtype)

    theirs = krippendorff.alpha(
        reliability_data=data, value_domain=np.arange(len(domain)), level_of_measurement=metric
    )
    assert alpha_masi(sets)["value"].item() == pytest.approx(theirs, abs=1e-12)


def _set_codings(seed: int, n: int, p_copy: float) -> pd.DataFrame:
    """Two coders; coder b copies coder a's set of codes with probability p_copy, otherwise
    draws an independent set (1-3 of 4 codes)."""
    rng = np.random.default_rng(seed)
    codes = np.array(["x", "y", "z", "w"])
    rows = []
    for i in range(n):
        a = rng.choice(codes, size=rng.integers(1, 4), replace=False)
        b = (
            a
            if rng.random() < p_copy
            else rng.choice(codes, size=rng.integers(1, 4), replace=False)
        )
        rows += [(f"s{i:04d}", "a", c) for c in a] + [(f"s{i:04d}", "b", c) for c in b]
    return pd.DataFrame(rows, columns=["segment", "coder", "code"])


def test_masi_alpha_recovers_known_agreement_by_simulation():
    # Independent sets from the same distribution: D_o = D_e in expectation, alpha ~ 0.
    # Copying with probability p: D_o = (1 - p) D_e, so alpha ~ p (here 0.6).
    table0 = icr_table(_set_codings(5, 3000, 0.0), reps=50, seed=1)
    table6 = icr_table(_set_codings(6, 3000, 0.6), reps=200, seed=1)
    q = "code == 'all' and metric == 'krippendorff_alpha_masi'"
    row0, row6 = table0.query(q).iloc[0], table6.query(q).iloc[0]
    assert row0["value"] == pytest.approx(0.0, abs=0.03)
    assert row6["value"] == pytest.approx(0.6, abs=0.03)
    assert row6["n_segments"] == 3000 and row6["ci_low"] < 0.6 < row6["ci_high"]
    # The nominal rows use only the segments where both coders gave one code.
    nominal = table6.query("code == 'all' and metric == 'krippendorff_alpha_nominal'").iloc[0]
    assert nominal["n_segments"] < 3000 and nominal["note"].startswith(
        f"{3000 - nominal['n_segments']} of 3000 segment(s)"
    )


def test_masi_bootstrap_is_seeded_and_compression_keeps_the_distance():
    from evaluation.analyse.qual.icr import (
        _krippendorff_alpha_distance,
        compress,
        ratings_from_sets,
    )

    sets = _random_sets(9, coders=2, units=200, p_missing=0.0)
    r = ratings_from_sets(sets)
    small, freq = compress(r)
    full = _krippendorff_alpha_distance(r, np.ones((1, r.counts.shape[0])))[0]
    assert _krippendorff_alpha_distance(small, freq[None, :])[0] == pytest.approx(full)
    codings = _set_codings(10, 150, 0.5)
    pd.testing.assert_frame_equal(
        icr_table(codings, reps=100, seed=3), icr_table(codings, reps=100, seed=3)
    )


def test_unique_rows_as_numpy_unique_of_rows():
    from evaluation.analyse.qual.icr import _unique_rows

    rng = np.random.default_rng(11)
    for shape, low, high in (((300, 4), 0, 3), ((500, 6), -1, 5), ((50, 1), 0, 2)):
        key = rng.integers(low, high, size=shape)
        rows, inverse = _unique_rows(key)
        expected, expected_inverse = np.unique(key, axis=0, return_inverse=True)
        np.testing.assert_array_equal(rows, expected)
        np.testing.assert_array_equal(inverse, expected_inverse.ravel())
    wide = rng.integers(0, 2**40, size=(20, 3))  # a mixed radix beyond int64: the fallback
    np.testing.assert_array_equal(_unique_rows(wide)[0], np.unique(wide, axis=0))
