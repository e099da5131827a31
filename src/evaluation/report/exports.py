"""Publication exports of the tables of record: LaTeX (booktabs) and one formatted workbook.

``reports/exports/latex/<table>.tex`` and ``reports/exports/tables.xlsx`` are made from
``reports/tables/*.csv`` after every run. The CSV files stay the record; the exports only
round and label (p-values as "< .001", suppressed cells as "–", headers and category values
from the label files; the workbook keeps the values as they are, for re-analysis, except
that a text a spreadsheet would read as a formula gets a leading ``'``: no cell is a formula).
Both are deterministic: the same tables give byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from evaluation.io.files import atomic_path, write_text
from evaluation.paths import StudyPaths
from evaluation.safety import defuse_formula, is_plain_folder

P_COLUMNS = ("p", "p_adjusted", "p_q", "p_value")
DASH = "–"
_EPOCH = dt.datetime(2000, 1, 1)  # fixed workbook timestamps: same tables, same bytes


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


def _latex_cell(value: object, column: str, labels: Mapping[str, str]) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if column in P_COLUMNS:
            return "$<$ .001" if value < 0.001 else f"{value:.3f}"
        if float(value).is_integer() and abs(value) < 1e12:
            return f"{int(value)}"
        return f"{value:.{_digits(column)}f}"
    return _escape(labels.get(str(value), str(value)))


def _escape(text: str) -> str:
    for char, repl in (
        ("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"),
        ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("~", r"\textasciitilde{}"),
        ("^", r"\textasciicircum{}"),
    ):  # fmt: skip
        text = text.replace(char, repl)
    return text


def to_latex(frame: pd.DataFrame, labels: Mapping[str, str], *, caption: str, label: str) -> str:
    """A booktabs table (needs ``\\usepackage{booktabs}``; long tables: ``longtable``)."""
    shown = frame.drop(columns=[c for c in ("suppressed",) if c in frame])
    numeric = [pd.api.types.is_numeric_dtype(shown[c]) for c in shown.columns]
    spec = "".join("r" if num else "l" for num in numeric)
    header = " & ".join(_escape(labels.get(c, c)) for c in shown.columns)
    body = [
        " & ".join(_latex_cell(v, c, labels) for v, c in zip(row, shown.columns, strict=True))
        + r" \\"
        for row in shown.itertuples(index=False, name=None)
    ]
    return "\n".join(
        [
            f"\\begin{{longtable}}{{{spec}}}",
            f"\\caption{{{_escape(caption)}}}\\label{{tab:{label}}}\\\\",
            r"\toprule",
            header + r" \\",
            r"\midrule",
            r"\endhead",
            *body,
            r"\bottomrule",
            r"\end{longtable}",
            "",
        ]
    )


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


def to_xlsx(tables: Mapping[str, pd.DataFrame], labels: Mapping[str, str]) -> bytes:
    """One sheet per table: labelled bold header, frozen header row, filter, widths, formats."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for name, frame in tables.items():
        ws = wb.create_sheet(_sheet_name(name, used))
        ws.append([_xlsx_value(labels.get(c, c)) for c in frame.columns])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in frame.itertuples(index=False, name=None):
            ws.append([_xlsx_value(v) for v in row])
        for j, column in enumerate(frame.columns, start=1):
            letter = get_column_letter(j)
            if pd.api.types.is_float_dtype(frame[column]):
                fmt = "0.000" if _digits(column) == 3 else "0.00"
                for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                    cell.number_format = fmt
            width = max([len(str(labels.get(column, column)))] + [
                len(str(v)) for v in frame[column].head(200).tolist()
            ])  # fmt: skip
            ws.column_dimensions[letter].width = min(60, max(8, width + 2))
        ws.freeze_panes = "A2"
        if len(frame.columns):
            ws.auto_filter.ref = ws.dimensions
    from openpyxl.writer.excel import ExcelWriter

    stamp = _workbook_time()
    wb.properties.created = stamp
    wb.properties.modified = stamp
    wb.properties.creator = "evaluation"
    buffer = io.BytesIO()
    # ExcelWriter, not wb.save(): save_workbook stamps dcterms:modified with the clock.
    ExcelWriter(wb, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()
    return _normalise_zip(buffer.getvalue(), stamp)


def _normalise_zip(data: bytes, stamp: dt.datetime = _EPOCH) -> bytes:
    """Rewrite the xlsx zip with fixed member timestamps (openpyxl stamps the current time)."""
    date_time = max(stamp, dt.datetime(1980, 1, 1)).timetuple()[:6]  # zip: 1980 or later
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=date_time)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def export_tables(paths: StudyPaths, labels: Mapping[str, str]) -> list[Path]:
    """Write every table of record as LaTeX and all of them into one workbook."""
    sources = sorted(paths.tables.glob("*.csv")) if paths.tables.is_dir() else []
    exports = paths.reports / "exports"
    latex_dir = exports / "latex"
    written: list[Path] = []
    tables = {}
    for path in sources:
        frame = _read(path)
        tables[path.stem] = frame
        caption = labels.get(f"table_{path.stem}", path.stem)
        tex = to_latex(frame, labels, caption=caption, label=path.stem)
        written.append(write_text(latex_dir / f"{path.stem}.tex", tex))
    current = {p.name for p in written}
    for stale in latex_dir.glob("*.tex") if is_plain_folder(latex_dir) else []:
        if stale.name not in current:
            stale.unlink()
    if tables:
        target = exports / "tables.xlsx"
        with atomic_path(target) as tmp:
            tmp.write_bytes(to_xlsx(tables, labels))
        written.append(target)
    return written
