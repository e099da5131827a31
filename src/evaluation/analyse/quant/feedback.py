"""Training feedback analysed: means with t intervals, shares of 4-5 answers with Wilson
intervals, per scale x round x grouping x group, and the reliability of the feedback items.

``feedback_summary`` builds the table of record ``feedback_summary.csv``; ``feedback_reliability``
builds ``feedback_reliability.csv`` (the columns of ``reliability.csv``, from
:func:`evaluation.analyse.quant.reliability.reliability_table`). Pure functions: no file is read
or written here.

Disclosure control is applied where the table is built: a group with 1 to ``min_n - 1``
answers is suppressed (primary), and then every published relation ``parent = sum of its
groups`` (the groups of one grouping add up to the whole round; an actor's organisations add
up to the actor) that has exactly one hidden member gets a second one (complementary
suppression), repeated until no relation has one, so a hidden group's n and mean cannot be
recovered by subtraction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from evaluation.analyse.groupings import FEEDBACK_GROUP_BYS
from evaluation.analyse.quant.descriptives import t_interval, wilson_interval
from evaluation.analyse.quant.reliability import reliability_table
from evaluation.analyse.suppression import _blank

FEEDBACK_SUMMARY_COLUMNS = [
    "scale",
    "round",
    "group_by",
    "group",
    "n",
    "mean",
    "sd",
    "ci_low",
    "ci_high",
    "share_high",
    "share_ci_low",
    "share_ci_high",
    "suppressed",
]
IDENTIFYING = ("scale", "round", "group_by", "group")


def _groups(data: pd.DataFrame, group_bys: Sequence[str]) -> list[tuple[str, str, pd.Index]]:
    """(grouping, group, row index) for the whole set and each group of each grouping present
    in ``data`` (a grouping whose column is missing or empty is left out)."""
    out = []
    for g in dict.fromkeys(group_bys):
        if g == "all":
            out.append(("all", "all", data.index))
            continue
        if g not in data or data[g].isna().all():
            continue
        for value, part in data.groupby(data[g].astype("string"), sort=True, dropna=True):
            out.append((g, str(value), part.index))
    return out


def _relations(
    rows: pd.DataFrame, nesting: Mapping[str, str] | None
) -> list[tuple[tuple, list[tuple]]]:
    """``(parent, children)`` keys ``(round, group_by, group)`` of every published relation:
    the groups of each grouping add up to the round's whole (``all``), and with ``nesting``
    (organisation -> actor) an actor's organisations add up to the actor."""
    out = []
    keys = rows[["round", "group_by", "group"]].drop_duplicates()
    for rnd, part in keys.groupby("round", sort=False):
        present = set(zip(part["group_by"], part["group"], strict=True))
        for by, sub in part[part["group_by"] != "all"].groupby("group_by", sort=False):
            out.append(((rnd, "all", "all"), [(rnd, by, g) for g in sub["group"]]))
        if nesting and "organisation" in set(part["group_by"]):
            orgs = part.loc[part["group_by"] == "organisation", "group"]
            for actor in sorted({nesting[o] for o in orgs if o in nesting}):
                if ("actor", actor) not in present:
                    continue
                children = [(rnd, "organisation", o) for o in orgs if nesting.get(o) == actor]
                out.append(((rnd, "actor", actor), children))
    return out


def complementary_suppression(
    hidden: Mapping[tuple, bool],
    n: Mapping[tuple, float],
    relations: list[tuple[tuple, list[tuple]]],
) -> dict[tuple, bool]:
    """Hide more cells until no relation ``parent = sum of children`` has exactly one hidden
    member (one unknown is found by subtraction). The second cell is the relation's shown
    child with the smallest positive n (then name; an empty group, which may be known to be
    empty, protects nothing); the parent only when no such child is left.

    ``hidden`` and ``n`` are keyed by cell; returns the new ``hidden`` (the input is kept).
    """
    out = dict(hidden)
    changed = True
    while changed:
        changed = False
        for parent, children in relations:
            members = [parent, *children]
            if sum(out.get(m, False) for m in members) != 1:
                continue
            shown = [c for c in children if not out.get(c, False) and n.get(c, 0.0) > 0]
            if shown:
                pick = min(shown, key=lambda c: (n.get(c, 0.0), str(c[2])))
            elif not out.get(parent, False):
                pick = parent
            else:  # pragma: no cover - a lone hidden parent always has a shown child
                continue
            out[pick] = True
            changed = True
    return out


def feedback_summary(
    data: pd.DataFrame,
    *,
    scales: Sequence[str],
    rounds: Sequence[str],
    group_bys: Sequence[str] = FEEDBACK_GROUP_BYS,
    nesting: Mapping[str, str] | None = None,
    high: float = 4.0,
    min_n: int = 5,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Feedback per scale x round x grouping x group: n, mean, SD and the t interval of the
    mean (:func:`t_interval`), and the share of answers of at least ``high`` (4-5 on a 1-5
    scale) with Wilson's interval (:func:`wilson_interval`).

    Disclosure control: a group (round x grouping x group) in which any scale has 1 to
    ``min_n - 1`` answers is suppressed for every scale (its rows keep ``scale, round,
    group_by, group``; ``suppressed = True``; a group without answers keeps ``n = 0`` and
    empty statistics); then complementary suppression over the relations of
    :func:`_relations` (:func:`complementary_suppression`), so that no hidden group's n or sum
    follows from a published total and its siblings. The whole-study row (``all``) is never
    chosen as the second cell while a group is left to hide.

    Parameters
    ----------
    data : DataFrame
        One row per feedback answer: ``round``, the ``scales`` columns (numbers; missing =
        not answered) and the grouping columns (``actor``, ``activity``, ``organisation``).
        Not modified.
    scales : list of str
        The columns summarised, in output order (the items and the instrument's score).
    rounds : list of str
        Round ids, in output order; a round without answers gets suppressed rows.
    group_bys : list of str
        Groupings among :data:`FEEDBACK_GROUP_BYS`; one whose column is absent or empty is
        left out.
    nesting : dict, optional
        Organisation -> actor (study.yaml): an actor's organisations add up to the actor.
    high : float
        The smallest answer counted in ``share_high``.
    min_n : int
        Smallest number of answers shown.
    ci : float
        Level of both intervals (``analysis.ci``).

    Returns
    -------
    DataFrame
        Columns :data:`FEEDBACK_SUMMARY_COLUMNS`.
    """
    if "round" not in data:
        raise ValueError("data has no column 'round'")
    absent = [s for s in scales if s not in data]
    if absent:
        raise ValueError(f"scale column(s) {absent} not in data")
    unknown = [g for g in group_bys if g not in FEEDBACK_GROUP_BYS]
    if unknown:
        raise ValueError(f"unknown grouping(s) {unknown}; known: {list(FEEDBACK_GROUP_BYS)}")
    rnd = data["round"].astype("string")
    rows = []
    for group_by, group, index in _groups(data, group_bys):
        part = data.loc[index]
        for r in rounds:
            at = part[(rnd.loc[index] == r).fillna(False).to_numpy()]
            for scale in scales:
                values = pd.to_numeric(at[scale], errors="coerce").to_numpy(dtype="float64")
                values = values[np.isfinite(values)]
                t = t_interval(values, ci=ci)
                k = int((values >= high).sum())
                low, upp = wilson_interval(k, t["n"], ci=ci)
                rows.append(
                    {
                        "scale": scale,
                        "round": r,
                        "group_by": group_by,
                        "group": group,
                        "n": float(t["n"]),
                        "mean": t["mean"],
                        "sd": t["sd"],
                        "ci_low": t["ci_low"],
                        "ci_high": t["ci_high"],
                        "share_high": k / t["n"] if t["n"] else math.nan,
                        "share_ci_low": low,
                        "share_ci_high": upp,
                        "suppressed": False,
                    }
                )
    if not rows:
        out = pd.DataFrame({c: pd.Series(dtype="float64") for c in FEEDBACK_SUMMARY_COLUMNS})
        out[list(IDENTIFYING)] = out[list(IDENTIFYING)].astype(object)
        out["suppressed"] = out["suppressed"].astype(bool)
        return out
    out = pd.DataFrame(rows, columns=FEEDBACK_SUMMARY_COLUMNS)
    cell = list(zip(out["round"], out["group_by"], out["group"], strict=True))
    # A group is hidden when any scale has 1..min_n-1 answers; a group without any answer
    # (n = 0 on every scale) is shown as such: it discloses nothing and hides nothing.
    small = out["n"].gt(0) & out["n"].lt(min_n)
    by_cell = out.assign(_small=small).groupby(["round", "group_by", "group"], sort=False)
    primary = {key: bool(v) for key, v in by_cell["_small"].any().items()}
    n = {key: float(v) for key, v in by_cell["n"].max().items()}
    hidden = complementary_suppression(primary, n, _relations(out, nesting))
    suppressed = np.array([hidden[c] for c in cell], dtype=bool)
    out = _blank(out, suppressed, set(IDENTIFYING))
    stat_cols = [c for c in FEEDBACK_SUMMARY_COLUMNS if c not in (*IDENTIFYING, "suppressed")]
    out[stat_cols] = out[stat_cols].astype("float64")
    out["suppressed"] = out["suppressed"].astype(bool)
    return out.reset_index(drop=True)


def feedback_reliability(
    data: pd.DataFrame,
    *,
    instrument: str,
    items: Sequence[str],
    rounds: Sequence[str],
    min_n: int = 5,
    ci: float = 0.95,
    reps: int = 999,
    seed: int = 0,
) -> pd.DataFrame:
    """Reliability of the feedback items per round: Cronbach's alpha with Feldt's interval
    and McDonald's omega with a percentile bootstrap interval
    (:func:`evaluation.analyse.quant.reliability.reliability_table`, one instrument); the
    columns of ``reliability.csv``. Omega needs at least three items."""
    return reliability_table(
        data,
        instruments={instrument: list(items)},
        rounds=list(rounds),
        min_n=min_n,
        ci=ci,
        reps=reps,
        seed=seed,
    )


__all__ = [
    "FEEDBACK_GROUP_BYS",
    "FEEDBACK_SUMMARY_COLUMNS",
    "complementary_suppression",
    "feedback_reliability",
    "feedback_summary",
    "t_interval",
    "wilson_interval",
]
