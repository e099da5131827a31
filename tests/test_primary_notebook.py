"""notebooks/80-primary on hand-built tables of record (the columns prepost.csv and lmm.csv
get with the population/analysis split), and the report's sentence about the family."""

from __future__ import annotations

import pandas as pd

from evaluation.paths import StudyPaths
from evaluation.pipeline.run import run
from evaluation.report.audiences import open_report, primary_family_note
from tests.conftest import row, write_study
from tests.test_multiplicity import _did, _pp


def _study(tmp_path):
    rows = [row(resp=f"R{i}", qwl=str(55 + i)) for i in range(6)]
    rows += [row(rnd="T1", resp=f"R{i}", qwl=str(60 + i)) for i in range(6)]
    return write_study(tmp_path, rows)


def test_the_notebook_writes_the_joint_family_from_the_first_waves_tables(tmp_path):
    root = _study(tmp_path)
    tables = StudyPaths.of(root).tables
    tables.mkdir(parents=True)
    unit = _pp("qwl", "T1", 0.001, group_by="unit")  # exploratory: not in the family
    prepost = [_pp("qwl", "T1", 0.01), _pp("esis", "T1", 0.04), unit]
    pd.DataFrame(prepost).to_csv(tables / "prepost.csv", index=False)
    pd.DataFrame([_did("qwl", "T1", 0.03), _did("esis", "T1", 0.005)]).to_csv(
        tables / "lmm.csv", index=False
    )
    run(root, jobs=1, only=["80"], reports=False)
    primary = pd.read_csv(tables / "primary.csv", keep_default_na=False, na_values=[""])
    assert list(zip(primary["measure"], primary["comparison"], strict=True)) == [
        ("qwl", "change"), ("qwl", "did"), ("esis", "change"), ("esis", "did")
    ]  # fmt: skip
    assert list(primary["p_adjusted"].round(6)) == [0.03, 0.06, 0.06, 0.02]  # Holm, m = 4
    assert (primary["family_size"] == 4).all()
    page = (StudyPaths.of(root).html / "80-primary.html").read_text(encoding="utf-8")
    assert "The primary family has 4 tests" in page

    v = open_report(root, "fi", "consortium", "")
    note = primary_family_note(v, primary)
    assert note.startswith("Ensisijaisessa testiperheessä on 4 testiä")
    assert "Holmin menetelmä" in note and "Benjaminin–Hochbergin" in note


def test_without_prepost_or_lmm_the_table_is_empty_and_the_page_says_so(tmp_path):
    root = _study(tmp_path)
    run(root, jobs=1, only=["80"], reports=False)
    paths = StudyPaths.of(root)
    primary = pd.read_csv(paths.tables / "primary.csv")
    assert primary.empty and "p_adjusted" in primary
    page = (paths.html / "80-primary.html").read_text(encoding="utf-8")
    assert "There is no primary family to show" in page
