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
from scipy.optimize import brentq
from statsmodels.stats.power import TTestIndPower, TTestPower

from evaluation.analyse.suppression import suppress

log = logging.getLogger(__name__)

# The columns of the one-row results of the estimators (the names of ``power.csv``).
MDE_INDEPENDENT_COLUMNS = [
    "n_baseline", "n_round", "deff", "alpha", "power", "effect_size_type", "mde_standardized",
]  # fmt: skip
MDE_PAIRED_COLUMNS = ["n_pairs", "deff", "alpha", "power", "effect_size_type", "mde_standardized"]
DEFF_COLUMNS = ["mean_cluster_size", "icc", "deff", "cv"]
DEFF_NESTED_COLUMNS = [
    "n", "n_units", "n_organisations", "m_unit", "cv_unit", "m_org", "cv_org", "icc_unit",
    "icc_org", "deff",
]  # fmt: skip
NESTED_ICC_COLUMNS = [
    "n", "n_units", "n_organisations", "var_org", "var_unit", "var_resid", "icc_org", "icc_unit",
]  # fmt: skip

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
    "icc_unit",
    "deff_baseline",
    "n_latest",
    "n_source",
]


def _check(alpha: float, power: float, deff: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not 0 < power < 1:
        raise ValueError(f"power must be in (0, 1), got {power}")
    if not deff > 0:
        raise ValueError(f"deff must be positive, got {deff}")


def _solve(fn, *, power: float, **kwargs) -> float:
    """The effect size at which ``fn(effect_size=d, **kwargs)`` (a statsmodels power function)
    equals ``power``: Brent's root search in a bracket doubled from ``(0, 0.001]`` (scipy's
    noncentral t gives NaN far above the root; statsmodels' own ``solve_power`` fails for some
    large n, e.g. 1508 pairs, and returns its search bound for tiny ones); where the doubled
    bound falls in that NaN region (an effective n of 3.875 pairs: NaN from d = 4.1, root 2.2),
    it steps back halfway. NaN when there is no root (df <= 0, or an effective n too small)."""

    def gap(d: float) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(np.asarray(fn(effect_size=d, **kwargs)).squeeze()) - power

    try:
        low, high = 1e-9, 1e-3
        if not gap(low) < 0:
            return float("nan")
        for _ in range(200):  # power increases in d: widen the bracket until it holds the root
            above = gap(high)
            if not np.isfinite(above):  # past where scipy's noncentral t is NaN: step back
                high = (low + high) / 2
                continue
            if above > 0:
                break
            low, high = high, 2 * high
            if high > 100:
                return float("nan")
        else:
            return float("nan")
        value = brentq(gap, low, high, xtol=1e-12, rtol=1e-12)
    except (ValueError, RuntimeError, ZeroDivisionError):
        return float("nan")
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
        TTestIndPower().power,
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
        TTestPower().power,
        nobs=n,
        alpha=alpha,
        power=power,
        alternative="two-sided",
    )


def design_effect(mean_cluster_size: float, icc: float, *, cv: float = 0.0) -> pd.DataFrame:
    """Design effect of one level of clustering, with unequal cluster sizes.

    ``deff = 1 + ((cv^2 + 1) m - 1) icc`` (Eldridge, Ashby & Kerry 2006), with ``m`` the
    mean cluster size and ``cv`` the coefficient of variation of the cluster sizes; ``cv = 0``
    is Kish's ``1 + (m - 1) icc``. ``(cv^2 + 1) m = sum m_j^2 / sum m_j`` is the size-weighted
    mean cluster size (with the SD of the sizes taken with divisor = number of clusters), for
    which the formula is the exact variance ratio of the mean over all respondents under a
    random-intercept model (Gabler, Häder & Lahiri 1999).

    Parameters
    ----------
    mean_cluster_size : float
        Average number of respondents per cluster, ``m >= 1``.
    icc : float
        Intraclass correlation, in ``[0, 1]`` (clip a negative estimate to 0 first).
    cv : float, default 0
        Coefficient of variation of the cluster sizes, ``>= 0``.

    Returns
    -------
    pandas.DataFrame
        One row, columns ``DEFF_COLUMNS``: ``mean_cluster_size, icc, deff, cv``.

    References
    ----------
    Kish, L. (1965). *Survey Sampling*. Wiley, sec. 5.4.
    Gabler, S., Häder, S., & Lahiri, P. (1999). A model based justification of Kish's formula
    for design effects for weighting and clustering. *Survey Methodology*, 25, 105-106.
    Eldridge, S. M., Ashby, D., & Kerry, S. (2006). Sample size for cluster randomized trials:
    effect of coefficient of variation of cluster size and analysis method. *International
    Journal of Epidemiology*, 35, 1292-1300.

    Examples
    --------
    >>> print(design_effect(21, 0.05).round(3).to_string(index=False))
     mean_cluster_size  icc  deff  cv
                    21 0.05   2.0 0.0
    >>> print(design_effect(20, 0.05, cv=1.0).round(3).to_string(index=False))
     mean_cluster_size  icc  deff  cv
                    20 0.05  2.95 1.0
    """
    deff = _design_effect(mean_cluster_size, icc, cv)
    return pd.DataFrame([[mean_cluster_size, icc, deff, cv]], columns=DEFF_COLUMNS)


def _design_effect(mean_cluster_size: float, icc: float, cv: float = 0.0) -> float:
    """:func:`design_effect` as a float."""
    if not mean_cluster_size >= 1:
        raise ValueError(f"mean_cluster_size must be >= 1, got {mean_cluster_size}")
    if not 0 <= icc <= 1:
        raise ValueError(f"icc must be in [0, 1], got {icc}")
    if not cv >= 0:
        raise ValueError(f"cv must be >= 0, got {cv}")
    return 1.0 + ((cv**2 + 1.0) * mean_cluster_size - 1.0) * icc


def _cv(sizes: np.ndarray) -> float:
    """Coefficient of variation of cluster sizes (SD with divisor = number of clusters)."""
    return float(np.std(sizes) / np.mean(sizes)) if len(sizes) and np.mean(sizes) > 0 else 0.0


def design_effect_nested(
    unit_sizes: Sequence[float],
    organisations: Sequence[object],
    *,
    icc_unit: float,
    icc_org: float,
) -> pd.DataFrame:
    """Design effect of respondents in units in organisations, with unequal sizes.

    Three-level design effect of Heo & Leon (2008: ``1 + (n1 - 1) rho_1 + n1 (n2 - 1)
    rho_2`` for ``n1`` respondents per unit and ``n2`` units per organisation), with each
    mean size replaced by its size-weighted mean ``m* = m (1 + cv^2)`` as in Eldridge, Ashby &
    Kerry (2006) for one level::

        deff = 1 + (m*_unit - 1) icc_unit + (m*_org - m*_unit) icc_org
        m*_unit = sum_u m_u^2 / N = m_unit (1 + cv_unit^2)
        m*_org  = sum_o M_o^2 / N = m_org (1 + cv_org^2)

    ``icc_unit`` = correlation of two respondents of the same unit = (s2_org + s2_unit) /
    s2_total, ``icc_org`` = of two respondents of the same organisation in different units =
    s2_org / s2_total (Snijders & Bosker 2012; the ICCs of ``lmm.csv``). Under the
    nested random-intercept model ``y = mu + a_o + b_u + e`` this is exactly ``N Var(ybar) /
    s2_total`` for the mean ``ybar`` of all ``N`` respondents: ``N^2 Var(ybar) = s2_org sum
    M_o^2 + s2_unit sum m_u^2 + s2_resid N``. With equal sizes it is Heo & Leon's; with
    ``icc_unit = icc_org`` (no unit effect) it is Eldridge's formula for organisations.

    Parameters
    ----------
    unit_sizes : sequence of float
        Respondents per unit (expected or observed; > 0).
    organisations : sequence
        The organisation of each unit (same length).
    icc_unit, icc_org : float
        ``0 <= icc_org <= icc_unit <= 1``.

    Returns
    -------
    pandas.DataFrame
        One row, columns ``DEFF_NESTED_COLUMNS``: ``n, n_units, n_organisations, m_unit,
        cv_unit, m_org, cv_org, icc_unit, icc_org, deff``.

    References
    ----------
    Heo, M., & Leon, A. C. (2008). Statistical power and sample size requirements for three
    level hierarchical cluster randomized trials. *Biometrics*, 64, 1256-1262.
    Eldridge, S. M., Ashby, D., & Kerry, S. (2006). *Int J Epidemiol*, 35, 1292-1300.
    Snijders, T. A. B., & Bosker, R. J. (2012). *Multilevel Analysis* (2nd ed.). Sage.

    Examples
    --------
    >>> d = design_effect_nested([10, 10, 10, 10], ["a", "a", "b", "b"], icc_unit=0.2,
    ...                          icc_org=0.1)
    >>> float(d["deff"].iloc[0])  # 1 + 9 * 0.2 + 10 * 0.1
    3.8
    """
    sizes = np.asarray(unit_sizes, dtype="float64")
    orgs = pd.Series(list(organisations), dtype=object)
    if len(sizes) != len(orgs):
        raise ValueError("unit_sizes and organisations must have the same length")
    if len(sizes) == 0 or not (sizes > 0).all():
        raise ValueError("unit_sizes must be positive (and not empty)")
    if not 0 <= icc_org <= icc_unit <= 1:
        raise ValueError(
            f"need 0 <= icc_org <= icc_unit <= 1, got icc_org={icc_org}, icc_unit={icc_unit}"
        )
    org_sizes = pd.Series(sizes).groupby(orgs.to_numpy()).sum().to_numpy()
    deff = _nested_deff(sizes, org_sizes, icc_unit, icc_org)
    row = [sizes.sum(), len(sizes), len(org_sizes), sizes.mean(), _cv(sizes), org_sizes.mean()]
    row += [_cv(org_sizes), icc_unit, icc_org, deff]
    return pd.DataFrame([row], columns=DEFF_NESTED_COLUMNS)


def _nested_deff(
    unit_sizes: np.ndarray, org_sizes: np.ndarray, icc_unit: float, icc_org: float
) -> float:
    """:func:`design_effect_nested` from the sizes as a float (no checks)."""
    n = float(unit_sizes.sum())
    m_unit = float((unit_sizes**2).sum() / n)
    m_org = float((org_sizes**2).sum() / n)
    return 1.0 + (m_unit - 1.0) * icc_unit + (m_org - m_unit) * icc_org


def nested_icc(
    values: Sequence[float],
    organisations: Sequence[object],
    units: Sequence[object],
) -> pd.DataFrame:
    """ICCs of a two-level nested classification (units in organisations) by ANOVA.

    Method-of-moments (ANOVA) estimators of the unbalanced nested random model ``y = mu +
    a_o + b_u(o) + e`` (Searle, Casella & McCulloch 1992, ch. 5, the 2-way nested
    classification; Sokal & Rohlf 1995, nested ANOVA). With ``a`` organisations, ``b`` units,
    ``N`` values, ``n_u`` per unit, ``n_o`` per organisation::

        E[MS_resid] = s2_e
        E[MS_unit]  = s2_e + k1 s2_u,             k1 = (N - sum_u n_u^2 / n_o(u)) / (b - a)
        E[MS_org]   = s2_e + k2 s2_u + k3 s2_o,   k2 = (sum_u n_u^2 / n_o(u) - sum_u n_u^2 / N)
                                                       / (a - 1)
                                                  k3 = (N - sum_o n_o^2 / N) / (a - 1)

    solved for the components, each truncated at 0 (a component that cannot be estimated, one
    organisation or no organisation with two units, is 0). ``icc_org = s2_o / total``,
    ``icc_unit = (s2_o + s2_u) / total`` as in :func:`design_effect_nested`. With balanced data
    the estimates equal REML's when none is truncated. Used on the within-person differences of
    the linked pairs, so the design effect of the paired MDE is that of the change scores.

    Returns
    -------
    pandas.DataFrame
        One row, ``NESTED_ICC_COLUMNS``: ``n, n_units, n_organisations, var_org, var_unit,
        var_resid, icc_org, icc_unit`` (ICCs NaN when no unit has two values or the total
        variance is 0).

    References
    ----------
    Searle, S. R., Casella, G., & McCulloch, C. E. (1992). *Variance Components*. Wiley.
    Sokal, R. R., & Rohlf, F. J. (1995). *Biometry* (3rd ed.). Freeman.
    """
    frame = pd.DataFrame(
        {"y": np.asarray(values, dtype="float64"), "o": list(organisations), "u": list(units)}
    ).dropna()
    frame["u"] = list(zip(frame["o"], frame["u"], strict=True))
    n = len(frame)
    n_u = frame.groupby("u", sort=False)["y"].agg(["size", "mean"])
    n_o = frame.groupby("o", sort=False)["y"].agg(["size", "mean"])
    a, b = len(n_o), len(n_u)
    nan = float("nan")
    if n - b <= 0:
        return pd.DataFrame([[n, b, a, nan, nan, nan, nan, nan]], columns=NESTED_ICC_COLUMNS)
    y = frame["y"].to_numpy()
    mean_u = frame["u"].map(n_u["mean"]).to_numpy()
    ss_e = float(((y - mean_u) ** 2).sum())
    ms_e = ss_e / (n - b)
    org_of_unit = pd.Series([u[0] for u in n_u.index], index=n_u.index)
    n_o_of_unit = org_of_unit.map(n_o["size"]).to_numpy(dtype="float64")
    mean_o_of_unit = org_of_unit.map(n_o["mean"]).to_numpy(dtype="float64")
    sizes_u = n_u["size"].to_numpy(dtype="float64")
    s_uo = float((sizes_u**2 / n_o_of_unit).sum())
    var_u = 0.0
    if b - a > 0:
        ss_u = float((sizes_u * (n_u["mean"].to_numpy() - mean_o_of_unit) ** 2).sum())
        k1 = (n - s_uo) / (b - a)
        var_u = max((ss_u / (b - a) - ms_e) / k1, 0.0)
    var_o = 0.0
    if a > 1:
        sizes_o = n_o["size"].to_numpy(dtype="float64")
        ss_o = float((sizes_o * (n_o["mean"].to_numpy() - y.mean()) ** 2).sum())
        k2 = (s_uo - (sizes_u**2).sum() / n) / (a - 1)
        k3 = (n - (sizes_o**2).sum() / n) / (a - 1)
        var_o = max((ss_o / (a - 1) - ms_e - k2 * var_u) / k3, 0.0)
    total = var_o + var_u + ms_e
    icc_o = var_o / total if total > 0 else nan
    icc_u = (var_o + var_u) / total if total > 0 else nan
    row = [n, b, a, var_o, var_u, ms_e, icc_o, icc_u]
    return pd.DataFrame([row], columns=NESTED_ICC_COLUMNS)


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


# Where ``n_next`` comes from (the ``n_source`` column of ``power.csv``).
N_FROM_HEADCOUNT = "n_from_headcount"
N_FROM_LATEST = "n_from_latest_round"
N_FROM_BOTH = "n_from_headcount_and_latest_round"


def _levels(value: object, measure: str) -> tuple[float, float]:
    """``icc[measure]`` -> (organisation ICC, unit ICC); a float is the organisation ICC with
    no extra unit clustering (unit ICC = organisation ICC)."""
    if value is None:
        return float("nan"), float("nan")
    if isinstance(value, Mapping):
        org = float(value.get("organisation", np.nan))
        unit = value.get("unit")
        unit = org if unit is None or not np.isfinite(float(unit)) else float(unit)
    else:
        org = unit = float(value)  # type: ignore[arg-type]
    if not np.isfinite(org):
        return float("nan"), float("nan")
    if not 0 <= org <= unit <= 1:
        raise ValueError(
            f"icc for {measure!r}: need 0 <= organisation <= unit <= 1, got {org}, {unit}"
        )
    return org, unit


def _group_deff(sizes: pd.Series, icc_org: float, icc_unit: float) -> float:
    """Design effect of a group whose respondents per (organisation, unit) are ``sizes``.

    :func:`design_effect_nested`; a group within one organisation is conditional on it: no
    organisation level, and the unit ICC within the organisation ``(icc_unit - icc_org) / (1 -
    icc_org)``. No ICC, or a single unit: 1."""
    sizes = sizes[sizes > 0]
    if not np.isfinite(icc_org) or len(sizes) == 0:
        return 1.0
    orgs = np.array([k[0] for k in sizes.index], dtype=object)
    if len(set(orgs)) <= 1:
        if len(sizes) <= 1 or icc_org >= 1:
            return 1.0
        icc_unit, icc_org = (icc_unit - icc_org) / (1.0 - icc_org), 0.0
    values = sizes.to_numpy(dtype="float64")
    org_sizes = pd.Series(values).groupby(orgs).sum().to_numpy()
    return _nested_deff(values, org_sizes, icc_unit, icc_org)


def _expected(
    latest: pd.Series,
    share: Mapping[tuple[str, str], float],
    headcounts: Mapping[tuple[str, str], float],
    response_rate: float | None,
) -> tuple[pd.Series, str]:
    """Expected respondents per (organisation, unit) of the next round and where they come
    from: headcount x response rate x the group's share of the unit, or the latest count."""
    if response_rate is None or not headcounts:
        return latest[latest > 0], N_FROM_LATEST
    from_hc = _by_key(
        {k: h * response_rate * float(share.get(k, 0.0)) for k, h in headcounts.items()}
    )
    rest = latest[[k not in headcounts for k in latest.index]]
    rest = rest[rest > 0]
    from_hc = from_hc[from_hc > 0]
    source = N_FROM_BOTH if len(rest) and len(from_hc) else N_FROM_LATEST
    if len(from_hc) and not len(rest):
        source = N_FROM_HEADCOUNT
    return pd.concat([from_hc, rest.astype("float64")]), source


def _counts(keys: pd.Series, mask: np.ndarray) -> pd.Series:
    """Rows per (organisation, unit) among ``mask`` (an index of tuples, not a MultiIndex)."""
    sel = keys[mask]
    counts: dict[tuple[str, str], float] = {}
    for key in sel[sel.notna()]:
        counts[key] = counts.get(key, 0.0) + 1.0
    return _by_key(counts)


def _by_key(values: Mapping[tuple[str, str], float]) -> pd.Series:
    """A float Series indexed by (organisation, unit) tuples."""
    index = pd.Index(list(values), dtype=object, tupleize_cols=False)
    return pd.Series(list(values.values()), index=index, dtype="float64")


def power_table(
    scores: pd.DataFrame,
    *,
    measures: Sequence[str],
    rounds: Sequence[str],
    baseline: str,
    group_bys: Sequence[str],
    icc: Mapping[str, float | Mapping[str, float]] | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    min_n: int = 5,
    cluster: str = "organisation",
    headcounts: Mapping[str, Mapping[str, float]] | None = None,
    response_rate: float | None = None,
) -> pd.DataFrame:
    """Minimum detectable effect of the next round versus the baseline, per group.

    The latest round is the last of ``rounds`` with any row in ``scores`` (the baseline itself
    when only the baseline has been collected).

    **The next round's n** per (organisation, unit): with ``headcounts`` and
    ``response_rate``, ``headcount x response_rate x share`` (``share`` = the group's share of
    the unit's latest-round respondents: 1 or 0 for groupings by organisation; units without
    any respondent yet count in ``all`` only); a unit without a headcount, or every unit when
    ``response_rate`` is None, keeps its latest-round count. ``n_source`` says which
    (``n_from_headcount``, ``n_from_latest_round``, ``n_from_headcount_and_latest_round``).

    For each measure x ``group_by`` x group:

    - ``design = "independent"``: ``n_baseline`` = non-missing answers in the baseline,
      ``n_next`` = the next round's expected n; ``mde_standardized`` = :func:`mde_independent`
      with effective sizes ``n_baseline / deff_baseline`` and ``n_next / deff`` (Cohen's d);
      ``sd`` = pooled SD of the baseline and latest answers, ``mde_raw = mde_standardized * sd``.
    - ``design = "paired"`` (only when some respondent codes link the latest round to the
      baseline): the expected pairs, ``n_baseline = n_next`` = linked pairs x (the next round's
      n / the latest round's n) per unit; ``mde_standardized`` = :func:`mde_paired` (``d_z``);
      ``sd`` = SD of the differences. A pair belongs to the group (and unit) of its
      latest-round row.

    **Design effect** (:func:`design_effect_nested`: units in organisations, unequal sizes) of
    the group's sizes per unit: for independent rows with the score ICCs ``icc[measure]``
    (``{"organisation": ..., "unit": ...}`` as :func:`evaluation.pipeline.session.icc_by_measure`
    gives them; a float is the organisation ICC alone) — ``deff`` of the next round's expected
    sample, ``deff_baseline`` of the baseline's; for paired rows with the ICCs of the CHANGE
    scores (:func:`nested_icc` of the differences of all linked pairs of the measure, by the
    latest-round organisation and unit): stable organisation and unit effects cancel in a
    change, so the score-level ICC does not apply to it. A group within one organisation is
    conditional on it (no organisation level). Without an ICC, ``icc`` is empty and ``deff =
    1``.

    Groups with fewer than ``min_n`` observed respondents (in either round; or pairs) keep
    their row with ``suppressed = True`` and every statistic empty.

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
        Measure -> the score ICCs: a mapping with ``organisation`` and ``unit`` (the ICCs of
        ``lmm.csv``; unit >= organisation), or a float (organisation only).
    alpha, power : float
        Two-sided significance level and required power.
    min_n : int
        Disclosure threshold.
    cluster : str
        Column of the top clustering level (units are nested in it).
    headcounts : dict, optional
        Organisation -> unit -> headcount (study.yaml ``organisations: ... units:``).
    response_rate : float, optional
        Expected response rate of the next round, in (0, 1] (``analysis.power.response_rate``).

    Returns
    -------
    DataFrame
        ``POWER_COLUMNS``.

    References
    ----------
    Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*.
    Heo, M., & Leon, A. C. (2008). *Biometrics*, 64, 1256-1262.
    Eldridge, S. M., Ashby, D., & Kerry, S. (2006). *Int J Epidemiol*, 35, 1292-1300.
    """
    _check(alpha, power, 1.0)
    levels = {m: _levels(v, m) for m, v in dict(icc or {}).items()}
    if response_rate is not None and not 0 < response_rate <= 1:
        raise ValueError(f"response_rate must be in (0, 1], got {response_rate}")
    if baseline not in rounds:
        raise ValueError(f"baseline {baseline!r} is not among rounds {list(rounds)}")
    hc = {
        (str(o), str(u)): float(h)
        for o, units in (headcounts or {}).items()
        for u, h in units.items()
        if h is not None and h > 0
    }
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
    top = (
        scores[cluster].astype("string")
        if cluster in scores
        else pd.Series(pd.NA, index=scores.index, dtype="string")
    )
    sub = scores["unit"].astype("string") if "unit" in scores else top
    keys = pd.Series(
        [
            None if pd.isna(o) or pd.isna(u) else (str(o), str(u))
            for o, u in zip(top, sub, strict=True)
        ],
        index=scores.index,
        dtype=object,
    )
    rows: list[dict] = []
    for measure in measures:
        values = pd.to_numeric(scores[measure]).astype("float64")
        answered = values.notna().to_numpy()
        icc_org, icc_unit = levels.get(measure, (float("nan"), float("nan")))
        all_latest = _counts(keys, is_latest & answered)
        all_any = _counts(keys, (is_base | is_latest) & answered)
        # linked pairs: code with an answer in both the baseline and the latest round
        pairs = pd.DataFrame()
        change = (float("nan"), float("nan"))
        rho = 0.0
        if latest != baseline:
            base = pd.DataFrame({"code": codes, "v": values})[is_base & answered].dropna()
            last = pd.DataFrame({"code": codes, "v": values, "_i": np.arange(len(scores))})[
                is_latest & answered
            ].dropna(subset=["code"])
            base = base.drop_duplicates("code", keep=False)
            last = last.drop_duplicates("code", keep=False)
            pairs = last.merge(base, on="code", suffixes=("_r", "_b"))
            if not pairs.empty:
                pk = keys.iloc[pairs["_i"].to_numpy()]
                ok = pk.notna().to_numpy()
                est = nested_icc(
                    (pairs["v_r"] - pairs["v_b"]).to_numpy()[ok],
                    [k[0] for k in pk[ok]],
                    [k[1] for k in pk[ok]],
                ).iloc[0]
                change = (float(est["icc_org"]), float(est["icc_unit"]))
                rho = (
                    float(np.corrcoef(pairs["v_b"], pairs["v_r"])[0, 1]) if len(pairs) > 2 else 0.0
                )
        for group_by in group_bys:
            labels = _group_labels(scores, group_by)
            groups = sorted({g for g in labels[(is_base | is_latest) & answered] if g is not None})
            for group in groups:
                in_group = (labels == group).to_numpy()
                b = values[in_group & is_base & answered].to_numpy()
                r = values[in_group & is_latest & answered].to_numpy()
                g_latest = _counts(keys, in_group & is_latest & answered)
                g_any = _counts(keys, in_group & (is_base | is_latest) & answered)
                # the group's share of each unit: of its latest-round respondents, else of its
                # respondents in either round; units without any: in "all" only
                share = {k: (1.0 if group_by == "all" else 0.0) for k in hc}
                g_any_d, g_latest_d = dict(g_any.items()), dict(g_latest.items())
                share.update({k: g_any_d.get(k, 0.0) / v for k, v in all_any.items()})
                share.update({k: g_latest_d.get(k, 0.0) / v for k, v in all_latest.items()})
                expected, source = _expected(g_latest, share, hc, response_rate)
                n_next = float(expected.sum())
                k = len({key[0] for key in expected.index})
                deff = _group_deff(expected, icc_org, icc_unit)
                deff_b = _group_deff(
                    _counts(keys, in_group & is_base & answered), icc_org, icc_unit
                )
                if latest != baseline:
                    sd = _pooled_sd(b, r)
                else:
                    sd = float(np.std(b, ddof=1)) if len(b) > 1 else float("nan")
                n1, n2 = len(b) / deff_b, n_next / deff
                mde = (
                    _mde_independent(n1, n2, alpha=alpha, power=power, deff=1.0)
                    if n1 > 0 and n2 > 0
                    else float("nan")
                )
                common = {
                    "measure": measure,
                    "group_by": group_by,
                    "group": group,
                    "baseline": baseline,
                    "latest_round": latest,
                    "alpha": alpha,
                    "power": power,
                    "n_source": source,
                }
                rows.append(
                    {
                        **common,
                        "design": "independent",
                        "n_baseline": float(len(b)),
                        "n_next": n_next,
                        "n_clusters": float(k),
                        "icc": icc_org,
                        "deff": deff,
                        "effect_size_type": "cohen_d",
                        "mde_standardized": mde,
                        "sd": sd,
                        "mde_raw": mde * sd,
                        "icc_unit": icc_unit,
                        "deff_baseline": deff_b,
                        "n_latest": float(len(r)),
                        "_n_obs_b": float(len(b)),
                        "_n_obs_r": float(len(r)),
                    }
                )
                if pairs.empty:
                    continue
                idx = pairs["_i"].to_numpy()
                in_pairs = in_group[idx]
                diff = (pairs["v_r"] - pairs["v_b"]).to_numpy()[in_pairs]
                n_p = len(diff)
                p_u = _counts(keys.iloc[idx[in_pairs]], np.ones(n_p, dtype=bool))
                # expected pairs per unit: its pairs x (expected / latest n); a unit without
                # latest-round respondents gives none
                latest_u, pairs_u = dict(g_latest.items()), dict(p_u.items())
                exp_p = _by_key(
                    {
                        key: pairs_u.get(key, 0.0) * e / latest_u[key]
                        for key, e in expected.items()
                        if latest_u.get(key, 0.0) > 0
                    }
                )
                n_pairs = float(exp_p.sum()) if source != N_FROM_LATEST else float(n_p)
                if source == N_FROM_LATEST:
                    exp_p = p_u
                k_p = len({key[0] for key in exp_p[exp_p > 0].index})
                deff_p = _group_deff(exp_p, *change)
                sd_d = float(np.std(diff, ddof=1)) if n_p > 1 else float("nan")
                mde_p = _mde_paired(n_pairs, alpha=alpha, power=power, deff=deff_p)
                rows.append(
                    {
                        **common,
                        "design": "paired",
                        "n_baseline": n_pairs,
                        "n_next": n_pairs,
                        "n_clusters": float(k_p),
                        "icc": change[0],
                        "deff": deff_p,
                        "effect_size_type": "d_z",
                        "mde_standardized": mde_p,
                        "sd": sd_d,
                        "mde_raw": mde_p * sd_d,
                        "icc_unit": change[1],
                        "deff_baseline": float("nan"),
                        "n_latest": float(n_p),
                        "_n_obs_b": float(n_p),
                        "_n_obs_r": float(n_p),
                    }
                )
                if n_pairs >= min(len(b), n_next):
                    continue  # everyone linked: the paired row is the all-respondent analysis
                # Partially overlapping samples (the primary all-respondent analysis): the
                # variance of the difference of the round means is sigma^2 (deff_b/n_b +
                # deff/n_next - 2 rho n_c/(n_b n_next)) with n_c expected pairs and rho the
                # correlation of the linked answers; the equivalent two equal independent
                # samples have n_e = 2 / that factor each.
                factor = deff_b / len(b) + deff / n_next - 2 * rho * n_pairs / (len(b) * n_next)
                n_e = 2.0 / factor if factor > 0 else float("nan")
                mde_o = (
                    _mde_independent(n_e, n_e, alpha=alpha, power=power, deff=1.0)
                    if n_e > 2
                    else float("nan")
                )
                rows.append(
                    {
                        **common,
                        "design": "partial_overlap",
                        "n_baseline": float(len(b)),
                        "n_next": n_next,
                        "n_clusters": float(k),
                        "icc": icc_org,
                        "deff": deff,
                        "effect_size_type": "d_av_all",
                        "mde_standardized": mde_o,
                        "sd": sd,
                        "mde_raw": mde_o * sd,
                        "icc_unit": icc_unit,
                        "deff_baseline": deff_b,
                        "n_latest": float(len(r)),
                        "_n_obs_b": float(min(len(b), n_p)),
                        "_n_obs_r": float(len(r)),
                    }
                )
    columns = [c for c in POWER_COLUMNS if c != "suppressed"] + ["_n_obs_b", "_n_obs_r"]
    out = pd.DataFrame(rows, columns=columns)
    floats = ["n_baseline", "n_next", "n_clusters", "icc", "deff", "alpha", "power"]
    floats += ["mde_standardized", "sd", "mde_raw", "icc_unit", "deff_baseline", "n_latest"]
    for col in floats:
        out[col] = out[col].astype("float64")
    out = suppress(
        out,
        n_columns=["_n_obs_b", "_n_obs_r"],
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
            "icc_unit",
            "n_source",
        ],
        min_n=min_n,
    )
    return out[POWER_COLUMNS]
