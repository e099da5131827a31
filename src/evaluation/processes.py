"""The start method of every process this package starts (the run's workers and children, the
demo's CSV writer): a fresh interpreter (spawn), or a fork of a server process that has done
nothing but import modules (the run's workers on Linux: :func:`worker_context`); never a fork
of a process that has run anything."""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Sequence

#: A worker computes on one core: the run's parallelism is its workers. Two workers whose BLAS
#: each start a thread per core compete for the cores (and OpenBLAS's threads spin while they
#: wait); one thread also makes the floating-point results the same on every machine, whatever
#: its number of cores. Set before numpy is imported (the libraries read it once, at load).
ONE_THREAD_MATH = {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def one_thread_math() -> None:
    """Make this process's numerical libraries use one thread (:data:`ONE_THREAD_MATH`); to be
    called in a new process before anything imports numpy."""
    os.environ.update(ONE_THREAD_MATH)


def spawn_context() -> multiprocessing.context.SpawnContext:
    """The spawn context, usable from an IPython shell too."""
    _main_for_spawn()
    return multiprocessing.get_context("spawn")


def worker_context(preload: Sequence[str]) -> multiprocessing.context.BaseContext:
    """The start method of the run's workers. On Linux, a fork server: a fresh interpreter
    that imports the modules ``preload`` once, then forks each worker from that state (a
    worker starts in milliseconds, not after 1.5 s of imports of its own). The server only
    imports; it ends with the process that started it. Elsewhere, spawn.

    The server is started once per process, with the ``preload`` of its first use; a later
    pool with another list gets workers of the first (its workers import what is missing)."""
    if sys.platform.startswith("linux") and "forkserver" in multiprocessing.get_all_start_methods():
        _main_for_spawn()
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(preload))
        return context
    return spawn_context()


def _main_for_spawn() -> None:
    # An IPython shell in this process (the in-process engine, or `run()` called from a
    # notebook) replaces __main__ with a module that has no __spec__, which spawn (and the fork
    # server's preparation of a worker) needs.
    main = sys.modules.get("__main__")
    if main is not None and not hasattr(main, "__spec__"):
        main.__spec__ = None
