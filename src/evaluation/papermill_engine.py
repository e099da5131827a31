"""The papermill side of :mod:`evaluation.engine` (the ``papermill.engine`` entry point)."""

from __future__ import annotations

from papermill.engines import Engine

from evaluation.engine import run_cells


class InProcessEngine(Engine):
    """Papermill engine running a notebook in this process, in a fresh namespace."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs) -> None:
        run_cells(nb_man)
