"""The audience's own rows beside the whole study's (issue 16, item 7): own change, QWL areas
and bands, units, and what was hidden and why. Constructed tables; nothing from a run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.analyse.quant.descriptives import band_shares
from evaluation.config import load_labels, load_study
from evaluation.disclosure.plan import hidden_counts
from evaluation.report import audiences
from evaluation.report.audiences import Audience, ReportView
from tests.conftest import STUDY_YAML, write_study

TWO_ORGS = STUDY_YAML.replace(
    "  Org A: {actor: Actor 1, sector: public, size: large, units: {Ward 1: 10, Ward 2: 8}}",
    "  Org A: {actor: Actor 1, units: {Ward 1: 10, Ward 2: 8}}\n"
    "  Org B: {actor: Actor 2, units: {Ward 1: 10}}",
)


def _prepost_row(measure, group_by, group, n, mean, diff, *, suppressed=False) -> dict:
    return {
        "measure": measure, "group_by": group_by, "group": group, "round": "T1",
        "baseline": "T0", "design": "independent", "n_baseline": n, "n_round": n,
        "mean_baseline": mean - diff, "mean_round": mean, "diff": diff, "test": "welch_t",
        "effect_size_type": "hedges_g", "effect_size": diff / 10, "es_ci_low": -1.0,
        "es_ci_high": 1.0, "suppressed": suppressed, "population": "all",
    }  # fmt: skip


PREPOST = pd.DataFrame(
    [
        _prepost_row("qwl", "all", "all", 600, 62.25, 2.25),
        _prepost_row("qwl", "organisation", "Org A", 40, 61.75, 1.75),
        _prepost_row("qwl", "organisation", "Org B", 30, 99.125, 9.125),
        _prepost_row("qwl", "unit", "Org A / Ward 1", 30, 64.375, 3.375),
        # n below min_n but (wrongly) not marked: the report must not show its numbers
        _prepost_row("qwl", "unit", "Org A / Ward 2", 3, 77.625, 7.625),
        _prepost_row("qwl", "unit", "Org B / Ward 1", 30, 88.875, 8.875),
    ]
)
OTHERS = (99.125, 9.125, 88.875, 8.875)  # Org B's numbers
SMALL = (77.625, 7.625)  # the unit below min_n


@pytest.fixture
def shown(monkeypatch) -> dict[str, list]:
    """What the sections show: tables (as frames), headings and notes."""
    out: dict[str, list] = {"tables": [], "headings": [], "notes": []}
    monkeypatch.setattr(audiences, "show", lambda frame, *a, **k: out["tables"].append(frame))
    monkeypatch.setattr(audiences, "heading", lambda text, level=2: out["headings"].append(text))
    monkeypatch.setattr(audiences, "note", lambda text: out["notes"].append(text))
    return out


def _view(tmp_path, kind: str, name: str, tables: dict, language: str = "en") -> ReportView:
    study = load_study(write_study(tmp_path, [], TWO_ORGS))
    labels = load_labels(language, study.paths)
    return ReportView(
        study=study, audience=Audience(kind, name), labels=labels, language=language,
        _tables=dict(tables),
    )  # fmt: skip


def _numbers(frames: list[pd.DataFrame]) -> set[float]:
    values = set()
    for frame in frames:
        for col in frame.columns:
            values |= {float(v) for v in pd.to_numeric(frame[col], errors="coerce").dropna()}
    return values


def test_own_change_shows_the_own_organisation_beside_the_study_never_another(tmp_path, shown):
    audiences.own_change(_view(tmp_path, "organisation", "Org A", {"prepost": PREPOST}))
    (table,) = shown["tables"]
    assert table["mean_round"].tolist() == [61.75]
    assert table["study_mean_round"].tolist() == [62.25]
    assert table["study_diff"].tolist() == [2.25]
    assert not _numbers([table]) & set(OTHERS)


def test_the_consortium_has_no_own_change(tmp_path, shown):
    audiences.own_change(_view(tmp_path, "consortium", "Tiny", {"prepost": PREPOST}))
    assert shown["tables"] == []


def test_own_units_show_only_own_units_and_hide_those_below_min_n(tmp_path, shown):
    audiences.own_units(_view(tmp_path, "organisation", "Org A", {"prepost": PREPOST}))
    (table,) = shown["tables"]
    assert table["group"].tolist() == ["Ward 1", "Ward 2"]
    numbers = _numbers([table])
    assert 64.375 in numbers
    assert not numbers & set(SMALL) and not numbers & set(OTHERS)
    assert table.set_index("group").loc["Ward 2", ["n_round", "mean_round", "diff"]].isna().all()
    assert any("1 unit row(s) are hidden" in n for n in shown["notes"])


def test_an_actor_sees_the_units_of_its_own_organisations_only(tmp_path, shown):
    audiences.own_units(_view(tmp_path, "actor", "Actor 2", {"prepost": PREPOST}))
    (table,) = shown["tables"]
    assert table["group"].tolist() == ["Org B / Ward 1"]


def test_own_bands_show_the_own_organisation_and_hide_small_rounds(tmp_path, shown):
    rng = np.random.default_rng(3)
    scores = pd.DataFrame(
        {
            "round": ["T0"] * 40 + ["T1"] * 40,
            "organisation": (["Org A"] * 25 + ["Org B"] * 15) + (["Org A"] * 37 + ["Org B"] * 3),
            "qwl_band": rng.choice(["much_to_develop", "some_to_develop"], 80),
        }
    )
    bands = band_shares(
        scores, column="qwl_band", bands=["much_to_develop", "some_to_develop"],
        rounds=["T0", "T1"], min_n=5, group_bys=("all", "organisation"),
    )  # fmt: skip
    b_t1 = bands[bands["group"].eq("Org B") & bands["round"].eq("T1")]
    assert b_t1["suppressed"].all() and b_t1["n_band"].isna().all()  # 3 respondents
    audiences.own_qwl(_view(tmp_path / "a", "organisation", "Org A", {"bands": bands}))
    (table,) = shown["tables"]
    mine = bands[bands["group"].eq("Org A")]
    assert sorted(table["n_band"]) == sorted(mine["n_band"])
    assert set(table["study_share"]) == set(bands.loc[bands["group_by"].eq("all"), "share"])
    shown["tables"].clear()
    audiences.own_qwl(_view(tmp_path / "b", "organisation", "Org B", {"bands": bands}))
    (table,) = shown["tables"]
    assert table.loc[table["round"].eq("T1"), ["n_band", "share"]].isna().all().all()


@pytest.mark.parametrize("language", ["fi", "en"])
def test_the_hidden_sentence_counts_only_the_own_organisation(tmp_path, shown, language):
    hidden = pd.DataFrame(
        {
            "group_by": ["all", "organisation", "organisation"],
            "group": ["all", "Org A", "Org B"],
            "n_cells": [110, 5, 105],
        }
    )
    v = _view(tmp_path, "organisation", "Org A", {"hidden": hidden}, language)
    audiences.hidden_figures(v)
    text = " ".join(shown["notes"])
    expected = v.label("rep_hidden_counts").format(k=5, min_n=5)
    assert expected in text
    assert "105" not in text and "110" not in text
    assert shown["headings"] == [v.label("rep_hidden")]


def test_nothing_hidden_is_said_in_words(tmp_path, shown):
    hidden = pd.DataFrame({"group_by": ["organisation"], "group": ["Org A"], "n_cells": [0]})
    v = _view(tmp_path, "organisation", "Org A", {"hidden": hidden})
    audiences.hidden_figures(v)
    assert shown["notes"] == [v.label("rep_hidden_none").format(min_n=5)]


def test_hidden_counts_attribute_cells_to_their_organisation_and_actor():
    plan = pd.DataFrame(
        {
            "cell": [
                "T|qwl|T1|organisation|Org A",  # small
                "T|qwl|T1|unit|Org A / Ward 2",  # small, in Org A
                "T|qwl|T1|unit|Org A / Ward 1",  # complementary, in Org A
                "B|qwl_band|T1|organisation|Org B|excellent",  # complementary, Org B
                "T|qwl|T1|organisation|Org B",  # shown: not counted
                "X|T|qwl|T1|organisation|Org A|unit",  # never shown: not counted
            ],
            "hidden": [True, True, True, True, False, True],
            "primary": [True, True, False, False, False, True],
            "shown": [True, True, True, True, True, False],
        }
    )
    out = hidden_counts(plan, {"Org A": "Actor 1", "Org B": "Actor 1"})
    assert list(out.columns) == ["group_by", "group", "n_cells"]  # no primary/complementary split
    n = out.set_index(["group_by", "group"])["n_cells"]
    assert n[("organisation", "Org A")] == 3
    assert n[("organisation", "Org B")] == 1
    assert n[("actor", "Actor 1")] == 4
    assert n[("all", "all")] == 4


def test_a_group_whose_every_theme_is_hidden_is_said_in_words_not_dashes(tmp_path, shown):
    v = _view(tmp_path, "organisation", "Org A", {})
    latest = v.study.round_ids[-1]
    themes = pd.DataFrame(
        {
            "group_by": ["all", "all", "organisation", "organisation"],
            "group": ["all", "all", "Org A", "Org A"],
            "round": [latest] * 4,
            "code": ["workload", "dialogue"] * 2,
            "n_segments": [40, 30, None, None],
            "share": [0.4, 0.3, None, None],
            "change": [0.1, -0.05, None, None],
            "suppressed": [False, False, True, True],
        }
    )
    v._tables["themes"] = themes
    audiences.qualitative(v)
    (table,) = shown["tables"]
    assert list(table["group"]) == ["all", "all"]  # no rows of dashes for Org A
    assert v.label("themes_group_hidden").format(group="Org A", min_n=5) in shown["notes"]
