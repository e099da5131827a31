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


def respondent_totals(
    scores: pd.DataFrame,
    *,
    rounds: list[str],
    headcounts: dict[str, dict[str, int]] | None = None,
    min_n: int = 5,
    n_column: str | None = None,
) -> pd.DataFrame:
    """Respondents per round in the whole study and in each organisation: the true totals,
    whatever disclosure control hides in :func:`response_counts` (a total is not disclosive in
    itself; the study's disclosure plan decides, on the way out, whether each may be shown).

    The report covers read these rows, so a cover shows the same count as the tables: not the
    sum of the units left visible. Input as :func:`response_counts` (one row per respondent, or
    per cell with its count in ``n_column``). Columns: ``round, group_by, group, n, headcount,
    response_rate, suppressed`` with ``group_by`` ``all`` (``group = "all"``) or
    ``organisation``; ``headcount`` is the sum of the organisation's configured unit headcounts
    (empty when none is configured). An organisation with fewer than ``min_n`` respondents in a
    round is suppressed.
    """
    headcounts = headcounts or {}
    grouped = scores.groupby(["round", "organisation"], observed=True)
    counts = (grouped[n_column].sum() if n_column else grouped.size()).rename("n").reset_index()
    orgs = sorted(set(headcounts) | set(counts["organisation"].astype(str)))
    per_org = {
        (str(r), str(o)): float(n)
        for r, o, n in counts[["round", "organisation", "n"]].itertuples(index=False)
    }
    org_heads = {o: float(sum(us.values())) if us else np.nan for o, us in headcounts.items()}
    rows = []
    for rnd in rounds:
        n_org = [per_org.get((rnd, o), 0.0) for o in orgs]
        heads = [org_heads.get(o, np.nan) for o in orgs]
        whole_head = float(np.sum(heads)) if heads and not np.isnan(heads).any() else np.nan
        rows.append((rnd, "all", "all", float(sum(n_org)), whole_head))
        rows += [(rnd, "organisation", o, n, h) for o, n, h in zip(orgs, n_org, heads, strict=True)]
    out = pd.DataFrame(rows, columns=["round", "group_by", "group", "n", "headcount"])
    out["response_rate"] = out["n"] / out["headcount"]
    return suppress(
        out, n_columns=["n"], keep=["round", "group_by", "group", "headcount"], min_n=min_n
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
