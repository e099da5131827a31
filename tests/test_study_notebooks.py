"""A study's own notebooks: run beside the shipped ones, replacing one of the same name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from evaluation.paths import DEFAULT_NOTEBOOKS, StudyPaths

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "70-my-analysis.ipynb"
SHIPPED = sorted(p.name for p in DEFAULT_NOTEBOOKS.glob("[0-9]*.ipynb"))


def test_a_study_notebook_is_added_or_replaces_the_shipped_one_of_its_name(tmp_path):
    own = tmp_path / "notebooks"
    own.mkdir()
    for name in ("70-mine.ipynb", "20-prepost.ipynb", "95-not-an-analysis.ipynb", "notes.ipynb"):
        (own / name).write_text("{}", encoding="utf-8")
    found = StudyPaths.of(tmp_path).notebooks
    names = [p.name for p in found]
    assert names == sorted({*SHIPPED, "70-mine.ipynb"})
    by_name = {p.name: p for p in found}
    assert by_name["20-prepost.ipynb"] == own.resolve() / "20-prepost.ipynb"
    assert by_name["10-data-quality.ipynb"].parent == DEFAULT_NOTEBOOKS


def test_without_a_notebooks_folder_the_shipped_ones_run(tmp_path):
    assert [p.name for p in StudyPaths.of(tmp_path).notebooks] == SHIPPED


def test_the_repository_root_runs_each_notebook_once():
    # The demo study's notebooks/ folder is the shipped notebooks (resources/ links to it).
    names = [p.name for p in StudyPaths.of(ROOT).notebooks]
    assert names == SHIPPED and len(set(names)) == len(names)


@pytest.mark.slow
def test_the_documented_example_notebook_runs_and_is_reported(tmp_path):
    from evaluation.demo.generate import write_demo
    from evaluation.pipeline.run import run

    write_demo(tmp_path, respondents=120)
    (tmp_path / "notebooks").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "notebooks" / EXAMPLE.name)
    records = run(tmp_path, jobs=1, only=["10", "70"], reports=False)
    assert "70-my-analysis" in records
    paths = StudyPaths.of(tmp_path)
    table = paths.tables / "qwl_by_role.csv"
    assert table.is_file() and "qwl" in table.read_text(encoding="utf-8")
    page = (paths.html / "70-my-analysis.html").read_text(encoding="utf-8")
    assert "An example of a study's own notebook" not in page  # analyst-only
    assert (paths.executed_notebooks / "70-my-analysis.ipynb").is_file()
    index = (paths.html / "index.html").read_text(encoding="utf-8")
    assert 'href="70-my-analysis.html"' in index and 'href="10-data-quality.html"' in index
    # Cached like the shipped ones: a second run executes nothing.
    again = run(tmp_path, jobs=1, only=["10", "70"], reports=False)
    assert again["70-my-analysis"]["status"] == "unchanged"
