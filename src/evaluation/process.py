"""validate -> score -> data/processed/*.parquet. Rebuilt on every run from raw + config."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from evaluation.config import Study
from evaluation.errors import DataError
from evaluation.io import FILE_COLUMN, ROW_COLUMN, read_raw, write_parquet
from evaluation.score import score_responses
from evaluation.validate import PROBLEM_COLUMNS, load_responses, problem_summary

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ["round", "organisation", "unit", "measure", "n", "mean", "sd"]


def load_summaries(study: Study) -> pd.DataFrame:
    """Read and check unit-level aggregates: ``round, organisation, unit, measure, n, mean, sd``."""
    raw = read_raw(study.files("summaries"), study.columns)
    problems = []
    files = ", ".join(p.name for p in study.files("summaries"))
    for col in SUMMARY_COLUMNS:
        if col not in raw:
            problems.append([files, "", col, "", "required column is missing"])
    if not problems:
        for col in ("n", "mean", "sd"):
            values = pd.to_numeric(raw[col].str.replace(",", ".", regex=False), errors="coerce")
            bad = values.isna() | (values < 0)
            if col == "n":
                bad |= values % 1 != 0
            for _, r in raw[bad].iterrows():
                problems.append(
                    [r[FILE_COLUMN], r[ROW_COLUMN], col, r[col], "must be a non-negative number"]
                )
            raw[col] = values
        unknown = ~raw["round"].isin(study.round_ids)
        for _, r in raw[unknown].iterrows():
            problems.append(
                [r[FILE_COLUMN], r[ROW_COLUMN], "round", r["round"], "round id not in study.yaml"]
            )
        measures = set(study.measures)
        for _, r in raw[~raw["measure"].isin(measures)].iterrows():
            problems.append(
                [r[FILE_COLUMN], r[ROW_COLUMN], "measure", r["measure"], "unknown measure"]
            )
    if problems:
        frame = pd.DataFrame(problems, columns=PROBLEM_COLUMNS)
        raise DataError(problem_summary(frame), frame)
    return raw.drop(columns=[FILE_COLUMN, ROW_COLUMN])


def validate_study(study: Study) -> dict[str, pd.DataFrame]:
    """Read and validate every declared raw file; raise one DataError listing all problems."""
    out: dict[str, pd.DataFrame] = {}
    if study.files("responses"):
        out["responses"] = load_responses(study)
    if study.files("summaries"):
        out["summaries"] = load_summaries(study)
    for key in ("codings", "activities", "feedback", "open_answers"):
        for path in study.files(key):
            if not path.is_file():
                raise DataError(f"{path}: file not found (declared as data.{key} in study.yaml)")
    return out


def process(study: Study) -> dict[str, Path]:
    """Validate raw data and write the derived parquet files; return what was written."""
    data = validate_study(study)
    written: dict[str, Path] = {}
    processed = study.paths.processed
    if "responses" in data:
        responses = data["responses"]
        log.info("responses: %d rows in %d file(s)", len(responses), len(study.files("responses")))
        clean = responses.drop(columns=[FILE_COLUMN, ROW_COLUMN])
        written["responses"] = write_parquet(clean, processed / "responses.parquet")
        scores = score_responses(responses, study)
        written["scores"] = write_parquet(scores, processed / "scores.parquet")
    if "summaries" in data:
        written["summaries"] = write_parquet(data["summaries"], processed / "summaries.parquet")
    return written
