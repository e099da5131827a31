"""Text from data or configuration stays text: no live markup in any page, no spreadsheet
formula, no path out of the study (issue 12, items 4 and 5)."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluation.errors import ConfigError, OutputPathError
from evaluation.io.files import write_text
from evaluation.safety import (
    check_output_folders,
    check_output_path,
    defuse_formula,
    defuse_formulas,
    escape_markdown,
    safe_name,
    slug,
    unique_slugs,
    unsafe_id_reason,
)
from tests.conftest import STUDY_YAML, write_study

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
CLI = [sys.executable, "-m", "evaluation.cli"]
SAFE_FILE = re.compile(r"[A-Za-z0-9_.-]+")


class _LiveMarkup(HTMLParser):
    """Collects what a browser would run: script elements mentioning alert, onerror
    attributes (also on SVG elements)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.in_script = False
        self.scripts: list[str] = []
        self.onerror: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.in_script = True
        self.onerror += [f"<{tag} {k}={v}>" for k, v in attrs if k.lower().startswith("onerror")]

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_script = False

    def handle_data(self, data):
        if self.in_script and "alert" in data:
            self.scripts.append(data.strip()[:80])


def live_markup(page: str) -> list[str]:
    parser = _LiveMarkup()
    parser.feed(page)
    parser.close()
    return parser.scripts + parser.onerror


def shown_text(page: str) -> str:
    """The text a reader sees (entities decoded, tags dropped)."""

    parts: list[str] = []
    parser = HTMLParser(convert_charrefs=True)
    parser.handle_data = parts.append
    parser.feed(page)
    parser.close()
    return "".join(parts)


# -------------------------------------------------------------------------------------------
# Names
# -------------------------------------------------------------------------------------------


def test_plain_ids_keep_their_name():
    for name in ("T0", "T1", "qwl", "qwl_leadership", "esis-2", "A00001"):
        assert safe_name(name) == name


@pytest.mark.parametrize(
    "text",
    ["T3/../../../x", "..", "../../etc/passwd", "a\\b", "T1\x00", "\n", "", "-rf", ".hidden",
     "C:\\Windows", "Jänkä Öljy Åland", SCRIPT, "Ωμέγα", "x" * 500],
)  # fmt: skip
def test_safe_names_never_climb_or_hide(text):
    name = safe_name(text)
    assert SAFE_FILE.fullmatch(name) and ".." not in name
    assert not name.startswith(("-", ".")) and len(name) <= 80
    assert name != text or SAFE_FILE.fullmatch(text)


def test_finnish_letters_are_transliterated_and_changed_names_get_a_hash():
    name = safe_name("Jänkä Öljy Åland")
    assert re.fullmatch(r"Janka-Oljy-Aland-[0-9a-f]{8}", name)
    assert slug("Kuntoutus Jänkä Oy") == "kuntoutus-janka-oy"


@given(st.text(max_size=40), st.text(max_size=40))
def test_different_ids_never_share_a_file_name(a, b):
    assert SAFE_FILE.fullmatch(safe_name(a))
    if a != b:
        assert safe_name(a) != safe_name(b)


def test_report_slugs_are_readable_and_unique():
    files = unique_slugs(["Org A", "org-a", "Hoiva Aapa Oy", "Ωμέγα", "Ωμέγα 2"])
    assert files["Hoiva Aapa Oy"] == "hoiva-aapa-oy"
    assert len(set(files.values())) == 5
    assert all(SAFE_FILE.fullmatch(f) for f in files.values())


def test_unsafe_ids_are_named():
    assert unsafe_id_reason("T3/../../../x")
    assert unsafe_id_reason("a\\b") and unsafe_id_reason("T1\x00") and unsafe_id_reason("..")
    assert unsafe_id_reason("T\t1") and unsafe_id_reason("  ")
    assert unsafe_id_reason("T1") is None and unsafe_id_reason("Lähtötaso 2025") is None


# -------------------------------------------------------------------------------------------
# Spreadsheet formulas
# -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["=1+1", "=cmd|' /C calc'!A0", "+SUM(A1)", "-2+3", "@SUM(1)", "\t=1", "\r=1", "=",
     "\uff1d1+1", "-x"],
)  # fmt: skip
def test_formula_texts_get_a_quote(text):
    assert defuse_formula(text) == "'" + text


@pytest.mark.parametrize("value", ["-0.5", "+12", "-3e-4", "Hoiva Aapa Oy", "", -0.5, -3, None])
def test_numbers_and_plain_texts_are_unchanged(value):
    assert defuse_formula(value) == value or (value != value)


def test_defuse_formulas_touches_only_text_cells():
    frame = pd.DataFrame(
        {
            "group": ['=HYPERLINK("x")', "Org A", None, "-1"],
            "diff": [-1.5, 2.0, np.nan, -3.0],
            "n": [-1, 2, 3, 4],
            "flag": [True, False, True, False],
        }
    )
    before = frame.copy()
    out = defuse_formulas(frame)
    pd.testing.assert_frame_equal(frame, before)  # input not modified
    assert out["group"].tolist()[:2] == ['\'=HYPERLINK("x")', "Org A"]
    assert out["group"].isna().iloc[2] and out["group"].iloc[3] == "-1"
    for col in ("diff", "n", "flag"):
        pd.testing.assert_series_equal(out[col], frame[col])


def test_workbook_has_no_formula_cells(tmp_path):
    from openpyxl import load_workbook

    from evaluation.report.exports import to_xlsx

    frame = pd.DataFrame(
        {
            "group": ["=cmd|' /C calc'!A0", "+1+1", "@x", SCRIPT, "Org\x01A"],
            "diff": [-1.5, -2.0, 0.0, 1.0, np.nan],
        }
    )
    path = tmp_path / "t.xlsx"
    path.write_bytes(to_xlsx({"t": frame}, {"group": "=Label"}))
    ws = load_workbook(path)["t"]
    cells = [c for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert ws["A1"].value == "'=Label" and ws["A2"].value == "'=cmd|' /C calc'!A0"
    assert ws["B2"].value == -1.5 and ws["B2"].data_type == "n"


# -------------------------------------------------------------------------------------------
# Markup
# -------------------------------------------------------------------------------------------


def _markdown_html(text: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return markdown2html_mistune(text)


@pytest.mark.parametrize(
    "text", [SCRIPT, IMG, "[x](javascript:alert(1))", "**bold** # | a | b |", "a\n\n<script>"]
)
def test_escaped_markdown_shows_the_text_as_typed(text):
    page = _markdown_html(escape_markdown(text, inline=False))
    assert not live_markup(page) and "<script" not in page and "<img" not in page
    assert "href" not in page and "<strong>" not in page
    assert shown_text(page).strip().replace("\n", " ") == text.replace("\n\n", " ").strip()


def test_headings_and_notes_are_displayed_as_text(monkeypatch):
    import IPython.display

    from evaluation.report import display as report

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    report.heading(f"Raportti: {SCRIPT}", 1)
    report.note(f"Answer: {IMG}")
    report.markdown("**{name}** · x", name=SCRIPT)
    report.show(pd.DataFrame({"organisation": [IMG], "n": [5]}), {"n": SCRIPT})
    report.markdown(report.link(SCRIPT, "javascript:alert(1)"))
    pages = [
        obj._repr_html_() if hasattr(obj, "_repr_html_") else _markdown_html(obj.data)
        for obj in shown
    ]
    for page in pages:
        assert not live_markup(page) and "<script" not in page and "<img" not in page, page
    assert SCRIPT in shown_text(pages[0]) and IMG in shown_text(pages[3])
    assert 'href="javascript:' not in pages[4]  # a relative link ("javascript%3A...")


def test_table_of_contents_and_footer_escape_and_link(tmp_path):
    from evaluation.report.html import notebook_to_html

    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("x = 1")
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"text/markdown": "# Title\n"}),
        nbformat.v4.new_output(
            "display_data", data={"text/markdown": f"## {escape_markdown('Org ' + SCRIPT)}"}
        ),
    ]
    nb.cells = [code]
    nbformat.write(nb, tmp_path / "in.ipynb")
    out = notebook_to_html(
        tmp_path / "in.ipynb", tmp_path / "out.html",
        labels={"contents": IMG, "provenance": SCRIPT},
        provenance={IMG: "[x](javascript:alert(1)) " + SCRIPT},
    )  # fmt: skip
    page = out.read_text(encoding="utf-8")
    assert not live_markup(page)
    assert 'href="javascript:' not in page
    ids = {html.unescape(i) for i in re.findall(r'<h2 id="([^"]+)"', page)}
    links = re.findall(r'<nav class="toc">.*?</nav>', page, re.S)[0]
    hrefs = {html.unescape(h) for h in re.findall(r'href="#([^"]+)"', links)}
    assert hrefs and hrefs <= ids  # every TOC entry points at its heading


# -------------------------------------------------------------------------------------------
# Paths
# -------------------------------------------------------------------------------------------


def test_climbing_round_ids_are_refused_by_validation(tmp_path):
    from evaluation.config import load_study

    for bad in ("T3/../../../x", "T1\\\\x", "..", "T1\\x00"):
        yaml = STUDY_YAML.replace("{id: T1,", f'{{id: "{bad}",')
        study = write_study(tmp_path / f"s{len(bad)}", [], yaml)
        with pytest.raises(ConfigError, match=r"study\.yaml: rounds entry 2 `id`"):
            load_study(study)


def test_a_climbing_round_id_exits_1_and_writes_nothing(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    yaml = STUDY_YAML.replace("{id: T1,", '{id: "T1/../../../x",')
    study = write_study(outside / "study", [], yaml)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    done = subprocess.run([*CLI, "run", "--study", str(study)], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert "rounds entry 2" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def _linked_tables(study: Path, tmp_path: Path) -> Path:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious.csv").write_text("keep me\n", encoding="utf-8")
    (study / "reports").mkdir()
    (study / "reports" / "tables").symlink_to(elsewhere, target_is_directory=True)
    return elsewhere


def test_a_linked_tables_folder_is_refused_and_nothing_is_deleted(tiny_study, tmp_path):
    elsewhere = _linked_tables(tiny_study, tmp_path)
    done = subprocess.run([*CLI, "run", "--study", str(tiny_study)], capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert "symbolic link" in done.stderr and "Traceback" not in done.stderr
    assert [p.name for p in elsewhere.iterdir()] == ["precious.csv"]
    assert (elsewhere / "precious.csv").read_text(encoding="utf-8") == "keep me\n"
    assert not (tiny_study / "data" / "processed").exists()


def test_writes_through_a_link_or_out_of_reports_are_refused(tiny_study, tmp_path):
    from evaluation.paths import StudyPaths

    elsewhere = _linked_tables(tiny_study, tmp_path)
    with pytest.raises(OutputPathError, match="symbolic link"):
        write_text(tiny_study / "reports" / "tables" / "x.csv", "x")
    with pytest.raises(OutputPathError, match="symbolic link"):
        check_output_folders(StudyPaths.of(tiny_study))
    with pytest.raises(OutputPathError, match=r"'\.\.'"):
        write_text(tiny_study / "reports" / "figures" / "f_T1" / ".." / ".." / ".." / "x", "x")
    assert [p.name for p in elsewhere.iterdir()] == ["precious.csv"]
    assert not (tiny_study / "x").exists()
    # inside the study, without links: written as before
    assert write_text(tiny_study / "reports" / "html" / "a.html", "ok").read_text() == "ok"
    assert check_output_path(tmp_path / "not-a-study" / "x.txt").name == "x.txt"


def test_a_linked_processed_folder_is_refused(tiny_study, tmp_path):
    from evaluation.paths import StudyPaths

    (tmp_path / "elsewhere").mkdir()
    (tiny_study / "data" / "processed").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputPathError, match="data/processed"):
        check_output_folders(StudyPaths.of(tiny_study))
    with pytest.raises(OutputPathError):
        write_text(tiny_study / "data" / "processed" / "x.parquet", "x")
    assert not any((tmp_path / "elsewhere").iterdir())


# -------------------------------------------------------------------------------------------
# End to end: payloads in every name and text field of a generated study
# -------------------------------------------------------------------------------------------

FORMULA = "=SUM(1+1)"
PAYLOADS = {  # demo text -> the same text with a payload; replaced in config and raw data
    "study: Luova suunta (demo)": f'study: "Luova suunta {SCRIPT}"',
    "Hoiva Aapa Oy": f"Hoiva {IMG} Oy",
    "Xamk": f"Xamk {SCRIPT}",
    "Päivystys": f"Päivystys {SCRIPT}",
    "Vastaanotto": FORMULA,
    "label: '2027'": f'label: "2027 {IMG}"',
    "Psychological safety": f"Psychological safety {SCRIPT}",
    "Psykologinen turvallisuus": f"Psykologinen turvallisuus {IMG}",
    "dialogue": f"dialogue{IMG}",
    "coder_b": f"coder_b {SCRIPT}",
    "Tähän toivoisin parannusta.": f"Tähän {SCRIPT} toivoisin {IMG} parannusta.",
}


@pytest.fixture(scope="module")
def payload_run(tmp_path_factory) -> Path:
    from evaluation.demo.generate import write_demo
    from evaluation.pipeline.run import run

    study = tmp_path_factory.mktemp("payload") / "study"
    write_demo(study, respondents=120)
    files = [study / "config" / "study.yaml", study / "config" / "codebook.yaml"]
    files += sorted((study / "data" / "raw").glob("*.csv"))
    for path in files:
        text = path.read_text(encoding="utf-8")
        for old, new in PAYLOADS.items():
            text = text.replace(old, new)
        path.write_text(text, encoding="utf-8")
    try:
        run(study, jobs=2, language="both")
    except Exception as exc:  # a failed notebook still leaves its pages: check them all
        print(f"run failed: {exc}")
    return study


@pytest.mark.slow
def test_no_page_runs_a_payload(payload_run):
    reports = payload_run / "reports"
    pages = sorted(reports.rglob("*.html"))
    assert len(pages) > 40
    for path in [*pages, *reports.rglob("*.svg")]:
        page = path.read_text(encoding="utf-8")
        assert not live_markup(page), (path, live_markup(page))
        assert "<img src=x" not in page and "<script>alert" not in page, path
    consortium = shown_text((reports / "html" / "en" / "consortium.html").read_text("utf-8"))
    assert f"Luova suunta {SCRIPT}" in consortium  # the payloads reached the page, as text
    index = (reports / "html" / "index.html").read_text(encoding="utf-8")
    assert f"Hoiva {IMG} Oy" in shown_text(index) and f"Xamk {SCRIPT}" in shown_text(index)


@pytest.mark.slow
def test_every_notebook_ran_with_payloads(payload_run):
    import json

    manifest = json.loads((payload_run / "reports" / "manifest.json").read_text("utf-8"))
    failed = {
        k: v.get("error") for k, v in manifest["notebooks"].items() if v["status"] == "failed"
    }
    assert not failed


@pytest.mark.slow
def test_payload_names_become_safe_file_names(payload_run):
    for path in (payload_run / "reports").rglob("*"):
        assert SAFE_FILE.fullmatch(path.name), path
    html_dir = payload_run / "reports" / "html" / "en"
    assert (html_dir / "organisation-hoiva-img-src-x-onerror-alert-1-oy.html").is_file()


@pytest.mark.slow
def test_no_workbook_cell_is_a_formula(payload_run):
    from openpyxl import load_workbook

    wb = load_workbook(payload_run / "reports" / "exports" / "tables.xlsx")
    cells = [c for ws in wb for row in ws.iter_rows() for c in row]
    assert not [(c.parent.title, c.coordinate) for c in cells if c.data_type == "f"]
    assert any(c.value == "'" + FORMULA for c in cells)  # the payload is there, as text
    numbers = [c.value for c in cells if c.data_type == "n" and isinstance(c.value, float)]
    assert any(v < 0 for v in numbers)  # negative numbers stay numbers


@pytest.mark.slow
def test_tables_of_record_hold_no_formula(payload_run):
    for path in (payload_run / "reports" / "tables").glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        for col in frame:
            risky = frame[col].map(lambda v: defuse_formula(v) != v)
            assert not risky.any(), (path.name, col, frame.loc[risky, col].head(3).tolist())
