"""Names, paths and cells that stay what they are: text from data or configuration never
becomes a path out of the study, a spreadsheet formula or live markup.

- :func:`safe_name` and :func:`unique_slugs` turn identifiers (round ids, measures, codes,
  organisation and actor names) into file-name parts: ASCII letters, digits, ``_`` and ``-``.
- :func:`check_output_path` (called by :func:`evaluation.io.files.atomic_path` for every file
  written) and :func:`check_output_folders` (called at the start of a run) keep outputs inside
  the study's own ``reports/`` and ``data/processed/``, never through a symbolic link.
- :func:`defuse_formula` and :func:`defuse_formulas` put a ``'`` before a text cell that a
  spreadsheet would read as a formula (OWASP, "CSV injection"); numbers stay numbers.
- :func:`escape_markdown` makes a text show literally when it is displayed as Markdown.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from evaluation.errors import OutputPathError

if TYPE_CHECKING:  # pandas only for the frame helper; the CLI imports this module early
    import pandas as pd

    from evaluation.paths import StudyPaths

# -------------------------------------------------------------------------------------------
# Names
# -------------------------------------------------------------------------------------------

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}")
_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
# Letters NFKD does not split into an ASCII letter and an accent.
_TRANSLITERATE = str.maketrans(
    {"ß": "ss", "Æ": "AE", "æ": "ae", "Ø": "O", "ø": "o", "Đ": "D", "đ": "d", "Ł": "L", "ł": "l"}
)
MAX_NAME = 60  # characters kept of the readable part


def short_hash(text: str) -> str:
    """Eight hex digits of the text's sha256: tells apart names that slug to the same text."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _ascii(text: str) -> str:
    """Finnish and other Latin letters as ASCII ("Jänkä Å" -> "Janka A"); others dropped."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def slug(text: str) -> str:
    """A readable lowercase ASCII slug: "Kuntoutus Jänkä Oy" -> "kuntoutus-janka-oy".

    Empty when nothing readable is left (e.g. only non-Latin letters); two different texts can
    share a slug ("Org A", "org-a"): use :func:`unique_slugs` or :func:`safe_name` for file
    names.
    """
    return _NOT_SLUG.sub("-", _ascii(str(text)).lower()).strip("-")[:MAX_NAME].strip("-")


def safe_name(text: str) -> str:
    """A file-name part for an identifier from configuration or data (a round id, a measure,
    a code).

    The text itself when it is already a plain name (ASCII letters, digits, ``_`` and ``-``,
    starting with a letter or digit, at most 80 characters): ``"T1"`` stays ``"T1"``. Otherwise
    its ASCII transliteration with every other character replaced by ``-``, plus ``-`` and
    eight hex digits of the original text's sha256, so two different texts never share a
    name: ``"T3/../x"`` -> ``"T3-x-…"``. The result never holds ``/``, ``\\``, ``..``, a
    control character or a leading ``-`` or ``.``.

    Examples
    --------
    >>> safe_name("qwl_leadership")
    'qwl_leadership'
    >>> safe_name("Jänkä")[:6]
    'Janka-'
    """
    text = str(text)
    if _SAFE_NAME.fullmatch(text):
        return text
    base = _NOT_NAME.sub("-", _ascii(text)).strip("-_")[:MAX_NAME].strip("-_")
    return f"{base}-{short_hash(text)}" if base else short_hash(text)


def unique_slugs(texts: Iterable[str]) -> dict[str, str]:
    """A readable slug (:func:`slug`) per text, unique over ``texts``: a text whose slug another
    text shares, or that leaves no slug, gets ``-`` and :func:`short_hash` of itself appended
    ("Org A" -> "org-a", but "Org A" and "org-a" -> "org-a-1f2e…", "org-a-9c0d…")."""
    names = list(dict.fromkeys(str(t) for t in texts))
    slugs = {t: slug(t) for t in names}
    counts = Counter(slugs.values())
    out = {}
    for text, s in slugs.items():
        if not s:
            out[text] = short_hash(text)
        elif counts[s] > 1:
            out[text] = f"{s}-{short_hash(text)}"
        else:
            out[text] = s
    return out


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def unsafe_id_reason(value: str) -> str | None:
    """Why an id cannot name files (``/``, ``\\``, ``..``, NUL or another control character),
    or None when it can. Validation refuses ids with a reason."""
    if not value.strip():
        return "is empty"
    if "/" in value or "\\" in value:
        return "contains a path separator (/ or \\)"
    if ".." in value:
        return "contains '..'"
    if _CONTROL.search(value):
        return "contains a control character"
    return None


# -------------------------------------------------------------------------------------------
# Paths
# -------------------------------------------------------------------------------------------


def _output_base(target: Path) -> Path | None:
    """The study output folder (``<study>/reports`` or ``<study>/data/processed``) that holds
    ``target``, or None when ``target`` is not inside a study's output folders."""
    for folder in target.parents:
        if folder.name == "reports":
            root = folder.parent
        elif folder.name == "processed" and folder.parent.name == "data":
            root = folder.parent.parent
        else:
            continue
        if (root / "config" / "study.yaml").is_file():
            return folder
    return None


def check_output_path(target: str | Path) -> Path:
    """Refuse to write ``target`` when it climbs (a ``..`` part), or when it lies in a study's
    ``reports/`` or ``data/processed/`` but would be written through a symbolic link or land
    outside that folder. Returns the absolute target.

    Raises
    ------
    OutputPathError
    """
    path = Path(target)
    if ".." in path.parts:
        raise OutputPathError(
            f"{path}: refusing to write a path with '..': a name from the configuration or the "
            "data must never climb out of its folder"
        )
    path = path.absolute()
    base = _output_base(path)
    if base is None:
        return path
    for folder in (base, *reversed(path.relative_to(base).parents[:-1])):
        current = folder if folder.is_absolute() else base / folder
        if current.is_symlink():
            raise OutputPathError(_link_message(current, base))
    if path.parent.exists() and not path.parent.resolve().is_relative_to(base.resolve()):
        raise OutputPathError(f"{path}: would be written outside {base}")
    return path


def _link_message(link: Path, base: Path) -> str:
    where = "data/processed/" if base.name == "processed" else "reports/"
    return (
        f"{link} is a symbolic link (to {os.readlink(link)}): outputs are written only into the "
        f"study's own {where} folder, never through a link. Replace the link by a folder."
    )


def check_output_folders(paths: StudyPaths) -> None:
    """Refuse a run whose ``reports/`` or ``data/processed/``, or any folder below them, is a
    symbolic link: the run writes and removes files there. Nothing is written or removed when
    this raises.

    Raises
    ------
    OutputPathError
    """
    known = [
        paths.reports, paths.processed, paths.tables, paths.figures, paths.html,
        paths.executed_notebooks, paths.reports / "exports", paths.reports / ".cache",
    ]  # fmt: skip
    for folder in known:
        if folder.is_symlink():
            raise OutputPathError(_link_message(folder, _base_of(folder, paths)))
    for base in (paths.reports, paths.processed):
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            for name in [*dirnames, *filenames]:
                entry = Path(dirpath) / name
                if entry.is_symlink() and (name in dirnames or not entry.exists()):
                    raise OutputPathError(_link_message(entry, base))


def _base_of(folder: Path, paths: StudyPaths) -> Path:
    return paths.processed if folder == paths.processed else paths.reports


def is_plain_folder(folder: Path) -> bool:
    """True for an existing folder that is not a symbolic link (files may be removed there)."""
    return folder.is_dir() and not folder.is_symlink()


# -------------------------------------------------------------------------------------------
# Spreadsheet cells
# -------------------------------------------------------------------------------------------

#: First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection),
#: with their full-width forms.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def defuse_formula(value: object) -> object:
    """A text that a spreadsheet would read as a formula, with ``'`` put in front.

    ``"=cmd|' /C calc'!A0"`` -> ``"'=cmd|' /C calc'!A0"``; ``"-0.5"`` (a plain number), numbers,
    missing values and other texts are returned unchanged.

    References
    ----------
    OWASP, CSV Injection. https://owasp.org/www-community/attacks/CSV_Injection
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_PREFIXES):
        return value
    if _NUMBER.fullmatch(value):
        return value
    return "'" + value


def defuse_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with :func:`defuse_formula` applied to every text cell (numeric and boolean
    columns are left alone; the input is not modified)."""
    import pandas as pd

    out = frame
    for col in frame.columns:
        series = frame[col]
        if not (series.dtype == object or pd.api.types.is_string_dtype(series)):
            continue
        is_text = series.map(lambda v: isinstance(v, str)).astype(bool)  # missing: False
        texts = series[is_text].astype(str)
        risky = texts.str.startswith(FORMULA_PREFIXES)
        if not risky.any():
            continue
        if out is frame:
            out = frame.copy()
        idx = risky[risky].index
        out.loc[idx, col] = series.loc[idx].map(defuse_formula)
    return out


# -------------------------------------------------------------------------------------------
# Markdown
# -------------------------------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")
_MARKDOWN_ESCAPED = re.compile(r"\\([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")
_WHITESPACE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_CONTROL_NOT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]+")


def escape_markdown(text: object, *, inline: bool = True) -> str:
    """``text`` escaped to show literally as Markdown: every ASCII punctuation character gets
    a backslash (CommonMark), so ``<script>``, ``<img onerror=...>``, ``[x](javascript:...)``,
    ``*``, ``#`` and ``|`` are shown as typed. Control characters become spaces; with
    ``inline`` line breaks too (for headings)."""
    text = str(text)
    text = (_WHITESPACE if inline else _CONTROL_NOT_NEWLINE).sub(" ", text)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def unescape_markdown(text: str) -> str:
    """The text :func:`escape_markdown` escaped (backslash escapes removed)."""
    return _MARKDOWN_ESCAPED.sub(r"\1", text)
