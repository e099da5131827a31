"""Documents and feedback comments as qualitative sources, segmented into paragraphs.

``data.documents`` (docs/data-contract.md) lists metadata tables (``.csv``/``.xlsx``: ``file,
round, organisation, kind``, optional ``title, date``) and/or ``.md`` files whose YAML front
matter carries the same keys. A metadata row's ``file`` is relative to the study's
``data/raw/`` folder; only ``.txt``, ``.md`` and ``.docx`` files inside that folder are ever
opened (no absolute path, no ``..``, no symbolic link that leads out of it).

Segmentation: a paragraph is a segment (blank-line separated in ``.txt`` and ``.md``, a Word
paragraph in ``.docx``); a heading (``#`` line in ``.md``, a Heading/Title style in ``.docx``)
is not a segment but is kept as the ``heading`` of the paragraphs under it. A segment's id is
``<document>#p<k>`` (``document`` = the file's path under data/raw, ``k`` counts the document's
segments from 1), so codings (``segment`` column) and ``.qdpx`` projects can code it like an open
answer.

``feedback.csv`` may carry a ``comment`` column: each non-empty comment is a segment of kind
``feedback_comment`` with its row's round and organisation, id ``<file>#r<row>``.

Every problem is reported with the metadata file, row and column; a document's text is never
repeated in a message.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path, PurePosixPath, PureWindowsPath

import pandas as pd
import yaml

from evaluation.config import Study
from evaluation.errors import DataError
from evaluation.io.problems import PROBLEM_COLUMNS, problem_summary
from evaluation.io.readers import FILE_COLUMN, ROW_COLUMN, _decode, read_raw, read_table_file

log = logging.getLogger(__name__)

DOCUMENT_KINDS = ("workshop_notes", "interview_notes", "other")
FEEDBACK_COMMENT = "feedback_comment"
OPEN_ANSWER = "open_answer"
SOURCE_KINDS = (OPEN_ANSWER, *DOCUMENT_KINDS, FEEDBACK_COMMENT)
DOCUMENT_SUFFIXES = (".txt", ".md", ".docx")
METADATA_REQUIRED = ("file", "round", "organisation", "kind")
METADATA_KEYS = (*METADATA_REQUIRED, "title", "date")
SEGMENT_COLUMNS = ["segment", "document", "kind", "round", "organisation", "title", "date",
                   "heading", "text"]  # fmt: skip
COMMENT_COLUMN = "comment"

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_MD_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_DOCX_HEADINGS = ("heading", "title", "otsikko")  # Word style names (English and Finnish Word)


class _Problems(list):
    def add(self, file: str, row: object, column: str, problem: str) -> None:
        # the value column stays empty: it could be any text of the document
        self.append([file, row, column, "", problem])


def empty_segments() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in SEGMENT_COLUMNS})


# --- paths ---------------------------------------------------------------------------------


def safe_document_path(raw_dir: Path, name: str) -> Path | None:
    """The file ``name`` (relative to ``raw_dir``) if it lies inside ``raw_dir``: None for an
    absolute path, a drive, ``..`` or a symbolic link that leads out of the folder."""
    if not name or PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute():
        return None
    if PureWindowsPath(name).drive or name.startswith(("/", "\\", "~")):
        return None
    parts = re.split(r"[\\/]", name)
    if any(p == ".." for p in parts):
        return None
    root = raw_dir.resolve()
    target = (root / Path(*[p for p in parts if p not in ("", ".")])).resolve()
    if not target.is_relative_to(root):
        return None
    return target


def _document_id(path: Path, raw_dir: Path) -> str:
    return path.resolve().relative_to(raw_dir.resolve()).as_posix()


# --- reading and segmenting ---------------------------------------------------------------


def split_front_matter(text: str) -> tuple[dict | None, str]:
    """(the YAML front matter of a Markdown text, or None; the text after it).
    Raises ``ValueError`` when the front matter is not a YAML mapping."""
    text = text.lstrip("\ufeff")
    m = _FRONT_MATTER.match(text)
    if m is None:
        return None, text
    try:
        meta = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        raise ValueError("front matter is not valid YAML") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise ValueError("front matter must be a YAML mapping (key: value lines)")
    return meta, text[m.end() :]


def _clean(text: str) -> str:
    return " ".join(text.split())


def segment_plain(text: str, *, markdown: bool = False) -> list[tuple[str, str]]:
    """Paragraphs of a plain or Markdown text as ``(heading, text)``; a Markdown heading line
    starts a new context and is not a paragraph."""
    out, heading = [], ""
    for block in _BLANK_LINE.split(text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [line for line in block.split("\n") if line.strip()]
        body: list[str] = []
        for line in lines:
            m = _MD_HEADING.match(line.strip()) if markdown else None
            if m:
                if body:
                    out.append((heading, _clean(" ".join(body))))
                    body = []
                heading = _clean(m.group(1))
            else:
                body.append(line)
        if body:
            out.append((heading, _clean(" ".join(body))))
    return [(h, t) for h, t in out if t]


def segment_docx(path: Path) -> list[tuple[str, str]]:
    """Paragraphs of a Word document as ``(heading, text)``; paragraphs in a Heading or Title
    style are headings. Raises ``ValueError`` when the file is not a readable .docx."""
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ValueError("cannot be read as a Word .docx document") from None
    except Exception:  # lxml raises its own errors for broken XML inside the zip
        raise ValueError("cannot be read as a Word .docx document") from None
    out, heading = [], ""
    for paragraph in document.paragraphs:
        text = _clean(paragraph.text)
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        if style.lower().startswith(_DOCX_HEADINGS):
            heading = text
        else:
            out.append((heading, text))
    return out


def _read_document(path: Path) -> tuple[dict | None, list[tuple[str, str]]]:
    """(front matter or None, paragraphs). ValueError/DataError when unreadable."""
    suffix = path.suffix.lower()
    if suffix == ".docx":
        return None, segment_docx(path)
    data = path.read_bytes()
    text = _decode(data, path) if data.strip() else ""
    if suffix == ".md":
        meta, body = split_front_matter(text)
        return meta, segment_plain(body, markdown=True)
    return None, segment_plain(text)


# --- metadata ------------------------------------------------------------------------------


def _metadata_rows(study: Study, problems: _Problems) -> list[dict]:
    """One record per declared document: from metadata tables, and ``.md`` (or other document)
    files declared directly in ``data.documents``."""
    rows: list[dict] = []
    raw_dir = study.paths.raw
    for declared in study.files("documents"):
        suffix = declared.suffix.lower()
        if suffix in DOCUMENT_SUFFIXES:
            where = f"{study.paths.study_yaml.name} data.documents"
            try:
                rel = declared.resolve().relative_to(raw_dir.resolve()).as_posix()
            except ValueError:
                problems.add(where, "", "documents", "a document must lie inside data/raw/")
                continue
            rows.append({"file": rel, "_meta_file": where, "_meta_row": "", "_direct": True})
            continue
        table = read_table_file(declared)
        missing = [c for c in ("file",) if c not in table]
        for col in missing:
            problems.add(declared.name, "", col, "required column is missing")
        if missing:
            continue
        for rec in table.to_dict("records"):
            row = {k: (None if pd.isna(v) else str(v)) for k, v in rec.items()
                   if k in METADATA_KEYS}  # fmt: skip
            row.update(_meta_file=rec[FILE_COLUMN], _meta_row=rec[ROW_COLUMN], _direct=False)
            rows.append(row)
    return rows


def _known_organisations(study: Study, frames: dict[str, pd.DataFrame]) -> set[str]:
    known = set(study.organisations)
    for key in ("responses", "summaries", "feedback", "activities", "open_answers"):
        frame = frames.get(key)
        if frame is not None and "organisation" in frame:
            known |= {str(o) for o in frame["organisation"].dropna().unique()}
    return known


def load_documents(study: Study, frames: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """The study's documents segmented into paragraphs (:data:`SEGMENT_COLUMNS`), checked.

    ``frames``: the study's other validated inputs; an organisation must be one of study.yaml
    ``organisations`` or appear in them (when there are any)."""
    frames = frames or {}
    problems = _Problems()
    rows = _metadata_rows(study, problems)
    known_orgs = _known_organisations(study, frames)
    raw_dir = study.paths.raw
    out, seen = [], {}
    for row in rows:
        mfile, mrow = row["_meta_file"], row["_meta_row"]
        name = (row.get("file") or "").strip()
        if not name:
            problems.add(mfile, mrow, "file", "must not be empty")
            continue
        path = safe_document_path(raw_dir, name)
        if path is None:
            problems.add(mfile, mrow, "file", "must be a path inside data/raw/ (no absolute "
                         "path, no '..', no link out of the folder)")  # fmt: skip
            continue
        if path.suffix.lower() not in DOCUMENT_SUFFIXES:
            problems.add(mfile, mrow, "file", "must be a .txt, .md or .docx file")
            continue
        if not path.is_file():
            problems.add(mfile, mrow, "file", "file not found in data/raw/")
            continue
        doc_id = _document_id(path, raw_dir)
        if doc_id in seen:
            problems.add(mfile, mrow, "file", f"document listed twice (also {seen[doc_id]})")
            continue
        seen[doc_id] = f"{mfile}" + (f", row {mrow}" if mrow != "" else "")
        try:
            front, paragraphs = _read_document(path)
        except (ValueError, DataError) as exc:
            what = str(exc) if isinstance(exc, ValueError) else "cannot be decoded as text"
            problems.add(mfile, mrow, "file", f"{doc_id}: {what}")
            continue
        meta = {k: row.get(k) for k in METADATA_KEYS if k != "file"}
        for key, value in (front or {}).items():
            if key not in METADATA_KEYS or key == "file" or value is None:
                continue
            value = str(value).strip()
            if meta.get(key) is None:
                meta[key] = value
            elif meta[key] != value:
                problems.add(mfile, mrow, key, f"differs from the front matter of {doc_id}")
        for key in ("round", "organisation", "kind"):
            if not meta.get(key):
                column = key if not row["_direct"] else f"{doc_id} front matter: {key}"
                problems.add(mfile, mrow, column, "must not be empty")
        if meta.get("round") and meta["round"] not in study.round_ids:
            problems.add(mfile, mrow, "round", "round id not in study.yaml")
        if meta.get("organisation") and known_orgs and meta["organisation"] not in known_orgs:
            problems.add(mfile, mrow, "organisation", "organisation not in the study")
        if meta.get("kind") and meta["kind"] not in DOCUMENT_KINDS:
            problems.add(mfile, mrow, "kind", f"must be one of {', '.join(DOCUMENT_KINDS)}")
        if not paragraphs:
            problems.add(mfile, mrow, "file", f"{doc_id}: the document has no text")
            continue
        for k, (heading, text) in enumerate(paragraphs, start=1):
            out.append(
                {"segment": f"{doc_id}#p{k}", "document": doc_id, "kind": meta.get("kind"),
                 "round": meta.get("round"), "organisation": meta.get("organisation"),
                 "title": meta.get("title"), "date": meta.get("date"),
                 "heading": heading or None, "text": text}
            )  # fmt: skip
    if problems:
        frame = pd.DataFrame(problems, columns=PROBLEM_COLUMNS)
        raise DataError(problem_summary(frame), frame)
    if not out:
        return empty_segments()
    log.info("documents: %d segment(s) in %d document(s)", len(out), len(seen))
    return pd.DataFrame(out, columns=SEGMENT_COLUMNS).astype(object)


def load_feedback_comments(study: Study) -> pd.DataFrame:
    """Each non-empty ``comment`` of the feedback files as a segment (see the module
    docstring); an empty frame when there is no comment column. Rounds are checked by
    :func:`evaluation.pipeline.process.load_records`."""
    paths = study.files("feedback")
    if not paths:
        return empty_segments()
    raw = read_raw(paths, study.columns)
    if COMMENT_COLUMN not in raw:
        return empty_segments()
    raw = raw[raw[COMMENT_COLUMN].notna()]
    rows = [
        {"segment": f"{r[FILE_COLUMN]}#r{r[ROW_COLUMN]}", "document": None,
         "kind": FEEDBACK_COMMENT, "round": _text(r.get("round")),
         "organisation": _text(r.get("organisation")), "title": None, "date": None,
         "heading": None, "text": _clean(str(r[COMMENT_COLUMN]))}
        for r in raw.to_dict("records")
    ]  # fmt: skip
    rows = [r for r in rows if r["text"]]
    if not rows:
        return empty_segments()
    return pd.DataFrame(rows, columns=SEGMENT_COLUMNS).astype(object)


def _text(value: object) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def load_segments(
    study: Study,
    frames: dict[str, pd.DataFrame] | None = None,
    *,
    comments: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Document paragraphs and feedback comments, one row each (:data:`SEGMENT_COLUMNS`);
    a segment id that is also an open answer's id is an error. ``comments``: the feedback
    comments when they were read already (:func:`load_feedback_comments`)."""
    frames = frames or {}
    parts = [load_documents(study, frames)] if study.files("documents") else []
    parts.append(load_feedback_comments(study) if comments is None else comments)
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_segments()
    out = pd.concat(parts, ignore_index=True)
    answers = frames.get("open_answers")
    if answers is not None and len(answers):
        clash = sorted(set(out["segment"]) & set(answers["answer_id"].astype(str)))
        if clash:
            raise DataError(
                f"open answers: answer_id {clash[0]!r} is also the id of a document segment "
                "or feedback comment (ids must be unique in the study)"
            )
    return out


def as_answers(segments: pd.DataFrame) -> pd.DataFrame:
    """Segments in the shape of the open answers (``answer_id, round, organisation, text,
    kind, document``): the qualitative analyses take both alike."""
    return segments.rename(columns={"segment": "answer_id"})[
        ["answer_id", "round", "organisation", "text", "kind", "document"]
    ]
