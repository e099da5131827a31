"""The input vocabulary: words in data files the package recognises (``resources/vocabulary.yaml``).

Summary-row words (``Yhteensä``, ``Keskiarvo``, ...) and the default missing-value codes
(``eos``, ``en osaa sanoa``, ...) are data, not code: they live in the shipped YAML file and are
read once per process. Report labels are elsewhere (``config/labels/*.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from evaluation.errors import ConfigError
from evaluation.paths import RESOURCES

VOCABULARY_FILE = RESOURCES / "vocabulary.yaml"


@dataclass(frozen=True)
class Vocabulary:
    """The words of ``vocabulary.yaml``, lower case and trimmed."""

    summary_words: frozenset[str]
    missing_codes: tuple[str, ...]


@cache
def vocabulary() -> Vocabulary:
    """The shipped input vocabulary (read on first use, then cached)."""
    import yaml  # here, not at the top: the CLI imports config (and so this module) and starts fast

    try:
        raw = yaml.safe_load(VOCABULARY_FILE.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{VOCABULARY_FILE}: cannot read the input vocabulary ({exc})") from None

    def words(key: str) -> tuple[str, ...]:
        values = raw.get(key) or []
        if not isinstance(values, list):
            raise ConfigError(f"{VOCABULARY_FILE}: {key} must be a list of words")
        return tuple(dict.fromkeys(str(v).strip().lower() for v in values))

    return Vocabulary(
        summary_words=frozenset(words("summary_words")), missing_codes=words("missing_codes")
    )
