"""What a notebook shows: headings, notes, tables of record and figures, from code.

Text from the data or the configuration is only ever shown as text: headings and notes are
escaped for Markdown (:func:`evaluation.safety.escape_markdown`), every table cell and header
with :func:`html.escape` (in the pandas Styler's markup, :func:`display_table`). Markup comes
only from this package's own templates (:func:`markdown`).
"""

from __future__ import annotations

import functools
import hashlib
import html
from collections.abc import Callable, Mapping
from decimal import Decimal
from numbers import Integral, Real
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd

from evaluation.io.files import staged_path
from evaluation.report import locale
from evaluation.safety import escape_markdown

LIST_SEPARATOR = "; "  # a table cell that lists ids (:func:`_label_list`)
P_COLUMNS = ("p", "p_adjusted", "p_q")


def table_language(labels: Mapping[str, str] | None, language: str | None = None) -> str:
    """The language a table writes its numbers in: ``language`` when given, else the one the
    labels carry (:class:`evaluation.report.view.Labels`); a plain dict carries none, and its
    tables write numbers in English (the language of the code and of plain ids)."""
    return language or getattr(labels, "language", None) or locale.DEFAULT_LANGUAGE


def _label_list(value: str, labels: Mapping[str, str]) -> str:
    """A list of ids joined by ``"; "`` (e.g. a fit's warnings) with each id by its label; any
    other text as it is."""
    parts = value.split(LIST_SEPARATOR)
    if len(parts) > 1 and all(p in labels for p in parts):
        return LIST_SEPARATOR.join(labels[p] for p in parts)
    return value


def _cell(
    value: object, labels: Mapping[str, str], language: str, *, digits: int, kind: str
) -> str:
    """One cell as HTML text: the number in the table's language (``kind`` whole / p /
    number), a boolean as the label of ``yes`` / ``no``, a text by its label; escaped."""
    if isinstance(value, bool | np.bool_):
        text = labels.get("yes" if value else "no", "yes" if value else "no")
    elif locale.is_missing(value):
        text = locale.MISSING
    elif isinstance(value, str):
        text = labels.get(value) or _label_list(value, labels)
    elif isinstance(value, Real | Decimal):
        if kind == "p":
            text = locale.p_value(float(value), language)
        elif kind == "whole" or isinstance(value, Integral):
            text = locale.integer(value, language)
        else:
            text = locale.number(value, language, digits)
    else:
        text = str(value)
    return html.escape(text)


class TableHTML:
    """A table as the HTML :func:`display_table` made (``to_html``, and how IPython shows it)."""

    def __init__(self, markup: str, shape: tuple[int, int]) -> None:
        self._markup, self._shape = markup, shape

    def __repr__(self) -> str:  # the notebook's text/plain: no address, the same every run
        return f"TableHTML(rows={self._shape[0]}, columns={self._shape[1]})"

    def to_html(self) -> str:
        return self._markup

    def _repr_html_(self) -> str:
        return self._markup


def display_table(
    frame: pd.DataFrame,
    labels: Mapping[str, str] | None = None,
    *,
    digits: int = 2,
    drop: tuple[str, ...] = ("suppressed",),
    language: str | None = None,
) -> TableHTML | pd.io.formats.style.Styler:
    """A table of record for display: labelled headers and values, no index, rounded numbers
    (whole-number columns without decimals, p-values as in APA style) written in the table's
    language (:func:`table_language`: ``language``, else the labels' own), yes/no for
    booleans, suppressed and missing cells shown as an en dash. Every text (values and
    headers) is HTML-escaped: a name or answer is shown, never run.

    The markup is the pandas Styler's (``hide(axis="index")``, one formatter per column,
    ``relabel_index``), written here directly: the Styler's templates took twice as long as
    the cells' own formatting, for every table of every notebook and report. A table the
    direct path does not cover (repeated or multi-level column names, more cells than the
    Styler renders, a pandas option that changes the Styler's markup) is the Styler itself."""
    labels = labels or {}
    language = table_language(labels, language)
    shown = frame.drop(columns=[c for c in drop if c in frame])
    whole = [
        c
        for c in shown.columns
        if pd.api.types.is_numeric_dtype(shown[c])
        and not pd.api.types.is_bool_dtype(shown[c])
        and (shown[c].dropna() % 1 == 0).all()
    ]
    formats = [
        functools.partial(
            _cell,
            labels=labels,
            language=language,
            digits=digits,
            kind="p" if col in P_COLUMNS else "whole" if col in whole else "number",
        )
        for col in shown.columns
    ]
    headers = [html.escape(str(labels.get(c, c))) for c in shown.columns]
    # The table's HTML id from what it shows, not pandas' random one: the same table gives the
    # same page (a report's unchanged sections are shown again from the last run's outputs).
    shape = f"{language}|{digits}|{headers}|".encode() + shown.to_csv(index=False).encode()
    uuid = hashlib.sha256(shape).hexdigest()[:10]
    if not _direct(shown):
        styler = shown.style.hide(axis="index")
        for col, fmt in zip(shown.columns, formats, strict=True):
            styler = styler.format(fmt, subset=[col])
        styler.set_uuid(uuid)
        return styler.relabel_index(headers, axis="columns")
    return TableHTML(_styler_markup(shown, headers, formats, uuid), shown.shape)


#: The pandas options that change the Styler's markup of these tables, at the values
#: :func:`_styler_markup` writes for (pandas' defaults): set otherwise, the Styler writes.
_STYLER_DEFAULTS = {
    "styler.render.repr": "html",
    "styler.render.max_rows": None,
    "styler.render.max_columns": None,
    "styler.html.mathjax": True,
    "styler.format.na_rep": None,
    "styler.format.escape": None,
}


def _direct(shown: pd.DataFrame) -> bool:
    """Whether :func:`_styler_markup` writes what the Styler would for ``shown``."""
    return (
        shown.columns.is_unique
        and not isinstance(shown.columns, pd.MultiIndex)
        and shown.size <= pd.get_option("styler.render.max_elements")
        and all(pd.get_option(k) == v for k, v in _STYLER_DEFAULTS.items())
    )


def _styler_markup(
    shown: pd.DataFrame, headers: list[str], formats: list[Callable[[object], str]], uuid: str
) -> str:
    """The pandas Styler's HTML (its ``html.tpl``) of ``shown`` without its index, with the
    (escaped) ``headers`` and each column's formatter, byte for byte; the cells' values as the
    Styler passes them to its formatters (from ``itertuples``)."""
    t = f"T_{uuid}"
    parts = ['<style type="text/css">\n</style>\n', f'<table id="{t}">\n  <thead>\n']
    if headers:
        parts.append("    <tr>\n")
        parts += [
            f'      <th id="{t}_level0_col{j}" class="col_heading level0 col{j}" >{h}</th>\n'
            for j, h in enumerate(headers)
        ]
        parts.append("    </tr>\n")
    parts.append("  </thead>\n  <tbody>\n")
    for i, row in enumerate(shown.itertuples(index=False, name=None)):
        parts.append("    <tr>\n")
        parts += [
            f'      <td id="{t}_row{i}_col{j}" class="data row{i} col{j}" >{fmt(v)}</td>\n'
            for j, (fmt, v) in enumerate(zip(formats, row, strict=True))
        ]
        parts.append("    </tr>\n")
    parts.append("  </tbody>\n</table>\n")
    return "".join(parts)


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


def show(
    frame: pd.DataFrame,
    labels: Mapping[str, str] | None = None,
    *,
    max_rows: int | None = None,
    source: str = "",
    **kwargs,
) -> None:
    """Display a table of record with labels (see :func:`display_table`). With ``max_rows``,
    a longer table shows its first ``max_rows`` rows, then says how many there are and that
    every row is in ``source`` (e.g. ``tables/prepost.csv``): a page of thousands of rows is
    not read, and it is slow to write and to open."""
    from IPython.display import display

    total = len(frame)
    cut = max_rows is not None and total > max_rows
    display(display_table(frame.head(max_rows) if cut else frame, labels, **kwargs))
    if cut:
        labels = labels or {}
        language = table_language(labels, kwargs.get("language"))
        template = labels.get("shown_rows", "{shown} of {total} rows; all in {source}.")
        shown, total_text = locale.integer(max_rows, language), locale.integer(total, language)
        note(template.format(shown=shown, total=total_text, source=source))


def show_figure(
    fig,
    path_without_suffix: Path,
    *,
    alt: str | None = None,
    png: bool = True,
    language: str | None = None,
) -> None:
    """Save a figure as SVG (+ PNG unless ``png=False``) in reports/figures/ and embed the SVG
    in the report; ``alt`` becomes the figure's text alternative (SVG ``<title>`` and
    ``aria-label``). With ``language``, every numeric tick label is written in it
    (:func:`evaluation.report.locale.localise_axes`); without, the ticks are matplotlib's."""
    from evaluation.report.plots import save_figure

    if language:
        locale.localise_axes(fig, language)

    svg = save_figure(fig, path_without_suffix, formats=("svg", "png") if png else ("svg",))[0]
    _embed(staged_path(svg), alt)  # while a run stages the notebook's outputs, the file is there


def show_plot(
    plot: Callable[..., object],
    arguments: Mapping[str, object],
    path_without_suffix: Path,
    *,
    alt: str | None = None,
    png: bool = True,
    language: str | None = None,
) -> bool:
    """:func:`show_figure` of ``plot(**arguments)``, drawn once for what it shows: while
    ``evaluation run`` runs, a figure drawn before from the same function, arguments, language
    and code is copied from the study's figure cache (:mod:`evaluation.report.plot_cache`).
    ``arguments`` must be every input of the figure (tables, labels, options). A plot that
    returns None shows nothing; returns whether a figure was shown."""
    from evaluation.report import plot_cache

    base = Path(path_without_suffix)
    formats = ("svg", "png") if png else ("svg",)
    targets = [base.with_name(f"{base.name}.{fmt}") for fmt in formats]
    folder = plot_cache.cache_folder()
    if folder is None:
        return _show_drawn(plot, arguments, base, alt=alt, png=png, language=language)
    key = plot_cache.figure_key(plot, arguments, language)
    with plot_cache.drawing(folder, key):  # another worker drawing it meanwhile: wait, copy
        if plot_cache.fetch(folder, key, targets):
            _embed(staged_path(targets[0]), alt)
            return True
        if not _show_drawn(plot, arguments, base, alt=alt, png=png, language=language):
            return False
        plot_cache.store(folder, key, [staged_path(t) for t in targets])
    return True


def _show_drawn(plot: Callable[..., object], arguments: Mapping[str, object], base: Path,
                **options: object) -> bool:  # fmt: skip
    """:func:`show_figure` of ``plot(**arguments)``; False if the plot returns None."""
    fig = plot(**arguments)
    if fig is None:
        return False
    show_figure(fig, base, **options)
    return True


def _embed(svg: Path, alt: str | None) -> None:
    """Show the SVG file ``svg`` in the notebook, with ``alt`` as its text alternative."""
    from IPython.display import HTML, SVG, display

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


def _text(value: object) -> str:
    """A cell's text, or "" for a missing value (NaN, None)."""
    return value if isinstance(value, str) else ""


def _signed(value: object) -> str:
    """A whole number of points with its sign (+20, −15, 0)."""
    number = round(float(value))
    return f"+{number}" if number > 0 else (f"−{-number}" if number < 0 else "0")


def _qual_cell(rec: Mapping, labels: Mapping[str, str]) -> str:
    """Direction of the answers, where it came from and (segment tones) the tone balance."""
    direction = _text(rec.get("qual_direction"))
    if not direction:
        return "–"
    parts = [html.escape(labels.get(f"jd_dir_{direction}", direction))]
    source = _text(rec.get("qual_source"))
    if source:
        parts.append(html.escape(labels.get(f"jd_source_{source}", source)))
    cell = " · ".join(parts)
    balance, change, n = rec.get("tone_balance"), rec.get("tone_change"), rec.get("n_toned")
    if source == "segment_tone" and all(pd.notna(v) for v in (balance, change, n)):
        text = labels.get("jd_balance", "{balance} ({change}; n = {n})").format(
            balance=_signed(balance), change=_signed(change), n=int(n)
        )
        cell += f'<br><span class="jd-balance">{html.escape(text)}</span>'
    return cell


def _effects_cell(rec: Mapping, labels: Mapping[str, str]) -> str:
    """Each measure's g with its interval, in the page's language (from the table's
    ``<measure>_g``, ``_ci_low``, ``_ci_high`` columns; ``measure_effects`` is the analysis
    notebook's text in the study's language, for tables written before those columns)."""
    language = table_language(labels)
    measures = [k[: -len("_g")] for k in rec if k.endswith("_g") and f"{k[:-2]}_ci_low" in rec]
    if not measures:
        return html.escape(_text(rec.get("measure_effects")) or "–")
    shown = [
        f"{labels.get(m, m)}: g = {locale.number(rec[f'{m}_g'], language)} "
        f"[{locale.number(rec[f'{m}_ci_low'], language)}, "
        f"{locale.number(rec[f'{m}_ci_high'], language)}]"
        for m in measures
        if not locale.is_missing(rec[f"{m}_g"])
    ]
    return html.escape("; ".join(shown)) if shown else "–"


def _quote_cell(rec: Mapping, labels: Mapping[str, str]) -> str:
    """The quote(s) with their tone; two quotes, one each way, are introduced as divided."""
    shown = []
    for text_key, tone_key in (("quote", "quote_tone"), ("quote_2", "quote_2_tone")):
        text, tone = _text(rec.get(text_key)), _text(rec.get(tone_key))
        if not text:
            continue
        tag = (
            f' <span class="jd-tone jd-tone-{html.escape(tone)}">'
            f"({html.escape(labels.get(f'jd_tone_{tone}', tone))})</span>"
            if tone
            else ""
        )
        shown.append(f"{_source_kind_tag(rec, text_key, labels)}<q>{html.escape(text)}</q>{tag}")
    if len(shown) > 1:
        divided = html.escape(labels.get("jd_quotes_divided", ""))
        return f'<span class="jd-divided">{divided}</span>' + "".join(
            f"<div>{q}</div>" for q in shown
        )
    return shown[0] if shown else ""


def _source_kind_tag(rec: Mapping, text_key: str, labels: Mapping[str, str]) -> str:
    """The quote's source kind ("Työpajamuistio:", the label of the kind id) before it;
    nothing for a table written before the column existed."""
    kind = _text(rec.get(f"{text_key}_kind"))
    if not kind:
        return ""
    label = html.escape(labels.get(kind, kind))
    return f'<span class="jd-source">{label}:</span> '


def joint_display_html(table: pd.DataFrame, labels: Mapping[str, str]) -> str:
    """The joint display as one readable HTML table: effects, themes, the direction of the
    answers (and where it came from), the quote(s) that illustrate it with their tone, and the
    meta-inference as a coloured tag. Every text is escaped."""
    colours = {"confirms": "#2e7d32", "expands": "#1f4e79", "diverges": "#c0504d",
               "inconclusive": "#666666", "insufficient": "#767676"}  # fmt: skip
    head = "".join(
        f"<th>{html.escape(labels.get(k, k))}</th>"
        for k in ("organisation", "round", "jd_effects", "jd_themes", "jd_qual", "jd_quote",
                  "meta_inference")
    )  # fmt: skip
    body = []
    for rec in table.to_dict("records"):
        inference = str(rec.get("meta_inference") or "")
        name = html.escape(labels.get(inference, inference))
        tag = (
            f'<span style="background:{colours.get(inference, "#666")};color:white;'
            f'padding:0.1em 0.5em;border-radius:0.8em">{name}</span>'
        )
        cells = [
            html.escape(str(rec["organisation"])),
            html.escape(labels.get(str(rec["round"]), str(rec["round"]))),
            _effects_cell(rec, labels) if rec["suppressed"] is not True else "–",
            html.escape(_text(rec.get("themes")) or "–"),
            _qual_cell(rec, labels),
            _quote_cell(rec, labels),
            tag,
        ]  # fmt: skip
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    style = (
        "<style>table.joint td,table.joint th{vertical-align:top;padding:0.4em 0.6em;"
        "text-align:left !important;border-bottom:1px solid #ddd}"
        ".joint q{font-style:italic;color:#333}"
        ".joint .jd-tone,.joint .jd-balance{color:#555;font-size:0.9em}"
        ".joint .jd-divided{display:block;font-weight:bold;font-size:0.9em}"
        ".joint{border-collapse:collapse;font-size:0.92em}</style>"
    )
    return (
        f'{style}<table class="joint"><thead><tr>{head}</tr></thead><tbody>'
        + "".join(body)
        + "</tbody></table>"
    )
