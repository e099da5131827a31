"""Internal consistency of multi-item instruments: Cronbach's alpha and McDonald's omega.

``reliability_table`` builds the table of record ``reliability.csv``: one row per instrument
(with at least two items) x round.

Result shape: :func:`cronbach_alpha` returns a one-row DataFrame with the columns
``ALPHA_COLUMNS``, :func:`mcdonald_omega` one with ``OMEGA_COLUMNS``; the names are those of the
table of record, whose rows are built from the same computations.

In the table, alpha uses every respondent who answered at least one item (the item covariance
matrix by EM under missing at random; Enders 2003), and omega, with a percentile bootstrap
interval, the listwise complete cases (``n_complete``), from the covariance matrix of the raw
items, the scale that is scored.
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from typing import Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from evaluation.analyse.suppression import suppress

log = logging.getLogger(__name__)

RELIABILITY_COLUMNS = [
    "instrument",
    "round",
    "n",
    "k_items",
    "cronbach_alpha",
    "alpha_ci_low",
    "alpha_ci_high",
    "omega",
    "suppressed",
    "omega_ci_low",
    "omega_ci_high",
    "n_complete",
]

# The columns of the one-row results of :func:`cronbach_alpha` and :func:`mcdonald_omega`.
ALPHA_COLUMNS = ["n", "k_items", "cronbach_alpha", "alpha_ci_low", "alpha_ci_high"]
OMEGA_COLUMNS = ["n", "k_items", "omega", "omega_ci_low", "omega_ci_high"]

Missing = Literal["listwise", "em"]

# EM for the item covariance matrix: stop when no mean or covariance entry moves by more than
# this (relative to the item variances), or after _EM_MAXITER iterations.
_EM_TOL = 1e-10
_EM_MAXITER = 1000

# Lower bound of a uniqueness in the ML factor fit (as R's factanal).
_PSI_MIN = 0.005


def _complete(items: pd.DataFrame) -> np.ndarray:
    """Listwise complete cases as a float matrix (a copy)."""
    values = items.apply(pd.to_numeric, errors="coerce").astype("float64").to_numpy()
    return values[~np.isnan(values).any(axis=1)]


def cronbach_alpha(
    items: pd.DataFrame, *, ci: float = 0.95, missing: Missing = "listwise"
) -> pd.DataFrame:
    """Cronbach's alpha of the item columns with Feldt's interval.

    With ``k`` items, item covariance matrix ``S`` (variances ``s_i^2``) and the variance
    ``s_X^2 = 1' S 1`` of the sum score::

        alpha = k / (k - 1) * (1 - sum(s_i^2) / s_X^2)

    ``missing="listwise"``: ``S`` (``ddof=1``) of the listwise complete cases, ``n`` their
    number. ``missing="em"``: ``S`` is the maximum-likelihood covariance matrix of all
    respondents with at least one answered item under multivariate normality and missing at
    random, by the EM algorithm (Dempster, Laird & Rubin 1977; Little & Rubin 2002, sec. 11.2),
    the approach Enders (2003) recommends for alpha with item-level missing data; ``n`` is the
    number of those respondents, used in the Feldt interval as if they were complete (an
    approximation that is narrower than it should be when many answers are missing). The
    divisor of ``S`` cancels in alpha, so with complete data both give the same alpha.

    Feldt's F-distribution interval (Feldt, Woodruff & Salih 1987), with ``n`` complete cases
    and ``a = 1 - ci``::

        low  = 1 - (1 - alpha) * F(1 - a/2; n - 1, (n - 1)(k - 1))
        high = 1 - (1 - alpha) * F(a/2;     n - 1, (n - 1)(k - 1))

    the same formula as ``pingouin.cronbach_alpha``; note that pingouin 0.7 with
    ``nan_policy="listwise"`` uses the number of rows *before* deletion in the interval, whereas
    here ``n`` is always the number of complete cases. The interval equals the ICC(3,k)
    (consistency, average measures) interval of McGraw & Wong (1996), as alpha equals ICC(3,k).

    Parameters
    ----------
    items : DataFrame
        One column per item, one row per respondent. Not modified.
    ci : float
        Confidence level.
    missing : {"listwise", "em"}
        How missing answers are handled (see above).

    Returns
    -------
    pandas.DataFrame
        One row, columns ``ALPHA_COLUMNS``: ``n`` (respondents used), ``k_items``,
        ``cronbach_alpha``, ``alpha_ci_low``, ``alpha_ci_high``; the statistics are NaN when
        ``n < 2``, ``k < 2`` or the sum score has no variance.

    Examples
    --------
    >>> items = pd.DataFrame({"a": [1, 2, 3, 4, 5, 3], "b": [2, 2, 3, 5, 4, 3],
    ...                       "c": [1, 3, 3, 4, 5, 2]})
    >>> print(cronbach_alpha(items).round(3).to_string(index=False))
     n  k_items  cronbach_alpha  alpha_ci_low  alpha_ci_high
     6        3           0.932         0.711           0.99

    References
    ----------
    Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests.
    Psychometrika, 16, 297-334.
    Feldt, L. S., Woodruff, D. J., & Salih, F. A. (1987). Statistical inference for coefficient
    alpha. Applied Psychological Measurement, 11(1), 93-103.
    Enders, C. K. (2003). Using the expectation maximization algorithm to estimate coefficient
    alpha for scales with item-level missing data. Psychological Methods, 8(3), 322-337.
    Little, R. J. A., & Rubin, D. B. (2002). Statistical Analysis with Missing Data (2nd ed.).
    Wiley.
    """
    return pd.DataFrame([_alpha(items, ci, missing)], columns=ALPHA_COLUMNS)


def _alpha(items: pd.DataFrame, ci: float, missing: str = "listwise") -> dict:
    """:func:`cronbach_alpha` as a dict (the table builder's inner loop)."""
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be between 0 and 1 (exclusive), got {ci}")
    if missing not in ("listwise", "em"):
        raise ValueError(f"missing must be 'listwise' or 'em', not {missing!r}")
    if missing == "em":
        return _alpha_em(items, ci)
    x = _complete(items)
    n, k = x.shape
    if n < 2 or k < 2:
        return _alpha_row(n, k, None, ci)
    return _alpha_row(n, k, np.atleast_2d(np.cov(x, rowvar=False)), ci)


def _alpha_row(n: int, k: int, cov: np.ndarray | None, ci: float) -> dict:
    """Alpha from an item covariance matrix, k/(k-1) (1 - trace / sum), with Feldt's F
    interval on n - 1 and (n - 1)(k - 1) df; empty when there is no usable matrix."""
    out = {
        "n": int(n),
        "k_items": int(k),
        "cronbach_alpha": math.nan,
        "alpha_ci_low": math.nan,
        "alpha_ci_high": math.nan,
    }
    total_var = float(cov.sum()) if cov is not None else math.nan
    if not total_var > 0:
        return out
    alpha = k / (k - 1) * (1 - float(np.trace(cov)) / total_var)
    a = 1 - ci
    df1, df2 = n - 1, (n - 1) * (k - 1)
    out["cronbach_alpha"] = alpha
    out["alpha_ci_low"] = 1 - (1 - alpha) * float(stats.f.isf(a / 2, df1, df2))
    out["alpha_ci_high"] = 1 - (1 - alpha) * float(stats.f.isf(1 - a / 2, df1, df2))
    return out


def _alpha_em(items: pd.DataFrame, ci: float) -> dict:
    """Alpha from the EM covariance matrix of every respondent with an answer."""
    values = items.apply(pd.to_numeric, errors="coerce").astype("float64").to_numpy()
    x = values[~np.isnan(values).all(axis=1)]
    n, k = x.shape
    if n < 2 or k < 2 or (np.sum(~np.isnan(x), axis=0) < 2).any():
        return _alpha_row(n, k, None, ci)
    return _alpha_row(n, k, em_covariance(x)[1], ci)


def _distinct_rows(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a boolean matrix and each row's index into them (as ``np.unique``
    with ``axis=0``, which sorts the rows as tuples: ten times slower at national size)."""
    k = flags.shape[1]
    if k > 62:
        patterns, inverse = np.unique(flags, axis=0, return_inverse=True)
        return patterns, inverse.ravel()
    bits = np.left_shift(np.int64(1), np.arange(k, dtype=np.int64))
    keys, inverse = np.unique(flags.astype(np.int64) @ bits, return_inverse=True)
    return (keys[:, None] & bits) != 0, inverse.ravel()


def em_covariance(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood mean and covariance of multivariate normal data with missing values.

    The EM algorithm of Dempster, Laird & Rubin (1977) for the multivariate normal (Little &
    Rubin 2002, sec. 11.2): the E step replaces each row's missing part ``m`` given its observed
    part ``o`` by ``E[x_m | x_o] = mu_m + S_mo S_oo^-1 (x_o - mu_o)`` and adds the conditional
    covariance ``S_mm - S_mo S_oo^-1 S_om`` to the cross-products; the M step takes the means
    and the cross-products divided by ``n`` (ML, divisor ``n``). Starts from the available-case
    means and variances; stops when no entry moves by more than ``1e-10`` times the largest
    item variance. Rows without any value must be removed before. With complete data it returns
    the sample mean and the ``ddof = 0`` covariance at once.

    Parameters
    ----------
    x : ndarray, shape (n, k)
        NaN = missing. Not modified.

    Returns
    -------
    mean : ndarray, shape (k,)
    cov : ndarray, shape (k, k)

    References
    ----------
    Dempster, A. P., Laird, N. M., & Rubin, D. B. (1977). Maximum likelihood from incomplete
    data via the EM algorithm. JRSS B, 39, 1-38. Little & Rubin (2002), sec. 11.2.
    """
    x = np.asarray(x, dtype="float64")
    n, k = x.shape
    miss = np.isnan(x)
    mean = np.nanmean(x, axis=0)
    if not miss.any():
        d = x - mean
        return mean, d.T @ d / n
    cov = np.diag(np.nanvar(x, axis=0))
    # Each iteration needs only every missingness pattern's count, sum and cross-products of
    # its observed values (the filled-in values are linear in them), so the rows are read
    # once, not once per iteration. Centred on the starting means: translation equivariant,
    # and the cross-products stay small.
    shift = mean
    patterns, inverse = _distinct_rows(miss)
    order = np.argsort(inverse, kind="stable")
    ends = np.cumsum(np.bincount(inverse, minlength=len(patterns)))
    groups = []
    for m, rows in zip(patterns, np.split(order, ends[:-1]), strict=True):
        o = np.flatnonzero(~m)
        xo = x[np.ix_(rows, o)] - shift[o]
        groups.append((m, ~m, float(len(xo)), xo.sum(axis=0), xo.T @ xo))
    mean = np.zeros(k)
    for _ in range(_EM_MAXITER):
        total = np.zeros(k)
        cross = np.zeros((k, k))
        for m, o, count, s1, s2 in groups:
            total[o] += s1
            cross[np.ix_(o, o)] += s2
            if not m.any():
                continue
            coef = np.linalg.solve(cov[np.ix_(o, o)], cov[np.ix_(o, m)])  # S_oo^-1 S_om
            # filled-in x_m = c0 + x_o @ coef, for every row of the pattern
            c0 = mean[m] - mean[o] @ coef
            s1m = s1 @ coef
            total[m] += count * c0 + s1m
            om = np.outer(s1, c0) + s2 @ coef
            cross[np.ix_(o, m)] += om
            cross[np.ix_(m, o)] += om.T
            mm = count * np.outer(c0, c0) + np.outer(c0, s1m) + np.outer(s1m, c0)
            mm += coef.T @ s2 @ coef
            cross[np.ix_(m, m)] += mm + count * (cov[np.ix_(m, m)] - cov[np.ix_(m, o)] @ coef)
        new_mean = total / n
        new_cov = cross / n - np.outer(new_mean, new_mean)
        change = max(np.abs(new_mean - mean).max(), np.abs(new_cov - cov).max())
        mean, cov = new_mean, new_cov
        if change <= _EM_TOL * float(np.max(np.diag(cov))):
            break
    mean = mean + shift
    return mean, (cov + cov.T) / 2


def _discrepancy(corr: np.ndarray, psi: np.ndarray) -> tuple[float, np.ndarray]:
    """The concentrated ML discrepancy of :func:`_one_factor_ml` at ``psi`` and the
    loadings that go with it."""
    s = 1 / np.sqrt(psi)
    theta, vec = np.linalg.eigh(corr * np.outer(s, s))
    rest = theta[:-1]
    f = float(np.sum(rest - np.log(rest) - 1))
    lam = np.sqrt(psi) * vec[:, -1] * math.sqrt(max(theta[-1] - 1, 0.0))
    return f, lam


def _one_factor_ml(
    corr: np.ndarray, start: np.ndarray | None = None, *, tol: tuple[float, float] = (1e-14, 1e-10)
) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood one-factor solution of a correlation matrix: loadings, uniquenesses.

    Minimises the ML discrepancy concentrated on the uniquenesses ``psi`` (Jöreskog 1967;
    Lawley & Maxwell 1971), as R's ``factanal``: with ``theta_1 >= ... >= theta_p`` the
    eigenvalues of ``Psi^-1/2 R Psi^-1/2``::

        F(psi) = sum_{j >= 2} (theta_j - log theta_j - 1)
        lambda = Psi^1/2 v_1 sqrt(max(theta_1 - 1, 0))

    with gradient ``diag(lambda lambda' + Psi - R) / psi^2``, ``psi`` in ``[0.005, 1]``
    (L-BFGS-B; ``tol``: its ``ftol`` and ``gtol``). The sign is chosen so that the loadings sum
    to a positive number.
    """
    p = corr.shape[0]

    def fun(psi: np.ndarray) -> tuple[float, np.ndarray]:
        f, lam = _discrepancy(corr, psi)
        grad = (lam**2 + psi - np.diag(corr)) / psi**2
        return f, grad

    if start is None:
        start = (1 - 0.5 / p) / np.diag(np.linalg.inv(corr))
    start = np.clip(start, _PSI_MIN, 1.0)
    res = optimize.minimize(
        fun,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[(_PSI_MIN, 1.0)] * p,
        options={"ftol": tol[0], "gtol": tol[1], "maxiter": 2000},
    )
    psi = np.asarray(res.x, dtype=float)
    _, lam = _discrepancy(corr, psi)
    if lam.sum() < 0:
        lam = -lam
    return lam, psi


def _one_factor_scoring(
    corr: np.ndarray, start: np.ndarray, gtol: float, max_steps: int = 50
) -> tuple[np.ndarray, np.ndarray] | None:
    """The solution of :func:`_one_factor_ml` by Fisher scoring in the uniquenesses (Jöreskog
    1967; Lawley & Maxwell 1971, sec. 4.3), from a ``start`` near it (a bootstrap replicate
    refitted from the full sample's solution): each step solves ``(Sigma^-1 * Sigma^-1) d =
    g`` (elementwise square: the expected second derivatives of the discrepancy) for the
    gradient ``g`` of :func:`_one_factor_ml`, halved until the discrepancy falls (Armijo); it
    stops when every ``|g_i| <= gtol``, L-BFGS-B's own test. About five steps instead of
    L-BFGS-B's dozen evaluations and its overhead: a replicate's fit in half the time, and
    nearer the optimum (its omega within 3e-9 of the strict fit's on the demo's instruments,
    L-BFGS-B's within 4e-8). None when a step would leave the interior of the bounds (a
    Heywood case) or ``max_steps`` do not converge: then L-BFGS-B, as without it."""
    diag = np.diag(corr)
    psi = np.clip(start, _PSI_MIN, 1.0)
    f, lam = _discrepancy(corr, psi)
    for _ in range(max_steps):
        grad = (lam**2 + psi - diag) / psi**2
        if not np.isfinite(grad).all():
            return None
        if np.abs(grad).max() <= gtol:
            return (-lam if lam.sum() < 0 else lam), psi
        # Sigma^-1 of Sigma = lambda lambda' + Psi (Sherman-Morrison: Psi is diagonal)
        u = lam / psi
        inv = np.diag(1 / psi) - np.outer(u, u) / (1 + lam @ u)
        try:
            step = np.linalg.solve(inv * inv, grad)
        except np.linalg.LinAlgError:  # singular in floating point: L-BFGS-B
            return None
        t = 1.0
        while True:
            new = psi - t * step
            if (new <= _PSI_MIN).any() or (new >= 1.0).any():
                return None
            f_new, lam_new = _discrepancy(corr, new)
            if f_new <= f - 1e-4 * t * float(grad @ step):
                break
            t /= 2
            if t < 1e-6:
                return None
        psi, f, lam = new, f_new, lam_new
    return None


def _discrepancies(corr: np.ndarray, psi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_discrepancy` of a stack of correlation matrices (``B x k x k``) at a stack of
    uniquenesses (``B x k``): the discrepancies (``B``) and loadings (``B x k``)."""
    s = 1 / np.sqrt(psi)
    theta, vec = np.linalg.eigh(corr * s[:, :, None] * s[:, None, :])
    rest = theta[:, :-1]
    f = np.sum(rest - np.log(rest) - 1, axis=1)
    lam = np.sqrt(psi) * vec[:, :, -1] * np.sqrt(np.maximum(theta[:, -1:] - 1, 0.0))
    return f, lam


def _one_factor_scoring_stack(
    corr: np.ndarray, start: np.ndarray, gtol: float, max_steps: int = 50
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_one_factor_scoring` of a stack of correlation matrices (``B x k x k``), all from
    ``start``, in one set of array operations per step: each matrix takes the steps, halvings
    and tests it would take alone. Returns the loadings and uniquenesses (``B x k``) and
    whether each converged (where not, :func:`_one_factor_scoring` gives None)."""
    count, k = corr.shape[:2]
    diag = np.diagonal(corr, axis1=1, axis2=2)
    psi = np.broadcast_to(np.clip(start, _PSI_MIN, 1.0), (count, k)).copy()
    f, lam = _discrepancies(corr, psi)
    done = np.zeros(count, dtype=bool)
    active = np.arange(count)  # neither converged nor given up
    eye = np.eye(k)
    for _ in range(max_steps):
        if not len(active):
            break
        p, lm, d = psi[active], lam[active], diag[active]
        grad = (lm**2 + p - d) / p**2
        finite = np.isfinite(grad).all(axis=1)
        converged = finite & (np.abs(np.where(finite[:, None], grad, 0)).max(axis=1) <= gtol)
        done[active[converged]] = True
        go = finite & ~converged
        active, p, lm, grad = active[go], p[go], lm[go], grad[go]
        if not len(active):
            break
        u = lm / p
        inv = (
            eye / p[:, None, :]
            - u[:, :, None] * u[:, None, :] / (1 + np.sum(lm * u, axis=1))[:, None, None]
        )
        try:
            step = np.linalg.solve(inv * inv, grad[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:  # one is singular: each alone, as _one_factor_scoring
            step = np.full_like(grad, np.nan)
            for i in range(len(active)):
                with contextlib.suppress(np.linalg.LinAlgError):
                    step[i] = np.linalg.solve(inv[i] * inv[i], grad[i])
        slope = 1e-4 * np.sum(grad * step, axis=1)
        t = np.ones(len(active))
        searching = np.isfinite(step).all(axis=1)  # a singular system: given up
        keep = np.zeros(len(active), dtype=bool)
        while searching.any():
            rows = np.flatnonzero(searching)
            new = p[rows] - t[rows, None] * step[rows]
            inside = ~((new <= _PSI_MIN).any(axis=1) | (new >= 1.0).any(axis=1))
            searching[rows[~inside]] = False  # a Heywood case: given up
            rows, new = rows[inside], new[inside]
            if not len(rows):
                break
            f_new, lam_new = _discrepancies(corr[active[rows]], new)
            better = f_new <= f[active[rows]] - t[rows] * slope[rows]
            won = rows[better]
            psi[active[won]], f[active[won]], lam[active[won]] = (
                new[better],
                f_new[better],
                lam_new[better],
            )
            keep[won] = True
            searching[won] = False
            lost = rows[~better]
            t[lost] /= 2
            searching[lost[t[lost] < 1e-6]] = False
        active = active[keep]
    lam = np.where(lam.sum(axis=1, keepdims=True) < 0, -lam, lam)
    return lam, psi, done


def mcdonald_omega(
    items: pd.DataFrame, *, ci: float = 0.95, n_boot: int = 0, seed: int | None = None
) -> pd.DataFrame:
    """McDonald's omega total of the raw item sum from a one-factor maximum-likelihood model.

    On listwise complete cases, a one-factor model is fitted by maximum likelihood to the item
    covariance matrix ``S`` (``ddof = 1``), giving loadings ``lambda_i`` and unique variances
    ``psi_i`` in the items' own units::

        omega = (sum lambda_i)^2 / ((sum lambda_i)^2 + sum psi_i)

    the model-implied reliability of the unit-weighted sum (or mean) of the raw items, which is
    how instruments are scored. The ML fit is scale invariant (Lawley & Maxwell 1971, sec. 2.3):
    with ``D = diag(S)^(1/2)`` and the ML solution ``(lambda*, psi*)`` of the correlation matrix
    ``D^-1 S D^-1`` (see ``_one_factor_ml``: the method of R's ``factanal``), the solution of
    ``S`` is ``lambda = D lambda*``, ``psi = D^2 psi*``. For standardized items (``D = I``) this
    is the omega of the standardized loadings; for raw items with unequal variances the two
    differ. Items that load negatively lower omega (reverse-key them before). With equal
    loadings (tau-equivalent items) omega equals alpha; otherwise alpha <= omega (in the
    population).

    ``omega`` is NaN with fewer than 3 items (a one-factor model of two items is not
    identified), fewer than ``k + 1`` complete cases, an item without variance, or a singular
    covariance matrix.

    Interval (``n_boot > 0``): percentile bootstrap over respondents (Efron & Tibshirani 1993,
    ch. 13; recommended for omega by Kelley & Pornprasertmanit 2016): ``n_boot`` resamples of
    the complete cases with ``numpy.random.default_rng(seed)`` (drawn as multinomial counts of
    the distinct answer patterns, the same distribution as row draws), omega refitted in each
    (started from the full-sample solution), the ``(1 - ci)/2`` and ``(1 + ci)/2`` quantiles of the
    finite replicates (``numpy.quantile``, linear). NaN without ``n_boot`` or when fewer than
    half the replicates give an omega.

    Returns
    -------
    pandas.DataFrame
        One row, columns ``OMEGA_COLUMNS``: ``n`` (complete cases), ``k_items``, ``omega``,
        ``omega_ci_low``, ``omega_ci_high``.

    Examples
    --------
    >>> items = pd.DataFrame({"a": [1, 2, 3, 4, 5, 3, 2], "b": [2, 2, 3, 5, 4, 3, 1],
    ...                       "c": [1, 3, 3, 4, 5, 2, 2]})
    >>> print(mcdonald_omega(items)[["n", "k_items", "omega"]].round(3).to_string(index=False))
     n  k_items  omega
     7        3  0.936

    References
    ----------
    McDonald, R. P. (1999). Test Theory: A Unified Treatment. Erlbaum.
    Jöreskog, K. G. (1967). Some contributions to maximum likelihood factor analysis.
    Psychometrika, 32, 443-482.
    Lawley, D. N., & Maxwell, A. E. (1971). Factor Analysis as a Statistical Method (2nd ed.).
    Butterworth.
    Hayes, A. F., & Coutts, J. J. (2020). Use omega rather than Cronbach's alpha for estimating
    reliability. But... Communication Methods and Measures, 14(1), 1-24.
    Kelley, K., & Pornprasertmanit, S. (2016). Confidence intervals for population reliability
    coefficients: evaluation of methods, recommendations, and software for composite measures.
    Psychological Methods, 21(1), 69-92.
    Efron, B., & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall.
    """
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be between 0 and 1 (exclusive), got {ci}")
    x = _complete(items)
    n, k = x.shape
    omega, psi = _omega_fit(x)
    low, high = _omega_bootstrap(x, psi, ci=ci, n_boot=n_boot, seed=seed)
    return pd.DataFrame([[int(n), int(k), omega, low, high]], columns=OMEGA_COLUMNS)


def _omega(x: np.ndarray) -> float:
    """:func:`mcdonald_omega` of a matrix of complete cases, as a float."""
    return _omega_fit(x)[0]


def _omega_fit(x: np.ndarray, start: np.ndarray | None = None) -> tuple[float, np.ndarray | None]:
    """Omega of the raw items and the standardized uniquenesses (a start for refits)."""
    n, k = x.shape
    if k < 3 or n < k + 1:
        return math.nan, None
    return _omega_of_cov(np.cov(x, rowvar=False), start)


def _omega_of_cov(
    cov: np.ndarray,
    start: np.ndarray | None = None,
    tol: tuple[float, float] = (1e-14, 1e-10),
    scoring: bool = False,
) -> tuple[float, np.ndarray | None]:
    """:func:`_omega_fit` from the items' covariance matrix (``tol``: :func:`_one_factor_ml`;
    with ``scoring`` and a ``start``, :func:`_one_factor_scoring` first, to ``tol``'s
    gradient tolerance)."""
    var = np.diag(cov)
    if not (var > 0).all():
        return math.nan, None
    sd = np.sqrt(var)
    corr = cov / np.outer(sd, sd)
    if np.linalg.eigvalsh(corr).min() <= 1e-10:
        return math.nan, None
    solved = _three_item_solution(corr) if len(corr) == 3 else None
    if solved is not None:
        lam_std, psi_std = solved
    else:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scored = (
                _one_factor_scoring(corr, start, tol[1]) if scoring and start is not None else None
            )
            lam_std, psi_std = scored or _one_factor_ml(corr, start, tol=tol)
    lam, psi = sd * lam_std, var * psi_std  # ML is scale invariant: the solution of S
    common = float(lam.sum()) ** 2
    return common / (common + float(psi.sum())), psi_std


def _three_item_solution(corr: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The one-factor solution of three items in closed form (the model is just identified:
    ``lambda_i^2 = r_ij r_ik / r_jk``, ``psi_i = 1 - lambda_i^2``; Bollen 1989, ch. 7), which
    the ML fit reaches iteratively. None unless the correlations are positive and every
    ``psi_i`` is inside the ML fit's bounds (a boundary solution is left to the ML fit)."""
    r12, r13, r23 = corr[0, 1], corr[0, 2], corr[1, 2]
    if min(r12, r13, r23) <= 0:
        return None
    lam = np.sqrt([r12 * r13 / r23, r12 * r23 / r13, r13 * r23 / r12])
    psi = 1 - lam**2
    if not ((psi > _PSI_MIN) & (psi < 1)).all():
        return None
    return lam, psi


def _one_blas_thread() -> contextlib.AbstractContextManager:
    """Limit BLAS to one thread where threadpoolctl (a scikit-learn dependency) is present."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - results are the same, only slower
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _counts_cov(patterns: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The covariance matrix (``ddof = 1``) of the rows ``patterns[i]`` repeated ``counts[i]``
    times, from the weighted cross-products (no rows are built)."""
    n = counts.sum()
    mean = counts @ patterns / n
    cross = (patterns * counts[:, None]).T @ patterns / n - np.outer(mean, mean)
    return cross * (n / (n - 1))


# How many values (replicates x answer patterns, and patterns x k^2 cross products) a chunk
# of bootstrap replicates holds at once: about 32 MB.
_BOOT_CELLS = 4_000_000


def _counts_covs(patterns: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """:func:`_counts_cov` of each row of ``counts`` (``B x P``): a ``B x k x k`` stack."""
    k = patterns.shape[1]
    if len(patterns) * k * k > _BOOT_CELLS:  # too many patterns to hold their products
        return np.stack([_counts_cov(patterns, c) for c in counts])
    n = counts.sum(axis=1)
    mean = counts @ patterns / n[:, None]
    products = (patterns[:, :, None] * patterns[:, None, :]).reshape(len(patterns), k * k)
    cross = (counts @ products).reshape(-1, k, k) / n[:, None, None]
    cross -= mean[:, :, None] * mean[:, None, :]
    return cross * (n / (n - 1))[:, None, None]


def _omegas_of_covs(cov: np.ndarray, start: np.ndarray) -> np.ndarray:
    """``_omega_of_cov(c, start, _BOOT_TOL, scoring=True)[0]`` of each covariance matrix of a
    ``B x k x k`` stack: Fisher scoring of all of them together
    (:func:`_one_factor_scoring_stack`), L-BFGS-B for those it leaves."""
    count, k = cov.shape[:2]
    out = np.full(count, np.nan)
    if k == 3:  # the closed form: cheap one at a time
        for b in range(count):
            out[b] = _omega_of_cov(cov[b], start, _BOOT_TOL, scoring=True)[0]
        return out
    var = np.diagonal(cov, axis1=1, axis2=2)
    ok = (var > 0).all(axis=1)
    sd = np.sqrt(np.where(ok[:, None], var, 1.0))
    corr = cov / (sd[:, :, None] * sd[:, None, :])
    ok[ok] = np.linalg.eigvalsh(corr[ok]).min(axis=1) > 1e-10
    rows = np.flatnonzero(ok)
    if not len(rows):
        return out
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lam, psi, scored = _one_factor_scoring_stack(corr[rows], start, _BOOT_TOL[1])
        for i in np.flatnonzero(~scored):  # a bound reached, or no convergence
            lam[i], psi[i] = _one_factor_ml(corr[rows[i]], start, tol=_BOOT_TOL)
    lam, psi = sd[rows] * lam, var[rows] * psi
    common = lam.sum(axis=1) ** 2
    out[rows] = common / (common + psi.sum(axis=1))
    return out


# A replicate's fit stops at ftol 1e-10 and gtol 1e-6: its omega then differs from the strict
# fit's by about 1e-8 (measured on the demo's instruments), far below the bootstrap's own
# Monte Carlo error, in a quarter less time. The estimate itself keeps the strict tolerances.
_BOOT_TOL = (1e-10, 1e-6)


def _omega_bootstrap(
    x: np.ndarray, psi: np.ndarray | None, *, ci: float, n_boot: int, seed: int | None
) -> tuple[float, float]:
    """Percentile bootstrap interval of omega over the rows of ``x``.

    A resample of the ``n`` rows with replacement is drawn as how many times it takes each
    distinct row (answer pattern): multinomial counts with the patterns' shares as
    probabilities, the same distribution as ``n`` row draws. Its covariance matrix is the
    counts-weighted one of the patterns, so a replicate costs the number of distinct
    patterns (a few thousand for Likert items, whatever ``n``), not a copy of ``n`` rows."""
    if n_boot < 1 or psi is None:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    patterns, counts = np.unique(x, axis=0, return_counts=True)
    patterns = patterns - x.mean(axis=0)  # centred: the cross products stay small
    share = counts / n
    reps = np.empty(n_boot)
    # The fits are on k x k matrices: BLAS threads only contend (measured: 0.28 s per refit
    # with OpenBLAS threads on a loaded 2-core machine, 6.5 ms with one thread).
    # Replicates are drawn and refitted a chunk at a time (one set of array operations per
    # scoring step for the whole chunk); the draws are those of one replicate at a time.
    chunk = max(1, min(n_boot, _BOOT_CELLS // len(patterns)))
    with _one_blas_thread():
        for first in range(0, n_boot, chunk):
            draws = rng.multinomial(n, share, size=min(chunk, n_boot - first)).astype(float)
            reps[first : first + len(draws)] = _omegas_of_covs(_counts_covs(patterns, draws), psi)
    reps = reps[np.isfinite(reps)]
    if len(reps) < n_boot / 2:
        return math.nan, math.nan
    low, high = np.quantile(reps, [(1 - ci) / 2, (1 + ci) / 2])
    return float(low), float(high)


def reliability_table(
    data: pd.DataFrame,
    *,
    instruments: dict[str, list[str]],
    rounds: list[str],
    min_n: int = 5,
    ci: float = 0.95,
    reps: int = 999,
    seed: int = 0,
) -> pd.DataFrame:
    """The reliability table of record: alpha (Feldt interval) and omega (bootstrap interval)
    per instrument x round.

    One row per instrument with at least two items x round, in the given orders.

    - ``n``: respondents of the round who answered at least one of the instrument's items;
      ``cronbach_alpha`` and its Feldt interval use all of them, from the EM covariance matrix
      (:func:`cronbach_alpha` with ``missing="em"``; Enders 2003).
    - ``n_complete``: listwise complete cases (every item answered); ``omega`` and its
      percentile bootstrap interval (``reps`` resamples, ``seed``) use them
      (:func:`mcdonald_omega`), from the covariance matrix of the raw items.

    A row with ``n < min_n`` is kept with ``suppressed = True`` and its statistics empty;
    ``k_items`` (a property of the instrument) stays. With ``n >= min_n`` but
    ``n_complete < min_n``, omega, its interval and ``n_complete`` are empty.

    Parameters
    ----------
    data : DataFrame
        A ``round`` column and the item columns; one row per respondent per round. Not modified.
    instruments : dict
        Instrument id -> item columns. Instruments with fewer than two items are skipped.
    rounds : list of str
        Round ids, in output order.
    min_n : int
        Smallest number of respondents shown.
    ci : float
        Level of both intervals.
    reps : int
        Bootstrap replicates of omega's interval (``analysis.bootstrap_reps``).
    seed : int
        Seed of the bootstrap (the study seed); each instrument x round draws from
        ``numpy.random.default_rng([seed, i])``, ``i`` its row number, so a row does not
        depend on which other rows are computed.

    Returns
    -------
    DataFrame
        Columns ``instrument, round, n, k_items, cronbach_alpha, alpha_ci_low, alpha_ci_high,
        omega, suppressed, omega_ci_low, omega_ci_high, n_complete``.

    References
    ----------
    See :func:`cronbach_alpha` and :func:`mcdonald_omega`.
    """
    if "round" not in data:
        raise ValueError("data has no column 'round'")
    rows = []
    for inst, items in instruments.items():
        items = list(items)
        if len(items) < 2:
            log.debug("%s: fewer than two items, no reliability", inst)
            continue
        absent = [c for c in items if c not in data]
        if absent:
            raise ValueError(f"instrument {inst}: item column(s) {absent} not in data")
        for rnd in rounds:
            part = data.loc[(data["round"].astype("string") == rnd).fillna(False), items]
            alpha = _alpha(part, ci, "em")
            complete = _complete(part)
            n_complete = complete.shape[0]
            omega = low = high = math.nan
            if alpha["n"] >= min_n and n_complete >= min_n:
                omega, psi = _omega_fit(complete)
                row_seed = [seed, len(rows)]
                low, high = _omega_bootstrap(complete, psi, ci=ci, n_boot=reps, seed=row_seed)
            rows.append(
                {
                    "instrument": inst,
                    "round": rnd,
                    "n": float(alpha["n"]),
                    "k_items": len(items),
                    "cronbach_alpha": alpha["cronbach_alpha"],
                    "alpha_ci_low": alpha["alpha_ci_low"],
                    "alpha_ci_high": alpha["alpha_ci_high"],
                    "omega": omega,
                    "suppressed": False,
                    "omega_ci_low": low,
                    "omega_ci_high": high,
                    "n_complete": float(n_complete) if n_complete >= min_n else math.nan,
                }
            )
    if not rows:
        out = pd.DataFrame({c: pd.Series(dtype="float64") for c in RELIABILITY_COLUMNS})
        out[["instrument", "round"]] = out[["instrument", "round"]].astype(object)
        out["k_items"] = out["k_items"].astype("int64")
        out["suppressed"] = out["suppressed"].astype(bool)
        return out
    out = pd.DataFrame(rows, columns=RELIABILITY_COLUMNS)
    out = suppress(out, n_columns=["n"], keep=["instrument", "round", "k_items"], min_n=min_n)
    stat_cols = [c for c in RELIABILITY_COLUMNS if c not in ("instrument", "round", "k_items",
                                                               "suppressed")]  # fmt: skip
    out[stat_cols] = out[stat_cols].astype("float64")
    out["suppressed"] = out["suppressed"].astype(bool)
    return out[RELIABILITY_COLUMNS].reset_index(drop=True)
