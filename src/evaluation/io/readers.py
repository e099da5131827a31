"""Reading raw exports (CSV, Excel, SPSS) into data frames. Raw files are only ever opened
for reading; nothing here computes statistics or writes a file (see :mod:`evaluation.io.files`)."""

from __future__ import annotations

import csv
import io as _io
import logging
from pathlib import Path

import pandas as pd

from evaluation.errors import DataError
from evaluation.vocabulary import vocabulary

log = logging.getLogger(__name__)

ROW_COLUMN = "_row"  # spreadsheet row number of a record: the header is row 1
FILE_COLUMN = "_file"


def _decode(raw: bytes, path: Path) -> str:
    """Bytes -> text: UTF-16 (with its BOM), UTF-8 (with or without BOM), else cp1252; the log
    says which."""
    if not raw.strip():
        raise DataError(f"{path}: the file is empty")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = [("utf-16", "UTF-16")]
    else:
        bom = raw.startswith(b"\xef\xbb\xbf")
        candidates = [("utf-8-sig", "UTF-8 with BOM" if bom else "UTF-8"), ("cp1252", "cp1252")]
    for encoding, name in candidates:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            break  # binary data that happens to decode
        log.info("%s: read as %s", path.name, name)
        return text
    raise DataError(f"{path}: cannot decode the file as text (UTF-8, UTF-16 or cp1252)")


SEPARATORS = (",", ";", "\t")


def _read_csv(path: Path) -> pd.DataFrame:
    text = _decode(path.read_bytes(), path)
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    sep = max(SEPARATORS, key=header.count)
    log.info("%s: separator %r", path.name, sep)
    try:
        frame = pd.read_csv(
            _io.StringIO(text),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skipinitialspace=True,
            quoting=csv.QUOTE_MINIMAL,
        )
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        raise DataError(f"{path}: cannot be read as CSV ({exc})") from None
    return frame


def _read_excel(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_excel(
            path, dtype=str, engine="openpyxl", keep_default_na=False, na_values=[""]
        )
    except Exception as exc:  # openpyxl raises many types for broken workbooks
        raise DataError(f"{path}: cannot be read as an Excel workbook ({exc})") from None
    return frame


# Columns whose SPSS value labels are the values we want (an organisation stored as code 3
# with the label "Hoiva Aapa Oy"); item columns keep their numeric codes.
LABELLED_COLUMNS = ("round", "organisation", "unit", "role")


def _read_sav(path: Path, columns: dict[str, str] | None = None) -> pd.DataFrame:
    """SPSS: user-defined missing values become missing; value labels are applied to the
    identifying columns (``LABELLED_COLUMNS``, after the study's column mapping)."""
    import pyreadstat

    try:
        frame, meta = pyreadstat.read_sav(str(path), user_missing=False)
    except Exception as exc:  # pyreadstat raises its own ReadstatError and OSError
        raise DataError(f"{path}: cannot be read as an SPSS .sav file ({exc})") from None
    rename = columns or {}
    for col, labels in (meta.variable_value_labels or {}).items():
        if rename.get(col, col) in LABELLED_COLUMNS and col in frame:
            frame[col] = frame[col].map(lambda v, lab=labels: lab.get(v, v), na_action="ignore")
    return frame.apply(lambda s: s.map(_plain_str, na_action="ignore")).astype("string")


def _plain_str(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


READERS = {".csv": _read_csv, ".txt": _read_csv, ".xlsx": _read_excel, ".sav": _read_sav}


def read_table_file(path: Path, columns: dict[str, str] | None = None) -> pd.DataFrame:
    """Read one raw file as text columns, with ``_file`` and ``_row`` for error messages.

    ``columns`` maps a vendor's column names onto the contract's (``{"Kierros": "round"}``).
    """
    if not path.is_file():
        raise DataError(f"{path}: file not found (declared in config/study.yaml `data`)")
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path}: unsupported file type {path.suffix} (use .csv, .xlsx or .sav)")
    frame = reader(path, columns) if reader is _read_sav else reader(path)
    frame.columns = [str(c).strip() for c in frame.columns]
    if columns:
        frame = frame.rename(columns=columns)
    frame = frame.astype("string").apply(lambda s: s.str.strip())
    frame = frame.mask(frame.eq(""))  # an empty cell is missing, whatever the file type
    frame[FILE_COLUMN] = path.name
    frame[ROW_COLUMN] = range(2, len(frame) + 2)
    frame = _drop_summary_rows(frame, path)
    if frame.empty:
        raise DataError(f"{path}: no data rows (only a header)")
    return frame


def _drop_summary_rows(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Drop trailing rows that are empty or start with a summary word, and say so."""
    data = frame.drop(columns=[FILE_COLUMN, ROW_COLUMN])
    if data.empty or data.shape[1] == 0:
        return frame
    first = data.iloc[:, 0].str.lower().str.rstrip(":")
    # First-cell words of survey tools' summary rows: resources/vocabulary.yaml.
    trailing = first.isin(vocabulary().summary_words) | data.isna().all(axis=1)
    keep = len(frame)
    while keep > 0 and bool(trailing.iloc[keep - 1]):
        keep -= 1
    if keep < len(frame):
        log.info("%s: %d summary or empty row(s) at the end left out", path.name, len(frame) - keep)
    return frame.iloc[:keep]


def read_raw(paths: tuple[Path, ...], columns: dict[str, str] | None = None) -> pd.DataFrame:
    """Read and stack every file of one data key (e.g. all response exports)."""
    frames = [read_table_file(p, columns) for p in paths]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True, sort=False)
