"""Descriptive tables behind the figures: means per round with CIs, band shares.

Figures are drawn only from these tables, so disclosure control applied here holds for them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import ndtri, stdtrit

from evaluation.analyse.suppression import suppress


def round_means(
    scores: pd.DataFrame,
    *,
    measures: list[str],
    rounds: list[str],
    by: str | Sequence[str] | None = "participant",
    min_n: int = 5,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Mean of each measure per round (and per group of each ``by`` grouping) with a t-based CI.

    CI = mean ± t_{1-(1-ci)/2, n-1} · sd / √n (respondents treated as independent; the mixed
    model in ``lmm.csv`` accounts for clustering). Columns: ``measure, round, group_by, group,
    n, mean, sd, ci_low, ci_high, suppressed``.
    """
    groupings = [by] if isinstance(by, str) else list(by or ())
    # only the columns used: each group below is a copy of its rows
    scores = scores[list(dict.fromkeys(["round", *measures, *groupings]))]

    def summarise(group_by: str, group: str, part: pd.DataFrame) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for measure in measures:
            out[measure] = []
            for rnd in rounds:
                values = part.loc[part["round"] == rnd, measure].dropna().to_numpy(float)
                n = len(values)
                mean = values.mean() if n else np.nan
                sd = values.std(ddof=1) if n > 1 else np.nan
                half = stdtrit(n - 1, 0.5 + ci / 2) * sd / np.sqrt(n) if n > 1 else np.nan  # t.ppf
                out[measure].append(
                    {
                        "measure": measure,
                        "round": rnd,
                        "group_by": group_by,
                        "group": group,
                        "n": n,
                        "mean": mean,
                        "sd": sd,
                        "ci_low": mean - half,
                        "ci_high": mean + half,
                    }
                )
        return out

    # One group's rows at a time, in groupby's order (sorted values, missing left out), with
    # no sorted copy of the whole frame: a national study's groups are never all held at once
    summaries = [summarise("all", "all", scores)]
    for grouping in groupings:
        codes, values = pd.factorize(scores[grouping], sort=True)
        for code, value in enumerate(values):
            summaries.append(summarise(grouping, str(value), scores[codes == code]))
    # rows by measure, then group, then round
    out = pd.DataFrame([row for m in measures for summary in summaries for row in summary[m]])
    return suppress(
        out, n_columns=["n"], keep=["measure", "round", "group_by", "group"], min_n=min_n
    )


def band_shares(
    scores: pd.DataFrame,
    *,
    column: str,
    bands: list[str],
    rounds: list[str],
    min_n: int = 5,
    group_bys: Sequence[str] = ("all",),
) -> pd.DataFrame:
    """Share of respondents in each band per round and group (``n`` = respondents with a band).

    Columns: ``measure, round, band, n_round, n_band, share, suppressed, group_by, group``
    (one block per grouping of ``group_bys``: ``all`` is the whole study, ``organisation`` one
    block per organisation). A round of a group with fewer than ``min_n`` banded respondents
    is suppressed whole; so is a band cell with 1..min_n-1 respondents (its count could
    identify people); an empty band is shown as 0. Secondary suppression: when only one cell
    of a round and group is small, the smallest other non-empty cell is hidden too, so the
    small one cannot be recovered as the total minus the rest. Across groups (an
    organisation's band against the whole study's) the study's disclosure plan protects the
    cells (:mod:`evaluation.disclosure.plan`, ``B`` cells).
    """
    from evaluation.analyse.rows import group_labels

    rows = []
    for group_by in group_bys:
        labels = pd.Series(group_labels(scores, group_by), index=scores.index, dtype="object")
        names = sorted({str(g) for g in labels.dropna()})
        for group in names:
            in_group = labels.eq(group)
            for rnd in rounds:
                values = scores.loc[in_group & (scores["round"] == rnd), column].dropna()
                if group_by != "all" and values.empty:
                    continue
                n_round = len(values)
                counts = values.value_counts()
                for b in bands:
                    n_band = int(counts.get(b, 0))
                    rows.append(
                        {
                            "measure": column,
                            "round": rnd,
                            "band": b,
                            "n_round": n_round,
                            "n_band": n_band,
                            "share": n_band / n_round if n_round else np.nan,
                            "group_by": group_by,
                            "group": group,
                        }
                    )
    out = pd.DataFrame(
        rows, columns=["measure", "round", "band", "n_round", "n_band", "share", "group_by",
                       "group"],
    )  # fmt: skip
    small_cell = out["n_band"].between(1, min_n - 1)
    for _, idx in out.groupby(["group_by", "group", "round"], sort=False).groups.items():
        if small_cell[idx].sum() == 1:
            others = out.loc[idx][~small_cell[idx] & (out.loc[idx, "n_band"] > 0)]
            if len(others):
                small_cell[others["n_band"].idxmin()] = True
            else:
                small_cell[idx] = True
    keep = ["measure", "round", "band", "group_by", "group"]
    out = suppress(out, n_columns=["n_round"], keep=keep, min_n=min_n)
    cols = ["n_round", "n_band", "share"]
    out[cols] = out[cols].astype("float64")
    out.loc[small_cell, ["n_band", "share"]] = np.nan
    out["suppressed"] = out["suppressed"] | small_cell
    return out[["measure", "round", "band", *cols, "suppressed", "group_by", "group"]]


def band_rows_from_summaries(
    summaries: pd.DataFrame, *, measure: str, bands: Sequence[str], prefix: str = "band_"
) -> pd.DataFrame:
    """The vendor's band counts as one row per banded respondent (summary-statistics mode),
    the input :func:`band_shares` takes from individual answers.

    ``summaries`` has one row per round x organisation x unit x measure (optionally split by
    ``participant`` / ``role``) with ``<prefix><band id>`` counts on the rows of ``measure``.
    A row with counts becomes ``sum(counts)`` rows that keep its identifying columns (every
    column but ``measure, n, mean, sd`` and the band counts) and carry their band in
    ``<measure>_band``. Cells the analyses leave out (respondents but no mean or SD,
    :func:`evaluation.analyse.rows.unusable_cells`) and rows without counts give no
    rows, so the bands of a group add up to the respondents of its usable cells.

    Examples
    --------
    >>> cells = pd.DataFrame({"round": ["T0"], "organisation": ["A"], "unit": ["u"],
    ...     "measure": ["qwl"], "n": [3], "mean": [60.0], "sd": [5.0],
    ...     "band_low": [1], "band_high": [2]})
    >>> band_rows_from_summaries(cells, measure="qwl", bands=["low", "high"])["qwl_band"].tolist()
    ['low', 'high', 'high']
    """
    from evaluation.analyse.rows import unusable_cells

    columns = [f"{prefix}{b}" for b in bands]
    column = f"{measure}_band"
    ident = [
        c
        for c in summaries.columns
        if c not in ("measure", "n", "mean", "sd") and not str(c).startswith(prefix)
    ]
    if not set(columns) <= set(summaries.columns):
        return pd.DataFrame(columns=[*ident, column])
    rows = summaries.loc[
        summaries["measure"].astype("string").eq(measure).fillna(False)
        & ~unusable_cells(summaries)
        & summaries[columns].notna().all(axis=1)
    ]
    counts = rows[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype="float64")
    counts = counts.astype("int64")  # validated: non-negative whole numbers
    repeat = counts.sum(axis=1)
    out = rows[ident].iloc[np.repeat(np.arange(len(rows)), repeat)].reset_index(drop=True)
    labels = np.repeat(np.tile(np.asarray(list(bands), dtype=object), len(rows)), counts.ravel())
    out[column] = pd.Series(labels, dtype="string")
    return out


QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def round_quantiles(
    scores: pd.DataFrame,
    *,
    measures: list[str],
    rounds: list[str],
    min_n: int = 5,
) -> pd.DataFrame:
    """Distribution of each measure per round as quantiles (10, 25, 50, 75, 90 %; pandas'
    linear interpolation, Hyndman & Fan type 7). Minimum and maximum are left out on purpose:
    they are single respondents' answers. Columns: ``measure, round, n, q10, q25, q50, q75,
    q90, suppressed``."""
    rows = []
    for measure in measures:
        for rnd in rounds:
            values = scores.loc[scores["round"] == rnd, measure].dropna()
            row = {"measure": measure, "round": rnd, "n": len(values)}
            qs = values.quantile(list(QUANTILES)) if len(values) else None
            for q in QUANTILES:
                row[f"q{round(q * 100)}"] = float(qs[q]) if qs is not None else np.nan
            rows.append(row)
    return suppress(pd.DataFrame(rows), n_columns=["n"], keep=["measure", "round"], min_n=min_n)


def t_interval(values: Sequence[float] | np.ndarray, *, ci: float = 0.95) -> dict[str, float]:
    """Mean, SD (``ddof = 1``) and the t interval of the mean of the non-missing ``values``.

    mean ± t_{(1 + ci)/2, n - 1} · sd / √n; the interval is NaN with fewer than 2 values.

    Examples
    --------
    Student's (1908) sleep data, the differences between the two drugs (R's ``sleep``;
    ``t.test(extra ~ group, data = sleep, paired = TRUE)`` gives 0.7001142 to 2.4598858 for
    the reversed difference):

    >>> d = [1.2, 2.4, 1.3, 1.3, 0.0, 1.0, 1.8, 0.8, 4.6, 1.4]
    >>> r = t_interval(d)
    >>> round(r["mean"], 2), round(r["ci_low"], 7), round(r["ci_high"], 7)
    (1.58, 0.7001142, 2.4598858)
    """
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be between 0 and 1 (exclusive), got {ci}")
    x = np.asarray(values, dtype="float64")
    x = x[np.isfinite(x)]
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    sd = float(x.std(ddof=1)) if n > 1 else math.nan
    half = float(stdtrit(n - 1, (1 + ci) / 2) * sd / math.sqrt(n)) if n > 1 else math.nan
    return {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}


def wilson_interval(k: int, n: int, *, ci: float = 0.95) -> tuple[float, float]:
    """Wilson's (1927) score interval of the proportion ``k / n`` (without continuity
    correction; Newcombe 1998, method 3)::

        (p + z²/2n ± z √(p(1 - p)/n + z²/4n²)) / (1 + z²/n),  z = Φ⁻¹((1 + ci)/2)

    NaN for ``n = 0``.

    Examples
    --------
    Newcombe (1998), Table I: 81/263 gives 0.2553 to 0.3662.

    >>> [round(x, 4) for x in wilson_interval(81, 263)]
    [0.2553, 0.3662]

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
    Journal of the American Statistical Association, 22, 209-212.
    Newcombe, R. G. (1998). Two-sided confidence intervals for the single proportion: comparison
    of seven methods. Statistics in Medicine, 17, 857-872.
    """
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be between 0 and 1 (exclusive), got {ci}")
    if n <= 0:
        return math.nan, math.nan
    if not 0 <= k <= n:
        raise ValueError(f"k must be between 0 and n ({n}), got {k}")
    # statsmodels' proportion_confint(k, n, alpha=1 - ci, method="wilson"), step for step (the
    # same floating-point results: tested), without importing scipy.stats with it
    z = -ndtri((1 - ci) / 2.0)
    z2 = z**2
    q = k / n
    denom = 1 + z2 / n
    center = (q + z2 / (2 * n)) / denom
    dist = z * np.sqrt(q * (1.0 - q) / n + z2 / (4.0 * n**2)) / denom
    return max(0.0, float(center - dist)), min(1.0, float(center + dist))
