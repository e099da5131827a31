"""Disclosure control: one mechanism for every table of record (and so every report).

Two steps:

1. **Primary suppression** (:func:`evaluation.analyse.suppression.suppress`, called by each
   analysis where it knows the group sizes): a group with fewer than ``min_n`` respondents keeps
   its row, with every statistic emptied and ``suppressed = true``.
2. **Secondary suppression** (:func:`protect`, applied by
   :func:`evaluation.report.tables.write_table` to every table before it is written): no hidden
   cell may be recoverable from everything published. The respondent tables follow the study's
   plan (:mod:`evaluation.disclosure.plan`: one model of every published count and its
   relations, secondary cells chosen over all of it and audited by linear programming before the
   run publishes anything); ``themes.csv`` is protected over all its counts at once
   (:mod:`evaluation.disclosure.sdc`); ``bands.csv`` is in the plan too (its ``B`` cells); any
   table with a rule, when there is no plan (e.g. a table written outside ``evaluation run``),
   gets the per-partition rule: a partition with
   exactly one suppressed cell gets a second one, the smallest, and an organisation's units go
   with it. ``p_adjusted`` of ``prepost.csv`` is then computed over the published rows only.

Figures are drawn from these tables and quotes are only taken from groups of at least ``min_n``
answers, so they pass through the same rules. The model, the audit and its limits:
docs/disclosure.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.analyse.groupings import PREPOST_IDENTIFYING
from evaluation.analyse.suppression import _blank
from evaluation.config import Disclosure


@dataclass(frozen=True)
class Rule:
    """How the cells of one table partition a published total.

    ``partition`` maps the frame to a label per row: rows with the same label are the cells of
    one total; NaN = the row is not a cell of any partition (e.g. the total itself).
    ``n_column`` orders the candidates for complementary suppression; ``keep`` are the
    identifying columns a suppressed row keeps. ``children`` maps a suppressed row to the
    labels of partitions whose cells must all be suppressed with it (units of an organisation).
    """

    partition: Callable[[pd.DataFrame], pd.Series]
    n_column: str
    keep: tuple[str, ...]
    name_column: str
    children: Callable[[pd.DataFrame, pd.Series], pd.Series] | None = None


def _join(frame: pd.DataFrame, columns: Iterable[str]) -> pd.Series:
    parts = [frame[c].astype("string").fillna("") for c in columns]
    out = parts[0]
    for part in parts[1:]:
        out = out + "\x1f" + part
    return out


def _grouped_partition(keys: tuple[str, ...]) -> Callable[[pd.DataFrame], pd.Series]:
    """Tables with ``group_by``/``group``: the groups of one grouping partition the whole
    study (``all``); units (``<organisation> / <unit>``) partition their organisation."""

    def partition(frame: pd.DataFrame) -> pd.Series:
        by = frame["group_by"].astype("string")
        group = frame["group"].astype("string")
        parent = pd.Series("all", index=frame.index, dtype="string")
        is_unit = by.eq("unit")
        parent[is_unit] = group[is_unit].str.split(" / ").str[0]
        label = _join(frame, keys) + "\x1e" + by + "\x1e" + parent
        return label.where(~by.eq("all"))

    return partition


def _unit_children(keys: tuple[str, ...]) -> Callable[[pd.DataFrame, pd.Series], pd.Series]:
    """The unit partition belonging to each organisation row (so a suppressed organisation
    takes its units with it)."""

    def children(frame: pd.DataFrame, rows: pd.Series) -> pd.Series:
        sub = frame[rows & frame["group_by"].astype("string").eq("organisation")]
        return _join(sub, keys) + "\x1e" + "unit" + "\x1e" + sub["group"].astype("string")

    return children


PREPOST_KEYS = ("measure", "round", "design", "test", "effect_size_type")
TRAJECTORY_KEYS = ("measure", "round")

RULES: dict[str, Rule] = {
    "prepost": Rule(
        partition=_grouped_partition(PREPOST_KEYS),
        n_column="n_round",
        keep=PREPOST_IDENTIFYING,
        name_column="group",
        children=_unit_children(PREPOST_KEYS),
    ),
    "trajectories": Rule(
        partition=_grouped_partition(TRAJECTORY_KEYS),
        n_column="n",
        keep=("measure", "round", "group_by", "group"),
        name_column="group",
        children=_unit_children(TRAJECTORY_KEYS),
    ),
    "themes": Rule(
        partition=_grouped_partition(("code", "round")),
        n_column="n_segments",
        keep=("code", "group_by", "group", "round"),
        name_column="group",
    ),
    "respondents": Rule(
        partition=lambda f: _join(f, ("round", "organisation")),
        n_column="n",
        keep=("round", "organisation", "unit", "headcount"),
        name_column="unit",
    ),
    # The whole study's and each organisation's respondents per round (the report covers):
    # the organisations of a round partition its whole-study total.
    "respondent_totals": Rule(
        partition=_grouped_partition(("round",)),
        n_column="n",
        keep=("round", "group_by", "group", "headcount"),
        name_column="group",
    ),
    "bands": Rule(
        # A group's bands (organisations against the whole study: the plan's B cells).
        partition=lambda f: _join(
            f, [c for c in ("measure", "round", "group_by", "group") if c in f]
        ),
        n_column="n_band",
        keep=("measure", "round", "band", "group_by", "group"),
        name_column="band",
    ),
}

# Tables with group sizes whose cells do not add up to a published total (or are already
# protected where they are built); listed so a test can check that every table is considered.
NO_PARTITION = frozenset(
    {
        "distributions",  # quantiles per round: not additive
        "reliability",  # per instrument and round
        "missingness",
        "out_of_range",
        "meta",  # per-organisation effect sizes of the same respondents as prepost.csv
        "lmm",
        "power",
        "indicators",
        "skipped",
        "icr",
        "disagreements",
        "suggestions",
        "suggestion_quality",
        "quotes",
        "documents",  # workshop/interview notes: paragraphs and themes, no respondent counts
        "document_quotes",  # quotes from them (analyse.qual.themes.quotable)
        "joint_display",
        "primary",  # rows of prepost.csv and lmm.csv as written: suppressed where they are
        "composition",  # the diagnostics of 30-longitudinal: in the plan's model
        "composition_tests",
        "attrition",
        "optimisers",
        "hidden",  # counts of hidden cells per scope and reason (no respondent counts)
        "risks",  # unit risk indicators: protected where built (analyse.quant.risks)
        "feedback_summary",  # feedback answers: complementary suppression where it is built
        "feedback_reliability",  # per round, like reliability
        "proxy_agreement",  # whole-study rows per round: below min_n hidden where it is built
    }
)


def protect(frame: pd.DataFrame, name: str, processed: Path | None = None) -> pd.DataFrame:
    """Secondary suppression for table ``name``, then multiplicity adjustment over what is
    published. With the study's plan (``processed`` = its ``data/processed``; see
    :mod:`evaluation.disclosure.plan`), tables in the linked model hide every row that shows a
    hidden
    cell; ``themes.csv`` is protected over all its counts at once; other tables with a
    :data:`RULES` entry get per-partition complementary suppression. Tables without a
    ``suppressed`` column pass unchanged."""
    if "suppressed" not in frame or frame.empty:
        return frame
    from evaluation.disclosure.plan import hide_rows, load_plan

    if name == "themes":
        return _protect_themes(frame, processed)

    plan = load_plan(processed) if processed is not None else None
    hide = hide_rows(frame, name, plan) if plan is not None else None
    if hide is not None:
        out = frame.reset_index(drop=True).copy()
        suppressed = out["suppressed"].fillna(False).astype(bool).to_numpy() | hide
        keep = set(RULES[name].keep) if name in RULES else set(_IDENTIFYING.get(name, ()))
        out = _blank(out, suppressed, keep)
        if name == "meta":
            out = _blank_pooled_n(out)
    else:
        out = _protect_by_rule(frame, name)
    if name == "prepost" and "p" in out and "correction" in out:
        out = _readjust(out)
    return out


# Identifying columns of the model's tables that have no RULES entry.
_IDENTIFYING = {
    "distributions": ("measure", "round"),
    "meta": ("measure", "round", "row_type", "organisation", "effect_size_type", "method",
             "ci_method"),
    "lmm": ("measure", "term", "round", "participant", "n_clusters", "model", "level",
            "population", "analysis"),
    "power": ("measure", "group_by", "group", "design", "baseline", "latest_round", "icc",
              "icc_unit", "alpha", "power", "effect_size_type", "n_source"),
    "composition": ("characteristic", "level", "round"),
    "composition_tests": ("characteristic", "n_rounds", "n_levels", "test", "n_sim",
                          "effect_size_type"),
    "attrition": ("measure", "round", "baseline", "group_by", "group", "test",
                  "effect_size_type"),
    "optimisers": ("measure", "optimiser", "converged", "warning", "parameter", "round",
                   "n_clusters", "note"),
}  # fmt: skip


def _blank_pooled_n(out: pd.DataFrame) -> pd.DataFrame:
    """A pooled row's n adds up its organisations: empty it when one of them is hidden."""
    study = out["row_type"].eq("study")
    hidden = out[study & out["suppressed"]].groupby(["measure", "round"]).size()
    pooled = ~study & pd.Series(
        [(m, r) in hidden.index for m, r in zip(out["measure"], out["round"], strict=True)]
    )
    out.loc[pooled.to_numpy(), "n"] = np.nan
    return out


def _readjust(out: pd.DataFrame) -> pd.DataFrame:
    """``p_adjusted`` over the published rows of each family only, so a reader can reproduce
    it from the table and no hidden row's p shapes a visible one."""
    from evaluation.analyse.quant.effects import _adjust_families

    out = out.copy()
    method = out["correction"].dropna()
    if method.empty:
        return out
    out["p_adjusted"] = _adjust_families(out, method.iloc[0])
    if "family_size" in out:  # the m of each family over the published rows too
        from evaluation.analyse.quant.effects import family_sizes

        out["family_size"] = family_sizes(out)
    return out


def _protect_themes(frame: pd.DataFrame, processed: Path | None) -> pd.DataFrame:
    """themes.csv: the counts of answers and of coded answers, with their partitions, in one
    model (:func:`evaluation.disclosure.plan.theme_model`). The study's plan holds its hidden cells
    (chosen and audited before the run publishes anything); without a plan they are chosen
    and audited here. Rows showing a hidden count are hidden, and ``change`` where the
    baseline is."""
    from evaluation.disclosure.plan import (
        _refuse,
        describe_theme_cell,
        load_plan,
        load_record,
        theme_cells,
        theme_model,
    )
    from evaluation.disclosure.sdc import solve

    out = frame.reset_index(drop=True).copy()
    record = load_record(processed) if processed is not None else {}
    plan = load_plan(processed) if processed is not None and "themes" in record else None
    rows = theme_cells(out)
    if plan is not None:
        hide = np.array([any(c in plan.hidden for c in row) for row in rows], dtype=bool)
    else:
        min_n = int(out.attrs.get("min_n", record.get("min_n", Disclosure.min_n)))
        model = theme_model(out, out.attrs.get("actors", record.get("actors", {})))
        hidden, result, _summary = solve(model, min_n)
        _refuse(result, min_n, describe_theme_cell, "themes.csv")
        hide = np.array([any(hidden[c] for c in row) for row in rows], dtype=bool)
    suppressed = out["suppressed"].fillna(False).astype(bool).to_numpy() | hide
    if "change" in out:
        baseline = out.attrs.get("baseline_round", record.get("baseline"))
        keys = list(zip(out["code"], out["group_by"], out["group"], strict=True))
        at_base = out["round"].eq(baseline).to_numpy()
        gone = {k for k, s, b in zip(keys, suppressed, at_base, strict=True) if s and b}
        out.loc[[k in gone for k in keys], "change"] = np.nan
    return _blank(out, suppressed, {"code", "group_by", "group", "round"})


def _protect_by_rule(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Per-partition complementary suppression (see the module docstring)."""
    rule = RULES.get(name)
    if rule is None:
        return frame
    out = frame.reset_index(drop=True).copy()
    suppressed = out["suppressed"].fillna(False).astype(bool).to_numpy().copy()
    labels = rule.partition(out)
    n = pd.to_numeric(out[rule.n_column], errors="coerce")
    names = out[rule.name_column].astype("string").fillna("")
    while True:
        added = _complement(suppressed, labels, n, names)
        if rule.children is not None:
            added |= _cascade(out, suppressed, labels, rule)
        if not added:
            break
    return _blank(out, suppressed, set(rule.keep))


def _complement(suppressed: np.ndarray, labels: pd.Series, n: pd.Series, names: pd.Series) -> bool:
    """Give every partition with exactly one suppressed cell a second one; True if any."""
    added = False
    frame = pd.DataFrame({"label": labels, "s": suppressed, "n": n, "name": names})
    frame = frame[frame["label"].notna()]
    counts = frame.groupby("label", sort=False)["s"].agg(["sum", "count"])
    lonely = counts.index[(counts["sum"] == 1) & (counts["count"] > 1)]
    if len(lonely):
        candidates = frame[frame["label"].isin(lonely) & ~frame["s"]]
        candidates = candidates.sort_values(["label", "n", "name"], na_position="first")
        picks = candidates.groupby("label", sort=False).head(1).index
        suppressed[picks.to_numpy()] = True
        added = len(picks) > 0
    return added


def _cascade(out: pd.DataFrame, suppressed: np.ndarray, labels: pd.Series, rule: Rule) -> bool:
    """Suppress every cell of the partitions that belong to a suppressed row."""
    rows = pd.Series(suppressed, index=out.index)
    child_labels = set(rule.children(out, rows))
    hit = labels.isin(child_labels).to_numpy() & ~suppressed
    suppressed |= hit
    return bool(hit.any())
