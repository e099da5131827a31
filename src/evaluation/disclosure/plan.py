"""The model of everything the package publishes about survey respondents, and its plan.

Every published count or mean of respondents is a *cell* of one model
(:mod:`evaluation.disclosure.sdc`):

``T|m|x|g|v``        respondents of group ``g = v`` with a value of measure ``m`` in round ``x``
                     (``n`` and the sum ``s`` of their values); ``m = _respondents`` counts
                     respondents whatever they answered (``respondents.csv``);
``P|m|R|g|v|b|r``    the respondents of the group linked between the baseline and round ``R``
                     (``b``: their baseline values, ``r``: their round-``R`` values);
``I|m|R|g|v|b|r``    the unlinked rest of the group in the baseline / round ``R``;
``B|m_band|x|g|v|b``  respondents of group ``g = v`` (the whole study or an organisation) in band
                     ``b`` of instrument ``m`` in round ``x`` (``bands.csv``; counts only);
``X|...``            what a partition leaves over (respondents with no role, say): never shown.

and the relations an attacker can use are declared here, once:

- nesting and partitions: ``all = sum of actor = sum of organisation = sum of sector = sum of
  size = sum of role = sum of participant`` (plus the remainder with no value, when there is
  one); ``actor / sector / size = sum of its organisations``; ``organisation = sum of its units``;
- a group's bands add up to its respondents with a value (``T``), and the organisations' count
  of a band to the whole study's;
- the ``design: auto`` split: ``T = P + I`` at both ends of every comparison, with the same
  baseline total for every round compared, and ``n(P, baseline) = n(P, round)``;
- every other table's numbers are these cells (``trajectories``, ``distributions``, ``meta``,
  ``lmm``, ``power``, ``respondents``, ``respondent_totals``: the report covers read the
  whole-study and organisation counts ``T|_respondents|x|all|all`` and
  ``T|_respondents|x|organisation|o`` from ``respondent_totals.csv``).

A cell counts as published unless the plan hides it, so the attacker is credited with every
total, even one no table shows directly. :func:`make_plan` chooses the hidden cells over the
whole model at once (:func:`evaluation.disclosure.sdc.secondary_suppression`), audits the result and
stores it in ``data/processed/disclosure.parquet``; :func:`hide_rows` then hides every row of a
table that shows a hidden cell, so all tables, notebooks and reports follow one plan.
Theme counts (``themes.csv``) are a model of their own, built where the table is written
(:func:`theme_model`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from evaluation.analyse.groupings import ATTRITION_BY, composition_by
from evaluation.disclosure import AUDIT_FILE, PLAN_FILE
from evaluation.errors import DisclosureError, EvaluationError
from evaluation.io.files import PLAN_WAIT_ENV

if TYPE_CHECKING:  # the model and its solver (highspy, scipy.sparse): imported where used, so
    # that what only reads a plan (every notebook's tables: hide_rows) does not import them
    from evaluation.disclosure import sdc

log = logging.getLogger(__name__)

RESPONDENTS = "_respondents"
NESTED = ("actor", "sector", "size")  # groupings that are properties of an organisation
SEP = "|"


def cell_id(*parts: object) -> str:
    return SEP.join(str(p) for p in parts)


class _Builder:
    def __init__(self) -> None:
        self.cells: dict[str, dict] = {}
        self.terms: list[tuple[int, str, float, str]] = []
        self.rel = 0

    def cell(
        self, cid: str, n: float, s: float = np.nan, *, lo=np.nan, hi=np.nan, shown=True,
        together: str | None = None,
    ) -> str:  # fmt: skip
        self.cells[cid] = {"n": float(n), "s": float(s), "lo": lo, "hi": hi, "shown": shown,
                           "together": together}  # fmt: skip
        return cid

    def relation(self, parent: str, children: Iterable[str], kind: str = "ns") -> None:
        children = list(children)
        if not children:
            return
        self.terms.append((self.rel, parent, 1.0, kind))
        self.terms += [(self.rel, c, -1.0, kind) for c in children]
        self.rel += 1

    def model(self) -> sdc.Model:
        cells = pd.DataFrame.from_dict(self.cells, orient="index")
        cells = cells.sort_index(kind="mergesort")
        # Hiding a whole-study cell loses most; otherwise the smallest n goes first.
        cells["cost"] = cells["n"] + np.where(cells.index.str.contains(r"\|all\|all"), 1e12, 0)
        from evaluation.disclosure import sdc

        return sdc.Model.build(cells, self.terms)


def _labels(scores: pd.DataFrame, group_by: str) -> pd.Series:
    from evaluation.analyse.rows import group_labels

    return pd.Series(group_labels(scores, group_by), index=scores.index, dtype="object")


def _groupings(scores: pd.DataFrame, group_bys: list[str]) -> list[str]:
    """Every grouping the model needs: the configured ones, organisation and unit (nesting,
    meta.csv, respondents.csv) and participant (trajectories.csv, lmm.csv)."""
    wanted = ["all", *group_bys, "organisation", "unit", "participant"]
    out = []
    for g in dict.fromkeys(wanted):
        unit_ok = g == "unit" and {"organisation", "unit"} <= set(scores)
        if g == "all" or unit_ok or (g != "unit" and g in scores):
            out.append(g)
    return out


@dataclass(frozen=True)
class _Rows:
    """The rows of a study as integer codes, computed once: the round of each row, its group
    in every grouping (-1: none) and its link code (-1: none)."""

    round: np.ndarray
    round_index: dict[str, int]
    groups: dict[str, tuple[np.ndarray, np.ndarray]]  # grouping -> (group id per row, names)
    code: np.ndarray
    _pairs: dict[str, tuple[np.ndarray, int]] = field(default_factory=dict, compare=False)

    def pairs(self, grouping: str) -> tuple[np.ndarray, int]:
        """Per row the id of its (group, link code) pair in ``grouping`` (-1: no group or no
        code) and the number of pairs; computed once per grouping."""
        if grouping not in self._pairs:
            gid = self.groups[grouping][0]
            sel = (gid >= 0) & (self.code >= 0)
            n_codes = int(self.code.max()) + 1 if sel.any() else 1
            pid = np.full(len(gid), -1, dtype=np.int64)
            dense, uniques = pd.factorize(gid[sel].astype(np.int64) * n_codes + self.code[sel])
            pid[sel] = dense
            self._pairs[grouping] = (pid, len(uniques))
        return self._pairs[grouping]

    @classmethod
    def of(cls, frame: pd.DataFrame, groupings: list[str]) -> _Rows:
        from evaluation.analyse.rows import link_codes

        rid, rnames = pd.factorize(frame["round"].astype("string").to_numpy(dtype=object))
        groups = {}
        for g in groupings:
            gid, names = pd.factorize(_labels(frame, g).to_numpy(dtype=object))
            groups[g] = (gid, np.asarray(names, dtype=object).astype(str))
        code, _ = pd.factorize(link_codes(frame))
        return cls(rid, {str(r): i for i, r in enumerate(rnames)}, groups, code)

    def at(self, rnd: str) -> np.ndarray:
        return self.round == self.round_index.get(rnd, -2)


def _sums(gid: np.ndarray, sel: np.ndarray, v: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    """Count and sum of ``v`` per group over the selected rows."""
    ids = gid[sel]
    return np.bincount(ids, minlength=size), np.bincount(ids, weights=v[sel], minlength=size)


def _distinct_pairs(first: np.ndarray, second: np.ndarray, n_second: int) -> np.ndarray:
    """The distinct (first, second) pairs of non-negative codes as a 2 x k array sorted by
    first, then second: ``np.unique(np.stack([first, second]), axis=1)``, by counting the
    combined codes (no sort of the rows)."""
    key = first.astype(np.int64) * n_second + second
    seen = np.flatnonzero(np.bincount(key)) if len(key) else np.array([], dtype=np.int64)
    return np.stack([seen // n_second, seen % n_second])


def _add_totals(
    b: _Builder,
    measure: str,
    rows: _Rows,
    values: np.ndarray | None,
    rounds: list[str],
    bounds: tuple[float, float],
) -> None:
    """T cells of one measure and their partition / nesting relations."""
    lo, hi = bounds
    size = len(rows.round)
    has = ~np.isnan(values) if values is not None else np.ones(size, dtype=bool)
    v = np.nan_to_num(values) if values is not None else np.zeros(size)

    def s_of(x: float) -> float:
        return float(x) if values is not None else np.nan

    def remainder(parent: str, n_parent: float, s_parent: float, g: str, n_kids, s_kids):
        n_rest = n_parent - float(n_kids)
        if n_rest <= 0:
            return []
        rid = cell_id("X", parent, g)
        b.cell(rid, n_rest, s_of(s_parent - float(s_kids)), lo=lo, hi=hi, shown=False)
        return [rid]

    for x in rounds:
        at = has & rows.at(x)
        if not at.any():
            continue
        totals: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for g, (gid, names) in rows.groups.items():
            n, s = _sums(gid, at & (gid >= 0), v, len(names))
            totals[g] = (n, s, np.flatnonzero(n > 0))
            for k in totals[g][2]:
                b.cell(cell_id("T", measure, x, g, names[k]), n[k], s_of(s[k]), lo=lo, hi=hi)
        whole = cell_id("T", measure, x, "all", "all")
        n_all, s_all = float(at.sum()), float(v[at].sum())
        for g, (n, s, present) in totals.items():
            if g in ("all", "unit"):
                continue
            names = rows.groups[g][1]
            children = [cell_id("T", measure, x, g, names[k]) for k in present]
            children += remainder(whole, n_all, s_all, g, n.sum(), s.sum())
            b.relation(whole, children)
        # Nesting: units in their organisation; organisations in their actor, sector, size.
        if "unit" in totals and "organisation" in totals:
            n, s, present = totals["unit"]
            names = rows.groups["unit"][1]
            by_org: dict[str, list[int]] = {}
            for k in present:
                by_org.setdefault(names[k].split(" / ")[0], []).append(k)
            for org, kids in by_org.items():
                parent = cell_id("T", measure, x, "organisation", org)
                if parent not in b.cells:
                    continue
                p = b.cells[parent]
                children = [cell_id("T", measure, x, "unit", names[k]) for k in kids]
                children += remainder(parent, p["n"], p["s"], "unit", n[kids].sum(), s[kids].sum())
                b.relation(parent, children)
        if "organisation" in totals:
            org_id, org_names = rows.groups["organisation"]
            n_org, s_org, _ = totals["organisation"]
            for g in NESTED:
                if g not in totals:
                    continue
                gid, names = rows.groups[g]
                sel = at & (org_id >= 0) & (gid >= 0)
                pairs = _distinct_pairs(org_id[sel], gid[sel], len(names))
                if len(np.unique(pairs[0])) < pairs.shape[1]:
                    continue  # not a property of the organisation here
                owner = dict(zip(pairs[0].tolist(), pairs[1].tolist(), strict=True))
                for k in totals[g][2]:
                    kids = [o for o, gk in owner.items() if gk == k and n_org[o] > 0]
                    parent = cell_id("T", measure, x, g, names[k])
                    p = b.cells[parent]
                    children = [
                        cell_id("T", measure, x, "organisation", org_names[o]) for o in kids
                    ]
                    children += remainder(
                        parent, p["n"], p["s"], "organisation", n_org[kids].sum(), s_org[kids].sum()
                    )
                    b.relation(parent, children)


def _linked(rows: _Rows, grouping: str, at_b: np.ndarray, at_r: np.ndarray) -> np.ndarray:
    """The rows at either end whose (group, code) pair answers exactly once at both ends:
    counted per pair id (computed once per grouping), no sort of the rows."""
    pid, n_pairs = rows.pairs(grouping)
    paired = pid >= 0
    cb = np.bincount(pid[at_b & paired], minlength=n_pairs)
    cr = np.bincount(pid[at_r & paired], minlength=n_pairs)
    once = np.append((cb == 1) & (cr == 1), False)  # the last: no pair (id -1)
    return (at_b | at_r) & once[pid]


def _add_links(
    b: _Builder,
    measure: str,
    rows: _Rows,
    values: np.ndarray,
    rounds: list[str],
    baseline: str,
    design: str,
    bounds: tuple[float, float],
    nests: list[Nest],
) -> None:
    """P and I cells of one measure (linked / unlinked respondents of every comparison): a
    code links when it appears exactly once in the group at both ends (as in
    :func:`evaluation.analyse.quant.effects.prepost_table`)."""
    lo, hi = bounds
    has = ~np.isnan(values)
    v = np.nan_to_num(values)
    at_b = has & rows.at(baseline)
    for x in [r for r in rounds if r != baseline]:
        at_r = has & rows.at(x)
        if not at_r.any() or not at_b.any():
            continue
        linked_by: dict[str, np.ndarray] = {}
        for g, (gid, names) in rows.groups.items():
            ok = gid >= 0
            linked = _linked(rows, g, at_b, at_r)
            sides = {}
            for tag, side in (("b", at_b), ("r", at_r)):
                t_n, t_s = _sums(gid, side & ok, v, len(names))
                p_n, p_s = _sums(gid, side & linked, v, len(names))
                sides[tag] = (t_n, t_s, p_n, p_s)
            linked_by[g] = linked
            present = np.flatnonzero(sides["b"][0] + sides["r"][0] > 0)
            for k in present:
                value = names[k]
                for tag in ("b", "r"):
                    total = cell_id("T", measure, baseline if tag == "b" else x, g, value)
                    if total not in b.cells:
                        continue
                    t_n, t_s, p_n, p_s = (a[k] for a in sides[tag])
                    parts = []
                    for kind, n, s in (("P", p_n, p_s), ("I", t_n - p_n, t_s - p_s)):
                        shown = not (kind == "I" and design == "paired")
                        parts.append(
                            b.cell(
                                cell_id(kind, measure, x, g, value, tag), n, s, lo=lo, hi=hi,
                                shown=shown, together=cell_id(kind, measure, x, g, value),
                            )
                        )  # fmt: skip
                    b.relation(total, parts)
                pair = [cell_id("P", measure, x, g, value, tag) for tag in ("b", "r")]
                if all(c in b.cells for c in pair):
                    b.relation(pair[0], pair[1:], kind="n")
        _add_link_partitions(b, measure, x, rows, linked_by, nests, bounds)


Nest = tuple[str, str, dict[int, list[int]]]  # parent grouping, child grouping, kids per parent


def _nestings(rows: _Rows) -> list[Nest]:
    """(parent grouping, child grouping, child groups of each parent group) for the groupings
    whose groups may add up: every grouping in the whole study, units in their organisation,
    organisations in their actor, sector and size (where each child group lies in one parent
    group). Computed once per model: it does not depend on the measure or the round."""
    pairs = [("all", g) for g in rows.groups if g != "all"]
    if "organisation" in rows.groups:
        pairs += [("organisation", "unit")] if "unit" in rows.groups else []
        pairs += [(g, "organisation") for g in NESTED if g in rows.groups]
    out = []
    for parent_g, child_g in pairs:
        pid, pnames = rows.groups[parent_g]
        cid, _ = rows.groups[child_g]
        both = (pid >= 0) & (cid >= 0)
        keys = np.unique(cid[both].astype(np.int64) * len(pnames) + pid[both])
        children, parents = keys // len(pnames), keys % len(pnames)
        if len(np.unique(children)) < len(children):
            continue  # a child group spans several parent groups
        kids_of: dict[int, list[int]] = {}
        for child, parent in zip(children.tolist(), parents.tolist(), strict=True):
            kids_of.setdefault(parent, []).append(child)
        out.append((parent_g, child_g, kids_of))
    return out


def _add_link_partitions(
    b: _Builder,
    measure: str,
    x: str,
    rows: _Rows,
    linked_by: dict[str, np.ndarray],
    nests: list[Nest],
    bounds: tuple[float, float],
) -> None:
    """Linked (P) cells add up along a partition wherever the members of each child group are
    linked exactly as they are in the parent group (nobody changed group between the rounds, the
    usual case). Then the unlinked (I) cells add up too (I = T - P), and an attacker can subtract
    published independent-sample rows from their total just as with the totals: the relation
    must be in the model. Where the linkage differs, no such identity holds and none is added."""
    lo, hi = bounds
    for parent_g, child_g, kids_of in nests:
        if parent_g not in linked_by or child_g not in linked_by:
            continue
        both = (rows.groups[parent_g][0] >= 0) & (rows.groups[child_g][0] >= 0)
        if (linked_by[parent_g][both] != linked_by[child_g][both]).any():
            continue
        pnames, cnames = rows.groups[parent_g][1], rows.groups[child_g][1]
        for tag in ("b", "r"):
            for parent, kids in kids_of.items():
                whole = cell_id("P", measure, x, parent_g, pnames[parent], tag)
                if whole not in b.cells:
                    continue
                children = [cell_id("P", measure, x, child_g, cnames[k], tag) for k in kids]
                children = [c for c in children if c in b.cells]
                n_kids = sum(b.cells[c]["n"] for c in children)
                s_kids = sum(b.cells[c]["s"] for c in children)
                n_rest = b.cells[whole]["n"] - n_kids
                if n_rest > 0:  # linked members of the parent group outside every child group
                    rest = cell_id("X", whole, child_g)
                    s_rest = b.cells[whole]["s"] - s_kids
                    children.append(b.cell(rest, n_rest, s_rest, lo=lo, hi=hi, shown=False))
                b.relation(whole, children)


def build_model(study, scores: pd.DataFrame) -> sdc.Model:
    """The survey model of ``study`` from its scored responses (one row per respondent and
    round): every measure's T cells (and P/I cells unless the design is independent) and the
    respondent counts."""
    b = _Builder()
    rows = _Rows.of(scores, _groupings(scores, study.group_bys))
    nests = _nestings(rows) if study.design != "independent" else []
    rounds = study.round_ids
    _add_respondents(b, scores, study.group_bys, rounds)
    ranges = _measure_ranges(study)
    for m in study.measures:
        if m not in scores:
            continue
        values = pd.to_numeric(scores[m], errors="coerce").astype("float64")
        bounds = _bounds(ranges, m, values)
        values = values.to_numpy(dtype="float64", na_value=np.nan)
        _add_totals(b, m, rows, values, rounds, bounds)
        if study.design != "independent":
            _add_links(b, m, rows, values, rounds, study.baseline, study.design, bounds, nests)
        _add_attrition(b, m, rows, values, rounds, study.baseline, study.design, bounds)
    for inst in study.instruments.values():
        column = f"{inst.id}_band"
        if inst.file == "responses" and inst.bands and column in scores and inst.id in scores:
            _add_bands(b, inst.id, scores[column], rows, rounds, [x.id for x in inst.bands])
    return b.model()


#: The groupings of ``bands.csv`` (:func:`evaluation.analyse.quant.descriptives.band_shares`).
BAND_GROUPINGS = ("all", "organisation")


def _band_cell(measure: str, x: str, g: str, v: str, band: str) -> str:
    """``B|<id>_band|x|g|v|band``: respondents of group ``g = v`` in ``band`` in round ``x``."""
    return cell_id("B", f"{measure}_band", x, g, v, band)


def _add_bands(
    b: _Builder, measure: str, values: pd.Series, rows: _Rows, rounds: list[str], bands: list[str]
) -> None:
    """B cells of ``bands.csv`` (counts only): the bands of a group add up to its respondents
    with a value of ``measure`` (``T|measure|x|g|v``, the row's ``n_round``); the
    organisations' counts of a band add up to the whole study's (plus the respondents with no
    organisation)."""
    code = pd.Categorical(values.astype("string"), categories=bands).codes  # -1: no band
    for x in rounds:
        at = rows.at(x) & (code >= 0)
        if not at.any():
            continue
        for g in [g for g in BAND_GROUPINGS if g in rows.groups]:
            gid, names = rows.groups[g]
            for k, value in enumerate(names):
                total = _t(measure, x, g, value)
                member = at & (gid == k)
                if total not in b.cells or not member.any():
                    continue
                counts = np.bincount(code[member], minlength=len(bands))
                kids = [
                    b.cell(_band_cell(measure, x, g, value, name), int(n))
                    for name, n in zip(bands, counts, strict=True)
                    if n > 0
                ]
                b.relation(total, kids, kind="n")
        if "organisation" not in rows.groups:
            continue
        names = rows.groups["organisation"][1]
        for name in bands:
            whole = _band_cell(measure, x, "all", "all", name)
            if whole not in b.cells:
                continue
            kids = [_band_cell(measure, x, "organisation", o, name) for o in names]
            kids = [c for c in kids if c in b.cells]
            rest = b.cells[whole]["n"] - sum(b.cells[c]["n"] for c in kids)
            if rest > 0:
                kids.append(b.cell(cell_id("X", whole, "organisation"), rest, shown=False))
            b.relation(whole, kids, kind="n")


def build_summary_model(study, summaries: pd.DataFrame) -> sdc.Model:
    """The model in summary-statistics mode: T cells from the vendor's unit aggregates."""
    from evaluation.analyse.rows import unusable_cells

    b = _Builder()
    # Cells without mean or SD are in no published group (the analyses leave them out), so
    # they are in no cell of the model either: its n are the published n.
    frame = summaries.loc[~unusable_cells(summaries)].copy()
    frame["n"] = pd.to_numeric(frame["n"], errors="coerce").fillna(0)
    frame["s"] = frame["n"] * pd.to_numeric(frame["mean"], errors="coerce")
    rounds = study.round_ids
    ranges = _measure_ranges(study)
    attributes = {a: {n: getattr(o, a) for n, o in study.organisations.items()} for a in NESTED}
    banded = {
        i.id: [x.id for x in i.bands]
        for i in study.instruments.values()
        if i.file == "responses" and i.bands
    }
    for m, part in frame.groupby("measure", sort=True):
        # One row per respondent, each with the unit's mean: the same n and sums per group.
        rows = part.loc[part.index.repeat(part["n"].astype(int))].reset_index(drop=True)
        rows["v"] = (rows["s"] / rows["n"]).astype("float64")
        for attr, mapping in attributes.items():
            if attr not in rows:
                rows[attr] = rows["organisation"].map(mapping).astype("string")
        coded = _Rows.of(rows, _groupings(rows, study.group_bys))
        values = rows["v"].to_numpy(dtype="float64", na_value=np.nan)
        _add_totals(b, str(m), coded, values, rounds, _bounds(ranges, str(m), rows["v"]))
        if str(m) in banded:  # the vendor's band counts (bands.csv), where delivered
            labels = _summary_band_labels(part, banded[str(m)])
            if labels is not None:
                _add_bands(b, str(m), labels, coded, rounds, banded[str(m)])
    return b.model()


def _summary_band_labels(part: pd.DataFrame, bands: list[str]) -> pd.Series | None:
    """The band of each row of ``part`` repeated ``n`` times (as in
    :func:`build_summary_model`): a cell's first ``band_<b1>`` rows in ``b1``, and so on;
    None without counts. Validation makes every cell of a measure with counts have them, adding
    up to ``n`` (:func:`evaluation.pipeline.process.load_summaries`)."""
    columns = [f"band_{b}" for b in bands]
    if not set(columns) <= set(part.columns) or part[columns].isna().all(axis=None):
        return None
    counts = part[columns].to_numpy(dtype="float64", na_value=np.nan)
    n = part["n"].to_numpy(dtype="float64").astype(int)
    labels: list[object] = []
    for row, size in zip(counts, n, strict=True):
        if np.isnan(row).any() or int(row.sum()) != size:
            labels += [None] * size
        else:
            labels += np.repeat(np.asarray(bands, dtype=object), row.astype(int)).tolist()
    return pd.Series(labels, dtype="string")


def _bounds(ranges: dict, measure: str, values: pd.Series) -> tuple[float, float]:
    """The range of one value that the attacker knows: the instrument's scale, widened to the
    values seen (so the relations can never contradict the bounds)."""
    lo, hi = ranges.get(measure, (np.nan, np.nan))
    if values.notna().any():
        lo = min(lo, float(values.min())) if np.isfinite(lo) else float(values.min())
        hi = max(hi, float(values.max())) if np.isfinite(hi) else float(values.max())
    return lo, hi


def _measure_ranges(study) -> dict[str, tuple[float, float]]:
    out = {}
    for inst in study.instruments.values():
        if inst.file != "responses":
            continue
        k = len(inst.items) if inst.score_method == "sum" and inst.items else 1
        for m in inst.measures:
            out[m] = (inst.range_min * k, inst.range_max * k)
    return out


# --------------------------------------------------------------------------- the plan


def make_plan(study, themes: Callable[[], pd.DataFrame | None] | None = None) -> dict:
    """Choose the hidden cells for ``study`` (processed data must exist), audit them, and
    write ``data/processed/disclosure.parquet`` and ``disclosure-audit.json``. Returns the
    audit summary; raises :class:`~evaluation.errors.DisclosureError` when a primary cell
    stays exposed (nothing else is written then). The themes' counts are planned here too
    (their own model, :func:`theme_model`), so ``themes.csv`` and the joint display follow one
    plan and a refusal comes before anything is published. ``themes`` computes ``themes.csv``
    before suppression (None: no codings), as the qualitative notebook does."""
    from evaluation.disclosure import sdc
    from evaluation.io.files import atomic_write, write_text

    processed = study.paths.processed
    design = study.design
    if (processed / "scores.parquet").is_file():
        model = build_model(study, pd.read_parquet(processed / "scores.parquet"))
    elif (processed / "summaries.parquet").is_file():
        model = build_summary_model(study, pd.read_parquet(processed / "summaries.parquet"))
        design = "independent"  # Welch rows of whole groups: their cells are totals
    else:
        model = None
    frames, record = [], {}
    if model is not None and not model.cells.empty:
        hidden, audit, summary = sdc.solve(model, study.min_n)
        _refuse(audit, study.min_n, describe, "the published tables")
        frames.append(_plan_frame(model, hidden, study.min_n))
    else:
        summary = {"cells": 0, "primary": 0, "secondary": 0, "exposed": 0}
    try:
        themes = themes() if themes is not None else None
    except EvaluationError:
        raise
    except Exception as exc:  # the qualitative notebook then fails and says why (exit 3)
        log.warning("disclosure: themes not planned (%s); they are protected when written", exc)
        themes = None
    if themes is not None and not themes.empty:
        theme_model_ = theme_model(themes, _actors(study))
        hidden, audit, record["themes"] = sdc.solve(theme_model_, study.min_n)
        _refuse(audit, study.min_n, describe_theme_cell, "themes.csv")
        frames.append(_plan_frame(theme_model_, hidden, study.min_n))
    plan = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame({"cell": pd.Series(dtype="string"), "hidden": pd.Series(dtype=bool)})
    )
    atomic_write(processed / PLAN_FILE, lambda p: plan.to_parquet(p, index=False))
    record.update(summary=summary, design=design, baseline=study.baseline,
                  min_n=study.min_n, actors=_actors(study))  # fmt: skip
    write_text(processed / AUDIT_FILE, json.dumps(record, indent=1, sort_keys=True) + "\n")
    log.info(
        "disclosure: %s primary and %s secondary cell(s) hidden; audit: %s exposed",
        summary.get("primary"),
        summary.get("secondary"),
        summary.get("exposed"),
    )
    return summary


def _refuse(audit: pd.DataFrame, min_n: int, name, where: str) -> None:
    exposed = audit[~audit["protected"]]
    if len(exposed):
        names = ", ".join(name(c) for c in exposed["cell"].head(5))
        raise DisclosureError(
            f"disclosure audit: {len(exposed)} count(s) below min_n = {min_n} could be "
            f"recovered from {where} ({names}); nothing was published"
        )


def _plan_frame(model: sdc.Model, hidden: pd.Series, min_n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cell": model.cells.index.astype("string"),
            "hidden": hidden.to_numpy(),
            "primary": model.primary(min_n).to_numpy(),
            "shown": model.cells["shown"].to_numpy(dtype=bool),
        }
    )


def _actors(study) -> dict[str, str]:
    return {name: o.actor for name, o in sorted(study.organisations.items()) if o.actor}


def describe(cell: str) -> str:
    """A cell id for a message: table-like words, never a value."""
    parts = cell.split(SEP)
    kind = {"T": "group", "P": "linked respondents", "I": "unlinked respondents", "X": "rest"}
    if parts[0] == "X":
        return f"respondents without {parts[-1]} in {describe(SEP.join(parts[1:-1]))}"
    measure, rnd, g, value = parts[1:5]
    what = "respondents" if measure == RESPONDENTS else measure
    return f"{what} {rnd} {g} '{value}' ({kind.get(parts[0], parts[0])})"


PLAN_MADE, PLAN_FAILED = "made", "failed"  # what the file of PLAN_WAIT_ENV says


def plan_made(marker: str | None = None) -> bool:
    """Whether the study's plan stands: while ``evaluation run`` makes it beside the analyses,
    ``marker`` (default: the file named by ``PLAN_WAIT_ENV``) says when it is made; this waits
    for it, and is False if the plan could not be made (refused by the audit, bad input).
    True at once outside such a run."""
    marker = marker if marker is not None else os.environ.get(PLAN_WAIT_ENV)
    if not marker:
        return True
    path = Path(marker)
    while not path.is_file():  # written atomically by the run, once
        time.sleep(0.02)
    return path.read_text(encoding="utf-8").strip() == PLAN_MADE


def _plan_stands() -> None:
    """Every read of the plan: wait while the run makes it (:func:`plan_made`)."""
    if not plan_made():
        raise DisclosureError("the disclosure plan could not be made: nothing is published")


def load_record(processed: Path) -> dict:
    """The plan's record (audit summary, design, baseline, min_n, actors); {} without one."""
    _plan_stands()
    path = processed / AUDIT_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def describe_theme_cell(cell: str) -> str:
    """A themes.csv cell for a message (code, round, group; never a count)."""
    parts = cell.split(SEP)
    if parts[0] == "A":
        return f"answers {parts[1]} {parts[2]} '{parts[3]}'"
    if parts[0] in ("C", "N"):
        return f"code '{parts[1]}' {parts[2]} {parts[3]} '{parts[4]}'"
    return "answers of a group without " + parts[-1]


@dataclass(frozen=True)
class Plan:
    """The hidden cells of a study and what the row mapping needs to know."""

    hidden: frozenset[str]
    design: str
    baseline: str


@lru_cache(maxsize=8)
def _load_plan(path: str, mtime: float) -> Plan:
    frame = pd.read_parquet(path)
    record = json.loads((Path(path).parent / AUDIT_FILE).read_text(encoding="utf-8"))
    hidden = frozenset(frame.loc[frame["hidden"], "cell"].astype(str))
    return Plan(hidden, str(record.get("design", "auto")), str(record.get("baseline", "")))


def load_plan(processed: Path) -> Plan | None:
    """The study's plan, or None when there is none (then only the per-table rules apply)."""
    _plan_stands()
    path = processed / PLAN_FILE
    if not path.is_file() or not (processed / AUDIT_FILE).is_file():
        return None
    return _load_plan(str(path), path.stat().st_mtime_ns)


# --------------------------------------------------------------------------- rows -> cells


def _t(m, x, g, v) -> str:
    return cell_id("T", m, x, g, v)


def row_cells(name: str, frame: pd.DataFrame, design: str, baseline: str) -> list[list[str]] | None:
    """The model cells each row of table ``name`` shows (None: the table is not in the model)."""
    cols = frame.columns
    if name == "prepost":
        out = []
        for r in frame.itertuples(index=False):
            m, g, v, x, base = r.measure, r.group_by, r.group, r.round, r.baseline
            if r.design == "paired":
                out.append([cell_id("P", m, x, g, v, "b"), cell_id("P", m, x, g, v, "r")])
            elif design == "independent" or r.design == "partial_overlap":
                # Every respondent of the group at both ends: the whole-group totals (T = P + I
                # is in the model already, so the attacker is credited with the split).
                out.append([_t(m, base, g, v), _t(m, x, g, v)])
            else:
                out.append([cell_id("I", m, x, g, v, "b"), cell_id("I", m, x, g, v, "r")])
        return out
    if name == "trajectories":
        return [
            [_t(m, x, g, v)]
            for m, x, g, v in zip(
                frame["measure"], frame["round"], frame["group_by"], frame["group"], strict=True
            )
        ]
    if name == "bands" and "group_by" in cols:
        out = []
        for r in frame.itertuples(index=False):
            m = str(r.measure).removesuffix("_band")
            g, v = str(r.group_by), str(r.group)
            out.append([_t(m, r.round, g, v), _band_cell(m, r.round, g, v, r.band)])
        return out
    if name == "distributions":
        return [
            [_t(m, x, "all", "all")] for m, x in zip(frame["measure"], frame["round"], strict=True)
        ]
    if name == "respondents":
        return [
            [_t(RESPONDENTS, x, "unit", f"{o} / {u}")]
            for x, o, u in zip(frame["round"], frame["organisation"], frame["unit"], strict=True)
        ]
    if name == "respondent_totals":  # the whole study's and each organisation's count
        return [
            [_t(RESPONDENTS, x, g, v)]
            for x, g, v in zip(frame["round"], frame["group_by"], frame["group"], strict=True)
        ]
    if name == "meta" and "row_type" in cols:
        out = []
        for r in frame.itertuples(index=False):
            if r.row_type == "study":
                out.append([_t(r.measure, baseline, "organisation", r.organisation),
                            _t(r.measure, r.round, "organisation", r.organisation)])  # fmt: skip
            else:
                out.append([])
        return out
    if name == "lmm":
        out = []
        for r in frame.itertuples(index=False):
            if r.term == "mean" and pd.notna(r.participant) and str(r.participant) != "":
                out.append([_t(r.measure, r.round, "participant", _int_text(r.participant))])
            else:
                out.append([])
        return out
    if name == "power":
        out = []
        for r in frame.itertuples(index=False):
            m, g, v = r.measure, r.group_by, r.group
            x = r.latest_round
            pairs = [cell_id("P", m, x, g, v, "b"), cell_id("P", m, x, g, v, "r")]
            totals = [_t(m, r.baseline, g, v), _t(m, x, g, v)]
            if r.design == "paired":
                out.append(pairs)
            elif r.design == "partial_overlap":  # its MDE depends on the pairs as well
                out.append(totals + pairs)
            else:
                out.append(totals)
        return out
    return _diagnostic_cells(name, frame, baseline)


def _int_text(value) -> str:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(int(f)) if f == int(f) else str(value)


def hide_rows(frame: pd.DataFrame, name: str, plan: Plan) -> np.ndarray | None:
    """Rows of ``frame`` that show a hidden cell (None for tables outside the model)."""
    cells = row_cells(name, frame, plan.design, plan.baseline)
    if cells is None:
        return None
    hide = np.array([any(c in plan.hidden for c in row) for row in cells], dtype=bool)
    extra = _hide_diagnostics(frame, name, plan)
    return hide if extra is None else hide | extra


# --------------------------------------------------------------------------- themes


def theme_cells(themes: pd.DataFrame) -> list[list[str]]:
    """The cells each row of ``themes.csv`` shows: its group's answers and its coded answers."""
    return [
        [
            cell_id("A", r.round, r.group_by, r.group),
            cell_id("C", r.code, r.round, r.group_by, r.group),
        ]
        for r in themes.itertuples(index=False)
    ]


def theme_model(themes: pd.DataFrame, actors: dict[str, str]) -> sdc.Model:
    """The model of ``themes.csv`` (before suppression): answers per group and round (``A``)
    and answers with each code (``C``; the cells of :func:`theme_cells`), with the partitions
    of the whole study into organisations, actors and participation, and organisations into
    actors."""
    b = _Builder()
    for (a, c), r in zip(theme_cells(themes), themes.itertuples(index=False), strict=True):
        b.cell(a, r.n_segments)
        b.cell(c, r.n_coded)
    by = themes.groupby(["group_by", "group", "round"], sort=True)
    sizes = by["n_segments"].first()
    coded = themes.set_index(["code", "group_by", "group", "round"])["n_coded"]
    codes = sorted(themes["code"].unique())
    for rnd in sorted(themes["round"].unique()):
        for measure in [None, *codes]:

            def cid(g, v, rnd=rnd, measure=measure):
                if measure is None:
                    return cell_id("A", rnd, g, v)
                return cell_id("C", measure, rnd, g, v)

            def n_of(g, v, rnd=rnd, measure=measure):
                if measure is None:
                    return float(sizes.get((g, v, rnd), 0))
                return float(coded.get((measure, g, v, rnd), 0))

            whole = cid("all", "all")
            if whole not in b.cells:
                continue
            for g in sorted(set(themes["group_by"]) - {"all"}):
                kids = sorted({v for (gb, v, x) in sizes.index if gb == g and x == rnd})
                children = [cid(g, v) for v in kids if cid(g, v) in b.cells]
                rest = n_of("all", "all") - sum(n_of(g, v) for v in kids)
                if rest > 0:
                    children.append(b.cell(cell_id("X", whole, g), rest, shown=False))
                b.relation(whole, children)
            for actor in sorted({a for a in actors.values() if a}):
                parent = cid("actor", actor)
                if parent not in b.cells:
                    continue
                orgs = [o for o, a in sorted(actors.items()) if a == actor]
                children = [
                    cid("organisation", o) for o in orgs if cid("organisation", o) in b.cells
                ]
                rest = n_of("actor", actor) - sum(n_of("organisation", o) for o in orgs)
                if rest > 0:
                    children.append(b.cell(cell_id("X", parent, "organisation"), rest, shown=False))
                b.relation(parent, children)
    # Answers without the code: never shown, but each row gives them away (n_segments - n_coded).
    for r in themes.itertuples(index=False):
        a = cell_id("A", r.round, r.group_by, r.group)
        c = cell_id("C", r.code, r.round, r.group_by, r.group)
        b.relation(a, [c, b.cell(cell_id("N", r.code, r.round, r.group_by, r.group),
                                 r.n_segments - r.n_coded, shown=False)], kind="n")  # fmt: skip
    return b.model()


# --------------------------------------------------------------------------- diagnostics
# composition.csv and attrition.csv (evaluation.analyse.quant.diagnostics) publish counts and
# means of respondents too: their cells and relations are declared here, so the plan's
# secondary suppression and audit cover them (docs/disclosure.md).


def _add_respondents(b: _Builder, scores: pd.DataFrame, group_bys: list[str], rounds) -> None:
    """Respondent counts (``T|_respondents|x|g|v``) of ``respondents.csv`` and
    ``composition.csv``: the groupings of the measures plus every characteristic of the
    composition (``role`` even when it is no pre/post grouping). The composition's level
    ``missing`` is the partition's remainder, published there: its ``X`` cell is shown."""
    by = composition_by(scores.columns)
    rows = _Rows.of(scores, _groupings(scores, [*group_bys, *by]))
    _add_totals(b, RESPONDENTS, rows, None, rounds, (np.nan, np.nan))
    for x in rounds:
        for c in by:
            rest = cell_id("X", _t(RESPONDENTS, x, "all", "all"), c)
            if rest in b.cells:
                b.cells[rest]["shown"] = True


def _attrition_cell(kind: str, measure: str, x: str, g: str, v: str) -> str:
    """``L`` (leavers) and ``U`` (no usable code) are baseline-only; ``P`` at baseline."""
    return cell_id(kind, measure, x, g, v, "b") if kind == "P" else cell_id(kind, measure, x, g, v)


def _add_attrition(
    b: _Builder,
    measure: str,
    rows: _Rows,
    values: np.ndarray,
    rounds: list[str],
    baseline: str,
    design: str,
    bounds: tuple[float, float],
) -> None:
    """Cells of ``attrition.csv``: per round after the baseline and group (whole study and
    :data:`ATTRITION_BY`), the group's baseline respondents are the stayers (linked: the
    ``P|...|b`` cell), the leavers ``L|m|R|g|v`` (a usable code, not linked) and those without
    a usable code ``U|m|R|g|v`` (each with n and sum; the row shows n_baseline, n_stayed,
    n_left and n_linkable = stayed + left, so all four). Relations: ``I|...|b = L + U``
    (``T|baseline = P|b + L + U`` with ``design: independent``, which has no P/I cells
    otherwise), and the whole study's L, U (and P) = the sum of the groups' wherever each
    group's members are classified as in the whole study (as :func:`_add_link_partitions`)."""
    lo, hi = bounds
    groupings = [g for g in ("all", ATTRITION_BY) if g in rows.groups]
    kinds = ("L", "U", "P") if design == "independent" else ("L", "U")
    has = ~np.isnan(values)
    v = np.nan_to_num(values)
    coded = rows.code >= 0
    n_codes = int(rows.code.max()) + 1 if coded.any() else 1
    at_b = has & rows.at(baseline)
    for x in [r for r in rounds if r != baseline]:
        at_r = has & rows.at(x)
        if not at_r.any() or not at_b.any():
            continue
        masks: dict[str, dict[str, np.ndarray]] = {}
        for g in groupings:
            gid, names = rows.groups[g]
            ok = gid >= 0
            key = gid.astype(np.int64) * n_codes + rows.code
            ub, cb = np.unique(key[at_b & ok & coded], return_counts=True)
            ur, cr = np.unique(key[at_r & ok & coded], return_counts=True)
            usable = ub[cb == 1]
            once = np.intersect1d(usable, ur[cr == 1], assume_unique=True)
            linked = ok & coded & np.isin(key, once)
            can = ok & coded & np.isin(key, usable)
            masks[g] = {"P": at_b & linked, "L": at_b & can & ~linked, "U": at_b & ok & ~can}
            sums = {k: _sums(gid, masks[g][k], v, len(names)) for k in kinds}
            for k, value in enumerate(names):
                total = _t(measure, baseline, g, value)
                if total not in b.cells:
                    continue
                kids = []
                for kind in kinds:
                    n, s = sums[kind][0][k], sums[kind][1][k]
                    if n > 0:
                        cid = _attrition_cell(kind, measure, x, g, value)
                        kids.append(b.cell(cid, n, s, lo=lo, hi=hi))
                parent = (
                    total if design == "independent" else cell_id("I", measure, x, g, value, "b")
                )
                if parent in b.cells:
                    b.relation(parent, kids)
        _attrition_partitions(b, measure, x, rows, masks, kinds, bounds)


def _attrition_partitions(
    b: _Builder,
    measure: str,
    x: str,
    rows: _Rows,
    masks: dict[str, dict[str, np.ndarray]],
    kinds: tuple[str, ...],
    bounds: tuple[float, float],
) -> None:
    """The whole study's stayers / leavers / uncoded = the sum over a grouping's groups (plus
    those without a group), declared where every row with a group is classified alike in the
    whole study and in its group."""
    lo, hi = bounds
    if "all" not in masks:
        return
    for g in [g for g in masks if g != "all"]:
        gid, names = rows.groups[g]
        both = gid >= 0
        for kind in kinds:
            if (masks["all"][kind][both] != masks[g][kind][both]).any():
                continue
            whole = _attrition_cell(kind, measure, x, "all", "all")
            if whole not in b.cells:
                continue
            children = [_attrition_cell(kind, measure, x, g, value) for value in names]
            children = [c for c in children if c in b.cells]
            n_rest = b.cells[whole]["n"] - sum(b.cells[c]["n"] for c in children)
            if n_rest > 0:
                s_rest = b.cells[whole]["s"] - sum(b.cells[c]["s"] for c in children)
                rest = cell_id("X", whole, g)
                children.append(b.cell(rest, n_rest, s_rest, lo=lo, hi=hi, shown=False))
            b.relation(whole, children)


def _diagnostic_cells(name: str, frame: pd.DataFrame, baseline: str) -> list[list[str]] | None:
    """The cells each row of ``composition.csv``, ``attrition.csv`` or ``optimisers.csv``
    shows (None for other tables)."""
    if name == "composition":
        from evaluation.analyse.quant.diagnostics import MISSING

        out = []
        for c, v, x in zip(frame["characteristic"], frame["level"], frame["round"], strict=True):
            whole = _t(RESPONDENTS, x, "all", "all")
            level = cell_id("X", whole, c) if v == MISSING else _t(RESPONDENTS, x, c, v)
            out.append([whole, level])
        return out
    if name == "attrition":
        return [
            [_t(r.measure, r.baseline, r.group_by, r.group)]
            + [_attrition_cell(k, r.measure, r.round, r.group_by, r.group) for k in "PLU"]
            for r in frame.itertuples(index=False)
        ]
    if name == "composition_tests":
        return [[] for _ in range(len(frame))]  # whole characteristics: _hide_diagnostics
    if name == "optimisers":
        # A DiD row's n adds up the four round x participant cells of lmm.csv's means.
        out = []
        for r in frame.itertuples(index=False):
            if r.parameter == "did" and pd.notna(r.round):
                out.append(
                    [_t(r.measure, x, "participant", p) for x in (baseline, r.round) for p in "01"]
                )
            else:
                out.append([])
        return out
    return None


def _hidden_characteristics(hidden: frozenset[str]) -> set[str] | None:
    """Characteristics with a hidden composition cell other than ``missing`` (None: a whole
    round is hidden, so all). The tests leave the level ``missing`` out, so their table and
    its margins are sums of the other levels' cells only."""
    out = set()
    for cell in hidden:
        parts = cell.split(SEP)
        if parts[0] == "T" and parts[1] == RESPONDENTS:
            if parts[3] == "all":
                return None
            out.add(parts[3])
    return out


def _hide_diagnostics(frame: pd.DataFrame, name: str, plan: Plan) -> np.ndarray | None:
    """Rows of a diagnostics table to hide beyond the cells they show: characteristics and
    groupings the model does not hold (never published), and every row of
    ``composition_tests.csv`` whose characteristic has a hidden cell (chi-square, Cramér's V,
    the Monte Carlo p, ``n`` and ``min_expected`` are functions of all its cells: with one
    degree of freedom left, X² gives the hidden cells away). None for other tables."""
    if name == "composition_tests":
        hidden = _hidden_characteristics(plan.hidden)
        modelled = set(composition_by(frame["characteristic"].astype(str)))
        return np.array(
            [hidden is None or c not in modelled or c in hidden for c in frame["characteristic"]],
            dtype=bool,
        )
    if name == "composition":
        modelled = set(composition_by(frame["characteristic"].astype(str)))
        return ~frame["characteristic"].astype(str).isin(modelled).to_numpy()
    if name == "attrition":
        return ~frame["group_by"].astype(str).isin(["all", ATTRITION_BY]).to_numpy()
    return None


# --------------------------------------------------------------------------- what was hidden


def _cell_group(cell: str) -> tuple[str, str] | None:
    """The grouping and group of a model cell id (None for remainders and unparsed ids)."""
    parts = cell.split(SEP)
    if parts[0] in ("T", "P", "I", "L", "U", "B") and len(parts) >= 5:
        return parts[3], parts[4]
    if parts[0] == "A" and len(parts) >= 4:
        return parts[2], parts[3]
    if parts[0] == "C" and len(parts) >= 5:
        return parts[3], parts[4]
    return None


def hidden_counts(plan: pd.DataFrame, actors: dict[str, str]) -> pd.DataFrame:
    """How many published cells the plan hides per audience scope.

    ``plan`` is ``data/processed/disclosure.parquet`` (``cell, hidden, shown``); ``actors``
    maps each organisation to its actor. One row per scope: the whole study (every shown
    cell), each actor (its own cells, its organisations' and their units') and each
    organisation (its own and its units'). Counts of cells, never a value, a size or which
    group. Primary (small) and complementary cells are counted together: their split per
    scope would tell an attacker how many of a scope's few hidden cells are small ones.
    Columns: ``group_by, group, n_cells``.
    """
    shown = plan[plan["shown"].astype(bool) & plan["hidden"].astype(bool)]
    counts: dict[tuple[str, str], int] = {}
    organisations = set(actors)
    for cell in shown["cell"].astype(str):
        scopes = [("all", "all")]
        group = _cell_group(cell)
        if group is not None:
            by, value = group
            org = value.split(" / ")[0] if by == "unit" else value if by == "organisation" else None
            if org in organisations:
                scopes.append(("organisation", org))
                if actors.get(org):
                    scopes.append(("actor", actors[org]))
            elif by == "actor":
                scopes.append(("actor", value))
        for by, value in scopes:
            counts[(by, value)] = counts.get((by, value), 0) + 1
    scopes = [("all", "all")]
    scopes += [("actor", a) for a in sorted({a for a in actors.values() if a})]
    scopes += [("organisation", o) for o in sorted(organisations)]
    rows = [
        {"group_by": by, "group": value, "n_cells": counts.get((by, value), 0)}
        for by, value in scopes
    ]
    return pd.DataFrame(rows, columns=["group_by", "group", "n_cells"])


def read_plan(processed: Path) -> pd.DataFrame | None:
    """``data/processed/disclosure.parquet`` as a frame (None when the run made no plan)."""
    _plan_stands()
    path = processed / PLAN_FILE
    return pd.read_parquet(path) if path.is_file() else None


def hidden_table(study) -> pd.DataFrame | None:
    """``hidden.csv`` of ``study`` (:func:`hidden_counts` of its plan; None without a plan)."""
    plan = read_plan(study.paths.processed)
    if plan is None:
        return None
    actors = {name: o.actor or "" for name, o in sorted(study.organisations.items())}
    return hidden_counts(plan, actors)
