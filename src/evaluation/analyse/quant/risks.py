"""Unit risk indicators of the QWL vendor (``risks.csv``): the vendor's value per unit and round,
the n-weighted mean of an organisation's units and of the whole study's, the level of each value
from the indicator's thresholds, the change from the previous round, and disclosure control
(primary and complementary suppression over the units -> organisation -> whole study sums).

Pure: no file is read or written here. The notebook (10-data-quality) passes the processed risks,
the respondent counts and the groups whose respondent count the study's disclosure plan hides.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import pandas as pd

RISK_TABLE_COLUMNS = ["indicator", "round", "group_by", "group", "n", "value", "level",
                      "previous_round", "change", "suppressed"]  # fmt: skip
RISK_KEEP = ("indicator", "round", "group_by", "group")


def unit_name(organisation: Any, unit: Any) -> str:
    """The ``group`` of a unit row: ``<organisation> / <unit>`` (as in prepost.csv)."""
    return f"{organisation} / {unit}"


def risk_table(
    risks: pd.DataFrame,
    counts: pd.DataFrame,
    *,
    definitions: Sequence[Any],
    rounds: Sequence[str],
    min_n: int,
    hidden: Collection[tuple[str, str, str]] = (),
) -> pd.DataFrame:
    """The table of record of the unit risk indicators.

    Parameters
    ----------
    risks : DataFrame
        ``round, organisation, unit, indicator, value`` and optionally ``n`` (the respondents
        the vendor's value is based on), one row per round, unit and indicator.
    counts : DataFrame
        ``round, organisation, unit, n``: the unit's respondents in the round; the weight of a
        unit whose risk row has no ``n``.
    definitions : sequence of :class:`evaluation.config.Risk`
        The indicators (order of the table) with their thresholds.
    rounds : sequence of str
        The study's rounds in time order (``change`` is against the previous one).
    min_n : int
        A group with fewer respondents (or none known) is suppressed.
    hidden : collection of (round, group_by, group)
        Groups whose respondent count the disclosure plan hides (``group_by`` ``unit``,
        ``organisation`` or ``all``): their rows are suppressed too.

    Returns
    -------
    DataFrame
        One row per indicator x round x grouping (``unit``, ``organisation``, ``all``) x group:
        ``indicator, round, group_by, group, n, value, level, previous_round, change,
        suppressed``. ``value`` of a unit is the vendor's; of an organisation or the whole
        study the n-weighted mean of its units, sum(n_u * v_u) / sum(n_u). A suppressed row
        keeps its identifying columns only. Complementary suppression: no sum relation
        (organisation = its units, whole study = its organisations) has exactly one hidden
        member, so no hidden value follows by subtraction; ``change`` is empty where either
        round's row is hidden.
    """
    order = {d.id: i for i, d in enumerate(definitions)}
    by_id = {d.id: d for d in definitions}
    round_pos = {r: i for i, r in enumerate(rounds)}
    if risks.empty:
        return pd.DataFrame(columns=RISK_TABLE_COLUMNS)
    units = risks[risks["indicator"].isin(order) & risks["value"].notna()].copy()
    for col in ("round", "organisation", "unit", "indicator"):
        units[col] = units[col].astype(str)
    weights = counts.assign(
        **{c: counts[c].astype(str) for c in ("round", "organisation", "unit")}
    ).rename(columns={"n": "_count"})[["round", "organisation", "unit", "_count"]]
    units = units.merge(weights, on=["round", "organisation", "unit"], how="left")
    given = units["n"] if "n" in units else pd.Series(np.nan, index=units.index)
    units["n"] = pd.to_numeric(given, errors="coerce").fillna(units["_count"]).astype("float64")
    units["group"] = [unit_name(o, u) for o, u in zip(units["organisation"], units["unit"],
                                                       strict=True)]  # fmt: skip
    units["group_by"] = "unit"

    rows: list[dict] = []
    for (ind, rnd), part in units.groupby(["indicator", "round"], sort=False):
        weighted = part[part["n"].notna() & (part["n"] > 0)]
        for r in part.itertuples(index=False):
            rows.append(
                {
                    "indicator": ind,
                    "round": rnd,
                    "group_by": "unit",
                    "group": r.group,
                    "organisation": r.organisation,
                    "n": r.n,
                    "value": float(r.value),
                }
            )
        for org, members in weighted.groupby("organisation", sort=True):
            rows.append(
                {
                    "indicator": ind,
                    "round": rnd,
                    "group_by": "organisation",
                    "group": org,
                    "organisation": org,
                    **_pooled(members),
                }
            )
        if not weighted.empty:
            rows.append({"indicator": ind, "round": rnd, "group_by": "all", "group": "all",
                         "organisation": None, **_pooled(weighted)})  # fmt: skip
    table = pd.DataFrame(rows)
    n = table["n"].astype("float64")
    hidden_set = {(str(x), str(g), str(v)) for x, g, v in hidden}
    primary = (n.isna() | (n < min_n)).to_numpy() | np.array(
        [(x, g, v) in hidden_set for x, g, v in zip(table["round"], table["group_by"],
                                                      table["group"], strict=True)], dtype=bool,
    )  # fmt: skip
    suppressed = _complementary(table, primary)
    levels = [
        by_id[i].level(v) if not s else None
        for i, v, s in zip(table["indicator"], table["value"], suppressed, strict=True)
    ]
    table["level"] = levels
    table["suppressed"] = suppressed
    table.loc[suppressed, ["n", "value"]] = np.nan
    table = _changes(table, list(rounds))
    table["_i"] = table["indicator"].map(order)
    table["_r"] = table["round"].map(round_pos).fillna(len(round_pos))
    table["_g"] = table["group_by"].map({"all": 0, "organisation": 1, "unit": 2})
    table = table.sort_values(["_i", "_r", "_g", "group"], kind="mergesort")
    return table[RISK_TABLE_COLUMNS].reset_index(drop=True)


def _pooled(members: pd.DataFrame) -> dict[str, float]:
    n = float(members["n"].sum())
    return {"n": n, "value": float((members["n"] * members["value"]).sum() / n)}


def _complementary(table: pd.DataFrame, primary: np.ndarray) -> np.ndarray:
    """Hide rows until no sum relation has exactly one hidden member: per indicator and round,
    each organisation = its units, and the whole study = its organisations. The cell added is
    a shown child of the smallest n (then the name), else the relation's total."""
    hidden = primary.copy()
    relations: list[tuple[int, list[int]]] = []  # (total row, child rows)
    pos = pd.RangeIndex(len(table))
    for _, part in table.groupby(["indicator", "round"], sort=False):
        idx = pos[part.index]
        by = part["group_by"].to_numpy()
        whole = idx[by == "all"]
        orgs = dict(zip(part.loc[by == "organisation", "group"], idx[by == "organisation"],
                        strict=True))  # fmt: skip
        for org, o in orgs.items():
            kids = idx[(by == "unit") & part["organisation"].eq(org).to_numpy()]
            relations.append((int(o), [int(k) for k in kids]))
        if len(whole):
            relations.append((int(whole[0]), [int(o) for o in orgs.values()]))
    n = table["n"].astype("float64").fillna(0).to_numpy()
    names = table["group"].astype(str).to_numpy()
    changed = True
    while changed:
        changed = False
        for total, kids in relations:
            members = [total, *kids]
            if sum(hidden[m] for m in members) != 1:
                continue
            shown = sorted((k for k in kids if not hidden[k]), key=lambda k: (n[k], names[k]))
            pick = shown[0] if shown else total
            if hidden[pick]:  # only the total is shown... and it is the hidden one: no-op
                continue
            hidden[pick] = True
            changed = True
    return hidden


def _changes(table: pd.DataFrame, rounds: list[str]) -> pd.DataFrame:
    """``previous_round`` (the study's round before this one) and ``change`` = value minus the
    group's value there, empty where either is hidden or missing."""
    previous = {r: rounds[i - 1] for i, r in enumerate(rounds) if i > 0}
    out = table.copy()
    out["previous_round"] = [previous.get(r) for r in out["round"]]
    value = {
        (i, by, g, r): v
        for i, by, g, r, v in zip(out["indicator"], out["group_by"], out["group"], out["round"],
                                  out["value"], strict=True)
    }  # fmt: skip
    before = [
        value.get((i, by, g, p), np.nan)
        for i, by, g, p in zip(out["indicator"], out["group_by"], out["group"],
                               out["previous_round"], strict=True)
    ]  # fmt: skip
    out["change"] = out["value"].astype("float64") - np.asarray(before, dtype="float64")
    return out
