"""The declared primary family: the primary outcomes' tests, adjusted together (``primary.csv``).

Every p-value of ``prepost.csv`` outside the primary family is exploratory: adjusted within
its own ``measure x grouping x test x design`` family (Benjamini-Hochberg). The primary family
is declared in study.yaml (``analysis.primary``: measures, comparisons, correction) before the
data are seen, and its tests are adjusted *together* with a family-wise correction (Holm by
default), so a reader knows which p-values carry the confirmatory claim.

The family holds, for each primary measure:

- ``change``: the primary row of ``prepost.csv`` of each non-baseline round (whole study,
  ``group_by = all``, ``population = all``, the parametric test ``welch_t``, ``paired_t`` or
  ``partial_overlap_t``);
- ``did``: the primary difference-in-differences row of ``lmm.csv`` of each round (``term =
  did``, ``analysis = primary``: the wild cluster bootstrap row with few organisations, the
  mixed model's otherwise).

This module only selects and adjusts: every statistic is copied from those tables as written,
so a row suppressed there is suppressed here (its identifying columns kept, every statistic
empty) and is left out of the family.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from evaluation.analyse.quant.effects import adjust_p

PRIMARY_COLUMNS = [
    "family",
    "family_size",
    "correction",
    "measure",
    "comparison",
    "round",
    "baseline",
    "population",
    "source",
    "method",
    "design",
    "n",
    "n_baseline",
    "n_round",
    "estimate",
    "ci_low",
    "ci_high",
    "effect_size_type",
    "effect_size",
    "es_ci_low",
    "es_ci_high",
    "p",
    "p_adjusted",
    "suppressed",
]

# Columns a suppressed row keeps (the others are emptied).
PRIMARY_IDENTIFYING = ("family", "family_size", "correction", "measure", "comparison", "round",
                       "baseline", "population", "source", "method", "design",
                       "effect_size_type", "suppressed")  # fmt: skip
PRIMARY_TESTS = ("welch_t", "paired_t", "partial_overlap_t")  # parametric: the primary test
COMPARISONS = ("change", "did")
# One row per test: the effect size shown when a test has several (paired t: d_z and d_av).
# d_av before d_z: it is on the scale of the independent-groups g (see docs/methods.md).
EFFECT_SIZE_ORDER = ("hedges_g", "d_av", "d_z")

PrimaryCorrection = Literal["holm", "bonferroni"]

_STATISTICS = ("n", "n_baseline", "n_round", "estimate", "ci_low", "ci_high", "effect_size",
               "es_ci_low", "es_ci_high", "p", "p_adjusted")  # fmt: skip


def primary_table(
    prepost: pd.DataFrame | None,
    lmm: pd.DataFrame | None,
    *,
    measures: Iterable[str],
    comparisons: Iterable[str] = COMPARISONS,
    correction: PrimaryCorrection = "holm",
    rounds: Iterable[str] | None = None,
    baseline: str | None = None,
) -> pd.DataFrame:
    """The primary family of tests and their family-wise adjusted p-values (``primary.csv``).

    Holm (1979), over the ``m`` published tests of the family with p sorted ascending::

        p_adj_(i) = min(1, max_{j <= i} (m - j + 1) * p_(j))

    Bonferroni: ``p_adj = min(1, m * p)``. Holm by :func:`evaluation.analyse.quant.effects.adjust_p`
    (the arithmetic of statsmodels' ``multipletests``), Bonferroni by ``multipletests``.

    Parameters
    ----------
    prepost : DataFrame or None
        ``prepost.csv`` as written (with ``population``); None or empty: no ``change`` rows.
    lmm : DataFrame or None
        ``lmm.csv`` as written (with ``analysis``); None or empty (a single-round study,
        summary-statistics mode): no ``did`` rows.
    measures : the primary measures, in output order.
    comparisons : subset of ``("change", "did")``.
    correction : ``"holm"`` (default) or ``"bonferroni"``.
    rounds : round ids in time order (output order); default: order of appearance.
    baseline : the baseline round id (the ``baseline`` of ``did`` rows); default: prepost's.

    Returns
    -------
    DataFrame
        Columns :data:`PRIMARY_COLUMNS`, one row per test, ordered by measure (given order),
        comparison (``change``, ``did``) and round. ``estimate``: the difference of means
        (``change``, round minus baseline) or the DiD (``did``); ``ci_low``/``ci_high``: the
        interval of ``estimate`` where its table has one (``did``; empty for ``change``,
        whose interval is the effect size's, ``es_ci_low``/``es_ci_high``);
        ``n``: answers used (``change``: ``n_baseline + n_round``, so a pair counts twice;
        ``did``: the model's observations). ``family_size``: the number of tests adjusted
        (suppressed rows and rows without a p are left out). A suppressed source row stays,
        with ``suppressed = True`` and every statistic empty.

    References
    ----------
    Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scandinavian
    Journal of Statistics, 6, 65-70.

    Examples
    --------
    >>> pp = pd.DataFrame({"measure": ["qwl"], "group_by": ["all"], "group": ["all"],
    ...     "round": ["T1"], "baseline": ["T0"], "population": ["all"], "design": ["independent"],
    ...     "test": ["welch_t"], "n_baseline": [100.0], "n_round": [90.0], "diff": [2.5],
    ...     "effect_size_type": ["hedges_g"], "effect_size": [0.2], "es_ci_low": [-0.1],
    ...     "es_ci_high": [0.5], "p": [0.02], "suppressed": [False]})
    >>> primary_table(pp, None, measures=["qwl"])[["comparison", "n", "p_adjusted"]]
      comparison      n  p_adjusted
    0     change  190.0        0.02
    """
    measures = list(measures)
    comparisons = list(comparisons)
    unknown = [c for c in comparisons if c not in COMPARISONS]
    if unknown:
        raise ValueError(f"comparisons must be among {COMPARISONS}, got {unknown}")
    if correction not in ("holm", "bonferroni"):
        raise ValueError(f"correction must be 'holm' or 'bonferroni', got {correction!r}")
    parts = []
    if "change" in comparisons and prepost is not None and not prepost.empty:
        parts.append(_change_rows(prepost, measures, baseline))
    if "did" in comparisons and lmm is not None and not lmm.empty:
        parts.append(_did_rows(lmm, measures, baseline))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return _empty()
    out = pd.concat(parts, ignore_index=True)
    out = _order(out, measures, rounds)
    out["suppressed"] = out["suppressed"].fillna(False).astype(bool)
    out.loc[out["suppressed"], [c for c in _STATISTICS if c != "p_adjusted"]] = np.nan
    live = ~out["suppressed"] & out["p"].notna()
    out["p_adjusted"] = np.nan
    if live.any():
        p = out.loc[live, "p"].to_numpy(float)
        # Holm by effects.adjust_p (statsmodels' arithmetic without its gc.collect per call)
        adjusted = (
            adjust_p(p, "holm")
            if correction == "holm"
            else multipletests(p, method="bonferroni")[1]
        )
        out.loc[live, "p_adjusted"] = adjusted
    out["family"] = "primary"
    out["family_size"] = int(live.sum())
    out["correction"] = correction
    return _types(out[PRIMARY_COLUMNS])


def _change_rows(prepost: pd.DataFrame, measures: list[str], baseline: str | None) -> pd.DataFrame:
    """One row per measure x round: the primary pre/post test of the whole study."""
    rows = prepost[
        prepost["measure"].isin(measures)
        & prepost["group_by"].astype(str).eq("all")
        & prepost["population"].astype(str).eq("all")
        & prepost["test"].isin(PRIMARY_TESTS)
    ]
    if baseline is not None:
        rows = rows[rows["baseline"].astype(str).eq(str(baseline))]
    if rows.empty:
        return pd.DataFrame()
    rank = rows["effect_size_type"].map({e: i for i, e in enumerate(EFFECT_SIZE_ORDER)})
    rows = rows.assign(_es=rank.fillna(len(EFFECT_SIZE_ORDER)))
    rows = rows.sort_values("_es", kind="stable").drop_duplicates(["measure", "round", "test"])
    tests = rows.groupby(["measure", "round"])["test"].nunique()
    if (tests > 1).any():
        which = ", ".join(f"{m} {r}" for m, r in tests[tests > 1].index)
        raise ValueError(f"more than one primary pre/post test for {which}")
    n_b = pd.to_numeric(rows["n_baseline"], errors="coerce")
    n_r = pd.to_numeric(rows["n_round"], errors="coerce")
    return pd.DataFrame(
        {
            "measure": rows["measure"],
            "comparison": "change",
            "round": rows["round"].astype(str),
            "baseline": rows["baseline"].astype(str),
            "population": rows["population"].astype(str),
            "source": "prepost",
            "method": rows["test"],
            "design": rows["design"],
            "n": n_b + n_r,
            "n_baseline": n_b,
            "n_round": n_r,
            "estimate": pd.to_numeric(rows["diff"], errors="coerce"),
            "ci_low": np.nan,
            "ci_high": np.nan,
            "effect_size_type": rows["effect_size_type"],
            "effect_size": rows["effect_size"],
            "es_ci_low": rows["es_ci_low"],
            "es_ci_high": rows["es_ci_high"],
            "p": pd.to_numeric(rows["p"], errors="coerce"),
            "suppressed": _flag(rows["suppressed"]),
        }
    ).reset_index(drop=True)


def _did_rows(lmm: pd.DataFrame, measures: list[str], baseline: str | None) -> pd.DataFrame:
    """The primary DiD row of each measure x round."""
    rows = lmm[
        lmm["measure"].isin(measures)
        & lmm["term"].astype(str).eq("did")
        & lmm["analysis"].astype(str).eq("primary")
    ]
    if rows.empty:
        return pd.DataFrame()
    repeated = rows.duplicated(["measure", "round"], keep=False)
    if repeated.any():
        which = ", ".join(
            sorted(
                {
                    f"{m} {r}"
                    for m, r in rows.loc[repeated, ["measure", "round"]].itertuples(index=False)
                }
            )
        )
        raise ValueError(f"more than one primary DiD row for {which}")
    population = rows["population"].astype(str) if "population" in rows else "all"
    return pd.DataFrame(
        {
            "measure": rows["measure"],
            "comparison": "did",
            "round": rows["round"].astype(str),
            "baseline": "" if baseline is None else str(baseline),
            "population": population,
            "source": "lmm",
            "method": rows["model"],
            "design": "",
            "n": pd.to_numeric(rows["n"], errors="coerce"),
            "n_baseline": np.nan,
            "n_round": np.nan,
            "estimate": pd.to_numeric(rows["estimate"], errors="coerce"),
            "ci_low": pd.to_numeric(rows["ci_low"], errors="coerce"),
            "ci_high": pd.to_numeric(rows["ci_high"], errors="coerce"),
            "effect_size_type": "",
            "effect_size": np.nan,
            "es_ci_low": np.nan,
            "es_ci_high": np.nan,
            "p": pd.to_numeric(rows["p"], errors="coerce"),
            "suppressed": _flag(rows["suppressed"]),
        }
    ).reset_index(drop=True)


def _flag(values: pd.Series) -> pd.Series:
    """``suppressed`` as bool, whether read from a CSV (``true``/``false``) or computed."""
    text = values.astype(str).str.strip().str.lower()
    return text.isin(["true", "1", "1.0"])


def _order(frame: pd.DataFrame, measures: list[str], rounds: Iterable[str] | None) -> pd.DataFrame:
    round_order = list(rounds) if rounds is not None else list(dict.fromkeys(frame["round"]))
    keys = pd.DataFrame(
        {
            "_m": frame["measure"].map({m: i for i, m in enumerate(measures)}),
            "_c": frame["comparison"].map({c: i for i, c in enumerate(COMPARISONS)}),
            "_r": frame["round"].map({r: i for i, r in enumerate(round_order)}),
            "_rs": frame["round"].astype(str),
        },
        index=frame.index,
    )
    order = keys.sort_values(list(keys.columns), kind="stable", na_position="last").index
    return frame.loc[order].reset_index(drop=True)


def _types(out: pd.DataFrame) -> pd.DataFrame:
    out = out.copy()
    for col in _STATISTICS:
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    out["family_size"] = out["family_size"].astype("int64")
    out["suppressed"] = out["suppressed"].astype(bool)
    for col in PRIMARY_COLUMNS:
        if col not in _STATISTICS and col not in ("family_size", "suppressed"):
            out[col] = out[col].astype(object)
    return out


def _empty() -> pd.DataFrame:
    return _types(pd.DataFrame({c: pd.Series(dtype="float64") for c in PRIMARY_COLUMNS}))
