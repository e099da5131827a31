"""HTML reports from executed notebooks (nbconvert, code hidden) and notebook display helpers.

Text from the data or the configuration (study, organisation, unit, actor and round names,
codes, coder names, open answers, labels) is only ever shown as text: headings and notes are
escaped for Markdown (:func:`evaluation.safety.escape_markdown`), tables by the pandas Styler
(``escape="html"``), the table of contents, provenance footer and index page with
:func:`html.escape`. Markup comes only from this package's own templates (:func:`markdown`).
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import pandas as pd

from evaluation.io import staged_path, write_text
from evaluation.safety import escape_markdown, unescape_markdown

if TYPE_CHECKING:  # nbformat pulls in jsonschema (about 1 s): imported where it is used
    import nbformat

HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*$", re.MULTILINE)


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


@functools.cache
def _html_exporter():
    """One exporter per process: building it loads and compiles the templates (about 0.1 s)."""
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name="lab",
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
) -> Path:
    """Convert an executed notebook to HTML with code hidden, a table of contents and a
    provenance footer. nbconvert only converts here; it never executes."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    toc = nbformat.v4.new_markdown_cell(_toc(nb, labels.get("contents", "Contents")))
    nb.cells.insert(_title_position(nb) + 1, toc)
    nb.cells.append(
        nbformat.v4.new_markdown_cell(_provenance(provenance, labels.get("provenance", "")))
    )
    body, _ = _html_exporter().from_notebook_node(nb)
    return write_text(target, body)


IndexSection = tuple[str, list[tuple[str, str]]]  # (heading, [(file name, title)])

INDEX_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:52em;margin:2em auto;padding:0 1em;"
    "line-height:1.5;color:#222}h1{font-size:1.6em}h2{font-size:1.2em;margin-top:1.6em;"
    "border-bottom:1px solid #ddd}ul{columns:2;padding-left:1.2em}a{color:#1f4e79}"
    "small{color:#666}"
)


def index_html(target: Path, *, title: str, sections: list[IndexSection], footer: str) -> Path:
    """A landing page linking every report, in sections (audience reports, analyses)."""
    parts = []
    for heading_text, links in sections:
        items = "\n".join(
            f'<li><a href="{html.escape(href)}">{html.escape(name)}</a></li>'
            for href, name in links
        )
        parts.append(f"<h2>{html.escape(heading_text)}</h2>\n<ul>\n{items}\n</ul>")
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{INDEX_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>\n" + "\n".join(parts) + "\n"
        f"<hr><p><small>{html.escape(footer)}</small></p></body></html>\n"
    )
    return write_text(target, page)


P_COLUMNS = ("p", "p_adjusted", "p_q")


def _format_p(value: float) -> str:
    """p-values as in APA style: three decimals, and "< 0.001" rather than 0.000 (as HTML: the
    tables are shown in the HTML reports)."""
    return "&lt; 0.001" if value < 0.001 else f"{value:.3f}"


def display_table(
    frame: pd.DataFrame,
    labels: Mapping[str, str] | None = None,
    *,
    digits: int = 2,
    drop: tuple[str, ...] = ("suppressed",),
) -> pd.io.formats.style.Styler:
    """A table of record for display: labelled headers and values, no index, rounded numbers
    (whole-number columns without decimals), suppressed cells shown as an en dash. Every text
    (values and headers) is HTML-escaped: a name or answer is shown, never run."""
    labels = labels or {}
    shown = frame.drop(columns=[c for c in drop if c in frame])
    whole = [
        c
        for c in shown.columns
        if pd.api.types.is_numeric_dtype(shown[c])
        and not pd.api.types.is_bool_dtype(shown[c])
        and (shown[c].dropna() % 1 == 0).all()
    ]
    for col in shown.columns:
        if shown[col].dtype == object or pd.api.types.is_string_dtype(shown[col]):
            shown[col] = shown[col].map(lambda v: labels.get(v, v) if isinstance(v, str) else v)
    styler = shown.style.hide(axis="index").format(
        precision=digits, na_rep="–", thousands=" ", escape="html"
    )
    styler = styler.format("{:.0f}", subset=whole, na_rep="–")
    p_columns = [c for c in shown.columns if c in P_COLUMNS]
    styler = styler.format(_format_p, subset=p_columns, na_rep="–")
    headers = [html.escape(str(labels.get(c, c))) for c in shown.columns]
    return styler.relabel_index(headers, axis="columns")


def heading(text: str, level: int = 2) -> None:
    """Display a heading from code (so its text can come from the label files). The text is
    shown as typed: Markdown and HTML in it are escaped."""
    from IPython.display import Markdown, display

    display(Markdown(f"{'#' * level} {escape_markdown(text)}"))


def note(text: str) -> None:
    """Display a paragraph of plain text (from the label files or the data), shown as typed:
    Markdown and HTML in it are escaped. Line breaks separate paragraphs."""
    from IPython.display import Markdown, display

    display(Markdown(escape_markdown(text, inline=False)))


def markdown(template: str, **values: object) -> None:
    """Display Markdown written in this package (``template``, e.g. ``"**{name}** · {kind}"``)
    with ``values`` from the data or the configuration escaped into it. Without ``values`` the
    template is shown as it is: escape (:func:`evaluation.safety.escape_markdown`) or
    :func:`link` whatever you put into it."""
    from IPython.display import Markdown, display

    text = (
        template.format(**{k: escape_markdown(v) for k, v in values.items()})
        if values
        else template
    )
    display(Markdown(text))


def link(text: str, href: str) -> str:
    """A Markdown link to a file of the report folder for :func:`markdown` templates: the text
    escaped, the file name percent-encoded (no scheme can be smuggled in)."""
    target = "/".join(quote(part, safe="") for part in href.split("/"))
    return f"[{escape_markdown(text)}]({target})"


def show(frame: pd.DataFrame, labels: Mapping[str, str] | None = None, **kwargs) -> None:
    """Display a table of record with labels (see :func:`display_table`)."""
    from IPython.display import display

    display(display_table(frame, labels, **kwargs))


def show_figure(
    fig, path_without_suffix: Path, *, alt: str | None = None, png: bool = True
) -> None:
    """Save a figure as SVG (+ PNG unless ``png=False``) in reports/figures/ and embed the SVG
    in the report; ``alt`` becomes the figure's text alternative (SVG ``<title>`` and
    ``aria-label``)."""
    from IPython.display import HTML, SVG, display

    from evaluation.plots import save_figure

    svg = save_figure(fig, path_without_suffix, formats=("svg", "png") if png else ("svg",))[0]
    svg = staged_path(svg)  # while a run stages the notebook's outputs, the file is there
    if alt is None:
        display(SVG(filename=str(svg)))
        return
    markup = svg.read_text(encoding="utf-8")
    markup = markup[markup.index("<svg") :]
    text = html.escape(alt)
    markup = markup.replace("<svg", f'<svg role="img" aria-label="{text}"', 1).replace(
        ">", f"><title>{text}</title>", 1
    )
    display(HTML(f"<figure>{markup}</figure>"))
