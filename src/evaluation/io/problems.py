"""Problems found in input files, one row each (``file, row, column, value, problem``), and the
readable message a :class:`~evaluation.errors.DataError` carries. Rows are spreadsheet rows:
the header is row 1."""

from __future__ import annotations

import pandas as pd

PROBLEM_COLUMNS = ["file", "row", "column", "value", "problem"]


PER_RULE = 5


def problem_summary(problems: pd.DataFrame, limit: int = PER_RULE) -> str:
    """A readable message: the count, then per rule (column and problem) its first ``limit``
    problems (file, row, column: value - problem) and how many more of that kind there are."""
    lines = [f"{len(problems)} problem(s) in the raw data:"]
    for (_column, _rule), group in _by_rule(problems):
        for _, p in group.head(limit).iterrows():
            where = f"{p['file']}" + (f", row {p['row']}" if p["row"] != "" else "")
            value = "" if pd.isna(p["value"]) or p["value"] == "" else f": {p['value']!r}"
            lines.append(f"  {where}, column {p['column']}{value} - {p['problem']}")
        if len(group) > limit:
            lines.append(f"  ... and {len(group) - limit} more of this kind")
    return "\n".join(lines)


def _by_rule(problems: pd.DataFrame):
    """Problems grouped by (column, problem), in order of first appearance."""
    return problems.groupby(["column", "problem"], sort=False, dropna=False)
