"""Data-quality statistics: who answered, what is missing, what is out of range."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.analyse.suppression import suppress


def response_counts(
    scores: pd.DataFrame,
    *,
    rounds: list[str],
    headcounts: dict[str, dict[str, int]] | None = None,
    min_n: int = 5,
    n_column: str | None = None,
) -> pd.DataFrame:
    """Respondents per round x organisation x unit, with the response rate where a headcount is
    configured (``n / headcount``). Cells below ``min_n`` are suppressed.

    ``scores`` has one row per respondent, or, with ``n_column``, one row per cell with its
    count in that column (summary-statistics mode). Columns: ``round, organisation, unit, n,
    headcount, response_rate, suppressed``.
    """
    headcounts = headcounts or {}
    grouped = scores.groupby(["round", "organisation", "unit"], observed=True)
    counts = (grouped[n_column].sum() if n_column else grouped.size()).rename("n").reset_index()
    # Every configured unit appears in every round, even with no respondents at all.
    units = {(o, u) for o, us in headcounts.items() for u in us}
    units |= set(zip(counts["organisation"], counts["unit"], strict=True))
    grid = pd.DataFrame(
        [(r, o, u) for r in rounds for o, u in sorted(units)],
        columns=["round", "organisation", "unit"],
    )
    out = grid.merge(counts, how="left", on=["round", "organisation", "unit"])
    out["n"] = out["n"].fillna(0).astype("int64")
    out["headcount"] = [
        headcounts.get(o, {}).get(u, np.nan)
        for o, u in zip(out["organisation"], out["unit"], strict=True)
    ]
    out["headcount"] = out["headcount"].astype("float64")
    out["response_rate"] = out["n"] / out["headcount"]
    out["n"] = out["n"].astype("float64")
    return suppress(
        out, n_columns=["n"], keep=["round", "organisation", "unit", "headcount"], min_n=min_n
    )


def missingness(
    responses: pd.DataFrame,
    *,
    instruments: dict[str, list[str]],
    rounds: list[str],
    min_n: int = 5,
) -> pd.DataFrame:
    """Share of empty answers per instrument item and round.

    Columns: ``instrument, item, round, n_rows, n_missing, missing_share, suppressed``. A
    round with fewer than ``min_n`` rows is suppressed like any other small group.
    """
    rows = []
    for rnd in rounds:
        part = responses[responses["round"] == rnd]
        for inst, items in instruments.items():
            for item in items:
                if item not in part:
                    continue
                n_missing = int(part[item].isna().sum())
                rows.append(
                    {
                        "instrument": inst,
                        "item": item,
                        "round": rnd,
                        "n_rows": len(part),
                        "n_missing": n_missing,
                        "missing_share": n_missing / len(part) if len(part) else np.nan,
                    }
                )
    out = pd.DataFrame(
        rows, columns=["instrument", "item", "round", "n_rows", "n_missing", "missing_share"]
    )
    return suppress(out, n_columns=["n_rows"], keep=["instrument", "item", "round"], min_n=min_n)


def out_of_range(
    responses: pd.DataFrame, *, limits: dict[str, tuple[float, float]]
) -> pd.DataFrame:
    """Values outside each column's configured range (``column, min, max, n_values,
    n_out_of_range``). Validation refuses such data, so in an analysed study this is all zero:
    the table documents that the check ran."""
    rows = []
    for col, (lo, hi) in limits.items():
        if col not in responses:
            continue
        values = pd.to_numeric(responses[col], errors="coerce")
        rows.append(
            {
                "column": col,
                "min": lo,
                "max": hi,
                "n_values": int(values.notna().sum()),
                "n_out_of_range": int(((values < lo) | (values > hi)).sum()),
            }
        )
    return pd.DataFrame(rows, columns=["column", "min", "max", "n_values", "n_out_of_range"])
