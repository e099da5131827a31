"""A cache at the grain of a report's sections: a code cell whose inputs did not change shows
its last run's outputs again instead of running.

A report notebook (``90-report``) runs one cell per section, and each section reads a few
tables of record through :meth:`evaluation.report.audiences.ReportView.table`, which traces the
read (:func:`evaluation.io.files.record_read`). When one table changes (a new activity changes
``indicators.csv`` only), the report must be written again, but only the sections that read it
need to run: the others' outputs are the same. A cell's outputs are replayed when

- the notebook's key is the same (package code, labels, configuration, parameters: everything
  the run's cache key of the notebook holds except the tables it read),
- the cell's source is the same,
- the cell read at least one table last time, and every table (or rows of a table) it read
  has the same digest now (a cell that reads no table, such as the one that opens the view,
  always runs: it is cheap and later cells need what it defines), and
- every file the cell wrote under ``reports/`` (its figures) is still there, unchanged.

A section depends on nothing but its arguments, the tables it reads and the configuration (the
view it gets caches tables only), so a replayed cell shows what running it would show. The
reads of a replayed cell are traced again, so the notebook's own cache record stays complete.
``evaluation run --force`` replays nothing. Only the in-process engine replays cells.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from evaluation.io.files import READS_ENV, STAGING_ENV, ReadDigests, sha256_file, write_text

VERSION = 1  # of the record's format


def _source_digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def _from_env(name: str, key: str) -> Path | None:
    spec = os.environ.get(name)
    return Path(json.loads(spec)[key]) if spec else None


def _staged_files(stage: Path | None) -> dict[str, int]:
    if stage is None or not stage.is_dir():
        return {}
    files = (p for p in stage.rglob("*") if p.is_file())
    return {p.relative_to(stage).as_posix(): p.stat().st_mtime_ns for p in files}


@dataclass
class CellCache:
    """The cell records of one notebook's last run (``path``) and those of this run.

    ``key``: the notebook's cache key without the tables; ``reports``: the study's ``reports/``
    folder (where the tables of record and the cells' figures are)."""

    path: Path
    key: str
    reports: Path
    tables: Path
    previous: list[dict | None] = field(default_factory=list)
    records: list[dict | None] = field(default_factory=list)
    replayed: int = 0
    digests: ReadDigests | None = None
    # the notebook's staging folder and its file of traced reads (set while it runs)
    stage: Path | None = field(default_factory=lambda: _from_env(STAGING_ENV, "stage"))
    traced: str | None = field(default_factory=lambda: os.environ.get(READS_ENV))

    @classmethod
    def open(
        cls, path: Path, key: str, *, reports: Path, tables: Path, replay: bool = True
    ) -> CellCache:
        """The records of the last run at ``path`` when they were made under ``key`` (and
        ``replay``); none otherwise (every cell runs and is recorded)."""
        previous: list[dict | None] = []
        if not replay:
            return cls(path, key, reports, tables, previous)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = None
        if (
            isinstance(record, dict)
            and record.get("version") == VERSION
            and record.get("key") == key
        ):
            previous = record.get("cells") or []
        return cls(path, key, reports, tables, previous)

    # -- while the notebook runs (in the engine) ---------------------------------------------

    def replay(self, position: int, source: str) -> list[dict] | None:
        """The outputs of the ``position``-th code cell from the last run, if they still stand
        (module docstring); then its reads are traced as if it had run."""
        old = self.previous[position] if position < len(self.previous) else None
        if not old or old.get("source") != _source_digest(source) or not old.get("reads"):
            return None
        digests = self._digests()
        if any(digests(key) != digest for key, digest in old["reads"].items()):
            return None
        for name, digest in old.get("files", {}).items():
            target = self.reports / name
            if not target.is_file() or target.is_symlink() or sha256_file(target) != digest:
                return None
        if self.traced:
            with open(self.traced, "a", encoding="utf-8") as handle:
                handle.writelines(f"{key}\n" for key in old["reads"])
        self._set(position, old)
        self.replayed += 1
        return old["outputs"]

    def start(self) -> tuple[int, dict[str, int]]:
        """Mark the start of a cell that runs: where its reads and files begin."""
        return len(self._traced_lines()), _staged_files(self.stage)

    def ran(
        self, position: int, source: str, outputs: list, mark: tuple[int, dict[str, int]]
    ) -> None:
        """Record a cell that ran: the tables it read, the files it wrote, its outputs."""
        lines, before = mark
        now = _staged_files(self.stage)
        self._set(
            position,
            {
                "source": _source_digest(source),
                "reads": sorted(set(self._traced_lines()[lines:])),
                "files": sorted(name for name, mtime in now.items() if before.get(name) != mtime),
                "outputs": [dict(o) for o in outputs],
                "ran": True,  # reads and files still to be hashed (save)
            },
        )

    # -- after the notebook succeeded (in the worker, before its files are published) --------

    def save(self) -> None:
        """Write this run's records, with the digest of every table each cell read and of every
        file it wrote (in the staging folder, before they are published)."""
        digests, stage = self._digests(), self.stage
        cells = []
        for rec in self.records:
            if rec is not None and rec.pop("ran", False):
                rec["reads"] = {key: digests(key) for key in rec["reads"]}
                rec["files"] = {
                    name: sha256_file((stage or self.reports) / name) for name in rec["files"]
                }
            cells.append(rec)
        record = {"version": VERSION, "key": self.key, "cells": cells}
        write_text(self.path, json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")

    # -- helpers ---------------------------------------------------------------------------------

    def _set(self, position: int, record: dict) -> None:
        self.records.extend([None] * (position + 1 - len(self.records)))
        self.records[position] = record

    def _digests(self) -> ReadDigests:
        if self.digests is None:  # the tables do not change while a report runs
            self.digests = ReadDigests(self.tables)
        return self.digests

    def _traced_lines(self) -> list[str]:
        if not self.traced or not os.path.isfile(self.traced):
            return []
        with open(self.traced, encoding="utf-8") as handle:
            return [line for line in handle.read().splitlines() if line]
