"""Every contract-valid study runs: `validate` exit 0 => `run` exit 0, for generated studies.

The studies come from :mod:`studygen` (a hypothesis strategy over the data contract). For each:
`evaluation validate` must accept it (the generator writes only contract-valid studies), then
`evaluation run --language both` must exit 0 with no traceback; every notebook executed; the
disclosure audit found nothing exposed; no report shows a Python error or an empty chart; text
planted in the data (markup, formulas, e-mail addresses, phone numbers, identity codes) never
reaches a report as markup or unredacted.

`make test` draws 4 studies with a fixed seed (``derandomize``: the same studies on every
machine, so the suite is never flaky); `make test-deep` draws many more (``DEEP``, default 40,
passed as ``EVALUATION_DEEP_EXAMPLES``) from fresh random seeds, in two shards that run side by
side. A failure prints the shrunk study (``StudySpec``) and the tail of the run's log.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.studygen import StudySpec, studies, write_study

pytestmark = [pytest.mark.slow]

CLI = [sys.executable, "-m", "evaluation.cli"]
DEEP = int(os.environ.get("EVALUATION_DEEP_EXAMPLES", "0"))
# `make test-deep` spreads its examples over shards, one per pytest-xdist worker.
SHARDS = 2 if DEEP else 1
EXAMPLES = -(-DEEP // SHARDS) if DEEP else 4

# Text planted in the open answers (studygen.SENTENCES) that must never reach a report as it
# was written: markup that would run, and personal data that redaction removes.
PLANTED = ("<script>alert(", "matti.meikalainen@example.fi", "040 123 4567", "131052-308T")
FORMULA = re.compile(r'(^|,)"?=HYPERLINK', re.MULTILINE)


def _check_outputs(root: Path) -> None:
    html = sorted((root / "reports" / "html").rglob("*.html"))
    assert html, "no HTML report written"
    for page in html:
        text = page.read_text(encoding="utf-8")
        where = page.relative_to(root)
        assert "Traceback" not in text, where
        for planted in PLANTED:
            assert planted not in text, (where, planted)
    for table in sorted((root / "reports" / "tables").glob("*.csv")):
        text = table.read_text(encoding="utf-8")
        assert not FORMULA.search(text), table.name
        for planted in PLANTED[1:]:
            assert planted not in text, (table.name, planted)


def _check_manifest(root: Path) -> None:
    manifest = json.loads((root / "reports" / "manifest.json").read_text(encoding="utf-8"))
    failed = {k: v for k, v in manifest["notebooks"].items() if v.get("status") == "failed"}
    assert not failed, failed
    assert manifest["disclosure"]["exposed"] == 0, manifest["disclosure"]
    plan = root / "data" / "processed" / "disclosure-audit.json"
    audit = json.loads(plan.read_text(encoding="utf-8"))
    assert audit["summary"]["exposed"] == 0, audit["summary"]
    assert (audit.get("themes") or {}).get("exposed", 0) == 0, audit["themes"]


def check_study_runs(spec: StudySpec, root: Path) -> None:
    """The property: validate accepts the generated study and run completes cleanly."""
    write_study(spec, root)
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    validate = subprocess.run(
        [*CLI, "validate", "--study", str(root)], capture_output=True, text=True, env=env
    )
    assert validate.returncode == 0, f"{spec.describe()}\n{validate.stdout}\n{validate.stderr}"
    done = subprocess.run(
        [*CLI, "run", "--study", str(root), "--jobs", "1", "--language", "both"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{spec.describe()}\n{output[-4000:]}"
    assert "Traceback" not in output, f"{spec.describe()}\n{output[-4000:]}"
    _check_manifest(root)
    _check_outputs(root)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not DEEP,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
@pytest.mark.parametrize("shard", range(SHARDS))
@given(spec=studies())
def test_every_valid_generated_study_runs(shard: int, spec: StudySpec, tmp_path_factory) -> None:
    check_study_runs(spec, tmp_path_factory.mktemp("generated"))
