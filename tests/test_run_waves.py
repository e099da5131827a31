"""The second analysis wave: notebooks named 8* read the first wave's tables of record, run
after it, are cached on those tables' hashes, and are not run when a first-wave notebook
failed. Two tiny notebooks of a study's own (``--only`` keeps the shipped ones out)."""

from __future__ import annotations

import json

import nbformat
import pytest

from evaluation.errors import NotebookError
from evaluation.paths import StudyPaths
from evaluation.pipeline.run import run
from tests.conftest import row, write_study

PARAMETERS = 'study_dir: str = "."\nlanguage: str = ""'


def _notebook(path, code: str) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {
        "name": "evaluation",
        "display_name": "evaluation",
        "language": "python",
    }
    nbformat.write(nb, path)


def _first(value: str) -> str:
    return (
        "import pandas as pd\n"
        "from evaluation.pipeline.session import open_study\n"
        "s = open_study(study_dir, language or None)\n"
        f"s.write(pd.DataFrame({{'value': [{value}]}}), 'first')\n"
    )


SECOND = (
    "from evaluation.pipeline.session import open_study, table_of_record\n"
    "s = open_study(study_dir, language or None)\n"
    "first = table_of_record(s, 'first')\n"
    "s.write(first.assign(value=first['value'] * 2), 'second')\n"
)


@pytest.fixture
def study(tmp_path):
    rows = [row(resp=f"R{i}", qwl=str(55 + i)) for i in range(6)]
    rows += [row(rnd="T1", resp=f"R{i}", qwl=str(60 + i)) for i in range(6)]
    root = write_study(tmp_path, rows)
    (root / "notebooks").mkdir()
    _notebook(root / "notebooks" / "15-first.ipynb", _first("1"))
    _notebook(root / "notebooks" / "85-second.ipynb", SECOND)
    return root


def _value(root, name: str) -> str:
    return (StudyPaths.of(root).tables / f"{name}.csv").read_text(encoding="utf-8").split()[1]


def test_second_wave_reads_the_first_and_reruns_when_its_tables_change(study):
    records = run(study, jobs=2, only=["15", "85"], reports=False)
    assert records["15-first"]["status"] == records["85-second"]["status"] == "executed"
    assert _value(study, "second") == "2"  # read what the first wave wrote in this run
    cache = json.loads((study / "reports" / ".cache" / "85-second.json").read_text())
    assert cache["tables"] == {"second.csv": cache["tables"]["second.csv"]}
    again = run(study, jobs=1, only=["15", "85"], reports=False)
    assert again["15-first"]["status"] == again["85-second"]["status"] == "unchanged"
    # A first-wave table changes: the second wave runs again (its own notebook did not change).
    _notebook(study / "notebooks" / "15-first.ipynb", _first("5"))
    third = run(study, jobs=1, only=["15", "85"], reports=False)
    assert third["85-second"]["status"] == "executed" and _value(study, "second") == "10"
    # The second wave alone (--only 85) keeps the first wave's tables in its key: unchanged.
    assert run(study, jobs=1, only=["85"], reports=False)["85-second"]["status"] == "unchanged"


def test_a_failed_first_wave_stops_the_second(study, caplog):
    run(study, jobs=1, only=["15", "85"], reports=False)
    _notebook(study / "notebooks" / "15-first.ipynb", "raise RuntimeError('broken')")
    with caplog.at_level("WARNING"), pytest.raises(NotebookError, match="15-first"):
        run(study, jobs=1, only=["15", "85"], reports=False)
    assert "second wave (85-second) is not run" in caplog.text
    manifest = json.loads((study / "reports" / "manifest.json").read_text())
    assert manifest["notebooks"]["85-second"]["status"] == "not run"
    assert _value(study, "second") == "2"  # the earlier table is kept
