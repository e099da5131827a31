"""The package's import contract (pyproject.toml, [tool.importlinter]; the layers of
docs/architecture.md) holds: `make lint` checks it too, but `make test` is what CI runs, and a
broken contract (report importing the pipeline layer) once went unnoticed there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_every_import_contract_is_kept():
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--no-cache", "--no-logo"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
