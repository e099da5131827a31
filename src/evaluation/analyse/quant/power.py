"""Minimum detectable effects for the next survey round (``power.csv``).

Given the respondents of the latest round (taken as the expected sample of the next round) and
of the baseline, how large a change could the next round detect? The answer is given in
standardized units (Cohen's d for independent samples, d_z for linked pairs) and in the
measure's own units, with an optional design effect for respondents clustered in organisations.

References
----------
Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences* (2nd ed.). Erlbaum.
Kish, L. (1965). *Survey Sampling*. Wiley.
Faul, F., Erdfelder, E., Lang, A.-G., & Buchner, A. (2007). G*Power 3. *Behavior Research
Methods*, 39, 175-191.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from statsmodels.stats.power import TTestIndPower, TTestPower

from evaluation.analyse.suppression import suppress

log = logging.getLogger(__name__)

# The columns of the one-row results of the estimators (the names of ``power.csv``).
MDE_INDEPENDENT_COLUMNS = [
    "n_baseline", "n_round", "deff", "alpha", "power", "effect_size_type", "mde_standardized",
]  # fmt: skip
MDE_PAIRED_COLUMNS = ["n_pairs", "deff", "alpha", "power", "effect_size_type", "mde_standardized"]
DEFF_COLUMNS = ["mean_cluster_size", "icc", "deff"]

POWER_COLUMNS = [
    "measure",
    "group_by",
    "group",
    "design",
    "baseline",
    "latest_round",
    "n_baseline",
    "n_next",
    "n_clusters",
    "icc",
    "deff",
    "alpha",
    "power",
    "effect_size_type",
    "mde_standardized",
    "sd",
    "mde_raw",
    "suppressed",
]


def _check(alpha: float, power: float, deff: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not 0 < power < 1:
        raise ValueError(f"power must be in (0, 1), got {power}")
    if not deff > 0:
        raise ValueError(f"deff must be positive, got {deff}")


def _solve(fn, **kwargs) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = fn(**kwargs)
        except (ValueError, RuntimeError, ZeroDivisionError):
            return float("nan")
    value = float(np.asarray(value).squeeze())
    return value if np.isfinite(value) and value > 0 else float("nan")


def mde_independent(
    n_baseline: float,
    n_round: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    deff: float = 1.0,
) -> pd.DataFrame:
    """Smallest standardized mean difference detectable between two independent samples.

    Solves the power of the two-sided two-sample t test for the effect size ``d``: power =
    ``P(|T| > t_{1-alpha/2, df})`` with ``T`` noncentral t, ``df = n1 + n2 - 2`` and
    noncentrality ``d / sqrt(1/n1 + 1/n2)``, where ``n1 = n_baseline / deff`` and
    ``n2 = n_round / deff`` are the effective
    sample sizes (Kish 1965). Uses :class:`statsmodels.stats.power.TTestIndPower`. The
    pooled-variance t test is the planning approximation for Welch's test (the two coincide
    for equal variances and equal n).

    Parameters
    ----------
    n_baseline, n_round : float
        Sample sizes (before the design effect).
    alpha : float
        Two-sided significance level.
    power : float
        Required power.
    deff : float
        Design effect; the effective sample sizes are ``n / deff``.

    Returns
    -------
    pandas.DataFrame
        One row, columns ``MDE_INDEPENDENT_COLUMNS``: the inputs, ``effect_size_type =
        "cohen_d"`` and ``mde_standardized``, the minimum detectable Cohen's d (NaN when
        ``n1 + n2 - 2 <= 0`` after the design effect).

    References
    ----------
    Cohen, J. (1988), ch. 2: with alpha = .05 two-sided and power = .80, d = 0.5 needs 64 per
    group (Table 2.4.1).

    Examples
    --------
    >>> print(mde_independent(64, 64).round(2).to_string(index=False))
     n_baseline  n_round  deff  alpha  power effect_size_type  mde_standardized
             64       64   1.0   0.05    0.8          cohen_d               0.5
    """
    mde = _mde_independent(n_baseline, n_round, alpha=alpha, power=power, deff=deff)
    row = [n_baseline, n_round, deff, alpha, power, "cohen_d", mde]
    return pd.DataFrame([row], columns=MDE_INDEPENDENT_COLUMNS)


def _mde_independent(
    n_baseline: float, n_round: float, *, alpha: float, power: float, deff: float
) -> float:
    """:func:`mde_independent` as a float."""
    _check(alpha, power, deff)
    n1, n2 = n_baseline / deff, n_round / deff
    if n1 <= 0 or n2 <= 0 or n1 + n2 - 2 <= 0:
        return float("nan")
    return _solve(
        TTestIndPower().solve_power,
        effect_size=None,
        nobs1=n1,
        ratio=n2 / n1,
        alpha=alpha,
        power=power,
        alternative="two-sided",
    )


def mde_paired(
    n_pairs: float, *, alpha: float = 0.05, power: float = 0.8, deff: float = 1.0
) -> pd.DataFrame:
    """Smallest standardized mean change ``d_z = mean(diff) / sd(diff)`` detectable in pairs.

    Solves the power of the two-sided one-sample (paired) t test on the differences for
    ``d_z``: noncentral t with ``df = n - 1`` and noncentrality ``d_z sqrt(n)``, ``n = n_pairs /
    deff``. Uses :class:`statsmodels.stats.power.TTestPower`.

    Parameters
    ----------
    n_pairs : float
        Number of respondents linked between the two rounds.
    alpha, power, deff
        As in :func:`mde_independent`.

    Returns
    -------
    pandas.DataFrame
        One row, columns ``MDE_PAIRED_COLUMNS``: the inputs, ``effect_size_type = "d_z"`` and
        ``mde_standardized``, the minimum detectable d_z (NaN when ``n - 1 <= 0``).

    References
    ----------
    Cohen, J. (1988), ch. 2; G*Power (Faul et al. 2007): d_z = 0.5, alpha = .05 two-sided,
    power = .80 needs 34 pairs.

    Examples
    --------
    >>> print(mde_paired(34).round(2).to_string(index=False))
     n_pairs  deff  alpha  power effect_size_type  mde_standardized
          34   1.0   0.05    0.8              d_z               0.5
    """
    mde = _mde_paired(n_pairs, alpha=alpha, power=power, deff=deff)
    return pd.DataFrame([[n_pairs, deff, alpha, power, "d_z", mde]], columns=MDE_PAIRED_COLUMNS)


def _mde_paired(n_pairs: float, *, alpha: float, power: float, deff: float) -> float:
    """:func:`mde_paired` as a float."""
    _check(alpha, power, deff)
    n = n_pairs / deff
    if n - 1 <= 0:
        return float("nan")
    return _solve(
        TTestPower().solve_power,
        effect_size=None,
        nobs=n,
        alpha=alpha,
        power=power,
        alternative="two-sided",
    )


def design_effect(mean_cluster_size: float, icc: float) -> pd.DataFrame:
    """Kish's design effect for cluster sampling, ``deff = 1 + (m - 1) * icc``.

    Parameters
    ----------
    mean_cluster_size : float
        Average number of respondents per cluster, ``m >= 1``.
    icc : float
        Intraclass correlation, in ``[0, 1]`` (clip a negative estimate to 0 first).

    Returns
    -------
    pandas.DataFrame
        One row, columns ``DEFF_COLUMNS``: ``mean_cluster_size``, ``icc``, ``deff``.

    References
    ----------
    Kish, L. (1965). *Survey Sampling*. Wiley, sec. 5.4.

    Examples
    --------
    >>> print(design_effect(21, 0.05).round(3).to_string(index=False))
     mean_cluster_size  icc  deff
                    21 0.05   2.0
    """
    deff = _design_effect(mean_cluster_size, icc)
    return pd.DataFrame([[mean_cluster_size, icc, deff]], columns=DEFF_COLUMNS)


def _design_effect(mean_cluster_size: float, icc: float) -> float:
    """:func:`design_effect` as a float."""
    if not mean_cluster_size >= 1:
        raise ValueError(f"mean_cluster_size must be >= 1, got {mean_cluster_size}")
    if not 0 <= icc <= 1:
        raise ValueError(f"icc must be in [0, 1], got {icc}")
    return 1.0 + (mean_cluster_size - 1.0) * icc


def _group_labels(frame: pd.DataFrame, group_by: str) -> pd.Series:
    """``all`` -> "all"; ``unit`` -> "<organisation> / <unit>"; else the column as text."""
    if group_by == "all":
        return pd.Series("all", index=frame.index, dtype=object)
    if group_by == "unit":
        org = frame["organisation"].astype("string")
        unit = frame["unit"].astype("string")
        return (org + " / " + unit).astype(object).where((org.notna() & unit.notna()), None)
    if group_by not in frame:
        raise ValueError(f"scores lacks the group_by column {group_by!r}")
    col = frame[group_by]
    return col.astype("string").astype(object).where(col.notna(), None)


def _pooled_sd(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = len(a), len(b)
    if na + nb - 2 <= 0:
        return float("nan")
    ss = (na - 1) * (np.var(a, ddof=1) if na > 1 else 0.0)
    ss += (nb - 1) * (np.var(b, ddof=1) if nb > 1 else 0.0)
    return float(np.sqrt(ss / (na + nb - 2)))


def _deff(n: float, clusters: int, icc: float) -> float:
    if not np.isfinite(icc) or clusters <= 1 or n <= 0:
        return 1.0
    return _design_effect(max(n / clusters, 1.0), icc)


def power_table(
    scores: pd.DataFrame,
    *,
    measures: Sequence[str],
    rounds: Sequence[str],
    baseline: str,
    group_bys: Sequence[str],
    icc: Mapping[str, float] | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    min_n: int = 5,
    cluster: str = "organisation",
) -> pd.DataFrame:
    """Minimum detectable effect of the next round versus the baseline, per group.

    The latest round is the last of ``rounds`` with any row in ``scores`` (the baseline itself
    when only the baseline has been collected); its respondents per group are taken as the
    expected sample of the next round. For each measure x ``group_by`` x group:

    - ``design = "independent"``: ``n_baseline`` and ``n_next`` = non-missing answers in the
      baseline and the latest round; ``mde_standardized`` = :func:`mde_independent` (Cohen's
      d, ``effect_size_type = "cohen_d"``); ``sd`` = pooled SD of the baseline and latest
      answers, ``mde_raw = mde_standardized * sd`` (in the measure's units).
    - ``design = "paired"`` (only when some respondent codes link the latest round to the
      baseline): ``n_baseline = n_next`` = respondents with a code and an answer in both;
      ``mde_standardized`` = :func:`mde_paired` (``d_z``); ``sd`` = SD of their differences,
      ``mde_raw = d_z * sd``. A pair belongs to the group of its latest-round row.

    Design effect: with ``icc[measure]`` given, ``deff = 1 + (m - 1) icc`` (Kish 1965) with
    ``m`` = respondents per ``cluster`` (default organisation) in the group's latest-round
    sample, applied to both designs as ``n / deff``. A group within a single cluster has
    ``deff = 1`` (its organisation effect is shared by both rounds). Treating organisations as
    independent between rounds is conservative for repeated cross-sections of the same
    organisations, whose stable organisation effects cancel in the change. Without an ICC,
    ``icc`` is empty and ``deff = 1``.

    Groups with fewer than ``min_n`` (in either round; or pairs) keep their row with
    ``suppressed = True`` and every statistic empty.

    Parameters
    ----------
    scores : DataFrame
        One row per respondent per round: ``round, organisation, unit, respondent``, the
        ``group_bys`` columns and one float column per measure. Not modified.
    measures : list of str
    rounds : list of str
        Round ids in time order.
    baseline : str
    group_bys : list of str
        ``all``, ``unit`` (group "<organisation> / <unit>") or any column of ``scores``.
    icc : dict, optional
        Measure -> intraclass correlation of ``cluster`` (e.g. from ``lmm.csv``).
    alpha, power : float
        Two-sided significance level and required power.
    min_n : int
        Disclosure threshold.
    cluster : str
        Column defining clusters for the design effect.

    Returns
    -------
    DataFrame
        ``measure, group_by, group, design, baseline, latest_round, n_baseline, n_next,
        n_clusters, icc, deff, alpha, power, effect_size_type, mde_standardized, sd, mde_raw,
        suppressed``.

    References
    ----------
    Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*.
    Kish, L. (1965). *Survey Sampling*.
    """
    _check(alpha, power, 1.0)
    icc = dict(icc or {})
    for m, value in icc.items():
        if not 0 <= value <= 1:
            raise ValueError(f"icc for {m!r} must be in [0, 1], got {value}")
    if baseline not in rounds:
        raise ValueError(f"baseline {baseline!r} is not among rounds {list(rounds)}")
    rnd = scores["round"].astype("string")
    present = [r for r in rounds if (rnd == r).any()]
    latest = present[-1] if present else baseline
    codes = (
        scores["respondent"].astype("string").str.strip().replace("", pd.NA)
        if "respondent" in scores
        else pd.Series(pd.NA, index=scores.index, dtype="string")
    )
    is_base = (rnd == baseline).fillna(False).to_numpy()
    is_latest = (rnd == latest).fillna(False).to_numpy()
    clusters = (
        scores[cluster].astype("string")
        if cluster in scores
        else pd.Series(pd.NA, index=scores.index, dtype="string")
    )
    rows: list[dict] = []
    for measure in measures:
        values = pd.to_numeric(scores[measure]).astype("float64")
        answered = values.notna().to_numpy()
        mde_icc = float(icc.get(measure, np.nan))
        # linked pairs: code with an answer in both the baseline and the latest round
        pairs = pd.DataFrame()
        if latest != baseline:
            base = pd.DataFrame({"code": codes, "v": values})[is_base & answered].dropna()
            last = pd.DataFrame({"code": codes, "v": values, "_i": np.arange(len(scores))})[
                is_latest & answered
            ].dropna(subset=["code"])
            base = base.drop_duplicates("code", keep=False)
            last = last.drop_duplicates("code", keep=False)
            pairs = last.merge(base, on="code", suffixes=("_r", "_b"))
        for group_by in group_bys:
            labels = _group_labels(scores, group_by)
            groups = sorted({g for g in labels[(is_base | is_latest) & answered] if g is not None})
            for group in groups:
                in_group = (labels == group).to_numpy()
                b = values[in_group & is_base & answered].to_numpy()
                r = values[in_group & is_latest & answered].to_numpy()
                k = int(clusters[in_group & is_latest & answered].nunique())
                deff = _deff(len(r), k, mde_icc)
                if latest != baseline:
                    sd = _pooled_sd(b, r)
                else:
                    sd = float(np.std(b, ddof=1)) if len(b) > 1 else float("nan")
                mde = _mde_independent(len(b), len(r), alpha=alpha, power=power, deff=deff)
                rows.append(
                    {
                        "measure": measure,
                        "group_by": group_by,
                        "group": group,
                        "design": "independent",
                        "baseline": baseline,
                        "latest_round": latest,
                        "n_baseline": float(len(b)),
                        "n_next": float(len(r)),
                        "n_clusters": float(k),
                        "icc": mde_icc,
                        "deff": deff,
                        "alpha": alpha,
                        "power": power,
                        "effect_size_type": "cohen_d",
                        "mde_standardized": mde,
                        "sd": sd,
                        "mde_raw": mde * sd,
                    }
                )
                if pairs.empty:
                    continue
                idx = pairs["_i"].to_numpy()
                in_pairs = in_group[idx]
                diff = (pairs["v_r"] - pairs["v_b"]).to_numpy()[in_pairs]
                n_p = len(diff)
                k_p = int(clusters.iloc[idx[in_pairs]].nunique()) if n_p else 0
                deff_p = _deff(n_p, k_p, mde_icc)
                sd_d = float(np.std(diff, ddof=1)) if n_p > 1 else float("nan")
                mde_p = _mde_paired(n_p, alpha=alpha, power=power, deff=deff_p)
                rows.append(
                    {
                        "measure": measure,
                        "group_by": group_by,
                        "group": group,
                        "design": "paired",
                        "baseline": baseline,
                        "latest_round": latest,
                        "n_baseline": float(n_p),
                        "n_next": float(n_p),
                        "n_clusters": float(k_p),
                        "icc": mde_icc,
                        "deff": deff_p,
                        "alpha": alpha,
                        "power": power,
                        "effect_size_type": "d_z",
                        "mde_standardized": mde_p,
                        "sd": sd_d,
                        "mde_raw": mde_p * sd_d,
                    }
                )
    out = pd.DataFrame(rows, columns=POWER_COLUMNS[:-1])
    for col in ("n_baseline", "n_next", "n_clusters", "icc", "deff", "alpha", "power"):
        out[col] = out[col].astype("float64")
    for col in ("mde_standardized", "sd", "mde_raw"):
        out[col] = out[col].astype("float64")
    out = suppress(
        out,
        n_columns=["n_baseline", "n_next"],
        keep=[
            "measure",
            "group_by",
            "group",
            "design",
            "baseline",
            "latest_round",
            "icc",
            "alpha",
            "power",
            "effect_size_type",
        ],
        min_n=min_n,
    )
    return out[POWER_COLUMNS]
