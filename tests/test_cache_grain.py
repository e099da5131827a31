"""The run's cache at the grain of the work (issue 17, item 2): each notebook's key holds what
it reads, so a changed activity re-runs the indicators and the reports that show them, a changed
label of a report-only language re-renders only that language's reports, and changed survey
answers re-run every analysis."""

from __future__ import annotations

import json
import re
from pathlib import Path

from evaluation.config import load_study
from evaluation.demo.changes import add_training_participant
from evaluation.paths import DEFAULT_NOTEBOOKS
from evaluation.pipeline.run import REPORT_NOTEBOOK, notebook_reads, run
from tests.conftest import copy_study


def _executed(study: Path) -> dict[str, str]:
    """name -> reason of each notebook the last run executed (from the manifest)."""
    notebooks = json.loads((study / "reports" / "manifest.json").read_text())["notebooks"]
    return {n: r.get("reason", "") for n, r in notebooks.items() if r["status"] == "executed"}


def test_every_shipped_analysis_notebook_declares_its_reads():
    for nb in sorted(DEFAULT_NOTEBOOKS.glob("[0-8]*.ipynb")):
        reads = notebook_reads(nb)
        assert reads, nb.name
        assert "disclosure" in reads, nb.name  # write_table applies the plan
    assert notebook_reads(DEFAULT_NOTEBOOKS / "45-indicators.ipynb") is not None
    assert "activities" in notebook_reads(DEFAULT_NOTEBOOKS / "45-indicators.ipynb")


def test_a_notebook_that_declares_nothing_depends_on_everything(tmp_path):
    nb = tmp_path / "70-own.ipynb"
    nb.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert notebook_reads(nb) is None
    nb.write_text(json.dumps({"cells": [], "metadata": {"evaluation": {"reads": ["scores"]}}}))
    assert notebook_reads(nb) == ["scores"]


def test_only_what_reads_a_change_runs_again(shared_demo_run, tmp_path):
    study = copy_study(shared_demo_run, tmp_path / "study")
    analyses = {nb.stem for nb in load_study(study).paths.notebooks} - {REPORT_NOTEBOOK}

    run(study, jobs=2, language="both")  # nothing changed: nothing runs
    assert _executed(study) == {}

    add_training_participant(study)
    run(study, jobs=2, language="both")
    ran = _executed(study)
    assert "activities" in ran.pop("45-indicators")
    # the reports that show the changed indicators, in both languages: consortium and actors;
    # never another analysis. The organisation reports read only their own rows of
    # indicators.csv (the mentoring adoption per organisation), which a training's
    # participants do not change: they are not rendered again.
    assert ran, "no report showed the changed indicators"
    assert {n.split(".")[2].split("-")[0] for n in ran} == {"consortium", "actor"}
    assert {n.split(".")[1] for n in ran} == {"fi", "en"}
    assert all(r == "indicators.csv changed" for r in ran.values()), ran

    # a label of a report-only language (the study's analyses are rendered in Finnish)
    assert load_study(study).language == "fi"
    labels = study / "config" / "labels"
    labels.mkdir(parents=True, exist_ok=True)
    (labels / "en.yaml").write_text('rep_analyses: "All the analyses"\n', encoding="utf-8")
    run(study, jobs=2, language="both")
    ran = _executed(study)
    assert ran and all(n.startswith(f"{REPORT_NOTEBOOK}.en.") for n in ran), sorted(ran)
    assert all(r == "the en labels changed" for r in ran.values())

    # a changed answer: every analysis runs again
    path = study / "data" / "raw" / "responses.csv"
    text = path.read_text(encoding="utf-8").splitlines(keepends=True)
    header = text[0].rstrip("\n").split(",")
    col = next(i for i, name in enumerate(header) if re.fullmatch(r"esis_\d+", name))
    row = text[1].rstrip("\n").split(",")
    row[col] = "1" if row[col] != "1" else "2"
    text[1] = ",".join(row) + "\n"
    path.write_text("".join(text), encoding="utf-8")
    run(study, jobs=2, language="both", reports=False)
    assert analyses <= set(_executed(study))


def _outputs(study: Path) -> dict[str, bytes]:
    """The results of a run: tables of record, figures and exports (path -> bytes)."""
    reports = study / "reports"
    folders = [reports / "tables", reports / "figures", reports / "exports"]
    return {
        p.relative_to(reports).as_posix(): p.read_bytes()
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_an_incremental_run_writes_what_a_cold_run_writes(shared_demo_run, tmp_path):
    """After a changed activity only the indicators, the tables' exports and the reports that
    show them are made again; every table, figure and export is then byte for byte what a cold
    run on the same inputs writes."""
    study = copy_study(shared_demo_run, tmp_path / "study")
    add_training_participant(study)
    run(study, jobs=2, language="both")
    exports = json.loads((study / "reports" / ".cache" / "exports.json").read_text())
    assert exports["tables"]["indicators.csv"]
    cold = copy_study(study, tmp_path / "cold")
    run(cold, jobs=2, language="both", use_cache=False, reports=False)
    incremental, fresh = _outputs(study), _outputs(cold)
    assert sorted(incremental) == sorted(fresh)
    differ = [name for name in fresh if incremental[name] != fresh[name]]
    assert not differ, differ


def test_a_read_of_some_rows_depends_on_those_rows_only(tmp_path):
    from evaluation.io.files import read_digest, read_key, read_table_name

    table = tmp_path / "indicators.csv"
    rows = "indicator,group_by,group,achieved\n"
    table.write_text(rows + "a,all,all,10\na,organisation,Org A,1\na,organisation,Org B,0\n")
    own = read_key("indicators", {"group_by": "organisation", "group": "Org A"})
    assert read_table_name(own) == "indicators.csv" == read_key("indicators")
    whole, mine = read_digest(tmp_path, "indicators.csv"), read_digest(tmp_path, own)
    # another organisation's row and the whole study's change: Org A's rows do not
    table.write_text(rows + "a,all,all,11\na,organisation,Org A,1\na,organisation,Org B,1\n")
    assert read_digest(tmp_path, "indicators.csv") != whole
    assert read_digest(tmp_path, own) == mine
    # Org A's own row changes
    table.write_text(rows + "a,all,all,11\na,organisation,Org A,0\na,organisation,Org B,1\n")
    assert read_digest(tmp_path, own) != mine
    table.unlink()
    assert read_digest(tmp_path, own) is None and read_digest(tmp_path, "indicators.csv") is None
