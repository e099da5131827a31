"""Writing derived files atomically. Raw files are never written.

Every file written goes through :func:`atomic_write` (temp file in the same folder, then
``os.replace``), so a failed run never leaves a half-written file that looks complete.

While ``evaluation run`` executes a notebook, :data:`STAGING_ENV` names a staging folder: every
output the notebook writes under ``reports/`` (tables, figures) goes there instead
(:func:`staged_path`), and the run publishes the staged files only when the notebook succeeded,
so a failing notebook never replaces or removes an earlier output.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from evaluation.safety import check_output_path

if TYPE_CHECKING:  # pandas is imported where rows are read: a run with nothing to do needs none
    import pandas as pd

_UMASK = os.umask(0)
os.umask(_UMASK)


STAGING_ENV = "EVALUATION_STAGING"
# While ``evaluation run`` executes a notebook: the file where the tables of record it reads are
# traced (:func:`record_read`), so its cache depends on exactly those.
READS_ENV = "EVALUATION_READS"
# While ``evaluation run`` executes a notebook: the study's figure cache
# (reports/.cache/figures, :mod:`evaluation.report.plot_cache`).
FIGURES_ENV = "EVALUATION_FIGURES"
# While ``evaluation run`` makes the disclosure plan beside the analyses: the file that says
# when it is made ("made", or "failed"); every read of the plan waits for it
# (:func:`evaluation.disclosure.plan.plan_made`).
PLAN_WAIT_ENV = "EVALUATION_PLAN_WAIT"


def record_read(table: str, rows: dict[str, str] | None = None) -> None:
    """Note that the running notebook read the table of record ``table`` (without ``.csv``)
    when ``evaluation run`` traces it (:data:`READS_ENV`); otherwise nothing. ``rows``: it read
    only the rows whose columns have these values (``{"group_by": "organisation", "group":
    name}``), so its cache depends on those rows only (:func:`read_key`)."""
    path = os.environ.get(READS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(read_key(table, rows) + "\n")


def read_key(table: str, rows: dict[str, str] | None = None) -> str:
    """How a read is named in a cache record: ``<table>.csv`` for the whole table; for some of
    its rows a JSON object ``{"rows": {...}, "table": "<table>.csv"}`` (one line)."""
    name = f"{table}.csv"
    if rows is None:
        return name
    spec = {"rows": {str(k): str(v) for k, v in sorted(rows.items())}, "table": name}
    return json.dumps(spec, ensure_ascii=False, sort_keys=True)


def read_table_name(key: str) -> str:
    """The table file a :func:`read_key` names (``indicators.csv``)."""
    return json.loads(key)["table"] if key.startswith("{") else key


def _read_rows(path: Path) -> list[list[str]]:
    """The rows of a CSV table of record as text (the header first; blank lines skipped)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [row for row in csv.reader(handle) if row]


def read_digest(tables: Path, key: str) -> str | None:
    """The sha256 of what a :func:`read_key` names in the folder ``tables``: the whole file, or
    the CSV text of its rows that match (read as text, as written); None when it is absent."""
    return ReadDigests(tables)(key)


class ReadDigests:
    """:func:`read_digest` for many keys of one folder of tables: each table is hashed and
    parsed at most once (a run checks the row reads of dozens of reports against the same
    few tables). Only for tables that do not change while it is in use. ``hashes``: sha256 of
    whole tables already known (name -> digest, e.g. from ``table_hashes``)."""

    def __init__(self, tables: Path, hashes: dict[str, str] | None = None) -> None:
        self.tables = tables
        self._whole: dict[str, str | None] = dict(hashes or {})
        self._parsed: dict[str, list[list[str]]] = {}  # rows of each table, as text
        self._rows: dict[str, str | None] = {}

    def __call__(self, key: str) -> str | None:
        name = read_table_name(key)
        if name not in self._whole:
            path = self.tables / name
            self._whole[name] = sha256_file(path) if path.is_file() else None
        if self._whole[name] is None or not key.startswith("{"):
            return self._whole[name]
        if key not in self._rows:
            if name not in self._parsed:
                self._parsed[name] = _read_rows(self.tables / name)
            header, *rows = self._parsed[name] or [[]]
            where = [(header.index(c) if c in header else None, v)
                     for c, v in json.loads(key)["rows"].items()]  # fmt: skip
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(
                row for row in rows
                if all(i is not None and i < len(row) and row[i] == v for i, v in where)
            )  # fmt: skip
            self._rows[key] = hashlib.sha256(out.getvalue().encode("utf-8")).hexdigest()
        return self._rows[key]


_UNSTAGED = (".cache", ".staging")  # run bookkeeping under reports/: written in place


def staged_path(target: str | Path) -> Path:
    """Where ``target`` is written now: in the staging folder of the notebook being run when
    :data:`STAGING_ENV` is set (``{"reports": ..., "stage": ...}``) and ``target`` lies under
    that ``reports/`` folder, else ``target`` itself."""
    target = Path(target)
    spec = os.environ.get(STAGING_ENV)
    if not spec:
        return target
    where = json.loads(spec)
    try:
        rel = target.absolute().relative_to(where["reports"])
    except ValueError:
        return target
    if not rel.parts or rel.parts[0] in _UNSTAGED:
        return target
    return Path(where["stage"]) / rel


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; it replaces ``target`` only on success.

    A target in a study's ``reports/`` or ``data/processed/`` is written only there, never
    through a symbolic link, and no target may climb with ``..``
    (:func:`evaluation.safety.check_output_path` raises ``OutputPathError``). While a
    notebook runs under ``evaluation run``, a target in ``reports/`` is written to its staging
    folder instead (:func:`staged_path`)."""
    check_output_path(target)
    target = check_output_path(staged_path(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual mode
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def atomic_write(target: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` and move the result onto ``target`` atomically."""
    with atomic_path(target) as tmp:
        write(tmp)
    return target


def write_text(target: Path, text: str) -> Path:
    return atomic_write(target, lambda p: p.write_text(text, encoding="utf-8", newline="\n"))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_parquet(frame: pd.DataFrame, target: Path) -> Path:
    """Write a parquet file atomically and deterministically (no pandas index)."""
    return atomic_write(target, lambda p: frame.to_parquet(p, index=False, engine="pyarrow"))
