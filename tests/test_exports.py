"""Publication exports: booktabs LaTeX and a formatted, deterministic workbook."""

from __future__ import annotations

import numpy as np
import pandas as pd
from openpyxl import load_workbook

from evaluation.paths import StudyPaths
from evaluation.report.exports import export_tables, to_latex, to_xlsx

FRAME = pd.DataFrame(
    {
        "measure": ["qwl_leadership", "esis"],
        "n": [120, np.nan],
        "effect_size": [0.41234, np.nan],
        "p_adjusted": [0.0004, np.nan],
        "suppressed": [False, True],
    }
)
LABELS = {"measure": "Mittari", "effect_size": "Vaikutuksen koko", "p_adjusted": "p (korjattu)"}


def test_latex_is_booktabs_with_labels_rounding_and_dashes():
    tex = to_latex(FRAME, LABELS, caption="Muutos & vaikutus", label="prepost")
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"Mittari & n & Vaikutuksen koko & p (korjattu) \\" in tex
    assert r"qwl\_leadership & 120 & 0.41 & $<$ .001 \\" in tex
    assert r"esis & – & – & – \\" in tex
    assert r"\caption{Muutos \& vaikutus}\label{tab:prepost}" in tex
    assert "suppressed" not in tex


def test_workbook_has_one_formatted_sheet_per_table_and_is_deterministic(tmp_path):
    data = to_xlsx({"prepost": FRAME, "meta": FRAME.head(1)}, LABELS)
    assert data == to_xlsx({"prepost": FRAME, "meta": FRAME.head(1)}, LABELS)
    path = tmp_path / "t.xlsx"
    path.write_bytes(data)
    wb = load_workbook(path)
    assert wb.sheetnames == ["prepost", "meta"]
    ws = wb["prepost"]
    assert [c.value for c in ws[1]] == ["Mittari", "n", "Vaikutuksen koko", "p (korjattu)",
                                        "suppressed"]  # fmt: skip
    assert ws["A1"].font.bold and ws.freeze_panes == "A2" and ws.auto_filter.ref
    assert ws["C2"].value == FRAME.loc[0, "effect_size"] and ws["C2"].number_format == "0.00"
    assert ws["C3"].value is None  # suppressed: empty, not 0


def test_export_tables_writes_latex_and_workbook_and_drops_stale_files(tmp_path):
    paths = StudyPaths.of(tmp_path)
    paths.tables.mkdir(parents=True)
    FRAME.to_csv(paths.tables / "prepost.csv", index=False)
    stale = paths.reports / "exports" / "latex" / "old.tex"
    stale.parent.mkdir(parents=True)
    stale.write_text("x")
    written = export_tables(paths, LABELS)
    names = sorted(p.name for p in written)
    assert names == ["prepost.tex", "tables.xlsx"] and not stale.exists()
    first = (paths.reports / "exports" / "tables.xlsx").read_bytes()
    export_tables(paths, LABELS)
    assert (paths.reports / "exports" / "tables.xlsx").read_bytes() == first


def test_workbook_is_byte_identical_across_seconds_and_has_fixed_metadata(tmp_path, monkeypatch):
    import time
    import zipfile

    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first = to_xlsx({"prepost": FRAME}, LABELS)
    time.sleep(1.1)  # the clock's second changes between the two writes
    assert to_xlsx({"prepost": FRAME}, LABELS) == first
    path = tmp_path / "t.xlsx"
    path.write_bytes(first)
    core = zipfile.ZipFile(path).read("docProps/core.xml").decode()
    assert "2000-01-01T00:00:00Z</dcterms:modified>" in core
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    path.write_bytes(to_xlsx({"prepost": FRAME}, LABELS))
    core = zipfile.ZipFile(path).read("docProps/core.xml").decode()
    assert "2023-11-14T22:13:20Z</dcterms:modified>" in core
    assert load_workbook(path).properties.created.year == 2023
