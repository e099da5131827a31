"""The analysis notebooks read as recipes: visible analyst notes that never reach a report,
estimators called with the session's options, committed without outputs."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import nbformat
import pytest

from evaluation.config import load_study
from evaluation.paths import DEFAULT_NOTEBOOKS
from evaluation.pipeline.session import Options, build_options
from evaluation.report.html import ANALYST_ONLY, notebook_to_html

ROOT = Path(__file__).resolve().parents[1]
ANALYSES = sorted(DEFAULT_NOTEBOOKS.glob("[0-8]*.ipynb"))
EXAMPLE = ROOT / "docs" / "examples" / "70-my-analysis.ipynb"


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def test_an_analyst_only_cell_never_reaches_the_html(tmp_path):
    nb = nbformat.v4.new_notebook()
    hidden = nbformat.v4.new_markdown_cell("## Analyst note\n\nSECRET-RECIPE-NOTE")
    hidden.metadata["tags"] = [ANALYST_ONLY]
    shown = nbformat.v4.new_code_cell("x = 1")
    shown.outputs = [
        nbformat.v4.new_output(
            "display_data", data={"text/markdown": "# Title\n\n## Shown heading\n\nVISIBLE"}
        )
    ]
    nb.cells = [hidden, shown]
    source = tmp_path / "nb.ipynb"
    nbformat.write(nb, source)
    target = notebook_to_html(
        source, tmp_path / "nb.html", labels={"contents": "Contents"}, provenance={"run": "1"}
    )
    page = target.read_text(encoding="utf-8")
    assert "VISIBLE" in page and "Shown heading" in page
    assert "SECRET-RECIPE-NOTE" not in page and "Analyst note" not in page


@pytest.mark.parametrize("path", [*ANALYSES, EXAMPLE], ids=lambda p: p.stem)
def test_notebooks_read_as_recipes(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = nb["cells"]
    first = "".join(cells[0]["source"]).strip()
    # A visible first cell (not an HTML comment) that says what the notebook computes.
    assert cells[0]["cell_type"] == "markdown" and first.startswith("# ")
    assert not re.fullmatch(r"<!--.*-->", first, re.DOTALL)
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "markdown":
            assert ANALYST_ONLY in _tags(cell), (path.name, i)
            assert "".join(cell["source"]).strip(), (path.name, i)
        else:  # committed nbstripout-clean
            assert cell["outputs"] == [] and cell["execution_count"] is None, (path.name, i)
            if "parameters" not in _tags(cell):  # every section is introduced in words
                assert cells[i - 1]["cell_type"] == "markdown", (path.name, i)
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    # The estimators are imported in the notebook and called with the session's options.
    assert re.search(r"^from evaluation\.analyse\.\S+ import ", code, re.MULTILINE), path.name
    assert "s.options." in code and "s.write(" in code, path.name
    assert "session as steps" not in code


def test_options_are_read_only_and_a_key_can_be_overridden():
    study = load_study(ROOT)
    options = build_options(study, present=study.round_ids)
    assert isinstance(options, Options)
    assert options.prepost["ci"] == study.analysis.ci
    assert options.prepost["correction"] == study.correction
    assert options.cluster_robust["n_boot"] == study.analysis.bootstrap_reps
    assert options.cluster_robust["seed"] == study.seed
    assert options.meta["methods"] == study.analysis.meta_methods
    with pytest.raises(TypeError):
        options.prepost["ci"] = 0.9  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.prepost = {}  # type: ignore[misc]
    changed = {**options.prepost, "ci": 0.9}
    assert changed["ci"] == 0.9 and options.prepost["ci"] == study.analysis.ci
    assert "prepost" in repr(options)
