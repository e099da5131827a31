"""Redaction of personal data in open text: names, e-mail addresses, phone numbers and Finnish
personal identity codes (henkilötunnus). Every quote and every text shown in a report passes
through :func:`redact` (or :class:`Redactor`).

What is replaced, and what must survive (see tests/test_redact.py for each case):

* e-mail addresses -> ``[sähköposti]``;
* personal identity codes ``ddmmyyCnnnX`` with any century sign (``+ - A B C D E F Y X W V U``),
  whether or not the check character is valid -> ``[hetu]``;
* Finnish phone numbers, national (leading 0: ``040 123 4567``, ``040-1234567``,
  ``(09) 123 4567``) or international (``+358 40 1234567``, ``+358401234567``), 7 to 12 digits
  -> ``[puhelin]``; dates (``15.10.2025``), times (``klo 14.30``), money (``1 200 €``),
  percentages, years and postal codes (5 digits) survive;
* names: the study's list (``study.yaml: redaction: {names: [...]}``), matched with Finnish case
  endings ("Virtanen" also as "Virtaselta", "Mervi" as "Mervin"), and any pair of consecutive
  capitalised words that is not a known organisation, unit, actor or other configured phrase
  -> ``[nimi]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

PLACEHOLDERS = {
    "email": "[sähköposti]",
    "identity_code": "[hetu]",
    "phone": "[puhelin]",
    "name": "[nimi]",
}

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
IDENTITY_CODE = re.compile(
    r"(?<![\w])(0[1-9]|[12]\d|3[01])(0[1-9]|1[0-2])(\d{2})[-+A-FYXWVU](\d{3})[0-9A-Y](?![\w])",
    re.IGNORECASE,
)
PHONE = re.compile(
    r"(?<![\w.,+])(?:\+358[\s-]?(?:\(0\)\s?)?|\(0\d{1,2}\)\s?|0)\d[\d\s-]{4,16}\d(?!\w|[.,]\d)"
)
WORD = r"[A-ZÅÄÖ][a-zåäöéü]+(?:-[A-ZÅÄÖ]?[a-zåäöéü]+)?"
NAME_RUN = re.compile(rf"\b{WORD}(?:[ \t]+{WORD})+\b")
SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n\s*)$")


def _phone_ok(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    if match.startswith("+358"):
        return 9 <= len(digits) <= 13
    return 7 <= len(digits) <= 12


def _name_pattern(name: str) -> str:
    """A regex for one configured name word with Finnish case endings."""
    word = re.escape(name.strip())
    if name.endswith("nen") and len(name) > 4:  # Virtanen -> Virtase-lta, Virtasen
        return rf"\b{re.escape(name[:-3])}(?:nen|s)\w*"
    return rf"\b{word}\w*"


@dataclass
class Redactor:
    """Redacts with a study's configuration: names to remove and phrases to keep."""

    names: Iterable[str] = ()
    keep: Iterable[str] = ()
    placeholders: Mapping[str, str] = field(default_factory=lambda: dict(PLACEHOLDERS))

    def __post_init__(self) -> None:
        words = sorted({w for n in self.names for w in str(n).split() if len(w) >= 2}, key=len)
        self._names = (
            re.compile("|".join(_name_pattern(w) for w in reversed(words))) if words else None
        )
        self._keep = {k.strip().lower() for k in self.keep if k and k.strip()}
        self._keep_words = {w for k in self._keep for w in k.split()}

    def __call__(self, text: object) -> str:
        if text is None or (isinstance(text, float) and text != text):
            return ""
        out = EMAIL.sub(self.placeholders["email"], str(text))
        out = IDENTITY_CODE.sub(self.placeholders["identity_code"], out)
        out = PHONE.sub(
            lambda m: self.placeholders["phone"] if _phone_ok(m.group(0)) else m.group(0), out
        )
        if self._names is not None:
            out = self._names.sub(self.placeholders["name"], out)
        out = NAME_RUN.sub(self._run, out)
        name = re.escape(self.placeholders["name"])
        return re.sub(rf"{name}(?:\s+{name})+", self.placeholders["name"], out)  # one per name

    def _run(self, m: re.Match) -> str:
        """Two or more capitalised words in a row: a name, unless a known phrase. A sentence's
        first word is capitalised anyway: in a run of three or more it is kept."""
        words = m.group(0).split()
        phrase = " ".join(words).lower()
        if any(phrase in k for k in self._keep) or all(
            w.lower() in self._keep_words for w in words
        ):
            return m.group(0)
        at_start = SENTENCE_START.search(m.string[: m.start()]) is not None
        if at_start and len(words) >= 3:
            return f"{words[0]} {self.placeholders['name']}"
        return self.placeholders["name"]


def redact(text: object, names: Iterable[str] = (), keep: Iterable[str] = ()) -> str:
    """Redact one text (see the module docstring)."""
    return Redactor(names=names, keep=keep)(text)


def study_redactor(study, labels: Mapping[str, str] | None = None) -> Redactor:
    """The redactor of a study: names from ``redaction.names``; organisations, units, actors,
    the study name and ``redaction.keep`` are phrases to keep; placeholders from the labels."""
    config = study.raw.get("redaction") or {}
    keep = [study.name, *config.get("keep", [])]
    for name, org in study.organisations.items():
        keep += [name, org.actor or "", *org.headcount]
    labels = labels or {}
    placeholders = {k: labels.get(f"redacted_{k}", v) for k, v in PLACEHOLDERS.items()}
    return Redactor(names=config.get("names", []), keep=keep, placeholders=placeholders)
