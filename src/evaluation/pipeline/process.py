"""validate -> score -> data/processed/*.parquet. Rebuilt on every run from raw + config."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
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
BAND_PREFIX = "band_"  # summaries.csv: ``band_<band id>`` counts on an instrument's own rows
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
        problems += _check_band_counts(raw, study, files)
    if problems:
        frame = pd.DataFrame(problems, columns=PROBLEM_COLUMNS)
        raise DataError(problem_summary(frame), frame)
    _log_unusable_summaries(raw)
    return raw.drop(columns=[FILE_COLUMN, ROW_COLUMN])


def summary_bands(study: Study) -> dict[str, list[str]]:
    """The instruments whose bands summaries.csv may carry: instrument id -> band ids."""
    return {
        i.id: [b.id for b in i.bands]
        for i in study.instruments.values()
        if i.file == "responses" and i.bands
    }


def _check_band_counts(raw: pd.DataFrame, study: Study, files: str) -> list[list]:
    """Problems of the optional ``band_<band id>`` columns of summaries.csv (typed in place).

    A band column must name a band of an instrument (its definition's ``bands``); its counts
    are non-negative whole numbers, only on the rows of that instrument's own measure (e.g.
    ``qwl``, not ``qwl_leadership``); on such a row the counts are all given or all empty and
    add up to ``n``. Once any row of a measure has counts, every row of it that the analyses
    use (``n >= 1`` with a mean and SD) must have them: the bands of a group add up to its
    respondents (docs/data-contract.md)."""
    from evaluation.analyse.rows import unusable_cells

    problems: list[list] = []
    banded = summary_bands(study)
    known = {b for ids in banded.values() for b in ids}
    columns = [c for c in raw.columns if str(c).startswith(BAND_PREFIX)]
    for col in columns:
        if str(col)[len(BAND_PREFIX) :] not in known:
            what = (
                "unknown band id (the bands of "
                + (
                    ", ".join(f"{i}: {', '.join(ids)}" for i, ids in banded.items())
                    or "no instrument"
                )
                + ")"
            )
            problems.append([files, 1, col, "", what])
    columns = [c for c in columns if str(c)[len(BAND_PREFIX) :] in known]
    if not columns:
        return problems
    for col in columns:
        text = raw[col].str.replace(",", ".", regex=False)
        values = pd.to_numeric(text, errors="coerce")
        bad = (values.isna() & text.notna()) | (values < 0) | (values % 1 != 0)
        for _, r in raw[bad.fillna(False)].iterrows():
            problems.append([r[FILE_COLUMN], r[ROW_COLUMN], col, r[col],
                             "must be a non-negative whole number or empty"])  # fmt: skip
        raw[col] = values.where(~bad.fillna(False)).astype("float64")
    measure = raw["measure"].astype("string")
    usable = ~unusable_cells(raw) & (raw["n"].fillna(0) > 0)
    for inst, ids in banded.items():
        mine = [f"{BAND_PREFIX}{b}" for b in ids]
        rows = measure.eq(inst).fillna(False)
        given = raw.loc[rows, [c for c in mine if c in raw]].notna()
        if not given.to_numpy().any():
            continue
        for col in mine:
            if col not in raw:
                problems.append([files, 1, col, "", f"required column is missing (the other "
                                 f"bands of {inst} are given)"])  # fmt: skip
        if any(c not in raw for c in mine):
            continue
        counts = raw.loc[rows, mine]
        some, every = counts.notna().any(axis=1), counts.notna().all(axis=1)
        total = counts.sum(axis=1)
        for idx in counts.index:
            r = raw.loc[idx]
            if some[idx] and not every[idx]:
                problems.append([r[FILE_COLUMN], r[ROW_COLUMN], mine[0],
                                 "", f"the band counts of {inst} must all be given or all "
                                 "be empty on a row"])  # fmt: skip
            elif every[idx] and pd.notna(r["n"]) and total[idx] != r["n"]:
                problems.append([r[FILE_COLUMN], r[ROW_COLUMN], ", ".join(mine), "",
                                 "the band counts must add up to n"])  # fmt: skip
            elif not some[idx] and usable[idx]:
                problems.append([r[FILE_COLUMN], r[ROW_COLUMN], mine[0], "",
                                 f"band counts missing (other rows of {inst} have them; a "
                                 "group's bands must add up to its respondents)"])  # fmt: skip
    for col in columns:
        owners = [i for i, ids in banded.items() if str(col)[len(BAND_PREFIX) :] in ids]
        for _, r in raw[~measure.isin(owners).fillna(False) & raw[col].notna()].iterrows():
            what = "band counts belong on the rows of the banded measure only"
            problems.append([r[FILE_COLUMN], r[ROW_COLUMN], col, "", what])
    return problems


def _log_unusable_summaries(raw: pd.DataFrame, shown: int = 5) -> None:
    """Say which cells have respondents but no mean or SD (suppressed by the vendor): every
    analysis leaves them out, so their groups' n exclude them (docs/methods.md, section 11)."""
    from evaluation.analyse.rows import unusable_cells

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


RISK_COLUMNS = ["round", "organisation", "unit", "indicator", "value"]


def _known_units(study: Study, data: dict[str, pd.DataFrame]) -> set[tuple[str, str]] | None:
    """The (organisation, unit) pairs a risk row may name: those of the responses or summaries;
    None when neither is read (then only study.yaml's organisations are checked)."""
    for key in ("responses", "summaries"):
        frame = data.get(key)
        if frame is not None and {"organisation", "unit"} <= set(frame.columns):
            pairs = frame[["organisation", "unit"]].dropna().drop_duplicates()
            return {(str(o), str(u)) for o, u in pairs.itertuples(index=False)}
    return None


def load_risks(study: Study, data: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Read and check the QWL vendor's unit risk indicators (``data.risks``): ``round,
    organisation, unit, indicator, value`` and optional ``n``. A round, organisation, unit or
    indicator must be known (study.yaml, the responses or summaries, the QWL definition's
    ``risks:``); ``value`` a number on the indicator's scale; ``n`` a non-negative whole
    number; one row per round, unit and indicator. Problems name file, row and column, never
    the value (a vendor's figure for a small unit is itself confidential)."""
    from evaluation.config import risk_definitions

    raw = read_raw(study.files("risks"), study.columns)
    files = ", ".join(p.name for p in study.files("risks"))
    definitions = {r.id: r for r in risk_definitions(study)}
    problems: list[list] = []
    for col in RISK_COLUMNS:
        if col not in raw:
            problems.append([files, "", col, "", "required column is missing"])
    if not definitions:
        problems.append([files, "", "indicator", "", "the QWL definition lists no `risks:`"])
    if problems:
        frame = pd.DataFrame(problems, columns=PROBLEM_COLUMNS)
        raise DataError(problem_summary(frame), frame)

    def add(mask: pd.Series, col: str, what: str) -> None:
        for _, r in raw[mask.fillna(False)].iterrows():
            problems.append([r[FILE_COLUMN], r[ROW_COLUMN], col, "", what])

    for col in RISK_COLUMNS:
        add(raw[col].isna(), col, "must not be empty")
    add(raw["round"].notna() & ~raw["round"].isin(study.round_ids), "round",
        "round id not in study.yaml")  # fmt: skip
    known = sorted(definitions)
    add(raw["indicator"].notna() & ~raw["indicator"].isin(known), "indicator",
        f"unknown indicator (known: {', '.join(known)})")  # fmt: skip
    if study.organisations:
        add(raw["organisation"].notna() & ~raw["organisation"].isin(list(study.organisations)),
            "organisation", "organisation not in study.yaml `organisations`")  # fmt: skip
    units = _known_units(study, data or {})
    if units is not None:
        pairs = pd.Series(list(zip(raw["organisation"], raw["unit"], strict=True)), index=raw.index)
        add(raw["unit"].notna() & raw["organisation"].notna() & ~pairs.isin(units), "unit",
            "unit not in the responses or summaries of its organisation")  # fmt: skip
    text = raw["value"].str.replace(",", ".", regex=False)
    value = pd.to_numeric(text, errors="coerce").astype("float64")
    add(value.isna() & text.notna(), "value", "not a number")
    low = raw["indicator"].map({k: r.scale_min for k, r in definitions.items()}).astype("float64")
    high = raw["indicator"].map({k: r.scale_max for k, r in definitions.items()}).astype("float64")
    outside = value.notna() & low.notna() & ((value < low) | (value > high))
    for _, r in raw[outside.fillna(False)].iterrows():
        d = definitions[r["indicator"]]
        what = f"outside the scale {d.scale_min:g}-{d.scale_max:g} of {d.id}"
        problems.append([r[FILE_COLUMN], r[ROW_COLUMN], "value", "", what])
    raw["value"] = value
    if "n" in raw:
        n_text = raw["n"].str.replace(",", ".", regex=False)
        n = pd.to_numeric(n_text, errors="coerce").astype("float64")
        add((n.isna() & n_text.notna()) | (n < 0) | (n % 1 != 0), "n",
            "must be a non-negative whole number or empty")  # fmt: skip
        raw["n"] = n
    keys = ["round", "organisation", "unit", "indicator"]
    dup = raw.duplicated(keys, keep="first") & raw[keys].notna().all(axis=1)
    add(dup, "indicator", "a second row for this round, unit and indicator")
    if problems:
        frame = pd.DataFrame(problems, columns=PROBLEM_COLUMNS)
        frame["_order"] = pd.to_numeric(frame["row"], errors="coerce").fillna(0)
        frame = frame.sort_values(["file", "_order", "column"], kind="stable")
        frame = frame.drop(columns="_order").reset_index(drop=True)
        raise DataError(problem_summary(frame), frame)
    columns = [*RISK_COLUMNS, *(["n"] if "n" in raw else [])]
    return raw[columns].reset_index(drop=True)


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
    """Read and validate every declared raw file; raise one DataError listing all problems.

    The responses, most of a survey study's raw data, are read in a second thread while the
    files that do not need them are read here (pandas' CSV tokenizer releases the GIL: at
    400,000 respondents x 4 rounds the other files are read in the responses' shadow). When
    both fail, the responses' error is the one raised, as when the files were read in turn."""
    with ThreadPoolExecutor(1, thread_name_prefix="evaluation-responses") as side:
        responses = side.submit(load_responses, study) if study.files("responses") else None
        try:
            early = _read_without_responses(study)
        except Exception:
            if responses is not None and responses.exception() is not None:
                raise responses.exception() from None
            raise
        out: dict[str, pd.DataFrame] = {}
        if responses is not None:
            out["responses"] = responses.result()
    out.update((key, early[key]) for key in ("summaries", "activities", "feedback") if key in early)
    if study.files("risks"):
        out["risks"] = load_risks(study, out)
    check_target_columns(study, out)
    segments = None
    if study.files("documents") or study.files("feedback"):
        from evaluation.io.documents import load_segments

        if "open_answers" in early:
            out["open_answers"] = early["open_answers"]
        segments = load_segments(study, out, comments=early.get("comments"))
        if len(segments):
            out["segments"] = segments
    if study.files("open_answers") or study.files("codings"):
        from evaluation.io.codings import load_codings, load_open_answers
        from evaluation.io.documents import as_answers

        answers = out.get("open_answers")
        answers = load_open_answers(study) if answers is None else answers
        if study.files("open_answers"):
            out["open_answers"] = answers
        if study.files("codings"):
            # document paragraphs and feedback comments give their codings round,
            # organisation and text as open answers do
            known = answers if segments is None or segments.empty else pd.concat(
                [answers, as_answers(segments)], ignore_index=True)  # fmt: skip
            out["codings"] = load_codings(study, answers=known)
    return out


def _read_without_responses(study: Study) -> dict[str, pd.DataFrame]:
    """The raw files :func:`validate_study` reads while the responses are read: summaries,
    activities, feedback, the open answers and the feedback comments (those a study has)."""
    out: dict[str, pd.DataFrame] = {}
    if study.files("summaries"):
        out["summaries"] = load_summaries(study)
    for key in ("activities", "feedback"):
        if study.files(key):
            out[key] = load_records(study, key)
    for key in ("codings", "open_answers", "documents"):
        for path in study.files(key):
            if not path.is_file():
                raise DataError(f"{path}: file not found (declared as data.{key} in study.yaml)")
    if study.files("documents") or study.files("feedback"):
        from evaluation.io.codings import load_open_answers
        from evaluation.io.documents import load_feedback_comments

        if study.files("open_answers"):
            out["open_answers"] = load_open_answers(study)
        out["comments"] = load_feedback_comments(study)
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
    for key in ("summaries", "activities", "feedback", "open_answers", "codings", "risks",
                "segments"):  # fmt: skip
        if key in data:
            frame = data[key]
            if key == "feedback":  # the comments' text lives in segments.parquet only
                frame = frame.drop(columns=["comment"], errors="ignore")
            written[key] = write_parquet(frame, processed / f"{key}.parquet")
    # Derived data is rebuilt from raw every run: nothing from an earlier run may linger. (The
    # disclosure plan is the run's next step, made from these files: it is replaced there.)
    planned = {processed / "disclosure.parquet"}
    for stale in set(processed.glob("*.parquet")) - set(written.values()) - planned:
        log.info("removing %s (its input is no longer declared)", stale.name)
        stale.unlink()
    return written
