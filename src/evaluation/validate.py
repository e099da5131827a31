"""Validation of raw data against the contract and the study's configuration.

Every problem is collected into one frame (``file, row, column, value, problem``) and raised
once as a :class:`~evaluation.errors.DataError`. Rows are spreadsheet rows: the header is row 1.
The checks themselves are a pandera schema built from the configuration.
"""

from __future__ import annotations

import difflib
import logging

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from evaluation.config import IDENTIFYING_CODES, Instrument, Study
from evaluation.errors import DataError
from evaluation.io.problems import PROBLEM_COLUMNS, problem_summary
from evaluation.io.readers import FILE_COLUMN, ROW_COLUMN, read_raw

log = logging.getLogger(__name__)

ID_COLUMNS = ["round", "organisation", "unit"]
PARTICIPANT_VALUES = ["0", "1"]
ROLE_VALUES = ["supervisor", "staff"]


def _problem(file: str, row: object, column: str, value: object, problem: str) -> dict:
    return {"file": file, "row": row, "column": column, "value": value, "problem": problem}


def _rel(study: Study, instrument: Instrument) -> str:
    try:
        return str(instrument.path.relative_to(study.paths.root))
    except ValueError:
        return f"evaluation/resources/instruments/{instrument.path.name}"


def numeric_columns(study: Study, file_key: str = "responses") -> dict[str, Instrument]:
    """Each numeric column of a data file, with the instrument that defines it."""
    out: dict[str, Instrument] = {}
    for inst in study.instruments.values():
        if inst.file == file_key:
            out.update(dict.fromkeys(inst.value_columns, inst))
    return out


def parse_numbers(text: pd.Series) -> pd.Series:
    """Text -> float64 (same index), decimal commas accepted, anything else not a number
    missing: ``pd.to_numeric(text.str.replace(",", "."), errors="coerce")``, parsed once per
    distinct text (a survey column holds a few distinct answers in millions of rows)."""
    codes, uniques = pd.factorize(text)
    distinct = pd.Series(uniques, dtype=text.dtype if len(uniques) else "string")
    parsed = pd.to_numeric(distinct.str.replace(",", ".", regex=False), errors="coerce")
    parsed = parsed.astype("float64").to_numpy()
    values = np.full(len(text), np.nan)
    found = codes >= 0
    values[found] = parsed[codes[found]]
    return pd.Series(values, index=text.index, name=text.name)


def coerce_numeric(
    frame: pd.DataFrame,
    columns: list[str],
    instruments: dict[str, Instrument] | None = None,
) -> tuple[pd.DataFrame, list[dict]]:
    """Text -> float for ``columns``; list every non-number.

    Decimal commas are accepted; the instrument's missing codes ("EOS", "en osaa sanoa", ...)
    become missing and its answer labels ("täysin samaa mieltä") their numbers, ignoring case.
    """
    out = frame.copy()
    problems = []
    for col in columns:
        if col not in out:
            continue
        inst = (instruments or {}).get(col)
        values = parse_numbers(out[col])
        bad = values.isna() & out[col].notna()
        if inst is not None and bad.any():  # only the cells that are not numbers are looked up
            lowered = out.loc[bad, col].str.lower()
            labelled = lowered.map(inst.answer_labels).astype("float64")
            values.loc[labelled.index] = labelled
            bad.loc[lowered.index] = ~(lowered.isin(inst.missing_codes) | labelled.notna())
        for _, rec in out.loc[bad, [FILE_COLUMN, ROW_COLUMN, col]].iterrows():
            problems.append(
                _problem(rec[FILE_COLUMN], rec[ROW_COLUMN], col, rec[col], "not a number")
            )
        out[col] = values.astype("float64")
    return out, problems


def map_answer_labels(frame: pd.DataFrame, study: Study) -> pd.DataFrame:
    """Answer texts of the identifying columns -> the contract's codes (``answer_labels:`` in
    study.yaml, e.g. participant ``Kyllä`` -> ``1``, role ``Esihenkilö`` -> ``supervisor``),
    ignoring case and surrounding spaces. A copy; other cells are left for validation."""
    out = frame
    for column in IDENTIFYING_CODES:
        labels = study.answer_labels.of(column)
        if not labels or column not in frame:
            continue
        if out is frame:
            out = frame.copy()
        mapped = out[column].str.strip().str.lower().map(labels)
        out[column] = mapped.where(mapped.notna(), out[column]).astype("string")
    return out


def did_you_mean(name: str, candidates: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest column name, or nothing."""
    close = difflib.get_close_matches(name, [str(c) for c in candidates], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def response_schema(study: Study) -> pa.DataFrameSchema:
    """The pandera schema of ``responses``, built from the study configuration."""
    rounds = study.round_ids
    columns: dict[str, pa.Column] = {
        "round": pa.Column(
            "string",
            pa.Check.isin(rounds, error=f"round id not in config/study.yaml ({', '.join(rounds)})"),
            nullable=False,
        ),
        "organisation": pa.Column("string", nullable=False),
        "unit": pa.Column("string", nullable=False),
        "respondent": pa.Column("string", nullable=True, required=False),
        "participant": pa.Column(
            "string",
            pa.Check.isin(PARTICIPANT_VALUES, error="participant must be 1, 0 or empty"),
            nullable=True,
            required=False,
        ),
        "role": pa.Column(
            "string",
            pa.Check.isin(ROLE_VALUES, error="role must be supervisor, staff or empty"),
            nullable=True,
            required=False,
        ),
    }
    for col, inst in numeric_columns(study).items():
        lo, hi = inst.range_min, inst.range_max
        checks = [pa.Check.in_range(lo, hi, error=f"outside {lo:g}-{hi:g} ({_rel(study, inst)})")]
        if inst.integer:
            checks.append(
                pa.Check(
                    lambda s: s % 1 == 0,
                    element_wise=False,
                    error=f"not a whole number ({_rel(study, inst)})",
                )
            )
        # Area columns of an instrument are optional; items and vendor scores are required.
        required = col not in inst.parts.values()
        columns[col] = pa.Column("float64", checks, nullable=True, required=required)
    return pa.DataFrameSchema(columns, strict=False, name="responses")


def _schema_problems(frame: pd.DataFrame, schema: pa.DataFrameSchema, file: str) -> list[dict]:
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        problems = []
        for _, fc in exc.failure_cases.iterrows():
            col = fc["column"]
            idx = fc["index"]
            check = str(fc["check"])
            if pd.isna(idx):  # schema-level: a missing column, wrong dtype
                if "column_in_dataframe" in check:
                    col = str(fc["failure_case"])
                    present = [
                        c
                        for c in frame.columns
                        if not str(c).startswith("_") and c not in schema.columns
                    ]
                    check = "required column is missing" + did_you_mean(col, present)
                problems.append(_problem(file, "", col, "", check))
                continue
            rec = frame.loc[idx]
            if check == "not_nullable":
                check = "must not be empty"
            problems.append(
                _problem(rec[FILE_COLUMN], rec[ROW_COLUMN], col, fc["failure_case"], check)
            )
        return problems
    return []


def _duplicate_codes(frame: pd.DataFrame) -> list[dict]:
    if "respondent" not in frame:
        return []
    coded = frame[frame["respondent"].notna()]
    dup = coded[coded.duplicated(["round", "respondent"], keep=False)]
    return [
        _problem(
            r[FILE_COLUMN],
            r[ROW_COLUMN],
            "respondent",
            r["respondent"],
            f"respondent code appears more than once in round {r['round']}",
        )
        for _, r in dup.iterrows()
    ]


def validate_responses(frame: pd.DataFrame, study: Study) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check ``responses``; return (typed frame, problems frame)."""
    files = ", ".join(sorted(frame[FILE_COLUMN].unique())) if FILE_COLUMN in frame else "responses"
    problems: list[dict] = []
    instruments = numeric_columns(study)
    expected = {*ID_COLUMNS, "respondent", "participant", "role", *instruments}
    # "Did you mean" suggests only columns the contract does not already know.
    present = [c for c in frame.columns if not str(c).startswith("_") and c not in expected]
    missing_ids = [c for c in ID_COLUMNS if c not in frame]
    for col in missing_ids:
        problems.append(
            _problem(files, "", col, "", "required column is missing" + did_you_mean(col, present))
        )
    if missing_ids:
        return frame, pd.DataFrame(problems, columns=PROBLEM_COLUMNS)
    frame = map_answer_labels(frame, study)
    typed, numeric_problems = coerce_numeric(frame, list(instruments), instruments)
    problems += numeric_problems
    problems += _schema_problems(typed, response_schema(study), files)
    problems += _duplicate_codes(typed)
    if study.organisations:
        known = sorted(study.organisations)
        unknown = typed["organisation"].notna() & ~typed["organisation"].isin(known)
        for _, r in typed.loc[unknown, [FILE_COLUMN, ROW_COLUMN, "organisation"]].iterrows():
            org = r["organisation"]
            rule = "organisation not in study.yaml `organisations`" + did_you_mean(org, known)
            problems.append(_problem(r[FILE_COLUMN], r[ROW_COLUMN], "organisation", org, rule))
    out = pd.DataFrame(problems, columns=PROBLEM_COLUMNS)
    if not out.empty:
        out["_order"] = pd.to_numeric(out["row"], errors="coerce").fillna(0)
        out = out.sort_values(["file", "_order", "column"], kind="stable").drop(columns="_order")
        out = out.reset_index(drop=True)
    return typed, out


def load_responses(study: Study) -> pd.DataFrame:
    """Read and validate every response file; raise one DataError listing all problems."""
    raw = read_raw(study.files("responses"), study.columns)
    typed, problems = validate_responses(raw, study)
    if not problems.empty:
        raise DataError(problem_summary(problems), problems)
    return typed
