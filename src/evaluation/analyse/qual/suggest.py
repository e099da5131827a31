"""Suggested codes from the codebook's Finnish keywords: a help for coders, never a code.

Suggestions are kept apart from human coding: ``coder = suggestion`` and ``source =
suggestion``. Inter-coder reliability, theme prevalence and quotes use human codes only unless
a study asks otherwise (``analysis.qualitative.include_suggestions``).

Matching. Texts are normalised (Unicode NFC, lower case, letters only) and split into words;
each word is also stemmed with the Snowball Finnish stemmer. A codebook keyword (a stem or
prefix such as ``turvalli`` or ``keskustel``) matches a word when

* the word starts with the keyword ("turvallisuuden", "keskustelimme"), or
* the word's stem starts with the keyword's stem, or
* the keyword (5 letters or more) occurs inside the word: Finnish compounds put the meaningful
  part last ("työkuormitus" contains "kuormit").

Each code gets a score (how many of its keywords matched) and the matched words as evidence.
Texts are redacted (``redact``, in their original letter case) before they are normalised, so
no name, e-mail address, phone number or identity code can become an evidence word.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

import pandas as pd

SUGGESTION = "suggestion"
INFIX_MIN = 5
_LETTERS = re.compile(r"[^\w-]+|[\d_]+")


@lru_cache(maxsize=1)
def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("finnish")


def normalise(text: object) -> str:
    """NFC, lower case, letters and hyphens only, single spaces."""
    if text is None or (isinstance(text, float) and text != text):
        return ""
    clean = _LETTERS.sub(" ", unicodedata.normalize("NFC", str(text)).lower())
    return " ".join(clean.split())


def tokens(text: object) -> list[str]:
    """Words of a text; hyphenated compounds also as their parts."""
    out = []
    for word in normalise(text).split():
        out.append(word.strip("-"))
        if "-" in word:
            out += [part for part in word.split("-") if part]
    return [w for w in out if w]


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _stemmer().stemWord(word)


def _matches(word: str, word_stem: str, keyword: str, keyword_stem: str) -> bool:
    return (
        word.startswith(keyword)
        or (len(keyword_stem) >= 3 and word_stem.startswith(keyword_stem))
        or (len(keyword) >= INFIX_MIN and keyword in word)
    )


def suggest_codes(
    texts: pd.DataFrame,
    codebook: pd.DataFrame,
    *,
    redact: Callable[[object], str] | None = None,
) -> pd.DataFrame:
    """Suggested codes for ``texts`` (``segment, text``) from the codebook keywords:
    ``segment, code, coder, source, evidence, score``, one row per segment and code.

    ``redact`` (e.g. :meth:`evaluation.disclosure.redact.Redactor.words_only`) is applied to each
    text before it is lower-cased and split into words.

    Each distinct word is stemmed and matched against the rules once (a study's vocabulary is
    far smaller than its word count)."""
    rules = []
    for rec in codebook.to_dict("records"):
        for keyword in rec.get("keywords") or []:
            k = normalise(keyword).replace(" ", "")
            if k:
                rules.append((rec["id"], k, stem(k)))
    hits_of: dict[str, tuple[tuple[str, str], ...]] = {}

    def hits(word: str) -> tuple[tuple[str, str], ...]:
        if word not in hits_of:
            word_stem = stem(word)
            hits_of[word] = tuple(
                (code, keyword)
                for code, keyword, keyword_stem in rules
                if _matches(word, word_stem, keyword, keyword_stem)
            )
        return hits_of[word]

    def suggested(text: object) -> list[tuple[str, str, int]]:
        """(code, evidence, score) of one text."""
        if redact is not None:
            text = redact(text)
        found: dict[str, dict[str, set[str]]] = {}
        for word in tokens(text):
            for code, keyword in hits(word):
                found.setdefault(code, {}).setdefault(keyword, set()).add(word)
        return [
            (code, ", ".join(sorted(set().union(*by_keyword.values()))), len(by_keyword))
            for code, by_keyword in found.items()
        ]

    # A text's suggestions depend on the text only: each distinct text is redacted and
    # matched once (short answers repeat: "ei", "hyvä", a template's sentences).
    of_text: dict[str, list[tuple[str, str, int]]] = {}
    rows = []
    for segment, text in zip(texts["segment"], texts["text"], strict=True):
        if isinstance(text, str):
            if text not in of_text:
                of_text[text] = suggested(text)
            found_rows = of_text[text]
        else:
            found_rows = suggested(text)
        rows += [(segment, code, SUGGESTION, SUGGESTION, evidence, score)
                 for code, evidence, score in found_rows]  # fmt: skip
    out = pd.DataFrame(rows, columns=["segment", "code", "coder", "source", "evidence", "score"])
    return out.sort_values(["segment", "code"], kind="mergesort").reset_index(drop=True)


def suggestion_quality(suggestions: pd.DataFrame, human: pd.DataFrame) -> pd.DataFrame:
    """Precision and recall of the suggestions against human coding, per code and overall
    (``all``, micro-averaged), on the segments human coders coded. A segment "has" a code when
    at least one human coder applied it."""
    if "source" in human:
        human = human[human["source"].fillna("human").eq("human")]
    segments = set(human["segment"])
    truth = set(zip(human["segment"], human["code"], strict=True))
    guessed = {
        (s, c)
        for s, c in zip(suggestions["segment"], suggestions["code"], strict=True)
        if s in segments
    }
    codes = sorted({c for _, c in truth} | {c for _, c in guessed})
    rows = []
    for code in [*codes, "all"]:
        t = {p for p in truth if code in ("all", p[1])}
        g = {p for p in guessed if code in ("all", p[1])}
        both = len(t & g)
        precision = both / len(g) if g else float("nan")
        recall = both / len(t) if t else float("nan")
        f1 = (
            2 * precision * recall / (precision + recall)
            if g and t and (precision + recall) > 0
            else float("nan")
        )
        rows.append((code, len(g), len(t), both, precision, recall, f1, len(segments)))
    return pd.DataFrame(
        rows,
        columns=["code", "n_suggested", "n_human", "n_both", "precision", "recall", "f1",
                 "n_segments"],
    )  # fmt: skip
