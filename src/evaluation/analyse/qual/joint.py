"""The joint display (``joint_display.csv``): numbers and voices side by side.

One row per organisation and non-baseline round:

* **quantitative**: the organisation's change in each headline measure (QWL, ESIS) as Hedges' g
  with its CI, exactly the per-organisation rows of ``meta.csv`` (all the organisation's
  respondents, round minus baseline; :func:`evaluation.analyse.quant.pooling.meta_table`);
* **qualitative**: its three most prevalent themes in that round (share of coded answers and
  change from its baseline share, from ``themes.csv``), the direction of its open answers and
  one or two redacted quotes that illustrate it;
* **meta-inference** (the rule, documented in docs/qualitative.md and shown beside the table):

  - quantitative direction: ``positive`` if some measure's CI lies above 0 and none below,
    ``negative`` if some lies below 0 and none above, else ``unclear``;
  - qualitative direction, ``qual_source = segment_tone`` where coders gave the answers a tone
    (optional ``tone`` column of the codings: positive / negative / neutral / mixed): a
    coder's tone of an answer is the tone of their rows for it (``mixed`` if their rows
    differ); the answer's tone is the coders' tone when they agree and ``disputed`` when they
    do not. The *tone balance* of a group is (answers positive − answers negative) / answers
    with a tone, in points from −100 to +100 (neutral, mixed and disputed answers count in
    the denominator only). The direction is ``positive`` when the balance rose by at least
    :data:`TONE_THRESHOLD` points from the organisation's baseline, ``negative`` when it fell
    by at least that much, else ``unclear``. Both the round and the baseline need at least
    ``min_n`` answers with a tone;
  - otherwise ``qual_source = theme_tone`` (the fallback): the change since baseline of the
    shares of *resource* themes minus that of *problem* themes (codebook ``tone``):
    ``positive`` above +:data:`THRESHOLD`, ``negative`` below −:data:`THRESHOLD`, else
    ``unclear``;
  - ``confirms``: both directions agree; ``diverges``: they are opposite; ``expands``: one side
    is unclear, so the other adds what it cannot show; ``inconclusive``: both are unclear;
    ``insufficient``: either side is suppressed or missing (fewer than ``min_n`` respondents or
    coded answers); then the whole row is suppressed, as every table's small groups are. Theme
    rows hidden in ``themes.csv`` are left out of the themes and of the direction.

Quotes (``quote``, ``quote_tone``, ``quote_2``, ``quote_2_tone``): with segment tones, an answer
whose tone is the qualitative direction (for ``confirms`` one in the direction of the change,
for ``diverges`` one against it); when the direction is unclear and the answers go both ways,
one positive and one negative answer (the disagreement shown as such), else an answer of the
most common tone. Disputed answers are never quoted. Among the candidates the representative
answer is chosen as for ``quotes.csv`` (:func:`evaluation.analyse.qual.themes.choose_quote`,
answers all coders gave that tone first) and redacted. With the theme fallback the quote is
that of the most prevalent theme whose codebook tone matches the direction (else of the most
prevalent theme) and ``quote_tone`` is ``not_coded``: its own tone is unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from evaluation.analyse.qual.themes import OPEN_ANSWER, choose_quote, coded_answers
from evaluation.config import SEGMENT_TONES

THRESHOLD = 0.05  # theme fallback: change in resource minus problem shares (proportion)
TONE_THRESHOLD = 10  # segment tones: change of the tone balance from baseline (points)
TOP = 3
DISPUTED = "disputed"  # coders gave one answer different tones
NOT_CODED = "not_coded"  # the quote's own tone is unknown (theme fallback)
SEGMENT_TONE, THEME_TONE = "segment_tone", "theme_tone"  # values of qual_source
JOINT_COLUMNS = [
    "organisation", "round", "measure_effects", "quant_direction", "n_coded", "themes",
    "qual_source", "n_toned", "tone_balance", "tone_change", "qual_direction",
    "meta_inference", "quote", "quote_tone", "quote_2", "quote_2_tone", "quote_kind",
    "quote_2_kind", "suppressed",
]  # fmt: skip
TONED_COLUMNS = ["segment", "organisation", "round", "tone", "n_coders", "text"]


def quant_direction(lows: list[float], highs: list[float]) -> str:
    """Direction of the measures' changes from their CIs (see the module docstring)."""
    above = any(lo > 0 for lo in lows if not np.isnan(lo))
    below = any(hi < 0 for hi in highs if not np.isnan(hi))
    if above and not below:
        return "positive"
    if below and not above:
        return "negative"
    return "unclear"


def qual_direction(changes: Mapping[str, float], tone: Mapping[str, str]) -> str:
    """Direction from the change in resource minus problem theme shares (the fallback)."""
    resource = sum(v for k, v in changes.items() if tone.get(k) == "resource" and v == v)
    problem = sum(v for k, v in changes.items() if tone.get(k) == "problem" and v == v)
    net = resource - problem
    if net > THRESHOLD:
        return "positive"
    if net < -THRESHOLD:
        return "negative"
    return "unclear"


def tone_balance(tones: pd.Series) -> float:
    """(positive − negative) / answers with a tone, in points (−100 … +100); NaN if none."""
    tones = tones.dropna()
    if tones.empty:
        return np.nan
    return (
        100.0 * (int((tones == "positive").sum()) - int((tones == "negative").sum())) / len(tones)
    )


def tone_direction(change: float, threshold: float = TONE_THRESHOLD) -> str:
    """Direction from the change of the tone balance since baseline (points)."""
    if change != change:
        return "unclear"
    if change >= threshold:
        return "positive"
    if change <= -threshold:
        return "negative"
    return "unclear"


def meta_inference(quant: str | None, qual: str | None) -> str:
    """confirms / diverges / expands / inconclusive / insufficient (see the module docstring)."""
    if quant is None or qual is None:
        return "insufficient"
    if quant == qual and quant != "unclear":
        return "confirms"
    if {quant, qual} == {"positive", "negative"}:
        return "diverges"
    if quant == "unclear" and qual == "unclear":
        return "inconclusive"
    return "expands"


def _segment_texts(segments: pd.Series, codings: pd.DataFrame, answers: pd.DataFrame) -> pd.Series:
    """The text of each segment: its open answer, else the codings' own text."""
    segment = segments.astype(object)
    text = dict(zip(answers["answer_id"], answers["text"], strict=True)) if len(answers) else {}
    out = pd.Series(segment.map(text), index=segments.index, dtype=object)
    if "text" in codings:
        own = codings.drop_duplicates("segment")
        fallback = {s: t for s, t in zip(own["segment"], own["text"], strict=True) if pd.notna(t)}
        out = out.where(out.notna(), segment.map(fallback))
    return out


def segment_tones(codings: pd.DataFrame, answers: pd.DataFrame) -> pd.DataFrame:
    """One row per coded answer that human coders gave a tone: ``segment, organisation, round,
    tone, n_coders`` (coders who gave that tone) and ``text`` (not redacted: redact before
    showing). A coder whose rows for an answer differ in tone gives it ``mixed``; coders who
    disagree make it ``disputed`` (see the module docstring)."""
    if "tone" not in codings or codings.empty:
        return pd.DataFrame(columns=TONED_COLUMNS)
    human = codings[codings["source"].fillna("human").eq("human") & codings["tone"].notna()]
    if human.empty:
        return pd.DataFrame(columns=TONED_COLUMNS)
    # the one tone of a group, else "mixed" / DISPUTED: vectorised first and nunique (a Python
    # aggregate per segment x coder took most of the joint display at national size)
    per_coder = human.groupby(["segment", "coder"], sort=True)["tone"]
    by_coder = per_coder.first().where(per_coder.nunique() == 1, "mixed").reset_index()
    per_segment = by_coder.groupby("segment", sort=True)["tone"]
    by_segment = pd.DataFrame(
        {
            "tone": per_segment.first().where(per_segment.nunique() == 1, DISPUTED),
            "n_coders": per_segment.size(),
        }
    )
    base, _ = coded_answers(codings, answers, {})
    out = base[["segment", "organisation", "round"]].merge(
        by_segment.reset_index(), on="segment", how="inner"
    )
    out["text"] = _segment_texts(out["segment"], codings, answers)
    return out[TONED_COLUMNS].reset_index(drop=True)


def choose_tone_quotes(candidates: pd.DataFrame, direction: str, seed: int) -> list[pd.Series]:
    """The answers that illustrate ``direction`` (see the module docstring): one answer of that
    tone; for ``unclear`` one positive and one negative answer when there are both, else one
    of the most common tone. Disputed answers and answers without text are never chosen."""
    pool = candidates[candidates["tone"].isin(SEGMENT_TONES) & candidates["text"].notna()]
    if pool.empty:
        return []
    if direction in ("positive", "negative"):
        pick = choose_quote(pool[pool["tone"] == direction], seed)
        return [] if pick is None else [pick]
    ends = [choose_quote(pool[pool["tone"] == t], seed) for t in ("positive", "negative")]
    if all(e is not None for e in ends):
        return ends
    counts = pool["tone"].value_counts()
    common = max(SEGMENT_TONES, key=lambda t: (counts.get(t, 0), -SEGMENT_TONES.index(t)))
    pick = choose_quote(pool[pool["tone"] == common], seed)
    return [] if pick is None else [pick]


def joint_display(
    meta: pd.DataFrame,
    themes: pd.DataFrame,
    quotes: pd.DataFrame,
    *,
    measures: list[str],
    rounds: list[str],
    baseline: str,
    tone: Mapping[str, str],
    labels: Mapping[str, str],
    toned: pd.DataFrame | None = None,
    min_n: int = 5,
    seed: int = 0,
    redact: Callable[[object], str] = str,
    kinds: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """``joint_display.csv`` from the study rows of ``meta.csv``, ``themes.csv``, the
    per-organisation quotes and the answers' tones (:func:`segment_tones`; None or empty: the
    codebook's theme tones decide). See the module docstring. ``kinds``: segment id -> its
    source kind (:func:`evaluation.analyse.qual.themes.source_kinds`), shown as ``quote_kind``
    and ``quote_2_kind`` next to the quotes (default ``open_answer``)."""
    study = meta[(meta["row_type"] == "study") & meta["measure"].isin(measures)]
    orgs = themes[themes["group_by"] == "organisation"]
    toned = pd.DataFrame(columns=TONED_COLUMNS) if toned is None else toned
    context = {"min_n": min_n, "seed": seed, "redact": redact, "baseline": baseline,
               "kinds": dict(kinds or {})}  # fmt: skip
    organisations = sorted(set(study["organisation"].dropna()) | set(orgs["group"]))
    rows = []
    for org in organisations:
        for rnd in [r for r in rounds if r != baseline]:
            rows.append(_row(org, rnd, study, orgs, quotes, toned, measures, tone, labels, context))
    return pd.DataFrame(rows, columns=JOINT_COLUMNS + [
        f"{m}_{c}" for m in measures for c in ("g", "ci_low", "ci_high", "n")
    ])  # fmt: skip


def _quantitative(row: dict, org, rnd, study, measures, labels) -> str | None:
    effects, lows, highs, quant_ok = [], [], [], True
    for m in measures:
        cell = study[(study["organisation"] == org) & (study["round"] == rnd)
                     & (study["measure"] == m)]  # fmt: skip
        if cell.empty or bool(cell["suppressed"].fillna(False).iloc[0]):
            quant_ok = False
            row.update({f"{m}_g": np.nan, f"{m}_ci_low": np.nan, f"{m}_ci_high": np.nan,
                        f"{m}_n": np.nan})  # fmt: skip
            continue
        c = cell.iloc[0]
        row.update({f"{m}_g": c["effect_size"], f"{m}_ci_low": c["ci_low"],
                    f"{m}_ci_high": c["ci_high"], f"{m}_n": c["n"]})  # fmt: skip
        lows.append(float(c["ci_low"]))
        highs.append(float(c["ci_high"]))
        effects.append(
            f"{labels.get(m, m)}: g = {c['effect_size']:.2f} "
            f"[{c['ci_low']:.2f}, {c['ci_high']:.2f}]"
        )
    row["measure_effects"] = "; ".join(effects)
    quant = quant_direction(lows, highs) if quant_ok and lows else None
    row["quant_direction"] = quant or ""
    return quant


def _row(org, rnd, study, orgs, quotes, toned, measures, tone, labels, context) -> dict:
    row: dict = {"organisation": org, "round": rnd}
    quant = _quantitative(row, org, rnd, study, measures, labels)
    row.update(qual_source="", n_toned=np.nan, tone_balance=np.nan, tone_change=np.nan,
               quote="", quote_tone="", quote_2="", quote_2_tone="", quote_kind="",
               quote_2_kind="")  # fmt: skip
    block = orgs[(orgs["group"] == org) & (orgs["round"] == rnd)]
    qual = None
    # Only the themes' published rows: a code hidden in themes.csv stays hidden here.
    block = block[~block["suppressed"].fillna(False).astype(bool)]
    if not block.empty:
        row["n_coded"] = int(block["n_segments"].iloc[0])
        top = block[block["n_coded"] > 0].sort_values(["share", "code"], ascending=[False, True])
        top = top.head(TOP)
        row["themes"] = "; ".join(
            f"{labels.get(code, code)} {share:.0%}"
            + ("" if change != change else f" ({change * 100:+.0f} pp)")
            for code, share, change in top[["code", "share", "change"]].itertuples(index=False)
        )
        here = toned[(toned["organisation"] == org) & (toned["round"] == rnd)]
        before = toned[(toned["organisation"] == org) & (toned["round"] == context["baseline"])]
        if min(len(here), len(before)) >= context["min_n"]:
            qual = _from_tones(row, here, before, context)
        else:
            qual = qual_direction(dict(zip(block["code"], block["change"], strict=True)), tone)
            row["qual_source"] = THEME_TONE
            row["quote"], row["quote_kind"] = _theme_quote(quotes, org, rnd, top, tone, qual)
            row["quote_tone"] = NOT_CODED if row["quote"] else ""
        row["qual_direction"] = qual
    else:
        row.update(n_coded=np.nan, themes="", qual_direction="")
    row["meta_inference"] = meta_inference(quant, qual)
    row["suppressed"] = quant is None or qual is None
    if row["suppressed"]:  # row kept, every statistic empty (as in every table of record)
        keep = {"organisation", "round", "meta_inference", "suppressed"}
        row = {k: (v if k in keep else np.nan) for k, v in row.items()}
    return row


def _from_tones(row: dict, here: pd.DataFrame, before: pd.DataFrame, context: dict) -> str:
    balance, start = tone_balance(here["tone"]), tone_balance(before["tone"])
    change = balance - start
    qual = tone_direction(change)
    row.update(qual_source=SEGMENT_TONE, n_toned=len(here), tone_balance=round(balance),
               tone_change=round(change))  # fmt: skip
    picks = choose_tone_quotes(here, qual, context["seed"])
    keys = [("quote", "quote_tone", "quote_kind"), ("quote_2", "quote_2_tone", "quote_2_kind")]
    for pick, (text, kind, source) in zip(picks, keys, strict=False):
        row[text] = context["redact"](pick["text"])
        row[kind] = pick["tone"]
        row[source] = context["kinds"].get(str(pick["segment"]), OPEN_ANSWER)
    return qual


def _theme_quote(
    quotes: pd.DataFrame, org, rnd, top: pd.DataFrame, tone, qual: str
) -> tuple[str, str]:
    """(the quote of the most prevalent theme whose codebook tone matches ``qual``, else of the
    most prevalent theme; its source kind)."""
    if top.empty:
        return "", ""
    wanted = {"positive": "resource", "negative": "problem"}.get(qual)
    codes = list(top["code"])
    matching = [c for c in codes if wanted is not None and tone.get(c) == wanted]
    for code in matching + codes:
        hit = quotes[(quotes["organisation"] == org) & (quotes["round"] == rnd)
                     & (quotes["code"] == code)]  # fmt: skip
        if len(hit):
            kind = hit["source_kind"].iloc[0] if "source_kind" in hit else OPEN_ANSWER
            return hit["quote"].iloc[0], kind if isinstance(kind, str) else OPEN_ANSWER
    return "", ""


def joint_rule_values(min_n: int) -> dict[str, int]:
    """The numbers the rule shown beside the table states (label ``jd_rule``)."""
    return {
        "threshold": TONE_THRESHOLD,
        "theme_threshold": round(THRESHOLD * 100),
        "min_n": min_n,
    }
