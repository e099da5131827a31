"""A study as a reader sees it: its configuration, the labels of one language (with the
rounds' own labels from study.yaml) and the confidence level. The notebooks' session
(:class:`evaluation.pipeline.session.Session`) and an audience report's view
(:class:`evaluation.report.audiences.ReportView`) both start from here."""

from __future__ import annotations

from dataclasses import dataclass, field

from evaluation.config import Study, load_labels


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


def view_labels(study: Study, language: str) -> dict[str, str]:
    """The label files of ``language`` (the study's own over the shipped ones), with each round
    shown by its label from study.yaml ("T0" -> "Lähtötaso 2025")."""
    labels = load_labels(language, study.paths)
    labels.update({r.id: r.label for r in study.rounds if r.label and r.label != r.id})
    return labels
