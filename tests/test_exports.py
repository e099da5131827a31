"""Publication exports: booktabs LaTeX and a formatted, deterministic workbook."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from evaluation.config import load_labels
from evaluation.paths import StudyPaths
from evaluation.report.exports import (
    DASH,
    ExportContext,
    escape_latex,
    export_tables,
    export_workbook,
    to_latex,
    to_xlsx,
)

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
    assert ws["A1"].font.bold and ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:E{len(FRAME) + 1}"  # the header and every row
    assert ws.column_dimensions["C"].width == len("Vaikutuksen koko") + 2
    assert wb["meta"].auto_filter.ref == "A1:E2" and wb["meta"]["A2"].font.bold is False
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
    names = sorted(str(p.relative_to(paths.reports / "exports")) for p in written)
    assert names == ["latex/supplement.tex", "latex/supplement/prepost.tex", "tables.xlsx"]
    assert not stale.exists()
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


PRIMARY = pd.DataFrame(
    {
        "family": ["primary"] * 3,
        "family_size": [3] * 3,
        "correction": ["holm"] * 3,
        "measure": ["qwl", "qwl", "esis"],
        "comparison": ["change", "did", "change"],
        "round": ["T1", "T1", "T1"],
        "baseline": ["T0"] * 3,
        "n": [1220, 1220, np.nan],
        "estimate": [2.146, 4.216, np.nan],
        "ci_low": [np.nan, 1.986, np.nan],
        "ci_high": [np.nan, 8.085, np.nan],
        "effect_size_type": ["d_av_all", np.nan, np.nan],
        "effect_size": [0.2239, np.nan, np.nan],
        "es_ci_low": [0.1164, np.nan, np.nan],
        "es_ci_high": [0.3312, np.nan, np.nan],
        "p": [0.00004, 0.0123, np.nan],
        "p_adjusted": [0.0004, 0.0246, np.nan],
        "suppressed": [False, False, True],
    }
)
BIG = pd.DataFrame({"measure": ["qwl"] * 50, "round": ["T1"] * 50, "diff": np.arange(50) / 7})
ROUNDS = {"T0": "Baseline 2025", "T1": "Follow-up 2026"}


def _study_tables(tmp_path, tables: dict[str, pd.DataFrame]) -> StudyPaths:
    paths = StudyPaths.of(tmp_path)
    paths.tables.mkdir(parents=True)
    for name, frame in tables.items():
        frame.to_csv(paths.tables / f"{name}.csv", index=False)
    return paths


def test_captions_and_notes_come_from_the_labels_not_from_table_ids(tmp_path):
    paths = _study_tables(tmp_path, {"primary": PRIMARY, "prepost": BIG})
    for lang in ("fi", "en"):
        labels = load_labels(lang)
        export_tables(paths, labels, ExportContext(ci=0.9, min_n=7, rounds=ROUNDS))
        latex = paths.reports / "exports" / "latex"
        for name in ("primary", "prepost"):
            tex = (latex / "supplement" / f"{name}.tex").read_text(encoding="utf-8")
            caption = tex.split(r"\caption{", 1)[1].split("}", 1)[0]
            assert caption == escape_latex(labels[f"table_{name}"]) and caption != name
        primary = (latex / "supplement" / "primary.tex").read_text(encoding="utf-8")
        note = primary.split(r"\end{longtable}", 1)[1]
        ci_note = escape_latex(labels["export_note_ci"].format(level="90"))
        assert ci_note in note  # the study's CI level
        assert escape_latex(labels["export_note_dash"].format(min_n=7, dash=DASH)) in note
        assert escape_latex(labels["d_av_all"]) in note and labels["correction_holm"] in note
        assert "Follow-up 2026" in primary and " T1 " not in primary  # round labels
        prepost = (latex / "supplement" / "prepost.tex").read_text(encoding="utf-8")
        assert escape_latex(labels["table_prepost_note"]) in prepost
        assert ci_note not in prepost  # no interval in it


def test_every_shipped_table_has_a_caption_in_both_languages():
    from evaluation.report.exports import caption

    tables = ["attrition", "bands", "composition", "composition_tests", "disagreements",
              "distributions", "icr", "indicators", "joint_display", "lmm", "meta",
              "missingness", "optimisers", "out_of_range", "power", "prepost", "primary",
              "quotes", "reliability", "respondents", "suggestion_quality", "suggestions",
              "themes", "trajectories", "documents", "document_quotes", "feedback_reliability",
              "feedback_summary", "hidden", "proxy_agreement", "respondent_totals",
              "risks"]  # fmt: skip
    for lang in ("fi", "en"):
        labels = load_labels(lang)
        captions = [caption(t, labels) for t in tables]
        assert not set(captions) & set(tables), lang
        assert len(set(captions)) == len(tables), lang


def test_main_results_hold_the_primary_rows_and_the_supplement_every_table(tmp_path):
    paths = _study_tables(tmp_path, {"primary": PRIMARY, "prepost": BIG, "meta": FRAME})
    labels = load_labels("en")
    export_tables(paths, labels, ExportContext(rounds=ROUNDS))
    latex = paths.reports / "exports" / "latex"
    main = (latex / "main_results.tex").read_text(encoding="utf-8")
    assert r"\begin{threeparttable}" in main and r"\toprule" in main
    assert escape_latex(labels["export_main_results"]) in main
    rows = [line for line in main.splitlines() if line.endswith(r"\\")][1:]  # after the header
    assert len(rows) == len(PRIMARY)
    assert rows[0].startswith(f"{labels['qwl']} & {escape_latex(labels['change'])} & ")
    assert r"2.15 & 0.22 {[}0.12, 0.33{]}\tnote{a} & $<$ .001 & $<$ .001 \\" in rows[0]
    assert r"4.22 {[}1.99, 8.09{]} & – & 0.012 & 0.025 \\" in rows[1]
    assert rows[2].startswith(f"{labels['esis']} & ") and rows[2].count(DASH) == 5
    assert r"\item[a] " + escape_latex(labels["d_av_all"]) in main
    assert "prepost" not in main and "0.14" not in main  # no other table in the main set
    supplement = (latex / "supplement.tex").read_text(encoding="utf-8")
    assert supplement.count(r"\begin{longtable}") == 3
    for name in ("meta", "prepost", "primary"):
        assert rf"\label{{tab:{name}}}" in supplement
        assert (latex / "supplement" / f"{name}.tex").is_file()
    assert supplement.count(f"{labels['qwl']} & Follow-up 2026 &") == len(BIG)
    assert sorted(p.name for p in latex.glob("*.tex")) == ["main_results.tex", "supplement.tex"]
    wb = load_workbook(paths.reports / "exports" / "tables.xlsx")
    assert wb.sheetnames == ["contents", "main_results", "meta", "prepost", "primary"]
    sheet = wb["main_results"]
    assert sheet.max_row == len(PRIMARY) + 1
    assert sheet["A2"].value == labels["qwl"] and sheet["C2"].value == "Follow-up 2026"
    contents = [[c.value for c in row] for row in wb["contents"].iter_rows(min_row=2)]
    expected = [labels[f"table_{n}"] for n in ("meta", "prepost", "primary")]
    assert [row[1] for row in contents[1:]] == expected


def test_exports_are_byte_identical_for_the_same_tables(tmp_path):
    paths = _study_tables(tmp_path, {"primary": PRIMARY, "prepost": BIG})
    labels = load_labels("fi")
    context = ExportContext(rounds=ROUNDS)
    first = {p: p.read_bytes() for p in export_tables(paths, labels, context)}
    second = {p: p.read_bytes() for p in export_tables(paths, labels, context)}
    assert first == second and len(first) == 5


def test_names_from_the_data_are_latex_escaped(tmp_path):
    evil = r"Hoiva \input{/etc/passwd} 100% & Co_#1 $x$ ~^ [a]"
    frame = pd.DataFrame({"organisation": [evil, "Line\nbreak\n\nhere"], "n": [12, 14]})
    paths = _study_tables(tmp_path, {"meta": frame, "primary": PRIMARY.assign(measure=evil)})
    export_tables(paths, {"meta": evil}, ExportContext())  # a label from a study's own files
    latex = paths.reports / "exports" / "latex"
    for tex in [latex / "supplement.tex", latex / "main_results.tex"]:
        text = tex.read_text(encoding="utf-8").split("\n", 1)[1]  # after the % comment
        text = re.sub(r"\\label\{tab:\w+\}", "", text)  # ids of our own
        assert r"\input{" not in text and not re.search(r"(?<!\\)[%&#_]\S", text), tex
        assert (
            r"Hoiva \textbackslash{}input\{/etc/passwd\} 100\% \& Co\_\#1 \$x\$ "
            r"\textasciitilde{}\textasciicircum{} {[}a{]}"
        ) in text
    assert "Line break here & 14" in (latex / "supplement.tex").read_text(encoding="utf-8")


def test_escape_latex_replaces_each_character_once():
    assert escape_latex("\\{}") == r"\textbackslash{}\{\}"
    assert escape_latex("a_b%") == r"a\_b\%"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex")
def test_the_exports_compile_with_pdflatex_whatever_the_names(tmp_path):
    evil = r"Hoiva \input{/etc/passwd} 100% & Co_#1 $x$ ~^ [a] ≥75 −1"
    frame = pd.DataFrame({"organisation": [evil, "[b] starts with a bracket"], "n": [12, 14]})
    paths = _study_tables(tmp_path, {"meta": frame, "primary": PRIMARY.assign(measure=evil)})
    export_tables(paths, load_labels("fi"), ExportContext(rounds=ROUNDS))
    (tmp_path / "paper.tex").write_text(
        "\\documentclass{article}\\usepackage[T1]{fontenc}\n"
        "\\usepackage{booktabs,longtable,threeparttable}\\begin{document}\n"
        "\\input{reports/exports/latex/main_results.tex}\n"
        "\\input{reports/exports/latex/supplement.tex}\n\\end{document}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape",
         "paper.tex"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:]
    assert "/etc/passwd" not in {line.strip("()") for line in done.stdout.split()}


def test_finnish_latex_writes_numbers_as_the_finnish_reports_do():
    frame = pd.DataFrame({"n": [1500], "effect_size": [-0.4149], "p": [0.0004]})
    tex = to_latex(frame, LABELS, caption="c", label="x", language="fi")
    # no-break spaces as ~, the minus sign as math, a decimal comma, "< 0,001"
    assert r"1~500 & \ensuremath{-}0,41 & \textless{}~0,001 \\" in tex
    assert r"1500 & $-$0.41 & $<$ .001 \\" in to_latex(frame, LABELS, caption="c", label="x")


@pytest.mark.slow
def test_every_table_of_the_demo_run_has_a_caption_in_both_languages(shared_demo_run):
    from evaluation.report.exports import caption

    tables = sorted(p.stem for p in (shared_demo_run / "reports" / "tables").glob("*.csv"))
    assert len(tables) > 20
    for lang in ("fi", "en"):
        labels = load_labels(lang)
        missing = [t for t in tables if caption(t, labels) == t]
        assert not missing, (lang, missing)


def test_only_a_changed_table_is_exported_again_and_the_files_equal_a_fresh_export(tmp_path):
    """The run's export record keys each table's LaTeX on its CSV's sha256: an unchanged
    table's file is kept (not written again), a changed one is made again, and the result is
    byte for byte what an export from scratch writes."""
    from evaluation.io.files import sha256_file

    labels, context = load_labels("en"), ExportContext(rounds=ROUNDS)
    paths = _study_tables(tmp_path / "a", {"primary": PRIMARY, "prepost": BIG, "other": FRAME})
    export_tables(paths, labels, context)
    before = {p.stem: sha256_file(p) for p in paths.tables.glob("*.csv")}
    changed = BIG.assign(diff=BIG["diff"] + 1)
    changed.to_csv(paths.tables / "prepost.csv", index=False)
    supplement = paths.reports / "exports" / "latex" / "supplement"
    stamp = {p.stem: p.stat().st_mtime_ns for p in supplement.glob("*.tex")}
    for tex in supplement.glob("*.tex"):  # a file made again gets a new modification time
        os.utime(tex, ns=(1, 1))
    export_tables(paths, labels, context, unchanged=before)
    again = {p.stem for p in supplement.glob("*.tex") if p.stat().st_mtime_ns != 1}
    assert again == {"prepost"}, (again, stamp)

    fresh = _study_tables(tmp_path / "b", {"primary": PRIMARY, "prepost": changed, "other": FRAME})
    export_tables(fresh, labels, context)
    ours, theirs = paths.reports / "exports", fresh.reports / "exports"
    files = sorted(p.relative_to(theirs) for p in theirs.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(ours) for p in ours.rglob("*") if p.is_file())
    for name in files:
        assert (ours / name).read_bytes() == (theirs / name).read_bytes(), name


def test_a_kept_table_file_that_no_longer_matches_its_table_is_made_again(tmp_path):
    labels = load_labels("en")
    paths = _study_tables(tmp_path, {"prepost": BIG})
    export_tables(paths, labels)
    tex = paths.reports / "exports" / "latex" / "supplement" / "prepost.tex"
    good = tex.read_bytes()
    tex.write_text("stale", encoding="utf-8")
    export_tables(paths, labels, unchanged={"prepost": "0" * 64})  # not the CSV's sha256
    assert tex.read_bytes() == good


def _written_cells(monkeypatch) -> list[object]:
    """Every value of every sheet the workbook writes from its table from now on (not those
    it copies), header labels included."""
    from evaluation.report import exports

    cells: list[object] = []
    real = exports._sheet_data

    def recorded(header, frame, *args):
        cells.extend([*header, *frame.to_numpy().ravel().tolist()])
        return real(header, frame, *args)

    monkeypatch.setattr(exports, "_sheet_data", recorded)
    return cells


def test_an_unchanged_table_s_sheet_is_copied_and_the_workbook_equals_a_fresh_one(
    tmp_path, monkeypatch
):
    """The workbook copies the sheet of a table whose CSV and header labels are unchanged
    from the last workbook's (reports/.cache/xlsx) and writes the others cell by cell; the
    file is byte for byte the one written from scratch. A changed header label, or
    ``reuse=False``, writes the sheet again."""

    labels = load_labels("en")
    # a table called "contents" shares no cache entry with the contents sheet
    tables = {"primary": PRIMARY, "prepost": BIG, "other": FRAME, "contents": FRAME.head(1)}
    paths = _study_tables(tmp_path / "a", tables)
    export_workbook(paths, labels)
    cells = _written_cells(monkeypatch)
    marker, new = BIG["diff"].iloc[3], 123.25  # a value only prepost has, one only "other" has
    changed = FRAME.assign(effect_size=[new, np.nan])
    changed.to_csv(paths.tables / "other.csv", index=False)

    def workbook(paths: StudyPaths, labels: dict, **kw) -> bytes:
        cells.clear()
        export_workbook(paths, labels, **kw)
        return (paths.reports / "exports" / "tables.xlsx").read_bytes()

    fresh = _study_tables(tmp_path / "b", {**tables, "other": changed})
    expected = workbook(fresh, labels, reuse=False)
    assert marker in cells and new in cells  # from scratch: every table's cells
    assert workbook(paths, labels) == expected
    assert new in cells and marker not in cells  # prepost's sheet was copied
    # one cached sheet per table (4); the contents and main-results sheets are never cached
    assert len(list((paths.reports / ".cache" / "xlsx").glob("*.xml.z"))) == 4

    relabelled = {**labels, "diff": "Muutos <b>&"}
    expected = workbook(fresh, relabelled, reuse=False)
    assert workbook(paths, relabelled) == expected and marker in cells  # header changed
    assert workbook(paths, relabelled) == expected and marker not in cells
    assert workbook(paths, relabelled, reuse=False) == expected and marker in cells


def test_sheets_written_ahead_make_the_same_workbook_and_are_not_written_twice(
    tmp_path, monkeypatch
):
    """A national study's biggest sheets are written ahead in a worker
    (``write_sheet_ahead``) and copied into the workbook: the workbook is byte for byte the
    one written at once, a table called "contents" included, with ``reuse=False`` (--force)
    too, and the cells of a sheet written ahead are not written again."""
    from evaluation.report import exports

    labels = load_labels("fi")
    tables = {"primary": PRIMARY, "prepost": BIG, "other": FRAME, "contents": FRAME.head(1)}
    expected = _study_tables(tmp_path / "at-once", tables)
    export_workbook(expected, labels, reuse=False)
    cells = _written_cells(monkeypatch)
    marker = BIG["diff"].iloc[3]  # a value only prepost has
    for reuse in (True, False):
        paths = _study_tables(tmp_path / f"ahead-{reuse}", tables)
        monkeypatch.setattr(exports, "AHEAD_BYTES", (paths.tables / "prepost.csv").stat().st_size)
        ahead = exports.sheets_to_write_ahead(paths)
        assert "prepost" in ahead and "other" not in ahead  # by the size of the CSV
        fresh = {exports.write_sheet_ahead(paths, labels, name, reuse=reuse) for name in tables}
        assert exports.write_sheet_ahead(paths, labels, "prepost", reuse=reuse) in fresh
        cells.clear()
        export_workbook(paths, labels, reuse=reuse, fresh=frozenset(fresh))
        assert marker not in cells  # copied, not written again
        workbook = paths.reports / "exports" / "tables.xlsx"
        assert workbook.read_bytes() == (expected.reports / "exports" / "tables.xlsx").read_bytes()


@given(
    numbers=st.lists(
        st.one_of(
            st.floats(allow_infinity=False, width=64),
            st.sampled_from([0.0, -0.0, 0.004, -0.004, 0.0005, 1500.0, -2.5]),
            st.integers(-(10**6), 10**6),
            st.none(),
        ),
        max_size=30,
    ),
    ps=st.lists(st.one_of(st.floats(0, 1), st.sampled_from([0.0, 0.0005, 0.05])), max_size=30),
    texts=st.lists(st.sampled_from(["T0", "T1", "yes", "a_b & c", "", "<b>x</b>"]), max_size=30),
    language=st.sampled_from(["fi", "en"]),
)
def test_a_latex_column_is_its_cells_each_made_alone(numbers, ps, texts, language):
    """``_latex_column`` makes each distinct value's text once: every cell must be what
    ``_latex_cell`` makes of it alone (-0.0 and 0.0, NaN and None, p values included)."""
    from evaluation.report.exports import _latex_cell, _latex_column

    labels = load_labels(language)
    for column, values in (("diff", numbers), ("p_adjusted", ps), ("round", texts)):
        expected = [_latex_cell(v, column, labels, ROUNDS, language) for v in values]
        assert _latex_column(values, column, labels, ROUNDS, language) == expected


def test_a_table_between_the_early_and_the_ahead_size_is_written_early(tmp_path, monkeypatch):
    """``sheets_to_write_ahead``: from ``AHEAD_BYTES`` on a table waits for the reports'
    phase; with ``early``, from ``EARLY_BYTES`` up to ``AHEAD_BYTES`` it is written as soon as
    its notebook is done; a table named that is not there is none of them."""
    from evaluation.report import exports

    paths = _study_tables(tmp_path, {"prepost": BIG, "other": FRAME})
    size = (paths.tables / "prepost.csv").stat().st_size
    assert (paths.tables / "other.csv").stat().st_size < size
    monkeypatch.setattr(exports, "EARLY_BYTES", size)
    monkeypatch.setattr(exports, "AHEAD_BYTES", size + 1)
    names = ["prepost.csv", "other.csv", "gone.csv"]
    assert exports.sheets_to_write_ahead(paths, names, early=True) == ["prepost"]
    assert exports.sheets_to_write_ahead(paths, names) == []
    monkeypatch.setattr(exports, "AHEAD_BYTES", size)
    assert exports.sheets_to_write_ahead(paths, names, early=True) == []
    assert exports.sheets_to_write_ahead(paths) == ["prepost"]


@pytest.mark.slow
def test_a_run_writes_the_sheets_of_a_notebook_as_soon_as_it_is_done(tmp_path, monkeypatch):
    """``evaluation run`` writes the workbook sheets of the tables a notebook wrote
    (``EARLY_BYTES`` and more) in a thread of its own process while the other analyses run:
    the workbook is byte for byte the one written without (as at national size, where the
    run's process writes none early), and those sheets are written once."""
    from evaluation.demo.generate import write_demo
    from evaluation.pipeline import run as pipeline
    from evaluation.pipeline.run import run
    from evaluation.report import exports

    early, late = tmp_path / "early", tmp_path / "late"
    write_demo(early, respondents=60)
    shutil.copytree(early, late)
    written: list[str] = []
    real = exports.write_sheet_ahead

    def spy(paths, labels, table, **kwargs):
        written.append(table)
        return real(paths, labels, table, **kwargs)

    monkeypatch.setattr(exports, "write_sheet_ahead", spy)
    monkeypatch.setattr(exports, "EARLY_BYTES", 1)  # every table of the notebook
    run(early, jobs=1, only=["20", "45"], reports=False)
    tables = sorted(p.stem for p in (early / "reports" / "tables").glob("*.csv"))
    assert "prepost" in tables and "indicators" in tables
    assert sorted(written) == tables  # each once, none left to the workbook
    written.clear()
    # at national size (processing in a child) this process writes no sheet early
    monkeypatch.setattr(pipeline, "CHILD_PROCESSING_BYTES", 0)
    run(late, jobs=1, only=["20", "45"], reports=False)
    assert written == []
    book = Path("reports") / "exports" / "tables.xlsx"
    assert (early / book).read_bytes() == (late / book).read_bytes()


# The sheet rows written without openpyxl's cell objects (exports._sheet_data) must be, byte
# for byte, what openpyxl writes: the workbook with them equals the one openpyxl writes alone.
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12) | st.sampled_from(
    ["", " lead", "trail ", "=SUM(A1)", "#N/A", "#DIV/0!", "a\rb", "<&>\"'", "\t"]
)
_FLOAT = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([-0.0, 5e-324, 1e300])


@st.composite
def _tables(draw) -> pd.DataFrame:
    n = draw(st.integers(0, 6))
    columns = {}
    for j, kind in enumerate(draw(st.lists(st.sampled_from("fibst"), min_size=1, max_size=5))):
        name = draw(_TEXT.filter(lambda t: t not in columns)) if kind == "t" else f"{kind}{j}"
        if kind == "f":
            values = pd.Series(draw(st.lists(_FLOAT, min_size=n, max_size=n)), dtype=float)
        elif kind == "i":
            ints = st.integers(-(2**62), 2**62)
            values = pd.Series(draw(st.lists(ints, min_size=n, max_size=n)), dtype="int64")
        elif kind == "b":
            values = pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
        else:  # a text column, with missing values
            texts = st.lists(st.none() | _TEXT, min_size=n, max_size=n)
            values = pd.Series(draw(texts), dtype="str")
        columns[name] = values
    return pd.DataFrame(columns)


@given(frame=_tables())
def test_a_sheet_s_rows_are_the_xml_openpyxl_writes(frame):
    labels = {str(c): f"label {c}" for c in frame.columns[::2]}
    fast = to_xlsx({"table": frame}, labels)
    assert fast == to_xlsx({"table": frame}, labels, openpyxl_rows=True)


def test_the_rows_of_a_table_of_record_are_not_written_by_openpyxl(monkeypatch):
    """The demo's kind of table (numbers, missing values, texts, truth values, a text past
    Excel's cell limit) takes the fast rows; a date goes to openpyxl, with the same result."""
    from evaluation.report import exports

    written = []
    real = exports._sheet_data
    monkeypatch.setattr(exports, "_sheet_data", lambda *a: written.append(real(*a)) or written[-1])
    frame = FRAME.assign(note=["x" * 40000, None])
    assert to_xlsx({"t": frame}, LABELS) == to_xlsx({"t": frame}, LABELS, openpyxl_rows=True)
    assert written[0] is not None
    dated = frame.assign(when=[pd.Timestamp("2026-01-02").to_pydatetime(), None])
    assert to_xlsx({"t": dated}, LABELS) == to_xlsx({"t": dated}, LABELS, openpyxl_rows=True)
    assert written[-1] is None
