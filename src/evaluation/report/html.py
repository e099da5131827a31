"""HTML reports from executed notebooks (nbconvert, code hidden) and the index page.

Text from the data or the configuration (study, organisation, unit, actor and round names,
codes, coder names, open answers, labels) is only ever shown as text: headings and notes are
escaped for Markdown (:func:`evaluation.safety.escape_markdown`), every table cell and header
with :func:`html.escape` (:mod:`evaluation.report.display`), the table of contents, provenance
footer and index page with :func:`html.escape`. Markup comes only from this package's own
templates (:func:`evaluation.report.display.markdown`).
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from evaluation.io.files import write_text
from evaluation.safety import escape_markdown, unescape_markdown

if TYPE_CHECKING:  # nbformat pulls in jsonschema (about 1 s): imported where it is used
    import nbformat

HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*$", re.MULTILINE)
# Cells with this tag (the notebooks' English explanations for analysts) never reach a report:
# a report's words come from the label files, in the report's language.
ANALYST_ONLY = "analyst-only"


def _anchor(text: str) -> str:
    """The id nbconvert gives a heading with this (plain) text
    (``nbconvert.filters.strings._convert_header_id``)."""
    return quote(text.replace(" ", "-"), safe="?/:@!$&'()*+,;=")


def _toc(nb: nbformat.NotebookNode, title: str) -> str:
    """The table of contents as one HTML block (every text escaped): level-2 and level-3
    headings of markdown cells and of the notebook's Markdown outputs."""
    items = []
    for source in (_cell_markdown(c) for c in nb.cells):
        for level, text in HEADING.findall(source):
            if len(level) == 1:
                continue
            plain = unescape_markdown(text)
            indent = 1.2 * (len(level) - 2)
            items.append(
                f'<li style="margin-left:{indent:g}em"><a href="#{html.escape(_anchor(plain))}">'
                f"{html.escape(plain)}</a></li>"
            )
    return (
        f'<nav class="toc"><p><strong>{html.escape(title)}</strong></p>'
        f'<ul style="list-style:none;padding-left:0">{"".join(items)}</ul></nav>'
    )


def _title_position(nb: nbformat.NotebookNode) -> int:
    """Index of the cell that shows the report's level-1 title (the TOC goes after it)."""
    for i, source in enumerate(_cell_markdown(c) for c in nb.cells):
        if re.search(r"^#\s", source, re.MULTILINE):
            return i
    return -1


def _cell_markdown(cell: nbformat.NotebookNode) -> str:
    parts = [cell.source] if cell.cell_type == "markdown" else []
    for output in cell.get("outputs", []):
        text = output.get("data", {}).get("text/markdown")
        if text:
            parts.append(text if isinstance(text, str) else "".join(text))
    return "\n".join(parts)


def _provenance(info: Mapping[str, str], title: str) -> str:
    rows = "".join(
        f'<tr><th style="text-align:left">{html.escape(str(k))}</th>'
        f"<td>{html.escape(str(v))}</td></tr>"
        for k, v in info.items()
    )
    return f'---\n\n### {escape_markdown(title)}\n\n<table class="provenance">{rows}</table>\n'


def drop_analyst_only(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook without the cells tagged ``analyst-only`` (in place; returned)."""
    nb.cells = [c for c in nb.cells if ANALYST_ONLY not in c.get("metadata", {}).get("tags", [])]
    return nb


# nbconvert's HTMLExporter ends by parsing its whole page with BeautifulSoup (html.parser) to
# make three edits, and that parse and re-serialisation is most of a page's conversion (1.0 of
# 1.1 s for a report, 0.07 s without it). The same edits on the template's text:
# - its headings come from ElementTree, with `<a ... />` anchors, which a browser reads as an
#   opening tag, and every letter outside ASCII as a reference (`&#228;`): the soup wrote
#   `<a ...></a>` and the letters themselves;
# - markdown cells and outputs are focusable (tabindex="0"), so the keyboard can scroll them;
# - an image without a text alternative gets nbconvert's placeholder.
# tests/test_report.py checks that the soup reads these pages as nbconvert's own.
_ANCHOR = re.compile(r'(<a class="anchor-link" href="[^"<>]*")\s*/>')
_FOCUSABLE = re.compile(
    r'(<div class="(?:[^"<>]*\s)?(?:jp-Cell-inputWrapper|jp-OutputArea-output)(?:\s[^"<>]*)?")'
)
_IMG_WITHOUT_ALT = re.compile(r"<img(?![^<>]*\balt=)")
_HEADING_TAG = re.compile(r"<h[1-6]\b.*?</h[1-6]>", re.DOTALL)
_LETTER_REFERENCE = re.compile(r"&#(\d+);")
NO_ALT = "No description has been provided for this image"  # nbconvert's words


def _nbconvert_edits(page: str) -> str:
    """What ``HTMLExporter.from_notebook_node`` does to the template's page after rendering it
    (see above), on its text."""
    page = _HEADING_TAG.sub(lambda h: _LETTER_REFERENCE.sub(_letter, h.group(0)), page)
    page = _ANCHOR.sub(r"\1></a>", page)
    page = _FOCUSABLE.sub(r'\1 tabindex="0"', page)
    return _IMG_WITHOUT_ALT.sub(f'<img alt="{NO_ALT}"', page)


def _letter(reference: re.Match) -> str:
    """The letter of a character reference outside ASCII; others (``&#60;``) stay."""
    code = int(reference.group(1))
    return (
        chr(code)
        if 160 <= code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF
        else reference.group(0)
    )


def warm_html(languages: Iterable[str]) -> None:
    """Pay now what a process's first page costs in each language (the exporter, its templates
    compiled on the first render: about 0.07 s a language), e.g. in a worker that waits for
    its first report."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("#", id="warm")])
    for language in languages:
        _html_exporter(language).from_notebook_node(nb)


@functools.cache
def _html_exporter(language: str = "en"):
    """One exporter per process and language (``<html lang>``): building it loads and compiles
    the templates (about 0.1 s). It is nbconvert's HTMLExporter without the BeautifulSoup pass
    (:func:`_nbconvert_edits`)."""
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

    class PageExporter(HTMLExporter):
        def from_notebook_node(self, nb, resources=None, **kw):
            # HTMLExporter.from_notebook_node (nbconvert 7), up to its BeautifulSoup pass
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            highlight_code = self.filters.get(
                "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)
            )
            resources = self._init_resources(resources)
            filter_data_type = WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources
            )
            self.register_filter("highlight_code", highlight_code)
            self.register_filter("filter_data_type", filter_data_type)
            page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            return _nbconvert_edits(page), resources

    return PageExporter(
        language_code=language,
        template_name="lab",
        # the notebook is validated once, after all preprocessors, not after each of them
        # (a third of the conversion of a report)
        optimistic_validation=True,
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        anchor_link_text="",
    )


def notebook_to_html(
    executed: Path,
    target: Path,
    *,
    labels: Mapping[str, str],
    provenance: Mapping[str, str],
    language: str = "en",
    title: str | None = None,
) -> Path:
    """Convert an executed notebook to HTML with code and ``analyst-only`` cells hidden, a
    table of contents and a provenance footer. ``language`` (an ISO 639-1 code, the language
    of ``labels``) becomes the page's ``<html lang>``, ``title`` its ``<title>`` (escaped;
    default: the file's name). nbconvert only converts here; it never executes."""
    import nbformat
    from nbformat import reader

    # Read without validating it: the exporter validates it (and papermill did as it wrote it).
    text = executed.read_text(encoding="utf-8")
    nb = drop_analyst_only(nbformat.convert(reader.reads(text), 4))
    if title:
        nb.metadata["title"] = title  # the lab template's <title> (it escapes it)
    # fixed cell ids (nbformat draws random ones): the same notebook gives the same page
    toc = nbformat.v4.new_markdown_cell(_toc(nb, labels.get("contents", "Contents")), id="toc")
    nb.cells.insert(_title_position(nb) + 1, toc)
    footer = _provenance(provenance, labels.get("provenance", ""))
    nb.cells.append(nbformat.v4.new_markdown_cell(footer, id="provenance"))
    body, _ = _html_exporter(language).from_notebook_node(nb)
    return write_text(target, layout(body))


VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'

# The page's own layout, after nbconvert's lab stylesheet (so it wins at equal specificity):
# tables scroll sideways in their own box (`div.table-scroll`, see `layout`), never the page,
# and a table that does not fit fades out at its right edge until scrolled to its end (where
# the browser has scroll-driven animations); figures shrink to the column; phones get the
# whole width with a small margin; print (and "Save as PDF") drops what only a screen needs,
# prints tables small enough to fit a portrait page, keeps short tables, rows, figures and
# headings whole, and prints the colours of the joint display's tags. docs/reports.md,
# "Layout and browser checks".
REPORT_STYLE = """
.table-scroll{overflow-x:auto;max-width:100%;margin:0 0 1em}
.jp-RenderedHTMLCommon .table-scroll>table{margin:0}
.jp-OutputArea-output{max-width:100%;overflow-x:visible}
.jp-OutputArea-output img,.jp-OutputArea-output svg,.jp-RenderedHTMLCommon img,
.jp-RenderedHTMLCommon svg{max-width:100%;height:auto}
@supports (animation-timeline:scroll()){
.table-scroll{animation:table-more linear both;animation-timeline:scroll(self inline)}
@keyframes table-more{0%,96%{mask-image:linear-gradient(to right,#000 calc(100% - 2.5em),
rgba(0,0,0,0.25))}100%{mask-image:none}}
}
@media only screen and (max-width:760px){
.jp-Notebook{padding:0.75em}
.jp-Collapser{display:none}
.jp-OutputArea-child{display:block}
.jp-OutputArea-child .jp-OutputArea-output{display:block;margin-left:0}
.jp-RenderedHTMLCommon{padding-right:0}
.jp-RenderedHTMLCommon .table-scroll>table{font-size:0.85em}
}
@media print{
@page{margin:14mm 12mm}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
html,body,.jp-Notebook{background:#fff;padding:0;margin:0}
.jp-Collapser,.jp-InputArea,.jp-InputPrompt,.jp-OutputPrompt,.anchor-link{display:none}
.jp-Cell,.jp-Cell-outputWrapper,.jp-OutputArea,.jp-OutputArea-child{padding:0;margin:0}
.jp-OutputArea-child{break-inside:auto}
.jp-OutputArea-child .jp-OutputArea-output{display:block;margin-left:0}
.table-scroll{overflow:visible}
.jp-RenderedHTMLCommon .table-scroll>table{font-size:7.5pt;table-layout:auto;max-width:100%}
.jp-RenderedHTMLCommon .table-wide>table{font-size:6.5pt}
.jp-RenderedHTMLCommon .table-scroll td,.jp-RenderedHTMLCommon .table-scroll th{padding:0.2em 0.3em}
.jp-RenderedHTMLCommon .table-scroll th{hyphens:auto}
thead{display:table-header-group}
tr,img,svg,figure,.table-short,.jp-RenderedSVG,.jp-RenderedImage{break-inside:avoid}
h1,h2,h3,h4{break-after:avoid}
a{color:#000;text-decoration:underline}
a[href^="http"]::after{content:" (" attr(href) ")";font-size:0.85em;overflow-wrap:anywhere}
}
"""
#: A table with this many columns or more is printed in a smaller font (REPORT_STYLE).
WIDE_COLUMNS = 10
#: A table with this many rows or fewer is kept on one printed page when it fits.
SHORT_ROWS = 30

_TABLE_TAG = re.compile(r"<table\b|</table\s*>", re.IGNORECASE)
_FIRST_ROW = re.compile(r"<tr\b.*?</tr\s*>", re.IGNORECASE | re.DOTALL)
_CELL = re.compile(r"<t[hd]\b[^>]*>", re.IGNORECASE)
_COLSPAN = re.compile(r"\bcolspan=[\"']?(\d+)", re.IGNORECASE)
_ROW = re.compile(r"<tr\b", re.IGNORECASE)
_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)
_VIEWPORT = re.compile(r"<meta\b[^>]*\bname=[\"']?viewport\b[^>]*>", re.IGNORECASE)


def _table_box(table: str) -> str:
    """The opening tag of the box around one table (its classes from its shape)."""
    first = _FIRST_ROW.search(table)
    columns = 0
    for cell in _CELL.findall(first.group(0) if first else ""):
        span = _COLSPAN.search(cell)
        columns += int(span.group(1)) if span else 1
    classes = ["table-scroll"]
    if columns >= WIDE_COLUMNS:
        classes.append("table-wide")
    if len(_ROW.findall(table)) <= SHORT_ROWS:
        classes.append("table-short")
    return f'<div class="{" ".join(classes)}">'


def _wrap_tables(page: str) -> str:
    """Every outermost ``<table>`` of `page` inside its own box (:func:`_table_box`)."""
    out, depth, last, start = [], 0, 0, 0
    for tag in _TABLE_TAG.finditer(page):
        if not tag.group(0).startswith("</"):
            if depth == 0:
                start = tag.start()
            depth += 1
        elif depth > 0:
            depth -= 1
            if depth == 0:
                table = page[start : tag.end()]
                out += [page[last:start], _table_box(table), table, "</div>"]
                last = tag.end()
    out.append(page[last:])
    return "".join(out)


def layout(page: str) -> str:
    """`page` (an HTML document) with the report layout: every table in its own box that
    scrolls sideways, the viewport meta (in place of nbconvert's) and :data:`REPORT_STYLE` as
    the last stylesheet of the head. Only table tags and the head change; a page's text is
    escaped, so ``<table`` is never text."""
    page = _wrap_tables(page)
    page = _VIEWPORT.sub("", page)
    style = f"{VIEWPORT}\n<style>{REPORT_STYLE}</style>\n"
    return _HEAD_END.sub(lambda _: style + "</head>", page, count=1)


@dataclass(frozen=True)
class IndexLink:
    """One link of the index page: where it goes, its text and what it is (shown in the link,
    so a screen reader's list of links says it too)."""

    href: str
    text: str
    kind: str = ""


@dataclass(frozen=True)
class IndexSection:
    """A heading (level 2 or 3), an optional sentence under it and its links; ``lang`` marks a
    section in another language than the page's."""

    heading: str
    links: tuple[IndexLink, ...] = ()
    intro: str = ""
    level: int = 2
    lang: str = ""


INDEX_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:52em;margin:2em auto;padding:0 1em;"
    "line-height:1.5;color:#222}h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em;"
    "border-bottom:1px solid #ddd}h3{font-size:1.05em;margin-bottom:.2em}"
    "ul{columns:2;padding-left:1.2em}a{color:#1f4e79}"
    "li{break-inside:avoid}small{color:#666;overflow-wrap:anywhere}"
    "@media only screen and (max-width:36em){body{margin:1em auto;padding:0 0.75em}"
    "h1{font-size:1.35em;overflow-wrap:anywhere}ul{columns:1}}"
    "@media print{@page{margin:16mm 14mm}body{max-width:none;margin:0;padding:0}"
    "a{color:#000}h2,h3{break-after:avoid}}"
)


def _index_section(section: IndexSection) -> str:
    level = 3 if section.level == 3 else 2
    lang = f' lang="{html.escape(section.lang)}"' if section.lang else ""
    parts = [f"<h{level}{lang}>{html.escape(section.heading)}</h{level}>"]
    if section.intro:
        parts.append(f"<p{lang}><small>{html.escape(section.intro)}</small></p>")
    if section.links:
        items = "\n".join(
            f'<li><a href="{html.escape(link.href)}">{html.escape(link.text)}'
            + (f" <small>({html.escape(link.kind)})</small>" if link.kind else "")
            + "</a></li>"
            for link in section.links
        )
        parts.append(f"<ul{lang}>\n{items}\n</ul>")
    return "\n".join(parts)


def index_html(
    target: Path,
    *,
    title: str,
    sections: list[IndexSection],
    footer: str,
    lang: str = "fi",
) -> Path:
    """A landing page linking every report, in sections (consortium, actor and organisation
    reports per language, analyses, exports); every text escaped."""
    page = (
        f'<!DOCTYPE html>\n<html lang="{html.escape(lang)}"><head><meta charset="utf-8">'
        f"{VIEWPORT}"
        f"<title>{html.escape(title)}</title><style>{INDEX_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>\n"
        + "\n".join(_index_section(s) for s in sections)
        + "\n"
        f"<hr><p><small>{html.escape(footer)}</small></p></body></html>\n"
    )
    return write_text(target, page)
