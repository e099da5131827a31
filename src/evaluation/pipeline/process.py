"""validate -> score -> data/processed/*.parquet. Rebuilt on every run from raw + config."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from evaluation.config import Study, did_you_mean, instrument_file, load_instrument
from evaluation.errors import ConfigError, DataError
from evaluation.io.files import write_parquet
from evaluation.io.problems import PROBLEM_COLUMNS, problem_summary
from evaluation.io.readers import FILE_COLUMN, ROW_COLUMN, read_raw
from evaluation.score import score_responses
from evaluation.validate import load_responses, map_answer_labels, parse_numbers

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ["round", "organisation", "unit", "measure", "n", "mean", "sd"]
ACTIVITY_COLUMNS = ["round", "organisation", "activity"]
ACTIVITY_COUNTS = ["participants", "creative_methods", "reach"]


def _unknown(raw: pd.DataFrame, column: str, known: list[str], what: str) -> list[list]:
    """A problem row for every non-empty value of ``column`` that is not in ``known``."""
    bad = raw[column].notna() & ~raw[column].isin(known)
    return [
        [r[FILE_COLUMN], r[ROW_COLUMN], column, r[column], what] for _, r in raw[bad].iterrows()
    ]


def load_records(study: Study, key: str) -> pd.DataFrame:
    """Read activity records or training feedback, typed and checked.

    ``activities``: ``round, organisation, activity`` required; ``participants``,
    ``creative_methods``, ``reach`` must be non-negative whole numbers where given.
    ``feedback``: the columns of every instrument read from the feedback file (e.g. the shipped
    ``feedback`` instrument: satisfaction, competence_growth, goal_attainment 1-5).
    Round ids, where given, must be in study.yaml.
    """
    raw = read_raw(study.files(key), study.columns)
    files = ", ".join(p.name for p in study.files(key))
    problems: list[list] = []
    required = ACTIVITY_COLUMNS if key == "activities" else ["round", "organisation"]
    for col in required:
        if col not in raw:
            problems.append([files, "", col, "", "required column is missing"])
    if key == "activities":
        limits = {c: (0.0, float("inf"), True) for c in ACTIVITY_COUNTS if c in raw}
    else:
        # The feedback form is checked against its instrument definition even when the study
        # does not list `feedback` among its survey instruments.
        defs = [i for i in study.instruments.values() if i.file == key] or [
            load_instrument(instrument_file("feedback", study.paths))
        ]
        limits = {c: (i.range_min, i.range_max, i.integer) for i in defs for c in i.value_columns}
        for col in limits:
            if col not in raw:
                problems.append([files, "", col, "", "required column is missing"])
    for col, (lo, hi, whole) in limits.items():
        if col not in raw:
            continue
        values = parse_numbers(raw[col])
        bad = (values.isna() & raw[col].notna()) | (values < lo) | (values > hi)
        if whole:
            bad |= values.notna() & (values % 1 != 0)
        what = f"must be a number in {lo:g}-{hi:g}" + (" (whole)" if whole else "")
        for _, r in raw[bad.fillna(False)].iterrows():
            problems.append([r[FILE_COLUMN], r[ROW_COLUMN], col, r[col], what])
        raw[col] = values.astype("float64")
    if "round" in raw:
        problems += _unknown(raw, "round", study.round_ids, "round id not in study.yaml")
    if problems:
        frame = pd.DataFrame(problems, columns=PROBLEM_COLUMNS)
        raise DataError(problem_summary(frame), frame)
    return raw.drop(columns=[FILE_COLUMN, ROW_COLUMN])


def load_summaries(study: Study) -> pd.DataFrame:
    """Read and check unit-level aggregates: ``round, organisation, unit, measure, n, mean, sd``."""
    raw = map_answer_labels(read_raw(study.files("summaries"), study.columns), study)
    problems = []
    files = ", ".join(p.name for p in study.files("summaries"))
    for col in SUMMARY_COLUMNS:
        if col not in raw:
            problems.append([files, "", col, "", "required column is missing"])
    if not problems:
        # n is required; a vendor may leave mean and sd empty (e.g. a suppressed or n = 1 cell).
        rules = {
            "n": "must be a non-negative whole number",
            "mean": "must be a number or empty",
            "sd": "must be a non-negative number or empty",
        }
        for col, what in rules.items():
            text = raw[col].str.replace(",", ".", regex=False)
            values = pd.to_numeric(text, errors="coerce")
            bad = values.isna() & text.notna()
            if col == "n":
                bad |= values.isna() | (values < 0) | (values % 1 != 0)
            if col == "sd":
                bad |= values < 0
            for _, r in raw[bad.fillna(False)].iterrows():
                problems.append([r[FILE_COLUMN], r[ROW_COLUMN], col, r[col], what])
            raw[col] = values.astype("float64")
        problems += _unknown(raw, "round", study.round_ids, "round id not in study.yaml")
        problems += _unknown(raw, "measure", study.measures, "unknown measure")
        for col in ("round", "organisation", "unit", "measure"):
            for _, r in raw[raw[col].isna()].iterrows():
                problems.append([r[FILE_COLUMN], r[ROW_COLUMN], col, "", "must not be empty"])
    if problems:
        frame = pd.DataFrame(problems, columns=PROBLEM_COLUMNS)
        raise DataError(problem_summary(frame), frame)
    _log_unusable_summaries(raw)
    return raw.drop(columns=[FILE_COLUMN, ROW_COLUMN])


def _log_unusable_summaries(raw: pd.DataFrame, shown: int = 5) -> None:
    """Say which cells have respondents but no mean or SD (suppressed by the vendor): every
    analysis leaves them out, so their groups' n exclude them (docs/methods.md, section 11)."""
    from evaluation.analyse.quant.effects import unusable_cells

    bad = raw[unusable_cells(raw)]
    for _, r in bad.head(shown).iterrows():
        log.warning(
            "%s, row %s: %s / %s, %s: n = %d but no %s (suppressed by the vendor?) - "
            "left out of every analysis",
            r[FILE_COLUMN], r[ROW_COLUMN], r["organisation"], r["unit"], r["measure"],
            int(r["n"]), "mean" if pd.isna(r["mean"]) else "SD",
        )  # fmt: skip
    if len(bad) > shown:
        log.warning("... and %d more such cells in the summaries", len(bad) - shown)


def check_target_columns(study: Study, frames: dict[str, pd.DataFrame]) -> None:
    """The columns a target reads (``measure``, ``filter``) exist in its source's records, so
    a typo in study.yaml is a ConfigError when validating, not a failed notebook."""
    for i, target in enumerate(study.targets):
        frame = frames.get(target.source)
        if frame is None:
            continue  # no records of this source: indicators.csv says so
        have = [str(c) for c in frame.columns]
        wanted = [(f"filter.{c}", c) for c in target.filter or {}]
        if target.aggregate in ("sum", "mean") and target.measure:
            wanted.append(("measure", target.measure))
        for key, col in wanted:
            if col not in have:
                files = ", ".join(p.name for p in study.files(target.source))
                raise ConfigError(
                    f"{study.paths.study_yaml}: targets[{i}] ({target.id}).{key}: {col!r} is "
                    f"not a column of {target.source} ({files}){did_you_mean(col, have)}"
                )


def validate_study(study: Study) -> dict[str, pd.DataFrame]:
    """Read and validate every declared raw file; raise one DataError listing all problems."""
    out: dict[str, pd.DataFrame] = {}
    if study.files("responses"):
        out["responses"] = load_responses(study)
    if study.files("summaries"):
        out["summaries"] = load_summaries(study)
    for key in ("activities", "feedback"):
        if study.files(key):
            out[key] = load_records(study, key)
    check_target_columns(study, out)
    for key in ("codings", "open_answers"):
        for path in study.files(key):
            if not path.is_file():
                raise DataError(f"{path}: file not found (declared as data.{key} in study.yaml)")
    if study.files("open_answers") or study.files("codings"):
        from evaluation.io.codings import load_codings, load_open_answers

        answers = load_open_answers(study)
        if study.files("open_answers"):
            out["open_answers"] = answers
        if study.files("codings"):
            out["codings"] = load_codings(study, answers=answers)
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
    for key in ("summaries", "activities", "feedback", "open_answers", "codings"):
        if key in data:
            written[key] = write_parquet(data[key], processed / f"{key}.parquet")
    # Derived data is rebuilt from raw every run: nothing from an earlier run may linger. (The
    # disclosure plan is the run's next step, made from these files: it is replaced there.)
    planned = {processed / "disclosure.parquet"}
    for stale in set(processed.glob("*.parquet")) - set(written.values()) - planned:
        log.info("removing %s (its input is no longer declared)", stale.name)
        stale.unlink()
    return written
