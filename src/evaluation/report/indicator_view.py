"""The indicators of ``indicators.csv`` as a reader sees them: every word from the labels.

Shared by the indicators notebook (``45-indicators``) and the audience reports
(:func:`evaluation.report.audiences.indicators`): the rule for the status in words, and the
table's rows with the indicator's name, the status (``met`` / ``not_met`` / ``uncertain``) and
the window (cumulative / the round's own) as labels; never a raw True/False.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from evaluation.config import Study

#: The columns a reader sees, in order (display names ``ind_status`` and ``ind_window``).
SHOWN = ("indicator", "group", "round", "ind_window", "target", "achieved", "ci_low", "ci_high",
         "share_of_target", "ind_status", "unit", "suppressed")  # fmt: skip


def with_new_columns(table: pd.DataFrame) -> pd.DataFrame:
    """An ``indicators.csv`` of a run before the per-organisation rows and the status
    (issue 18, item 6) in today's layout: whole-study rows, status from ``met``."""
    out = table.copy()
    if "group" not in out:
        out["group_by"], out["group"] = "all", "all"
    if "status" not in out:
        met = out["met"].astype(str).str.lower()
        out["status"] = met.map({"true": "met", "false": "not_met"}).fillna("")
    for col in ("window", "ci_low", "ci_high"):
        if col not in out:
            out[col] = pd.NA
    return out


def trajectory_arguments(written: pd.DataFrame, study: Study, language: str) -> dict:
    """The arguments of the whole study's indicator figure
    (:func:`evaluation.report.plots.indicator_trajectory_plot`) in ``language`` from
    ``indicators.csv`` as read back (``read_csv(keep_default_na=False, na_values=[""])``),
    with the labels of the language (:func:`evaluation.report.view.view_labels`; a report's
    own labels add the codebook's, which the figure does not show): the same in
    ``45-indicators`` and in the reports, so the figure one draws the other copies from the
    figure cache (:func:`evaluation.report.display.show_plot`)."""
    from evaluation.report.view import view_labels

    table = with_new_columns(written)
    rows = table[table["group"].astype(str).eq("all")]
    return {"indicators": rows, "rounds": study.round_ids,
            "labels": view_labels(study, language), "min_n": study.min_n}  # fmt: skip


def indicator_rows(table: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """The rows as a reader sees them (:data:`SHOWN`): the indicator's label, the status and
    the window as words, units by their label (a unit without one as given)."""
    out = with_new_columns(table)
    out["indicator"] = out["label_key"].astype(str).map(lambda k: labels.get(k, k))
    status = out["status"].fillna("").astype(str)
    out["ind_status"] = status.map(lambda s: labels.get(f"ind_status_{s}", "") if s else "")
    window = out["window"].fillna("").astype(str)
    out["ind_window"] = window.map(lambda w: labels.get(f"ind_window_{w}", "") if w else "")
    group = out["group"].astype(str)
    out["group"] = group.where(group != "all", labels.get("all", "all"))
    return out[[c for c in SHOWN if c in out]]


def indicator_rule(labels: Mapping[str, str], study: Study) -> str:
    """The rule for the status in words, with the study's confidence level and ``min_n``."""
    return labels.get("ind_rule", "").format(
        level=f"{study.analysis.ci * 100:g}", min_n=study.min_n
    )


def has_own_rows(study: Study) -> bool:
    """Whether any target writes per-organisation rows (``per: organisation``,
    ``share_organisations`` or a filter on one organisation): then organisation reports
    show their own."""
    for t in study.targets:
        named = (t.filter or {}).get("organisation")
        one = named is not None and (not isinstance(named, list) or len(named) == 1)
        if t.per == "organisation" or t.aggregate == "share_organisations" or one:
            return True
    return False
