"""Report helpers: labelled, rounded tables; TOC and provenance in the HTML."""

from __future__ import annotations

import re

import nbformat
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.report import display
from evaluation.report.display import display_table
from evaluation.report.html import _html_exporter, notebook_to_html


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


_text = st.sampled_from(["qwl", "<b>x</b>", "a & b", "", "T1; T2", "Matti Meikäläinen"])
_float = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([2.675, -0.004]))
_columns = {  # a column of each kind the tables of record hold
    "text": st.lists(_text, min_size=0, max_size=4).map(lambda v: pd.Series(v, dtype=object)),
    "arrow_text": st.lists(st.one_of(st.none(), _text), max_size=4).map(
        lambda v: pd.Series(v, dtype="string[pyarrow]")
    ),
    "n": st.lists(st.integers(-(10**7), 10**7), max_size=4).map(
        lambda v: pd.Series(v, dtype="int64")
    ),
    "n_nullable": st.lists(st.one_of(st.none(), st.integers(0, 10**6)), max_size=4).map(
        lambda v: pd.Series(v, dtype="Int64")
    ),
    "effect_size": st.lists(_float, max_size=4).map(lambda v: pd.Series(v, dtype=float)),
    "p": st.lists(st.one_of(st.floats(0, 1), st.just(float("nan"))), max_size=4).map(
        lambda v: pd.Series(v, dtype=float)
    ),
    "flag": st.lists(st.booleans(), max_size=4).map(lambda v: pd.Series(v, dtype=bool)),
    "suppressed": st.lists(st.booleans(), max_size=4).map(lambda v: pd.Series(v, dtype=bool)),
}


@st.composite
def _frames(draw) -> pd.DataFrame:
    names = draw(st.lists(st.sampled_from(sorted(_columns)), unique=True, max_size=6))
    rows = draw(st.integers(0, 4))
    columns = {}
    for name in names:
        values = draw(_columns[name])
        if len(values) < rows:  # short lists repeat (or give up to a missing-only column)
            values = pd.concat([values] * rows, ignore_index=True) if len(values) else None
        columns[name] = (
            values.iloc[:rows].reset_index(drop=True) if values is not None else [None] * rows
        )
    return pd.DataFrame(columns, index=pd.RangeIndex(rows) * 3)  # an index that is not 0..n


@settings(deadline=None, max_examples=150)
@given(_frames(), st.sampled_from(["fi", "en"]), st.integers(0, 3), st.booleans())
def test_a_table_s_html_is_the_pandas_styler_s_byte_for_byte(frame, language, digits, labelled):
    """display_table writes the Styler's markup itself (ten times faster): for every kind of
    column, missing values, markup in the data and labels, both languages, it must be the
    very HTML the Styler writes, so the pages look and read the same."""
    labels = {"qwl": "Työelämän <laatu>", "n": "Vastaajia", "yes": "kyllä"} if labelled else {}
    direct = display_table(frame, labels, language=language, digits=digits)
    assert isinstance(direct, display.TableHTML)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(display, "_direct", lambda shown: False)
        styler = display_table(frame, labels, language=language, digits=digits)
    assert isinstance(styler, pd.io.formats.style.Styler)
    assert direct.to_html() == styler.to_html() == direct._repr_html_()
    assert "<b>" not in direct.to_html() and "<laatu>" not in direct.to_html()


def test_a_table_the_direct_markup_does_not_cover_is_the_styler_s():
    repeated = pd.DataFrame([[1, 2]], columns=["n", "n"])
    assert isinstance(display_table(repeated), pd.io.formats.style.Styler)
    with pd.option_context("styler.render.max_elements", 3):
        big = display_table(pd.DataFrame({"a": [1, 2], "b": [3, 4]}))
    assert isinstance(big, pd.io.formats.style.Styler)
    for option, value in [("styler.format.na_rep", "n/a"), ("styler.html.mathjax", False)]:
        with pd.option_context(option, value):
            styler = display_table(pd.DataFrame({"a": [1.0, None]}))
        assert isinstance(styler, pd.io.formats.style.Styler), option
    table = display_table(pd.DataFrame({"a": [1, 2]}))
    assert isinstance(table, display.TableHTML)
    assert repr(table) == "TableHTML(rows=2, columns=1)"  # a notebook's text/plain: no address


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


def test_a_page_is_nbconvert_s_own_page_without_its_soup_pass():
    """Our exporter skips HTMLExporter's BeautifulSoup pass and makes its edits on the text
    (evaluation.report.html._nbconvert_edits): the soup reads our page as nbconvert's page,
    and no heading anchor is left as `<a ... />` (which a browser reads as an open link)."""
    from bs4 import BeautifulSoup
    from nbconvert import HTMLExporter

    png = (
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
        "RU5ErkJggg=="
    )
    code = nbformat.v4.new_code_cell("x = 1")
    code.outputs = [
        nbformat.v4.new_output(
            "display_data", data={"text/markdown": "# Title\n\n## Osa 2 — Ääni & <b>\n"}
        ),
        nbformat.v4.new_output(
            "display_data", data={"text/html": "<table><tr><td>1</td></tr></table>"}
        ),
        nbformat.v4.new_output("display_data", data={"image/png": png}),
        nbformat.v4.new_output("stream", name="stdout", text="plain & <text>\n"),
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("### A heading\n\nText."), code]
    options = {"template_name": "lab", "exclude_input": True, "exclude_input_prompt": True,
               "exclude_output_prompt": True, "anchor_link_text": ""}  # fmt: skip
    stock, _ = HTMLExporter(language_code="fi", **options).from_notebook_node(nb)
    ours, _ = _html_exporter("fi").from_notebook_node(nb)
    assert str(BeautifulSoup(ours, features="html.parser")) == stock
    assert ours.count('<a class="anchor-link"') == stock.count('<a class="anchor-link"') >= 2
    assert "Osa 2 — Ääni" in ours
    assert not re.search(r"<a\b[^<>]*/>", ours)
    assert ours.count('tabindex="0"') == stock.count('tabindex="0"') >= 4
    assert "No description has been provided for this image" in ours


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


def test_layout_boxes_every_table_and_adds_viewport_and_style():
    from evaluation.report.html import REPORT_STYLE, layout

    wide_row = "<tr>" + "<th>h</th>" * 9 + '<th colspan="2">h</th></tr>'
    page = (
        '<html><head><meta content="width=device-width, initial-scale=1.0" name="viewport"/>'
        "</head><body><table id='a'><tr><td>&lt;table&gt;</td></tr></table>"
        f"<p>x</p><table>{wide_row}" + "<tr><td>1</td></tr>" * 40 + "</table>"
        "<table class='outer'><tr><td><table><tr><td>inner</td></tr></table></td></tr></table>"
        "</body></html>"
    )
    out = layout(page)
    assert out.count("<div class=") == 3  # outermost tables only; text never matched
    assert "<div class=\"table-scroll table-short\"><table id='a'>" in out
    assert '<div class="table-scroll table-wide"><table>' in out  # 11 columns, 41 rows
    assert out.count("</table></div>") == 3 and out.count("<table") == 4
    head = out[: out.index("</head>")]
    assert head.count('name="viewport"') == 1 and "initial-scale=1.0" not in head
    assert REPORT_STYLE in head and "@media print" in REPORT_STYLE
    assert layout(out.replace(REPORT_STYLE, "")).count('name="viewport"') == 1


def test_index_page_has_viewport(tmp_path):
    from evaluation.report.html import index_html

    page = index_html(tmp_path / "index.html", title="T", sections=[], footer="f")
    text = page.read_text(encoding="utf-8")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    assert "@media print" in text


def test_a_page_is_the_same_whether_the_worker_warmed_its_exporters_first(tmp_path):
    """warm_html (a worker waiting for its first report) leaves nothing of its own page in the
    exporters it prepares: the next page is byte for byte a cold exporter's."""
    from evaluation.report.html import warm_html

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Otsikko\n\nTeksti <b>x</b>", id="a"),
                nbformat.v4.new_code_cell("1 + 1", id="b")]  # fmt: skip
    path = tmp_path / "in.ipynb"
    nbformat.write(nb, path)
    pages = []
    for warm in (False, True):
        _html_exporter.cache_clear()
        if warm:
            warm_html(("fi", "en"))
            assert _html_exporter.cache_info().currsize == 2  # both exporters made
        for language in ("fi", "en"):
            out = tmp_path / f"{language}-{warm}.html"
            notebook_to_html(path, out, labels={}, provenance={}, language=language, title="T")
            pages.append(out.read_bytes())
    _html_exporter.cache_clear()
    assert pages[:2] == pages[2:]
    assert b'lang="fi"' in pages[0] and b'lang="en"' in pages[1]
