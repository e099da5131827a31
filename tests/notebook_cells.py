"""Run an analysis notebook's code cells in this process (no kernel, no papermill): the
tables of record a test needs, computed by the very recipe the notebook ships."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat

from evaluation.paths import DEFAULT_NOTEBOOKS


def run_cells(name: str, study_dir: str | Path, language: str = "") -> dict[str, Any]:
    """Execute ``<name>.ipynb`` (a shipped notebook, or a path) with ``study_dir`` and
    ``language`` as its parameters; return the notebook's variables."""
    import matplotlib

    matplotlib.use("Agg")
    path = Path(name) if str(name).endswith(".ipynb") else DEFAULT_NOTEBOOKS / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    namespace: dict[str, Any] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        exec(compile(cell.source, f"{path.name}", "exec"), namespace)
        if "parameters" in cell.metadata.get("tags", []):
            namespace.update(study_dir=str(study_dir), language=language)
    return namespace
