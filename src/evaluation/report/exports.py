"""Publication exports of the tables of record: LaTeX (booktabs) and one formatted workbook.

Made from ``reports/tables/*.csv`` after every run, in the language of the run's first report
language (the study's ``language`` unless ``--language`` says otherwise):

``reports/exports/latex/main_results.tex``
    The paper's table: the declared primary family (``primary.csv``), one row per test,
    estimate and effect size with their intervals, p and adjusted p (``threeparttable``).
``reports/exports/latex/supplement.tex``
    Every table of record, one ``longtable`` each, for the supplementary material.
``reports/exports/latex/supplement/<table>.tex``
    The same tables, one file each.
``reports/exports/tables.xlsx``
    A contents sheet (caption and note of each table), the main results, one sheet per table.

Every LaTeX table has a caption from the label files (``table_<name>``) and a note below it
saying what "–" means, the confidence level, the effect-size types and the correction (only
what the table has), after the table's own note (``table_<name>_note``) where the label files
have one. The CSV files stay the record; the exports only round and label (p-values as
"< .001", suppressed cells as "–", headers and category values from the label files; the
workbook's table sheets keep the values as they are, for re-analysis, except that a text a
spreadsheet would read as a formula gets a leading ``'``: no cell is a formula). Every text is
LaTeX-escaped (:func:`escape_latex`). Both are deterministic: the same tables give
byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import json
import math
import os
import re
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evaluation.io.files import atomic_path, sha256_file, write_text
from evaluation.paths import StudyPaths
from evaluation.report import locale
from evaluation.safety import defuse_formula, is_plain_folder

P_COLUMNS = ("p", "p_adjusted", "p_q", "p_value")
ROUND_COLUMNS = ("round", "baseline", "latest_round")
DASH = "–"
MAIN_RESULTS = "main_results"
SUPPLEMENT = "supplement"
CONTENTS = "contents"
PREAMBLE = (
    "% Needs \\usepackage{booktabs,longtable,threeparttable} (and UTF-8 input, the default).\n"
)
_EPOCH = dt.datetime(2000, 1, 1)  # fixed workbook timestamps: same tables, same bytes


@dataclass(frozen=True)
class ExportContext:
    """What the notes under the tables say, beside the tables themselves.

    ci : the confidence level of every interval (``analysis.ci``).
    min_n : the smallest group shown (``disclosure.min_n``).
    rounds : round id -> label in the export's language (cells of ``round``, ``baseline``).
    language : the export's language: Finnish numbers are written as in the reports
        (:mod:`evaluation.report.locale`: ``0,42``, ``< 0,001``); English ones in APA style.
    """

    ci: float = 0.95
    min_n: int = 5
    rounds: Mapping[str, str] = field(default_factory=dict)
    language: str = "en"


def _workbook_time() -> dt.datetime:
    """The workbook's created/modified time: ``SOURCE_DATE_EPOCH`` (reproducible builds) if set,
    else a fixed date, never the clock, so the same tables give the same bytes."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.UTC).replace(tzinfo=None)
    return _EPOCH


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def _digits(column: str) -> int:
    return 3 if column in P_COLUMNS or "share" in column or "icc" in column else 2


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))


def _number(value: float, column: str, language: str = "en") -> str:
    """A number as LaTeX text: p as "< .001" or three decimals, whole numbers as they are,
    others rounded; a minus sign, not a hyphen. In Finnish as the reports write it
    (decimal comma, "< 0,001")."""
    if language != "en":
        if column in P_COLUMNS:
            return escape_latex(locale.p_value(value, language))
        whole = float(value).is_integer() and abs(value) < 1e12
        digits = 0 if whole else _digits(column)
        return escape_latex(locale.number(value, language, digits))
    if column in P_COLUMNS:
        return "$<$ .001" if value < 0.001 else f"{value:.3f}"
    if float(value).is_integer() and abs(value) < 1e12:
        text = f"{int(value)}"
    else:
        text = f"{value:.{_digits(column)}f}"
    if text.startswith("-"):
        body = text[1:]
        return body if not body.strip("0.") else f"$-${body}"  # -0.00 is 0.00
    return text


def _latex_cell(
    value: object,
    column: str,
    labels: Mapping[str, str],
    rounds: Mapping[str, str] | None = None,
    language: str = "en",
) -> str:
    if _missing(value):
        return DASH
    if isinstance(value, bool):
        return escape_latex(labels.get("yes" if value else "no", "yes" if value else "no"))
    if isinstance(value, int | float):
        return _number(value, column, language)
    text = str(value)
    if rounds and column in ROUND_COLUMNS and text in rounds:
        return escape_latex(rounds[text])
    return escape_latex(labels.get(text, text))


def _latex_column(
    values: list[object],
    column: str,
    labels: Mapping[str, str],
    rounds: Mapping[str, str] | None = None,
    language: str = "en",
) -> list[str]:
    """:func:`_latex_cell` of each value of a column, each distinct value made once (a
    national study's suggestions are half a million rows of a few codes and words). A float
    is told apart by its sign too: -0.0 equals 0.0 but is not always written alike."""
    made: dict[object, str] = {}
    out = []
    for value in values:
        key = (value, math.copysign(1.0, value)) if isinstance(value, float) else value
        text = made.get(key)
        if text is None:
            text = made[key] = _latex_cell(value, column, labels, rounds, language)
        out.append(text)
    return out


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "[": "{[}",  # a cell starting with [ would be read as the optional argument of \\
    "]": "{]}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "\u00a0": "~",  # the no-break space of Finnish numbers ("1 500", "< 0,001")
    # symbols of the label files that pdfLaTeX's UTF-8 input does not know (LuaLaTeX and
    # XeLaTeX know every character)
    "≥": r"\ensuremath{\geq}",
    "≤": r"\ensuremath{\leq}",
    "−": r"\ensuremath{-}",
    "×": r"\ensuremath{\times}",
    "±": r"\ensuremath{\pm}",
    "≈": r"\ensuremath{\approx}",
    "√": r"\ensuremath{\surd}",
    "²": r"\textsuperscript{2}",
    "α": r"\ensuremath{\alpha}",
    "τ": r"\ensuremath{\tau}",
    "ω": r"\ensuremath{\omega}",
    "κ": r"\ensuremath{\kappa}",
}
_LATEX_RE = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIAL))
_BREAKS = re.compile(r"[\r\n\t\f\v\x00-\x08\x0b-\x1f\x7f]+")


def escape_latex(text: str) -> str:
    """``text`` as LaTeX that typesets exactly these characters and runs no command: every
    special character replaced in one pass (so a replacement is never escaped again), line
    breaks and control characters as one space (a blank line would end a table row)."""
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIAL[m.group()], _BREAKS.sub(" ", str(text)))


_escape = escape_latex  # the old private name


def _level(ci: float) -> str:
    return f"{ci * 100:g}"


def _types(frame: pd.DataFrame, column: str) -> list[str]:
    if column not in frame:
        return []
    values = frame[column].dropna().astype(str)
    return list(dict.fromkeys(v for v in values if v))


def _correction_label(value: str, labels: Mapping[str, str]) -> str:
    return labels.get(f"correction_{value}") or labels.get(f"export_correction_{value}", value)


def table_note(
    name: str, frame: pd.DataFrame, labels: Mapping[str, str], context: ExportContext
) -> str:
    """The note under a table (plain text, not escaped): the table's own note, then what "–"
    means, the confidence level, the effect-size types and the correction, each only where the
    table has such cells."""
    parts = []
    if labels.get(f"table_{name}_note"):
        parts.append(labels[f"table_{name}_note"])
    shown = frame.drop(columns=[c for c in ("suppressed",) if c in frame])
    if shown.isna().to_numpy().any():
        parts.append(labels.get("export_note_dash", "").format(min_n=context.min_n, dash=DASH))
    if any(c.endswith("ci_low") for c in frame.columns):
        parts.append(labels.get("export_note_ci", "").format(level=_level(context.ci)))
    types = _types(frame, "effect_size_type")
    if types:
        named = ", ".join(labels.get(t, t) for t in types)
        parts.append(labels.get("export_note_effect_sizes", "").format(types=named))
    corrections = _types(frame, "correction")
    if corrections:
        named = ", ".join(_correction_label(c, labels) for c in corrections)
        parts.append(labels.get("export_note_correction", "").format(corrections=named))
    return " ".join(p for p in parts if p)


def _note_block(note: str, labels: Mapping[str, str]) -> list[str]:
    if not note:
        return []
    prefix = escape_latex(labels.get("export_note", "Note."))
    return [f"{{\\footnotesize\\noindent\\textit{{{prefix}}} {escape_latex(note)}\\par}}"]


def to_latex(
    frame: pd.DataFrame,
    labels: Mapping[str, str],
    *,
    caption: str,
    label: str,
    note: str = "",
    rounds: Mapping[str, str] | None = None,
    language: str = "en",
) -> str:
    """A booktabs ``longtable`` with its caption and, below it, ``note`` (needs
    ``\\usepackage{booktabs,longtable}``). Every text is escaped."""
    shown = frame.drop(columns=[c for c in ("suppressed",) if c in frame])
    numeric = [pd.api.types.is_numeric_dtype(shown[c]) for c in shown.columns]
    spec = "".join("r" if num else "l" for num in numeric)
    header = " & ".join(escape_latex(labels.get(c, c)) for c in shown.columns)
    cells = [_latex_column(shown[c].tolist(), c, labels, rounds, language) for c in shown]
    body = [" & ".join(row) + r" \\" for row in zip(*cells, strict=True)]
    return "\n".join(
        [
            f"\\begin{{longtable}}{{{spec}}}",
            f"\\caption{{{escape_latex(caption)}}}\\label{{tab:{label}}}\\\\",
            r"\toprule",
            header + r" \\",
            r"\midrule",
            r"\endhead",
            *body,
            r"\bottomrule",
            r"\end{longtable}",
            *_note_block(note, labels),
            "",
        ]
    )


MAIN_COLUMNS = (
    "measure", "comparison", "round", "n", "estimate", "ci_low", "ci_high",
    "effect_size_type", "effect_size", "es_ci_low", "es_ci_high", "p", "p_adjusted",
)  # fmt: skip


def main_results_frame(
    primary: pd.DataFrame, labels: Mapping[str, str], rounds: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """The primary family's rows with the main table's columns (those ``primary.csv`` has), in
    its order; measure, comparison, round and effect-size type as labels, numbers as they are."""
    out = primary[[c for c in MAIN_COLUMNS if c in primary]].copy()
    rounds = rounds or {}
    for column in ("measure", "comparison", "effect_size_type"):
        if column in out:
            out[column] = out[column].map(
                lambda v: v if _missing(v) else labels.get(str(v), str(v))
            )
    if "round" in out:
        out["round"] = out["round"].map(lambda v: v if _missing(v) else rounds.get(str(v), v))
    return out.reset_index(drop=True)


def _interval(value: object, low: object, high: object, column: str, language: str) -> str:
    if _missing(value):
        return DASH
    text = _number(float(value), column, language)
    if _missing(low) or _missing(high):
        return text
    lo, hi = _number(float(low), column, language), _number(float(high), column, language)
    return f"{text} {{[}}{lo}, {hi}{{]}}"


def main_results_latex(
    primary: pd.DataFrame, labels: Mapping[str, str], context: ExportContext
) -> str:
    """The paper's table of the primary family: booktabs in a ``threeparttable``, one row per
    test (measure and comparison shown once per group), estimate and effect size with their
    intervals, the effect-size type as a table note letter, p and adjusted p."""
    level = _level(context.ci)
    ci = labels.get("export_ci", "{level} % CI").format(level=level)
    rows = primary.reset_index(drop=True)
    types = _types(rows, "effect_size_type")
    letters = {t: chr(ord("a") + i) for i, t in enumerate(types)}
    header = [
        labels.get("measure", "measure"),
        labels.get("comparison", "comparison"),
        labels.get("round", "round"),
        "n",
        f"{labels.get('estimate', 'estimate')} [{ci}]",
        f"{labels.get('effect_size', 'effect size')} [{ci}]",
        labels.get("p", "p"),
        labels.get("p_adjusted", "p_adjusted"),
    ]
    body: list[str] = []
    last: tuple[object, object] | None = None
    for rec in rows.to_dict("records"):
        measure, comparison = rec.get("measure"), rec.get("comparison")
        if last is not None and measure != last[0]:
            body.append(r"\addlinespace")
        same_measure = last is not None and measure == last[0]
        same_group = same_measure and comparison == last[1]
        last = (measure, comparison)
        lang = context.language
        es = _interval(
            rec.get("effect_size"), rec.get("es_ci_low"), rec.get("es_ci_high"), "es", lang
        )
        kind = rec.get("effect_size_type")
        if es != DASH and not _missing(kind) and str(kind) in letters:
            es += f"\\tnote{{{letters[str(kind)]}}}"
        cells = [
            "" if same_measure else _latex_cell(measure, "measure", labels),
            "" if same_group else _latex_cell(comparison, "comparison", labels),
            _latex_cell(rec.get("round"), "round", labels, context.rounds),
            _latex_cell(rec.get("n"), "n", labels, language=lang),
            _interval(rec.get("estimate"), rec.get("ci_low"), rec.get("ci_high"), "estimate", lang),
            es,
            _latex_cell(rec.get("p"), "p", labels, language=lang),
            _latex_cell(rec.get("p_adjusted"), "p_adjusted", labels, language=lang),
        ]
        body.append(" & ".join(cells) + r" \\")
    note = _main_note(rows, labels, context)
    items = [f"\\item[{letters[t]}] {escape_latex(labels.get(t, t))}" for t in types]
    prefix = escape_latex(labels.get("export_note", "Note."))
    items.append(f"\\item \\textit{{{prefix}}} {escape_latex(note)}")
    return "\n".join(
        [
            r"\begin{table}[htbp]",
            r"\centering",
            r"\begin{threeparttable}",
            f"\\caption{{{escape_latex(labels.get('export_main_results', MAIN_RESULTS))}}}"
            f"\\label{{tab:{MAIN_RESULTS}}}",
            r"\begin{tabular}{lllrrrrr}",
            r"\toprule",
            " & ".join(escape_latex(h) for h in header) + r" \\",
            r"\midrule",
            *body,
            r"\bottomrule",
            r"\end{tabular}",
            r"\begin{tablenotes}[flushleft]",
            r"\footnotesize",
            *items,
            r"\end{tablenotes}",
            r"\end{threeparttable}",
            r"\end{table}",
            "",
        ]
    )


def _main_note(primary: pd.DataFrame, labels: Mapping[str, str], ctx: ExportContext) -> str:
    corrections = ", ".join(_correction_label(c, labels) for c in _types(primary, "correction"))
    k = len(primary)
    if "family_size" in primary and primary["family_size"].notna().any():
        k = int(primary["family_size"].dropna().iloc[0])
    parts = [labels.get("export_main_results_note", "").format(k=k, corrections=corrections)]
    parts.append(labels.get("export_note_ci", "").format(level=_level(ctx.ci)))
    shown = primary.drop(columns=[c for c in ("suppressed",) if c in primary])
    if shown.isna().to_numpy().any():
        parts.append(labels.get("export_note_dash", "").format(min_n=ctx.min_n, dash=DASH))
    return " ".join(p for p in parts if p)


def _sheet_name(name: str, used: set[str]) -> str:
    base = name[:31]
    out, i = base, 1
    while out in used:
        suffix = f"~{i}"
        out, i = base[: 31 - len(suffix)] + suffix, i + 1
    used.add(out)
    return out


def _xlsx_value(value: object) -> object:
    """A cell value for openpyxl: missing as an empty cell, a text always a text (a leading
    ``=``, ``+``, ``-``, ``@``, tab or CR gets a ``'``, so no cell becomes a formula; characters
    XML cannot hold are replaced by U+FFFD)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, float) and pd.isna(value):
        return None
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", defuse_formula(value))
    return value


def _header(frame: pd.DataFrame, labels: Mapping[str, str]) -> list[str]:
    return [labels.get(c, c) for c in frame.columns]


def to_xlsx(
    tables: Mapping[str, pd.DataFrame],
    labels: Mapping[str, str],
    *,
    sheets: SheetCache | None = None,
    prune: bool = True,
    openpyxl_rows: bool = False,
) -> bytes:
    """One sheet per table: labelled bold header, frozen header row, filter, widths, formats.

    The workbook is written in openpyxl's write-only mode: each row is streamed to the sheet
    as it is appended, so a table of hundreds of thousands of rows (a national study's
    suggestions) is never held as cell objects. A sheet's rows are written as openpyxl writes
    them, by :func:`_sheet_data` (ten times faster than a cell object per value); a table with
    a value it does not write (``openpyxl_rows``: every table) is appended row by row to
    openpyxl. With ``sheets``, a table's sheet written before from the same source is copied
    from the cache (:class:`SheetCache`); then, with ``prune``, the cache keeps only this
    workbook's sheets."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    used: set[str] = set()
    bold = Font(bold=True)
    styles: dict[str, int] = {}  # "bold" and each number format -> its style id
    reused: dict[str, bytes] = {}  # zip member -> the cached sheet
    rows: dict[str, bytes] = {}  # zip member -> its rows (sheetData), written by _sheet_data
    fresh: dict[str, str] = {}  # zip member -> the cache key to store it under
    held: set[str] = set()  # the cache keys of the sheets this workbook holds
    for i, (name, frame) in enumerate(tables.items()):
        ws = wb.create_sheet(_sheet_name(name, used))
        if i == 0:
            # Every style registered first, in a fixed order: a sheet's cell styles (s="..")
            # are then the same whichever other sheets the workbook writes or copies.
            for style in ("bold", *_FORMATS):
                cell = WriteOnlyCell(ws)
                if style == "bold":
                    cell.font = bold
                else:
                    cell.number_format = style
                styles[style] = cell.style_id
        key = sheets.key(name, _header(frame, labels)) if sheets else None
        cached = sheets.get(key) if sheets and key else None
        formats: dict[int, str] = {}
        for j, column in enumerate(frame.columns):
            if pd.api.types.is_float_dtype(frame[column]):
                formats[j] = _FORMATS[_digits(column) == 3]
            width = max([len(str(labels.get(column, column)))] + [
                len(str(v)) for v in frame[column].head(200).tolist()
            ])  # fmt: skip
            ws.column_dimensions[get_column_letter(j + 1)].width = min(60, max(8, width + 2))
        ws.freeze_panes = "A2"
        if len(frame.columns):
            last = get_column_letter(len(frame.columns))
            ws.auto_filter.ref = f"A1:{last}{len(frame) + 1}"
        member = f"xl/worksheets/sheet{i + 1}.xml"  # as ExcelWriter numbers the sheets
        if key is not None:
            held.add(key)
        if cached is not None:
            reused[member] = cached  # written with no rows; its cached XML replaces it
            continue
        if key is not None:
            fresh[member] = key
        header = [_xlsx_value(labels.get(column, column)) for column in frame.columns]
        data = None if openpyxl_rows else _sheet_data(header, frame, formats, styles)
        if data is not None:
            rows[member] = data  # written with no rows; the rows are put in its sheetData
            continue
        cells = []
        for value in header:
            cell = WriteOnlyCell(ws, value)
            cell.font = bold
            cells.append(cell)
        ws.append(cells)
        # One formatted cell per float column, its value set row by row: a row is written as
        # it is appended, so the cell is free again for the next one (the same XML as a new
        # cell per value, without building and styling 100,000s of them).
        styled: dict[int, WriteOnlyCell] = {}
        for j, fmt in formats.items():
            styled[j] = WriteOnlyCell(ws)
            styled[j].number_format = fmt
        for row in frame.itertuples(index=False, name=None):
            values: list[object] = [_xlsx_value(v) for v in row]
            for j, cell in styled.items():
                cell.value = values[j]
                values[j] = cell
            ws.append(values)
    from openpyxl.writer.excel import ExcelWriter

    stamp = _workbook_time()
    wb.properties.created = stamp
    wb.properties.modified = stamp
    wb.properties.creator = "evaluation"
    buffer = io.BytesIO()
    # ExcelWriter, not wb.save(): save_workbook stamps dcterms:modified with the clock. Stored
    # uncompressed here: _normalise_zip compresses every member once when it rewrites the zip.
    ExcelWriter(wb, zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED, allowZip64=True)).save()
    data = _normalise_zip(
        buffer.getvalue(), stamp, replace=reused, rows=rows, store=sheets, keys=fresh
    )
    if sheets is not None and prune:
        sheets.prune(held)
    return data


def _normalise_zip(
    data: bytes,
    stamp: dt.datetime = _EPOCH,
    *,
    replace: Mapping[str, bytes] | None = None,
    rows: Mapping[str, bytes] | None = None,
    store: SheetCache | None = None,
    keys: Mapping[str, str] | None = None,
) -> bytes:
    """Rewrite the xlsx zip with fixed member timestamps (openpyxl stamps the current time);
    members named in ``replace`` get the bytes given, sheets named in ``rows`` (written with
    no rows) get those rows in their ``sheetData``, and those named in ``keys`` are put in the
    ``store`` under their key as they pass."""
    replace, rows, keys = replace or {}, rows or {}, keys or {}
    date_time = max(stamp, dt.datetime(1980, 1, 1)).timetuple()[:6]  # zip: 1980 or later
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=date_time)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            body = replace.get(info.filename)
            if body is None:
                body = src.read(info.filename)
                if info.filename in rows:
                    parts = body.split(b"<sheetData></sheetData>")
                    if len(parts) != 2:
                        raise ValueError(f"{info.filename}: no empty sheetData to fill")
                    data = rows[info.filename]
                    body = b"".join([parts[0], b"<sheetData>", data, b"</sheetData>", parts[1]])
                if store is not None and info.filename in keys:
                    store.put(keys[info.filename], body)
            dst.writestr(fixed, body)
    return out.getvalue()


_FORMATS = ("0.00", "0.000")  # number formats of float columns: two decimals, or three

# Text as libxml2 writes it in openpyxl's sheets: &, < and > escaped, a carriage return as a
# character reference (so it survives reading), every character beyond ASCII as one too.
_XML_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def _xml_text(text: str) -> str:
    return text.translate(_XML_TEXT).encode("ascii", "xmlcharrefreplace").decode("ascii")


class _NotWritten(Exception):
    """A value :func:`_sheet_data` does not write itself (openpyxl does)."""


def _sheet_data(
    header: list[object], frame: pd.DataFrame, formats: Mapping[int, str], styles: Mapping[str, int]
) -> bytes | None:
    """The rows of a table's sheet (the header in bold, then the table with ``formats`` on its
    float columns) as the XML openpyxl's write-only mode writes into ``sheetData``, byte for
    byte (``tests/test_exports.py`` compares the two on generated tables), without a cell
    object per value. None when a value is not a number, a truth value, a text or missing
    (dates, a text openpyxl would take for a formula): openpyxl writes that table."""
    from openpyxl.cell.cell import ERROR_CODES
    from openpyxl.utils import get_column_letter

    letters = [get_column_letter(j + 1) for j in range(len(frame.columns))]
    bold = f's="{styles["bold"]}" '
    style = [f's="{styles[formats[j]]}" ' if j in formats else "" for j in range(len(letters))]

    def tail(value: object, s: str) -> str | None:
        """A cell's XML after ``<c r="..."`` (its reference); None: no cell at all."""
        if value is None:  # a formatted cell is written empty, an unformatted one not at all
            return f' {s}t="n"></c>' if s else None
        kind = type(value)
        if kind is bool:
            return f' {s}t="b"><v>{int(value)}</v></c>'
        if kind is int or kind is float:
            number = f"{value:.16g}" if math.isfinite(value) else ""  # openpyxl's "%.16g"
            return f' {s}t="n"><v>{number}</v></c>'
        if kind is not str or (len(value) > 1 and value.startswith("=")):
            raise _NotWritten
        text = value[:32767]  # Excel's longest cell text, as openpyxl cuts it
        if text == "":
            return f' {s}t="inlineStr"></c>'
        if text in ERROR_CODES:
            return f' {s}t="e"><v>{text}</v></c>'
        space = ' xml:space="preserve"' if text != text.strip() else ""
        return f' {s}t="inlineStr"><is><t{space}>{_xml_text(text)}</t></is></c>'

    texts: dict[tuple[str, str], str | None] = {}  # a table repeats its texts: each made once

    def cell(ref: str, value: object, s: str) -> str:
        if type(value) is float:  # the commonest: no lookup (and NaN is no key)
            part = tail(None if value != value else value, s)
        elif type(value) is str:
            part = texts.get((value, s), "")
            if part == "":
                part = texts[value, s] = tail(_xlsx_value(value), s)
        else:
            part = tail(_xlsx_value(value), s)
        return "" if part is None else f'<c r="{ref}"{part}'

    out: list[bytes] = []  # one per row: a national study's millions of cells stay few objects
    try:
        cells = "".join(cell(f"{c}1", v, bold) for c, v in zip(letters, header, strict=True))
        out.append(f'<row r="1">{cells}</row>'.encode("ascii"))
        for r, row in enumerate(frame.itertuples(index=False, name=None), start=2):
            cells = "".join(
                cell(f"{c}{r}", v, s) for c, v, s in zip(letters, row, style, strict=True)
            )
            out.append(f'<row r="{r}">{cells}</row>'.encode("ascii"))
    except _NotWritten:
        return None
    return b"".join(out)


@functools.cache
def _sheet_code() -> str:
    """What a cached sheet was written by: this module and the libraries that read the table
    and write the sheet."""
    import openpyxl

    code = Path(__file__).read_bytes() + f"{openpyxl.__version__} {pd.__version__}".encode()
    return hashlib.sha256(code).hexdigest()


@dataclass
class SheetCache:
    """The worksheets of earlier workbooks (``reports/.cache/xlsx/<key>.xml.z``): a table's
    sheet whose source (``sources``: table -> sha256 of its CSV), header labels and code are
    unchanged is copied, not written cell by cell again (openpyxl writes strings inline and
    :func:`to_xlsx` registers the styles in a fixed order, so a sheet's XML depends on its
    table only). ``reuse=False`` (``--force``) writes every sheet again. After each workbook
    only the sheets it holds are kept. ``fresh``: keys of sheets written in this run
    (:func:`write_sheet_ahead`), copied even when ``reuse`` is false."""

    folder: Path
    sources: Mapping[str, str]
    reuse: bool = True
    fresh: frozenset[str] = frozenset()

    def key(self, table: str, header: list[str]) -> str | None:
        source = self.sources.get(table)
        if source is None:  # contents and main results: made from several tables, small
            return None
        payload = json.dumps([source, header, _sheet_code()], ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()

    def get(self, key: str) -> bytes | None:
        path = self.folder / f"{key}.xml.z"
        if not (self.reuse or key in self.fresh) or not path.is_file():
            return None
        try:
            return zlib.decompress(path.read_bytes())
        except zlib.error:  # damaged: written again
            return None

    def put(self, key: str, xml: bytes) -> None:
        """Store a sheet just written (its XML) under its key."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if not (is_plain_folder(self.folder) and is_plain_folder(self.folder.parent)):
            return
        with atomic_path(self.folder / f"{key}.xml.z") as tmp:
            tmp.write_bytes(zlib.compress(xml, 1))

    def prune(self, held: set[str]) -> None:
        """Remove every cached sheet but those of ``held`` keys (the workbook's sheets)."""
        if not self.folder.is_dir() or not is_plain_folder(self.folder):
            return
        for path in self.folder.glob("*.xml.z"):
            if path.name.removesuffix(".xml.z") not in held:
                path.unlink(missing_ok=True)


def caption(name: str, labels: Mapping[str, str]) -> str:
    """A table's caption: ``table_<name>`` from the label files, else the table's name."""
    return labels.get(f"table_{name}") or name


def _remove_stale(folder: Path, keep: set[str]) -> None:
    for stale in folder.glob("*.tex") if is_plain_folder(folder) else []:
        if stale.name not in keep:
            stale.unlink()


def _kept_tex(target: Path, source: Path, digest: str | None) -> str | None:
    """The LaTeX of an unchanged table (``source`` still has sha256 ``digest``), read back from
    ``target``; None when it must be made again."""
    if digest is None or not target.is_file() or sha256_file(source) != digest:
        return None
    text = target.read_text(encoding="utf-8")
    return text[len(PREAMBLE) :] if text.startswith(PREAMBLE) else None


def export_tables(
    paths: StudyPaths,
    labels: Mapping[str, str],
    context: ExportContext | None = None,
    *,
    unchanged: Mapping[str, str] | None = None,
    reuse: bool = True,
) -> list[Path]:
    """Write the main-results table, every table of record as the LaTeX supplement (one file
    and one file per table) and all of them into one workbook; remove LaTeX files no table
    stands behind any more (:func:`export_latex`, then :func:`export_workbook` with
    ``reuse``)."""
    return export_latex(paths, labels, context, unchanged=unchanged) + export_workbook(
        paths, labels, context, reuse=reuse
    )


def _sources(paths: StudyPaths) -> list[Path]:
    return sorted(paths.tables.glob("*.csv")) if paths.tables.is_dir() else []


def export_latex(
    paths: StudyPaths,
    labels: Mapping[str, str],
    context: ExportContext | None = None,
    *,
    unchanged: Mapping[str, str] | None = None,
) -> list[Path]:
    """The LaTeX exports: the main-results table and the supplement (one file and one file
    per table of record); LaTeX files no table stands behind any more are removed.

    ``unchanged``: table name -> sha256 of the CSV from which its ``supplement/<table>.tex``
    was written with these same labels and context (the run's export record). A table whose
    CSV still has that sha256 keeps its file: its text is read back, not made again (the same
    bytes, since the exports are deterministic)."""
    context = context or ExportContext()
    unchanged = unchanged or {}
    latex_dir = paths.reports / "exports" / "latex"
    supplement_dir = latex_dir / SUPPLEMENT
    written: list[Path] = []
    chunks: list[str] = []
    primary: pd.DataFrame | None = None
    for path in _sources(paths):
        frame = _read(path)
        if path.stem == "primary":
            primary = frame
        target = supplement_dir / f"{path.stem}.tex"
        tex = _kept_tex(target, path, unchanged.get(path.stem))
        if tex is None:
            tex = to_latex(
                frame,
                labels,
                caption=caption(path.stem, labels),
                label=path.stem,
                note=table_note(path.stem, frame, labels, context),
                rounds=context.rounds,
                language=context.language,
            )
            write_text(target, PREAMBLE + tex)
        chunks.append(tex)
        written.append(target)
    if primary is not None:
        tex = main_results_latex(primary, labels, context)
        written.append(write_text(latex_dir / f"{MAIN_RESULTS}.tex", PREAMBLE + tex))
    if chunks:
        written.append(write_text(latex_dir / f"{SUPPLEMENT}.tex", PREAMBLE + "\n".join(chunks)))
    _remove_stale(supplement_dir, {p.name for p in written if p.parent == supplement_dir})
    _remove_stale(latex_dir, {p.name for p in written if p.parent == latex_dir})
    return written


def export_workbook(
    paths: StudyPaths,
    labels: Mapping[str, str],
    context: ExportContext | None = None,
    *,
    reuse: bool = True,
    fresh: frozenset[str] = frozenset(),
) -> list[Path]:
    """``exports/tables.xlsx``: a contents sheet (each table's caption, note and rows), the
    main-results table, then every table of record on its own sheet. A table's sheet is
    copied from the sheets of the last workbook when its CSV and header are unchanged
    (:class:`SheetCache`, ``reports/.cache/xlsx``), unless ``reuse=False``, and from those
    written ahead in this run (``fresh``: their keys, :func:`write_sheet_ahead`) always."""
    context = context or ExportContext()
    sources = _sources(paths)
    tables = {path.stem: _read(path) for path in sources}
    if not tables:
        return []
    contents: list[dict[str, object]] = [
        {
            "sheet": name,
            "caption": caption(name, labels),
            "note": table_note(name, frame, labels, context),
            "n": len(frame),
        }
        for name, frame in tables.items()
    ]
    main: pd.DataFrame | None = None
    if "primary" in tables:
        primary = tables["primary"]
        main = main_results_frame(primary, labels, context.rounds)
        note = _main_note(primary, labels, context)
        contents.insert(0, {"sheet": MAIN_RESULTS, "caption": labels.get("export_main_results",
                            MAIN_RESULTS), "note": note, "n": len(main)})  # fmt: skip
    header = {k: labels.get(f"export_contents_{k}", k) for k in ("sheet", "caption", "note")}
    sheets = {CONTENTS: pd.DataFrame(contents).rename(columns=header)}
    if main is not None:
        sheets[MAIN_RESULTS] = main
    digests: dict[str, str] = {}  # a table's sheet -> its CSV's sha256
    for path in sources:  # a table called "contents" keeps its own sheet
        name = path.stem if path.stem not in sheets else f"{path.stem}~"
        sheets[name], digests[name] = tables[path.stem], sha256_file(path)
    target = paths.reports / "exports" / "tables.xlsx"
    cache = SheetCache(_sheet_folder(paths), digests, reuse=reuse, fresh=fresh)
    with atomic_path(target) as tmp:
        tmp.write_bytes(to_xlsx(sheets, labels, sheets=cache))
    return [target]


def _sheet_folder(paths: StudyPaths) -> Path:
    return paths.reports / ".cache" / "xlsx"


# A table of record whose CSV has this many bytes or more gets its workbook sheet written
# ahead, in a worker beside the reports (write_sheet_ahead): at national size the keyword
# suggestions are millions of cells, half a minute of openpyxl after the last report otherwise.
AHEAD_BYTES = 4 * 2**20
# From this many bytes (and below AHEAD_BYTES) a table's sheet is written as soon as the notebook
# that wrote it is done, in a thread of the run process beside the remaining analyses (below
# national size: evaluation.pipeline.run._EarlySheets): the demo's pre/post table (270,000
# cells, 2.6 s) no longer waits for the last analysis. Bigger tables wait for the reports: at
# national size they would add their memory to the mixed models'.
EARLY_BYTES = 2**20


def sheets_to_write_ahead(paths: StudyPaths, names: Iterable[str] | None = None,
                          *, early: bool = False) -> list[str]:  # fmt: skip
    """The tables of record (of ``names``, their file names; default every one) big enough to
    have their sheets written ahead: from ``AHEAD_BYTES`` on, or with ``early`` from
    ``EARLY_BYTES`` up to ``AHEAD_BYTES``."""
    low, high = (EARLY_BYTES, AHEAD_BYTES) if early else (AHEAD_BYTES, float("inf"))
    sources = _sources(paths) if names is None else [paths.tables / n for n in names]
    return [p.stem for p in sources if p.is_file() and low <= p.stat().st_size < high]


def write_sheet_ahead(
    paths: StudyPaths, labels: Mapping[str, str], table: str, *, reuse: bool = True
) -> str | None:
    """Write the workbook sheet of the table of record ``table`` into the sheet cache, where
    :func:`export_workbook` copies it from (given the returned key in ``fresh``); a sheet
    already cached is kept, unless ``reuse=False``. Its XML is byte for byte the sheet the
    workbook would write itself (see :class:`SheetCache`)."""
    path = paths.tables / f"{table}.csv"
    frame = _read(path)
    cache = SheetCache(_sheet_folder(paths), {table: sha256_file(path)}, reuse=reuse)
    key = cache.key(table, _header(frame, labels))
    if key is not None and cache.get(key) is None:
        to_xlsx({table: frame}, labels, sheets=cache, prune=False)
    return key
