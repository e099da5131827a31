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

Quotes: per theme, round and source kind (open answer, workshop notes, interview notes, other
document, feedback comment; × organisation if asked), the segment whose length is closest to
the median length of the segments with that theme (preferring those all coders agreed on),
ties broken by a hash of the study seed and the segment id, so the choice is deterministic;
the text is redacted. A theme coded in workshop notes so gets a workshop-notes quote beside
the open-answer quote.

Which segments may be quoted (:func:`quotable`), by who wrote them:

* respondents' own texts (open answers, feedback comments): only from organisation × round
  groups with at least ``min_n`` texts *of the same kind*. Documents never count towards this
  size, so a workshop note cannot make three answers quotable;
* workshop notes (and ``other`` documents): written by the project's facilitators about a
  group, not one respondent's answer: quotable whatever the number of answers, after redaction
  (names, e-mail addresses, phone numbers, identity codes);
* interview notes: one person's account, so treated like a respondent's text: only from
  organisation × round groups with at least ``min_n`` interview documents (a document counts
  once however many of its paragraphs were coded).
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
    distance = (lengths - float(lengths.median())).abs()
    closest = pool[(distance == distance.min()).to_numpy()]
    # the seeded hash breaks the tie among the closest only (hashing every candidate cost
    # seconds at national size); min() returns the first of equal hashes, as a stable sort
    hashes = [_tiebreak(seed, s) for s in closest["segment"]]
    return closest.iloc[min(range(len(hashes)), key=hashes.__getitem__)]


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
    by_kind: bool = True,
) -> pd.DataFrame:
    """``quotes.csv``: one redacted quote per theme × round × source kind (× organisation if
    asked; ``by_kind=False``: one over all kinds), from the segments :func:`quotable` allows
    (see the module docstring)."""
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
    kinds = source_kinds(answers)
    base["source_kind"] = segment.map(kinds).where(segment.map(kinds).notna(), OPEN_ANSWER)
    ok = quotable(base, _source_units(answers), min_n=min_n)
    eligible = base[ok & base["text"].notna() & base["round"].isin(rounds)]
    merged = eligible.merge(applied, on="segment")
    keys = ["code", "round"] + (["organisation"] if by_organisation else [])
    keys += ["source_kind"] if by_kind else []
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
            source_kind=pick["source_kind"],
            n_candidates=len(group),
        )
        rows.append(record)
    columns = ["code", "round", "organisation", "segment", "quote", "source_kind", "n_candidates"]
    return pd.DataFrame(rows, columns=columns)


# Source kinds written by respondents (each text one person's) and by the project's facilitators
# about a group (see the module docstring).
RESPONDENT_KINDS = ("open_answer", "feedback_comment", "interview_notes")
GROUP_NOTE_KINDS = ("workshop_notes", "other")


def quotable(base: pd.DataFrame, units: dict[str, str], *, min_n: int) -> pd.Series:
    """Which segments of ``base`` (``segment, organisation, round, source_kind``) may be quoted
    (the rules of the module docstring): a respondent's text when its organisation × round has
    at least ``min_n`` sources of its kind (``units``: segment -> the source it counts as, its
    document for a document paragraph); workshop notes and other documents always."""
    # as objects: a segment id column typed by Arrow would make an empty mapping's result a
    # column of floats that cannot take the ids back
    unit = pd.Series([units.get(x, x) for x in base["segment"]], index=base.index, dtype=object)
    # segments of no known organisation form one group of their own (dropna=False)
    size = (
        base.assign(_unit=unit)
        .groupby(["organisation", "round", "source_kind"], dropna=False)["_unit"]
        .transform("nunique")
    )
    return base["source_kind"].isin(GROUP_NOTE_KINDS) | (size >= min_n)


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


DOCUMENT_KINDS = ("workshop_notes", "interview_notes", "other")  # as evaluation.io.documents
DOCUMENT_COLUMNS = ["document", "source_kind", "round", "organisation", "n_paragraphs",
                    "n_paragraphs_coded", "themes_coded"]  # fmt: skip
THEME_SEPARATOR = "; "  # as evaluation.report.display.LIST_SEPARATOR: shown by their labels


def document_table(
    codings: pd.DataFrame, answers: pd.DataFrame, *, rounds: list[str]
) -> pd.DataFrame:
    """``documents.csv``: one row per workshop/interview notes document of ``answers`` (their
    ``document`` as given: pass the pseudonymised answers, never file names or titles): its
    kind, round, organisation, number of paragraphs, paragraphs coded, and the codes applied
    to it (``"; "``-joined, sorted). Documents hold no respondent counts: nothing to suppress."""
    if answers.empty or "document" not in answers or "kind" not in answers:
        return pd.DataFrame(columns=DOCUMENT_COLUMNS)
    docs = answers[answers["kind"].isin(DOCUMENT_KINDS) & answers["document"].notna()]
    if docs.empty:
        return pd.DataFrame(columns=DOCUMENT_COLUMNS)
    human = (
        codings[codings["source"].fillna("human").eq("human")] if "source" in codings else codings
    )
    applied = human.drop_duplicates(["segment", "code"])[["segment", "code"]]
    coded = docs.rename(columns={"answer_id": "segment"}).merge(applied, on="segment")
    rows = []
    for document, group in docs.groupby("document", sort=True):
        hits = coded[coded["document"] == document]
        first = group.iloc[0]
        rows.append({
            "document": document, "source_kind": first["kind"], "round": first["round"],
            "organisation": first["organisation"], "n_paragraphs": len(group),
            "n_paragraphs_coded": int(hits["segment"].nunique()),
            "themes_coded": THEME_SEPARATOR.join(sorted(hits["code"].astype(str).unique())),
        })  # fmt: skip
    out = pd.DataFrame(rows, columns=DOCUMENT_COLUMNS)
    order = {r: i for i, r in enumerate(rounds)}
    out["_r"] = out["round"].map(order).fillna(len(order))
    out = out.sort_values(["_r", "organisation", "document"], kind="mergesort")
    return out.drop(columns=["_r"]).reset_index(drop=True)


def document_quotes(quote_table: pd.DataFrame) -> pd.DataFrame:
    """``document_quotes.csv``: the rows of a :func:`quotes` table made ``by_organisation``
    whose source is a document (workshop or interview notes, other), so each organisation's
    report can show the quotes of its own documents."""
    return quote_table[quote_table["source_kind"].isin(DOCUMENT_KINDS)].reset_index(drop=True)
