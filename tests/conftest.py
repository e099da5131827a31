"""Shared fixtures: a tiny hand-written study folder, independent of the demo generator."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

STUDY_YAML = """\
study: Tiny
language: en
rounds:
  - {id: T0, label: "Baseline", date: 2025-10-15}
  - {id: T1, label: "2026", date: 2026-10-15}
baseline: T0
design: auto
instruments: [qwl, esis]
data:
  responses: data/raw/responses.csv
disclosure: {min_n: 5}
organisations:
  Org A: {actor: Actor 1, sector: public, size: large, units: {Ward 1: 10, Ward 2: 8}}
"""

HEADER = "round,organisation,unit,respondent,participant,role,qwl," + ",".join(
    f"esis_{i}" for i in range(1, 11)
)


def row(
    rnd: str = "T0",
    org: str = "Org A",
    unit: str = "Ward 1",
    resp: str = "",
    part: str = "1",
    role: str = "staff",
    qwl: str = "60.5",
    esis: list[str] | None = None,
) -> str:
    esis = esis if esis is not None else ["4"] * 10
    return ",".join([rnd, org, unit, resp, part, role, qwl, *esis])


def write_study(root: Path, rows: list[str], study_yaml: str = STUDY_YAML) -> Path:
    (root / "config").mkdir(parents=True, exist_ok=True)
    (root / "data" / "raw").mkdir(parents=True, exist_ok=True)
    (root / "config" / "study.yaml").write_text(textwrap.dedent(study_yaml), encoding="utf-8")
    (root / "data" / "raw" / "responses.csv").write_text(
        "\n".join([HEADER, *rows]) + "\n", encoding="utf-8"
    )
    return root


@pytest.fixture
def tiny_study(tmp_path: Path) -> Path:
    rows = [row(resp=f"R{i}", qwl=str(55 + i)) for i in range(6)]
    rows += [row(rnd="T1", resp=f"R{i}", qwl=str(60 + i)) for i in range(6)]
    return write_study(tmp_path, rows)
