"""Effect sizes in words: a size word per row and a sentence per headline measure that says only
what the confidence interval supports.

Size words (label keys ``es_size_negligible`` / ``_small`` / ``_medium`` / ``_large``) follow
Cohen's (1988) conventions for a standardised difference between independent groups:
``|d| < 0.2`` negligible, ``< 0.5`` small, ``< 0.8`` medium, otherwise large. They apply to
Hedges' g and to the d_av family (``d_av``, ``d_av_all``), which divide by an SD of the
scores and so are on g's scale (Lakens 2013). They do not apply to ``d_z``, which divides by
the SD of the individual changes and grows with the correlation between the rounds
(``d_z = d_av / sqrt(2 (1 - r))`` for equal SDs; Lakens 2013): a d_z row gets
``es_size_not_classified`` and its sentence gives the interval in numbers only.

The sentence (:func:`summary_sentence`): an increase or a decrease only when the interval
excludes zero, its size as the range of words the whole interval covers ("from small to
large"); otherwise that the data are consistent with no change and with a change of up to the
interval's limits, each in words.

References
----------
Cohen, J. (1988). Statistical Power Analysis for the Behavioral Sciences (2nd ed.). Erlbaum.
Lakens, D. (2013). Calculating and reporting effect sizes to facilitate cumulative science: a
practical primer for t-tests and ANOVAs. Frontiers in Psychology, 4, 863.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from evaluation.report.locale import number

#: Effect-size types on the scale of a standardised mean difference between groups.
SIZED_TYPES = ("hedges_g", "cohens_d", "d_av", "d_av_all")
#: Cohen's (1988) thresholds: the lower bound of small, medium and large.
COHEN_THRESHOLDS = (0.2, 0.5, 0.8)
SIZES = ("negligible", "small", "medium", "large")


def size_class(effect_size_type: str, value: float) -> str | None:
    """The size word's label key of one effect size (None: no number, or a type the
    conventions do not cover, such as d_z)."""
    if effect_size_type not in SIZED_TYPES or not _finite(value):
        return None
    magnitude = abs(float(value))
    rank = sum(magnitude >= t for t in COHEN_THRESHOLDS)
    return f"es_size_{SIZES[rank]}"


def size_word(effect_size_type: str, value: float, label: Callable[[str], str]) -> str:
    """The size word of a table row: the estimate's class, ``es_size_not_classified`` for a
    d_z (or another unclassified type), empty when there is no estimate."""
    if not _finite(value):
        return ""
    key = size_class(effect_size_type, value)
    return label(key or "es_size_not_classified")


def _truthy(value: object) -> bool:
    """A ``suppressed`` cell as read from a CSV: True, "true" (NaN and "" are not)."""
    return value is True or str(value).strip().lower() in ("true", "1", "1.0")


def _finite(value: object) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _size_range(effect_size_type: str, a: float, b: float, label: Callable[[str], str]) -> str:
    """The words from |a| to |b| (a and b on one side of zero): one word or a range."""
    low, high = sorted((abs(a), abs(b)))
    first, last = size_class(effect_size_type, low), size_class(effect_size_type, high)
    if first is None or last is None:
        return label("es_size_not_classified")
    if first == last:
        return label(first)
    return label("rep_size_range").format(low=label(first), high=label(last))


def summary_sentence(
    row: Mapping[str, object],
    label: Callable[[str], str],
    *,
    measure: str,
    group: str,
    round_: str,
    baseline: str,
    ci: float,
    language: str,
) -> str:
    """One sentence on one effect-size row (``effect_size_type``, ``effect_size``,
    ``es_ci_low``, ``es_ci_high``, ``suppressed``) that states only what its interval
    supports. ``measure``, ``group``, ``round_``, ``baseline`` are the texts to show. A
    suppressed row, or one without an interval, gets ``rep_summary_hidden``."""
    kind = str(row.get("effect_size_type", ""))
    values = [row.get(c) for c in ("effect_size", "es_ci_low", "es_ci_high")]
    hidden = _truthy(row.get("suppressed")) or any(not _finite(v) for v in values)
    subject = {"measure": measure, "group": group, "round": round_, "baseline": baseline}
    if hidden:
        return label("rep_summary_hidden").format(**subject)
    est, lo, hi = (float(v) for v in values)
    sized = kind in SIZED_TYPES
    if lo > 0 or hi < 0:
        key = "rep_verdict_up" if lo > 0 else "rep_verdict_down"
        verdict = label(key).format(size=_size_range(kind, lo, hi, label))
    elif sized:
        reach = label("rep_reach").format(
            down=label(size_class(kind, lo) or "es_size_negligible"),
            up=label(size_class(kind, hi) or "es_size_negligible"),
        )
        verdict = label("rep_verdict_none").format(reach=reach)
    else:
        reach = label("rep_reach_unsized").format(
            lo=number(lo, language), hi=number(hi, language), es=label(kind)
        )
        verdict = label("rep_verdict_none").format(reach=reach)
    return label("rep_summary").format(
        **subject,
        verdict=verdict,
        es=label(kind),
        est=number(est, language),
        lo=number(lo, language),
        hi=number(hi, language),
        ci=f"{ci * 100:g}",
    )


__all__ = ["COHEN_THRESHOLDS", "SIZED_TYPES", "size_class", "size_word", "summary_sentence"]
