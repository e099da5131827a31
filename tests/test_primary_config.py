"""``analysis.primary`` in study.yaml: defaults, checks, and the session's options."""

from __future__ import annotations

import pytest

from evaluation.config import load_study, primary_measures
from evaluation.errors import ConfigError
from evaluation.pipeline.session import build_options
from tests.conftest import STUDY_YAML, write_study


def _study(tmp_path, extra: str = ""):
    return load_study(write_study(tmp_path, [], STUDY_YAML + extra))


def test_defaults_are_qwl_and_esis_both_comparisons_and_holm(tmp_path):
    study = _study(tmp_path)
    assert primary_measures(study) == ["qwl", "esis"]
    options = build_options(study, present=["T0", "T1"]).primary
    assert dict(options) == {
        "measures": ["qwl", "esis"],
        "comparisons": ["change", "did"],
        "correction": "holm",
        "rounds": ["T0", "T1"],
        "baseline": "T0",
    }


def test_declared_options_are_passed_on(tmp_path):
    extra = "analysis: {primary: {measures: [esis], comparisons: [did], correction: bonferroni}}\n"
    options = build_options(_study(tmp_path, extra), present=["T0"]).primary
    assert options["measures"] == ["esis"] and options["comparisons"] == ["did"]
    assert options["correction"] == "bonferroni"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("analysis: {primary: {measures: [qwll]}}\n",
         r"analysis\.primary\.measures: \['qwll'\] names 'qwll', which is not one of the "
         r"study's measures \(qwl, .*esis\) \(did you mean 'qwl'\?"),
        ("analysis: {primary: {measures: [qwl, qwl]}}\n", "names a measure twice"),
        ("analysis: {primary: {measures: []}}\n", "must list at least one measure"),
        ("analysis: {primary: {comparisons: [chnage]}}\n",
         r"analysis\.primary\.comparisons: .*is not one of change, did \(did you mean 'change'"),
        ("analysis: {primary: {comparisons: []}}\n", "must not be empty"),
        ("analysis: {primary: {correction: fdr_bh}}\n",
         r"analysis\.primary\.correction: 'fdr_bh' is not one of holm, bonferroni"),
        ("analysis: {primary: {measure: [qwl]}}\n",
         r"analysis\.primary\.measure: unknown key \(did you mean 'measures'\?\)"),
    ],
)  # fmt: skip
def test_mistakes_are_clear_errors_naming_the_key(tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message):
        _study(tmp_path, extra)


def test_a_study_without_qwl_or_esis_declares_no_default_primary_measure(tmp_path):
    study = _study(tmp_path)
    object.__setattr__(study, "instruments", {})
    assert primary_measures(study) == []


def test_the_declared_primary_measures_are_the_primary_rows_of_prepost(tmp_path):
    """prepost.csv marks as primary (and leaves for primary.csv to adjust) exactly the
    measures that primary.csv takes: the declared ones, not the default."""
    extra = "analysis: {primary: {measures: [esis]}}\n"
    options = build_options(_study(tmp_path, extra), present=["T0", "T1"])
    assert options.prepost["primary_measures"] == ["esis"]
    assert options.prepost_summary["primary_measures"] == ["esis"]
