"""Child processes of a run: they stop with it, and a one-off child can do a stage whose memory
the run should not keep.

:func:`in_child` runs a function in a fresh process (spawn) that ends with it. Processing a
national-size study (validation, scoring, the disclosure plan) peaks at gigabytes of frames;
freed, most of it still stays with the process that made them (allocator pages, fragmented
arenas, modules). Done in a child, all of it goes back to the system when the child exits,
instead of staying in the run process while the notebooks run. The child's log records are
handled by the run's own loggers (the terminal display, the log lines, ``--verbose``), and
what it raises is raised in the run: an :class:`~evaluation.errors.EvaluationError` (bad input,
with its file, row and column) exits as it would in-process.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from evaluation.errors import EvaluationError
from evaluation.processes import spawn_context

T = TypeVar("T")


def die_with_parent(parent: int) -> None:
    """Have the kernel send this process SIGTERM when the run that started it dies, however it
    dies (Linux: prctl PR_SET_PDEATHSIG); elsewhere, a thread that watches the parent's pid."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(1, signal.SIGTERM, 0, 0, 0) == 0:  # 1 = PR_SET_PDEATHSIG
                if os.getppid() != parent:  # the parent died before prctl: stop now
                    os._exit(143)
                return
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(143)

    threading.Thread(target=watch, name="evaluation-parent-watch", daemon=True).start()


def die_with_run(run: int) -> None:
    """Have this process stop when the run ``run`` dies, however it dies: as
    :func:`die_with_parent` for a child of the run; for a worker forked from the run's fork
    server (whose parent is the server, which lives as long as any of its workers), a thread
    that waits on the run's process (Linux: a pidfd, woken at its end; elsewhere it polls)."""
    if os.getppid() == run:
        die_with_parent(run)
        return
    try:
        handle = os.pidfd_open(run)
    except ProcessLookupError:  # the run is gone already
        os._exit(143)
    except (AttributeError, OSError):  # no pidfd: poll
        handle = None

    def watch() -> None:
        if handle is not None:
            select.select([handle], [], [])  # readable when the run has ended
        else:
            while _alive(run):
                time.sleep(1.0)
        os._exit(143)

    threading.Thread(target=watch, name="evaluation-run-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user has the number now: not the run
        return False
    return True


def _child_start(records: Any, level: int, parent: int) -> None:
    """The one-off child's start: its log records go to the run (``records``), at the run's
    level; it stops with the run."""
    die_with_parent(parent)
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(records)]
    root.setLevel(level)


def _forward(records: Any) -> None:
    """Hand each record the child logged to this process's logger of the same name, as if it
    had been logged here (until ``None``)."""
    while (record := records.get()) is not None:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)


def in_child(function: Callable[..., T], *args: object, what: str) -> T:
    """``function(*args)`` in a fresh process that exits when it returns; its logs appear as
    this process's, and what it raises is raised here. ``function`` and ``args`` must be
    picklable (a module-level function; a :class:`~evaluation.config.Study` is); ``what`` names
    the work in the error when the child dies (killed for memory, a signal)."""
    with started_in_child(function, *args, what=what) as result:
        return result()


@contextlib.contextmanager
def started_in_child(
    function: Callable[..., T], *args: object, what: str
) -> Iterator[Callable[[], T]]:
    """``function(*args)`` started in a fresh process, as :func:`in_child`, while this process
    goes on; the callable given waits for its result (and raises what it raised). Leaving the
    block waits for the child to end."""
    context = spawn_context()
    records = context.Queue()
    level = logging.getLogger().getEffectiveLevel()
    forwarder = threading.Thread(
        target=_forward, args=(records,), name="evaluation-child-logs", daemon=True
    )
    forwarder.start()

    def result() -> T:
        try:
            return future.result()
        except BrokenProcessPool as exc:  # killed: out of memory, or a signal
            raise EvaluationError(
                f"{what} stopped: its process ended unexpectedly ({exc}); if the machine ran "
                "out of memory, a study this size needs more of it"
            ) from None

    try:
        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=context,
            initializer=_child_start,
            initargs=(records, level, os.getpid()),
        )
        # shutdown (also on an error) waits for the child to exit: its last records are in
        # the queue before the None that ends the forwarding
        with pool:
            future = pool.submit(function, *args)
            yield result
    finally:
        records.put(None)
        # bounded: a child killed while writing a record can leave the queue unreadable
        forwarder.join(timeout=10)
        records.close()
