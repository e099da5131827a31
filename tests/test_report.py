"""Report helpers: labelled, rounded tables; TOC and provenance in the HTML."""

from __future__ import annotations

import nbformat
import numpy as np
import pandas as pd

from evaluation.report.display import display_table
from evaluation.report.html import notebook_to_html


def test_display_table_labels_rounds_and_hides_suppressed_column():
    frame = pd.DataFrame(
        {
            "measure": ["qwl", "qwl"],
            "n": [12.0, np.nan],
            "p": [0.0004, 0.2512],
            "effect_size": [0.51234, np.nan],
            "suppressed": [False, True],
        }
    )
    html = display_table(frame, {"qwl": "Työelämän laatu", "n": "Vastaajia"}).to_html()
    assert "Työelämän laatu" in html and "Vastaajia" in html
    assert "&lt;\u00a00.001" in html and "0.251" in html and "0.51" in html
    assert ">12<" in html and "12.00" not in html  # whole numbers without decimals
    assert "suppressed" not in html and "–" in html


def test_html_has_toc_provenance_and_no_code(tmp_path):
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("secret_code = 1")
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"text/markdown": "# Title\n"}),
        nbformat.v4.new_output("display_data", data={"text/markdown": "## Section A\n"}),
    ]
    nb.cells = [code]
    path = tmp_path / "in.ipynb"
    nbformat.write(nb, path)
    out = notebook_to_html(
        path, tmp_path / "out.html", labels={"contents": "Sisällys", "provenance": "Alkuperä"},
        provenance={"inputs": "data/raw/responses.csv (abc123)"},
    )  # fmt: skip
    html = out.read_text(encoding="utf-8")
    assert "secret_code" not in html
    assert "Sisällys" in html and "#Section-A" in html
    assert "Alkuperä" in html and "data/raw/responses.csv (abc123)" in html


def test_label_files_have_the_same_keys_and_no_duplicates():
    import yaml

    from evaluation.paths import DEFAULT_LABELS

    keys = {}
    for lang in ("fi", "en"):
        text = (DEFAULT_LABELS / f"{lang}.yaml").read_text(encoding="utf-8")
        lines = [ln.split(":", 1)[0] for ln in text.splitlines() if ln and ln[0].isalnum()]
        assert len(lines) == len(set(lines)), sorted({k for k in lines if lines.count(k) > 1})
        keys[lang] = set(yaml.safe_load(text))
    assert keys["fi"] == keys["en"], keys["fi"] ^ keys["en"]
