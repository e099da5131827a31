"""``analysis.power.response_rate`` in study.yaml: parsed, checked with a message naming the
file, key and value, and passed to ``power_table`` with the headcounts; ``icc_by_measure``
reads both ICC levels of ``lmm.csv``."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from evaluation.config import PowerOptions, load_study
from evaluation.errors import ConfigError
from evaluation.pipeline.session import build_options, icc_by_measure
from tests.conftest import STUDY_YAML, row, write_study


def _study(tmp_path, analysis):
    config = yaml.safe_load(STUDY_YAML)
    config["analysis"] = analysis
    rows = [row(resp=f"R{i}") for i in range(6)] + [row(rnd="T1", resp=f"R{i}") for i in range(6)]
    return write_study(tmp_path, rows, yaml.safe_dump(config, allow_unicode=True))


def test_response_rate_parsed_and_passed_on(tmp_path):
    study = load_study(_study(tmp_path, {"power": {"response_rate": 0.6}}))
    assert study.analysis.power == PowerOptions(response_rate=0.6)
    options = build_options(study, present=list(study.round_ids)).power
    assert options["response_rate"] == 0.6
    assert options["headcounts"] == {n: o.headcount for n, o in study.organisations.items()}


def test_response_rate_default_is_none(tmp_path):
    study = load_study(_study(tmp_path, {}))
    assert study.analysis.power.response_rate is None
    assert build_options(study, present=list(study.round_ids)).power["response_rate"] is None


@pytest.mark.parametrize(
    ("value", "message"),
    [(0, "at most 1"), (1.2, "at most 1"), ("most", "is not a number"), (-0.1, "above 0")],
)
def test_response_rate_checked(tmp_path, value, message):
    with pytest.raises(ConfigError, match=message) as err:
        load_study(_study(tmp_path, {"power": {"response_rate": value}}))
    assert "analysis.power.response_rate" in str(err.value) and "study.yaml" in str(err.value)


def test_unknown_power_key(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'response_rate'"):
        load_study(_study(tmp_path, {"power": {"response_rates": 0.5}}))


def test_icc_by_measure_reads_both_levels():
    lmm = pd.DataFrame(
        {
            "measure": ["qwl", "qwl", "esis", "esis", "x"],
            "term": ["icc"] * 5,
            "estimate": [0.09, 0.21, 0.05, None, 0.3],
            "model": ["mixedlm_reml"] * 2 + ["mixedlm_reml_no_unit_vc"] * 2 + ["ols_cr1"],
            "level": ["organisation", "unit", "organisation", "unit", "organisation"],
        }
    )
    assert icc_by_measure(lmm) == {
        "qwl": {"organisation": 0.09, "unit": 0.21},
        "esis": {"organisation": 0.05},
    }
