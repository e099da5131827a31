"""Small, deterministic edits of a demo study's raw data: what the incremental benchmarks
(``benchmarks/incremental.py``) and the cache tests change between two runs."""

from __future__ import annotations

import re
from pathlib import Path

from evaluation.errors import DataError

ACTIVITIES = Path("data") / "raw" / "activities.csv"


def add_training_participant(study: str | Path) -> None:
    """One more participant in the first training of ``data/raw/activities.csv`` (an
    indicator counts them; nothing else reads the activities)."""
    path = Path(study) / ACTIVITIES
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    pattern = re.compile(r",training,(\d+),")
    at = next((i for i, line in enumerate(lines) if pattern.search(line)), None)
    if at is None:
        raise DataError(f"{path}: no row of activity 'training' with a participant count")
    lines[at] = pattern.sub(lambda m: f",training,{int(m[1]) + 1},", lines[at], count=1)
    path.write_text("".join(lines), encoding="utf-8")
