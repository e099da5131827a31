"""One exception family for every user-facing error.

The CLI turns these into a message and an exit code, never a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported by whoever builds a problems frame; the CLI stays light
    import pandas as pd


class EvaluationError(Exception):
    """Base class of every error the user can fix; ``exit_code`` is what the CLI returns."""

    exit_code = 1


class ConfigError(EvaluationError):
    """A configuration file is missing, unreadable or inconsistent (exit code 1)."""


class DataError(EvaluationError):
    """Raw data breaks the data contract (exit code 1).

    ``problems`` is a frame with columns ``file, row, column, value, problem``: every problem
    found, not only the first.
    """

    def __init__(self, message: str, problems: pd.DataFrame | None = None) -> None:
        super().__init__(message)
        self.problems = problems


class UsageError(EvaluationError):
    """The command was called wrongly (exit code 2)."""

    exit_code = 2


class NotebookError(EvaluationError):
    """A notebook failed; its partial output notebook is kept (exit code 3)."""

    exit_code = 3


class ReproduceError(EvaluationError):
    """A re-run produced tables that differ from the manifest (exit code 1)."""


class OutputPathError(EvaluationError):
    """An output would land outside the study's ``reports/`` or ``data/processed/``, or be
    written through a symbolic link (exit code 1). Nothing is written."""


class OverwriteError(EvaluationError):
    """A command would overwrite a file that holds something else (e.g. ``evaluation demo`` in
    an existing study) and ``--force`` was not given (exit code 1). Nothing is written."""


class DisclosureError(EvaluationError):
    """The disclosure audit found a group below ``min_n`` that the published tables would give
    away; nothing is published (exit code 1)."""
