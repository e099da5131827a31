"""The joint display (``joint_display.csv``): numbers and themes side by side.

One row per organisation and non-baseline round:

* **quantitative**: the organisation's change in each headline measure (QWL, ESIS) as Hedges' g
  with its CI, exactly the per-organisation rows of ``meta.csv`` (all the organisation's
  respondents, round minus baseline; :func:`evaluation.analyse.quant.pooling.meta_table`);
* **qualitative**: its three most prevalent themes in that round (share of coded answers and
  change from its baseline share, from ``themes.csv``) and one redacted quote for the first;
* **meta-inference** (the rule, documented in docs/qualitative.md):

  - quantitative direction: ``positive`` if some measure's CI lies above 0 and none below,
    ``negative`` if some lies below 0 and none above, else ``unclear``;
  - qualitative direction: from the change since baseline of the shares of *resource* themes
    minus that of *problem* themes (codebook ``tone``): ``positive`` above +0.05, ``negative``
    below −0.05, else ``unclear``;
  - ``confirms``: both directions agree; ``diverges``: they are opposite; ``expands``: one side
    is unclear, so the other adds what it cannot show; ``inconclusive``: both are unclear;
    ``insufficient``: either side is suppressed or missing (fewer than ``min_n`` respondents or
    coded answers); then the whole row is suppressed, as every table's small groups are. Theme
    rows hidden in ``themes.csv`` are left out of the themes and of the direction.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

THRESHOLD = 0.05
TOP = 3
JOINT_COLUMNS = [
    "organisation", "round", "measure_effects", "quant_direction", "n_coded", "themes",
    "quote", "qual_direction", "meta_inference", "suppressed",
]  # fmt: skip


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
    """Direction from the change in resource minus problem theme shares."""
    resource = sum(v for k, v in changes.items() if tone.get(k) == "resource" and v == v)
    problem = sum(v for k, v in changes.items() if tone.get(k) == "problem" and v == v)
    net = resource - problem
    if net > THRESHOLD:
        return "positive"
    if net < -THRESHOLD:
        return "negative"
    return "unclear"


def meta_inference(quant: str | None, qual: str | None) -> str:
    if quant is None or qual is None:
        return "insufficient"
    if quant == qual and quant != "unclear":
        return "confirms"
    if {quant, qual} == {"positive", "negative"}:
        return "diverges"
    if quant == "unclear" and qual == "unclear":
        return "inconclusive"
    return "expands"


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
) -> pd.DataFrame:
    """``joint_display.csv`` from the study rows of ``meta.csv``, ``themes.csv`` and the
    per-organisation quotes (see the module docstring)."""
    study = meta[(meta["row_type"] == "study") & meta["measure"].isin(measures)]
    orgs = themes[themes["group_by"] == "organisation"]
    organisations = sorted(set(study["organisation"].dropna()) | set(orgs["group"]))
    rows = []
    for org in organisations:
        for rnd in [r for r in rounds if r != baseline]:
            rows.append(_row(org, rnd, study, orgs, quotes, measures, tone, labels))
    return pd.DataFrame(rows, columns=JOINT_COLUMNS + [
        f"{m}_{c}" for m in measures for c in ("g", "ci_low", "ci_high", "n")
    ])  # fmt: skip


def _row(org, rnd, study, orgs, quotes, measures, tone, labels) -> dict:
    row: dict = {"organisation": org, "round": rnd}
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
        if len(top):
            first = quotes[(quotes["organisation"] == org) & (quotes["round"] == rnd)
                           & (quotes["code"] == top["code"].iloc[0])]  # fmt: skip
            row["quote"] = first["quote"].iloc[0] if len(first) else ""
        qual = qual_direction(dict(zip(block["code"], block["change"], strict=True)), tone)
        row["qual_direction"] = qual
    else:
        row.update(n_coded=np.nan, themes="", quote="", qual_direction="")
    row["meta_inference"] = meta_inference(quant, qual)
    row["suppressed"] = quant is None or qual is None
    if row["suppressed"]:  # row kept, every statistic empty (as in every table of record)
        keep = {"organisation", "round", "meta_inference", "suppressed"}
        row = {k: (v if k in keep else np.nan) for k, v in row.items()}
    return row
