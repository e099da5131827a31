"""Primary suppression: the statistics of a group smaller than ``min_n`` are emptied where
they are computed, so no analysis ever returns them. Secondary suppression (what could be
recovered from everything published) is :mod:`evaluation.disclosure`."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


def suppress(
    frame: pd.DataFrame,
    *,
    n_columns: Iterable[str],
    keep: Iterable[str],
    min_n: int,
) -> pd.DataFrame:
    """Primary suppression: rows where any of ``n_columns`` is below ``min_n`` keep only the
    ``keep`` (identifying) columns; every other column is emptied and ``suppressed`` is true.

    A missing n counts as zero. Returns a new frame; the input is not modified.
    """
    out = frame.copy()
    small = np.zeros(len(out), dtype=bool)
    for col in n_columns:
        small |= pd.to_numeric(out[col], errors="coerce").fillna(0).to_numpy() < min_n
    previous = out.get("suppressed", pd.Series(False, index=out.index))
    return _blank(out, small | previous.fillna(False).astype(bool).to_numpy(), set(keep))


def _blank(out: pd.DataFrame, rows: np.ndarray, keep: set[str]) -> pd.DataFrame:
    """Empty every column but ``keep`` in ``rows`` and mark them suppressed (in place)."""
    for col in out.columns:
        if col in keep or col == "suppressed" or not rows.any():
            continue
        if not (pd.api.types.is_float_dtype(out[col]) or pd.api.types.is_object_dtype(out[col])):
            out[col] = out[col].astype("object")
        out.loc[rows, col] = np.nan
    out["suppressed"] = rows
    return out
