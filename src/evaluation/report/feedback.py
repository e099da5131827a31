"""Training feedback as a reader sees it: ``feedback_summary.csv`` with every id by its label
(scales, groupings, activity types) and its figure. Shared by the notebook ``47-feedback``
and the audience reports' ``feedback`` section; nothing is computed here."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from evaluation.report import locale
from evaluation.report.view import StudyView

# Columns of feedback_summary.csv shown, with their header label keys where the shared
# labels have none.
SHOWN = {
    "scale": "fb_scale",
    "round": "round",
    "group": "fb_group",
    "n": "fb_n",
    "mean": "mean",
    "ci_low": "ci_low",
    "ci_high": "ci_high",
    "sd": "sd",
    "share_high": "fb_share_high",
    "share_ci_low": "fb_share_ci_low",
    "share_ci_high": "fb_share_ci_high",
    "suppressed": "suppressed",
}


def feedback_note(v: StudyView) -> str:
    """How to read the table: the scales, the interval level and the disclosure rule (numbers
    in the view's language)."""
    return v.label("fb_note").format(
        level=locale.percent(v.ci, v.language), min_n=locale.integer(v.study.min_n, v.language)
    )


def scale_label(v: StudyView, scale: str) -> str:
    """``fb_scale_<id>`` (an item or the instrument's score), else the instrument's own label,
    else the id."""
    key = f"fb_scale_{scale}"
    return v.label(key) if key in v.labels else v.label(scale)


def group_label(v: StudyView, group_by: str, group: str) -> str:
    """A group by its label: ``all`` and activity types (``fb_activity_<id>``) from the label
    files; actors and organisations by their names (data: shown as text, escaped)."""
    if group_by == "all":
        return v.label("fb_all_activities")
    if group_by == "activity":
        key = f"fb_activity_{group}"
        return v.label(key) if key in v.labels else group
    return group


def display_frame(v: StudyView, table: pd.DataFrame) -> pd.DataFrame:
    """``table`` (rows of ``feedback_summary.csv``) with labelled ids and label keys as column
    names (for :func:`evaluation.report.display.show` with ``v.labels``). A group's text is
    prefixed by its grouping (``Toimija: Xamk``) except the whole set."""
    out = table.copy()
    groups = [
        group_label(v, str(b), str(g))
        if str(b) in ("all", "activity")
        else f"{v.label(f'fb_by_{b}')}: {g}"
        for b, g in zip(out["group_by"], out["group"], strict=True)
    ]
    out["group"] = groups
    out["scale"] = [scale_label(v, str(s)) for s in out["scale"]]
    out = out[[c for c in SHOWN if c in out]]
    return out.rename(columns=SHOWN)


def feedback_lines(v: StudyView, table: pd.DataFrame) -> list[tuple[str, str, str]]:
    """The figure's lines: all activities, then each activity type in the table (sorted)."""
    lines = [("all", "all", group_label(v, "all", "all"))]
    kinds = sorted(set(table.loc[table["group_by"].astype(str) == "activity", "group"].astype(str)))
    lines += [("activity", k, group_label(v, "activity", k)) for k in kinds]
    return lines


def feedback_plot_arguments(
    v: StudyView, table: pd.DataFrame, scales: Sequence[str] | None = None
) -> dict[str, object] | None:
    """The arguments of :func:`evaluation.report.plots.feedback_plot` for ``table``: means
    with CIs by round per activity type (None for an empty table)."""
    if table is None or table.empty:
        return None
    scales = list(scales or dict.fromkeys(table["scale"].astype(str)))
    rounds = [r for r in v.study.round_ids if r in set(table["round"].astype(str))]
    return {
        "summary": table,
        "scales": [(s, scale_label(v, s)) for s in scales],
        "lines": feedback_lines(v, table),
        "rounds": rounds,
        "labels": v.labels,
        "ci": v.ci,
        "min_n": v.study.min_n,
    }


def feedback_plot_for(
    v: StudyView, table: pd.DataFrame, scales: Sequence[str] | None = None
) -> object | None:
    """The figure of means with CIs by round per activity type (None for an empty table)."""
    from evaluation.report.plots import feedback_plot

    arguments = feedback_plot_arguments(v, table, scales)
    return None if arguments is None else feedback_plot(**arguments)


def reliability_frame(v: StudyView, table: pd.DataFrame) -> pd.DataFrame:
    """``feedback_reliability.csv`` for display (the columns of ``reliability.csv``)."""
    shown = ["round", "n", "k_items", "cronbach_alpha", "alpha_ci_low", "alpha_ci_high",
             "omega", "omega_ci_low", "omega_ci_high", "suppressed"]  # fmt: skip
    return table[[c for c in shown if c in table]]


__all__ = [
    "display_frame",
    "feedback_lines",
    "feedback_note",
    "feedback_plot_arguments",
    "feedback_plot_for",
    "group_label",
    "reliability_frame",
    "scale_label",
]
