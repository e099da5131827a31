"""Random-effects meta-analysis of per-organisation effects (``meta.csv``).

Each organisation is treated as a "study": its effect is Hedges' g of a round versus the
baseline over all its respondents (independent samples, round minus baseline), and the
organisations' effects are pooled with an inverse-variance random-effects model. The same table
can be built from individual scores (:func:`meta_table`) or from unit-level aggregates delivered
by a survey vendor (:func:`meta_from_summaries`); both go through one shared core, so they give
the same numbers when the aggregates come from the same answers.

References
----------
Borenstein, M., Hedges, L. V., Higgins, J. P. T., & Rothstein, H. R. (2009). *Introduction to
Meta-Analysis*. Wiley. (Ch. 4 effect sizes, ch. 12 random-effects model, ch. 16 I^2.)
DerSimonian, R., & Laird, N. (1986). Meta-analysis in clinical trials. *Controlled Clinical
Trials*, 7, 177-188.
Paule, R. C., & Mandel, J. (1982). Consensus values and weighting factors. *Journal of Research
of the National Bureau of Standards*, 87, 377-385.
Viechtbauer, W. (2005). Bias and efficiency of meta-analytic variance estimators in the
random-effects model. *Journal of Educational and Behavioral Statistics*, 30, 261-293.
Higgins, J. P. T., & Thompson, S. G. (2002). Quantifying heterogeneity in a meta-analysis.
*Statistics in Medicine*, 21, 1539-1558.
Hartung, J., & Knapp, G. (2001). A refined method for the meta-analysis of controlled clinical
trials with binary outcome. *Statistics in Medicine*, 20, 3875-3889.
Sidik, K., & Jonkman, J. N. (2002). A simple confidence interval for meta-analysis.
*Statistics in Medicine*, 21, 3153-3159.
Higgins, J. P. T., Thompson, S. G., & Spiegelhalter, D. J. (2009). A re-evaluation of
random-effects meta-analysis. *Journal of the Royal Statistical Society A*, 172, 137-159.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats
from statsmodels.stats.meta_analysis import combine_effects

from evaluation.analyse.quant.effects import _g_and_variance, _welch_and_g

log = logging.getLogger(__name__)

Method = Literal["dl", "pm", "reml"]
METHODS: tuple[str, ...] = ("dl", "pm", "reml")
Test = Literal["knha", "z"]
TESTS: tuple[str, ...] = ("knha", "z")

META_COLUMNS = [
    "measure",
    "round",
    "row_type",
    "organisation",
    "n",
    "effect_size_type",
    "effect_size",
    "variance",
    "ci_low",
    "ci_high",
    "weight",
    "tau2",
    "i2",
    "q",
    "p_q",
    "method",
    "k",
    "note",
    "suppressed",
    "pi_low",
    "pi_high",
    "ci_method",
    "df",
]

POOLED_COLUMNS = [
    "method",
    "k",
    "effect_size",
    "se",
    "variance",
    "ci_low",
    "ci_high",
    "z",
    "p",
    "tau2",
    "i2",
    "q",
    "df_q",
    "p_q",
    "ci_method",
    "df",
    "pi_low",
    "pi_high",
]


# --------------------------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pooled:
    method: str
    k: int
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    z: float
    p: float
    tau2: float
    i2: float
    q: float
    p_q: float
    weights: np.ndarray  # random-effects weights, percent, in input order
    test: str  # "z" or "knha": the reference distribution of the CI, test and PI
    df: float  # k - 1 under "knha", NaN under "z"
    pi_low: float
    pi_high: float


def _tau2_reml(y: np.ndarray, v: np.ndarray) -> float:
    """REML estimate of tau^2 for the intercept-only random-effects model.

    Maximises the restricted log-likelihood
    ``l_R(t) = -1/2 [sum log(v_i + t) + log(sum w_i) + sum w_i (y_i - mu_w)^2]``,
    ``w_i = 1 / (v_i + t)``, over ``t >= 0``. Any stationary point satisfies
    ``t = sum w^2 ((y - mu)^2 - v) / sum w^2 + 1 / sum w`` (Viechtbauer 2005), hence
    ``t <= 2 * range(y)^2 + max(v)`` for k >= 2, and ``l_R -> -inf`` as ``t -> inf``; so the
    global maximum lies in ``[0, U]`` with that bound ``U``. A grid over ``[0, U]`` finds it,
    and Brent's root finder polishes the score equation
    ``sum w^2 (y - mu)^2 - sum w + sum w^2 / sum w = 0`` around it.
    """

    def parts(t: float) -> tuple[np.ndarray, float]:
        w = 1.0 / (v + t)
        mu = float(np.sum(w * y) / np.sum(w))
        return w, mu

    def neg_loglik(t: float) -> float:
        w, mu = parts(t)
        return 0.5 * float(np.sum(np.log(v + t)) + np.log(np.sum(w)) + np.sum(w * (y - mu) ** 2))

    def score(t: float) -> float:
        w, mu = parts(t)
        sw = np.sum(w)
        return float(np.sum(w**2 * (y - mu) ** 2) - sw + np.sum(w**2) / sw)

    upper = 2.0 * float(np.ptp(y)) ** 2 + float(np.max(v))
    grid = np.concatenate([[0.0], np.geomspace(upper * 1e-12, upper, 400)])
    w = 1.0 / (v[None, :] + grid[:, None])  # grid x studies
    sw = w.sum(axis=1)
    mu = (w * y).sum(axis=1) / sw
    values = 0.5 * (
        -np.log(w).sum(axis=1) + np.log(sw) + (w * (y[None, :] - mu[:, None]) ** 2).sum(axis=1)
    )
    i = int(np.argmin(values))
    if i == 0:
        return 0.0
    lo, hi = grid[i - 1], grid[min(i + 1, len(grid) - 1)]
    if score(lo) > 0 > score(hi):
        return float(optimize.brentq(score, lo, hi, xtol=1e-15, rtol=1e-14, maxiter=500))
    res = optimize.minimize_scalar(
        neg_loglik, bounds=(lo, hi), method="bounded", options={"xatol": 1e-14}
    )
    return float(res.x)


def _tau2_pm(y: np.ndarray, v: np.ndarray) -> float:
    """Paule-Mandel estimate of tau^2: the root of ``Q(t) = k - 1``.

    ``Q(t) = sum w_i (y_i - mu_w)^2`` with ``w_i = 1 / (v_i + t)`` decreases in ``t``, so the
    root is unique; ``Q(0) <= k - 1`` gives 0. Since ``Q(t) <= sum (y - ybar)^2 / (t + min v)``,
    the root is below ``sum (y - ybar)^2 / (k - 1)``, which brackets it for Brent's method.

    statsmodels' iteration (``combine_effects(method_re="pm")``) is not used: with a tight
    tolerance its Newton steps can overshoot by rounding to a negative estimating equation,
    which it reports as ``tau^2 = 0`` (seen with statsmodels 0.15); with its default
    tolerance it agrees with this root to about 1e-5 (checked in the tests).
    """
    k = len(y)

    def excess(t: float) -> float:
        w = 1.0 / (v + t)
        mu = np.sum(w * y) / np.sum(w)
        return float(np.sum(w * (y - mu) ** 2) - (k - 1))

    if excess(0.0) <= 0:
        return 0.0
    upper = float(np.sum((y - y.mean()) ** 2) / (k - 1))
    while excess(upper) > 0:  # guards rounding only; the bound above holds
        upper *= 2.0
    return float(optimize.brentq(excess, 0.0, upper, xtol=1e-15, rtol=1e-14, maxiter=500))


def _pool(y: np.ndarray, v: np.ndarray, *, method: str, ci: float, test: str = "z") -> _Pooled:
    k = len(y)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, not {test!r}")
    if k < 2:
        raise ValueError(f"pooling needs at least 2 effects, got {k}")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(v)) and np.all(v > 0)):
        raise ValueError("effects must be finite and variances finite and positive")
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    alpha = 1 - ci
    # statsmodels supplies Q and the DerSimonian-Laird tau^2; PM and REML are solved here.
    with warnings.catch_warnings():
        # a negative DL moment estimate makes statsmodels take sqrt of negative HKSJ
        # variances we do not use
        warnings.simplefilter("ignore", RuntimeWarning)
        res = combine_effects(y, v, method_re="dl", alpha=alpha)
    if method == "dl":
        # statsmodels does not truncate; a negative moment estimate means tau^2 = 0
        # (DerSimonian & Laird 1986; as metafor).
        tau2 = max(float(res.tau2), 0.0)
    elif method == "pm":
        tau2 = _tau2_pm(y, v)
    else:
        tau2 = _tau2_reml(y, v)
    w_fe = 1.0 / v
    q = float(res.q)
    df_q = k - 1
    p_q = float(stats.chi2.sf(q, df_q))
    # I^2 = tau^2 / (tau^2 + s^2) with the "typical" within-study variance
    # s^2 = (k - 1) sum w / ((sum w)^2 - sum w^2) (Higgins & Thompson 2002), as metafor.
    # For DL this equals (Q - df) / Q truncated at 0.
    s2 = df_q * np.sum(w_fe) / (np.sum(w_fe) ** 2 - np.sum(w_fe**2))
    i2 = 100.0 * tau2 / (tau2 + s2)
    w = 1.0 / (v + tau2)
    estimate = float(np.sum(w * y) / np.sum(w))
    se = float(np.sqrt(1.0 / np.sum(w)))
    if test == "knha":
        # Hartung-Knapp-Sidik-Jonkman: scale the variance by the weighted residual mean square
        # q_w = sum w* (y - mu)^2 / (k - 1), t with k - 1 df. Not truncated at 1 (the ad hoc
        # max(1, q_w) of Knapp & Hartung 2003 is not applied), as metafor's test="knha".
        df = float(k - 1)
        q_w = float(np.sum(w * (y - estimate) ** 2) / df)
        se = se * float(np.sqrt(q_w))
        crit = float(stats.t.isf(alpha / 2, df))
    else:
        df = math.nan
        crit = float(stats.norm.isf(alpha / 2))
    stat = estimate / se if se > 0 else math.nan
    p = (
        float(2 * stats.t.sf(abs(stat), df))
        if test == "knha"
        else float(2 * stats.norm.sf(abs(stat)))
    )
    # Prediction interval for the effect in a new organisation, as metafor's predict()
    # (pi.type="default"): mu +- crit sqrt(tau^2 + se^2) with the same quantile and se as the
    # CI (z, or t_{k-1} with the HKSJ se). Higgins, Thompson & Spiegelhalter (2009) use
    # t_{k-2} and the unadjusted se; that is metafor's pi.type="riley" and is not used here.
    pi_half = crit * float(np.sqrt(tau2 + se**2))
    return _Pooled(
        method=method,
        k=k,
        estimate=estimate,
        se=se,
        ci_low=estimate - crit * se,
        ci_high=estimate + crit * se,
        z=stat,
        p=p,
        tau2=tau2,
        i2=float(i2),
        q=q,
        p_q=p_q,
        weights=100.0 * w / np.sum(w),
        test=test,
        df=df,
        pi_low=estimate - pi_half,
        pi_high=estimate + pi_half,
    )


def pool_effects(
    effects: pd.DataFrame,
    *,
    method: Method = "dl",
    ci: float = 0.95,
    effect: str = "effect_size",
    variance: str = "variance",
    test: Test = "z",
) -> pd.DataFrame:
    """Inverse-variance random-effects pooling of k >= 2 effect sizes.

    With sampling variances ``v_i`` and between-study variance ``tau^2``:
    ``w_i = 1 / (v_i + tau^2)``, ``mu = sum w_i y_i / sum w_i``, ``se = 1 / sqrt(sum w_i)``,
    CI ``mu +- z_{1-alpha/2} se`` (``test="z"``, normal, metafor's default).

    ``test="knha"`` (Hartung-Knapp-Sidik-Jonkman): ``se_HK = se * sqrt(q_w)`` with
    ``q_w = sum w_i (y_i - mu)^2 / (k - 1)``, CI ``mu +- t_{k-1, 1-alpha/2} se_HK`` and the
    test ``mu / se_HK`` against t with ``k - 1`` df (Hartung & Knapp 2001; Sidik & Jonkman
    2002). ``q_w`` is not truncated at 1 (no ad hoc ``max(1, q_w)``), as metafor's
    ``test="knha"``; so the interval can be narrower than the normal one when the effects
    vary less than their sampling variances imply.

    Prediction interval for the true effect of a new study, as metafor's ``predict()``:
    ``mu +- c sqrt(tau^2 + se^2)`` with the CI's quantile ``c`` and standard error
    (``z`` and ``se``, or ``t_{k-1}`` and ``se_HK``). Higgins, Thompson & Spiegelhalter (2009)
    proposed ``t_{k-2}`` with the unadjusted ``se`` (metafor ``pi.type="riley"``), which is not
    used here.
    ``Q = sum (y_i - mu_FE)^2 / v_i`` on ``k - 1`` df (Cochran). ``I^2 = 100 tau^2 /
    (tau^2 + s^2)``, ``s^2 = (k - 1) sum(1/v) / ((sum 1/v)^2 - sum 1/v^2)`` (so I^2 depends on the
    tau^2 estimator, as in metafor; for DL it equals ``(Q - df) / Q``).

    tau^2 estimators (``method``):

    - ``"dl"``: DerSimonian-Laird moment estimator, ``max(0, (Q - df) / (sum w - sum w^2 /
      sum w))``, from :func:`statsmodels.stats.meta_analysis.combine_effects`
      (``method_re="dl"``), truncated at 0 here (statsmodels does not truncate).
    - ``"pm"``: Paule-Mandel, the ``tau^2`` at which the generalised Q equals ``k - 1``,
      solved here by Brent's method (``_tau2_pm``; statsmodels' PM iteration can collapse to 0
      at tight tolerances) and checked against published metafor output.
    - ``"reml"``: restricted maximum likelihood; ``combine_effects`` has none, so it is
      maximised here (``_tau2_reml``) and checked against published metafor output.

    Q and the DL estimate come from ``combine_effects``; the pooled mean, its SE and CI are
    computed from the (truncated) tau^2 with the formulas above, which is what
    ``combine_effects`` does for a non-negative tau^2.

    Parameters
    ----------
    effects : DataFrame
        One row per study, with columns ``effect`` and ``variance``. Not modified.
    method : {"dl", "pm", "reml"}
    ci : float
        Confidence level of the interval.
    effect, variance : str
        Column names.
    test : {"z", "knha"}
        Reference distribution of the CI, the test and the prediction interval.

    Returns
    -------
    DataFrame
        One row: ``method, k, effect_size, se, variance, ci_low, ci_high, z, p, tau2, i2, q,
        df_q, p_q, ci_method, df, pi_low, pi_high``. ``i2`` is in percent; ``se`` (and
        ``variance``) are the HKSJ-scaled ones under ``"knha"``; ``z`` is ``mu / se`` (a t
        statistic under ``"knha"``) and ``p`` its two-sided p; ``ci_method`` the ``test``;
        ``df`` ``k - 1`` under ``"knha"``, NaN under ``"z"``.

    Raises
    ------
    ValueError
        Fewer than 2 rows, non-finite effects, non-positive variances or an unknown method.

    References
    ----------
    DerSimonian & Laird (1986); Paule & Mandel (1982); Viechtbauer (2005); Borenstein et al.
    (2009), ch. 12 and 16; Higgins & Thompson (2002); Hartung & Knapp (2001); Sidik & Jonkman
    (2002); Higgins, Thompson & Spiegelhalter (2009).

    Examples
    --------
    >>> df = pd.DataFrame({"effect_size": [0.1, 0.5, 0.3], "variance": [0.04, 0.05, 0.03]})
    >>> pool_effects(df, method="dl")["k"].item()
    3
    """
    y = effects[effect].to_numpy(dtype="float64")
    v = effects[variance].to_numpy(dtype="float64")
    r = _pool(y, v, method=method, ci=ci, test=test)
    row = {
        "method": r.method,
        "k": r.k,
        "effect_size": r.estimate,
        "se": r.se,
        "variance": r.se**2,
        "ci_low": r.ci_low,
        "ci_high": r.ci_high,
        "z": r.z,
        "p": r.p,
        "tau2": r.tau2,
        "i2": r.i2,
        "q": r.q,
        "df_q": r.k - 1,
        "p_q": r.p_q,
        "ci_method": r.test,
        "df": r.df,
        "pi_low": r.pi_low,
        "pi_high": r.pi_high,
    }
    return pd.DataFrame([row], columns=POOLED_COLUMNS)


# --------------------------------------------------------------------------------------------
# Effect sizes per organisation
# --------------------------------------------------------------------------------------------


def _check_options(
    rounds: Sequence[str],
    baseline: str,
    methods: Sequence[str],
    min_n: int,
    ci: float,
    test: str = "z",
) -> None:
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, not {test!r}")
    if baseline not in rounds:
        raise ValueError(f"baseline {baseline!r} is not among rounds {list(rounds)}")
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"methods must be a non-empty subset of {METHODS}, got {list(methods)}")
    if min_n < 1:  # with min_n = 1, a lone answer in both rounds gives an undefined g (note)
        raise ValueError(f"min_n must be at least 1, got {min_n}")
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci}")


def _meta_from_org_stats(
    stats_: pd.DataFrame,
    *,
    measures: Sequence[str],
    rounds: Sequence[str],
    baseline: str,
    min_n: int,
    methods: Sequence[str],
    ci: float,
    test: str,
) -> pd.DataFrame:
    """The shared core: ``stats_`` has ``round, organisation, measure, n, mean, sd``."""
    crit = float(stats.norm.isf((1 - ci) / 2))
    rows: list[dict] = []
    for measure in measures:
        part = stats_[stats_["measure"] == measure]
        for rnd in rounds:
            if rnd == baseline:
                continue
            b = part[part["round"] == baseline].set_index("organisation")
            r = part[part["round"] == rnd].set_index("organisation")
            orgs = sorted(set(b.index) | set(r.index))
            study_rows: list[dict] = []
            poolable: list[int] = []  # indices into study_rows
            for org in orgs:
                n_b = float(b["n"].get(org, 0.0))
                n_r = float(r["n"].get(org, 0.0))
                row = _meta_row(measure, rnd, "study", org, methods[0])
                if n_b < min_n or n_r < min_n:
                    row["suppressed"] = True
                    row["note"] = f"n < {min_n} in {baseline} or {rnd}; not pooled"
                    study_rows.append(row)
                    continue
                m_b, s_b = float(b["mean"][org]), float(b["sd"][org])
                m_r, s_r = float(r["mean"][org]), float(r["sd"][org])
                g, var = _g_and_variance(n_b, m_b, s_b, n_r, m_r, s_r)
                row["n"] = n_b + n_r
                if np.isfinite(g):
                    # The interval of prepost.csv's row for the same g (one g, one interval
                    # wherever it is shown): the exact noncentral-t interval. The variance
                    # (large-sample) is what the pooling weighs by.
                    exact = _welch_and_g(n_b, m_b, s_b, n_r, m_r, s_r, ci)
                    lo, hi = exact["es_ci_low"], exact["es_ci_high"]
                    if not (np.isfinite(lo) and np.isfinite(hi)):
                        lo, hi = g - crit * np.sqrt(var), g + crit * np.sqrt(var)
                    row.update(
                        effect_size=g,
                        variance=var,
                        ci_low=lo,
                        ci_high=hi,
                        ci_method="nct",
                    )
                    poolable.append(len(study_rows))
                else:
                    row["note"] = "no variation in the answers; effect size undefined"
                study_rows.append(row)
            pooled_rows: list[dict] = []
            y = np.array([study_rows[i]["effect_size"] for i in poolable], dtype="float64")
            v = np.array([study_rows[i]["variance"] for i in poolable], dtype="float64")
            n_total = float(sum(study_rows[i]["n"] for i in poolable))
            for j, method in enumerate(methods):
                row = _meta_row(measure, rnd, "pooled", "pooled", method)
                row.update(
                    n=n_total if len(poolable) >= 2 else np.nan,
                    k=float(len(poolable)),
                    ci_method=test,
                )
                if len(poolable) < 2:
                    row["note"] = (
                        f"not pooled: {len(poolable)} organisation(s) with n >= {min_n} "
                        "in both rounds; pooling needs at least 2"
                    )
                else:
                    res = _pool(y, v, method=method, ci=ci, test=test)
                    row.update(
                        effect_size=res.estimate,
                        variance=res.se**2,
                        ci_low=res.ci_low,
                        ci_high=res.ci_high,
                        weight=100.0,
                        tau2=res.tau2,
                        i2=res.i2,
                        q=res.q,
                        p_q=res.p_q,
                        pi_low=res.pi_low,
                        pi_high=res.pi_high,
                        df=res.df,
                    )
                    if j == 0:
                        for i, w in zip(poolable, res.weights, strict=True):
                            study_rows[i]["weight"] = float(w)
                pooled_rows.append(row)
            rows.extend(study_rows)
            rows.extend(pooled_rows)
    out = pd.DataFrame(rows, columns=META_COLUMNS)
    float_cols = [c for c in META_COLUMNS if c not in _TEXT_COLUMNS and c != "suppressed"]
    out[float_cols] = out[float_cols].astype("float64")
    for col in _TEXT_COLUMNS:
        out[col] = out[col].astype(object)
    out["suppressed"] = out["suppressed"].astype(bool)
    return out


def _meta_row(measure: str, rnd: str, row_type: str, organisation: str, method: str) -> dict:
    """A meta.csv row with its identifiers set and every statistic empty."""
    row: dict = dict.fromkeys(META_COLUMNS, np.nan)
    row.update(
        measure=measure,
        round=rnd,
        row_type=row_type,
        organisation=organisation,
        effect_size_type="hedges_g",
        method=method,
        note="",
        suppressed=False,
        ci_method="",
    )
    return row


_TEXT_COLUMNS = (
    "measure",
    "round",
    "row_type",
    "organisation",
    "effect_size_type",
    "method",
    "note",
    "ci_method",
)

_META_DOC = """
    Table layout (``meta.csv``), one block per measure x non-baseline round:

    - ``row_type = "study"``: one row per organisation with respondents in the baseline or the
      round. ``n = n_baseline + n_round`` (non-missing answers), ``effect_size`` Hedges' g of
      the round minus the baseline over all the organisation's respondents (independent
      samples; positive = higher than baseline), ``variance`` its sampling variance, ``ci_low``
      / ``ci_high`` the exact noncentral-t interval of g (Steiger & Fouladi 1997; the interval
      ``prepost.csv`` gives the same g, so one effect has one interval in every table and
      report; it is not ``g +- z sqrt(variance)``, the large-sample variance being only the
      pooling's weight), ``weight`` the random-effects weight in percent
      under the *first* method in ``methods`` (that method is named in the row's ``method``
      column). Heterogeneity columns are empty.
    - ``row_type = "pooled"``, ``organisation = "pooled"``: one row per method; ``n`` total
      respondents of the pooled organisations, ``k`` their number, ``effect_size`` the pooled g,
      ``variance`` its squared standard error (HKSJ-scaled under ``test="knha"``), CI,
      ``weight`` 100, ``tau2``, ``i2`` (percent), ``q``, ``p_q``, ``pi_low`` / ``pi_high``
      the prediction interval of an organisation's true effect, ``ci_method`` the ``test``
      (``knha`` or ``z``), ``df`` ``k - 1`` under ``knha`` (empty under ``z``).

    Disclosure control and missing effects: an organisation with fewer than ``min_n`` answers in
    the baseline or in the round keeps its row with ``suppressed = True`` and every statistic
    empty (``n`` too), and is **not pooled** (pooling it would let its effect be recovered from
    two tables). An organisation whose answers do not vary has an undefined g (``note`` says so)
    and is not pooled either. With fewer than 2 poolable organisations the pooled rows have
    empty statistics, ``suppressed = False`` and a ``note`` saying why.

    Columns: ``measure, round, row_type, organisation, n, effect_size_type, effect_size,
    variance, ci_low, ci_high, weight, tau2, i2, q, p_q, method, k, note, suppressed, pi_low,
    pi_high, ci_method, df`` (the contract's columns, then ``k``, ``note``, ``suppressed``,
    then the prediction interval and the CI's method and df). Study rows with an effect have
    ``ci_method = "nct"`` (the noncentral-t interval; ``"z"``, the normal one, only where it
    cannot be computed) and empty ``pi_low``, ``pi_high``, ``df``.
"""


def meta_table(
    scores: pd.DataFrame,
    *,
    measures: Sequence[str],
    rounds: Sequence[str],
    baseline: str,
    min_n: int = 5,
    methods: Sequence[Method] = ("dl", "pm"),
    ci: float = 0.95,
    test: Test = "knha",
) -> pd.DataFrame:
    """Per-organisation Hedges' g (round minus baseline) and their random-effects pooling.

    For each organisation, measure and round: ``n``, mean and SD (``ddof = 1``) of the
    non-missing answers in the round and in the baseline give
    Hedges' g and its variance from
    :func:`evaluation.analyse.quant.effects.hedges_g_with_variance` (``g = J d`` with the exact
    ``J``, ``V_g = J^2 ((n_b + n_r) / (n_b n_r) + d^2 / (2 (n_b + n_r)))``, Borenstein et al.
    2009 eqs. 4.20-4.24); the organisations' g are pooled with :func:`pool_effects` once per
    method.
    {meta_doc}
    Parameters
    ----------
    scores : DataFrame
        One row per respondent per round: ``round, organisation`` and a float column per
        measure (NaN = missing). Not modified.
    measures : list of str
        Measure columns, in output order.
    rounds : list of str
        Round ids in time order; every round other than ``baseline`` is compared with it.
    baseline : str
    min_n : int
        Disclosure threshold per organisation and round.
    methods : sequence of {{"dl", "pm", "reml"}}
        tau^2 estimators; one pooled row each. The first one's weights go to the study rows.
    ci : float
        Confidence level for study and pooled intervals (and the prediction interval).
    test : {{"knha", "z"}}
        The pooled rows' CI and prediction interval: Hartung-Knapp-Sidik-Jonkman (t with
        ``k - 1`` df) or normal; see :func:`pool_effects`.

    Returns
    -------
    DataFrame

    References
    ----------
    Hedges, L. V., & Olkin, I. (1985). *Statistical Methods for Meta-Analysis*. Academic Press.
    Borenstein, M., et al. (2009). *Introduction to Meta-Analysis*. Wiley, ch. 4, 12, 16.
    """
    _check_options(rounds, baseline, methods, min_n, ci, test)
    missing = [c for c in ("round", "organisation", *measures) if c not in scores]
    if missing:
        raise ValueError(f"scores lacks column(s) {missing}")
    frames = []
    for measure in measures:
        sub = scores.loc[scores[measure].notna(), ["round", "organisation", measure]]
        sub = sub.assign(
            round=sub["round"].astype(str),
            organisation=sub["organisation"].astype(str),
            _v=pd.to_numeric(sub[measure]).astype("float64"),
        )
        agg = (
            sub.groupby(["round", "organisation"], observed=True, sort=True)["_v"]
            .agg(n="count", mean="mean", sd="std")
            .reset_index()
        )
        agg["measure"] = measure
        frames.append(agg)
    # Organisations that answered in a round but gave no value for a measure still get a row.
    present = scores[["round", "organisation"]].astype(str).drop_duplicates()
    org_stats = _complete(frames, present, measures)
    return _meta_from_org_stats(
        org_stats,
        measures=measures,
        rounds=rounds,
        baseline=baseline,
        min_n=min_n,
        methods=methods,
        ci=ci,
        test=test,
    )


if meta_table.__doc__:  # absent under python -OO
    meta_table.__doc__ = meta_table.__doc__.format(meta_doc=_META_DOC)


def _complete(
    frames: list[pd.DataFrame], present: pd.DataFrame, measures: Sequence[str]
) -> pd.DataFrame:
    """Add n = 0 rows for every (round, organisation) present but without a value."""
    stats_ = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["round", "organisation", "n", "mean", "sd", "measure"])
    )
    grid = present.merge(pd.DataFrame({"measure": list(measures)}), how="cross")
    out = grid.merge(stats_, how="left", on=["round", "organisation", "measure"])
    out["n"] = out["n"].fillna(0).astype("float64")
    return out


def combine_summaries(summaries: pd.DataFrame) -> pd.DataFrame:
    """Combine disjoint cells (units, or units split by participant / role) into one n, mean
    and SD per round x organisation x measure, exactly.

    ``N = sum n_i``, ``M = sum n_i m_i / N``,
    ``SD^2 = (sum (n_i - 1) s_i^2 + sum n_i (m_i - M)^2) / (N - 1)``
    (within-cell plus between-cell sums of squares; Borenstein et al. 2009, table 23.2). This is
    identical to the SD of the pooled individual answers.

    Cells with ``n = 0`` are ignored; a cell with ``n = 1`` may have an empty SD (taken as 0).
    Cells with ``n >= 2`` but an empty mean or SD (e.g. suppressed by the vendor) cannot be
    combined: they are left out and logged, so the organisation's ``n`` excludes them.

    Parameters
    ----------
    summaries : DataFrame
        ``round, organisation, unit, measure, n, mean, sd`` (``participant``, ``role``
        optional). Each row must be a disjoint cell: a unit total together with its own split
        by participant / role would count people twice and raises ``ValueError``.

    Returns
    -------
    DataFrame
        ``round, organisation, measure, n, mean, sd``.
    """
    need = ["round", "organisation", "unit", "measure", "n", "mean", "sd"]
    missing = [c for c in need if c not in summaries]
    if missing:
        raise ValueError(f"summaries lacks column(s) {missing}")
    splits = [c for c in ("participant", "role") if c in summaries]
    s = summaries[need + splits].copy()
    for col in ("round", "organisation", "unit", "measure"):
        s[col] = s[col].astype(str)
    for col in ("n", "mean", "sd"):
        s[col] = pd.to_numeric(s[col], errors="coerce").astype("float64")
    cell = ["round", "organisation", "unit", "measure"]
    if splits:
        key = s[splits].astype("string").fillna("")
        s[splits] = key
        dup = s.duplicated(cell + splits, keep=False)
        if dup.any():
            raise ValueError(f"summaries: {int(dup.sum())} rows repeat the same cell")
        total = (key == "").all(axis=1)
        sizes = s.groupby(cell, sort=False)[cell[0]].transform("size")
        if (total & (sizes > 1)).any():
            raise ValueError(
                "summaries: a unit has both a total row (participant / role empty) and split rows"
            )
    elif s.duplicated(cell, keep=False).any():
        raise ValueError("summaries: a round x organisation x unit x measure appears twice")
    s = s[s["n"].fillna(0) > 0]
    s.loc[(s["n"] == 1) & s["sd"].isna(), "sd"] = 0.0
    bad = s["mean"].isna() | s["sd"].isna()
    if bad.any():
        log.info("summaries: %d cells without mean or SD left out of the totals", int(bad.sum()))
        s = s[~bad]
    rows = []
    for (rnd, org, measure), g in s.groupby(["round", "organisation", "measure"], sort=True):
        n = g["n"].to_numpy()
        m = g["mean"].to_numpy()
        sd = g["sd"].to_numpy()
        big_n = float(n.sum())
        mean = float(np.sum(n * m) / big_n)
        ss = float(np.sum((n - 1) * sd**2) + np.sum(n * (m - mean) ** 2))
        rows.append(
            {
                "round": rnd,
                "organisation": org,
                "measure": measure,
                "n": big_n,
                "mean": mean,
                "sd": float(np.sqrt(ss / (big_n - 1))) if big_n > 1 else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=["round", "organisation", "measure", "n", "mean", "sd"])


def meta_from_summaries(
    summaries: pd.DataFrame,
    *,
    measures: Sequence[str],
    rounds: Sequence[str],
    baseline: str,
    min_n: int = 5,
    methods: Sequence[Method] = ("dl", "pm"),
    ci: float = 0.95,
    test: Test = "knha",
) -> pd.DataFrame:
    """The :func:`meta_table` from unit-level aggregates (summary-statistics mode).

    Units are first combined into organisation-level ``n``, mean and SD exactly
    (:func:`combine_summaries`); then Hedges' g and the pooling are the same code as in
    :func:`meta_table`, so both give the same table when the aggregates are computed from the
    same answers.
    {meta_doc}
    Parameters
    ----------
    summaries : DataFrame
        ``round, organisation, unit, measure, n, mean, sd`` (``participant``, ``role``
        optional), one row per disjoint cell. Not modified.
    measures, rounds, baseline, min_n, methods, ci, test
        As in :func:`meta_table`.

    Returns
    -------
    DataFrame

    References
    ----------
    Borenstein, M., et al. (2009). *Introduction to Meta-Analysis*. Wiley, ch. 4, 12, 16, 23.
    """
    _check_options(rounds, baseline, methods, min_n, ci, test)
    org_stats = combine_summaries(summaries)
    present = summaries[["round", "organisation"]].astype(str).drop_duplicates()
    org_stats = _complete([org_stats], present, measures)
    return _meta_from_org_stats(
        org_stats,
        measures=measures,
        rounds=rounds,
        baseline=baseline,
        min_n=min_n,
        methods=methods,
        ci=ci,
        test=test,
    )


if meta_from_summaries.__doc__:
    meta_from_summaries.__doc__ = meta_from_summaries.__doc__.format(meta_doc=_META_DOC)
