"""Reading the qualitative inputs: the codebook, the codings and the open answers.

``data.codings`` (CONTRACT.md): ``.csv``/``.xlsx`` files with ``segment, coder, code`` (and
optional ``text, document, round, organisation, tone``), and/or REFI-QDA ``.qdpx`` projects. A code
that is not in the codebook is analysed anyway and logged as a warning, never rejected.
``tone`` is the coder's reading of the segment (:data:`SEGMENT_TONES`; empty: not given); a
``.qdpx`` project cannot carry it (REFI-QDA has no field for it), so its codings have none.
``data.open_answers``: one row per answer, ``answer_id, round, organisation`` and ``text``
(optional ``unit, participant, role, question``); a coding whose segment is an answer id gets
that answer's round, organisation and text.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from evaluation.config import SEGMENT_TONES, Study, read_yaml
from evaluation.errors import DataError
from evaluation.io.problems import PROBLEM_COLUMNS, problem_summary
from evaluation.io.readers import FILE_COLUMN, ROW_COLUMN, read_table_file

log = logging.getLogger(__name__)

CODING_COLUMNS = ["segment", "coder", "code", "text", "document", "round", "organisation",
                  "start", "end", "source", "tone"]  # fmt: skip
ANSWER_REQUIRED = ("answer_id", "round", "organisation", "text")
CODEBOOK_COLUMNS = ["id", "label_fi", "label_en", "description", "keywords", "parent", "tone",
                    "examples"]  # fmt: skip


def load_codebook(study: Study) -> pd.DataFrame:
    """The codebook (``study.yaml: codebook``, else ``config/codebook.yaml``, else empty)."""
    declared = study.codebook
    path = study.paths.resolve(declared) if declared else study.paths.config_dir / "codebook.yaml"
    if not path.is_file():
        if declared:
            raise DataError(f"{path}: codebook not found (declared in study.yaml)")
        return pd.DataFrame(columns=CODEBOOK_COLUMNS)
    codes = read_yaml(path).get("codes") or []
    if not isinstance(codes, list):
        raise DataError(f"{path}: `codes` must be a list of codes (- id: ..., label_fi: ...)")
    rows, seen = [], set()
    for i, code in enumerate(codes, start=1):
        if not isinstance(code, dict) or not code.get("id"):
            raise DataError(f"{path}: code #{i} has no id")
        cid = str(code["id"])
        if cid in seen:
            raise DataError(f"{path}: code #{i}: id {cid!r} appears more than once")
        seen.add(cid)
        tone = code.get("tone")
        if tone not in (None, *TONES):
            raise DataError(f"{path}: code {cid!r}: tone {tone!r} is not one of {', '.join(TONES)}")
        rows.append(
            {
                "id": cid,
                "label_fi": str(code.get("label_fi") or cid),
                "label_en": str(code.get("label_en") or cid),
                "description": str(code.get("description") or ""),
                "keywords": _texts(code.get("keywords"), path, cid, "keywords"),
                "parent": code.get("parent"),
                "tone": tone,  # resource / problem: used by the joint display
                "examples": _texts(code.get("examples"), path, cid, "examples"),
            }
        )
    return pd.DataFrame(rows, columns=CODEBOOK_COLUMNS)


TONES = ("resource", "problem")


def _texts(value: object, path: Path, code: str, key: str) -> list[str]:
    """A list of texts; one text alone is a list of one (never split into its letters)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or any(isinstance(v, dict | list) for v in value):
        raise DataError(f"{path}: code {code!r}: `{key}` must be a list of texts")
    return [str(v) for v in value]


def codebook_labels(codebook: pd.DataFrame, language: str) -> dict[str, str]:
    """Code id -> its codebook label in ``language`` (reports show codes by these)."""
    column = f"label_{language}"
    if column not in codebook:
        return {}
    return dict(zip(codebook["id"], codebook[column], strict=True))


def _problems(rows: list[list]) -> DataError:
    frame = pd.DataFrame(rows, columns=PROBLEM_COLUMNS)
    return DataError(problem_summary(frame), frame)


def load_open_answers(study: Study) -> pd.DataFrame:
    """The open answers, checked: required columns, known rounds, unique answer ids."""
    paths = study.files("open_answers")
    if not paths:
        return pd.DataFrame(columns=list(ANSWER_REQUIRED))
    frames = [read_table_file(p) for p in paths]
    raw = pd.concat(frames, ignore_index=True)
    problems = []
    for col in ANSWER_REQUIRED:
        if col not in raw:
            names = ", ".join(p.name for p in paths)
            problems.append([names, "", col, "", "required column is missing"])
    if not problems:
        for col in ("answer_id", "round", "organisation"):
            for _, r in raw[raw[col].isna()].iterrows():
                problems.append([r[FILE_COLUMN], r[ROW_COLUMN], col, "", "must not be empty"])
        unknown = raw["round"].notna() & ~raw["round"].isin(study.round_ids)
        for _, r in raw[unknown].iterrows():
            problems.append(
                [r[FILE_COLUMN], r[ROW_COLUMN], "round", r["round"], "round id not in study.yaml"]
            )
        dup = raw["answer_id"].notna() & raw["answer_id"].duplicated(keep="first")
        for _, r in raw[dup].iterrows():
            problems.append(
                [r[FILE_COLUMN], r[ROW_COLUMN], "answer_id", r["answer_id"], "duplicate answer id"]
            )
    if problems:
        raise _problems(problems)
    return raw.drop(columns=[FILE_COLUMN, ROW_COLUMN])


def _open_answers_and_segments(study: Study) -> pd.DataFrame:
    """The open answers, and the document paragraphs and feedback comments in their shape
    (:func:`evaluation.io.documents.as_answers`): what a coding's segment may refer to."""
    from evaluation.io.documents import as_answers, load_segments

    answers = load_open_answers(study)
    if not (study.files("documents") or study.files("feedback")):
        return answers
    segments = load_segments(study, {"open_answers": answers})
    if segments.empty:
        return answers
    return pd.concat([answers, as_answers(segments)], ignore_index=True)


TONE_PROBLEM = f"tone must be empty or one of {', '.join(SEGMENT_TONES)}"


def _tones(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(the tones lower-cased and stripped, empty ones as missing; which are not a tone)."""
    text = values.astype("string").str.strip().str.lower()
    text = text.mask(text == "")
    bad = text.notna() & ~text.isin(SEGMENT_TONES)
    return text.astype(object).where(text.notna(), None), bad.fillna(False).astype(bool)


def qdpx_limits(study: Study) -> dict[str, int]:
    """``max_bytes`` and ``max_depth`` for .qdpx imports (``study.yaml: limits:
    {qdpx_max_bytes: ..., qdpx_max_depth: ...}``; defaults 200 MiB and 50 levels)."""
    # checked when study.yaml is read (config.Limits)
    return {"max_bytes": study.limits.qdpx_max_bytes, "max_depth": study.limits.qdpx_max_depth}


def load_codings(
    study: Study,
    *,
    answers: pd.DataFrame | None = None,
    codebook: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every coding of the study (human coders; suggestions imported from a .qdpx keep
    ``source = suggestion``), with round, organisation and text from the open answers (and
    the document paragraphs and feedback comments, :mod:`evaluation.io.documents`)."""
    from evaluation.io.qdpx import import_qdpx

    codebook = load_codebook(study) if codebook is None else codebook
    answers = _open_answers_and_segments(study) if answers is None else answers
    frames, problems = [], []
    limits = qdpx_limits(study)
    for path in study.files("codings"):
        if path.suffix.lower() == ".qdpx":
            frames.append(import_qdpx(path, codebook, **limits))
            continue
        raw = read_table_file(path)
        missing = [c for c in ("segment", "coder", "code") if c not in raw]
        for col in missing:
            problems.append([path.name, "", col, "", "required column is missing"])
        if missing:
            continue
        for col in ("segment", "coder", "code"):
            for _, r in raw[raw[col].isna()].iterrows():
                problems.append([r[FILE_COLUMN], r[ROW_COLUMN], col, "", "must not be empty"])
        if "tone" in raw:
            raw["tone"], bad = _tones(raw["tone"])
            for _, r in raw[bad].iterrows():  # the value is not repeated: it may be any text
                problems.append([r[FILE_COLUMN], r[ROW_COLUMN], "tone", "", TONE_PROBLEM])
        frames.append(raw.drop(columns=[FILE_COLUMN, ROW_COLUMN]).assign(source="human"))
    if problems:
        raise _problems(problems)
    if not frames:
        return pd.DataFrame(columns=CODING_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    for col in CODING_COLUMNS:
        if col not in out:
            out[col] = pd.NA
    out = out[CODING_COLUMNS].drop_duplicates(["segment", "coder", "code", "source"])
    if len(answers):
        by_id = answers.set_index("answer_id")
        for col in ("round", "organisation", "text"):
            known = out["segment"].map(by_id[col])
            out[col] = out[col].where(out[col].notna(), known)
    unknown = sorted(set(out["code"]) - set(codebook["id"])) if len(codebook) else []
    if unknown:
        log.warning("codes not in the codebook (analysed anyway): %s", ", ".join(unknown))
    for col in ("start", "end"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("Int64")
    return out.sort_values(["segment", "coder", "code"], kind="mergesort").reset_index(drop=True)
