"""REML and ML fits of nested random intercepts from per-cluster sufficient statistics.

The model, with L nested levels of random intercepts (e.g. organisation > unit > person, each
level's clusters nested in the clusters of the level above) is

    y = X b + sum_l Z_l u_l + e,   u_l ~ N(0, s2_l I),   e ~ N(0, s2_e I),
    V = s2_e H,   H = I + sum_l theta_l Z_l Z_l',   theta_l = s2_l / s2_e.

Because the levels are nested, H^-1 is built level by level, from the innermost level up, by
Sherman-Morrison updates: with W the inverse of H restricted to the levels already added (W = I
at the start) and, for a cluster c of the next level, a_c = 1_c' W 1_c, bX_c = 1_c' W X,
by_c = 1_c' W y, adding that level gives

    W' = W - k_c (W 1_c)(W 1_c)',   k_c = theta_l / (1 + theta_l a_c),
    X'W'X = X'WX - sum_c k_c bX_c bX_c',  X'W'y = X'Wy - sum_c k_c bX_c by_c,
    y'W'y = y'Wy - sum_c k_c by_c^2,      log|H| += sum_c log(1 + theta_l a_c),
    1_c' W' (.) = 1_c' W (.) / (1 + theta_l a_c),

and the a, bX, by of a cluster of the level above are the sums over its sub-clusters
(W' is block-diagonal by cluster). The innermost level starts from per-cluster sums of the
rows (one pass over the data); after that one evaluation costs O(clusters x p^2), not O(rows).
With P = X'H^-1X, b = P^-1 X'H^-1y and RSS = y'H^-1y - b'X'H^-1y the profiled criteria are

    ML:   -2 l  = n (1 + log(2 pi RSS / n)) + log|H|
    REML: -2 l_R = (n - p)(1 + log(2 pi RSS / (n - p))) + log|H| + log|P|

(Bates et al. 2015, eqs. 34 and 41; Searle, Casella & McCulloch 1992, ch. 6), minimised over the
relative standard deviations sqrt(theta_l) >= 0 (lme4's parameterisation, so a variance of
exactly zero, a "singular fit", is a legitimate estimate) by L-BFGS-B with central-difference
gradients. s2_e = RSS / (n - p) (REML) or RSS / n (ML); Cov(b) = s2_e P^-1.

The predicted random effects (BLUPs, Henderson's mixed-model equations) are computed top-down:
given the levels above, E[u_l,c | y] = theta_l (1_c' W_l r_c) / (1 + theta_l a_c), where W_l
is the inverse without level l and the levels above, and r the residual y - X b minus the
predicted effects of the levels above (E[u | y] = E[u | y, u_above = E[u_above | y]] for
Gaussian variables).

References
----------
Bates, D., Maechler, M., Bolker, B., & Walker, S. (2015). Fitting linear mixed-effects models
using lme4. *Journal of Statistical Software*, 67(1), 1-48.
Searle, S. R., Casella, G., & McCulloch, C. E. (1992). *Variance Components*. Wiley.
Henderson, C. R. (1975). Best linear unbiased estimation and prediction under a selection
model. *Biometrics*, 31(2), 423-447.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, sparse

# lme4's isSingular(): a relative SD below this is a variance estimated as zero.
SINGULAR_TOL = 1e-4


@dataclass(frozen=True)
class NestedFit:
    """A fitted nested random-intercept model.

    Attributes
    ----------
    levels : tuple of str
        Level names, outermost first.
    beta : ndarray (p,)
        Fixed effects (GLS).
    cov : ndarray (p, p)
        Their covariance s2_e (X'H^-1X)^-1.
    variances : dict
        Level name -> variance; ``"residual"`` -> s2_e.
    loglik : float
        The maximised REML or ML log-likelihood.
    reml : bool
    converged : bool
        The optimiser reported success and the projected gradient is small.
    singular : tuple of str
        Levels whose relative SD is below :data:`SINGULAR_TOL` (variance at the boundary).
    n_clusters : dict
        Level name -> number of clusters.
    blups : dict
        Level name -> Series of predicted random effects indexed by the cluster labels.
    fitted : ndarray (n,)
        Conditional fitted values X b + sum_l Z_l u_l (BLUPs included).
    fitted_fixed : ndarray (n,)
        Marginal fitted values X b.
    resid : ndarray (n,)
        Conditional residuals y - fitted.
    n_evaluations : int
        Criterion evaluations used by the optimiser.
    """

    levels: tuple[str, ...]
    beta: np.ndarray
    cov: np.ndarray
    variances: dict[str, float]
    loglik: float
    reml: bool
    converged: bool
    singular: tuple[str, ...]
    n_clusters: dict[str, int]
    blups: dict[str, pd.Series]
    fitted: np.ndarray
    fitted_fixed: np.ndarray
    resid: np.ndarray
    n_evaluations: int


@dataclass(frozen=True)
class _Stats:
    """Sufficient statistics: totals and the innermost level's per-cluster sums."""

    n: int
    xtx: np.ndarray
    xty: np.ndarray
    yty: float
    a0: np.ndarray  # (C0,) rows per innermost cluster
    bx0: np.ndarray  # (C0, p)
    by0: np.ndarray  # (C0,)
    parents: list[np.ndarray]  # parents[l]: cluster of level l+1 (outwards) of each level-l one
    sizes: list[int]  # clusters per level, innermost first
    # The innermost level compressed: its k_c depends on the cluster only through its row count
    # n_c, so clusters with the same (parent, n_c) are summed once (group g: count, n, parent,
    # sum bX, sum by, sum bX bX', sum bX by, sum by^2).
    g_count: np.ndarray
    g_n: np.ndarray
    g_parent: np.ndarray
    g_bx: np.ndarray
    g_by: np.ndarray
    g_xx: np.ndarray  # (G, p, p)
    g_xy: np.ndarray  # (G, p)
    g_yy: np.ndarray
    aggregate: list  # aggregate[l]: sparse (clusters of level l+1) x (clusters of level l) ones


def _codes(values: Sequence | np.ndarray | pd.Categorical) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..G-1 of the sorted distinct labels, and the labels: ``pd.factorize(sort=True)``.
    A categorical whose categories are sorted is coded as it stands (no per-row strings)."""
    if isinstance(values, pd.Categorical):
        cat = values.remove_unused_categories()
        names = np.asarray(cat.categories, dtype=object)
        if cat.categories.is_unique and (len(names) < 2 or bool(np.all(names[:-1] < names[1:]))):
            if (cat.codes < 0).any():
                raise ValueError("a grouping column has missing values")
            return cat.codes.astype(np.intp), names
    codes, uniques = pd.factorize(pd.Series(np.asarray(values, dtype=object)), sort=True)
    if (codes < 0).any():
        raise ValueError("a grouping column has missing values")
    return codes, np.asarray(uniques, dtype=object)


def _parent_map(child: np.ndarray, parent: np.ndarray, n_child: int, names: tuple[str, str]):
    """The parent cluster of each child cluster; raises if a child lies in two parents."""
    first = np.full(n_child, -1)
    first[child] = parent
    if np.any(first[child] != parent):
        raise ValueError(
            f"level {names[1]!r} is not nested in level {names[0]!r}: a {names[1]} cluster "
            f"lies in more than one {names[0]} cluster (give nested labels, e.g. 'org / unit')"
        )
    return first


def _sufficient(x: np.ndarray, y: np.ndarray, codes: list[np.ndarray], names) -> _Stats:
    """One pass over the rows; ``codes`` innermost level first."""
    n, p = x.shape
    inner = codes[0]
    c0 = int(inner.max()) + 1
    a0 = np.bincount(inner, minlength=c0).astype(float)
    bx0 = np.column_stack([np.bincount(inner, weights=x[:, j], minlength=c0) for j in range(p)])
    by0 = np.bincount(inner, weights=y, minlength=c0)
    parents, sizes = [], [c0]
    for lvl in range(1, len(codes)):
        n_child = sizes[-1]
        parents.append(
            _parent_map(codes[lvl - 1], codes[lvl], n_child, (names[lvl], names[lvl - 1]))
        )
        sizes.append(int(codes[lvl].max()) + 1)
    bx0 = bx0.reshape(c0, p)
    parent0 = parents[0] if parents else np.zeros(c0, dtype=np.int64)
    counts = a0.astype(np.int64)
    key = parent0.astype(np.int64) * (int(counts.max()) + 1) + counts
    _, first, gcode = np.unique(key, return_index=True, return_inverse=True)
    n_g = len(first)

    def gsum(w: np.ndarray) -> np.ndarray:
        return np.bincount(gcode, weights=w, minlength=n_g)

    g_xx = np.empty((n_g, p, p))
    for j in range(p):
        for k in range(j + 1):
            g_xx[:, j, k] = g_xx[:, k, j] = gsum(bx0[:, j] * bx0[:, k])
    aggregate = [
        sparse.csr_matrix(
            (np.ones(len(par)), (par, np.arange(len(par)))), shape=(sizes[i + 1], len(par))
        )
        for i, par in enumerate(parents)
    ]
    return _Stats(
        n=n,
        xtx=x.T @ x,
        xty=x.T @ y,
        yty=float(y @ y),
        a0=a0,
        bx0=bx0,
        by0=by0,
        parents=parents,
        sizes=sizes,
        g_count=gsum(np.ones(c0)),
        g_n=counts[first].astype(float),
        g_parent=parent0[first],
        g_bx=np.column_stack([gsum(bx0[:, j]) for j in range(p)]).reshape(n_g, p),
        g_by=gsum(by0),
        g_xx=g_xx,
        g_xy=np.column_stack([gsum(bx0[:, j] * by0) for j in range(p)]).reshape(n_g, p),
        g_yy=gsum(by0 * by0),
        aggregate=aggregate,
    )


def _sweep_fast(st: _Stats, theta: np.ndarray):
    """As :func:`_sweep` (without ``keep``), the innermost level from its compressed groups."""
    th = theta[0]
    d = 1.0 + th * st.g_n
    k = th / d
    xwx = st.xtx - np.tensordot(k, st.g_xx, axes=1)
    xwy = st.xty - k @ st.g_xy
    ywy = st.yty - float(k @ st.g_yy)
    logdet = float(st.g_count @ np.log(d))
    if len(theta) == 1:
        return xwx, xwy, ywy, logdet
    m = st.sizes[1]
    a = np.bincount(st.g_parent, weights=st.g_count * st.g_n / d, minlength=m)
    by = np.bincount(st.g_parent, weights=st.g_by / d, minlength=m)
    bx = np.column_stack(
        [np.bincount(st.g_parent, weights=st.g_bx[:, j] / d, minlength=m) for j in range(len(xwy))]
    ).reshape(m, len(xwy))
    for lvl in range(1, len(theta)):
        xwx, xwy, ywy, logdet, a, bx, by = _level(theta[lvl], xwx, xwy, ywy, logdet, a, bx, by)
        if lvl + 1 < len(theta):
            agg = st.aggregate[lvl]
            a, by, bx = agg @ a, agg @ by, np.asarray(agg @ bx)
    return xwx, xwy, ywy, logdet


def _level(th, xwx, xwy, ywy, logdet, a, bx, by):
    """One level's Sherman-Morrison update with relative variance ``th`` of the quadratic
    forms and log-determinant, and its clusters' (a, bX, by) after it."""
    if th <= 0:
        return xwx, xwy, ywy, logdet, a, bx, by
    d = 1.0 + th * a
    k = th / d
    kbx = bx * k[:, None]
    return (
        xwx - kbx.T @ bx,
        xwy - kbx.T @ by,
        ywy - float(k @ (by * by)),
        logdet + float(np.sum(np.log(d))),
        a / d,
        bx / d[:, None],
        by / d,
    )


def _sweep(st: _Stats, theta: np.ndarray, keep: bool = False):
    """X'H^-1X, X'H^-1y, y'H^-1y and log|H| for relative variances ``theta`` (innermost first).

    With ``keep`` also returns, per level, the pre-update (a, bX, by) of its clusters."""
    xwx, xwy, ywy = st.xtx.copy(), st.xty.copy(), st.yty
    logdet = 0.0
    a, bx, by = st.a0, st.bx0, st.by0
    kept = []
    for lvl, th in enumerate(theta):
        if keep:
            kept.append((a, bx, by))
        xwx, xwy, ywy, logdet, a, bx, by = _level(th, xwx, xwy, ywy, logdet, a, bx, by)
        if lvl + 1 < len(theta):
            agg = st.aggregate[lvl]
            a, by, bx = agg @ a, agg @ by, np.asarray(agg @ bx)
    return xwx, xwy, ywy, logdet, kept


def _criterion(st: _Stats, theta: np.ndarray, reml: bool) -> tuple[float, np.ndarray, float]:
    """(-2 log-likelihood profiled over b and s2_e, b, RSS)."""
    xwx, xwy, ywy, logdet = _sweep_fast(st, theta)
    chol = np.linalg.cholesky(xwx)
    beta = np.linalg.solve(xwx, xwy)
    rss = max(ywy - float(xwy @ beta), 1e-300)
    p = len(xwy)
    df = st.n - p if reml else st.n
    dev = df * (1.0 + math.log(2 * math.pi * rss / df)) + logdet
    if reml:
        dev += 2.0 * float(np.sum(np.log(np.diag(chol))))
    return dev, beta, rss


def fit_nested(
    x: np.ndarray,
    y: np.ndarray,
    groups: Sequence[tuple[str, Sequence | np.ndarray]],
    *,
    reml: bool = True,
    start: Sequence[float] | None = None,
    tol: float = 1e-15,
) -> NestedFit:
    """Fit y = X b + nested random intercepts + e by REML (or ML) from sufficient statistics.

    Parameters
    ----------
    x : ndarray (n, p)
        Fixed-effects design, full column rank.
    y : ndarray (n,)
        Response.
    groups : sequence of (name, labels)
        The levels, OUTERMOST first, each a name and one cluster label per row; every cluster
        of a level must lie within one cluster of the level before it (labels need only be
        unique within the whole level: use "org / unit" style labels).
    reml : bool
        REML (default) or ML.
    start : sequence of float, optional
        Starting relative SDs sqrt(s2_l / s2_e), outermost first (default 0.5 each).
    tol : float
        Tolerance of the optimiser (relative change of the criterion and projected gradient).

    Returns
    -------
    NestedFit

    Notes
    -----
    -2 l_R = (n - p)(1 + log(2 pi RSS/(n - p))) + log|H| + log|X'H^-1X| (Bates et al. 2015,
    eq. 41); see the module docstring for the recursive Sherman-Morrison evaluation.

    References
    ----------
    Bates, D., Maechler, M., Bolker, B., & Walker, S. (2015). Fitting linear mixed-effects
    models using lme4. *Journal of Statistical Software*, 67(1), 1-48.
    Searle, S. R., Casella, G., & McCulloch, C. E. (1992). *Variance Components*. Wiley.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(30), 10)
    >>> y = 5 + rng.normal(0, 2, 30)[g] + rng.normal(0, 1, 300)
    >>> fit = fit_nested(np.ones((300, 1)), y, [("group", g)])
    >>> round(fit.variances["residual"], 2), fit.converged
    (0.89, True)
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"x must be n x p and y of length n; got {x.shape} and {y.shape}")
    if not groups:
        raise ValueError("give at least one level of random intercepts")
    names = tuple(str(name) for name, _ in groups)
    coded = [_codes(labels) for _, labels in groups]
    if any(len(c) != len(y) for c, _ in coded):
        raise ValueError("every level needs one label per row")
    n, p = x.shape
    if n <= p:
        raise ValueError(f"need more rows ({n}) than fixed effects ({p})")
    inner_first = [c for c, _ in coded][::-1]
    # The criterion is invariant to y -> y - X c: working with the OLS residuals avoids the
    # cancellation in RSS = y'H^-1y - b'X'H^-1y (lost digits would make the gradients noisy).
    b_ols = np.linalg.lstsq(x, y, rcond=None)[0]
    st = _sufficient(x, y - x @ b_ols, inner_first, names[::-1])
    if np.linalg.matrix_rank(st.xtx) < p:
        raise ValueError("the fixed-effects design is rank deficient")

    n_levels = len(names)
    psi0 = np.full(n_levels, 0.5) if start is None else np.asarray(start, float)[::-1]
    evaluations = 0

    def objective(psi: np.ndarray) -> float:
        nonlocal evaluations
        evaluations += 1
        return _criterion(st, np.maximum(psi, 0.0) ** 2, reml)[0]

    def gradient(psi: np.ndarray) -> np.ndarray:
        out = np.empty_like(psi)
        for i in range(len(psi)):
            h = 1e-5 * max(1.0, abs(psi[i]))
            up, down = psi.copy(), psi.copy()
            up[i] += h
            down[i] = max(psi[i] - h, 0.0)
            out[i] = (objective(up) - objective(down)) / (up[i] - down[i])
        return out

    res = optimize.minimize(
        objective,
        psi0,
        jac=gradient,
        method="L-BFGS-B",
        bounds=[(0.0, None)] * n_levels,
        options={"ftol": tol, "gtol": 1e-8, "maxiter": 500},
    )
    psi = np.maximum(res.x, 0.0)
    dev = float(res.fun)
    # a component near zero: compare with exactly zero (the boundary is a legitimate estimate)
    for i in range(n_levels):
        if 0 < psi[i] < SINGULAR_TOL:
            trial = psi.copy()
            trial[i] = 0.0
            d = objective(trial)
            if d <= dev + 1e-9:
                psi, dev = trial, d
    grad = gradient(psi)
    projected = np.where((psi <= 0) & (grad > 0), 0.0, grad)
    converged = bool(res.success or np.max(np.abs(projected)) < 1e-3)

    theta = psi**2
    _, beta, rss = _criterion(st, theta, reml)
    beta = beta + b_ols
    s2e = rss / (n - p if reml else n)
    xwx, _, _, _, kept = _sweep(st, theta, keep=True)
    cov = s2e * np.linalg.inv(xwx)
    cov = (cov + cov.T) / 2

    # BLUPs top-down (outermost level first); kept[i] are level i's (innermost first) sums
    fitted_fixed = x @ beta
    # per-cluster 1'W r at each level from the kept (a, bX, by): by - bX b
    effects_inner_first: list[np.ndarray] = [np.zeros(s) for s in st.sizes]
    above = None  # predicted effects of all levels above, per cluster of the current level
    for lvl in range(n_levels - 1, -1, -1):
        a, bx, by = kept[lvl]
        br = by - bx @ (beta - b_ols)  # the sums hold y - X b_ols
        if above is None:
            above = np.zeros(st.sizes[lvl])
        u = theta[lvl] * (br - above * a) / (1.0 + theta[lvl] * a)
        effects_inner_first[lvl] = u
        if lvl > 0:
            above = (above + u)[st.parents[lvl - 1]]
    total = above + effects_inner_first[0] if n_levels > 1 else effects_inner_first[0]
    inner_codes = inner_first[0]
    fitted = fitted_fixed + total[inner_codes]

    variances = {names[n_levels - 1 - i]: float(theta[i] * s2e) for i in range(n_levels)}
    variances["residual"] = float(s2e)
    blups = {
        names[n_levels - 1 - i]: pd.Series(effects_inner_first[i], index=coded[::-1][i][1])
        for i in range(n_levels)
    }
    n_clusters = {names[n_levels - 1 - i]: st.sizes[i] for i in range(n_levels)}
    singular = tuple(names[n_levels - 1 - i] for i in range(n_levels) if psi[i] < SINGULAR_TOL)[
        ::-1
    ]
    return NestedFit(
        levels=names,
        beta=beta,
        cov=cov,
        variances=variances,
        loglik=-0.5 * dev,
        reml=reml,
        converged=converged,
        singular=singular,
        n_clusters=n_clusters,
        blups=blups,
        fitted=fitted,
        fitted_fixed=fitted_fixed,
        resid=y - fitted,
        n_evaluations=evaluations,
    )
