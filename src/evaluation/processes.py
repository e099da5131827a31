"""The start method of every process this package starts (the run's workers and children, the
demo's CSV writer): a fresh interpreter (spawn), never a fork of a process with threads."""

from __future__ import annotations

import multiprocessing
import sys


def spawn_context() -> multiprocessing.context.SpawnContext:
    """The spawn context, usable from an IPython shell too."""
    # An IPython shell in this process (the in-process engine, or `run()` called from a
    # notebook) replaces __main__ with a module that has no __spec__, which spawn needs.
    main = sys.modules.get("__main__")
    if main is not None and not hasattr(main, "__spec__"):
        main.__spec__ = None
    return multiprocessing.get_context("spawn")
