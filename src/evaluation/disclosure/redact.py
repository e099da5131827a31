"""Redaction of personal data in open text: names, e-mail addresses, phone numbers and Finnish
personal identity codes (henkilötunnus). Every quote and every text shown in a report passes
through :func:`redact` (or :class:`Redactor`), and so does the text of a failed notebook's error
(:func:`scrub_error`).

Redaction fails closed: when in doubt, a string goes. What is replaced, and what must survive
(tests/test_redact.py and tests/test_redaction_attack.py have a case for each; the placeholders
are labels, ``redacted_*`` in config/labels/*.yaml, shown here in Finnish):

* e-mail addresses -> ``[sähköposti]``, also ``x@localhost``, ``x(at)example.fi``,
  ``x [at] example dot fi``;
* personal identity codes ``ddmmyyCnnnX`` with any century sign (``+ - A–F U–Y``), an en dash,
  spaces around the sign, a space instead of it, glued to a word (``hetu131052-308T``), whether
  or not the check character is valid; without any sign only with a valid check character
  -> ``[hetu]``;
* Finnish phone numbers, national (leading 0: ``040 123 4567``, ``040.123.4567``,
  ``(09) 123 4567``, ``puh.0401234567``) or international (``+358 40 1234567``, ``00358 40
  1234567``, ``358 40 123 4567``), 7 to 12 digits -> ``[puhelin]``; dates (``15.10.2025``,
  ``01.02.2025``), times (``klo 09.30–10.00``), money (``1 200 €``, ``358 400 €``),
  percentages, years and postal codes (5 digits) survive;
* names -> ``[nimi]``:

  - the study's list (``study.yaml: redaction: {names: [...]}``), each word matched in any
    letter case with Finnish case endings and consonant gradation ("Virtanen" also as
    "virtaselle", "VIRTASEN"; "Pekka" as "Pekan"; "O'Brien" as "O'Brienille");
  - a capitalised word next to a configured name: the first name before a configured surname
    ("Pekka Virtanen" with only "Virtanen" configured) and the surname after a configured first
    name;
  - any run of two or more capitalised words (any alphabet: "Jana Nováková") that is not a
    configured organisation, unit, actor, the study name or a ``redaction.keep`` phrase; a
    sentence's first word is capitalised anyway, so in a run of three or more it is kept;
  - a single capitalised word that looks foreign-made ("O'Brien", "McDonald", or letters
    outside the Finnish alphabet, "Nováková", when not at the start of a sentence).

  Organisation, unit and actor names of several words are protected as whole phrases (also
  inflected), so a person whose name is a word of an organisation's name is still removed
  elsewhere; a configured name inside such a phrase is kept there.

What it cannot do: a name that is not configured and is written in lower case, or alone as one
capitalised word of the Finnish alphabet ("kysy mervilta", "Kysy Mervilta"), is not recognised;
a configured name that is also a common word ("Koski", "Anna") is removed as that word too.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

# What replaces each kind of personal data: the label ``redacted_<kind>`` of the report
# language (config/labels/*.yaml; Finnish ``[nimi]``, ``[sähköposti]``, ``[puhelin]``, ``[hetu]``).
PLACEHOLDER_KINDS = ("email", "identity_code", "phone", "name")


@cache
def _default_labels() -> dict[str, str]:
    """The shipped labels of the package's default study language (read once)."""
    from evaluation.config import Study, load_labels

    return load_labels(Study.language)


def placeholder_labels(labels: Mapping[str, str] | None = None) -> dict[str, str]:
    """The placeholder of each kind of personal data: ``redacted_<kind>`` from ``labels`` (the
    study's labels in its report language), else from the shipped labels of the default
    language."""
    default = _default_labels()
    given = labels or {}
    return {
        kind: given.get(f"redacted_{kind}") or default[f"redacted_{kind}"]
        for kind in PLACEHOLDER_KINDS
    }


_BLANK = "[ \t\u00a0\u202f]"

# --- e-mail -------------------------------------------------------------------------------
_AT = r"(?:[@＠]|\s*[\(\[\{<]\s*(?:at|ät|miuku(?:mauku)?)\s*[\)\]\}>]\s*)"
_DOT = r"(?:\.|\s*[\(\[\{<]\s*(?:dot|piste)\s*[\)\]\}>]\s*|\s+(?:dot|piste)\s+)"
_LABEL = r"[^\W_](?:[\w-]*[^\W_])?"
EMAIL = re.compile(rf"(?<![\w.+'-])[\w.+'-]*[^\W_]{_AT}{_LABEL}(?:{_DOT}{_LABEL})*", re.IGNORECASE)

# --- identity codes -----------------------------------------------------------------------
_HETU_DATE = r"(?:0[1-9]|[12]\d|3[01])(?:0[1-9]|1[0-2])\d{2}"
_HETU_SIGN = r"[-+–—‐‑−A-FU-Y]"
IDENTITY_CODE = re.compile(
    rf"(?<!\d){_HETU_DATE}(?:{_BLANK}?{_HETU_SIGN}{_BLANK}?|{_BLANK})\d{{3}}[0-9A-Y]?(?!\d)",
    re.IGNORECASE,
)
_HETU_BARE = re.compile(rf"(?<!\d)({_HETU_DATE}\d{{3}})([0-9A-Y])(?!\d)", re.IGNORECASE)
_HETU_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"

# --- phone numbers ------------------------------------------------------------------------
_PSEP = rf"(?:{_BLANK}?[-–./]{_BLANK}?|{_BLANK})"
_BODY = rf"\d(?:{_PSEP}?\d){{4,13}}"
PHONE = re.compile(
    r"(?<![\d+])(?<!\d[.,])(?:"
    rf"(?:(?:\+|00){_BLANK}?358|358){_PSEP}?(?:\(0\){_BLANK}?)?{_BODY}"
    rf"|\(0\d{{1,3}}\){_BLANK}?{_BODY}"
    rf"|0{_BODY}"
    r")(?!\d)(?![.,]\d)"
)
_DATE_OR_TIME = re.compile(r"(?<!\d)\d{1,2}[.:/]\d{1,2}(?:[.:/](?:\d{4}|\d{2}))?(?!\d)")

# --- names --------------------------------------------------------------------------------
_LETTER = r"[^\W\d_]"
WORD = re.compile(rf"{_LETTER}+(?:['’\-‐]{_LETTER}+)*")
_HYPHEN = re.compile("[-‐]")
_JOIN = re.compile(f"{_BLANK}+")
_OPENERS = set(" \t\u00a0\u202f\r\"'“”«»([–—-")
_ENDERS = set(".!?:;…\n")
_FINNISH = set("abcdefghijklmnopqrstuvwxyzåäöšž'’-‐")
_FOREIGN_MADE = re.compile(r"^(?:[^\W\d_]['’][^\W\d_]*[A-ZÅÄÖ]|Ma?c[A-Z])", re.UNICODE)
_VOWELS = "aeiouyäöé"
_CASE = (
    "n|t|lle|lla|llä|lta|ltä|ssa|ssä|sta|stä|ksi|na|nä|ta|tä|tta|ttä|ine|ineen|"
    "h[aeiouyäö]n|seen|siin|ja|jä|en|in|ien|jen|iden|itten"
)
_ENDING = (
    rf"(?:[{_VOWELS}]{{0,2}}(?:{_CASE})?)?(?:ni|si|mme|nne|nsa|nsä)?"
    r"(?:kin|kaan|kään|ko|kö|han|hän|pa|pä)?"
)
_GRADATION = (
    ("kk", "k"), ("pp", "p"), ("tt", "t"), ("nk", "ng"), ("mp", "mm"), ("lt", "ll"),
    ("nt", "nn"), ("rt", "rr"), ("ht", "hd"), ("t", "d"), ("p", "v"),
)  # fmt: skip


def _phone_ok(match: str) -> bool:
    if _DATE_OR_TIME.search(match):
        return False
    digits = re.sub(r"\D", "", match)
    groups = re.findall(r"\d+", match)
    if match.startswith("+"):
        return 9 <= len(digits) <= 13
    if match.startswith("00358"):
        return 11 <= len(digits) <= 15
    if match.startswith("358"):  # bare country code: "358 40 123 4567", not "358 400 €"
        return 10 <= len(digits) <= 13 and (len(groups) == 1 or len(groups[1]) <= 2)
    return 7 <= len(digits) <= 12


def _bare_identity_code(m: re.Match) -> bool:
    """A sign-less identity code (ddmmyynnnX) only when its check character is right."""
    return _HETU_CHECK[int(m.group(1)) % 31] == m.group(2).upper()


def _apostrophes(text: str) -> str:
    return re.escape(text).replace("'", "['’]").replace("’", "['’]")


def _stems(word: str) -> set[str]:
    """The stems a name word is inflected from (see :func:`inflected`)."""
    w = unicodedata.normalize("NFC", word.strip())
    low = w.lower()
    stems = {w}
    if low.endswith("nen") and len(w) > 4:
        stems.add(w[:-3] + "s")
    elif len(w) > 3 and low[-1] == "s" and low[-2] in _VOWELS:
        stems.add(w[:-1] + "ks")
    if low[-1:] and low[-1] in _VOWELS:
        head, vowel = w[:-1], w[-1]
        weak = {head}
        for strong, soft in _GRADATION:
            if head.lower().endswith(strong) and len(head) > len(strong):
                weak.add(head[: len(head) - len(strong)] + soft)
                break
        for h in weak:
            stems.add(h + vowel)
            if low[-1] == "i":
                stems.add(h + "e")
    return stems


def inflected(word: str) -> str:
    """A regex for one name word with Finnish case endings, possessive suffixes and clitics:
    strong and weak grade ("Pekka", "Pekan"), -nen names ("Virtanen", "Virtase-lle",
    "Virtas-ta"), -s names ("Markus", "Markukse-n"), -i names ("Lahti", "Lahde-n") and
    consonant-final foreign names ("Peter-i-lle", "O'Brien:lle"). Use with re.IGNORECASE."""
    stems = sorted(_stems(word), key=len, reverse=True)
    alternatives = "|".join(_apostrophes(s) for s in stems)
    if word.strip()[-1:].lower() in _VOWELS:
        return rf"(?:{alternatives}){_ENDING}"
    return rf"(?:{alternatives})(?:i[{_VOWELS}]?|['’:])?{_ENDING}(?:['’]s)?"


def _prefix(word: str) -> str:
    return word[:2].lower().replace("’", "'")


def _sentence_start(text: str, pos: int) -> bool:
    """Whether the word at ``pos`` starts the text, a sentence, a line or a quotation."""
    i = pos - 1
    while i >= 0 and text[i] in _OPENERS:
        i -= 1
    return i < 0 or text[i] in _ENDERS


def _capitalised(word: str) -> bool:
    return word[0].isupper() and any(c.islower() for c in word)


def _shouting(word: str) -> bool:
    return len(word) >= 2 and word.isupper()


@dataclass
class Redactor:
    """Redacts with a study's configuration: names to remove and phrases to keep."""

    names: Iterable[str] = ()
    keep: Iterable[str] = ()
    placeholders: Mapping[str, str] = field(default_factory=placeholder_labels)

    def __post_init__(self) -> None:
        self.names = tuple(str(n) for n in self.names if n)
        self.keep = tuple(str(k) for k in self.keep if k)
        # Each configured name word and its role: first (a first name), last (a surname),
        # any (a one-word entry, or both).
        roles: dict[str, set[str]] = {}
        for entry in self.names:
            words = [w for w in WORD.findall(unicodedata.normalize("NFC", entry)) if len(w) >= 2]
            for i, w in enumerate(words):
                role = "any" if len(words) == 1 else "first" if i == 0 else "last"
                roles.setdefault(w.lower(), set()).add(role)
        self._roles = {w: ("any" if len(r) > 1 else r.pop()) for w, r in roles.items()}
        self._prefixes = {_prefix(s) for w in self._roles for s in _stems(w)}
        self._role_res = [
            (role, re.compile("|".join(inflected(w) for w, r in self._roles.items() if r == role),
                              re.IGNORECASE))
            for role in ("any", "last", "first")
            if role in self._roles.values()
        ]  # fmt: skip
        self._any_name = (
            re.compile(
                rf"(?<!{_LETTER})(?:{'|'.join(inflected(w) for w in self._roles)})",
                re.IGNORECASE,
            )
            if self._roles
            else None
        )
        phrases = [WORD.findall(unicodedata.normalize("NFC", k)) for k in self.keep]
        self._keep_single = {p[0].lower() for p in phrases if len(p) == 1}
        self._keep_phrases = [
            [(w.lower(), re.compile(inflected(w), re.IGNORECASE)) for w in p]
            for p in phrases
            if len(p) >= 2
        ]
        multi = sorted({tuple(p) for p in phrases if len(p) >= 2}, key=len, reverse=True)
        self._mask_re = (
            re.compile(
                rf"(?<!{_LETTER})(?:"
                + "|".join(rf"{_BLANK}+".join(inflected(w) for w in p) for p in multi)
                + rf")(?!{_LETTER})",
                re.IGNORECASE,
            )
            if multi
            else None
        )

    # -- the passes ----------------------------------------------------------------------

    def __call__(self, text: object) -> str:
        if text is None or (isinstance(text, float) and text != text):
            return ""
        out = unicodedata.normalize("NFC", str(text))
        ph = self.placeholders
        out = EMAIL.sub(ph["email"], out)
        out = IDENTITY_CODE.sub(ph["identity_code"], out)
        out = PHONE.sub(lambda m: ph["phone"] if _phone_ok(m.group(0)) else m.group(0), out)
        out = _HETU_BARE.sub(
            lambda m: ph["identity_code"] if _bare_identity_code(m) else m.group(0), out
        )
        out = self._names_pass(out)
        name = re.escape(ph["name"])
        return re.sub(rf"{name}(?:{_BLANK}+{name})+", ph["name"], out)  # one per name

    def words_only(self, text: object) -> str:
        """The redacted text with the placeholders removed (for word matching)."""
        out = self(text)
        for value in self.placeholders.values():
            out = out.replace(value, " ")
        return out

    def _configured(self, word: str) -> str | None:
        """The role of a configured name ``word`` matches (any part of a hyphenated word)."""
        for part in _HYPHEN.split(word) if "-" in word or "‐" in word else (word,):
            if _prefix(part) not in self._prefixes:
                continue
            for role, pattern in self._role_res:
                if pattern.fullmatch(part):
                    return role
        return None

    def _names_pass(self, text: str) -> str:
        if not any(c.isupper() for c in text) and not self.contains_name(text):
            return text  # no capitalised word and no configured name: nothing to look at
        restore: list[str] = []

        def mask(m: re.Match) -> str:
            restore.append(m.group(0))
            return f"\ue000{chr(0xE100 + len(restore) - 1)}\ue001"

        masked = self._mask_re.sub(mask, text) if self._mask_re is not None else text
        words = list(WORD.finditer(masked))
        if words:
            masked = self._replace_names(masked, words)
        for i, original in enumerate(restore):
            masked = masked.replace(f"\ue000{chr(0xE100 + i)}\ue001", original)
        return masked

    def _replace_names(self, text: str, words: list[re.Match]) -> str:
        n = len(words)
        tokens = [w.group(0) for w in words]
        joined = [
            _JOIN.fullmatch(text, words[i].end(), words[i + 1].start()) is not None
            for i in range(n - 1)
        ]
        start = [_sentence_start(text, w.start()) for w in words]
        cap = [_capitalised(t) for t in tokens]
        role = [self._configured(t) if self._roles else None for t in tokens]
        is_name = [r is not None for r in role]

        def name_like(j: int, i: int) -> bool:  # j is a name's neighbour, i the name
            if role[j] is not None:
                return False
            return cap[j] or (_shouting(tokens[j]) and _shouting(tokens[i]))

        # first name before a configured surname, surname after a configured first name
        for i in range(n):
            if role[i] in ("last", "any"):
                j, taken = i - 1, 0
                while j >= 0 and joined[j] and name_like(j, i) and not (start[j] and taken):
                    is_name[j], j, taken = True, j - 1, taken + 1
            if role[i] in ("first", "any"):
                j = i + 1
                while j < n and joined[j - 1] and name_like(j, i):
                    is_name[j], j = True, j + 1
        # runs of capitalised words
        i = 0
        while i < n:
            j = i
            while j + 1 < n and joined[j] and cap[j + 1] and cap[i]:
                j += 1
            if cap[i] and j > i and not self._kept_run(tokens[i : j + 1]):
                first = i + 1 if start[i] and j - i >= 2 and role[i] is None else i
                for k in range(first, j + 1):
                    is_name[k] = True
            i = j + 1
        # single words that look foreign-made
        for i, t in enumerate(tokens):
            if not cap[i] or is_name[i] or t.lower() in self._keep_single:
                continue
            if _FOREIGN_MADE.match(t) or (not start[i] and not set(t.lower()) <= _FINNISH):
                is_name[i] = True
        # replace each stretch of name words by one placeholder
        out, pos, i = [], 0, 0
        while i < n:
            if not is_name[i]:
                i += 1
                continue
            j = i
            while j + 1 < n and is_name[j + 1] and joined[j]:
                j += 1
            out += [text[pos : words[i].start()], self.placeholders["name"]]
            pos, i = words[j].end(), j + 1
        out.append(text[pos:])
        return "".join(out)

    def _kept_run(self, run: list[str]) -> bool:
        """A run of capitalised words that is part of a configured phrase (an organisation
        written without its "Oy", say)."""
        low = [w.lower() for w in run]
        for phrase in self._keep_phrases:
            for s in range(len(phrase) - len(low) + 1):
                if all(
                    a == b or pattern.fullmatch(a)
                    for a, (b, pattern) in zip(low, phrase[s : s + len(low)], strict=True)
                ):
                    return True
        return False

    def contains_name(self, text: str) -> bool:
        """Whether ``text`` holds a configured name (any case or ending)."""
        return self._any_name is not None and self._any_name.search(text) is not None


def redact(text: object, names: Iterable[str] = (), keep: Iterable[str] = ()) -> str:
    """Redact one text (see the module docstring)."""
    return Redactor(names=names, keep=keep)(text)


def study_redactor(study, labels: Mapping[str, str] | None = None) -> Redactor:
    """The redactor of a study: names from ``redaction.names``; organisations, units, actors,
    the study name and ``redaction.keep`` are phrases to keep; placeholders from the labels."""
    keep = [study.name, *study.redaction.keep]
    for name, org in study.organisations.items():
        keep += [name, org.actor or "", *org.headcount]
    return Redactor(names=study.redaction.names, keep=keep, placeholders=placeholder_labels(labels))


# -------------------------------------------------------------------------------------------
# Configuration and error text that reach reports/
# -------------------------------------------------------------------------------------------


def public_config(raw: Mapping[str, Any]) -> dict[str, Any]:
    """study.yaml as the manifest may store it: the ``redaction.names`` list is replaced by its
    count and a sha256 (so a changed list still changes the record), never the names."""
    out = dict(raw)
    config = out.get("redaction")
    if isinstance(config, Mapping) and "names" in config:
        names = [str(n) for n in config.get("names") or []]
        digest = hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()
        out["redaction"] = {
            **{k: v for k, v in config.items() if k != "names"},
            "names_count": len(names),
            "names_sha256": digest,
        }
    return out


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|“[^”]*”|‘[^’]*’|«[^»]*»|„[^“”]*[“”]|`[^`]*`")
_PATH_LIKE = re.compile(
    r"^[\w./\\ -]*\.(?:csv|xlsx|xls|sav|qdpx|qde|yaml|yml|parquet|ipynb|json|txt|py)$",
    re.IGNORECASE,
)
QUOTE_PLACEHOLDER = "…"
MAX_ERROR_CHARS = 2000
# IPython's traceback header ("ValueError      Traceback (most recent call last)") and frame
# lines ("Cell In[4], line 6") read as capitalised name pairs: the header loses the exception
# name (the error output keeps it as ``ename``) and "Cell In" is a phrase the redactor keeps.
_TRACEBACK_HEADER = re.compile(r"^[A-Za-z_][\w.]*[ \t]+(Traceback \(most recent call last\))", re.M)
_TRACEBACK_PHRASES = ("Cell In",)


def scrub_error(text: object, redactor: Redactor | None = None) -> str:
    """Error text safe to store under ``reports/``: every quoted string that is not a file name
    becomes ``'…'`` (exception messages quote the offending value), then the redactor runs and
    the text is cut to ``MAX_ERROR_CHARS``. The exception type, file names, rows and columns
    named outside quotes survive."""
    if text is None:
        return ""
    out = _ANSI.sub("", str(text))

    def strip(m: re.Match) -> str:
        inner = m.group(0)[1:-1]
        if _PATH_LIKE.match(inner) and not (redactor or Redactor()).contains_name(inner):
            return m.group(0)
        return m.group(0)[0] + QUOTE_PLACEHOLDER + m.group(0)[-1]

    out = _QUOTED.sub(strip, out)
    out = _TRACEBACK_HEADER.sub(r"\1", out)
    base = redactor or Redactor()
    out = replace(base, keep=(*base.keep, *_TRACEBACK_PHRASES))(out)
    if len(out) > MAX_ERROR_CHARS:
        out = out[:MAX_ERROR_CHARS] + " …"
    return out
