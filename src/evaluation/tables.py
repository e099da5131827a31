"""Tables of record: every statistic is written to ``reports/tables/<name>.csv`` first.

UTF-8, ``,`` separator, ``.`` decimals, one header row, ``\\n`` line ends, written atomically.
Floats are written with 10 significant digits so that the same inputs give byte-identical files
on any machine, without pretending to more precision than the data carry.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.io import atomic_write
from evaluation.paths import StudyPaths

FLOAT_FORMAT = "%.10g"


def write_table(frame: pd.DataFrame, name: str, paths: StudyPaths) -> Path:
    """Write a table of record atomically and return its path."""
    target = paths.tables / f"{name}.csv"
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == bool or str(out[col].dtype) == "boolean":
            out[col] = out[col].map({True: "true", False: "false"}, na_action="ignore")
    atomic_write(
        target,
        lambda p: out.to_csv(
            p, index=False, encoding="utf-8", lineterminator="\n", float_format=FLOAT_FORMAT
        ),
    )
    # `evaluation run` sets this so it knows which tables a notebook wrote (for its cache).
    table_log = os.environ.get("EVALUATION_TABLE_LOG")
    if table_log:
        with open(table_log, "a", encoding="utf-8") as fh:
            fh.write(f"{target.name}\n")
    return target


def suppress(
    frame: pd.DataFrame,
    *,
    n_columns: Iterable[str],
    keep: Iterable[str],
    min_n: int,
) -> pd.DataFrame:
    """Disclosure control: rows where any of ``n_columns`` is below ``min_n`` keep only the
    ``keep`` (identifying) columns; every other column is emptied and ``suppressed`` is true.

    A missing n counts as zero. Returns a new frame; the input is not modified.
    """
    out = frame.copy()
    n_columns = list(n_columns)
    small = np.zeros(len(out), dtype=bool)
    for col in n_columns:
        small |= pd.to_numeric(out[col], errors="coerce").fillna(0).to_numpy() < min_n
    keep = set(keep)
    for col in out.columns:
        if col not in keep and col != "suppressed":
            if not (
                pd.api.types.is_float_dtype(out[col]) or pd.api.types.is_object_dtype(out[col])
            ):
                out[col] = out[col].astype("object")
            out.loc[small, col] = np.nan
    out["suppressed"] = small | out.get("suppressed", pd.Series(False, index=out.index)).fillna(
        False
    ).astype(bool)
    return out
