"""What each notebook computes: one function per notebook section.

Each step reads the processed data of a study, calls the pure functions of
:mod:`evaluation.analyse`, writes its tables of record to ``reports/tables/`` and returns them
for display. Notebooks call these and show the result; they hold no logic of their own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from evaluation.config import Study, load_labels, load_study
from evaluation.tables import write_table

log = logging.getLogger(__name__)


@dataclass
class Session:
    """A study opened for analysis: configuration, labels and processed data (read lazily)."""

    study: Study
    labels: dict[str, str] = field(default_factory=dict)

    @cached_property
    def scores(self) -> pd.DataFrame:
        return pd.read_parquet(self.study.paths.processed / "scores.parquet")

    @cached_property
    def responses(self) -> pd.DataFrame:
        return pd.read_parquet(self.study.paths.processed / "responses.parquet")

    @property
    def has_responses(self) -> bool:
        return (self.study.paths.processed / "scores.parquet").is_file()

    def write(self, frame: pd.DataFrame, name: str) -> pd.DataFrame:
        write_table(frame, name, self.study.paths)
        return frame

    def label(self, key: str) -> str:
        return self.labels.get(key, key)


def open_study(study_dir: str | Path = ".", language: str | None = None) -> Session:
    """Open a processed study (``evaluation run`` has validated and scored it)."""
    study = load_study(study_dir)
    return Session(study=study, labels=load_labels(language or study.language, study.paths))


def data_quality(s: Session) -> dict[str, pd.DataFrame]:
    """Respondents and response rates, item missingness, out-of-range counts, reliability.

    Tables: ``respondents.csv``, ``missingness.csv``, ``out_of_range.csv``, ``reliability.csv``.
    """
    from evaluation.analyse.quality import missingness, out_of_range, response_counts
    from evaluation.analyse.reliability import reliability_table

    study = s.study
    rounds = study.round_ids
    headcounts = {name: org.headcount for name, org in study.organisations.items()}
    items = {i.id: list(i.items) for i in study.instruments.values() if i.file == "responses"}
    multi_item = {k: v for k, v in items.items() if len(v) >= 2}
    limits = {
        col: (inst.range_min, inst.range_max)
        for inst in study.instruments.values()
        if inst.file == "responses"
        for col in inst.value_columns
    }
    value_columns = {
        i.id: list(i.value_columns) for i in study.instruments.values() if i.file == "responses"
    }
    return {
        "respondents": s.write(
            response_counts(s.scores, rounds=rounds, headcounts=headcounts, min_n=study.min_n),
            "respondents",
        ),
        "missingness": s.write(
            missingness(s.responses, instruments=value_columns, rounds=rounds), "missingness"
        ),
        "out_of_range": s.write(out_of_range(s.responses, limits=limits), "out_of_range"),
        "reliability": s.write(
            reliability_table(
                s.responses, instruments=multi_item, rounds=rounds, min_n=study.min_n
            ),
            "reliability",
        ),
    }
