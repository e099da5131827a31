"""The papermill side of :mod:`evaluation.pipeline.engine`: the class the ``papermill.engine``
entry point names. Papermill loads its entry points while it is being imported, so import
papermill before this module (:func:`evaluation.pipeline.run.register_engine` does)."""

from __future__ import annotations

from papermill.engines import Engine

from evaluation.pipeline.engine import run_cells


class InProcessEngine(Engine):
    """Papermill engine running a notebook in this process, in a fresh namespace."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, cell_cache=None, **kwargs) -> None:
        run_cells(nb_man, cell_cache)
