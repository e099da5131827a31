"""Longitudinal models: the mixed model behind ``lmm.csv`` and its cluster-robust cross-check.

Respondents are nested in units nested in organisations and answer once a round; a linked
respondent code makes the same person recognisable across rounds. The model of record is a
linear mixed model (LMM) with random intercepts for the organisation, the unit within it and the
person within the unit (q ~ N(0, s2_person), left out when nobody is linked; fitted by
:func:`evaluation.analyse.quant.nested.fit_nested` from sufficient statistics, t with G - 1 df),
shown here without the person term:

    y_iujr = b0 + sum_r g_r [round = r] + d * P_i + sum_r t_r [round = r] * P_i (+ covariates)
             + o_j + u_uj + e_iujr,
    o_j ~ N(0, s2_org),  u_uj ~ N(0, s2_unit),  e_iujr ~ N(0, s2_resid),

fitted by REML, where ``P`` is programme participation (0/1) and the
baseline round is the reference. ``t_r`` is the difference-in-differences (DiD) of round ``r``:
the participants' change from the baseline minus the non-participants' change.

Functions
---------
``lmm_table``             the table of record ``lmm.csv`` (means, DiD, ICC) for one measure.
``cluster_robust_check``  OLS DiD with CR1 cluster-robust SEs and, with fewer than 30 clusters, a
                          restricted wild cluster bootstrap (p-value, CI by test inversion);
                          rows in the ``lmm.csv`` shape so they can be appended to it.
``icc_oneway``            model-free one-way ANOVA ICC(1) of one clustering level.
``tidy``                  a fitted statsmodels result as one row per fixed-effect coefficient.

Fallbacks are never silent: a variance estimated as zero (lme4's "singular fit") stays in the
model at zero and is announced; a fit that does not converge from three starting points, or a
single organisation, falls back to OLS with CR1 standard errors clustered by organisation. The
model used is named in the ``model`` column (``lmm_reml_`` + the levels modelled) and every step
down is announced with a :class:`ModelWarning`. statsmodels ``MixedLM`` is the reference the
fitter is tested against (``tests/test_nested.py``, with lme4's published values).

References
----------
Bates, D., Maechler, M., Bolker, B., & Walker, S. (2015). Fitting linear mixed-effects models
using lme4. *Journal of Statistical Software*, 67(1), 1-48.
Cameron, A. C., Gelbach, J. B., & Miller, D. L. (2008). Bootstrap-based improvements for
inference with clustered errors. *Review of Economics and Statistics*, 90(3), 414-427.
Cameron, A. C., & Miller, D. L. (2015). A practitioner's guide to cluster-robust inference.
*Journal of Human Resources*, 50(2), 317-372.
MacKinnon, J. G., & Webb, M. D. (2017). Wild bootstrap inference for wildly different cluster
sizes. *Journal of Applied Econometrics*, 32(2), 233-254.
MacKinnon, J. G., & Webb, M. D. (2018). The wild bootstrap for few (treated) clusters.
*The Econometrics Journal*, 21(2), 114-135.
Roodman, D., MacKinnon, J. G., Nielsen, M. O., & Webb, M. D. (2019). Fast and wild: Bootstrap
inference in Stata using boottest. *The Stata Journal*, 19(1), 4-60.
Webb, M. D. (2014/2023). Reworking wild bootstrap based inference for clustered errors.
Queen's Economics Department Working Paper 1315; *Canadian Journal of Economics*, 56(3).
Snijders, T. A. B., & Bosker, R. J. (2012). *Multilevel Analysis* (2nd ed.). Sage. (Chs. 3-4:
intraclass correlations, including three-level models.)
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats

from evaluation.analyse.quant.nested import NestedFit, _codes, fit_nested

log = logging.getLogger(__name__)

LMM_COLUMNS = [
    "measure",
    "term",
    "round",
    "participant",
    "estimate",
    "ci_low",
    "ci_high",
    "p",
    "n",
    "n_clusters",
    "model",
    "level",
    "suppressed",
    "population",
    "analysis",
]

# The columns of :func:`icc_oneway`.
ICC_COLUMNS = ["measure", "level", "icc", "ci_low", "ci_high", "n", "n_clusters", "n0"]
TIDY_COLUMNS = ["term", "estimate", "std_error", "statistic", "p", "ci_low", "ci_high"]

Weights = Literal["auto", "rademacher", "webb"]

# Labels of the models that can produce rows (the ``model`` column).
OLS_CLUSTER = "ols_cluster_robust"
OLS_CR1 = "ols_cr1"
WILD = "ols_wild_cluster_bootstrap"
# The nested REML models of record (evaluation.analyse.quant.nested): "lmm_reml_" followed by
# the levels modelled, outermost first, e.g. ``lmm_reml_org_unit_person``.
LMM_PREFIX = "lmm_reml"
LEVEL_IDS = {"organisation": "org", "unit": "unit", "person": "person"}
# ``population`` of every row: all respondents (linked people enter through the person level).
POPULATION = "all"


# Below this many clusters the wild cluster bootstrap is added to the CR1 rows
# (Cameron, Gelbach & Miller 2008; Cameron & Miller 2015, section VI).
FEW_CLUSTERS = 30
# Below this many clusters Webb's six-point weights replace Rademacher weights under
# ``weights="auto"`` (Webb 2014: Rademacher gives only 2^G distinct draws).
WEBB_BELOW = 12

_WEBB = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])


class ModelWarning(UserWarning):
    """A model did not fit as specified: a fallback was used or a statistic is missing."""


# --------------------------------------------------------------------------- data preparation


@dataclass(frozen=True)
class _Prepared:
    """The analysed rows with safe internal column names, and what is known about them."""

    # _y, _round (codes r0..), _participant, _c0.. and the identifiers _round_id, _org, _unit,
    # _orgunit, _cluster, _person as categoricals with sorted categories (codes = sorted factorize)
    data: pd.DataFrame
    codes: dict[str, str]  # round id -> internal code
    counts: dict[tuple[str, int], int]  # (round id, participant) -> respondents
    covariates: list[str] = field(default_factory=list)  # internal covariate names


def _check_args(
    scores: pd.DataFrame, measure: str, rounds: Sequence[str], baseline: str, ci: float
) -> list[str]:
    """Validate the common arguments; returns the rounds as strings."""
    rounds = [str(r) for r in rounds]
    if len(rounds) < 2:
        raise ValueError(f"rounds needs at least the baseline and one other round, got {rounds}")
    if len(set(rounds)) != len(rounds):
        raise ValueError(f"rounds has duplicates: {rounds}")
    if str(baseline) not in rounds:
        raise ValueError(f"baseline {baseline!r} is not among rounds {rounds}")
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    missing = [
        c for c in ("round", "organisation", "unit", "participant", measure) if c not in scores
    ]
    if missing:
        raise ValueError(f"scores has no column(s) {missing}")
    return rounds


def _prepare(
    scores: pd.DataFrame,
    *,
    measure: str,
    rounds: list[str],
    baseline: str,
    covariates: Sequence[str] = (),
    cluster: str = "organisation",
    caller: str = "lmm_table",
) -> _Prepared:
    """Select the analysed rows; the input frame is only read."""
    covariates = list(covariates)
    absent = [c for c in covariates if c not in scores]
    if absent:
        raise ValueError(f"scores has no covariate column(s) {absent}")
    reserved = {"round", "organisation", "unit", "participant", measure}
    clash = [c for c in covariates if c in reserved]
    if clash:
        raise ValueError(f"covariates may not repeat the design columns: {clash}")
    if cluster not in ("organisation", "unit"):
        raise ValueError(f"cluster must be 'organisation' or 'unit', got {cluster!r}")

    # Identifiers are coded once per distinct value: a string is built per distinct value (as
    # ``astype(str)`` spells it), never per row, and the frame holds sorted categoricals whose
    # codes are those of ``pd.factorize(labels, sort=True)`` (what the fits cluster on).
    round_codes, round_labels = _distinct_labels(scores["round"])
    in_rounds = pd.Series(round_labels).isin(rounds).to_numpy()[round_codes]
    src = scores.loc[in_rounds]
    participant = pd.to_numeric(src["participant"], errors="coerce").astype(float)
    bad = participant.notna() & ~participant.isin([0.0, 1.0])
    if bad.any():
        raise ValueError(
            f"participant must be 0, 1 or empty; found {sorted(participant[bad].unique())[:5]}"
        )
    y = pd.to_numeric(src[measure], errors="coerce").astype(float)
    org = src["organisation"]
    unit = src["unit"]
    data = pd.DataFrame(
        {"_y": y.to_numpy(), "_participant": participant.to_numpy()}, index=src.index
    )
    keep = (
        np.isfinite(data["_y"].to_numpy())
        & data["_participant"].notna().to_numpy()
        & org.notna().to_numpy()
        & unit.notna().to_numpy()
    )
    internal = []
    for i, cov in enumerate(covariates):
        name = f"_c{i}"
        col = src[cov]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            data[name] = pd.to_numeric(col, errors="coerce").astype(float).to_numpy()
        else:
            data[name] = col.astype(object).where(col.notna(), None).to_numpy(dtype=object)
        keep &= data[name].notna().to_numpy()
        internal.append(name)
    dropped = int((~keep).sum())
    if dropped:
        log.info(
            "%s(%s): dropped %d of %d rows in rounds %s with a missing %s, participant, "
            "organisation, unit%s",
            caller,
            measure,
            dropped,
            len(data),
            rounds,
            measure,
            " or covariate" if covariates else "",
        )
    data = data.loc[keep].reset_index(drop=True)
    n = len(data)
    rid_codes, rid_labels = _distinct_labels(src["round"], keep)
    org_cat = _sorted_categorical(*_distinct_labels(org, keep))
    unit_cat = _sorted_categorical(*_distinct_labels(unit, keep))
    # a unit is only identified within its organisation
    pair, first = _pairs(org_cat.codes, unit_cat.codes)
    org_names = np.asarray(org_cat.categories, dtype=object)
    unit_names = np.asarray(unit_cat.categories, dtype=object)
    pair_labels = org_names[org_cat.codes[first]] + " / " + unit_names[unit_cat.codes[first]]
    orgunit_cat = _sorted_categorical(pair, pair_labels)
    codes = {r: f"r{i}" for i, r in enumerate(rounds)}
    columns = {
        "_round_id": _sorted_categorical(rid_codes, rid_labels),
        "_org": org_cat,
        "_unit": unit_cat,
        "_orgunit": orgunit_cat,
    }
    round_of = np.array([codes.get(r) for r in rid_labels], dtype=object)
    columns["_round"] = pd.Series(round_of[rid_codes], dtype=object)
    columns["_cluster"] = org_cat if cluster == "organisation" else orgunit_cat
    # person: a linked respondent code within its organisation and unit (a person who changed
    # unit is a different person-in-unit); a row without a code is its own singleton person
    if "respondent" in src:
        resp_codes, resp_labels = _distinct_labels(src["respondent"], keep, na=True)
        # code -1 (missing) looks up the appended False: no lookup into an empty array when
        # no row has a code (a first round, or no linking at all)
        linked_label = np.append(pd.Series(resp_labels, dtype=object).str.strip() != "", False)
        linked = linked_label[np.where(resp_codes >= 0, resp_codes, len(resp_labels))]
        person_codes = np.full(n, -1)
        person, first = _pairs(orgunit_cat.codes[linked], resp_codes[linked])
        ou_names = np.asarray(orgunit_cat.categories, dtype=object)
        names = (
            ou_names[orgunit_cat.codes[linked][first]]
            + " / "
            + resp_labels[resp_codes[linked][first]]
        )
        person_codes[linked] = person
        person_codes[~linked] = len(names) + np.arange(int((~linked).sum()))
        singles = "_single " + pd.Series(np.flatnonzero(~linked)).astype("str")
        labels = pd.concat([pd.Series(names, dtype="str"), singles], ignore_index=True)
        columns["_person"] = _sorted_categorical(person_codes, labels)
    else:
        singles = "_single " + pd.Series(np.arange(n)).astype("str")
        columns["_person"] = _sorted_categorical(np.arange(n), singles)
    for name, column in columns.items():
        data[name] = column
    part = data["_participant"].to_numpy()
    counts = {}
    for r in rounds:
        in_round = np.isin(rid_codes, [i for i, label in enumerate(rid_labels) if label == r])
        for p in (0, 1):
            counts[(r, p)] = int(np.count_nonzero(in_round & (part == p)))
    return _Prepared(data=data, codes=codes, counts=counts, covariates=internal)


def _distinct_labels(
    column: pd.Series, rows: np.ndarray | None = None, *, na: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row codes into ``column``'s distinct values, and each value as ``astype(str)``
    spells it (an object array: a value's string is built once, not once per row). ``rows``: a
    boolean selection of the rows coded. ``na``: a missing value gets code -1 (else it is a
    value of its own)."""
    codes, uniques = pd.factorize(column, use_na_sentinel=na)
    first = _first_rows(codes, np.arange(len(uniques)))
    picked = column.iloc[first].to_numpy(dtype=object)
    labels = pd.Series(picked, dtype=object).astype(str).to_numpy(dtype=object)
    return (codes if rows is None else codes[rows]), labels


def _first_rows(codes: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The position of the first row of each code in ``wanted``."""
    first = np.full(int(max(codes.max(initial=-1), wanted.max(initial=-1))) + 1, -1)
    rows = np.flatnonzero(codes >= 0)[::-1]
    first[codes[rows]] = rows  # the last write wins: the first row
    return first[wanted]


def _pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the distinct (a, b) pairs of two non-negative code arrays, and each pair's
    first row."""
    key = a.astype(np.int64) * (int(b.max()) + 1 if len(b) else 1) + b
    codes, _ = pd.factorize(key)
    return codes, _first_rows(codes, np.arange(int(codes.max()) + 1 if len(codes) else 0))


def _sorted_categorical(codes: np.ndarray, labels: np.ndarray | pd.Series) -> pd.Categorical:
    """Rows' labels (``labels[codes]``) as a categorical of the used labels in sorted order:
    its codes are those of ``pd.factorize(labels[codes], sort=True)``."""
    used = np.flatnonzero(np.bincount(codes, minlength=len(labels)))
    picked = pd.Series(labels).iloc[used].astype(object).astype("str")
    inverse, names = pd.factorize(picked, sort=True)
    remap = np.full(len(labels), -1, dtype=np.int64)
    remap[used] = inverse
    return pd.Categorical.from_codes(
        remap[codes],
        categories=pd.Index(np.asarray(names, dtype=object), dtype=object),
        validate=False,
    )


def _estimable_rounds(prep: _Prepared, rounds: list[str], baseline: str, caller: str, measure: str):
    """Rounds whose both participant groups have respondents (the DiD needs all four cells)."""
    empty = [r for r in rounds if prep.counts[(r, 0)] == 0 or prep.counts[(r, 1)] == 0]
    if baseline in empty:
        warnings.warn(
            f"{caller}({measure}): the baseline {baseline} lacks participants or non-participants"
            f" (n = {prep.counts[(baseline, 1)]} / {prep.counts[(baseline, 0)]}); "
            "no model was fitted and every statistic is empty",
            ModelWarning,
            stacklevel=3,
        )
        return []
    if empty:
        warnings.warn(
            f"{caller}({measure}): round(s) {empty} lack participants or non-participants, so "
            "their round x participant cells cannot be estimated; they are left out of the "
            "model and their statistics are empty",
            ModelWarning,
            stacklevel=3,
        )
    return [r for r in rounds if r not in empty]


# --------------------------------------------------------------------------- OLS + CR1


def _cr1_constant(n: int, k: int, g: int) -> float:
    """Stata's small-sample factor of the CR1 sandwich: G/(G-1) * (N-1)/(N-K)."""
    return g / (g - 1) * (n - 1) / (n - k)


def _ols_cr1(
    x: np.ndarray, y: np.ndarray, clusters: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """OLS coefficients and their CR1 cluster-robust covariance.

    V = c (X'X)^-1 [sum_g X_g' e_g e_g' X_g] (X'X)^-1, c = G/(G-1) * (N-1)/(N-K): Stata's
    ``regress ..., vce(cluster g)`` (Cameron & Miller 2015, eq. 12). With fewer than two
    clusters the covariance is NaN.

    Returns ``(beta, cov, n_clusters)``.
    """
    codes, _ = pd.factorize(pd.Series(clusters), sort=True)
    g = int(codes.max()) + 1 if len(codes) else 0
    n, k = x.shape
    xtx_inv = np.linalg.pinv(x.T @ x)
    beta = xtx_inv @ (x.T @ y)
    if g < 2 or n <= k:
        return beta, np.full((k, k), np.nan), g
    resid = y - x @ beta
    scores = np.zeros((g, k))
    np.add.at(scores, codes, x * resid[:, None])
    meat = scores.T @ scores
    cov = _cr1_constant(n, k, g) * xtx_inv @ meat @ xtx_inv
    return beta, cov, g


def _did_design(
    data: pd.DataFrame, codes: list[str], base: str
) -> tuple[np.ndarray, dict[str, int]]:
    """Design matrix of ``y ~ C(round, Treatment(baseline)) * participant`` built by hand.

    Columns: intercept, one dummy per non-baseline round code, participant, and the round x
    participant interactions; returns the matrix and the column of each round's DiD.
    """
    rnd = data["_round"].to_numpy()
    part = data["_participant"].to_numpy(dtype=float)
    others = [c for c in codes if c != base]
    dummies = np.column_stack([(rnd == c).astype(float) for c in others])
    x = np.column_stack([np.ones(len(data)), dummies, part, dummies * part[:, None]])
    did_col = {c: 1 + len(others) + 1 + j for j, c in enumerate(others)}
    return x, did_col


# --------------------------------------------------------------------------- wild bootstrap


def _bootstrap_weights(g: int, n_boot: int, kind: Weights, rng: np.random.Generator) -> np.ndarray:
    """A G x B matrix of cluster weights: Rademacher (+-1) or Webb's six-point distribution."""
    if kind == "rademacher":
        return rng.choice(np.array([-1.0, 1.0]), size=(g, n_boot))
    if kind == "webb":
        return rng.choice(_WEBB, size=(g, n_boot))
    raise ValueError(f"weights must be 'auto', 'rademacher' or 'webb', got {kind!r}")


@dataclass(frozen=True)
class _WildTest:
    """Pieces of the restricted wild cluster bootstrap of one coefficient, for any null value.

    Under H0: beta_k = c the restricted residuals are u(c) = u0 - c v, with u0 = M_r y and
    v = M_r x_k (M_r the annihilator of X without column k). Every bootstrap quantity is linear
    in u(c), so ``num`` and ``score`` are affine in c and the bootstrap t statistics for any c
    cost O(G B) (Roodman et al. 2019, section 3).
    """

    beta: float
    se: float
    const: float  # CR1 factor
    num0: np.ndarray  # (B,)  beta*_k - c = num0 - c num1
    num1: np.ndarray
    score0: np.ndarray  # (G, B) cluster scores of beta*_k: score0 - c score1
    score1: np.ndarray

    def t_star(self, c: float) -> np.ndarray:
        num = self.num0 - c * self.num1
        score = self.score0 - c * self.score1
        var = self.const * np.einsum("gb,gb->b", score, score)
        with np.errstate(divide="ignore", invalid="ignore"):
            return num / np.sqrt(var)

    def t_obs(self, c: float) -> float:
        return (self.beta - c) / self.se

    def p_value(self, c: float = 0.0) -> float:
        """Symmetric bootstrap p-value of H0: beta_k = c: (1 + #{|t*| >= |t|}) / (B + 1).

        Counting the observed statistic as one of the draws keeps p above zero (a p of 0 would
        claim more than B draws can show); Davison & Hinkley (1997), eq. 4.11.
        """
        return float(self.count(c) / (self.num0.size + 1))

    def count(self, c: float = 0.0) -> int:
        """1 + #{b : |t*_b(c)| >= |t(c)|}: the numerator of :meth:`p_value`, an integer."""
        t_star = self.t_star(c)
        t_obs = abs(self.t_obs(c))
        return int(np.count_nonzero(np.abs(t_star) >= t_obs - 1e-12 * t_obs)) + 1

    def confint(
        self, alpha: float, *, tol: float = 1e-6, max_steps: int = 200
    ) -> tuple[float, float]:
        """CI by test inversion: the values c whose bootstrap test has p(c) >= alpha.

        Compared as integer counts, count(c) >= k_min with k_min = ceil(alpha (B + 1)), where
        alpha (B + 1) is first rounded to 9 decimals: ``1 - 0.95`` is 0.05000000000000004 in
        floating point, and comparing p(c) >= alpha as floats would wrongly reject a null value
        with exactly alpha (B + 1) exceedances."""
        k_min = _min_count(alpha, self.num0.size)
        bounds = []
        for direction in (-1.0, 1.0):
            inside = self.beta
            step = self.se
            outside = math.nan
            for _ in range(max_steps):
                trial = inside + direction * step
                if self.count(trial) < k_min:
                    outside = trial
                    break
                inside = trial
            if math.isnan(outside):
                bounds.append(math.nan)
                continue
            while abs(outside - inside) > tol * self.se:
                mid = 0.5 * (inside + outside)
                if self.count(mid) < k_min:
                    outside = mid
                else:
                    inside = mid
            bounds.append(0.5 * (inside + outside))
        return bounds[0], bounds[1]


def _min_count(alpha: float, n_boot: int) -> int:
    """The smallest count k with k / (B + 1) >= alpha, free of floating-point noise in alpha."""
    return math.ceil(round(alpha * (n_boot + 1), 9))


def _wild_test(
    x: np.ndarray, y: np.ndarray, codes: np.ndarray, k: int, weights: np.ndarray
) -> _WildTest:
    """Set up the restricted (WCR) wild cluster bootstrap of coefficient ``k``.

    ``codes`` are cluster codes 0..G-1, ``weights`` a G x B matrix. With A = (X'X)^-1 X' and
    a = A[k], the bootstrap estimate is beta*_k - c = a'(u(c) o w) and the bootstrap residuals
    are e* = M (u(c) o w); the cluster score of beta*_k is s_g = sum_{i in g} a_i e*_i.
    Writing alpha_g(u) = sum_{i in g} a_i u_i, Q_h(u) = sum_{i in h} A[:, i] u_i and
    R_g = sum_{i in g} a_i X_i, s = (diag(alpha(u)) - R Q(u)) W: G x G work per draw.
    """
    n, p = x.shape
    g = weights.shape[0]
    xtx_inv = np.linalg.pinv(x.T @ x)
    a_mat = xtx_inv @ x.T  # p x n
    beta = a_mat @ y
    resid = y - x @ beta
    a = a_mat[k]

    def by_cluster(values: np.ndarray) -> np.ndarray:
        """Sums over each cluster of the rows of ``values`` (n or n x m) -> G or G x m."""
        if values.ndim == 1:
            return np.bincount(codes, weights=values, minlength=g)
        return np.stack([by_cluster(col) for col in values.T], axis=1)

    const = _cr1_constant(n, p, g)
    score_obs = by_cluster(a * resid)
    se = math.sqrt(const * float(score_obs @ score_obs))

    x_r = np.delete(x, k, axis=1)
    proj = x_r @ np.linalg.pinv(x_r.T @ x_r)

    def annihilate(z: np.ndarray) -> np.ndarray:
        return z - proj @ (x_r.T @ z)

    u0 = annihilate(y)
    v = annihilate(x[:, k])
    # column by column: no n x p product is held (a national study's n is in the millions)
    r_mat = np.stack([by_cluster(a * x[:, j]) for j in range(p)], axis=1)  # G x p

    def pieces(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        alpha_g = by_cluster(a * u)  # G
        q = np.stack([by_cluster(a_mat[j] * u) for j in range(p)])  # p x G
        kmat = np.diag(alpha_g) - r_mat @ q  # G x G
        return alpha_g @ weights, kmat @ weights

    num0, score0 = pieces(u0)
    num1, score1 = pieces(v)
    return _WildTest(
        beta=float(beta[k]),
        se=se,
        const=const,
        num0=num0,
        num1=num1,
        score0=score0,
        score1=score1,
    )


# --------------------------------------------------------------------------- mixed model fits


@dataclass
class _Fit:
    """A fitted model reduced to what the table needs."""

    label: str
    beta: np.ndarray
    cov: np.ndarray
    model: Any  # the statsmodels model, for design matrices of new data
    var_org: float = math.nan
    var_unit: float = math.nan
    var_resid: float = math.nan
    df: float = math.inf  # reference distribution of Wald statistics: normal when inf
    var_person: float = math.nan
    levels: tuple[str, ...] = ()  # the random-intercept levels modelled, outermost first
    nested: NestedFit | None = None  # the nested REML fit (BLUPs, fitted values, residuals)


def _design_rows(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """The fixed-effects design matrix of ``frame`` under a fitted formula model's coding."""
    try:
        from statsmodels.formula._manager import FormulaManager
    except ImportError:  # statsmodels < 0.15: patsy only
        import patsy

        return np.asarray(patsy.dmatrix(model.data.design_info, frame, return_type="matrix"))
    spec = getattr(model, "model_spec", None) or model.data.model_spec
    mat = FormulaManager().get_matrices(spec, frame, pandas=True, prediction=True)
    return np.asarray(mat, dtype=float)


def _nested_levels(data: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The identifiable levels of organisation > unit > person, and notes on those left out."""
    levels, notes = ["organisation"], []
    n_org = data["_org"].nunique()
    n_units = data[["_org", "_unit"]].drop_duplicates().shape[0]
    if n_units > n_org:
        levels.append("unit")
    else:
        notes.append("no organisation has two units, unit variance not identified")
    if data["_person"].duplicated().any():
        levels.append("person")
    # no linked respondent answering twice: no person level (the usual repeated cross-section,
    # so not a warning; the model id says which levels were modelled)
    return levels, notes


def _fit_nested_chain(data: pd.DataFrame, formula: str, measure: str) -> _Fit:
    """The model of record: nested REML random intercepts organisation > unit > person.

    Levels that the data cannot identify (one unit per organisation; nobody linked) are left
    out and named in the label; a variance estimated as zero stays in the model at zero (lme4's
    singular fit: the REML estimate on the boundary, announced). A fit that does not converge
    from three starting points, or a single organisation, falls back to OLS with CR1 SEs.
    Fixed-effect intervals use t with G - 1 df (G organisations).
    """
    # The design row depends only on round, participation and covariates: build it (formula
    # API) for their distinct combinations and index it per row (a formula over 400k rows costs
    # seconds).
    keys = ["_round", "_participant"] + [
        c for c in data.columns if c[:2] == "_c" and c[2:].isdigit()
    ]
    combo = data.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
    first = np.unique(combo, return_index=True)[1]
    design = smf.ols(formula, data.iloc[first].reset_index(drop=True))
    x = np.asarray(design.exog, dtype=float)[combo]
    y = data["_y"].to_numpy(float)
    n_org = int(data["_org"].nunique())
    notes: list[str] = []
    if n_org >= 2:
        levels, notes = _nested_levels(data)
        label = "_".join([LMM_PREFIX] + [LEVEL_IDS[lv] for lv in levels])
        cols = {"organisation": "_org", "unit": "_orgunit", "person": "_person"}
        groups = [(lv, data[cols[lv]].array) for lv in levels]
        fit = None
        failures: list[str] = []  # a retry that then converges is only logged
        for start in (None, [0.1] * len(levels), [2.0] * len(levels)):
            try:
                trial = fit_nested(x, y, groups, reml=True, start=start)
            except (np.linalg.LinAlgError, ValueError) as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
                break
            if trial.converged:
                fit = trial
                break
            failures.append(f"did not converge from relative SDs {start or 0.5}")
            log.info("lmm_table(%s): %s %s", measure, label, failures[-1])
        if fit is None:
            notes.append(f"{label} failed ({'; '.join(failures)})")
        else:
            if fit.singular:
                what = " and ".join(fit.singular)
                notes.append(
                    f"singular fit: the {what} variance estimated as zero (boundary), kept at zero"
                )
            if notes:
                warnings.warn(
                    f"lmm_table({measure}): {'; '.join(notes)}; using {label}",
                    ModelWarning,
                    stacklevel=3,
                )
            v = fit.variances
            return _Fit(
                label=label,
                beta=fit.beta,
                cov=fit.cov,
                model=design,
                var_org=v["organisation"],
                var_unit=v.get("unit", math.nan),
                var_resid=v["residual"],
                var_person=v.get("person", math.nan),
                df=float(n_org - 1),
                levels=tuple(levels),
                nested=fit,
            )
    else:
        notes.append(f"only {n_org} organisation: no between-organisation variance to model")
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    _, cov, g = _ols_cr1(x, y, data["_org"].to_numpy())
    reason = (
        "; standard errors need at least two organisations, so CI and p are empty"
        if g < 2
        else "; CR1 standard errors clustered by organisation, t reference with G-1 df; no ICC"
    )
    warnings.warn(
        f"lmm_table({measure}): {'; '.join(notes)}; using {OLS_CLUSTER}{reason}",
        ModelWarning,
        stacklevel=3,
    )
    return _Fit(label=OLS_CLUSTER, beta=beta, cov=cov, model=design, df=max(g - 1, 1))


def _fit_of_record(
    scores: pd.DataFrame,
    measure: str,
    rounds: list[str],
    baseline: str,
    covariates: Sequence[str],
) -> tuple[_Prepared, pd.DataFrame, list[str], _Fit | None]:
    """The analysed rows and the fit of the model of record (None: no round to compare)."""
    prep = _prepare(
        scores, measure=measure, rounds=rounds, baseline=baseline, covariates=covariates
    )
    estimable = _estimable_rounds(prep, rounds, baseline, "lmm_table", measure)
    data = prep.data[prep.data["_round_id"].isin(estimable)].reset_index(drop=True)
    if not estimable:
        return prep, data, estimable, None
    ref = prep.codes[baseline]
    formula = f"_y ~ C(_round, Treatment('{ref}')) * _participant"
    if prep.covariates:
        formula += " + " + " + ".join(prep.covariates)
    return prep, data, estimable, _fit_nested_chain(data, formula, measure)


def model_of_record(
    scores: pd.DataFrame,
    *,
    measure: str,
    rounds: Sequence[str],
    baseline: str,
    covariates: Sequence[str] = (),
    ci: float = 0.95,
    min_n: int = 5,
) -> NestedFit | None:
    """The fitted mixed model behind :func:`lmm_table`'s rows for one measure (its fixed
    effects, variance components, BLUPs, fitted values and residuals), for diagnostics; None
    when it fell back to OLS or no round can be compared. Takes ``lmm_table``'s options
    (``min_n`` is not used)."""
    rounds = _check_args(scores, measure, rounds, baseline, ci)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)  # lmm_table announces them
        *_, fit = _fit_of_record(scores, measure, rounds, str(baseline), covariates)
    return None if fit is None else fit.nested


def did_is_primary_for_mixed(n_organisations: int) -> bool:
    """Whether the mixed model's DiD is the primary one (``analysis`` column).

    With 2 <= G < :data:`FEW_CLUSTERS` organisations the wild cluster bootstrap row of
    :func:`cluster_robust_check` is primary (Cameron, Gelbach & Miller 2008); otherwise (30 or
    more, or fewer than two organisations, where no bootstrap is run) the mixed model's."""
    return not 2 <= n_organisations < FEW_CLUSTERS


# --------------------------------------------------------------------------- public functions


def tidy(result: Any, *, ci: float = 0.95) -> pd.DataFrame:
    """One row per fixed-effect coefficient of a fitted statsmodels result.

    Columns ``term, estimate, std_error, statistic, p, ci_low, ci_high``. The statistic is
    estimate / std_error, referred to the normal distribution for ``MixedLM`` (as statsmodels and
    lme4 do) and to the result's own t or normal reference otherwise.

    Parameters
    ----------
    result : statsmodels results object
        A fitted ``MixedLMResults`` or regression results.
    ci : float
        Confidence level of the interval.

    Returns
    -------
    DataFrame
        One row per coefficient, columns ``TIDY_COLUMNS``.

    Examples
    --------
    >>> import statsmodels.formula.api as smf
    >>> d = pd.DataFrame({"x": [1, 2, 3, 4, 5, 6], "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]})
    >>> print(tidy(smf.ols("y ~ x", d).fit()).round(3).to_string(index=False))
         term  estimate  std_error  statistic     p  ci_low  ci_high
    Intercept     0.053      0.126      0.425 0.693  -0.295    0.402
            x     0.994      0.032     30.840 0.000   0.905    1.084
    """
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    if hasattr(result, "fe_params"):
        names = list(result.fe_params.index)
        est = np.asarray(result.fe_params, dtype=float)
        se = np.asarray(result.bse_fe, dtype=float)
        df = math.inf
    else:
        names = list(result.model.exog_names)
        est = np.asarray(result.params, dtype=float)
        se = np.asarray(result.bse, dtype=float)
        df = float(result.df_resid) if getattr(result, "use_t", False) else math.inf
    ref = stats.norm if math.isinf(df) else stats.t(df)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = est / se
    q = ref.ppf(0.5 + ci / 2)
    return pd.DataFrame(
        {
            "term": names,
            "estimate": est,
            "std_error": se,
            "statistic": stat,
            "p": 2 * ref.sf(np.abs(stat)),
            "ci_low": est - q * se,
            "ci_high": est + q * se,
        },
        columns=TIDY_COLUMNS,
    )


def _wald(est: float, se: float, ci: float, df: float) -> tuple[float, float, float]:
    """(ci_low, ci_high, p) of a Wald statistic est/se, normal (df = inf) or t reference."""
    if not (math.isfinite(est) and math.isfinite(se) and se > 0):
        return math.nan, math.nan, math.nan
    ref = stats.norm if math.isinf(df) else stats.t(df)
    q = float(ref.ppf(0.5 + ci / 2))
    return est - q * se, est + q * se, float(2 * ref.sf(abs(est / se)))


def _row(measure: str, term: str, **values: Any) -> dict[str, Any]:
    row = dict.fromkeys(LMM_COLUMNS, math.nan)
    row.update(measure=measure, term=term, round=None, participant=pd.NA, level=None)
    row.update(population=POPULATION, analysis=None)
    row.update(values)
    return row


def _finish(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows -> frame with the lmm.csv columns; suppressed rows keep only identifying values."""
    out = pd.DataFrame(rows, columns=LMM_COLUMNS)
    out["suppressed"] = out["suppressed"].fillna(False).astype(bool)
    stat_cols = ["estimate", "ci_low", "ci_high", "p", "n"]
    out.loc[out["suppressed"], stat_cols] = np.nan
    for col in ("estimate", "ci_low", "ci_high", "p"):
        out[col] = out[col].astype(float)
    for col in ("participant", "n", "n_clusters"):
        out[col] = pd.array(
            [pd.NA if v is None or pd.isna(v) else int(v) for v in out[col]], dtype="Int64"
        )
    for col in ("round", "level", "model", "population", "analysis"):
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def empty_lmm_table() -> pd.DataFrame:
    """``lmm.csv`` with no rows (a study with no round to compare with the baseline yet)."""
    return _finish([])


def lmm_table(
    scores: pd.DataFrame,
    *,
    measure: str,
    rounds: Sequence[str],
    baseline: str,
    covariates: Sequence[str] = (),
    min_n: int = 5,
    ci: float = 0.95,
) -> pd.DataFrame:
    """The ``lmm.csv`` rows of one measure: model means, DiD per round, ICCs.

    Model (REML, :func:`evaluation.analyse.quant.nested.fit_nested`)::

        measure ~ C(round, Treatment(baseline)) * participant [+ covariates]
        + (1 | organisation) + (1 | organisation:unit) + (1 | organisation:unit:person)

    i.e. y = X b + o_org + u_unit(org) + q_person(unit) + e. A person is a ``respondent`` code
    within its organisation and unit (a person who changed unit is a different person-in-unit;
    a row without a code is its own singleton person). Levels the data do not identify are left
    out (no linked code answers twice: no person level; no organisation with two units: no unit
    level, with a warning); ``model`` = ``lmm_reml_`` + the levels modelled, e.g.
    ``lmm_reml_org_unit_person``. Means and DiDs use t with G - 1 df (G organisations); ICC rows
    for ``organisation``, ``unit`` and ``person`` (the same person's answers in two rounds:
    (s2_org + s2_unit + s2_person) / total). ``population`` = ``all``; ``analysis`` =
    ``primary``, except the DiD rows with 2 <= G < 30 organisations (``sensitivity``: the wild
    cluster bootstrap of :func:`cluster_robust_check` is primary). Rows with a missing measure,
    participant, organisation, unit or covariate are dropped (logged).

    Rows (``term``):

    ``mean``  one per round x participant (0, 1): the fixed-effects (marginal over the random
        effects) mean mu = L b, with L the average design row of the analysed respondents when
        their round and participation are set to the cell's (without covariates: the cell's
        design row; with covariates: standardised to the analysed sample's covariate mix).
        CI mu +- t_{G-1} sqrt(L V L'), V the fixed-effects covariance; ``p`` empty; ``n`` =
        respondents in the cell.
    ``did``   one per non-baseline round r: (mu_r1 - mu_b1) - (mu_r0 - mu_b0), the round x
        participant interaction, with a t (G - 1 df) CI and p; ``participant`` empty; ``n`` =
        respondents in the four cells.
    ``icc``   one row per level modelled, told apart by ``level`` (``round`` and
        ``participant`` empty, CI empty), each the correlation of two answers that share the
        level and everything above it (Snijders & Bosker 2012): ``organisation`` s2_org / total
        (same organisation, different units), ``unit`` (s2_org + s2_unit) / total (same unit,
        different people), ``person`` (s2_org + s2_unit + s2_person) / total (the same person
        in two rounds); total = s2_org + s2_unit + s2_person + s2_resid. Conditional on the
        fixed effects. ``n`` = respondents, ``n_clusters`` = organisations or units.

    ``n_clusters`` is the number of organisations in the model (units for the unit ICC).
    A variance estimated as zero stays in the model at zero (lme4's singular fit), announced
    with a :class:`ModelWarning`. A fit that does not converge from three starting points, or a
    single organisation, falls back to ``ols_cluster_robust``: OLS with CR1 SEs clustered by
    organisation, t with G - 1 df, ICCs empty (with a single organisation only the estimates).

    Disclosure control: a ``mean`` row whose cell has fewer than ``min_n`` respondents, and a
    ``did`` row any of whose four cells has, is ``suppressed`` with every statistic (including
    ``n``) empty. A round where a participant group has no respondents at all cannot be
    estimated: it is left out of the model and its rows are empty (with a warning).

    Parameters
    ----------
    scores : DataFrame
        One row per respondent per round: ``round, organisation, unit, participant`` and the
        measure column (plus any covariates). Not modified.
    measure : str
        The measure column, e.g. ``"qwl"``.
    rounds : sequence of str
        Rounds to model, in time order; must contain ``baseline``.
    baseline : str
        The reference round.
    covariates : sequence of str
        Extra fixed effects; numeric columns enter linearly, others as categorical.
    min_n : int
        Disclosure threshold for a cell.
    ci : float
        Confidence level.

    Returns
    -------
    DataFrame
        Columns ``measure, term, round, participant, estimate, ci_low, ci_high, p, n,
        n_clusters, model, level, suppressed``.

    References
    ----------
    Bates, D., Maechler, M., Bolker, B., & Walker, S. (2015). Fitting linear mixed-effects
    models using lme4. *Journal of Statistical Software*, 67(1).
    Snijders, T. A. B., & Bosker, R. J. (2012). *Multilevel Analysis* (2nd ed.). Sage.
    Searle, S. R., Speed, F. M., & Milliken, G. A. (1980). Population marginal means in the
    linear model. *The American Statistician*, 34(4), 216-221.

    Usage (the whole demo fit takes seconds, so it is shown, not run as a doctest; the
    estimates are tested against lme4 in ``tests/test_longitudinal.py``)::

        lmm_table(s.scores, measure="qwl", **s.options.lmm)
    """
    rounds = _check_args(scores, measure, rounds, baseline, ci)
    baseline = str(baseline)
    prep, data, estimable, fit = _fit_of_record(scores, measure, rounds, baseline, covariates)
    counts = prep.counts

    n_org = int(data["_org"].nunique())
    n_units = int(data[["_org", "_unit"]].drop_duplicates().shape[0])
    label = fit.label if fit is not None else None

    # Contrast vectors: average design row of the analysed respondents set to each cell.
    contrasts: dict[tuple[str, int], np.ndarray] = {}
    if fit is not None:
        if prep.covariates:
            mix = data.groupby(prep.covariates, dropna=False).size().reset_index(name="_w")
        else:
            mix = pd.DataFrame({"_w": [1]})
        weights = mix["_w"].to_numpy(float) / mix["_w"].sum()
        for r in estimable:
            for p in (0, 1):
                frame = mix.drop(columns="_w").assign(
                    _round=prep.codes[r], _participant=float(p), _y=0.0
                )
                contrasts[(r, p)] = weights @ _design_rows(fit.model, frame)

    def estimate(vec: np.ndarray | None) -> tuple[float, float, float, float]:
        if fit is None or vec is None:
            return (math.nan,) * 4
        est = float(vec @ fit.beta)
        var = float(vec @ fit.cov @ vec)
        se = math.sqrt(var) if var > 0 else math.nan
        lo, hi, p = _wald(est, se, ci, fit.df)
        return est, lo, hi, p

    rows = []
    for r in rounds:
        for p in (0, 1):
            est, lo, hi, _ = estimate(contrasts.get((r, p)))
            n = counts[(r, p)]
            rows.append(
                _row(
                    measure,
                    "mean",
                    round=r,
                    participant=p,
                    estimate=est,
                    ci_low=lo,
                    ci_high=hi,
                    p=math.nan,
                    n=n,
                    n_clusters=n_org,
                    model=label,
                    suppressed=n < min_n,
                    analysis="primary",
                )
            )
    did_analysis = "primary" if did_is_primary_for_mixed(n_org) else "sensitivity"
    cb0, cb1 = contrasts.get((baseline, 0)), contrasts.get((baseline, 1))
    for r in rounds:
        if r == baseline:
            continue
        cells = [counts[(r, 0)], counts[(r, 1)], counts[(baseline, 0)], counts[(baseline, 1)]]
        vec = None
        if (r, 0) in contrasts and cb0 is not None and cb1 is not None:
            vec = (contrasts[(r, 1)] - cb1) - (contrasts[(r, 0)] - cb0)
        est, lo, hi, pv = estimate(vec)
        rows.append(
            _row(
                measure,
                "did",
                round=r,
                estimate=est,
                ci_low=lo,
                ci_high=hi,
                p=pv,
                n=sum(cells),
                n_clusters=n_org,
                model=label,
                suppressed=min(cells) < min_n,
                analysis=did_analysis,
            )
        )

    icc: dict[str, float] = dict.fromkeys(("organisation", "unit", "person"), math.nan)
    if fit is not None and fit.nested is not None:
        var = {"organisation": fit.var_org, "unit": fit.var_unit, "person": fit.var_person}
        total = fit.var_resid + sum(var[lv] for lv in fit.levels)
        cumulative = 0.0
        for lv in ("organisation", "unit", "person"):
            if lv in fit.levels:
                cumulative += var[lv]
                icc[lv] = cumulative / total
    n_all = len(data)
    n_people = int(data["_person"].nunique())
    for level, clusters in (("organisation", n_org), ("unit", n_units), ("person", n_people)):
        rows.append(
            _row(
                measure,
                "icc",
                level=level,
                estimate=icc[level],
                n=n_all,
                n_clusters=clusters,
                model=label,
                suppressed=n_all < min_n,
                analysis="primary",
            )
        )
    return _finish(rows)


def cluster_robust_check(
    scores: pd.DataFrame,
    *,
    measure: str,
    rounds: Sequence[str],
    baseline: str,
    cluster: Literal["organisation", "unit"] = "organisation",
    n_boot: int = 999,
    seed: int,
    ci: float = 0.95,
    weights: Weights = "auto",
    min_n: int = 5,
) -> pd.DataFrame:
    """DiD by OLS with cluster-robust inference, as a check on the mixed model.

    OLS of ``measure ~ C(round, Treatment(baseline)) * participant``; the DiD of round r is its
    round x participant coefficient. Two kinds of rows (``term = did``), in the ``lmm.csv``
    shape so they can be appended to it:

    ``model = ols_cr1``: CR1 standard errors clustered by ``cluster``,
        V = G/(G-1) (N-1)/(N-K) (X'X)^-1 [sum_g X_g' e_g e_g' X_g] (X'X)^-1 (Stata's
        ``vce(cluster)``); CI and p from t with G - 1 df.
    ``model = ols_wild_cluster_bootstrap`` (only with fewer than 30 clusters, where CR1 t tests
        over-reject): the restricted wild cluster bootstrap (WCR; Cameron, Gelbach & Miller
        2008) with the null imposed. For each draw b, y* = X_r g_r + u_r * w_gb (cluster
        weights w: Rademacher, or Webb's six-point +-sqrt(1/2), +-1, +-sqrt(3/2), recommended
        below 12 clusters), then t*_b = beta*_k / se*_CR1. The p-value is symmetric,
        p = (1 + #{|t*_b| >= |t|}) / (B + 1), never 0 (Davison & Hinkley 1997). The CI is the set of
        null values the same bootstrap test does not reject, {c : p(c) >= 1 - ci}, found by
        bisection (Roodman et al. 2019: boottest's interval). It is a percentile-t interval built
        from the restricted bootstrap t distribution re-computed under each null value, rather than
        the single t* distribution under beta_k = 0 (which belongs to that null only), and it agrees
        with the p-value (p < 1 - ci when 0 lies outside it, p(c) being unimodal in practice). The
        same weights serve every null value and every round (seeded: same seed, same numbers).
        Everything is computed at the cluster level, O(G^2 B) per null value.

    ``n`` = respondents in the four cells; a DiD with a cell below ``min_n`` is suppressed.

    Parameters
    ----------
    scores : DataFrame
        As for :func:`lmm_table`. Not modified.
    measure, rounds, baseline : see :func:`lmm_table`.
    cluster : {"organisation", "unit"}
        Clustering level (a unit is identified within its organisation).
    n_boot : int
        Bootstrap draws B.
    seed : int
        Seed of the bootstrap weights.
    ci : float
        Confidence level.
    weights : {"auto", "rademacher", "webb"}
        Bootstrap weight distribution; ``auto`` = Webb below 12 clusters, else Rademacher.
    min_n : int
        Disclosure threshold for a cell.

    Returns
    -------
    DataFrame
        Columns as :data:`LMM_COLUMNS`; ``level`` holds the clustering level.

    References
    ----------
    Cameron, A. C., Gelbach, J. B., & Miller, D. L. (2008). Bootstrap-based improvements for
    inference with clustered errors. *Review of Economics and Statistics*, 90(3), 414-427.
    Webb, M. D. (2014). Reworking wild bootstrap based inference for clustered errors. Queen's
    Economics Department Working Paper 1315.
    MacKinnon, J. G., & Webb, M. D. (2017). Wild bootstrap inference for wildly different
    cluster sizes. *Journal of Applied Econometrics*, 32(2), 233-254.
    Roodman, D., MacKinnon, J. G., Nielsen, M. O., & Webb, M. D. (2019). Fast and wild:
    Bootstrap inference in Stata using boottest. *The Stata Journal*, 19(1), 4-60.
    """
    rounds = _check_args(scores, measure, rounds, baseline, ci)
    baseline = str(baseline)
    if n_boot < 1:
        raise ValueError(f"n_boot must be positive, got {n_boot}")
    if weights not in ("auto", "rademacher", "webb"):
        raise ValueError(f"weights must be 'auto', 'rademacher' or 'webb', got {weights!r}")
    prep = _prepare(
        scores,
        measure=measure,
        rounds=rounds,
        baseline=baseline,
        cluster=cluster,
        caller="cluster_robust_check",
    )
    counts = prep.counts
    estimable = _estimable_rounds(prep, rounds, baseline, "cluster_robust_check", measure)
    data = prep.data[prep.data["_round_id"].isin(estimable)].reset_index(drop=True)
    cluster_codes, _ = _codes(data["_cluster"].array)
    g = int(cluster_codes.max()) + 1 if len(cluster_codes) else 0
    alpha = 1 - ci

    results: dict[str, dict[str, tuple[float, float, float, float]]] = {OLS_CR1: {}, WILD: {}}
    do_wild = False
    kind: Weights = weights
    if estimable:
        codes = [prep.codes[r] for r in estimable]
        x, did_col = _did_design(data, codes, prep.codes[baseline])
        y = data["_y"].to_numpy(float)
        beta, cov, g = _ols_cr1(x, y, cluster_codes)
        if g < 2:
            warnings.warn(
                f"cluster_robust_check({measure}): only {g} {cluster}: cluster-robust standard "
                "errors need at least two clusters; CI and p are empty",
                ModelWarning,
                stacklevel=2,
            )
        do_wild = 2 <= g < FEW_CLUSTERS
        if do_wild:
            if kind == "auto":
                kind = "webb" if g < WEBB_BELOW else "rademacher"
            rng = np.random.default_rng(seed)
            w = _bootstrap_weights(g, n_boot, kind, rng)
            log.info(
                "cluster_robust_check(%s): wild cluster bootstrap, %d clusters, %d draws, %s "
                "weights, seed %s",
                measure,
                g,
                n_boot,
                kind,
                seed,
            )
        for r, code in zip(estimable, codes, strict=True):
            if r == baseline:
                continue
            k = did_col[code]
            est = float(beta[k])
            se = math.sqrt(cov[k, k]) if np.isfinite(cov[k, k]) and cov[k, k] > 0 else math.nan
            lo, hi, p = _wald(est, se, ci, max(g - 1, 1))
            results[OLS_CR1][r] = (est, lo, hi, p)
            if do_wild:
                test = _wild_test(x, y, cluster_codes, k, w)
                lo_b, hi_b = test.confint(alpha)
                results[WILD][r] = (est, lo_b, hi_b, test.p_value(0.0))

    rows = []
    labels = [OLS_CR1] + ([WILD] if do_wild or not estimable else [])
    for label in labels:
        for r in rounds:
            if r == baseline:
                continue
            cells = [counts[(r, 0)], counts[(r, 1)], counts[(baseline, 0)], counts[(baseline, 1)]]
            est, lo, hi, p = results[label].get(r, (math.nan,) * 4)
            rows.append(
                _row(
                    measure,
                    "did",
                    round=r,
                    estimate=est,
                    ci_low=lo,
                    ci_high=hi,
                    p=p,
                    n=sum(cells),
                    n_clusters=g,
                    model=label,
                    level=cluster,
                    suppressed=min(cells) < min_n,
                    analysis=(
                        "primary"
                        if label == WILD and do_wild and cluster == "organisation"
                        else "sensitivity"
                    ),
                )
            )
    return _finish(rows)


def icc_oneway(
    scores: pd.DataFrame,
    *,
    measure: str,
    cluster: Literal["organisation", "unit"] = "organisation",
    ci: float = 0.95,
) -> pd.DataFrame:
    """One-way ANOVA intraclass correlation ICC(1) of one clustering level (model-free check).

    ICC(1) = (MSB - MSW) / (MSB + (n0 - 1) MSW), with n0 = (N - sum n_g^2 / N) / (G - 1) the
    average cluster size adjusted for unequal sizes. CI from F = MSB / MSW with (G - 1, N - G)
    df: F_L = F / F_{1-a/2}, F_U = F * F_{1-a/2}(N - G, G - 1), bounds (F_x - 1) / (F_x + n0 - 1)
    (exact for equal cluster sizes, approximate otherwise). Can be negative.

    Parameters
    ----------
    scores : DataFrame
        Needs ``organisation`` (and ``unit`` for ``cluster="unit"``) and the measure.
    measure : str
        The measure column; missing values are dropped.
    cluster : {"organisation", "unit"}
        The clustering level (a unit is identified within its organisation).
    ci : float
        Confidence level.

    Returns
    -------
    DataFrame
        One row, columns ``ICC_COLUMNS``: ``measure, level, icc, ci_low, ci_high, n,
        n_clusters, n0``.

    Examples
    --------
    >>> s = pd.DataFrame({"organisation": list("AAABBBCCC"),
    ...                   "qwl": [3.0, 3.2, 3.1, 4.0, 4.2, 3.9, 3.5, 3.4, 3.7]})
    >>> print(icc_oneway(s, measure="qwl").round(3).to_string(index=False))
    measure        level   icc  ci_low  ci_high  n  n_clusters  n0
        qwl organisation 0.918   0.557    0.998  9           3 3.0

    References
    ----------
    Shrout, P. E., & Fleiss, J. L. (1979). Intraclass correlations: Uses in assessing rater
    reliability. *Psychological Bulletin*, 86(2), 420-428.
    Donner, A. (1986). A review of inference procedures for the intraclass correlation
    coefficient in the one-way random effects model. *International Statistical Review*, 54,
    67-82.
    """
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    if cluster not in ("organisation", "unit"):
        raise ValueError(f"cluster must be 'organisation' or 'unit', got {cluster!r}")
    need = ["organisation", measure] + (["unit"] if cluster == "unit" else [])
    missing = [c for c in need if c not in scores]
    if missing:
        raise ValueError(f"scores has no column(s) {missing}")
    y = pd.to_numeric(scores[measure], errors="coerce").astype(float)
    key = scores["organisation"].astype(str)
    ok = y.notna() & scores["organisation"].notna()
    if cluster == "unit":
        key = key + " / " + scores["unit"].astype(str)
        ok &= scores["unit"].notna()
    y, key = y[ok].to_numpy(), key[ok].to_numpy()
    codes, _ = pd.factorize(pd.Series(key), sort=True)
    n, g = len(y), (int(codes.max()) + 1 if len(codes) else 0)
    out = {"measure": measure, "level": cluster, "icc": math.nan, "ci_low": math.nan}
    out.update(ci_high=math.nan, n=n, n_clusters=g, n0=math.nan)
    if g >= 2 and n > g:
        sizes = np.bincount(codes).astype(float)
        means = np.bincount(codes, weights=y) / sizes
        grand = y.mean()
        msb = float(np.sum(sizes * (means - grand) ** 2) / (g - 1))
        msw = float(np.sum((y - means[codes]) ** 2) / (n - g))
        n0 = (n - np.sum(sizes**2) / n) / (g - 1)
        out["n0"] = n0
        if msw > 0:
            out["icc"] = (msb - msw) / (msb + (n0 - 1) * msw)
            f = msb / msw
            f_l = f / stats.f.ppf(0.5 + ci / 2, g - 1, n - g)
            f_u = f * stats.f.ppf(0.5 + ci / 2, n - g, g - 1)
            out["ci_low"] = (f_l - 1) / (f_l + n0 - 1)
            out["ci_high"] = (f_u - 1) / (f_u + n0 - 1)
    return pd.DataFrame([out], columns=ICC_COLUMNS)
