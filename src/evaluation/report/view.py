"""A study as a reader sees it: its configuration, the labels of one language (with the
rounds' own labels from study.yaml) and the confidence level. The notebooks' session
(:class:`evaluation.pipeline.session.Session`) and an audience report's view
(:class:`evaluation.report.audiences.ReportView`) both start from here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from evaluation.config import Study, load_labels


class Labels(dict[str, str]):
    """The label texts of one report language: a dict (key -> text) that knows its language,
    so whatever shows a table with these labels (:func:`evaluation.report.display.display_table`)
    also writes its numbers in that language. ``copy()`` and ``|`` keep the language; a plain
    dict made from it (``dict(labels)``, ``{**labels}``) does not."""

    def __init__(
        self, items: Mapping[str, str] | Iterable[tuple[str, str]] = (), *, language: str
    ) -> None:
        super().__init__(items)
        self.language = language

    def copy(self) -> Labels:
        return Labels(self, language=self.language)

    def __or__(self, other: Mapping[str, str]) -> Labels:  # type: ignore[override]
        return Labels({**self, **other}, language=self.language)

    def __reduce__(self):
        return (_labels, (dict(self), self.language))

    def __repr__(self) -> str:
        return f"Labels({dict.__repr__(self)}, language={self.language!r})"


def _labels(items: dict[str, str], language: str) -> Labels:
    return Labels(items, language=language)


@dataclass(kw_only=True)
class StudyView:
    """A study with the labels of one report language."""

    study: Study
    labels: dict[str, str] = field(default_factory=dict)
    language: str = "fi"

    def label(self, key: str) -> str:
        """The text of a label key in this language (the key itself when it has none)."""
        return self.labels.get(key, key)

    @property
    def ci(self) -> float:
        """Confidence level of every interval (``analysis.ci``)."""
        return self.study.analysis.ci


def view_labels(study: Study, language: str) -> Labels:
    """The label files of ``language`` (the study's own over the shipped ones), with each round
    shown by its label from study.yaml in ``language`` ("T0" -> "Lähtötaso 2025"), as
    :class:`Labels` that carry ``language`` (tables show their numbers in it)."""
    labels = Labels(load_labels(language, study.paths), language=language)
    labels.update(
        {r.id: r.label_in(language) for r in study.rounds if r.label_in(language) != r.id}
    )
    return labels
