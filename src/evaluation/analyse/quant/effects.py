"""Two-sample comparisons of a round against the baseline: tests, effect sizes, the pre-post table.

Every difference and effect size is **round minus baseline** (positive = the round is higher).

Estimators
----------
``independent_rows``  Welch t + Hedges' g; Mann-Whitney U + rank-biserial r.
``paired_rows``       paired t + d_z and d_av; Wilcoxon signed-rank + matched-pairs rank-biserial r.
``partial_overlap_rows``  partially overlapping samples t (Derrick et al. 2017) + d_av_all.
``summary_rows``      Welch t + Hedges' g from ``n, mean, sd`` only (vendor aggregates).
``prepost_summary_table``  the pre-post table from unit aggregates (summary-statistics mode).
``hedges_g_with_variance``  g and its sampling variance, for meta-analysis.
``adjust_p``          Holm or Benjamini-Hochberg, NaN-safe.
``prepost_table``     the table of record ``prepost.csv``.

Result shape: each ``*_rows`` estimator returns a tidy :class:`pandas.DataFrame` with the columns
``ROW_KEYS`` (one row per test x effect-size type), and :func:`hedges_g_with_variance` a one-row
frame with the columns ``HEDGES_G_COLUMNS``; options are keyword-only and ``ci=`` is the confidence
level of every interval (default 0.95), as in pingouin.

Notes on what libraries report (checked in ``tests/test_effects.py``): pingouin's paired
``ttest(..., paired=True)["cohen_d"]`` and ``compute_effsize(..., paired=True, eftype="cohen")``
are *not* d_z: they divide the mean difference by the root-mean-square of the two SDs
(Cumming's d_av), so they ignore the correlation between the rounds. scipy's two-sided
``wilcoxon`` statistic is ``min(W+, W-)``, not W+; here the statistic is always W+ of
``round - baseline``.
"""

from __future__ import annotations

import functools
import logging
import math
import warnings
from collections.abc import Iterable
from typing import Literal

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import gammaln, nctdtr, ndtr, ndtri, stdtr
from statsmodels.stats.multitest import multipletests

from evaluation.analyse.groupings import PREPOST_IDENTIFYING
from evaluation.analyse.rows import group_labels as _group_labels
from evaluation.analyse.rows import link_codes as _codes
from evaluation.analyse.rows import unusable_cells
from evaluation.analyse.suppression import suppress

log = logging.getLogger(__name__)

# scipy.special's ndtri and stdtr(df, -t) are the functions behind stats.norm.ppf and
# stats.t.sf: the same numbers without scipy.stats' argument handling, which the pre/post
# table's thousands of comparisons paid for on each call.

ROW_KEYS = [
    "design",
    "n_baseline",
    "n_round",
    "mean_baseline",
    "mean_round",
    "diff",
    "test",
    "statistic",
    "df",
    "p",
    "effect_size_type",
    "effect_size",
    "es_ci_low",
    "es_ci_high",
]

PREPOST_COLUMNS = [
    "measure",
    "group_by",
    "group",
    "round",
    "baseline",
    "design",
    "n_baseline",
    "n_round",
    "mean_baseline",
    "mean_round",
    "diff",
    "test",
    "statistic",
    "df",
    "p",
    "p_adjusted",
    "correction",
    "effect_size_type",
    "effect_size",
    "es_ci_low",
    "es_ci_high",
    "suppressed",
    "family",
    "population",
    "analysis",
    "family_size",
]

IDENTIFYING = list(PREPOST_IDENTIFYING)

# R's wilcox.test computes exact p-values below this sample size when there are no ties.
_EXACT_BELOW = 50

Design = Literal["auto", "independent", "paired"]
Correction = Literal["holm", "fdr_bh"]

# The primary analysis (``analysis = "primary"`` in prepost.csv): these measures, the whole study,
# every respondent of both rounds, the parametric test. Its family is adjusted jointly with the
# DiD tests of lmm.csv (Holm, in primary.csv), so prepost.csv leaves its p_adjusted empty.
PRIMARY_MEASURES = ("qwl", "esis")
PRIMARY_TESTS = ("welch_t", "paired_t", "partial_overlap_t")
PRIMARY_FAMILY = "primary"
PRIMARY_CORRECTION: Correction = "holm"


# The columns of :func:`hedges_g_with_variance`.
HEDGES_G_COLUMNS = ["n_baseline", "n_round", "effect_size_type", "effect_size", "variance"]


def _frame(rows: list[dict]) -> pd.DataFrame:
    """Row dicts -> the tidy result frame with the ``ROW_KEYS`` columns."""
    return pd.DataFrame(rows, columns=ROW_KEYS)


# --------------------------------------------------------------------------- helpers


def _clean(values: Iterable[float] | np.ndarray | pd.Series) -> np.ndarray:
    """Float array without NaNs (a copy; the input is not modified). Anything that is not a
    number becomes missing; numbers already typed as numbers skip the parsing."""
    arr = _numbers(values)
    return arr[~np.isnan(arr)]


def _numbers(values: Iterable[float] | np.ndarray | pd.Series) -> np.ndarray:
    """``values`` as a float array (a copy), anything that is not a number missing; numbers
    already typed as numbers skip the parsing."""
    if isinstance(values, np.ndarray | pd.Series) and values.dtype.kind in "biuf":
        return np.array(values, dtype=float)  # a numeric Series' missing values become NaN
    return np.asarray(pd.to_numeric(pd.Series(values, dtype="object"), errors="coerce"), float)


def _check_ci(ci: float) -> None:
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be between 0 and 1 (exclusive), got {ci}")


def _nan_if_not_finite(x: float) -> float:
    return float(x) if np.isfinite(x) else math.nan


def hedges_j(df: float) -> float:
    """Hedges' exact small-sample correction ``J(df) = Γ(df/2) / (sqrt(df/2) Γ((df-1)/2))``.

    The common approximation ``1 - 3 / (4 df - 1)`` differs from it by less than 1e-4 for
    ``df >= 10``. NaN for ``df <= 1``.

    References
    ----------
    Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect size and related
    estimators. Journal of Educational Statistics, 6(2), 107-128.
    """
    if not np.isfinite(df) or df <= 1:
        return math.nan
    return float(np.exp(gammaln(df / 2) - 0.5 * np.log(df / 2) - gammaln((df - 1) / 2)))


def _nct_ncp_interval(t: float, df: float, ci: float) -> tuple[float, float]:
    """Confidence interval for the noncentrality parameter of a t statistic.

    Finds ``lo, hi`` with ``P(T <= t | lo) = 1 - a`` and ``P(T <= t | hi) = a``,
    ``a = (1 - ci) / 2`` (inversion of the noncentral t; Steiger & Fouladi 1997).
    """
    if not (np.isfinite(t) and np.isfinite(df) and df > 0):
        return math.nan, math.nan
    a = (1.0 - ci) / 2.0

    def f(ncp: float, target: float) -> float:
        # scipy.special.nctdtr is the noncentral t cdf behind stats.nct.cdf, without overhead.
        return float(nctdtr(df, ncp, t)) - target

    def root(target: float, direction: int) -> float:
        # cdf(t; ncp) decreases in ncp: walk from t in `direction` until the sign changes.
        step = 1.0 + abs(t) * 0.5
        inner = t
        outer = t + direction * step
        for _ in range(60):
            if f(outer, target) * direction < 0:
                break
            inner, step = outer, step * 2
            outer = t + direction * step
        else:
            return math.nan
        lo_, hi_ = sorted((inner, outer))
        try:
            return float(optimize.brentq(f, lo_, hi_, args=(target,), xtol=1e-10, maxiter=200))
        except ValueError:
            return math.nan

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lo = root(1.0 - a, -1)
        hi = root(a, +1)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        # Fall back to the normal approximation rather than leave the interval empty.
        z = ndtri(1 - a)
        log.debug("noncentral t inversion failed for t=%s df=%s; normal approximation", t, df)
        lo, hi = t - z, t + z
    return lo, hi


def _fisher_z_interval(r: float, se: float, ci: float) -> tuple[float, float]:
    """``tanh(atanh(r) ± z * se)``: normal approximation on Fisher's z scale."""
    if not (np.isfinite(r) and np.isfinite(se)):
        return math.nan, math.nan
    z = ndtri(1 - (1 - ci) / 2)
    zr = math.atanh(r)
    return math.tanh(zr - z * se), math.tanh(zr + z * se)


def _close_at_bound(r: float, lo: float, hi: float) -> tuple[float, float]:
    """An interval for a correlation at ±1 reaches that bound (the estimate stays inside)."""
    if r >= 1:
        return lo, 1.0
    if r <= -1:
        return -1.0, hi
    return lo, hi


def _row(
    design: str,
    n_b: float,
    n_r: float,
    mean_b: float,
    mean_r: float,
    test: str,
    statistic: float,
    df: float,
    p: float,
    es_type: str,
    es: float,
    lo: float,
    hi: float,
) -> dict:
    return {
        "design": design,
        "n_baseline": int(n_b),
        "n_round": int(n_r),
        "mean_baseline": _nan_if_not_finite(mean_b),
        "mean_round": _nan_if_not_finite(mean_r),
        "diff": _nan_if_not_finite(mean_r - mean_b),
        "test": test,
        "statistic": _nan_if_not_finite(statistic),
        "df": _nan_if_not_finite(df),
        "p": _nan_if_not_finite(p),
        "effect_size_type": es_type,
        "effect_size": _nan_if_not_finite(es),
        "es_ci_low": _nan_if_not_finite(lo),
        "es_ci_high": _nan_if_not_finite(hi),
    }


# --------------------------------------------------------------------------- independent samples


def _welch_and_g(
    n_b: float, mean_b: float, sd_b: float, n_r: float, mean_r: float, sd_r: float, ci: float
) -> dict:
    """Welch t and Hedges' g from summary statistics (shared by raw-data and summary paths)."""
    n_b, n_r = float(n_b), float(n_r)
    var_b, var_r = float(sd_b) ** 2, float(sd_r) ** 2
    t = df = p = math.nan
    g = lo = hi = math.nan
    with np.errstate(all="ignore"):
        if n_b >= 2 and n_r >= 2 and np.isfinite(var_b) and np.isfinite(var_r):
            se2_b, se2_r = var_b / n_b, var_r / n_r
            se = math.sqrt(se2_b + se2_r)
            if se > 0:
                t = (mean_r - mean_b) / se
                df = (se2_b + se2_r) ** 2 / (se2_b**2 / (n_b - 1) + se2_r**2 / (n_r - 1))
                p = float(2 * stdtr(df, -abs(t)))
            nu = n_b + n_r - 2
            s_pooled = math.sqrt(((n_b - 1) * var_b + (n_r - 1) * var_r) / nu)
            if s_pooled > 0:
                d = (mean_r - mean_b) / s_pooled
                g = hedges_j(nu) * d
                scale = math.sqrt(1 / n_b + 1 / n_r)
                ncp_lo, ncp_hi = _nct_ncp_interval(d / scale, nu, ci)
                lo, hi = ncp_lo * scale, ncp_hi * scale
    return _row("independent", n_b, n_r, mean_b, mean_r, "welch_t", t, df, p, "hedges_g", g, lo, hi)


def summary_rows(
    n_b: int,
    mean_b: float,
    sd_b: float,
    n_r: int,
    mean_r: float,
    sd_r: float,
    *,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Welch t and Hedges' g of the round against the baseline from summary statistics only.

    For vendors who deliver unit aggregates (``n, mean, sd`` per round). Gives exactly the
    ``welch_t`` / ``hedges_g`` row of :func:`independent_rows` on the same data.

    Welch's t and the Welch-Satterthwaite degrees of freedom::

        t  = (m_r - m_b) / sqrt(s_r^2/n_r + s_b^2/n_b)
        df = (s_r^2/n_r + s_b^2/n_b)^2 / ((s_r^2/n_r)^2/(n_r-1) + (s_b^2/n_b)^2/(n_b-1))

    with a two-sided p from the t distribution. Hedges' g uses the pooled SD::

        s_p = sqrt(((n_b-1) s_b^2 + (n_r-1) s_r^2) / (n_b + n_r - 2))
        d   = (m_r - m_b) / s_p,   g = J(n_b + n_r - 2) * d

    with the exact correction ``J(v) = Γ(v/2) / (sqrt(v/2) Γ((v-1)/2))`` (Hedges 1981).
    The confidence interval is the exact interval for δ under normality and equal variances:
    the noncentral-t interval for ``d / sqrt(1/n_b + 1/n_r)`` with ``n_b + n_r - 2`` df,
    rescaled (Steiger & Fouladi 1997; as ESCI and MBESS report it, not shrunk by J).

    Parameters
    ----------
    n_b, mean_b, sd_b : baseline size, mean and SD (``ddof=1``).
    n_r, mean_r, sd_r : the round's size, mean and SD.
    ci : confidence level of the effect-size interval.

    Returns
    -------
    pandas.DataFrame
        One row with the columns ``ROW_KEYS``; ``test = "welch_t"``, ``effect_size_type =
        "hedges_g"``, ``design = "independent"``. Statistics that are undefined (a group with
        fewer than 2 observations, zero variance) are NaN.

    Examples
    --------
    >>> row = summary_rows(20, 3.0, 1.0, 20, 3.5, 1.0).iloc[0]
    >>> print(row["test"], row["effect_size_type"], f"{row['effect_size']:.3f}")
    welch_t hedges_g 0.490
    >>> print(f"[{row['es_ci_low']:.3f}, {row['es_ci_high']:.3f}]")
    [-0.133, 1.127]

    References
    ----------
    Welch, B. L. (1947). The generalization of "Student's" problem when several different
    population variances are involved. Biometrika, 34, 28-35.
    Hedges, L. V., & Olkin, I. (1985). Statistical Methods for Meta-Analysis. Academic Press.
    Steiger, J. H., & Fouladi, R. T. (1997). Noncentrality interval estimation and the evaluation
    of statistical models. In Harlow, Mulaik & Steiger (Eds.), What if there were no
    significance tests? Erlbaum.
    Lakens, D. (2013). Calculating and reporting effect sizes to facilitate cumulative science.
    Frontiers in Psychology, 4, 863.
    """
    _check_ci(ci)
    return _frame([_welch_and_g(n_b, mean_b, sd_b, n_r, mean_r, sd_r, ci)])


def _g_and_variance(
    n_b: float, mean_b: float, sd_b: float, n_r: float, mean_r: float, sd_r: float
) -> tuple[float, float]:
    """Hedges' g and its variance as a pair (the inner loop of the meta-analysis)."""
    n_b, n_r = float(n_b), float(n_r)
    if n_b < 2 or n_r < 2:
        return math.nan, math.nan
    nu = n_b + n_r - 2
    s_pooled = math.sqrt(((n_b - 1) * float(sd_b) ** 2 + (n_r - 1) * float(sd_r) ** 2) / nu)
    if not (np.isfinite(s_pooled) and s_pooled > 0):
        return math.nan, math.nan
    d = (float(mean_r) - float(mean_b)) / s_pooled
    j = hedges_j(nu)
    v_d = (n_b + n_r) / (n_b * n_r) + d**2 / (2 * (n_b + n_r))
    return j * d, j**2 * v_d


def hedges_g_with_variance(
    n_b: int, mean_b: float, sd_b: float, n_r: int, mean_r: float, sd_r: float
) -> pd.DataFrame:
    """Hedges' g (round minus baseline) and its sampling variance, for meta-analysis.

    ``g = J d`` as in :func:`summary_rows` (exact J) and::

        V_d = (n_b + n_r) / (n_b n_r) + d^2 / (2 (n_b + n_r)),    V_g = J^2 V_d

    (Borenstein et al. 2009, eqs. 4.20 and 4.24; the large-sample variance of Hedges & Olkin
    1985). NaN when a group has fewer than 2 observations or the pooled SD is zero.

    Returns
    -------
    pandas.DataFrame
        One row with the columns ``HEDGES_G_COLUMNS``: ``n_baseline``, ``n_round``,
        ``effect_size_type`` (``"hedges_g"``), ``effect_size`` (g) and ``variance`` (V_g).

    Examples
    --------
    >>> res = hedges_g_with_variance(50, 100.0, 20.0, 50, 103.0, 20.0).iloc[0]
    >>> print(res["effect_size_type"], f"{res['effect_size']:.4f}", f"{res['variance']:.4f}")
    hedges_g 0.1488 0.0395

    References
    ----------
    Borenstein, M., Hedges, L. V., Higgins, J. P. T., & Rothstein, H. R. (2009). Introduction
    to Meta-Analysis, ch. 4. Wiley.
    Hedges, L. V., & Olkin, I. (1985). Statistical Methods for Meta-Analysis. Academic Press.
    """
    g, var = _g_and_variance(n_b, mean_b, sd_b, n_r, mean_r, sd_r)
    row = [int(n_b), int(n_r), "hedges_g", g, var]
    return pd.DataFrame([row], columns=HEDGES_G_COLUMNS)


def _theta_variance(theta: float, n_b: int, n_r: int, k_b: float, k_r: float) -> float:
    """Hanley & McNeil's (1982) variance of ``theta = U / (n_b n_r)`` at ``theta``, written as
    ``theta (1 - theta) [1 + k_r (1 - theta) / (2 - theta) + k_b theta / (1 + theta)] / (n_b n_r)``
    (``Q1 - theta^2`` and ``Q2 - theta^2`` of their exponential model, Q1 = theta / (2 - theta),
    Q2 = 2 theta^2 / (1 + theta)): ``k = n - 1`` is Hanley & McNeil's; Newcombe (2006, Part 2)
    uses ``k_b = k_r = N* - 1``, ``N* = (n_b + n_r) / 2``, which makes it symmetric in the
    groups."""
    q = k_r * (1 - theta) / (2 - theta) + k_b * theta / (1 + theta)
    return theta * (1 - theta) * (1 + q) / (n_b * n_r)


def _newcombe_interval(theta: float, n_b: int, n_r: int, ci: float) -> tuple[float, float]:
    """Newcombe's (2006, Part 2) Method 5 interval for theta = U / (n_b n_r): the score-type
    limits solving ``(theta - theta_hat)^2 = z^2 V(theta)`` with V of :func:`_theta_variance`
    (``k_b = k_r = N* - 1``); inside [0, 1] and finite at theta_hat = 0 or 1."""
    z = ndtri(1 - (1 - ci) / 2)
    k = (n_b + n_r) / 2 - 1

    def g(t: float) -> float:
        return (t - theta) ** 2 - z * z * _theta_variance(t, n_b, n_r, k, k)

    eps = 1e-12  # g(0) = theta^2 and g(1) = (1 - theta)^2: one sign change on each side
    lo = optimize.brentq(g, 0.0, min(theta, 1 - eps)) if theta > 0 else 0.0
    hi = optimize.brentq(g, max(theta, eps), 1.0) if theta < 1 else 1.0
    return lo, hi


def _mann_whitney(baseline: np.ndarray, other: np.ndarray, ci: float) -> dict:
    n_b, n_r = len(baseline), len(other)
    mean_b = float(np.mean(baseline)) if n_b else math.nan
    mean_r = float(np.mean(other)) if n_r else math.nan
    u = p = r = lo = hi = math.nan
    if n_b >= 1 and n_r >= 1:
        small = n_b < _EXACT_BELOW and n_r < _EXACT_BELOW
        ties = small and len(np.unique(np.concatenate([other, baseline]))) < n_b + n_r
        if small and not ties:
            u, p = _mann_whitney_exact(other, baseline)
        else:
            u, p = _mann_whitney_asymptotic(other, baseline)
        nn = n_b * n_r
        r = 2 * u / nn - 1
        if nn > 1:
            # Newcombe (2006) Method 5 for theta = U / (n_b n_r), mapped to r = 2 theta - 1.
            t_lo, t_hi = _newcombe_interval(u / nn, n_b, n_r, ci)
            lo, hi = 2 * t_lo - 1, 2 * t_hi - 1
    return _row(
        "independent",
        n_b,
        n_r,
        mean_b,
        mean_r,
        "mann_whitney_u",
        u,
        math.nan,
        p,
        "rank_biserial",
        r,
        lo,
        hi,
    )


def _mann_whitney_exact(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``U`` of ``x`` and the two-sided exact p of ``scipy.stats.mannwhitneyu(x, y,
    method="exact")`` for samples without ties: ``p = min(1, 2 P(U >= max(U_x, U_y)))`` under
    the null distribution of ``U`` (:func:`_mwu_upper_tails`, kept per pair of sample sizes;
    scipy builds it again whenever the sizes change, which they do from row to row)."""
    x, y = np.sort(x), np.sort(y)
    u1 = int(np.searchsorted(y, x, side="left").sum())  # pairs with x > y (no ties)
    n1, n2 = len(x), len(y)
    tails, total = _mwu_upper_tails(min(n1, n2), max(n1, n2))
    return float(u1), min(1.0, 2 * tails[max(u1, n1 * n2 - u1)] / total)


@functools.lru_cache(maxsize=1024)
def _mwu_upper_tails(n1: int, n2: int) -> tuple[list[int], int]:
    """For ``u = 0 .. n1 n2``, how many of the ``C(n1 + n2, n1)`` equally likely orderings of
    two samples without ties give ``U >= u`` (Mann & Whitney 1947), and that total: exact
    integers, the coefficients of the Gaussian binomial coefficient ``prod_{i=1..n1} (1 -
    q^(n2 + i)) / (1 - q^i)``, the generating function of ``U``."""
    size = n1 * n2 + 1
    c = np.zeros(size, dtype=object)
    c[0] = 1
    for i in range(1, n1 + 1):
        step = n2 + i  # times (1 - q^step), as a power series cut at q^size
        if step < size:
            c[step:] = c[step:] - c[:-step]
        for r in range(i):  # divided by (1 - q^i): running sums along each residue class
            c[r::i] = np.cumsum(c[r::i])
    tails = np.cumsum(c[::-1])[::-1].tolist()
    return tails, math.comb(n1 + n2, n1)


def _mann_whitney_asymptotic(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``U`` of ``x`` and the two-sided p of ``scipy.stats.mannwhitneyu(x, y,
    method="asymptotic", use_continuity=True)``, from sorted samples instead of ranks.

    ``U_x`` = the pairs with ``x > y`` plus half the pairs with ``x == y`` (the rank-sum form
    ``R_x - n_x (n_x + 1) / 2`` with mid-ranks), counted by binary search of ``x`` in the sorted
    ``y``; the tie term ``sum(t^3 - t)`` from the runs of equal values in the sorted pooled
    sample. Then scipy's normal approximation: ``z = (max(U_x, U_y) - n_x n_y / 2 - 1/2) /
    sqrt(n_x n_y / 12 * ((n + 1) - tie_term / (n (n - 1))))``, ``p = min(1, 2 Phi(-z))``.
    Sorting floats is several times faster than scipy's ``argsort``-based ranking, which
    dominated the pre-post table of a national study."""
    x, y = np.sort(x), np.sort(y)
    n1, n2 = len(x), len(y)
    below = np.searchsorted(y, x, side="left")
    tied = np.searchsorted(y, x, side="right") - below
    u1 = float(below.sum()) + 0.5 * float(tied.sum())
    u2 = n1 * n2 - u1
    pooled = np.sort(np.concatenate([x, y]))
    n = n1 + n2
    starts = np.flatnonzero(np.concatenate([[True], pooled[1:] != pooled[:-1], [True]]))
    t = np.diff(starts).astype("float64")
    tie_term = float(np.sum(t**3 - t))
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1))))
        z = (max(u1, u2) - n1 * n2 / 2 - 0.5) / s
    p = min(max(2 * float(ndtr(-z)), 0.0), 1.0)
    return u1, p


def independent_rows(
    baseline: Iterable[float], other: Iterable[float], *, ci: float = 0.95
) -> pd.DataFrame:
    """Compare two independent samples: the round (``other``) against the baseline.

    Two rows (keys ``ROW_KEYS``, ``design = "independent"``):

    1. ``welch_t`` / ``hedges_g``: Welch's t (``statistic`` = t of round minus baseline,
       ``df`` = Welch-Satterthwaite df, two-sided p) and Hedges' g with the exact J correction
       and the noncentral-t interval for δ; formulas in :func:`summary_rows`, which gives the
       same row from ``n, mean, sd``.
    2. ``mann_whitney_u`` / ``rank_biserial``: ``statistic`` = U of the round group,
       ``U_r = R_r - n_r (n_r + 1) / 2`` with mid-ranks for ties, i.e. the number of
       (round, baseline) pairs where the round value is higher, ties counting 1/2. Two-sided p
       follows R's ``wilcox.test`` defaults: exact (as scipy ``method="exact"``,
       :func:`_mann_whitney_exact`) when there are no ties and
       both samples have fewer than 50 values, otherwise the normal approximation with tie and
       continuity correction (``method="asymptotic", use_continuity=True``). The rank-biserial
       correlation ``r = 2 U_r / (n_b n_r) - 1`` is the proportion of favourable minus
       unfavourable pairs (Kerby 2014), positive when the round tends to be higher. Its interval
       is Newcombe's (2006, Part 2) Method 5 interval for ``theta = U_r / (n_b n_r)`` (score
       limits with a non-null variance, see :func:`_newcombe_interval`) mapped by
       ``r = 2 theta - 1``; it stays in [-1, 1] and reaches ±1 at complete separation.

    Parameters
    ----------
    baseline, other : array-like of float
        Baseline and round values; NaNs are dropped. Inputs are not modified.
    ci : float
        Confidence level of the effect-size intervals.

    Returns
    -------
    pandas.DataFrame
        Two rows with the columns ``ROW_KEYS``.

    Examples
    --------
    >>> res = independent_rows([3, 4, 5, 4, 3, 4], [4, 5, 6, 5, 5, 6])
    >>> res[["test", "effect_size_type"]].to_numpy().tolist()
    [['welch_t', 'hedges_g'], ['mann_whitney_u', 'rank_biserial']]
    >>> res["effect_size"].round(3).tolist()
    [1.634, 0.778]

    References
    ----------
    Welch, B. L. (1947). Biometrika, 34, 28-35.
    Hedges, L. V., & Olkin, I. (1985). Statistical Methods for Meta-Analysis. Academic Press.
    Mann, H. B., & Whitney, D. R. (1947). Annals of Mathematical Statistics, 18, 50-60.
    Kerby, D. S. (2014). The simple difference formula: an approach to teaching nonparametric
    correlation. Comprehensive Psychology, 3, 11.IT.3.1.
    Ben-Shachar, M. S., Lüdecke, D., & Makowski, D. (2020). effectsize: Estimation of effect size
    indices and standardized parameters. Journal of Open Source Software, 5(56), 2815.
    """
    _check_ci(ci)
    return _frame(_independent(baseline, other, ci))


def _independent(baseline: Iterable[float], other: Iterable[float], ci: float) -> list[dict]:
    """:func:`independent_rows` as row dicts (the pre-post table's inner loop)."""
    b, o = _clean(baseline), _clean(other)
    n_b, n_r = len(b), len(o)
    with np.errstate(all="ignore"):
        mean_b = float(b.mean()) if n_b else math.nan
        mean_r = float(o.mean()) if n_r else math.nan
        sd_b = float(b.std(ddof=1)) if n_b >= 2 else math.nan
        sd_r = float(o.std(ddof=1)) if n_r >= 2 else math.nan
    welch = _welch_and_g(n_b, mean_b, sd_b, n_r, mean_r, sd_r, ci)
    return [welch, _mann_whitney(b, o, ci)]


# --------------------------------------------------------------------------- paired samples


def _paired_arrays(baseline, other) -> tuple[np.ndarray, np.ndarray]:
    b, o = _numbers(baseline), _numbers(other)
    if b.shape != o.shape:
        raise ValueError(
            f"paired samples must have the same length, got {b.shape[0]} and {o.shape[0]}"
        )
    keep = ~(np.isnan(b) | np.isnan(o))
    return b[keep], o[keep]


def d_av_interval(t: float, n: int, sd_diff: float, s_av: float, ci: float) -> tuple[float, float]:
    """Algina & Keselman's (2003) approximate interval for a paired d_av.

    The noncentral-t interval ``[lo, hi]`` for the noncentrality of the paired t (``n - 1`` df)
    is rescaled to the d_av metric with the observed ratio
    ``sd_diff / (sqrt(n) * s_av)`` (= d_av / t), as in ESCI (Cumming 2012).
    """
    if not (n >= 2 and np.isfinite(sd_diff) and np.isfinite(s_av) and s_av > 0):
        return math.nan, math.nan
    lo, hi = _nct_ncp_interval(t, n - 1, ci)
    scale = sd_diff / (math.sqrt(n) * s_av)
    return lo * scale, hi * scale


def _signed_rank_jackknife_se(nz: np.ndarray) -> float:
    """Jackknife SE of ``theta = W+ / T`` (``T = m (m + 1) / 2``) over the ``m`` non-zero
    differences, without assuming the null.

    ``W+`` counts the Walsh pairs ``i <= j`` with ``D_i + D_j > 0`` (ties ½), so leaving out
    difference i removes ``c_i = #{j: D_j > -D_i} + ½ #{j: D_j = -D_i}`` pairs:
    ``theta_(-i) = (W+ - c_i) / (m (m - 1) / 2)`` and
    ``se^2 = (m - 1) / m · Σ (theta_(-i) - mean)^2`` (the jackknife variance of a U-statistic,
    Arvesen 1969). All ``c_i`` come from one sort (O(m log m)).
    """
    m = len(nz)
    if m < 3:
        return math.nan
    srt = np.sort(nz)
    left = np.searchsorted(srt, -nz, side="left")
    right = np.searchsorted(srt, -nz, side="right")
    c = (m - right) + 0.5 * (right - left)
    w_plus = (c.sum() + (nz > 0).sum()) / 2
    loo = (w_plus - c) / (m * (m - 1) / 2)
    return math.sqrt((m - 1) / m * float(((loo - loo.mean()) ** 2).sum()))


def _signed_rank_asymptotic(nz: np.ndarray) -> tuple[float, float, bool]:
    """``W+``, the two-sided p of ``scipy.stats.wilcoxon(nz, zero_method="wilcox",
    correction=True, method="asymptotic")`` and whether any ``|D|`` ties, for the non-zero
    differences ``nz``, from one sort instead of scipy's ranking and input checks.

    Each ``|D|`` gets its mid-rank ``(left + right + 1) / 2`` from its run ``[left, right)``
    of equal values in the sorted ``|D|``; ``W+`` sums them over the positive differences. Then
    scipy's normal approximation with ``m`` differences and the tie term ``sum(t^3 - t)`` over
    the runs: ``z = (W+ - m (m + 1) / 4) / se``, ``se = sqrt((m (m + 1) (2 m + 1) - tie_term /
    2) / 24)``, continuity ``z - sign(z) / (2 se)``, ``p = 2 Phi(-|z|)``, in scipy's order of
    operations (the same bits). The pre-post table's paired comparisons called scipy a
    thousand times in the demo study, mostly for its argument handling."""
    a = np.abs(nz)
    srt = np.sort(a)
    left = np.searchsorted(srt, a, side="left")
    right = np.searchsorted(srt, a, side="right")
    w_plus = float(((left + right + 1) / 2)[nz > 0].sum())  # half-integers: an exact sum
    starts = np.flatnonzero(np.concatenate([[True], srt[1:] != srt[:-1], [True]]))
    t = np.diff(starts).astype("float64")
    tie_term = float(np.sum(t**3 - t))
    m = float(len(nz))
    se = math.sqrt((m * (m + 1.0) * (2.0 * m + 1.0) - tie_term / 2) / 24)
    z = (w_plus - m * (m + 1.0) * 0.25) / se
    z -= ((z > 0) - (z < 0)) * 0.5 / se
    return w_plus, float(2 * ndtr(-abs(z))), tie_term > 0


def _signed_rank_exact_p(w_plus: int, n: int) -> float:
    """The two-sided exact p of the signed-rank test of ``n`` differences without ties or
    zeros, as ``scipy.stats.wilcoxon(method="exact")``: ``min(1, 2 min(P(W+ <= w), P(W+ >=
    w)))``, from the null distribution of ``W+`` (symmetric about ``T / 2``, ``T = n (n + 1) /
    2``; :func:`_signed_rank_upper_tails`)."""
    total = n * (n + 1) // 2
    return min(1.0, 2 * _signed_rank_upper_tails(n)[max(w_plus, total - w_plus)] / 2**n)


@functools.lru_cache(maxsize=64)
def _signed_rank_upper_tails(n: int) -> list[int]:
    """For ``w = 0 .. n (n + 1) / 2``, how many of the ``2^n`` equally likely sign patterns give
    ``W+ >= w`` (Wilcoxon 1945): exact integers, the coefficients of ``prod_{i=1..n} (1 +
    q^i)``, the generating function of ``W+``."""
    c = np.zeros(n * (n + 1) // 2 + 1, dtype=object)
    c[0] = 1
    for i in range(1, n + 1):
        c[i:] = c[i:] + c[:-i]
    return np.cumsum(c[::-1])[::-1].tolist()


def _wilcoxon(b: np.ndarray, o: np.ndarray, ci: float) -> dict:
    n = len(b)
    mean_b = float(b.mean()) if n else math.nan
    mean_r = float(o.mean()) if n else math.nan
    d = o - b
    nz = d[d != 0]
    nd = len(nz)
    w_plus = p = r = lo = hi = math.nan
    if nd >= 1:
        w_plus, p, ties = _signed_rank_asymptotic(nz)
        total = nd * (nd + 1) / 2
        w_minus = total - w_plus
        r = (w_plus - w_minus) / total
        if not ties and nd == n and nd < _EXACT_BELOW:  # no ties, no zeros: the exact test
            p = _signed_rank_exact_p(int(w_plus), nd)
        # Non-null SE: jackknife of W+ / T, on Fisher's z scale (se_z = 2 se_theta / (1 - r^2)).
        se_theta = _signed_rank_jackknife_se(nz)
        if abs(r) < 1 and se_theta > 0:
            lo, hi = _fisher_z_interval(r, 2 * se_theta / (1 - r * r), ci)
        else:
            # r = ±1 (or m < 3): the jackknife SE is 0 or undefined; keep the null-SE interval,
            # W+ clamped to [1/2, T - 1/2] and closed at ±1 on the side of the estimate.
            w_ci = min(max(w_plus, 0.5), total - 0.5) if total > 1 else math.nan
            se = math.sqrt(nd * (nd + 1) * (2 * nd + 1) / 6) / total
            lo, hi = _close_at_bound(r, *_fisher_z_interval((2 * w_ci - total) / total, se, ci))
    return _row(
        "paired", n, n, mean_b, mean_r, "wilcoxon", w_plus, math.nan, p, "rank_biserial", r, lo, hi
    )


def paired_rows(
    baseline: Iterable[float], other: Iterable[float], *, ci: float = 0.95
) -> pd.DataFrame:
    """Compare paired samples: the round (``other``) against the baseline, aligned by respondent.

    Pairs with a missing value on either side are dropped. With ``D = round - baseline``,
    ``n`` pairs, ``s_D`` the SD of D and ``s_b``, ``s_r`` the SDs of the two rounds (``ddof=1``),
    three rows (keys ``ROW_KEYS``, ``design = "paired"``, ``n_baseline = n_round = n``):

    1. ``paired_t`` / ``d_z``: ``t = mean(D) / (s_D / sqrt(n))``, ``df = n - 1``, two-sided p;
       ``d_z = mean(D) / s_D`` (Cohen 1988; Lakens 2013 eq. 6) with the exact noncentral-t
       interval ``[lo, hi] / sqrt(n)``, where ``[lo, hi]`` is the interval for the noncentrality
       of t.
    2. ``paired_t`` / ``d_av``: same test; ``d_av = mean(D) / ((s_b + s_r) / 2)`` (Lakens 2013
       eq. 10), which ignores the correlation between rounds and so is comparable with a
       between-subjects d. Interval: Algina & Keselman's (2003) approximation, see
       :func:`d_av_interval`. Cumming (2012), ESCI and pingouin standardise by the
       root-mean-square ``sqrt((s_b^2 + s_r^2) / 2)`` instead; the two agree when the SDs are
       equal and differ little otherwise.
    3. ``wilcoxon`` / ``rank_biserial``: Wilcoxon signed-rank test on D, zero differences
       dropped (``zero_method="wilcox"``), ``statistic`` = W+ (sum of the ranks of |D| of the
       positive differences: R's ``V`` for ``wilcox.test(round, baseline, paired = TRUE)``).
       p follows R's defaults: exact when there are no ties or zeros and fewer than 50 non-zero
       differences, otherwise the normal approximation with tie and continuity correction.
       Matched-pairs rank-biserial ``r = (W+ - W-) / (W+ + W-)`` (Kerby 2014), positive when the
       round tends to be higher; interval by Fisher's z with the jackknife (non-null) SE of
       ``W+ / T`` (:func:`_signed_rank_jackknife_se`), ``se_z = 2 se / (1 - r^2)``; at r = ±1 or
       with fewer than 3 non-zero differences the null-SE interval of the R package effectsize,
       W+ kept within ``[1/2, T - 1/2]``, closed at ±1 on the side of the estimate.

    Returns
    -------
    pandas.DataFrame
        Three rows with the columns ``ROW_KEYS``.

    Examples
    --------
    >>> res = paired_rows([3, 4, 5, 4, 3, 4], [4, 5, 5, 6, 4, 5])
    >>> res["effect_size_type"].tolist()
    ['d_z', 'd_av', 'rank_biserial']
    >>> res["effect_size"].round(3).tolist()
    [1.581, 1.328, 1.0]

    References
    ----------
    Cohen, J. (1988). Statistical Power Analysis for the Behavioral Sciences (2nd ed.).
    Lakens, D. (2013). Calculating and reporting effect sizes to facilitate cumulative science:
    a practical primer for t-tests and ANOVAs. Frontiers in Psychology, 4, 863.
    Cumming, G. (2012). Understanding the New Statistics. Routledge.
    Algina, J., & Keselman, H. J. (2003). Approximate confidence intervals for effect sizes.
    Educational and Psychological Measurement, 63(4), 537-553.
    Wilcoxon, F. (1945). Individual comparisons by ranking methods. Biometrics Bulletin, 1, 80-83.
    Kerby, D. S. (2014). The simple difference formula: an approach to teaching nonparametric
    correlation. Comprehensive Psychology, 3, 11.IT.3.1.
    """
    _check_ci(ci)
    return _frame(_paired(baseline, other, ci))


def _paired(baseline: Iterable[float], other: Iterable[float], ci: float) -> list[dict]:
    """:func:`paired_rows` as row dicts (the pre-post table's inner loop)."""
    b, o = _paired_arrays(baseline, other)
    n = len(b)
    d = o - b
    mean_b = float(b.mean()) if n else math.nan
    mean_r = float(o.mean()) if n else math.nan
    t = df = p = dz = dav = math.nan
    dz_lo = dz_hi = dav_lo = dav_hi = math.nan
    if n >= 2:
        with np.errstate(all="ignore"):
            mean_d = float(d.mean())
            sd_d = float(d.std(ddof=1))
            s_av = (float(b.std(ddof=1)) + float(o.std(ddof=1))) / 2
            df = n - 1
            if sd_d > 0:
                t = mean_d / (sd_d / math.sqrt(n))
                p = float(2 * stdtr(df, -abs(t)))
                dz = mean_d / sd_d
                lo, hi = _nct_ncp_interval(t, df, ci)
                dz_lo, dz_hi = lo / math.sqrt(n), hi / math.sqrt(n)
                if s_av > 0:
                    # Algina & Keselman (2003): the same ncp interval, on the d_av metric.
                    dav = mean_d / s_av
                    scale = sd_d / (math.sqrt(n) * s_av)
                    dav_lo, dav_hi = lo * scale, hi * scale
    rows = [
        _row("paired", n, n, mean_b, mean_r, "paired_t", t, df, p, "d_z", dz, dz_lo, dz_hi),
        _row("paired", n, n, mean_b, mean_r, "paired_t", t, df, p, "d_av", dav, dav_lo, dav_hi),
        _wilcoxon(b, o, ci),
    ]
    return rows


# --------------------------------------------------------------------------- partially overlapping


def _partover(
    b_pair: np.ndarray,
    r_pair: np.ndarray,
    b_only: np.ndarray,
    r_only: np.ndarray,
    *,
    var_equal: bool = False,
) -> dict:
    """The partially overlapping samples t-test of round (sample 1) against baseline (sample 2).

    ``var_equal=False`` is T_new2 and ``True`` is T_new1 of Derrick et al. (2017), exactly as
    ``Partover.test`` of the R package Partiallyoverlapping 2.0 computes them (including its
    rule that ``r = 0`` when either set of paired values has no variance). Returns the means,
    SDs and sizes over all observations of each round, t, df, p and the standard error of the
    difference; NaN where undefined (one pair, fewer than 2 values in a round, zero SE).
    """
    n12, n_a, n_c = len(b_pair), len(r_only), len(b_only)  # pairs, round-only, baseline-only
    allr = np.concatenate([r_only, r_pair])
    allb = np.concatenate([b_only, b_pair])
    n1, n2 = len(allr), len(allb)
    out = dict.fromkeys(["mean_r", "mean_b", "sd_r", "sd_b", "t", "df", "p", "se", "r"], math.nan)
    out.update(n_r=n1, n_b=n2)
    with np.errstate(all="ignore"):
        if n1:
            out["mean_r"] = float(allr.mean())
        if n2:
            out["mean_b"] = float(allb.mean())
        if n1 < 2 or n2 < 2 or n12 == 1:
            return out
        s1, s2 = float(allr.std(ddof=1)), float(allb.std(ddof=1))
        out["sd_r"], out["sd_b"] = s1, s2
        r = 0.0
        if n12 >= 2 and float(r_pair.std()) > 0 and float(b_pair.std()) > 0:
            r = float(np.corrcoef(r_pair, b_pair)[0, 1])
        out["r"] = r
        unpaired = n_a + n_c
        if var_equal:
            sp = math.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / (n1 + n2 - 2))
            se2 = sp**2 * (1 / n1 + 1 / n2 - 2 * r * n12 / (n1 * n2))
            df = (n12 - 1) + (unpaired + n12 - 1) / (unpaired + 2 * n12) * unpaired
        else:
            v1, v2 = s1**2 / n1, s2**2 / n2
            se2 = v1 + v2 - 2 * r * n12 * s1 * s2 / (n1 * n2)
            welch = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
            df = (n12 - 1) + (welch - n12 + 1) / (unpaired + 2 * n12) * unpaired
        if not (np.isfinite(se2) and se2 > 0 and np.isfinite(df) and df > 0):
            return out
        se = math.sqrt(se2)
        t = (out["mean_r"] - out["mean_b"]) / se
        out.update(t=t, df=float(df), se=se, p=float(2 * stdtr(df, -abs(t))))
    return out


def partial_overlap_rows(
    baseline_paired: Iterable[float],
    round_paired: Iterable[float],
    baseline_unpaired: Iterable[float],
    round_unpaired: Iterable[float],
    *,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Compare a round with the baseline using every respondent: linked pairs and the rest.

    The partially overlapping samples t-test T_new2 of Derrick, Russ, Toher & White (2017) (the
    Welch-type statistic for unequal variances; R: ``Partiallyoverlapping::Partover.test(x1 =
    round_unpaired, x2 = baseline_unpaired, x3 = round_paired, x4 = baseline_paired)``, with
    ``var.equal = FALSE``). With ``n_12`` pairs, ``n_a`` round-only and ``n_c`` baseline-only
    values, ``n_r = n_a + n_12``, ``n_b = n_c + n_12``, ``m``, ``s`` the mean and SD (``ddof=1``)
    of **all** values of a round and ``r`` the Pearson correlation of the pairs (0 when either
    side of the pairs has no variance, as in the R package)::

        t    = (m_r - m_b) / sqrt(s_r^2/n_r + s_b^2/n_b - 2 r n_12 s_r s_b / (n_r n_b))
        ν_W  = (s_r^2/n_r + s_b^2/n_b)^2 / ((s_r^2/n_r)^2/(n_r-1) + (s_b^2/n_b)^2/(n_b-1))
        df   = (n_12 - 1) + (ν_W - n_12 + 1) / (n_a + n_c + 2 n_12) * (n_a + n_c)

    with a two-sided p from the t distribution. With no pairs it is Welch's t (df = ν_W); with
    no unlinked values it is the paired t (df = n_12 - 1). One pair alone gives no correlation:
    the statistics are then empty (the R package refuses fewer than two pairs).

    Effect size ``d_av_all`` (round minus baseline), standardised by an SD that does not depend
    on how many respondents are linked::

        d_av_all = (m_r - m_b) / ((s_r + s_b) / 2)

    over all values of each round (Lakens 2013 eq. 10 applied to all respondents; with only
    pairs it equals the paired ``d_av``, with none it differs from Hedges' g only by the
    standardiser (average instead of pooled SD) and J). Not small-sample corrected. Interval:
    the noncentral-t interval ``[λ_lo, λ_hi]`` for the noncentrality of t with the test's df,
    rescaled by ``se / ((s_r + s_b) / 2)`` (the observed ratio d_av_all / t; Algina & Keselman
    2003, as for the paired d_av); the tests check its coverage by simulation.

    Parameters
    ----------
    baseline_paired, round_paired : array-like of float
        The linked respondents' values, aligned (same length). Pairs with a NaN on either side
        are dropped. Inputs are not modified.
    baseline_unpaired, round_unpaired : array-like of float
        The unlinked respondents' values of each round; NaNs dropped.
    ci : float
        Confidence level of the effect-size interval.

    Returns
    -------
    pandas.DataFrame
        One row with the columns ``ROW_KEYS``: ``design = "partial_overlap"``, ``test =
        "partial_overlap_t"``, ``effect_size_type = "d_av_all"``; ``n_baseline``, ``n_round``
        and the means are over all values of each round.

    Examples
    --------
    >>> res = partial_overlap_rows([14, 15, 18, 20, 11], [15, 10, 15, 17, 13],
    ...                            [20, 21, 16, 18], [10, 16, 18, 16]).iloc[0]
    >>> print(res["test"], res["effect_size_type"], int(res["n_baseline"]), int(res["n_round"]))
    partial_overlap_t d_av_all 9 9

    References
    ----------
    Derrick, B., Russ, B., Toher, D., & White, P. (2017). Test statistics for the comparison of
    means for two samples that include both paired and independent observations. Journal of
    Modern Applied Statistical Methods, 16(1), 137-157.
    Derrick, B., Toher, D., & White, P. (2017). How to compare the means of two samples that
    include paired observations and independent observations: a companion to Derrick, Russ,
    Toher and White (2017). The Quantitative Methods for Psychology, 13(2), 120-126.
    Derrick, B. (2018). Partiallyoverlapping: Partially Overlapping Samples Tests. R package 2.0.
    Lakens, D. (2013). Frontiers in Psychology, 4, 863.
    Algina, J., & Keselman, H. J. (2003). Educational and Psychological Measurement, 63(4),
    537-553.
    """
    _check_ci(ci)
    b_pair, r_pair = _paired_arrays(baseline_paired, round_paired)
    return _frame([_partial_overlap(b_pair, r_pair, _clean(baseline_unpaired),
                                    _clean(round_unpaired), ci)])  # fmt: skip


def _partial_overlap(
    b_pair: np.ndarray, r_pair: np.ndarray, b_only: np.ndarray, r_only: np.ndarray, ci: float
) -> dict:
    """:func:`partial_overlap_rows` as a row dict (the pre-post table's inner loop)."""
    res = _partover(b_pair, r_pair, b_only, r_only)
    es = lo = hi = math.nan
    s_av = (res["sd_r"] + res["sd_b"]) / 2
    if np.isfinite(s_av) and s_av > 0:
        es = (res["mean_r"] - res["mean_b"]) / s_av
        if np.isfinite(res["t"]):
            ncp_lo, ncp_hi = _nct_ncp_interval(res["t"], res["df"], ci)
            scale = res["se"] / s_av
            lo, hi = ncp_lo * scale, ncp_hi * scale
    return _row(
        "partial_overlap", res["n_b"], res["n_r"], res["mean_b"], res["mean_r"],
        "partial_overlap_t", res["t"], res["df"], res["p"], "d_av_all", es, lo, hi,
    )  # fmt: skip


# --------------------------------------------------------------------------- multiplicity


def adjust_p(p: Iterable[float], method: Correction = "holm") -> np.ndarray:
    """Adjust a family of p-values for multiple testing; NaN-safe.

    NaNs stay NaN and are not counted in the family (so they do not make the others larger).
    ``"holm"``: Holm's (1979) step-down, controls the family-wise error rate;
    ``"fdr_bh"``: Benjamini & Hochberg (1995) step-up, controls the false discovery rate.
    Both give the numbers of statsmodels ``multipletests`` (BH is computed by it; Holm by the
    same arithmetic in numpy, see ``_holm``, because statsmodels' Holm branch forces a garbage
    collection on every call).

    Parameters
    ----------
    p : array-like of float
    method : {"holm", "fdr_bh"}

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, same shape and order as ``p``.

    References
    ----------
    Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scandinavian
    Journal of Statistics, 6, 65-70.
    Benjamini, Y., & Hochberg, Y. (1995). Controlling the false discovery rate. JRSS B, 57,
    289-300.
    """
    if method not in ("holm", "fdr_bh"):
        raise ValueError(f"method must be 'holm' or 'fdr_bh', got {method!r}")
    arr = np.asarray(list(p) if not isinstance(p, np.ndarray) else p, dtype=float)
    out = np.full(arr.shape, np.nan)
    ok = ~np.isnan(arr)
    if not ok.any():
        return out
    if method == "holm":
        out[ok] = _holm(arr[ok])
    else:
        out[ok] = multipletests(arr[ok], method=method)[1]
    return out


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values, the arithmetic of statsmodels' ``multipletests``.

    With p sorted ascending, ``adj_(i) = min(1, max_{j <= i} (m - j + 1) p_(j))``.
    statsmodels 0.15 calls ``gc.collect()`` on every ``method="holm"`` call (about 50 ms in a
    process holding pandas and scipy), which made the pre-post table ten times slower; the
    tests check that this gives the same numbers as ``multipletests``.
    """
    m = len(p)
    order = np.argsort(p, kind="mergesort")
    adj = np.maximum.accumulate(p[order] * np.arange(m, 0, -1))
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


# --------------------------------------------------------------------------- the pre-post table


def _code_ids(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Link codes (:func:`_codes`) as integers, -1 for none, and each integer's rank in the
    codes' text order: the comparisons then hash integers, not strings."""
    ids, names = pd.factorize(codes)
    rank = np.empty(len(names), dtype=np.int64)
    rank[np.argsort(np.asarray(names, dtype=object), kind="stable")] = np.arange(len(names))
    return ids.astype(np.int64), rank


def _split_linked(
    b_val: np.ndarray, b_code: np.ndarray, r_val: np.ndarray, r_code: np.ndarray, rank: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Linked pairs (aligned by code) and the unlinked remainders of both rounds.

    ``b_code`` and ``r_code`` are integer link codes (-1: none) and ``rank`` their text order
    (:func:`_code_ids`). A code links when it is non-empty and appears exactly once in each
    round; a code repeated within a round is ambiguous and its rows stay unlinked. Returns the
    paired baseline and round values, the unlinked baseline and round values, and the number
    of rows with a repeated code.
    """
    # Codes numbered 0.. within this comparison (one hash pass over both rounds; none: -1),
    # counted per round.
    both = np.concatenate([b_code, r_code])
    ids, names = pd.factorize(both)
    ids[both < 0] = -1
    b_id, r_id = ids[: len(b_code)], ids[len(b_code) :]
    b_count = np.bincount(b_id[b_id >= 0], minlength=len(names))
    r_count = np.bincount(r_id[r_id >= 0], minlength=len(names))
    repeated = int(b_count[b_count > 1].sum() + r_count[r_count > 1].sum())
    common = np.flatnonzero((b_count == 1) & (r_count == 1))
    # the pairs in the order of their codes (as text), the order the paired statistics sum in
    common = common[np.argsort(rank[names[common]], kind="stable")]
    b_pos = np.full(len(names), -1, dtype=np.int64)
    r_pos = np.full(len(names), -1, dtype=np.int64)
    b_pos[b_id[b_id >= 0]] = np.flatnonzero(b_id >= 0)  # a code seen once: its one row
    r_pos[r_id[r_id >= 0]] = np.flatnonzero(r_id >= 0)
    b_idx = b_pos[common].astype(int)
    r_idx = r_pos[common].astype(int)
    b_rest = np.ones(len(b_val), dtype=bool)
    b_rest[b_idx] = False
    r_rest = np.ones(len(r_val), dtype=bool)
    r_rest[r_idx] = False
    return b_val[b_idx], r_val[r_idx], b_val[b_rest], r_val[r_rest], repeated


def _comparisons(
    b_val: np.ndarray,
    b_code: np.ndarray,
    r_val: np.ndarray,
    r_code: np.ndarray,
    design: Design,
    ci: float,
    rank: np.ndarray,
) -> tuple[list[dict], int]:
    """Rows for one measure x group x round, by design (and the count of repeated codes).

    Each row carries its ``population``: ``all`` when it uses every respondent of the group in
    both rounds, ``linked`` (the pairs only) or ``unlinked`` (the rest only). With ``auto``,
    pairs and unlinked respondents, the partially overlapping samples t over all of them is
    added (``design = "partial_overlap"``)."""
    rows: list[dict] = []
    if design == "independent":
        if len(b_val) and len(r_val):
            rows += _tag(_independent(b_val, r_val, ci), "all")
        return rows, 0
    pair_b, pair_r, rest_b, rest_r, repeated = _split_linked(b_val, b_code, r_val, r_code, rank)
    unlinked = bool(len(rest_b) or len(rest_r))
    if len(pair_b):
        rows += _tag(_paired(pair_b, pair_r, ci), "linked" if unlinked else "all")
    if design == "auto" and len(rest_b) and len(rest_r):
        rows += _tag(_independent(rest_b, rest_r, ci), "unlinked" if len(pair_b) else "all")
    if design == "auto" and len(pair_b) and unlinked:
        rows += _tag([_partial_overlap(pair_b, pair_r, rest_b, rest_r, ci)], "all")
    return rows, repeated


def _round_codes(rounds: pd.Series, order: list[str]) -> np.ndarray:
    """Each row's position in ``order`` (the baseline first), -1 for a round not in it."""
    position = {r: i for i, r in enumerate(order)}
    labels = rounds.astype("string")
    return labels.map(position).fillna(-1).to_numpy(dtype="int64")


class _GroupRoundCells:
    """The rows of each group x round, found in one stable sort: ``rows(g, r)`` are the row
    numbers (in their original order) with a value, group code ``g`` and round code ``r`` —
    the same rows as the boolean mask ``has_value & (group == g) & (round == r)``, without a
    pass over every row per group (the cost no longer grows with groups x rows)."""

    def __init__(
        self, group: np.ndarray, round_code: np.ndarray, has_value: np.ndarray, n_rounds: int
    ) -> None:
        keep = np.flatnonzero(has_value & (group >= 0) & (round_code >= 0))
        key = group[keep].astype("int64") * n_rounds + round_code[keep]
        order = np.argsort(key, kind="stable")
        self._rows, self._key, self._n_rounds = keep[order], key[order], n_rounds

    def rows(self, group: int, round_code: int) -> np.ndarray:
        k = group * self._n_rounds + round_code
        lo, hi = np.searchsorted(self._key, [k, k + 1])
        return self._rows[lo:hi]


def _tag(rows: list[dict], population: str) -> list[dict]:
    for row in rows:
        row["population"] = population
    return rows


def prepost_table(
    scores: pd.DataFrame,
    *,
    measures: list[str],
    rounds: list[str],
    baseline: str,
    group_bys: list[str],
    design: Design = "auto",
    min_n: int = 5,
    correction: Correction = "fdr_bh",
    ci: float = 0.95,
    primary_measures: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The pre-post table of record: every round against the baseline, per measure and group.

    For each measure x ``group_by`` x group x non-baseline round, the round is compared with the
    baseline within the group:

    - ``design="independent"``: all respondents of both rounds as independent samples
      (:func:`independent_rows`: Welch t + Hedges' g, Mann-Whitney U + rank-biserial).
    - ``design="paired"``: only respondents whose non-empty ``respondent`` code appears once in
      both rounds within the group (:func:`paired_rows`: paired t + d_z and d_av, Wilcoxon +
      rank-biserial); unlinked respondents are left out.
    - ``design="auto"``: the paired analysis on the linked respondents **and** the independent
      analysis on the unlinked remainder of both rounds; the ``design`` column tells which
      subset a row describes. With nothing linked, only the independent analysis. Where a
      comparison has both linked pairs and unlinked respondents, also the partially overlapping
      samples t over **all** of them (:func:`partial_overlap_rows`, ``design =
      "partial_overlap"``): the one analysis of the whole group.

    ``population`` says which respondents of the group (in both rounds) a row uses: ``all``
    (every one: the partially overlapping row; the paired rows when everyone is linked; the
    independent rows when no one is, or with ``design="independent"``), ``linked`` (the pairs
    only) or ``unlinked`` (the rest only).

    ``analysis``: ``primary`` for a measure in ``primary_measures`` with ``group_by = "all"``,
    ``population = "all"`` and a parametric test (``welch_t``, ``paired_t``,
    ``partial_overlap_t``); ``sensitivity`` for the other rows of those measures with
    ``group_by = "all"`` (other populations, rank tests); ``exploratory`` for the rest.

    Linking happens within the group, so a respondent who moved unit is unlinked in both
    units. A code repeated within a round is ambiguous: its rows stay unlinked (logged).

    ``group_by = "all"`` is the whole study (``group = "all"``); ``"unit"`` groups are
    ``"<organisation> / <unit>"``; any other value is a column of ``scores`` (rows where it is
    empty belong to no group). Missing measure values are dropped per measure. A comparison is
    made only when both rounds have at least one value in the (group, design) subset; a round
    with no data at all (e.g. a planned round) gives no row.

    Multiplicity: the primary rows form the family ``"primary"`` with ``correction = "holm"``;
    it also holds the DiD tests of ``lmm.csv`` and is adjusted jointly in ``primary.csv``, so
    their ``p_adjusted`` is empty here. Every other family is one measure x group_by x test x
    population (all groups and rounds of that measure and grouping for that test), named
    ``"<measure>:<group_by>:<test>:<population>"``; ``p_adjusted`` is ``correction`` (default
    Benjamini-Hochberg) within the family (:func:`adjust_p`), each test counted once (the d_z
    and d_av rows share one paired t). ``family_size`` is the number of tests with a p in the
    row's family (:func:`family_sizes`).

    Disclosure control: a row where ``n_baseline < min_n`` or ``n_round < min_n`` keeps its
    identifying columns (``PREPOST_IDENTIFYING``), ``suppressed = True`` and every statistic
    empty (NaN), and is left out of its multiplicity family.

    Parameters
    ----------
    scores : DataFrame
        One row per respondent per round: ``round, organisation, unit, respondent, ...`` and one
        float column per measure. Not modified.
    measures, rounds, group_bys : lists, in output order. ``rounds`` is the time order; the
        baseline may be in it and is skipped as a comparison round.
    baseline : the baseline round id.
    design : {"auto", "independent", "paired"}
    min_n : smallest n per round shown.
    correction : {"holm", "fdr_bh"}
        The correction of the sensitivity and exploratory families (the primary family: Holm).
    ci : confidence level of the effect-size intervals.
    primary_measures : measures of the primary analysis; default ``PRIMARY_MEASURES``
        (``qwl``, ``esis``).

    Returns
    -------
    DataFrame
        Columns ``PREPOST_COLUMNS`` (the contract's ``prepost.csv`` columns, then ``family``,
        ``population``, ``analysis``, ``family_size``), sorted by measure, group_by (given
        orders), group (as string), round (given order), design, test, effect_size_type.

    References
    ----------
    See :func:`independent_rows`, :func:`paired_rows`, :func:`partial_overlap_rows` and
    :func:`adjust_p`.
    """
    if design not in ("auto", "independent", "paired"):
        raise ValueError(f"design must be 'auto', 'independent' or 'paired', got {design!r}")
    if correction not in ("holm", "fdr_bh"):
        raise ValueError(f"correction must be 'holm' or 'fdr_bh', got {correction!r}")
    _check_ci(ci)
    missing = [m for m in measures if m not in scores]
    missing += [g for g in group_bys if g not in ("all", "unit") and g not in scores]
    if "unit" in group_bys:
        missing += [c for c in ("organisation", "unit") if c not in scores]
    if "round" not in scores:
        missing.append("round")
    if missing:
        raise ValueError(f"scores has no column(s) {sorted(set(missing))}")

    compare = [r for r in rounds if r != baseline]
    round_code = _round_codes(scores["round"], [baseline, *compare])
    codes, rank = _code_ids(_codes(scores))
    groupings = {gb: pd.factorize(_group_labels(scores, gb)) for gb in group_bys}
    records: list[dict] = []
    repeated = 0
    for measure in measures:
        values = pd.to_numeric(scores[measure], errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan
        )
        has_value = ~np.isnan(values)
        for group_by in group_bys:
            group_code, uniques = groupings[group_by]
            cells = _GroupRoundCells(group_code, round_code, has_value, len(compare) + 1)
            present = {uniques[c]: c for c in np.unique(group_code[has_value & (group_code >= 0)])}
            for group in sorted(present, key=str):
                at_base = cells.rows(present[group], 0)
                for i, rnd in enumerate(compare, start=1):
                    at_round = cells.rows(present[group], i)
                    rows, rep = _comparisons(
                        values[at_base],
                        codes[at_base],
                        values[at_round],
                        codes[at_round],
                        design,
                        ci,
                        rank,
                    )
                    repeated += rep
                    for row in rows:
                        records.append(
                            {
                                "measure": measure,
                                "group_by": group_by,
                                "group": str(group),
                                "round": rnd,
                                "baseline": baseline,
                                **row,
                            }
                        )
    if repeated:
        log.warning(
            "respondent codes repeated within a round were left unlinked (%d rows counted over "
            "all comparisons)",
            repeated,
        )

    return _finish(
        records,
        measures=measures,
        group_bys=group_bys,
        rounds=rounds,
        min_n=min_n,
        correction=correction,
        primary_measures=primary_measures,
    )


def _finish(
    records: list[dict],
    *,
    measures: list[str],
    group_bys: list[str],
    rounds: list[str],
    min_n: int,
    correction: Correction,
    primary_measures: Iterable[str] | None,
) -> pd.DataFrame:
    """Rows -> the pre-post table: analyses, families, disclosure control, adjusted p, order."""
    if not records:
        return _empty_prepost()
    out = pd.DataFrame.from_records(records)
    primary_measures = PRIMARY_MEASURES if primary_measures is None else tuple(primary_measures)
    headline = out["measure"].isin(primary_measures) & out["group_by"].eq("all")
    primary = headline & out["population"].eq("all") & out["test"].isin(PRIMARY_TESTS)
    out["analysis"] = np.where(primary, "primary", np.where(headline, "sensitivity", "exploratory"))
    out["correction"] = np.where(primary, PRIMARY_CORRECTION, correction)
    own = out["measure"] + ":" + out["group_by"] + ":" + out["test"] + ":" + out["population"]
    out["family"] = np.where(primary, PRIMARY_FAMILY, own)
    for col in ["n_baseline", "n_round"]:
        out[col] = out[col].astype("float64")
    out["p_adjusted"] = np.nan
    out["family_size"] = 0
    out["suppressed"] = False
    out = suppress(out, n_columns=["n_baseline", "n_round"], keep=IDENTIFYING, min_n=min_n)
    out["p_adjusted"] = _adjust_families(out, correction)
    out["family_size"] = family_sizes(out)
    out = _sort(out, measures=measures, group_bys=group_bys, rounds=rounds)
    out = out[PREPOST_COLUMNS].reset_index(drop=True)
    float_cols = [
        "n_baseline",
        "n_round",
        "mean_baseline",
        "mean_round",
        "diff",
        "statistic",
        "df",
        "p",
        "p_adjusted",
        "effect_size",
        "es_ci_low",
        "es_ci_high",
    ]
    out[float_cols] = out[float_cols].astype("float64")
    out["suppressed"] = out["suppressed"].astype(bool)
    for col in IDENTIFYING:
        out[col] = out[col].astype(object)
    out["family_size"] = out["family_size"].astype("int64")
    return out


# --------------------------------------------------------------------------- summary statistics


def combine_cells(n: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> tuple[float, float, float]:
    """One ``n, mean, sd`` from disjoint cells, exactly as from the pooled answers.

    ``N = sum n_i``, ``M = sum n_i m_i / N``,
    ``SD^2 = (sum (n_i - 1) s_i^2 + sum n_i (m_i - M)^2) / (N - 1)`` (within-cell plus
    between-cell sums of squares; Borenstein et al. 2009, table 23.2). Cells with ``n = 0`` are
    ignored; a cell with ``n = 1`` and no SD counts with SD 0.
    """
    n, mean, sd = (np.asarray(a, dtype="float64") for a in (n, mean, sd))
    keep = n > 0
    n, mean, sd = n[keep], mean[keep], np.where((n[keep] == 1) & np.isnan(sd[keep]), 0.0, sd[keep])
    big_n = float(n.sum())
    if big_n == 0:
        return 0.0, math.nan, math.nan
    m = float(np.sum(n * mean) / big_n)
    if big_n < 2:
        return big_n, m, math.nan
    ss = float(np.sum((n - 1) * sd**2) + np.sum(n * (mean - m) ** 2))
    return big_n, m, math.sqrt(ss / (big_n - 1))


def prepost_summary_table(
    summaries: pd.DataFrame,
    *,
    rounds: list[str],
    baseline: str,
    group_bys: list[str],
    measures: list[str] | None = None,
    min_n: int = 5,
    correction: Correction = "fdr_bh",
    ci: float = 0.95,
    primary_measures: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The pre-post table from unit aggregates (summary-statistics mode): Welch t + Hedges' g.

    ``summaries`` has one row per round x organisation x unit x measure (``round, organisation,
    unit, measure, n, mean, sd``; optional ``participant``, ``role`` splits as disjoint cells).
    For each measure x ``group_by`` x group, the cells of a round are combined exactly with
    :func:`combine_cells` and the round is compared with the baseline by :func:`summary_rows`
    (``design = "independent"``, ``test = "welch_t"``, ``effect_size_type = "hedges_g"``).
    ``group_by`` is ``"all"``, ``"unit"`` (``"<organisation> / <unit>"``) or a column of
    ``summaries`` (``organisation``, ``participant``, ``role``). Cells with ``n >= 2`` but no
    mean or SD (suppressed by the vendor) cannot be combined and are left out (logged).

    Families, ``p_adjusted``, analyses (every row has ``population = "all"``), disclosure
    control (``min_n``), columns and order are those of :func:`prepost_table`, which gives the
    same ``welch_t`` rows from the individual answers with ``design="independent"``.

    Parameters
    ----------
    summaries : DataFrame
        Not modified.
    rounds, baseline, group_bys, min_n, correction, ci, primary_measures
        As in :func:`prepost_table`.
    measures : list of str, optional
        Measures in output order; default: as they first appear in ``summaries``.

    Returns
    -------
    DataFrame
        Columns ``PREPOST_COLUMNS``.

    References
    ----------
    Borenstein, M., Hedges, L. V., Higgins, J. P. T., & Rothstein, H. R. (2009). Introduction
    to Meta-Analysis. Wiley.
    """
    if correction not in ("holm", "fdr_bh"):
        raise ValueError(f"correction must be 'holm' or 'fdr_bh', got {correction!r}")
    _check_ci(ci)
    need = ["round", "organisation", "unit", "measure", "n", "mean", "sd"]
    need += [g for g in group_bys if g not in ("all", "unit")]
    missing = sorted({c for c in need if c not in summaries})
    if missing:
        raise ValueError(f"summaries has no column(s) {missing}")
    cells = summaries.copy()
    for col in ("n", "mean", "sd"):
        cells[col] = pd.to_numeric(cells[col], errors="coerce").astype("float64")
    cells["measure"] = cells["measure"].astype("string")
    splits = [c for c in ("participant", "role") if c in cells]
    key = ["round", "organisation", "unit", "measure", *splits]
    if cells.duplicated(subset=key, keep=False).any():
        raise ValueError("summaries: the same round x organisation x unit x measure cell twice")
    unusable = unusable_cells(cells)
    if unusable.any():
        log.info("summaries: %d cells without mean or SD left out", int(unusable.sum()))
    cells = cells.loc[~unusable]
    if measures is None:
        measures = list(dict.fromkeys(cells["measure"].dropna()))
    compare = [r for r in rounds if r != baseline]
    round_of = cells["round"].astype("string").to_numpy(dtype=object, na_value=None)
    measure_of = cells["measure"].to_numpy(dtype=object, na_value=None)
    n_all = cells["n"].to_numpy(dtype="float64", na_value=np.nan)
    m_all = cells["mean"].to_numpy(dtype="float64", na_value=np.nan)
    s_all = cells["sd"].to_numpy(dtype="float64", na_value=np.nan)
    records: list[dict] = []
    for measure in measures:
        is_m = (measure_of == measure) & (np.nan_to_num(n_all) > 0)
        for group_by in group_bys:
            group_of = _group_labels(cells, group_by)
            present = {g for g in group_of[is_m] if g is not None}
            for group in sorted(present, key=str):
                in_group = is_m & (group_of == group)
                sel_b = in_group & (round_of == baseline)
                base = combine_cells(n_all[sel_b], m_all[sel_b], s_all[sel_b])
                for rnd in compare:
                    sel_r = in_group & (round_of == rnd)
                    other = combine_cells(n_all[sel_r], m_all[sel_r], s_all[sel_r])
                    if base[0] == 0 or other[0] == 0:
                        continue
                    for row in [_welch_and_g(*base, *other, ci)]:
                        records.append(
                            {
                                "measure": measure,
                                "group_by": group_by,
                                "group": str(group),
                                "round": rnd,
                                "baseline": baseline,
                                **row,
                                "population": "all",
                            }
                        )
    return _finish(
        records,
        measures=measures,
        group_bys=group_bys,
        rounds=rounds,
        min_n=min_n,
        correction=correction,
        primary_measures=primary_measures,
    )


def _tests(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct test (the d_z and d_av rows share one paired t)."""
    keys = ["measure", "group_by", "group", "round", "test", "population"]
    return frame.drop_duplicates(subset=[k for k in keys if k in frame])


def family_sizes(frame: pd.DataFrame) -> pd.Series:
    """``family_size`` of each row of a pre-post table: the number of distinct tests with a p
    in its family over the published (non-suppressed) rows, i.e. the ``m`` of its adjustment
    (for ``family = "primary"``: the pre-post part of the primary family)."""
    live = frame.loc[~frame["suppressed"].astype(bool) & frame["p"].notna()]
    sizes = _tests(live).groupby("family", sort=False).size()
    return frame["family"].map(sizes).fillna(0).astype("int64")


def _adjust_families(frame: pd.DataFrame, correction: Correction) -> pd.Series:
    """p_adjusted within each family over non-suppressed rows, each test counted once, with
    the family's own ``correction`` (``correction`` where the frame has none). The primary
    family is adjusted jointly with the DiD tests elsewhere (primary.csv): empty here."""
    adjusted = pd.Series(np.nan, index=frame.index, dtype="float64")
    live = frame.loc[~frame["suppressed"].astype(bool) & (frame["family"] != PRIMARY_FAMILY)]
    if live.empty:
        return adjusted
    keys = ["family", "group", "round"]
    # each test once (its first row), over all families at once: one drop_duplicates and one
    # lookup, not one per family (a study has over a thousand families)
    tests = live.drop_duplicates(subset=keys)
    methods = (
        live.groupby("family", sort=False)["correction"].first()
        if "correction" in live
        else pd.Series(dtype=object)
    )
    p = tests["p"].to_numpy(dtype=float)
    adj = np.full(len(tests), np.nan)
    for name, rows in tests.groupby("family", sort=False).indices.items():  # positions
        method = methods.get(name)
        adj[rows] = adjust_p(
            p[rows], method=correction if method is None or pd.isna(method) else method
        )
    found = live[keys].merge(tests[keys].assign(_adj=adj), on=keys, how="left")
    adjusted.loc[live.index] = found["_adj"].to_numpy()
    return adjusted


def _sort(
    frame: pd.DataFrame, *, measures: list[str], group_bys: list[str], rounds: list[str]
) -> pd.DataFrame:
    keys = pd.DataFrame(
        {
            "_m": frame["measure"].map({m: i for i, m in enumerate(measures)}),
            "_g": frame["group_by"].map({g: i for i, g in enumerate(group_bys)}),
            "_grp": frame["group"].astype(str),
            "_r": frame["round"].map({r: i for i, r in enumerate(rounds)}),
            "_d": frame["design"].astype(str),
            "_t": frame["test"].astype(str),
            "_e": frame["effect_size_type"].astype(str),
        },
        index=frame.index,
    )
    order = keys.sort_values(list(keys.columns), kind="stable").index
    return frame.loc[order]


def _empty_prepost() -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype="float64") for c in PREPOST_COLUMNS})
    for col in IDENTIFYING:
        out[col] = out[col].astype(object)
    out["suppressed"] = out["suppressed"].astype(bool)
    out["family_size"] = out["family_size"].astype("int64")
    return out
