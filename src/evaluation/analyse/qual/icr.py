"""Inter-coder reliability of qualitative coding (``icr.csv``) and the list of disagreements.

Input: one row per code a coder applied to a segment (``segment, coder, code``; CONTRACT.md
``codings.csv``). A coder who applied any code to a segment has *seen* it; a segment a coder
never coded is missing for that coder, not a "no".

Two views, as in the contract:

* ``code = all``: the coding as one variable. The nominal coefficients take the code a coder
  gave the segment, so they use only the segments where every coder gave one code (the
  ``note`` says how many segments coded by two or more coders they leave out);
  ``krippendorff_alpha_masi`` takes each coder's *set* of codes as the value and uses every
  segment, with the MASI distance between sets (Passonneau 2006).
* one row per code: present (1) / absent (0) for every coder who saw the segment.

Coefficients (each a function of per-segment counts, so that bootstrap replicates are weighted
sums over segments and all replicates are computed at once):

* percent agreement: mean over segments of the share of agreeing coder pairs;
* Cohen's kappa (exactly two coders; segments both coded): (p_o − p_e) / (1 − p_e) with p_e
  from each coder's own marginals (Cohen 1960);
* Fleiss' kappa (segments coded by every coder): (P̄ − P̄_e) / (1 − P̄_e) (Fleiss 1971);
* Krippendorff's alpha, nominal (any number of coders, missing allowed): 1 − D_o / D_e from
  the coincidence matrix (Krippendorff 2011).
* Krippendorff's alpha with the MASI distance (``code = all`` only): the same 1 − D_o / D_e
  with the difference function δ(A, B) = 1 − J(A, B) · M(A, B) between two sets of codes,
  J = |A ∩ B| / |A ∪ B| (Jaccard) and M = 1 if A = B, 2/3 if one is a subset of the other,
  1/3 if they overlap otherwise, 0 if disjoint (Passonneau 2006; Krippendorff 2011 gives alpha
  for any difference function). With one code per coder and segment δ is the nominal
  difference, so this alpha equals the nominal one.

Confidence intervals: percentile bootstrap over segments (``reps`` replicates, seeded).
Undefined values (e.g. kappa when every coder always says the same) are NaN, never an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

METRICS = ("percent_agreement", "cohen_kappa", "fleiss_kappa", "krippendorff_alpha_nominal")
# Metrics of the set-valued view (``code = all`` only): each coder's set of codes is the value.
SET_METRICS = ("krippendorff_alpha_masi",)
ICR_COLUMNS = ["code", "metric", "value", "ci_low", "ci_high", "n_segments", "n_coders", "note"]
# The columns of the one-row result of :func:`coefficient` (the names of ``icr.csv``).
COEFFICIENT_COLUMNS = ["metric", "value", "n_segments", "n_coders"]


@dataclass(frozen=True)
class Ratings:
    """One nominal variable: per segment (unit), how many coders chose each category, and for
    two coders the category each chose (-1 = did not code the segment)."""

    counts: np.ndarray  # (units, categories)
    pair: np.ndarray | None  # (units, 2) category index per coder, or None if not 2 coders
    n_coders: int
    # (categories, categories) difference function between the values; None = nominal.
    distance: np.ndarray | None = None

    @property
    def m(self) -> np.ndarray:
        return self.counts.sum(axis=1)


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(np.abs(den) > 1e-12, out, np.nan)


def _percent_agreement(r: Ratings, w: np.ndarray) -> np.ndarray:
    """Mean share of agreeing coder pairs over segments with at least two coders."""
    m = r.m
    ok = m >= 2
    agree = (r.counts * (r.counts - 1)).sum(axis=1)[ok] / (m * (m - 1))[ok]
    wk = w[:, ok]
    return _safe_divide(wk @ agree, wk.sum(axis=1))


def _cohen_kappa(r: Ratings, w: np.ndarray) -> np.ndarray:
    """Cohen's kappa for two coders over the segments both coded."""
    if r.pair is None:
        return np.full(w.shape[0], np.nan)
    a, b = r.pair[:, 0], r.pair[:, 1]
    ok = (a >= 0) & (b >= 0)
    a, b, wk = a[ok], b[ok], w[:, ok]
    total = wk.sum(axis=1)
    k = r.counts.shape[1]
    onehot_a = np.eye(k)[a]
    onehot_b = np.eye(k)[b]
    p_o = _safe_divide(wk @ (a == b).astype(float), total)
    p_a = _safe_divide(wk @ onehot_a, total[:, None])
    p_b = _safe_divide(wk @ onehot_b, total[:, None])
    p_e = (p_a * p_b).sum(axis=1)
    return _safe_divide(p_o - p_e, 1 - p_e)


def _fleiss_kappa(r: Ratings, w: np.ndarray) -> np.ndarray:
    """Fleiss' kappa over the segments coded by every coder (complete data)."""
    n = r.n_coders
    ok = r.m == n
    if n < 2 or not ok.any():
        return np.full(w.shape[0], np.nan)
    counts, wk = r.counts[ok], w[:, ok]
    total = wk.sum(axis=1)
    p_i = ((counts**2).sum(axis=1) - n) / (n * (n - 1))
    p_bar = _safe_divide(wk @ p_i, total)
    p_j = _safe_divide(wk @ counts, (n * total)[:, None])
    p_e = (p_j**2).sum(axis=1)
    return _safe_divide(p_bar - p_e, 1 - p_e)


def _krippendorff_alpha_nominal(r: Ratings, w: np.ndarray) -> np.ndarray:
    """Krippendorff's alpha for nominal data from the coincidence matrix:
    alpha = 1 - (n - 1) (n - sum_c o_cc) / (n^2 - sum_c n_c^2)."""
    m = r.m
    ok = m >= 2  # pairable values only
    counts, wk = r.counts[ok], w[:, ok]
    diag = ((counts**2 - counts).sum(axis=1)) / (m[ok] - 1)  # sum_c o_cc per unit
    n = wk @ m[ok].astype(float)
    trace = wk @ diag
    n_c = wk @ counts
    return 1 - _safe_divide((n - 1) * (n - trace), n**2 - (n_c**2).sum(axis=1))


def _krippendorff_alpha_distance(r: Ratings, w: np.ndarray) -> np.ndarray:
    """Krippendorff's alpha with the difference function ``r.distance`` (nominal if None):
    alpha = 1 - (n - 1) sum_u [n_u' D n_u / (m_u - 1)] / (n.' D n.), the coincidence form
    1 - D_o / D_e of Krippendorff (2011) written per unit (the diagonal of D is 0)."""
    k = r.counts.shape[1]
    dist = 1.0 - np.eye(k) if r.distance is None else r.distance
    m = r.m
    ok = m >= 2
    counts, wk = r.counts[ok], w[:, ok]
    within = ((counts @ dist) * counts).sum(axis=1) / (m[ok] - 1)  # n_u' D n_u / (m_u - 1)
    n = wk @ m[ok].astype(float)
    n_c = wk @ counts
    expected = ((n_c @ dist) * n_c).sum(axis=1)
    return 1 - _safe_divide((n - 1) * (wk @ within), expected)


COEFFICIENTS = {
    "percent_agreement": _percent_agreement,
    "cohen_kappa": _cohen_kappa,
    "fleiss_kappa": _fleiss_kappa,
    "krippendorff_alpha_nominal": _krippendorff_alpha_nominal,
    "krippendorff_alpha_masi": _krippendorff_alpha_distance,
}


def masi_distance(a: Iterable, b: Iterable) -> float:
    """MASI distance between two sets of codes (Passonneau 2006).

    ``1 - J * M`` with the Jaccard ratio ``J = |A ∩ B| / |A ∪ B|`` and the monotonicity weight
    ``M`` = 1 (identical), 2/3 (one a subset of the other), 1/3 (overlapping otherwise), 0
    (disjoint). NLTK's ``nltk.metrics.distance.masi_distance`` rounds M to 0.67 and 0.33.

    Examples
    --------
    >>> round(masi_distance({1, 2}, {1, 2, 3, 4}), 4)
    0.6667
    """
    a, b = frozenset(a), frozenset(b)
    if not a and not b:
        return 0.0
    inter, union = len(a & b), len(a | b)
    if a == b:
        weight = 1.0
    elif a <= b or b <= a:
        weight = 2 / 3
    elif inter:
        weight = 1 / 3
    else:
        weight = 0.0
    return 1.0 - inter / union * weight


def ratings_from_sets(sets: Sequence[Sequence[Iterable | None]]) -> Ratings:
    """Ratings of set-valued codings: ``sets`` is coders × units, each entry the set of codes
    the coder gave the unit (None = the coder did not code it); the categories are the distinct
    sets, and ``distance`` is the MASI distance between them."""
    values = [[None if v is None else frozenset(v) for v in row] for row in sets]
    domain = sorted({v for row in values for v in row if v is not None}, key=sorted)
    index = {v: i for i, v in enumerate(domain)}
    n_units = len(values[0]) if values else 0
    counts = np.zeros((n_units, len(domain)))
    for row in values:
        for u, v in enumerate(row):
            if v is not None:
                counts[u, index[v]] += 1
    dist = np.array([[masi_distance(a, b) for b in domain] for a in domain]).reshape(
        len(domain), len(domain)
    )
    return Ratings(counts=counts, pair=None, n_coders=len(values), distance=dist)


def alpha_masi(sets: Sequence[Sequence[Iterable | None]]) -> pd.DataFrame:
    """Krippendorff's alpha of set-valued codings with the MASI distance.

    alpha = 1 - D_o / D_e = 1 - (n - 1) Σ_u [Σ_ck n_uc n_uk δ_ck / (m_u - 1)] / Σ_ck n_c n_k δ_ck,
    δ = :func:`masi_distance`, n_uc = coders who gave unit u the set c, m_u = coders of unit u
    (units with m_u ≥ 2 only), n_c = Σ_u n_uc, n = Σ_c n_c (Krippendorff 2011; Passonneau 2006).

    Parameters
    ----------
    sets : coders × units
        Each entry the set (any iterable) of codes a coder gave a unit; None where the coder
        did not code the unit.

    Returns
    -------
    pandas.DataFrame
        One row, columns ``COEFFICIENT_COLUMNS`` (``metric = "krippendorff_alpha_masi"``).

    Examples
    --------
    >>> s = [[{"a"}, {"a", "b"}, {"b"}, {"c"}], [{"a"}, {"a"}, {"b"}, {"c"}]]
    >>> print(alpha_masi(s).round(3).to_string(index=False))
                     metric  value  n_segments  n_coders
    krippendorff_alpha_masi  0.781           4         2

    References
    ----------
    Passonneau, R. (2006). Measuring agreement on set-valued items (MASI) for semantic and
    pragmatic annotation. Proceedings of LREC 2006.
    Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. Annenberg School for
    Communication, University of Pennsylvania.
    """
    metric = "krippendorff_alpha_masi"
    r = ratings_from_sets(sets)
    ones = np.ones((1, r.counts.shape[0]))
    value = float(_krippendorff_alpha_distance(r, ones)[0])
    used = _units_used(r, metric, np.ones(r.counts.shape[0]))
    return pd.DataFrame([[metric, value, used, r.n_coders]], columns=COEFFICIENT_COLUMNS)


def ratings_from_matrix(matrix: np.ndarray) -> Ratings:
    """Ratings from a coders × units matrix of category values (NaN = missing), the layout of
    Krippendorff's reliability data."""
    data = np.asarray(matrix, dtype=float)
    present = ~np.isnan(data)
    values = np.unique(data[present])
    coded = np.full(data.shape, -1)
    coded[present] = np.searchsorted(values, data[present])
    counts = np.zeros((data.shape[1], len(values)))
    for c in range(data.shape[0]):
        has = coded[c] >= 0
        np.add.at(counts, (np.nonzero(has)[0], coded[c][has]), 1)
    pair = coded.T.copy() if data.shape[0] == 2 else None
    return Ratings(counts=counts, pair=pair, n_coders=data.shape[0])


def coefficient(matrix: np.ndarray, metric: str) -> pd.DataFrame:
    """One coefficient of a coders × units matrix (NaN = missing); see the module docstring.

    Parameters
    ----------
    matrix : array-like
        Coders × units (segments) of category values, NaN where a coder did not code the unit
        (the layout of Krippendorff's reliability data).
    metric : str
        One of ``METRICS``.

    Returns
    -------
    pandas.DataFrame
        One row, columns ``COEFFICIENT_COLUMNS``: ``metric``, ``value`` (NaN when undefined),
        ``n_segments`` (units that entered the coefficient) and ``n_coders``.

    Examples
    --------
    >>> m = [[1, 1, 2, 2, 1, 2], [1, 1, 2, 1, 1, 2]]
    >>> print(coefficient(m, "cohen_kappa").round(3).to_string(index=False))
         metric  value  n_segments  n_coders
    cohen_kappa  0.667           6         2
    """
    if metric not in COEFFICIENTS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    r = ratings_from_matrix(matrix)
    value = float(COEFFICIENTS[metric](r, np.ones((1, r.counts.shape[0])))[0])
    used = _units_used(r, metric, np.ones(r.counts.shape[0]))
    return pd.DataFrame([[metric, value, used, r.n_coders]], columns=COEFFICIENT_COLUMNS)


def _human(codings: pd.DataFrame, include_suggestions: bool) -> pd.DataFrame:
    if "source" in codings and not include_suggestions:
        codings = codings[codings["source"].fillna("human").eq("human")]
    return codings.drop_duplicates(["segment", "coder", "code"])


def _left_out(seen: pd.DataFrame, multi: set) -> tuple[int, int]:
    """(segments left out of the nominal ``all`` rows, segments coded by two or more coders):
    only segments coded by two or more coders can enter a coefficient; of those, the ones a
    coder gave several codes are left out. ``seen``: coders x segments counts."""
    n_seen = (seen > 0).sum(axis=0)
    pairable = set(n_seen[n_seen >= 2].index)
    return len(multi & pairable), len(pairable)


def multi_code_left_out(
    codings: pd.DataFrame, *, include_suggestions: bool = False
) -> tuple[int, int]:
    """How many segments the nominal ``all`` rows of :func:`icr_table` leave out because a
    coder gave them several codes, and of how many segments coded by two or more coders
    (the numbers of the English ``note`` of ``icr.csv``, for a note in the report's
    language)."""
    data = _human(codings, include_suggestions)
    seen = pd.crosstab(data["coder"], data["segment"])
    per_coder = data.groupby(["segment", "coder"])["code"].nunique()
    multi = set(per_coder[per_coder > 1].index.get_level_values("segment"))
    return _left_out(seen, multi)


def _views(codings: pd.DataFrame) -> list[tuple[str, Ratings, str, tuple[str, ...]]]:
    """(code, ratings, note, metrics) for ``all`` (nominal, then set-valued) and for each code."""
    coders = sorted(codings["coder"].unique())
    segments = sorted(codings["segment"].unique())
    pos_coder = {c: i for i, c in enumerate(coders)}
    pos_seg = {s: i for i, s in enumerate(segments)}
    coder_pos = codings["coder"].map(pos_coder).to_numpy()
    seg_pos = codings["segment"].map(pos_seg).to_numpy()
    counts = np.zeros((len(coders), len(segments)), dtype=np.int64)
    np.add.at(counts, (coder_pos, seg_pos), 1)
    seen = pd.DataFrame(counts, index=coders, columns=segments)
    out = []
    per_coder = codings.groupby(["segment", "coder"])["code"].nunique()
    multi = set(per_coder[per_coder > 1].index.get_level_values("segment"))
    single = codings[~codings["segment"].isin(multi)]
    codes = sorted(codings["code"].unique())
    code_index = {c: i for i, c in enumerate(codes)}
    matrix = np.full((len(coders), len(segments)), np.nan)
    for seg, coder, code in single[["segment", "coder", "code"]].itertuples(index=False):
        matrix[pos_coder[coder], pos_seg[seg]] = code_index[code]
    keep = [pos_seg[s] for s in segments if s not in multi]
    left_out, n_pairable = _left_out(seen, multi)
    note = (
        f"{left_out} of {n_pairable} segment(s) coded by two or more coders left out "
        "(a coder gave several codes); krippendorff_alpha_masi uses all"
        if left_out
        else ""
    )
    out.append(("all", ratings_from_matrix(matrix[:, keep]), note, METRICS))
    # each coder's set of codes per segment, and per code who applied it where: one pass over
    # the rows (a groupby with a Python aggregate per coder x segment cost minutes nationally)
    code_pos = codings["code"].map(code_index).to_numpy()
    collected: dict[tuple[int, int], set] = {}
    for i, j, code in zip(coder_pos, seg_pos, codings["code"], strict=True):
        collected.setdefault((i, j), set()).add(code)
    sets: list[list[frozenset | None]] = [[None] * len(segments) for _ in coders]
    for (i, j), value in collected.items():
        sets[i][j] = frozenset(value)
    out.append(("all", ratings_from_sets(sets), "", SET_METRICS))
    present = seen.to_numpy() > 0
    for c, code in enumerate(codes):
        rows = code_pos == c
        applied = np.zeros(present.shape)
        applied[coder_pos[rows], seg_pos[rows]] = 1.0
        out.append((code, ratings_from_matrix(np.where(present, applied, np.nan)), "", METRICS))
    return out


def icr_table(
    codings: pd.DataFrame,
    *,
    reps: int = 999,
    seed: int = 0,
    ci: float = 0.95,
    include_suggestions: bool = False,
) -> pd.DataFrame:
    """``icr.csv``: every coefficient for ``all`` and per code, with bootstrap CIs.

    Rows for ``code = all``: the nominal coefficients over the segments where each coder gave
    one code, then ``krippendorff_alpha_masi`` over every segment (each coder's set of codes,
    MASI distance); then one row per code and metric (present / absent). ``n_segments`` is the
    number of segments each row used. Intervals: percentile bootstrap over segments (``reps``
    multinomial resamples of the segments, ``np.random.default_rng(seed)``).
    """
    data = _human(codings, include_suggestions)
    rng = np.random.default_rng(seed)
    rows = []
    n_coders_all = data["coder"].nunique()
    for code, ratings, note, metrics in _views(data):
        r, freq = compress(ratings)
        units = int(freq.sum())
        ones = freq[None, :].astype(float)
        boot = rng.multinomial(units, freq / units, size=reps) if units else ones
        for metric in metrics:
            if metric == "cohen_kappa" and n_coders_all != 2:
                continue
            used = _units_used(r, metric, freq)
            value = float(COEFFICIENTS[metric](r, ones)[0])
            low = high = np.nan
            if used >= 2 and not np.isnan(value):
                draws = COEFFICIENTS[metric](r, boot.astype(float))
                draws = draws[~np.isnan(draws)]
                if len(draws):
                    low, high = np.quantile(draws, [(1 - ci) / 2, (1 + ci) / 2])
            rows.append(
                {
                    "code": code,
                    "metric": metric,
                    "value": value,
                    "ci_low": float(low),
                    "ci_high": float(high),
                    "n_segments": used,
                    "n_coders": n_coders_all,
                    "note": note,
                }
            )
    return pd.DataFrame(rows, columns=ICR_COLUMNS)


def _units_used(r: Ratings, metric: str, freq: np.ndarray) -> int:
    m = r.m
    if metric == "fleiss_kappa":
        return int(freq[m == r.n_coders].sum())
    if metric == "cohen_kappa":
        return int(freq[(r.pair >= 0).all(axis=1)].sum()) if r.pair is not None else 0
    return int(freq[m >= 2].sum())


def _unique_rows(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(key, axis=0, return_inverse=True)`` for small integers: each row read as
    one number in a mixed radix (first column most significant, so the same sorted order),
    which sorts a vector instead of rows as tuples (seconds at national size)."""
    low = key.min(axis=0)
    radix = key.max(axis=0) - low + 1
    if np.prod(radix.astype(float)) >= 2.0**62:
        rows, inverse = np.unique(key, axis=0, return_inverse=True)
        return rows, inverse.ravel()
    weights = np.ones(len(radix), dtype=np.int64)
    for j in range(len(radix) - 2, -1, -1):
        weights[j] = weights[j + 1] * int(radix[j + 1])
    _numbers, first, inverse = np.unique(
        (key - low).astype(np.int64) @ weights, return_index=True, return_inverse=True
    )
    return key[first], inverse.ravel()


def compress(r: Ratings) -> tuple[Ratings, np.ndarray]:
    """Identical segments (same category counts, and for two coders the same pair of codes)
    collapsed into one row with its frequency. Every coefficient is a weighted sum over
    segments, and resampling segments with replacement is a multinomial draw over these rows
    with probabilities frequency / n, so the bootstrap is exact and its cost no longer grows
    with the number of segments."""
    key = r.counts if r.pair is None else np.hstack([r.counts, r.pair])
    if len(key) == 0:
        return r, np.zeros(0)
    rows, inverse = _unique_rows(key)
    freq = np.bincount(inverse, minlength=len(rows)).astype(float)
    k = r.counts.shape[1]
    pair = None if r.pair is None else rows[:, k:].astype(int)
    return Ratings(counts=rows[:, :k], pair=pair, n_coders=r.n_coders, distance=r.distance), freq


DISAGREEMENT_COLUMNS = ["segment", "code", "coders_with", "coders_without", "text"]


def disagreements(codings: pd.DataFrame, *, include_suggestions: bool = False) -> pd.DataFrame:
    """One row per segment × code where the coders who saw the segment differ."""
    data = _human(codings, include_suggestions)
    context = [c for c in ("round", "organisation", "document") if c in data]
    # who saw each segment and who applied each code there, in one pass over the rows
    seen: dict[object, set] = {}
    applied: dict[tuple[object, object], set] = {}
    for segment, code, coder in zip(data["segment"], data["code"], data["coder"], strict=True):
        seen.setdefault(segment, set()).add(coder)
        applied.setdefault((segment, code), set()).add(coder)
    rows = []
    for (segment, code), with_code in applied.items():
        without = sorted(seen[segment] - with_code)
        if without:
            rows.append((segment, code, "; ".join(sorted(with_code)), "; ".join(without)))
    out = pd.DataFrame(rows, columns=DISAGREEMENT_COLUMNS[:-1])
    first = data.drop_duplicates("segment").set_index("segment")
    out["text"] = out["segment"].map(first["text"]) if "text" in first else ""
    for col in context:
        out[col] = out["segment"].map(first[col])
    return out.sort_values(["segment", "code"], kind="mergesort").reset_index(drop=True)
