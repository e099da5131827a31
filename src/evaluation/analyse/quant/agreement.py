"""Agreement between two measures of the same thing: a transparent proxy and the vendor's index.

The QWL index formula is the vendor's; the package can compute a labelled proxy from the area
scores (``proxy:`` in ``config/instruments/qwl.yaml``). How far the proxy can stand in for the
index is a question of *agreement*, not of correlation: a proxy can correlate highly and still
sit several points off, or differ more for low scores than for high ones. This module gives
both, per round and over all rounds (``proxy_agreement.csv``):

- Pearson's r with its Fisher-z interval;
- the mean difference (the bias, ``measure`` minus ``reference``) with its t interval, the SD
  of the differences and the limits of agreement, bias ± k·SD (k = 1.96: 95 % of differences
  between them when they are normal), each limit with its approximate interval
  (SE ≈ √(3 s² / n), t with n − 1 df; Bland & Altman 1986, section 5);
- a proportional-bias check: the OLS slope of the difference on the pair's mean, with its t
  interval (0 = the difference does not change with the level; Bland & Altman 1999, 3.2).

Differences are ``measure − reference`` as in pingouin's ``plot_blandaltman`` (``x − y``).
Rows of different rounds are independent samples only when the respondents are anonymous;
the all-rounds row treats every row as independent (its intervals are then approximate where
codes link a person's rounds).

References
----------
Bland, J. M., & Altman, D. G. (1986). Statistical methods for assessing agreement between two
methods of clinical measurement. The Lancet, 327(8476), 307-310.
Bland, J. M., & Altman, D. G. (1999). Measuring agreement in method comparison studies.
Statistical Methods in Medical Research, 8(2), 135-160.
Fisher, R. A. (1921). On the "probable error" of a coefficient of correlation deduced from a
small sample. Metron, 1, 3-32.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.analyse.suppression import suppress

AGREEMENT_COLUMNS = [
    "measure",
    "reference",
    "round",
    "rounds",
    "n",
    "r",
    "r_ci_low",
    "r_ci_high",
    "bias",
    "bias_ci_low",
    "bias_ci_high",
    "sd_diff",
    "loa_multiplier",
    "loa_low",
    "loa_low_ci_low",
    "loa_low_ci_high",
    "loa_high",
    "loa_high_ci_low",
    "loa_high_ci_high",
    "slope",
    "slope_ci_low",
    "slope_ci_high",
    "slope_p",
    "suppressed",
]
# The columns a suppressed row keeps.
AGREEMENT_IDENTIFYING = ("measure", "reference", "round", "rounds", "loa_multiplier")
ALL_ROUNDS = "all"


def agreement(
    measure: Sequence[float] | np.ndarray | pd.Series,
    reference: Sequence[float] | np.ndarray | pd.Series,
    *,
    ci: float = 0.95,
    k: float = 1.96,
) -> dict[str, float]:
    """Agreement of ``measure`` with ``reference`` over the pairs where both are present.

    d = measure − reference; bias = mean(d), s = SD(d) (n − 1); limits of agreement
    bias ± k·s. Intervals at level ``ci``:

    - bias: bias ± t · s / √n;
    - each limit: limit ± t · √(3 s² / n) (Bland & Altman 1986, section 5; approximate, too
      narrow for small n: Carkeet 2015);
    - r: tanh(atanh(r) ± z / √(n − 3)) (Fisher 1921), for n ≥ 4;
    - slope of d on (measure + reference) / 2 (proportional bias): OLS slope ± t(n − 2) · SE.

    t has n − 1 degrees of freedom unless said. Returns a dict of the statistics (``n`` and
    the columns of :data:`AGREEMENT_COLUMNS` from ``r`` to ``slope_p``); a statistic that needs
    more pairs than there are is NaN.

    Examples
    --------
    Bland & Altman's (1986) peak flow example (Wright minus mini Wright, 17 subjects) gives
    bias −2.1 l/min and SD 38.8; with k = 2, as in the paper, limits −79.7 and 75.5.
    """
    x = np.asarray(measure, dtype="float64")
    y = np.asarray(reference, dtype="float64")
    if x.shape != y.shape:
        raise ValueError(f"measure and reference differ in length: {x.shape} vs {y.shape}")
    if not 0 < ci < 1:
        raise ValueError(f"ci must be between 0 and 1, not {ci}")
    both = np.isfinite(x) & np.isfinite(y)
    x, y = x[both], y[both]
    n = len(x)
    out: dict[str, float] = {c: np.nan for c in AGREEMENT_COLUMNS[5:-1]}
    out["n"] = n
    out["loa_multiplier"] = k
    if n < 2:
        return out
    d = x - y
    bias = float(d.mean())
    s = float(d.std(ddof=1))
    t = float(stats.t.ppf(0.5 + ci / 2, n - 1))
    half = t * s / np.sqrt(n)
    se_limit = np.sqrt(3 * s**2 / n)
    low, high = bias - k * s, bias + k * s
    out.update(
        bias=bias,
        bias_ci_low=bias - half,
        bias_ci_high=bias + half,
        sd_diff=s,
        loa_low=low,
        loa_low_ci_low=low - t * se_limit,
        loa_low_ci_high=low + t * se_limit,
        loa_high=high,
        loa_high_ci_low=high - t * se_limit,
        loa_high_ci_high=high + t * se_limit,
    )
    if np.ptp(x) > 0 and np.ptp(y) > 0:
        r = float(np.corrcoef(x, y)[0, 1])
        out["r"] = r
        if n >= 4 and abs(r) < 1:
            z, se = np.arctanh(r), 1 / np.sqrt(n - 3)
            crit = float(stats.norm.ppf(0.5 + ci / 2))
            out["r_ci_low"], out["r_ci_high"] = np.tanh(z - crit * se), np.tanh(z + crit * se)
    mean = (x + y) / 2
    if n >= 3 and np.ptp(mean) > 0:
        fit = stats.linregress(mean, d)
        t2 = float(stats.t.ppf(0.5 + ci / 2, n - 2))
        out.update(
            slope=float(fit.slope),
            slope_ci_low=float(fit.slope - t2 * fit.stderr),
            slope_ci_high=float(fit.slope + t2 * fit.stderr),
            slope_p=float(fit.pvalue),
        )
    return {key: (value if key == "n" else float(value)) for key, value in out.items()}


def agreement_table(
    scores: pd.DataFrame,
    *,
    measure: str,
    reference: str,
    rounds: Sequence[str],
    min_n: int = 5,
    ci: float = 0.95,
    k: float = 1.96,
) -> pd.DataFrame:
    """:func:`agreement` of ``measure`` with ``reference`` per round and over all rounds.

    One row per round (``round`` = its id) with respondents who have both values, then one
    row ``round`` = ``all``. A round with fewer than ``min_n`` such respondents keeps its row
    with every statistic empty (``suppressed`` = true) and is left out of the all-rounds row,
    so that no hidden round can be worked out by subtracting the others from the total:
    ``rounds`` lists the rounds each row covers. Empty (with the columns) when the scores lack
    either measure or no respondent has both. Columns: :data:`AGREEMENT_COLUMNS`.
    """
    if measure not in scores or reference not in scores or "round" not in scores:
        return pd.DataFrame(columns=AGREEMENT_COLUMNS)
    x = pd.to_numeric(scores[measure], errors="coerce")
    y = pd.to_numeric(scores[reference], errors="coerce")
    has_both = x.notna() & y.notna()
    if not has_both.any():
        return pd.DataFrame(columns=AGREEMENT_COLUMNS)
    round_of = scores["round"].astype("string")
    rows, shown = [], []
    for rnd in rounds:
        at = (round_of == rnd).fillna(False).to_numpy() & has_both.to_numpy()
        if not at.any():
            continue
        row = agreement(x[at], y[at], ci=ci, k=k)
        rows.append({"round": rnd, "rounds": rnd, **row})
        if row["n"] >= min_n:
            shown.append(rnd)
    if shown:
        at = round_of.isin(shown).fillna(False).to_numpy() & has_both.to_numpy()
        rows.append(
            {"round": ALL_ROUNDS, "rounds": " ".join(shown), **agreement(x[at], y[at], ci=ci, k=k)}
        )
    out = pd.DataFrame(rows).assign(measure=measure, reference=reference, suppressed=False)
    out = suppress(out, n_columns=["n"], keep=AGREEMENT_IDENTIFYING, min_n=min_n)
    return out[AGREEMENT_COLUMNS].reset_index(drop=True)


def proxy_agreement_table(
    scores: pd.DataFrame,
    *,
    pairs: Sequence[Sequence[str]],
    rounds: Sequence[str],
    min_n: int = 5,
    ci: float = 0.95,
    k: float = 1.96,
) -> pd.DataFrame:
    """:func:`agreement_table` of each ``(proxy, reference)`` pair (``proxy_agreement.csv``):
    every instrument's proxy against its own score (QWL: the area mean against the vendor's
    index). Empty (with the columns) when no pair has data, e.g. without the area columns."""
    tables = [
        agreement_table(scores, measure=m, reference=r, rounds=rounds, min_n=min_n, ci=ci, k=k)
        for m, r in pairs
    ]
    tables = [t for t in tables if not t.empty]
    if not tables:
        return pd.DataFrame(columns=AGREEMENT_COLUMNS)
    return pd.concat(tables, ignore_index=True)


def agreement_pairs(
    scores: pd.DataFrame, *, measure: str, reference: str, rounds: Sequence[str] | None = None
) -> pd.DataFrame:
    """The pairs a Bland-Altman figure draws: ``mean`` = (measure + reference) / 2 and
    ``diff`` = measure − reference of every respondent with both (in ``rounds`` when given).
    Individual values: draw them only in bins of at least ``min_n`` respondents."""
    if measure not in scores or reference not in scores:
        return pd.DataFrame({"mean": [], "diff": []}, dtype="float64")
    part = scores if rounds is None else scores[scores["round"].isin(list(rounds))]
    x = pd.to_numeric(part[measure], errors="coerce")
    y = pd.to_numeric(part[reference], errors="coerce")
    both = x.notna() & y.notna()
    return pd.DataFrame(
        {"mean": ((x + y) / 2)[both].to_numpy(), "diff": (x - y)[both].to_numpy()},
        dtype="float64",
    )
