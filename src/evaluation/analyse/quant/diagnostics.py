"""Diagnostics of the longitudinal analysis: who answered in each round, who stayed in the
linked panel, and whether the mixed model's optimisers agree.

The mixed model of ``lmm.csv`` compares repeated cross-sections, so its rounds are comparable
only when the same kind of people answered each time; the paired pre/post rows use the linked
panel, which is unbiased only when those who stayed resemble those who left. These tables let a
reader check both, and let a reviewer check that the model's optimum is not an artefact of the
optimiser.

Functions
---------
``composition_table``    respondents per round by role, participation and organisation (n and
                         share within the round), suppressed like every table.
``composition_tests``    chi-square test of homogeneity across rounds per characteristic, with
                         Cramér's V and a Monte Carlo p-value with fixed margins.
``attrition_table``      the linked panel: baseline respondents with a code seen again in each
                         round; stayers against leavers at baseline (Welch t, Hedges' g).
``optimiser_fits``       one statsmodels ``MixedLM`` formula fitted by REML with each optimiser.
``optimiser_agreement``  ``lmm_table``'s model fitted with each optimiser: convergence,
                         log-likelihood, DiD and variance components, and their spread.

Pure functions: data frames in, data frames out; the inputs are not modified.

References
----------
Agresti, A. (2007). *An Introduction to Categorical Data Analysis* (2nd ed.). Wiley.
Cochran, W. G. (1954). Some methods for strengthening the common chi-square tests.
*Biometrics*, 10(4), 417-451.
Cramér, H. (1946). *Mathematical Methods of Statistics*. Princeton University Press.
Hope, A. C. A. (1968). A simplified Monte Carlo significance test procedure. *Journal of the
Royal Statistical Society B*, 30(3), 582-598.
Patefield, W. M. (1981). Algorithm AS 159: An efficient method of generating random R x C tables
with given row and column totals. *Applied Statistics*, 30(1), 91-97.
Bates, D., Maechler, M., Bolker, B., & Walker, S. (2015). Fitting linear mixed-effects models
using lme4. *Journal of Statistical Software*, 67(1), 1-48.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats
from scipy.stats.contingency import association, expected_freq

from evaluation.analyse.groupings import COMPOSITION_BY
from evaluation.analyse.quant.effects import summary_rows
from evaluation.analyse.suppression import suppress

log = logging.getLogger(__name__)

COMPOSITION_COLUMNS = ["characteristic", "level", "round", "n_round", "n", "share", "suppressed"]
COMPOSITION_TEST_COLUMNS = [
    "characteristic",
    "n",
    "n_rounds",
    "n_levels",
    "test",
    "statistic",
    "df",
    "p",
    "p_monte_carlo",
    "n_sim",
    "min_expected",
    "share_expected_below_5",
    "effect_size_type",
    "effect_size",
    "suppressed",
]
ATTRITION_COLUMNS = [
    "measure",
    "round",
    "baseline",
    "group_by",
    "group",
    "n_baseline",
    "n_linkable",
    "n_stayed",
    "n_left",
    "retention",
    "mean_stayed",
    "sd_stayed",
    "mean_left",
    "sd_left",
    "diff",
    "test",
    "statistic",
    "df",
    "p",
    "effect_size_type",
    "effect_size",
    "es_ci_low",
    "es_ci_high",
    "suppressed",
]
OPTIMISER_COLUMNS = [
    "measure",
    "optimiser",
    "converged",
    "warning",
    "parameter",
    "round",
    "estimate",
    "max_abs_diff",
    "n",
    "n_clusters",
    "suppressed",
    "note",
]

#: The level of a characteristic for respondents without a value (role not given, say).
MISSING = "missing"
#: The optimisers of :func:`optimiser_agreement`, in the order ``lmm_table`` tries them.
OPTIMISERS: tuple[str, ...] = ("bfgs", "lbfgs", "powell", "nm")
#: Above this many analysed rows :func:`optimiser_agreement` fits nothing (one REML fit of the
#: demo study's 2,500 rows takes about 0.3-0.5 s per optimiser; the time grows with the rows).
OPTIMISER_MAX_ROWS = 20_000
#: Parameters of :func:`optimiser_agreement` (``parameter`` column).
OPTIMISER_PARAMETERS = ("llf", "did", "var_organisation", "var_unit", "var_residual")


# --------------------------------------------------------------------------- helpers


def _levels(column: pd.Series) -> pd.Series:
    """Values as text ("1", not "1.0", for integer codes); missing values as :data:`MISSING`."""
    col = column
    if pd.api.types.is_float_dtype(col):
        nonnull = col.dropna()
        if len(nonnull) and (nonnull == np.round(nonnull)).all():
            col = col.astype("Int64")
    text = col.astype("string").str.strip()
    return text.mask(text.isna() | (text == ""), MISSING).astype(object)


def _codes(frame: pd.DataFrame) -> pd.Series:
    """Respondent link codes; empty or blank codes are missing (as in ``prepost_table``)."""
    if "respondent" not in frame:
        return pd.Series(None, index=frame.index, dtype=object)
    codes = frame["respondent"].astype("string").str.strip()
    return codes.mask(codes == "").astype(object).where(codes.notna() & (codes != ""), None)


def _check_rounds(rounds: Sequence[str], baseline: str | None = None) -> list[str]:
    rounds = [str(r) for r in rounds]
    if not rounds or len(set(rounds)) != len(rounds):
        raise ValueError(f"rounds must be non-empty without duplicates, got {rounds}")
    if baseline is not None and str(baseline) not in rounds:
        raise ValueError(f"baseline {baseline!r} is not among rounds {rounds}")
    return rounds


# --------------------------------------------------------------------------- composition


def composition_table(
    scores: pd.DataFrame,
    *,
    rounds: Sequence[str],
    by: Sequence[str] = COMPOSITION_BY,
    min_n: int = 5,
) -> pd.DataFrame:
    """Respondents per round by each characteristic: are the repeated cross-sections alike?

    For each characteristic c in ``by``, level v and round r::

        n_round = respondents in round r,  n = respondents of round r with c = v,
        share   = n / n_round

    Respondents without a value are the level :data:`MISSING` ("missing"), so the levels of a
    round add up to ``n_round``. Every level seen in any round appears in every round (0 when
    absent). ``participant`` levels are ``"1"`` / ``"0"``.

    Disclosure control (as ``bands.csv``): a round with fewer than ``min_n`` respondents is
    suppressed whole; a cell with 1 to ``min_n - 1`` respondents has ``n`` and ``share`` emptied
    (a share reveals n, since ``n_round`` is shown); when only one cell of a characteristic and
    round is small, the smallest other non-empty cell is hidden too, so the small one cannot be
    recovered as ``n_round`` minus the rest. Counts across tables (``respondents.csv`` publishes
    units) are the disclosure plan's concern (:mod:`evaluation.disclosure.plan`).

    Parameters
    ----------
    scores : DataFrame
        One row per respondent and round with ``round`` and the ``by`` columns. Not modified.
    rounds : sequence of str
        Rounds in time order.
    by : sequence of str
        Characteristics (columns of ``scores``).
    min_n : int
        Disclosure threshold.

    Returns
    -------
    DataFrame
        Columns ``COMPOSITION_COLUMNS``: ``characteristic, level, round, n_round, n, share,
        suppressed``.

    Examples
    --------
    >>> s = pd.DataFrame({"round": ["T0"] * 6 + ["T1"] * 6,
    ...                   "role": ["staff"] * 5 + ["supervisor"] + ["staff"] * 6})
    >>> out = composition_table(s, rounds=["T0", "T1"], by=["role"], min_n=1)
    >>> out[["level", "round", "n", "share"]].round(3).to_numpy().tolist()
    [['staff', 'T0', 5.0, 0.833], ['staff', 'T1', 6.0, 1.0], ['supervisor', 'T0', 1.0, 0.167], ['supervisor', 'T1', 0.0, 0.0]]
    """  # noqa: E501
    rounds = _check_rounds(rounds)
    missing = [c for c in ["round", *by] if c not in scores]
    if missing:
        raise ValueError(f"scores has no column(s) {missing}")
    in_rounds = scores["round"].astype(str).isin(rounds)
    part = scores.loc[in_rounds]
    rnd = part["round"].astype(str)
    n_round = rnd.value_counts()
    rows = []
    for c in by:
        levels = _levels(part[c])
        counts = pd.crosstab(levels, rnd)
        for level in sorted(counts.index, key=lambda v: (v == MISSING, v)):
            for r in rounds:
                total = int(n_round.get(r, 0))
                n = int(counts.at[level, r]) if r in counts.columns else 0
                rows.append(
                    {
                        "characteristic": c,
                        "level": level,
                        "round": r,
                        "n_round": total,
                        "n": n,
                        "share": n / total if total else np.nan,
                    }
                )
    out = pd.DataFrame(rows, columns=COMPOSITION_COLUMNS[:-1])
    small = out["n"].between(1, min_n - 1).to_numpy().copy()
    for _, idx in out.groupby(["characteristic", "round"], sort=False).groups.items():
        pos = out.index.get_indexer(idx)
        if small[pos].sum() == 1:
            others = [i for i in pos if not small[i] and out.at[i, "n"] > 0]
            if others:
                small[min(others, key=lambda i: (out.at[i, "n"], i))] = True
            else:
                small[pos] = True
    out = suppress(
        out, n_columns=["n_round"], keep=["characteristic", "level", "round"], min_n=min_n
    )
    cols = ["n_round", "n", "share"]
    out[cols] = out[cols].astype("float64")
    out.loc[small, ["n", "share"]] = np.nan
    out["suppressed"] = out["suppressed"].to_numpy() | small
    return out[COMPOSITION_COLUMNS].reset_index(drop=True)


def _chi2(table: np.ndarray) -> np.ndarray:
    """Pearson's X^2 of a table (or of a stack of tables along the first axis)."""
    exp = expected_freq(table if table.ndim == 2 else table[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum((table - exp) ** 2 / exp, axis=(-2, -1))


def composition_tests(
    scores: pd.DataFrame,
    *,
    rounds: Sequence[str],
    by: Sequence[str] = COMPOSITION_BY,
    min_n: int = 5,
    n_sim: int = 1999,
    seed: int,
) -> pd.DataFrame:
    """Chi-square test of homogeneity across rounds, per characteristic, with Cramér's V.

    The levels x rounds table of counts (respondents without a value left out; rounds and
    levels with no respondents dropped) is tested with Pearson's statistic without continuity
    correction (scipy ``chi2_contingency(correction=False)``; R ``chisq.test``)::

        X^2 = sum_ij (O_ij - E_ij)^2 / E_ij,  E_ij = row_i col_j / n,  df = (I - 1)(J - 1)

    and the effect size is Cramér's V = sqrt(X^2 / (n (min(I, J) - 1))) (0: the same
    composition in every round; 1: each round a different level; scipy
    ``contingency.association``). With many small expected counts (Cochran 1954: more than 20 %
    below 5, or any below 1; see ``min_expected`` and ``share_expected_below_5``) the asymptotic
    p is doubtful, so a Monte Carlo p-value with both margins fixed is given too (``n_sim``
    tables drawn by Patefield's algorithm, scipy ``random_table``; as R ``chisq.test(...,
    simulate.p.value = TRUE)``)::

        p_monte_carlo = (1 + #{X^2_b >= X^2}) / (n_sim + 1)

    (Hope 1968). A characteristic whose table has fewer than ``min_n`` respondents, or fewer
    than two rounds or levels, has an empty test (``suppressed`` true only for the former).

    Parameters
    ----------
    scores : DataFrame
        One row per respondent and round. Not modified.
    rounds, by, min_n : as :func:`composition_table`.
    n_sim : int
        Monte Carlo tables (0: no Monte Carlo p-value).
    seed : int
        Seed of the Monte Carlo tables (the study seed).

    Returns
    -------
    DataFrame
        One row per characteristic, columns ``COMPOSITION_TEST_COLUMNS``; ``test =
        "chi2_homogeneity"``, ``effect_size_type = "cramers_v"``.

    References
    ----------
    Agresti (2007), section 2.4; Cramér (1946), p. 282; Cochran (1954); Hope (1968);
    Patefield (1981).
    """
    rounds = _check_rounds(rounds)
    if n_sim < 0:
        raise ValueError(f"n_sim must be 0 or positive, got {n_sim}")
    missing = [c for c in ["round", *by] if c not in scores]
    if missing:
        raise ValueError(f"scores has no column(s) {missing}")
    part = scores.loc[scores["round"].astype(str).isin(rounds)]
    rnd = part["round"].astype(str)
    rng = np.random.default_rng(seed)
    rows = []
    for c in by:
        levels = _levels(part[c])
        known = levels != MISSING
        table = pd.crosstab(levels[known], rnd[known])
        table = table.reindex(columns=[r for r in rounds if r in table.columns])
        obs = table.to_numpy(dtype=float)
        n = int(obs.sum())
        row = dict.fromkeys(COMPOSITION_TEST_COLUMNS, np.nan)
        row.update(
            characteristic=c,
            n=n,
            n_rounds=obs.shape[1],
            n_levels=obs.shape[0],
            test="chi2_homogeneity",
            effect_size_type="cramers_v",
            n_sim=n_sim,
            suppressed=n < min_n,
        )
        if n >= min_n and min(obs.shape) >= 2:
            res = stats.chi2_contingency(obs, correction=False)
            exp = res.expected_freq
            row.update(
                statistic=float(res.statistic),
                df=int(res.dof),
                p=float(res.pvalue),
                min_expected=float(exp.min()),
                share_expected_below_5=float(np.mean(exp < 5)),
                effect_size=float(association(obs.astype(int), method="cramer")),
            )
            if n_sim:
                sims = stats.random_table(obs.sum(axis=1), obs.sum(axis=0), seed=rng).rvs(
                    size=n_sim
                )
                x2 = _chi2(sims.astype(float))
                hits = np.count_nonzero(x2 >= res.statistic * (1 - 1e-12))
                row["p_monte_carlo"] = (hits + 1) / (n_sim + 1)
        rows.append(row)
    out = pd.DataFrame(rows, columns=COMPOSITION_TEST_COLUMNS)
    out["suppressed"] = out["suppressed"].astype(bool)
    return out


# --------------------------------------------------------------------------- attrition


def _linked(b_codes: pd.Series, r_codes: pd.Series) -> tuple[set, set]:
    """Codes usable at baseline (non-empty, once) and those also once in the round."""
    b_count = Counter(c for c in b_codes if c is not None)
    r_count = Counter(c for c in r_codes if c is not None)
    usable = {c for c, k in b_count.items() if k == 1}
    return usable, {c for c in usable if r_count.get(c, 0) == 1}


def attrition_table(
    scores: pd.DataFrame,
    *,
    rounds: Sequence[str],
    baseline: str,
    measures: Sequence[str],
    by: str | None = "participant",
    min_n: int = 5,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Attrition of the linked panel, and whether those who stayed differed at baseline.

    For each measure, round r after the baseline and group (the whole study, then each value
    of ``by`` if given), with the linking rule of ``prepost_table`` (a non-empty
    ``respondent`` code that appears exactly once among the group's rows with a value of the
    measure in each of the two rounds)::

        n_baseline = baseline respondents of the group with a value of the measure
        n_linkable = of these, with a usable code (non-empty, once in the baseline)
        n_stayed   = of these, linked in round r (the paired rows of prepost.csv)
        n_left     = n_linkable - n_stayed,     retention = n_stayed / n_linkable

    ``n_left`` counts coded respondents not seen again in the round (with a value of the
    measure, in the same group); a code that appears twice in round r cannot be linked and
    counts as left, as it does in the paired comparison. Respondents without a usable code
    are in neither group.

    Stayers against leavers on their **baseline** values: ``diff = mean_stayed -
    mean_left``, Welch's t (``test = "welch_t"``) and Hedges' g with its noncentral-t
    interval (``effect_size_type = "hedges_g"``), from
    :func:`evaluation.analyse.quant.effects.summary_rows` with the leavers as reference. A g
    away from 0 means the panel is selective: the paired rows describe the stayers, not the
    baseline. Positive: the stayers scored higher at baseline.

    Disclosure control: a row whose stayers or leavers number fewer than ``min_n`` (none
    included) is suppressed, every count and statistic emptied.

    Parameters
    ----------
    scores : DataFrame
        One row per respondent and round: ``round``, ``respondent``, the measures and ``by``.
        Not modified.
    rounds : sequence of str
        Rounds; the rows are for every round but the baseline.
    baseline : str
        The baseline round.
    measures : sequence of str
        Measure columns.
    by : str or None
        A grouping column (its value at baseline); ``None``: the whole study only.
    min_n : int
        Disclosure threshold.
    ci : float
        Confidence level of the effect-size interval.

    Returns
    -------
    DataFrame
        Columns ``ATTRITION_COLUMNS``.

    References
    ----------
    Hedges, L. V., & Olkin, I. (1985). Statistical Methods for Meta-Analysis. Academic Press.
    Welch, B. L. (1947). *Biometrika*, 34, 28-35.
    """
    rounds = _check_rounds(rounds, baseline)
    baseline = str(baseline)
    if not 0 < ci < 1:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    need = ["round", *measures, *([by] if by else [])]
    missing = [c for c in need if c not in scores]
    if missing:
        raise ValueError(f"scores has no column(s) {missing}")
    rnd = scores["round"].astype(str)
    codes = _codes(scores)
    groups: list[tuple[str, str, pd.Series]] = [("all", "all", pd.Series(True, scores.index))]
    if by:
        labels = _levels(scores[by])
        for value in sorted(set(labels) - {MISSING}):
            groups.append((by, value, labels == value))
    rows = []
    for m in measures:
        y = pd.to_numeric(scores[m], errors="coerce").astype(float)
        has = y.notna()
        for r in rounds:
            if r == baseline:
                continue
            for group_by, group, member in groups:
                at_b = member & has & (rnd == baseline)
                at_r = member & has & (rnd == r)
                usable, stayed = _linked(codes[at_b], codes[at_r])
                b_codes = codes[at_b]
                stay = b_codes.isin(stayed).to_numpy()
                left = b_codes.isin(usable - stayed).to_numpy()
                y_b = y[at_b].to_numpy()
                ys, yl = y_b[stay], y_b[left]
                n_s, n_l = len(ys), len(yl)
                sd_s = float(np.std(ys, ddof=1)) if n_s > 1 else math.nan
                sd_l = float(np.std(yl, ddof=1)) if n_l > 1 else math.nan
                mean_s = float(np.mean(ys)) if n_s else math.nan
                mean_l = float(np.mean(yl)) if n_l else math.nan
                cmp = summary_rows(n_l, mean_l, sd_l, n_s, mean_s, sd_s, ci=ci).iloc[0]
                n_linkable = n_s + n_l
                rows.append(
                    {
                        "measure": m,
                        "round": r,
                        "baseline": baseline,
                        "group_by": group_by,
                        "group": group,
                        "n_baseline": int(at_b.sum()),
                        "n_linkable": n_linkable,
                        "n_stayed": n_s,
                        "n_left": n_l,
                        "retention": n_s / n_linkable if n_linkable else math.nan,
                        "mean_stayed": mean_s,
                        "sd_stayed": sd_s,
                        "mean_left": mean_l,
                        "sd_left": sd_l,
                        "diff": mean_s - mean_l,
                        "test": cmp["test"],
                        "statistic": cmp["statistic"],
                        "df": cmp["df"],
                        "p": cmp["p"],
                        "effect_size_type": cmp["effect_size_type"],
                        "effect_size": cmp["effect_size"],
                        "es_ci_low": cmp["es_ci_low"],
                        "es_ci_high": cmp["es_ci_high"],
                    }
                )
    out = pd.DataFrame(rows, columns=ATTRITION_COLUMNS[:-1])
    keep = ["measure", "round", "baseline", "group_by", "group", "test", "effect_size_type"]
    out = suppress(out, n_columns=["n_stayed", "n_left"], keep=keep, min_n=min_n)
    for col in ATTRITION_COLUMNS[5:-1]:
        if col not in ("test", "effect_size_type"):
            out[col] = out[col].astype("float64")
    return out[ATTRITION_COLUMNS].reset_index(drop=True)


# --------------------------------------------------------------------------- optimisers


#: The ids of :func:`_short` (label keys).
FIT_WARNINGS = ("fit_not_converged", "fit_hessian_not_pd", "fit_on_boundary", "fit_re_singular",
                "fit_other_warning")  # fmt: skip


def _short(messages: list[str]) -> str:
    """statsmodels' warnings of one fit as ids (label keys: :data:`FIT_WARNINGS`), de-duplicated,
    joined by '; ' (the reports show each by its label)."""
    out: list[str] = []
    for msg in messages:
        if "converge" in msg or "optimization failed" in msg:
            text = "fit_not_converged"
        elif "Hessian" in msg:
            text = "fit_hessian_not_pd"
        elif msg.startswith("The MLE may be on the boundary"):
            text = "fit_on_boundary"
        elif "singular" in msg.lower():
            text = "fit_re_singular"
        else:
            text = "fit_other_warning"  # its text is in the notebook's log, in English
        if text not in out:
            out.append(text)
    return "; ".join(out)


def optimiser_fits(
    data: pd.DataFrame,
    formula: str,
    *,
    groups: str,
    vc_formula: Mapping[str, str] | None = None,
    optimisers: Sequence[str] = OPTIMISERS,
) -> pd.DataFrame:
    """One REML fit of a statsmodels ``MixedLM`` per optimiser, as rows.

    ``smf.mixedlm(formula, data, groups=groups, re_formula="1", vc_formula=vc_formula)
    .fit(reml=True, method=[optimiser])``. Per optimiser: whether statsmodels reports
    convergence, its warnings (shortened), and one row per parameter: ``llf`` (the REML
    log-likelihood), each fixed effect (``fe:<term>``), ``var_group`` (the random intercept's
    variance), ``vc:<name>`` (each variance component) and ``var_residual``. A fit that raises
    gives ``converged`` false and the error in ``warning``.

    Parameters
    ----------
    data : DataFrame
        The model's data. Not modified.
    formula : str
        The fixed-effects formula.
    groups : str
        The grouping column of the random intercept.
    vc_formula : mapping, optional
        Variance components as statsmodels takes them, e.g. ``{"unit": "0 + C(unit)"}``.
    optimisers : sequence of str
        statsmodels optimiser names (``bfgs``, ``lbfgs``, ``powell``, ``nm``, ``cg``, ...).

    Returns
    -------
    DataFrame
        Columns ``optimiser, converged, warning, parameter, estimate``.
    """
    model = smf.mixedlm(
        formula, data, groups=groups, re_formula="1", vc_formula=dict(vc_formula or {}) or None
    )
    vc_names = list(model.exog_vc.names) if vc_formula else []
    rows = []
    for opt in optimisers:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                res = model.fit(reml=True, method=[opt])
            except (np.linalg.LinAlgError, ValueError, ZeroDivisionError, FloatingPointError) as e:
                res, error = None, f"{type(e).__name__}: {e}"
        if res is None:
            rows.append([opt, False, error, None, math.nan])
            continue
        note = _short([str(w.message) for w in caught])
        params = [("llf", float(res.llf))]
        params += [(f"fe:{k}", float(v)) for k, v in res.fe_params.items()]
        params.append(("var_group", float(np.asarray(res.cov_re)[0, 0])))
        params += [
            (f"vc:{k}", float(v)) for k, v in zip(vc_names, np.asarray(res.vcomp), strict=True)
        ]
        params.append(("var_residual", float(res.scale)))
        rows += [[opt, bool(res.converged), note or None, k, v] for k, v in params]
    out = pd.DataFrame(rows, columns=["optimiser", "converged", "warning", "parameter", "estimate"])
    out["converged"] = out["converged"].astype(bool)
    return out


def optimiser_agreement(
    scores: pd.DataFrame,
    *,
    measure: str,
    rounds: Sequence[str],
    baseline: str,
    optimisers: Sequence[str] = OPTIMISERS,
    max_rows: int = OPTIMISER_MAX_ROWS,
    min_n: int = 5,
) -> pd.DataFrame:
    """The reference implementation's agreement: statsmodels ``MixedLM`` fitted with each
    optimiser and compared, a check of how well the data identify the variance components.

    The model of ``lmm.csv`` without its person level (REML, statsmodels ``MixedLM``; the
    model of record itself is fitted from sufficient statistics by
    :func:`evaluation.analyse.quant.nested.fit_nested`, see ``model_of_record``)::

        measure ~ C(round, Treatment(baseline)) * participant
        groups = organisation (random intercept), vc_formula = {"unit": "0 + C(unit)"}

    on the rows ``lmm_table`` analyses (rows with a missing measure, participant, organisation
    or unit dropped; rounds in which participants or non-participants have no respondents left
    out), fitted once per optimiser (:func:`optimiser_fits`). Rows per optimiser and
    ``parameter``: ``llf`` (REML log-likelihood), ``did`` (per round: the round x participant
    interaction), ``var_organisation``, ``var_unit``, ``var_residual``.

    ``max_abs_diff`` = max - min of the parameter over the optimisers that converged (the
    largest disagreement between two of them; empty with fewer than two). Fits that agree to
    a few decimals on ``llf`` but differ on a variance are on a flat likelihood: the variance
    is poorly identified. A non-converged fit is listed, but not compared.

    The fits are skipped (one row per optimiser, ``note`` says why, estimates empty) when the
    analysed rows exceed ``max_rows``: four fits of a national-size study take minutes, and
    ``lmm_table`` has already tried the optimisers in turn.

    Disclosure control: a ``did`` row any of whose four round x participant cells has fewer
    than ``min_n`` respondents is suppressed (``estimate`` and ``max_abs_diff`` empty); every
    row is suppressed when the model has fewer than ``min_n`` respondents.

    Parameters
    ----------
    scores : DataFrame
        As for ``lmm_table``. Not modified.
    measure, rounds, baseline : as ``lmm_table``.
    optimisers : sequence of str
        statsmodels optimisers, by default those ``lmm_table`` tries.
    max_rows : int
        Skip above this many analysed rows.
    min_n : int
        Disclosure threshold for a cell.

    Returns
    -------
    DataFrame
        Columns ``OPTIMISER_COLUMNS``: ``measure, optimiser, converged, warning, parameter,
        round, estimate, max_abs_diff, n, n_clusters, suppressed, note``.
    """
    rounds = _check_rounds(rounds, baseline)
    baseline = str(baseline)
    if len(rounds) < 2:
        raise ValueError(f"rounds needs the baseline and one other round, got {rounds}")
    missing = [
        c for c in ("round", "organisation", "unit", "participant", measure) if c not in scores
    ]
    if missing:
        raise ValueError(f"scores has no column(s) {missing}")
    src = scores.loc[scores["round"].astype(str).isin(rounds)]
    data = pd.DataFrame(
        {
            "_y": pd.to_numeric(src[measure], errors="coerce").astype(float).to_numpy(),
            "_round_id": src["round"].astype(str).to_numpy(dtype=object),
            "_participant": pd.to_numeric(src["participant"], errors="coerce")
            .astype(float)
            .to_numpy(),
            "_org": src["organisation"].astype("string").to_numpy(dtype=object, na_value=None),
            "_unit": src["unit"].astype("string").to_numpy(dtype=object, na_value=None),
        }
    )
    data = data.dropna().reset_index(drop=True)
    counts = data.groupby(["_round_id", "_participant"]).size()
    cell = {(r, p): int(counts.get((r, float(p)), 0)) for r in rounds for p in (0, 1)}
    estimable = [r for r in rounds if cell[(r, 0)] and cell[(r, 1)]]
    data = data[data["_round_id"].isin(estimable)].reset_index(drop=True)
    codes = {r: f"r{i}" for i, r in enumerate(rounds)}
    data["_round"] = data["_round_id"].map(codes)
    n, n_org = len(data), int(data["_org"].nunique())

    def base_row(opt: str, **values) -> dict:
        row = dict.fromkeys(OPTIMISER_COLUMNS, math.nan)
        row.update(measure=measure, optimiser=opt, converged=pd.NA, warning=None)
        row.update(parameter=None, round=None, n=n, n_clusters=n_org, suppressed=n < min_n)
        row.update(note=None)
        row.update(values)
        return row

    note = None
    if baseline not in estimable:
        note = f"not fitted: the baseline {baseline} lacks participants or non-participants"
    elif len(estimable) < 2:
        note = "not fitted: no round besides the baseline has both participant groups"
    elif n_org < 2:
        note = f"not fitted: {n_org} organisation"
    elif n > max_rows:
        note = f"skipped: {n} rows > max_rows {max_rows}"
    if note is not None:
        log.info("optimiser_agreement(%s): %s", measure, note)
        return _optimiser_frame([base_row(opt, note=note) for opt in optimisers])

    formula = f"_y ~ C(_round, Treatment('{codes[baseline]}')) * _participant"
    fits = optimiser_fits(
        data, formula, groups="_org", vc_formula={"unit": "0 + C(_unit)"}, optimisers=optimisers
    )
    did_term = {
        f"fe:C(_round, Treatment('{codes[baseline]}'))[T.{codes[r]}]:_participant": r
        for r in estimable
        if r != baseline
    }
    names = {
        "llf": "llf",
        "var_group": "var_organisation",
        "vc:unit": "var_unit",
        "var_residual": "var_residual",
    }
    rows = []
    for opt in optimisers:
        part = fits[fits["optimiser"] == opt]
        first = part.iloc[0]
        status = {"converged": bool(first["converged"]), "warning": first["warning"] or None}
        if first["parameter"] is None:
            rows.append(base_row(opt, **status, note="fit failed"))
            continue
        values = dict(zip(part["parameter"], part["estimate"], strict=True))
        for key, label in names.items():
            value = values.get(key, math.nan)
            rows.append(base_row(opt, **status, parameter=label, estimate=value))
        for term, r in did_term.items():
            cells = [cell[(r, 0)], cell[(r, 1)], cell[(baseline, 0)], cell[(baseline, 1)]]
            rows.append(
                base_row(
                    opt,
                    **status,
                    parameter="did",
                    round=r,
                    estimate=values.get(term, math.nan),
                    n=sum(cells),
                    suppressed=min(cells) < min_n,
                )
            )
    out = _optimiser_frame(rows)
    ok = out["converged"].fillna(False).astype(bool)
    key = out["parameter"].fillna("").astype(str) + "|" + out["round"].fillna("").astype(str)
    spread = out[ok].groupby(key[ok])["estimate"].agg(_spread)
    out["max_abs_diff"] = key.map(spread).astype(float)
    out.loc[out["suppressed"], ["estimate", "max_abs_diff"]] = np.nan
    return out


def _spread(values: pd.Series) -> float:
    """max - min of the finite values; NaN with fewer than two."""
    finite = values.dropna()
    return float(finite.max() - finite.min()) if len(finite) > 1 else math.nan


def _optimiser_frame(rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=OPTIMISER_COLUMNS)
    out["converged"] = out["converged"].astype("boolean")
    out["suppressed"] = out["suppressed"].astype(bool)
    for col in ("estimate", "max_abs_diff"):
        out[col] = out[col].astype(float)
    for col in ("warning", "parameter", "round", "note"):
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    out["n"] = out["n"].astype("Int64")
    out["n_clusters"] = out["n_clusters"].astype("Int64")
    return out
