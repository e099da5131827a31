"""Tables of record: every statistic is written to ``reports/tables/<name>.csv`` first.

UTF-8, ``,`` separator, ``.`` decimals, one header row, ``\\n`` line ends, written atomically.
Disclosure control (:mod:`evaluation.disclosure`) is applied here, on the way out. Floats are
written with 10 significant digits so that the same inputs give byte-identical files
on any machine, without pretending to more precision than the data carry.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evaluation.disclosure.rules import protect
from evaluation.io.files import atomic_write
from evaluation.paths import StudyPaths
from evaluation.safety import defuse_formulas

FLOAT_FORMAT = "%.10g"


def write_table(frame: pd.DataFrame, name: str, paths: StudyPaths) -> tuple[Path, pd.DataFrame]:
    """Write a table of record atomically; return its path and the frame as written.

    Every table passes through :func:`evaluation.disclosure.rules.protect` first (complementary
    suppression), so no suppressed cell can be recovered from what is written.
    """
    target = paths.tables / f"{name}.csv"
    protected = protect(frame, name, paths.processed)
    # A text that a spreadsheet would run as a formula gets a leading ' (OWASP, CSV injection).
    out = defuse_formulas(protected).copy()  # the caller gets ``protected`` as it is
    for col in out.columns:
        if out[col].dtype == bool or str(out[col].dtype) == "boolean":
            out[col] = out[col].map({True: "true", False: "false"}, na_action="ignore")
    atomic_write(
        target,
        lambda p: out.to_csv(
            p, index=False, encoding="utf-8", lineterminator="\n", float_format=FLOAT_FORMAT
        ),
    )
    return target, protected


__all__ = ["FLOAT_FORMAT", "write_table"]
