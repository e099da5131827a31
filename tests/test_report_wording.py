"""Effect sizes in words: the size word of a row and the sentence that states only what the
interval supports (evaluation.report.wording), in both languages."""

from __future__ import annotations

import math

import pytest

from evaluation.config import load_labels
from evaluation.report.wording import size_class, size_word, summary_sentence

NAN = math.nan


def _row(est: float, lo: float, hi: float, kind: str = "hedges_g", suppressed=False) -> dict:
    return {
        "effect_size_type": kind,
        "effect_size": est,
        "es_ci_low": lo,
        "es_ci_high": hi,
        "suppressed": suppressed,
    }


def _say(row: dict, language: str = "en") -> str:
    labels = load_labels(language)
    return summary_sentence(
        row,
        lambda k: labels.get(k, k),
        measure="ESIS",
        group="all",
        round_="T1",
        baseline="T0",
        ci=0.95,
        language=language,
    )


@pytest.mark.parametrize(
    ("value", "word"),
    [(0.0, "negligible"), (0.19, "negligible"), (0.2, "small"), (-0.49, "small"),
     (0.5, "medium"), (-0.79, "medium"), (0.8, "large"), (-2.0, "large")],
)  # fmt: skip
def test_cohens_thresholds_classify_g_and_d_av_by_magnitude(value, word):
    for kind in ("hedges_g", "d_av", "d_av_all"):
        assert size_class(kind, value) == f"es_size_{word}"


def test_d_z_gets_no_size_word_and_a_missing_estimate_no_word_at_all():
    assert size_class("d_z", 0.9) is None
    assert size_class("rank_biserial", 0.9) is None
    labels = load_labels("en")
    assert size_word("d_z", 0.9, labels.__getitem__) == labels["es_size_not_classified"]
    assert size_word("hedges_g", NAN, labels.__getitem__) == ""
    assert size_word("hedges_g", -0.6, labels.__getitem__) == "medium"


def test_an_interval_above_zero_is_an_increase_sized_by_the_whole_interval():
    text = _say(_row(0.55, 0.21, 0.9))
    assert "an increase, from small to large in size" in text
    assert "0.55" in text and "0.21" in text and "0.90" in text
    assert "no change" not in text


def test_an_interval_below_zero_is_a_decrease_and_one_class_is_one_word():
    text = _say(_row(-0.3, -0.45, -0.25))
    assert "a decrease, small in size" in text
    assert "increase" not in text


def test_an_interval_that_includes_zero_claims_no_direction():
    text = _say(_row(0.42, -0.31, 1.16))
    assert "consistent with no change" in text
    assert "a small decrease or a large increase" in text
    assert "(Hedges' g 0.00;" in _say(_row(-0.004, -0.7, 0.7))  # not "−0.00"
    assert "an increase," not in text and "medium" not in text  # not the estimate's class


def test_a_d_z_interval_is_given_in_numbers_not_words():
    text = _say(_row(0.3, -0.05, 0.65, kind="d_z"))
    assert "consistent with no change" in text and "−0.05 to 0.65" in text
    for word in ("negligible", "small", "medium", "large"):
        assert word not in text
    up = _say(_row(0.6, 0.3, 0.9, kind="d_z"))
    assert "an increase" in up and "not classified" in up


@pytest.mark.parametrize("suppressed", [True, "true"])
def test_a_suppressed_row_says_nothing_about_the_change(suppressed):
    text = _say(_row(NAN, NAN, NAN, suppressed=suppressed))
    assert "not shown" in text
    assert not any(w in text for w in ("increase", "decrease", "no change"))
    assert "not shown" in _say(_row(0.4, NAN, NAN))  # no interval: no claim either


def test_finnish_sentences_use_finnish_words_and_decimal_commas():
    text = _say(_row(0.55, 0.21, 0.9), "fi")
    assert "nousua, suuruudeltaan pieni–suuri" in text and "0,21" in text
    none = _say(_row(0.1, -0.31, 0.5), "fi")
    assert "ettei muutosta ole" in none and "pieni lasku tai keskisuuri nousu" in none
    assert "ei näytetä" in _say(_row(NAN, NAN, NAN, suppressed=True), "fi")
