"""Internal consistency of multi-item instruments: Cronbach's alpha and McDonald's omega.

``reliability_table`` builds the table of record ``reliability.csv``: one row per instrument
(with at least two items) x round.

Result shape: :func:`cronbach_alpha` returns a one-row DataFrame with the columns
``ALPHA_COLUMNS``, :func:`mcdonald_omega` one with ``OMEGA_COLUMNS``; the names are those of the
table of record, whose rows are built from the same computations.
"""

from __future__ import annotations

import logging
import math
import warnings

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
]

# The columns of the one-row results of :func:`cronbach_alpha` and :func:`mcdonald_omega`.
ALPHA_COLUMNS = ["n", "k_items", "cronbach_alpha", "alpha_ci_low", "alpha_ci_high"]
OMEGA_COLUMNS = ["n", "k_items", "omega"]

# Lower bound of a uniqueness in the ML factor fit (as R's factanal).
_PSI_MIN = 0.005


def _complete(items: pd.DataFrame) -> np.ndarray:
    """Listwise complete cases as a float matrix (a copy)."""
    values = items.apply(pd.to_numeric, errors="coerce").astype("float64").to_numpy()
    return values[~np.isnan(values).any(axis=1)]


def cronbach_alpha(items: pd.DataFrame, *, ci: float = 0.95) -> pd.DataFrame:
    """Cronbach's alpha of the item columns, on listwise complete cases, with Feldt's interval.

    With ``k`` items, item variances ``s_i^2`` and the variance ``s_X^2`` of the sum score
    (``ddof=1``)::

        alpha = k / (k - 1) * (1 - sum(s_i^2) / s_X^2)

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

    Returns
    -------
    pandas.DataFrame
        One row, columns ``ALPHA_COLUMNS``: ``n`` (complete cases), ``k_items``,
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
    """
    return pd.DataFrame([_alpha(items, ci)], columns=ALPHA_COLUMNS)


def _alpha(items: pd.DataFrame, ci: float) -> dict:
    """:func:`cronbach_alpha` as a dict (the table builder's inner loop)."""
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be between 0 and 1 (exclusive), got {ci}")
    x = _complete(items)
    n, k = x.shape
    out = {
        "n": int(n),
        "k_items": int(k),
        "cronbach_alpha": math.nan,
        "alpha_ci_low": math.nan,
        "alpha_ci_high": math.nan,
    }
    if n < 2 or k < 2:
        return out
    total_var = float(x.sum(axis=1).var(ddof=1))
    if not total_var > 0:
        return out
    alpha = k / (k - 1) * (1 - float(x.var(axis=0, ddof=1).sum()) / total_var)
    a = 1 - ci
    df1, df2 = n - 1, (n - 1) * (k - 1)
    out["cronbach_alpha"] = alpha
    out["alpha_ci_low"] = 1 - (1 - alpha) * float(stats.f.isf(a / 2, df1, df2))
    out["alpha_ci_high"] = 1 - (1 - alpha) * float(stats.f.isf(1 - a / 2, df1, df2))
    return out


def _one_factor_ml(corr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood one-factor solution of a correlation matrix: loadings, uniquenesses.

    Minimises the ML discrepancy concentrated on the uniquenesses ``psi`` (Jöreskog 1967;
    Lawley & Maxwell 1971), as R's ``factanal``: with ``theta_1 >= ... >= theta_p`` the
    eigenvalues of ``Psi^-1/2 R Psi^-1/2``::

        F(psi) = sum_{j >= 2} (theta_j - log theta_j - 1)
        lambda = Psi^1/2 v_1 sqrt(max(theta_1 - 1, 0))

    with gradient ``diag(lambda lambda' + Psi - R) / psi^2``, ``psi`` in ``[0.005, 1]``
    (L-BFGS-B). The sign is chosen so that the loadings sum to a positive number.
    """
    p = corr.shape[0]

    def parts(psi: np.ndarray) -> tuple[float, np.ndarray]:
        s = 1 / np.sqrt(psi)
        theta, vec = np.linalg.eigh(corr * np.outer(s, s))
        rest = theta[:-1]
        f = float(np.sum(rest - np.log(rest) - 1))
        lam = np.sqrt(psi) * vec[:, -1] * math.sqrt(max(theta[-1] - 1, 0.0))
        return f, lam

    def fun(psi: np.ndarray) -> tuple[float, np.ndarray]:
        f, lam = parts(psi)
        grad = (lam**2 + psi - np.diag(corr)) / psi**2
        return f, grad

    start = (1 - 0.5 / p) / np.diag(np.linalg.inv(corr))
    start = np.clip(start, _PSI_MIN, 1.0)
    res = optimize.minimize(
        fun,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[(_PSI_MIN, 1.0)] * p,
        options={"ftol": 1e-14, "gtol": 1e-10, "maxiter": 2000},
    )
    psi = np.asarray(res.x, dtype=float)
    _, lam = parts(psi)
    if lam.sum() < 0:
        lam = -lam
    return lam, psi


def mcdonald_omega(items: pd.DataFrame) -> pd.DataFrame:
    """McDonald's omega total from a one-factor maximum-likelihood model of the item correlations.

    On listwise complete cases, a one-factor model is fitted by maximum likelihood to the
    correlation matrix (see ``_one_factor_ml``: the method of R's ``factanal``), giving
    standardized loadings ``lambda_i`` and uniquenesses ``psi_i``::

        omega = (sum lambda_i)^2 / ((sum lambda_i)^2 + sum psi_i)

    the model-implied reliability of the (unit-weighted) sum of the standardized items.
    Items that load negatively lower omega (reverse-key them before). Under a one-factor model
    with equal loadings omega equals standardized alpha; otherwise alpha <= omega.

    ``omega`` is NaN with fewer than 3 items (a one-factor model of two items is not
    identified), fewer than ``k + 1`` complete cases, an item without variance, or a singular
    correlation matrix.

    Returns
    -------
    pandas.DataFrame
        One row, columns ``OMEGA_COLUMNS``: ``n`` (complete cases), ``k_items``, ``omega``.

    Examples
    --------
    >>> items = pd.DataFrame({"a": [1, 2, 3, 4, 5, 3, 2], "b": [2, 2, 3, 5, 4, 3, 1],
    ...                       "c": [1, 3, 3, 4, 5, 2, 2]})
    >>> print(mcdonald_omega(items).round(3).to_string(index=False))
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
    """
    x = _complete(items)
    n, k = x.shape
    return pd.DataFrame([[int(n), int(k), _omega(x)]], columns=OMEGA_COLUMNS)


def _omega(x: np.ndarray) -> float:
    """:func:`mcdonald_omega` of a matrix of complete cases, as a float."""
    n, k = x.shape
    if k < 3 or n < k + 1:
        return math.nan
    sd = x.std(axis=0, ddof=1)
    if not (sd > 0).all():
        return math.nan
    corr = np.corrcoef(x, rowvar=False)
    if np.linalg.eigvalsh(corr).min() <= 1e-10:
        return math.nan
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lam, psi = _one_factor_ml(corr)
    common = float(lam.sum()) ** 2
    return common / (common + float(psi.sum()))


def reliability_table(
    data: pd.DataFrame,
    *,
    instruments: dict[str, list[str]],
    rounds: list[str],
    min_n: int = 5,
    ci: float = 0.95,
) -> pd.DataFrame:
    """The reliability table of record: alpha (Feldt interval) and omega per instrument x round.

    One row per instrument with at least two items x round, in the given orders. ``n`` is the
    number of listwise complete cases of the instrument's items in that round. A row with
    ``n < min_n`` is kept with ``suppressed = True`` and its statistics (``n``, alpha, interval,
    omega) empty; ``k_items`` (a property of the instrument) stays.

    Parameters
    ----------
    data : DataFrame
        A ``round`` column and the item columns; one row per respondent per round. Not modified.
    instruments : dict
        Instrument id -> item columns. Instruments with fewer than two items are skipped.
    rounds : list of str
        Round ids, in output order.
    min_n : int
        Smallest number of complete cases shown.

    Returns
    -------
    DataFrame
        Columns ``instrument, round, n, k_items, cronbach_alpha, alpha_ci_low, alpha_ci_high,
        omega, suppressed``.

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
            alpha = _alpha(part, ci)
            rows.append(
                {
                    "instrument": inst,
                    "round": rnd,
                    "n": float(alpha["n"]),
                    "k_items": len(items),
                    "cronbach_alpha": alpha["cronbach_alpha"],
                    "alpha_ci_low": alpha["alpha_ci_low"],
                    "alpha_ci_high": alpha["alpha_ci_high"],
                    "omega": _omega(_complete(part)) if alpha["n"] >= min_n else math.nan,
                    "suppressed": False,
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
    stat_cols = ["n", "cronbach_alpha", "alpha_ci_low", "alpha_ci_high", "omega"]
    out[stat_cols] = out[stat_cols].astype("float64")
    out["suppressed"] = out["suppressed"].astype(bool)
    return out[RELIABILITY_COLUMNS].reset_index(drop=True)
