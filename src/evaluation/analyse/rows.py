"""Rows to groups, respondents and usable cells: the row-level readings of the survey data
that the analyses and the disclosure plan share. pandas and numpy only, so that the plan (made
in the run's own process) and the notebooks that fit no model do not import the statistics
libraries with them."""

from __future__ import annotations

import numpy as np
import pandas as pd


def group_labels(frame: pd.DataFrame, group_by: str) -> np.ndarray:
    """The group label of each row for ``group_by`` as an object array (None: no group)."""
    if group_by == "all":
        return np.full(len(frame), "all", dtype=object)
    if group_by == "unit":
        org = frame["organisation"].astype("string")
        unit = frame["unit"].astype("string")
        labels = (org + " / " + unit).astype("string")
    else:
        col = frame[group_by]
        if pd.api.types.is_float_dtype(col):
            nonnull = col.dropna()
            if len(nonnull) and (nonnull == np.round(nonnull)).all():
                col = col.astype("Int64")
        labels = col.astype("string")
    return labels.to_numpy(dtype=object, na_value=None)


def link_codes(frame: pd.DataFrame) -> np.ndarray:
    """Respondent link codes as an object array; empty or blank codes are None."""
    if "respondent" not in frame:
        return np.full(len(frame), None, dtype=object)
    codes = frame["respondent"].astype("string").str.strip()
    return codes.mask(codes == "").to_numpy(dtype=object, na_value=None)


def unusable_cells(summaries: pd.DataFrame) -> pd.Series:
    """Cells of ``summaries`` that cannot be combined: respondents (``n >= 1``) but no mean,
    or ``n >= 2`` but no SD (e.g. suppressed by the vendor). They are left out of every
    analysis, so a group's ``n`` excludes them (a cell with ``n = 1`` and no SD counts with SD
    0, see :func:`evaluation.analyse.quant.effects.combine_cells`)."""
    n = pd.to_numeric(summaries["n"], errors="coerce").fillna(0)
    mean = pd.to_numeric(summaries["mean"], errors="coerce")
    sd = pd.to_numeric(summaries["sd"], errors="coerce")
    return ((n >= 1) & mean.isna()) | ((n >= 2) & sd.isna())
