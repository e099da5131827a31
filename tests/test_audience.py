"""Audience reports: who sees which rows."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from evaluation.config import load_study
from evaluation.report.audience import Audience, audiences, slug
from evaluation.report.audiences import ReportView
from tests.conftest import STUDY_YAML, write_study

THREE_ORGS = STUDY_YAML.replace(
    "  Org A: {actor: Actor 1, sector: public, size: large, units: {Ward 1: 10, Ward 2: 8}}",
    "  Org A: {actor: Actor 1, units: {Ward 1: 10}}\n"
    "  Org B: {actor: Actor 1, units: {Ward 1: 10}}\n"
    "  Org C: {actor: Actor 2, units: {Ward 1: 10}}",
)

PREPOST = pd.DataFrame(
    {
        "group_by": ["all", "actor", "actor", "organisation", "organisation", "organisation",
                     "unit", "unit", "role"],
        "group": ["all", "Actor 1", "Actor 2", "Org A", "Org B", "Org C", "Org A / Ward 1",
                  "Org C / Ward 1", "staff"],
    }
)  # fmt: skip


def _view(tmp_path, kind: str, name: str) -> ReportView:
    study = load_study(write_study(tmp_path, [], THREE_ORGS))
    return ReportView(study=study, audience=Audience(kind, name), labels={})


def test_audiences_are_consortium_actors_and_organisations(tmp_path):
    study = load_study(write_study(tmp_path, [], THREE_ORGS))
    found = [(a.kind, a.name, a.slug) for a in audiences(study)]
    assert found == [
        ("consortium", "Tiny", "consortium"),
        ("actor", "Actor 1", "actor-actor-1"),
        ("actor", "Actor 2", "actor-actor-2"),
        ("organisation", "Org A", "organisation-org-a"),
        ("organisation", "Org B", "organisation-org-b"),
        ("organisation", "Org C", "organisation-org-c"),
    ]


def test_slug_is_ascii_and_file_safe():
    assert slug("Kuntoutus Jänkä Oy") == "kuntoutus-janka-oy"
    assert slug("Sote-palvelut Routa Oy / Ö") == "sote-palvelut-routa-oy-o"


def test_an_organisation_sees_the_whole_study_and_only_its_own_rows(tmp_path):
    rows = _view(tmp_path, "organisation", "Org A").visible(PREPOST)
    assert list(rows["group"]) == ["all", "Org A", "Org A / Ward 1"]


def test_an_actor_sees_itself_and_its_own_organisations(tmp_path):
    rows = _view(tmp_path, "actor", "Actor 1").visible(PREPOST)
    assert list(rows["group"]) == ["all", "Actor 1", "Org A", "Org B", "Org A / Ward 1"]


def test_the_consortium_sees_everything(tmp_path):
    rows = _view(tmp_path, "consortium", "Tiny").visible(PREPOST)
    assert len(rows) == len(PREPOST)


def test_tables_keyed_by_organisation_are_filtered_too(tmp_path):
    frame = pd.DataFrame({"organisation": ["Org A", "Org B", None, "all"], "x": [1, 2, 3, 4]})
    rows = _view(tmp_path, "organisation", "Org A").visible(frame)
    assert list(rows["x"]) == [1, 3, 4]


def test_headline_measures_are_qwl_and_esis_where_the_study_has_them(tmp_path):
    study = load_study(write_study(tmp_path / "a", [], STUDY_YAML))
    assert study.headline_measures == ["qwl", "esis"]
    only_kyky = STUDY_YAML.replace("instruments: [qwl, esis]", "instruments: [kykyviisari]")
    assert load_study(write_study(tmp_path / "b", [], only_kyky)).headline_measures == [
        "kykyviisari"
    ]
    esis_kyky = STUDY_YAML.replace("instruments: [qwl, esis]", "instruments: [kykyviisari, esis]")
    assert load_study(write_study(tmp_path / "c", [], esis_kyky)).headline_measures == ["esis"]


def _trend_rows(qwl_means: list[float], esis_means: list[float]) -> pd.DataFrame:
    """trajectories.csv rows (whole study) of two rounds; a missing mean is a hidden cell."""
    rows = [
        {"measure": m, "group_by": "all", "group": "all", "round": r, "mean": y,
         "ci_low": y - 0.1, "ci_high": y + 0.1, "suppressed": y != y}
        for m, ys in (("qwl", qwl_means), ("esis", esis_means))
        for r, y in zip(("T0", "T1"), ys, strict=True)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_the_trend_chart_draws_only_measures_with_a_mean_and_says_so_when_none(
    tmp_path, monkeypatch
):
    import evaluation.report.audiences as audience

    said, drawn = [], []
    monkeypatch.setattr(audience, "note", lambda text: said.append(text))
    monkeypatch.setattr(
        audience,
        "show_plot",
        lambda plot, arguments, path, alt, png, **_: drawn.append(len(plot(**arguments).axes)),
    )
    view = _view(tmp_path, "consortium", "Tiny")
    nan = float("nan")
    view._tables["trajectories"] = _trend_rows([nan, nan], [nan, nan])
    audience._trajectory_figure(view, PREPOST)
    assert said == ["rep_trajectory_none"] and drawn == []  # no empty chart, a sentence
    view._tables["trajectories"] = _trend_rows([nan, nan], [3.5, 3.6])
    audience._trajectory_figure(view, PREPOST)
    assert drawn == [1]  # ESIS only: one panel, not an empty QWL panel beside it


def test_the_trend_chart_has_intervals_and_the_scales_whole_range(tmp_path, monkeypatch):
    """The audience's trend shows each mean's interval from trajectories.csv and a y axis over
    the instrument's range (ESIS 1-5), not one stretched over a small change."""
    import evaluation.report.audiences as audience

    figures = []
    monkeypatch.setattr(audience, "note", lambda text: None)
    monkeypatch.setattr(
        audience, "show_plot", lambda plot, arguments, *a, **k: figures.append(plot(**arguments))
    )
    view = _view(tmp_path, "consortium", "Tiny")
    view._tables["trajectories"] = _trend_rows([60.0, 62.0], [3.65, 3.72])
    audience._trajectory_figure(view, PREPOST)
    qwl, esis = figures[0].axes
    low, high = esis.get_ylim()
    assert low <= 1.0 and high >= 5.0 and high - low < 4.5
    assert qwl.get_ylim()[0] <= 0.0 and qwl.get_ylim()[1] >= 100.0
    bands = [c for c in esis.collections if type(c).__name__ == "FillBetweenPolyCollection"
             or type(c).__name__ == "PolyCollection"]  # fmt: skip
    ys = bands[0].get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(3.55) and ys.max() == pytest.approx(3.82)


def test_key_results_show_the_primary_familys_adjusted_p_from_primary_csv():
    """Primary rows of prepost.csv leave p_adjusted empty (their family also holds the DiD
    tests); the key results take the jointly adjusted value from primary.csv."""
    import pandas as pd

    from evaluation.report.audiences import _with_primary_p

    rows = pd.DataFrame(
        {
            "measure": ["qwl", "qwl", "qwl"],
            "round": ["T1", "T2", "T1"],
            "family": ["primary", "primary", "qwl:actor:welch_t:all"],
            "p_adjusted": [float("nan"), float("nan"), 0.2],
        }
    )
    primary = pd.DataFrame(
        {
            "measure": ["qwl", "qwl", "qwl"],
            "comparison": ["change", "did", "change"],
            "round": ["T1", "T1", "T2"],
            "p_adjusted": [0.01, 0.5, 0.03],
        }
    )
    out = _with_primary_p(rows, primary)
    assert out["p_adjusted"].tolist() == [0.01, 0.03, 0.2]
    assert rows["p_adjusted"].isna().sum() == 2  # the input is not modified


@pytest.mark.parametrize("language", ["fi", "en"])
def test_the_small_sample_note_appears_below_30_organisations_only(language):
    from types import SimpleNamespace

    import pandas as pd

    from evaluation.config import load_labels
    from evaluation.report.audiences import small_sample_note

    labels = load_labels(language)
    v = SimpleNamespace(
        label=labels.__getitem__,
        study=SimpleNamespace(analysis=SimpleNamespace(bootstrap_reps=9999)),
        language=language,
    )

    def lmm(g):
        return pd.DataFrame({"term": ["did", "mean"], "n_clusters": [g, g]})

    text = small_sample_note(v, lmm(17))
    assert "17" in text and {"fi": "9\u00a0999", "en": "9,999"}[language] in text
    assert small_sample_note(v, lmm(30)) == ""
    assert small_sample_note(v, lmm(17).iloc[1:]) == ""  # no DiD row
    assert small_sample_note(v, None) == ""


TOTALS = pd.DataFrame(
    {
        "round": ["T0", "T0", "T0", "T0", "T1", "T1", "T1", "T1"],
        "group_by": ["all", "organisation", "organisation", "organisation"] * 2,
        "group": ["all", "Org A", "Org B", "Org C"] * 2,
        "n": [31.0, 11.0, 12.0, 8.0, 27.0, 11.0, float("nan"), 9.0],
        "suppressed": [False] * 6 + [True, False],
    }
)


def test_the_cover_counts_the_true_totals_of_its_scope(tmp_path):
    """The cover reads respondent_totals.csv: the whole study's row (not a sum of visible
    units), the organisation's own row, and an actor's organisations summed, "–" for a
    round where one of them is hidden (no total from the visible part)."""
    from evaluation.report.audiences import audience_respondents

    def count(kind, name):
        return audience_respondents(_view(tmp_path / name, kind, name), TOTALS).to_dict()

    assert count("consortium", "Tiny") == {"T0": 31.0, "T1": 27.0}
    assert count("organisation", "Org A") == {"T0": 11.0, "T1": 11.0}
    actor = count("actor", "Actor 1")
    assert actor["T0"] == 23.0 and math.isnan(actor["T1"])
    assert count("actor", "Actor 2") == {"T0": 8.0, "T1": 9.0}


def test_the_did_table_puts_the_primary_model_first_and_keeps_the_model(tmp_path):
    from evaluation.report.audiences import did_rows

    did = pd.DataFrame(
        {
            "measure": ["esis", "qwl", "qwl", "qwl", "qwl"],
            "round": ["T1", "T1", "T1", "T1", "T0"],
            "model": ["ols_cr1", "lmm_reml_org_unit_person", "ols_cr1",
                      "ols_wild_cluster_bootstrap", "ols_cr1"],
            "analysis": ["sensitivity", "sensitivity", "sensitivity", "primary", "sensitivity"],
        }
    )  # fmt: skip
    out = did_rows(_view(tmp_path, "consortium", "Tiny"), did)
    assert list(zip(out["measure"], out["round"], out["model"], strict=True)) == [
        ("qwl", "T0", "ols_cr1"),
        ("qwl", "T1", "ols_wild_cluster_bootstrap"),
        ("qwl", "T1", "lmm_reml_org_unit_person"),
        ("qwl", "T1", "ols_cr1"),
        ("esis", "T1", "ols_cr1"),
    ]


def test_the_summary_is_about_the_latest_round_of_the_study_and_the_own_group(tmp_path):
    from evaluation.report.audiences import measure_summaries

    block = pd.DataFrame(
        {
            "measure": "qwl",
            "group_by": ["all", "all", "organisation"],
            "group": ["all", "all", "Org A"],
            "round": ["T1", "T0", "T1"],
            "effect_size_type": ["d_av_all", "d_av_all", "hedges_g"],
            "effect_size": [0.5, 9.0, float("nan")],
            "es_ci_low": [0.3, 9.0, float("nan")],
            "es_ci_high": [0.7, 9.0, float("nan")],
            "suppressed": [False, False, True],
        }
    )
    from evaluation.config import load_labels

    view = _view(tmp_path, "organisation", "Org A")
    view.labels, view.language = load_labels("en"), "en"
    said = measure_summaries(view, block)
    assert len(said) == 2
    assert ", All, T1 compared with T0" in said[0]  # the latest round, not the baseline row
    assert "an increase" in said[0] and "0.50" in said[0] and "9.00" not in said[0]
    assert ", Org A, T1" in said[1] and "not shown" in said[1]
