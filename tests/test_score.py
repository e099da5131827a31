"""Scoring rules: the minimum-answered rule, reverse items, vendor columns, bands."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames

from evaluation.config import load_instrument
from evaluation.paths import DEFAULT_INSTRUMENTS
from evaluation.score import band, instrument_score, reverse_items

ESIS = load_instrument(DEFAULT_INSTRUMENTS / "esis.yaml")
QWL = load_instrument(DEFAULT_INSTRUMENTS / "qwl.yaml")
ITEMS = list(ESIS.items)


def frame(rows):
    return pd.DataFrame(rows, columns=ITEMS, dtype="float64")


def test_mean_of_answered_items_when_enough_are_answered():
    full = [1, 2, 3, 4, 5, 1, 2, 3, 4, 5]
    eight = [5, 5, 5, 5, 5, 5, 5, 3, np.nan, np.nan]
    seven = [5, 5, 5, 5, 5, 5, 5, np.nan, np.nan, np.nan]
    s = instrument_score(frame([full, eight, seven]), ESIS)
    assert s.iloc[0] == 3.0
    assert s.iloc[1] == (7 * 5 + 3) / 8  # 8 answered >= min_answered 8: mean of those 8
    assert np.isnan(s.iloc[2])  # 7 answered < 8: no score


def test_reverse_items_and_reversing_twice_is_identity():
    inst = dataclasses.replace(ESIS, reverse=("esis_1",))
    data = frame([[1] * 10])
    once = reverse_items(data, inst)
    assert once["esis_1"].iloc[0] == 5 and once["esis_2"].iloc[0] == 1
    pd.testing.assert_frame_equal(reverse_items(once, inst), data)
    assert instrument_score(data, inst).iloc[0] == (5 + 9) / 10


def test_sum_rule_is_prorated():
    inst = dataclasses.replace(ESIS, score_method="sum")
    s = instrument_score(frame([[2] * 10, [2] * 8 + [np.nan] * 2]), inst)
    assert list(s) == [20.0, 20.0]


def test_vendor_column_is_taken_as_is():
    data = pd.DataFrame({"qwl": [60.1, np.nan, 73.6]})
    s = instrument_score(data, QWL)
    assert s.iloc[0] == 60.1 and np.isnan(s.iloc[1]) and s.iloc[2] == 73.6


def test_qwl_bands_have_exclusive_upper_bounds():
    values = pd.Series([0, 39.9, 40, 64.9, 65, 74.9, 75, 100, np.nan])
    got = band(values, QWL)
    assert list(got.iloc[:8]) == [
        "very_much_to_develop",
        "very_much_to_develop",
        "much_to_develop",
        "much_to_develop",
        "some_to_develop",
        "some_to_develop",
        "excellent",
        "excellent",
    ]
    assert pd.isna(got.iloc[8])


@settings(deadline=None)
@given(
    data_frames(
        [column(c, elements=st.one_of(st.none(), st.integers(1, 5)), dtype=float) for c in ITEMS]
    )
)
def test_score_stays_in_range_and_input_is_unchanged(df):
    before = df.copy()
    s = instrument_score(df, ESIS)
    pd.testing.assert_frame_equal(df, before)
    assert s.dropna().between(1, 5).all()
    answered = df.notna().sum(axis=1)
    assert (s.isna() == (answered < ESIS.min_answered)).all()
