"""Theme prevalence (``themes.csv``) and representative quotes (``quotes.csv``).

Unit: an open answer (segment) that human coders coded. An answer *has* a theme when at least
one human coder applied the code (suggestions only if the study asks). Prevalence = answers with
the theme / coded answers, per round, for the whole study and by organisation, actor and
participation; ``change`` is the difference from the same group's baseline share (percentage
points as a proportion). Disclosure: a group with fewer than ``min_n`` coded answers, and a
code applied to fewer than ``min_n`` of them, are primary cells; :mod:`evaluation.disclosure`
chooses secondary cells over all the table's counts and their partitions at once and empties
every hidden row when the table is written. Open text is
never tabulated by small background groups: only these groupings exist, and quotes come only
from organisation × round groups of at least ``min_n`` answers.

Quotes: per theme and round, the answer whose length is closest to the median length of the
answers with that theme (preferring answers both coders agreed on), ties broken by a hash of
the study seed and the answer id, so the choice is deterministic; the text is redacted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import pandas as pd

GROUPINGS = ("all", "organisation", "actor", "participant")
# The round of coded segments whose round is known neither from the open answers nor from the
# codings (plain codings of other material): they are counted under this round, after the study's.
NO_ROUND = "no_round"
THEME_COLUMNS = ["code", "group_by", "group", "round", "n_segments", "n_coded", "share",
                 "change", "suppressed"]  # fmt: skip


def coded_answers(
    codings: pd.DataFrame, answers: pd.DataFrame, actors: dict
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per coded answer with its background: segment, round, organisation,
    participant, actor; one row per answer and code applied, with how many coders applied it)."""
    human = codings[codings["source"].fillna("human").eq("human")]
    seen = human.drop_duplicates("segment")[["segment"]]
    background = answers.rename(columns={"answer_id": "segment"})
    keep = [c for c in ("segment", "round", "organisation", "participant") if c in background]
    base = seen.merge(background[keep], on="segment", how="left")
    missing = base["round"].isna()
    if missing.any():  # segments that are not answers: take round/organisation from the codings
        extra = human.drop_duplicates("segment").set_index("segment")
        for col in ("round", "organisation"):
            base.loc[missing, col] = base.loc[missing, "segment"].map(extra[col])
    base["round"] = base["round"].astype(object).where(base["round"].notna(), NO_ROUND)
    base["actor"] = base["organisation"].map(actors)
    applied = human.drop_duplicates(["segment", "code"])[["segment", "code"]]
    agreed = human.groupby(["segment", "code"])["coder"].nunique().rename("n_coders")
    applied = applied.merge(agreed.reset_index(), on=["segment", "code"])
    return base, applied


def with_no_round(rounds: list[str], base: pd.DataFrame) -> list[str]:
    """The study's rounds, plus :data:`NO_ROUND` when some coded segment has no round."""
    if (base["round"] == NO_ROUND).any() and NO_ROUND not in rounds:
        return [*rounds, NO_ROUND]
    return list(rounds)


def theme_prevalence(
    codings: pd.DataFrame,
    answers: pd.DataFrame,
    *,
    actors: dict[str, str],
    rounds: list[str],
    baseline: str,
    min_n: int,
) -> pd.DataFrame:
    """``themes.csv`` (see the module docstring)."""
    base, applied = coded_answers(codings, answers, actors)
    rounds = with_no_round(rounds, base)
    codes = sorted(applied["code"].unique())
    rows = []
    for group_by in GROUPINGS:
        if group_by != "all" and group_by not in base:
            continue
        labels = base[group_by].astype("string") if group_by != "all" else "all"
        frame = base.assign(group=labels)
        frame = frame[frame["group"].notna() & frame["round"].isin(rounds)]
        sizes = frame.groupby(["group", "round"])["segment"].nunique()
        hits = (
            frame.merge(applied, on="segment")
            .groupby(["group", "round", "code"])["segment"]
            .nunique()
        )
        for (group, rnd), n in sizes.items():
            for code in codes:
                k = int(hits.get((group, rnd, code), 0))
                rows.append((code, group_by, str(group), rnd, int(n), k, k / n if n else np.nan))
    out = pd.DataFrame(rows, columns=THEME_COLUMNS[:7])
    order = {r: i for i, r in enumerate(rounds)}
    base_share = out[out["round"] == baseline].set_index(["code", "group_by", "group"])["share"]
    out["change"] = [
        np.nan if rnd == baseline else share - base_share.get((code, by, group), np.nan)
        for code, by, group, rnd, share in out[["code", "group_by", "group", "round", "share"]]
        .itertuples(index=False)
    ]  # fmt: skip
    # Primary cells only: a group with fewer than min_n coded answers, or a code applied to
    # 1 .. min_n - 1 of them. The rows keep their counts here; evaluation.disclosure.rules.protect
    # chooses the secondary cells over the whole table, empties every hidden row (and the
    # change of a row whose baseline is hidden) when the table is written.
    k = out["n_coded"]
    out["suppressed"] = (out["n_segments"] < min_n) | ((k > 0) & (k < min_n))
    out.attrs.update(min_n=min_n, baseline_round=baseline, actors=dict(actors))
    out["_r"] = out["round"].map(order)
    out["_g"] = out["group_by"].map({g: i for i, g in enumerate(GROUPINGS)})
    out = out.sort_values(["_g", "group", "code", "_r"], kind="mergesort")
    return out.drop(columns=["_r", "_g"]).reset_index(drop=True)


def _tiebreak(seed: int, segment: str) -> str:
    return hashlib.sha256(f"{seed}:{segment}".encode()).hexdigest()


def choose_quote(candidates: pd.DataFrame, seed: int) -> pd.Series | None:
    """The representative answer among ``candidates`` (``segment, text, n_coders``)."""
    if candidates.empty:
        return None
    pool = candidates[candidates["n_coders"] == candidates["n_coders"].max()]
    lengths = pool["text"].str.len()
    median = float(lengths.median())
    ranked = pool.assign(
        _d=(lengths - median).abs(), _h=[_tiebreak(seed, s) for s in pool["segment"]]
    ).sort_values(["_d", "_h"], kind="mergesort")
    return ranked.iloc[0]


def quotes(
    codings: pd.DataFrame,
    answers: pd.DataFrame,
    *,
    actors: dict[str, str],
    rounds: list[str],
    min_n: int,
    seed: int,
    redact: Callable[[object], str],
    by_organisation: bool = False,
) -> pd.DataFrame:
    """``quotes.csv``: one redacted quote per theme × round (× organisation if asked), only
    from organisation × round groups with at least ``min_n`` coded answers."""
    base, applied = coded_answers(codings, answers, actors)
    # Plain Python objects: a text column that is empty in every row (no open answers, or
    # codings without text) must not become an all-null float column texts cannot fill.
    segment = base["segment"].astype(object)
    text = dict(zip(answers["answer_id"], answers["text"], strict=True)) if len(answers) else {}
    base["text"] = pd.Series(segment.map(text), index=base.index, dtype=object)
    if "text" in codings:  # segments that are not open answers carry their own text
        own = codings.drop_duplicates("segment")
        fallback = {
            seg: t for seg, t in zip(own["segment"], own["text"], strict=True) if pd.notna(t)
        }
        base["text"] = base["text"].where(base["text"].notna(), segment.map(fallback))
    rounds = with_no_round(rounds, base)
    # A group's size counts its sources: each open answer and feedback comment, but a document
    # once however many of its paragraphs were coded (answers' ``document`` column).
    kinds, units = source_kinds(answers), _source_units(answers)
    base["_unit"] = segment.map(units).where(segment.map(units).notna(), segment)
    # segments of no known organisation form one group of their own (dropna=False)
    size = base.groupby(["organisation", "round"], dropna=False)["_unit"].transform("nunique")
    eligible = base[(size >= min_n) & base["text"].notna() & base["round"].isin(rounds)]
    merged = eligible.merge(applied, on="segment")
    keys = ["code", "round"] + (["organisation"] if by_organisation else [])
    rows = []
    for key, group in merged.groupby(keys, sort=True, dropna=False):
        pick = choose_quote(group, seed)
        if pick is None:
            continue
        record = dict(zip(keys, key, strict=True))
        record.update(
            segment=pick["segment"],
            organisation=pick["organisation"],
            quote=redact(pick["text"]),
            source_kind=kinds.get(pick["segment"], OPEN_ANSWER),
            n_candidates=len(group),
        )
        rows.append(record)
    columns = ["code", "round", "organisation", "segment", "quote", "source_kind", "n_candidates"]
    return pd.DataFrame(rows, columns=columns)


OPEN_ANSWER = "open_answer"  # the source kind of a segment that is not a document or comment


def source_kinds(answers: pd.DataFrame) -> dict[str, str]:
    """Segment id -> its source kind (``open_answer``, ``workshop_notes``, ``interview_notes``,
    ``other``, ``feedback_comment``) from the answers' ``kind`` column (open answers without
    it are ``open_answer``)."""
    if "kind" not in answers or answers.empty:
        return {}
    kind = answers["kind"].astype(object).where(answers["kind"].notna(), OPEN_ANSWER)
    return dict(zip(answers["answer_id"].astype(str), kind, strict=True))


def _source_units(answers: pd.DataFrame) -> dict[str, str]:
    """Segment id -> the source it counts as for a group's size (its document, else itself)."""
    if "document" not in answers or answers.empty:
        return {}
    ids = answers["answer_id"].astype(str)
    doc = answers["document"]
    unit = ("doc:" + doc.astype(str)).where(doc.notna(), ids)
    return dict(zip(ids, unit, strict=True))
