"""The groupings and identifying columns of published tables, shared by the analyses that make
the tables, the disclosure plan that protects them and a study's options
(:func:`evaluation.pipeline.session.build_options`). Kept apart from the analyses, and importing
nothing: what needs only these names (every notebook's options, the disclosure rules) does not
import scipy.stats and statsmodels with them (a third of a second of a notebook that fits no
model)."""

from __future__ import annotations

from collections.abc import Iterable

# Columns that identify a row of prepost.csv and survive suppression (also the disclosure rules').
PREPOST_IDENTIFYING = ("measure", "group_by", "group", "round", "baseline", "design", "test",
                       "effect_size_type", "correction", "family", "population", "analysis",
                       "family_size")  # fmt: skip

#: The characteristics of ``composition.csv`` by default
#: (:func:`evaluation.analyse.quant.diagnostics.composition_table`).
COMPOSITION_BY: tuple[str, ...] = ("role", "participant", "organisation")

#: The grouping of ``attrition.csv`` besides the whole study (``attrition_table(by=...)``).
ATTRITION_BY = "participant"

#: The groupings of the feedback records (columns of feedback.csv) ``feedback.csv``'s table can
#: be built by (:func:`evaluation.analyse.quant.feedback.feedback_summary`).
FEEDBACK_GROUP_BYS = ("all", "actor", "activity", "organisation")


def composition_by(columns: Iterable[str] | None = None) -> list[str]:
    """The characteristics of ``composition.csv`` the plan models: those of
    :data:`COMPOSITION_BY` that are among ``columns`` (the scores' columns: a study without a
    ``role`` column has no role rows; None: all)."""
    present = set(COMPOSITION_BY if columns is None else columns)
    return [c for c in COMPOSITION_BY if c in present]
