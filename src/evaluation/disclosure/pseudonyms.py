"""Pseudonyms for coders and documents in published tables.

Coder names (the users of a REFI-QDA project, the ``coder`` column of ``codings.csv``) and
document names (a ``.qdpx`` source, the ``document`` column, a segment that is not an open
answer's id) may name people: "haastattelu_Mervi_Virtanen.docx", "mervi.virtanen". Tables under
``reports/`` show them as ``Coder 1``, ``Coder 2`` ... and ``D1``, ``D2`` ... (the words come
from the label files: ``pseudonym_coder``, ``pseudonym_document``), numbered in sorted order of
the real names, so the same inputs give the same pseudonyms. Open answers keep their ids
(``answer_id`` is the study's own key). A document paragraph (``<document>#p<k>``, see
:mod:`evaluation.io.documents`) is shown as its document's pseudonym and its number
(``D1#p3``), so a document's paragraphs stay together. The suggestion pseudo-coder keeps its
name. The key
(real name -> pseudonym) is written to ``data/processed/pseudonyms.csv`` for the team, never
to ``reports/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from evaluation.analyse.qual.suggest import SUGGESTION

_PART = re.compile(r"^(?P<document>.*)@(?P<start>\d+)-(?P<end>\d+)$", re.DOTALL)
_PARAGRAPH = re.compile(r"^(?P<document>.+)#p(?P<k>\d+)$", re.DOTALL)


@dataclass(frozen=True)
class Pseudonyms:
    coders: Mapping[str, str]
    documents: Mapping[str, str]
    answer_ids: frozenset[str]

    def coder(self, name: object) -> str:
        """The pseudonym of one coder (the suggestion pseudo-coder keeps its name)."""
        key = str(name)
        if key == SUGGESTION:
            return key
        return self.coders.get(key, self.coders.get(key.strip(), "?"))

    def coder_list(self, names: object) -> str:
        """``"a, b"`` -> ``"Coder 1, Coder 2"`` (as in ``disagreements.csv``)."""
        if names is None or (isinstance(names, float) and names != names) or names == "":
            return ""
        return ", ".join(self.coder(n.strip()) for n in str(names).split(",") if n.strip())

    def segment(self, segment: object) -> str:
        """An open answer's id as it is; a document (or part of one) by its pseudonym."""
        key = str(segment)
        if key in self.answer_ids:
            return key
        m = _PART.match(key)
        if m and m.group("document") in self.answer_ids:
            return key
        if m and m.group("document") in self.documents:
            return f"{self.documents[m.group('document')]}@{m.group('start')}-{m.group('end')}"
        p = _PARAGRAPH.match(key)
        if key not in self.documents and p and p.group("document") in self.documents:
            return f"{self.documents[p.group('document')]}#p{p.group('k')}"
        return self.documents.get(key, "?")

    def document(self, name: object) -> str:
        return self.documents.get(str(name), "?")

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``frame`` with every coder, segment and document column pseudonymised."""
        out = frame.copy()
        if "segment" in out:
            out["segment"] = out["segment"].map(self.segment)
        if "document" in out:
            out["document"] = out["document"].map(
                lambda d: d if d is None or d != d else self.document(d)
            )
        if "coder" in out:
            out["coder"] = out["coder"].map(self.coder)
        for column in ("coders_with", "coders_without"):
            if column in out:
                out[column] = out[column].map(self.coder_list)
        return out

    def key(self) -> pd.DataFrame:
        """``kind, name, pseudonym``: the key, for ``data/processed/`` only."""
        rows = [("coder", k, v) for k, v in self.coders.items()]
        rows += [("document", k, v) for k, v in self.documents.items()]
        return pd.DataFrame(rows, columns=["kind", "name", "pseudonym"])


def pseudonyms(
    codings: pd.DataFrame,
    answer_ids: Iterable[object] = (),
    *,
    labels: Mapping[str, str] | None = None,
    documents: Iterable[object] = (),
) -> Pseudonyms:
    """The pseudonyms of a study's coders and documents (see the module docstring).
    ``documents``: more document names to number (e.g. the study's documents that no coder
    coded, so the table of documents can list them)."""
    labels = labels or {}
    coder_label = labels.get("pseudonym_coder", "Coder {n}")
    document_label = labels.get("pseudonym_document", "D{n}")
    answers = frozenset(str(a) for a in answer_ids)
    coders = sorted({str(c) for c in codings.get("coder", pd.Series(dtype=str)).dropna()})
    coders = [c for c in coders if c != SUGGESTION]
    names: set[str] = {str(d) for d in documents if d is not None and d == d}
    if "document" in codings:
        names |= {str(d) for d in codings["document"].dropna()} - answers
    for seg in codings.get("segment", pd.Series(dtype=str)).dropna().astype(str):
        if seg in answers:
            continue
        m = _PART.match(seg) or _PARAGRAPH.match(seg)
        if m is None or m.group("document") not in answers:
            names.add(m.group("document") if m else seg)
    names -= answers
    return Pseudonyms(
        coders={c: coder_label.format(n=i) for i, c in enumerate(coders, start=1)},
        documents={d: document_label.format(n=i) for i, d in enumerate(sorted(names), 1)},
        answer_ids=answers,
    )
