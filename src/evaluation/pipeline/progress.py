"""Signs of life while ``evaluation run`` works.

On a terminal, :func:`live` shows a display under the log lines: the current step (validation
and scoring, the disclosure plan, exports, ...) with a spinner and its elapsed time, and during
each stage a bar of notebooks (or audience reports) done of total with one line per running
notebook: its current section (the ``# papermill_description=...`` of the running cell or the
last one before it), its cell and its elapsed time. Elsewhere (CI, a log file) there is no
display; :func:`heartbeat` logs a "still working" line whenever nothing was logged for
:data:`HEARTBEAT_S` seconds, naming the step or the running notebooks, so a run is never silent
for long.

Where a notebook has got to comes from the worker: :func:`tracked` runs a job there with hooks
on papermill's execution manager (called by both engines as each cell starts) that write a
small status file in the run's cache folder (``reports/.cache/<name>.progress``); the parent
reads it. Nothing else changes in how a notebook runs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rich.console import Console

log = logging.getLogger(__name__)

POLL_S = 0.5  # how often the live display looks at the running notebooks
HEARTBEAT_S = 10.0  # without a display: at most this long without a log line
DESCRIPTION = "papermill_description="


class Watched(Protocol):
    """What :func:`as_completed` needs of a job (:class:`evaluation.pipeline.run.NotebookJob`
    has it)."""

    name: str
    cache_dir: Path  # reports/.cache: the status file goes there


@dataclass(frozen=True)
class NotebookState:
    """Where a notebook that papermill is executing has got to."""

    section: str | None  # papermill_description of the running cell or the last one before it
    cell: int  # the running (or last started) code cell, 1-based; 0 before the first
    cells: int  # code cells in the notebook
    finished: bool  # every cell ran: the worker is writing the HTML
    started: float  # wall-clock time the worker started the notebook

    def __str__(self) -> str:
        if self.finished:
            return "writing the HTML"
        where = f"cell {self.cell}/{self.cells}" if self.cell else "starting"
        return f"{self.section}, {where}" if self.section else where


def status_file(job: Watched) -> Path:
    """Where the worker running ``job`` records how far it has got."""
    return job.cache_dir / f"{job.name}.progress"


def read_status(path: Path, since: float) -> NotebookState | None:
    """The state a worker recorded in ``path``; None when there is none, it is left from before
    ``since`` (a wall-clock time) or is being written."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if float(record["started"]) < since:
            return None
        return NotebookState(
            record.get("section"),
            int(record["cell"]),
            int(record["cells"]),
            bool(record.get("finished")),
            float(record["started"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


# In a worker process: the status file of the notebook it is running, and when that started.
_STATUS: Path | None = None
_STARTED = 0.0
_HOOKED = False


def tracked(func: Callable[[Any], Any], job: Watched) -> Any:
    """``func(job)`` in a worker, recording where the notebook is in :func:`status_file`."""
    global _STATUS
    _install_hooks()
    _STATUS = status_file(job)
    try:
        return func(job)
    finally:
        path, _STATUS = _STATUS, None
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def _install_hooks() -> None:
    """Wrap papermill's NotebookExecutionManager so notebook and cell starts are recorded."""
    global _HOOKED
    if _HOOKED:
        return
    from papermill.engines import NotebookExecutionManager as Manager

    notebook_start, cell_start, notebook_complete = (
        Manager.notebook_start,
        Manager.cell_start,
        Manager.notebook_complete,
    )

    def on_notebook_start(self, *args, **kwargs):
        global _STARTED
        _STARTED = time.time()
        result = notebook_start(self, *args, **kwargs)
        _record(self, None, finished=False)
        return result

    def on_cell_start(self, cell, cell_index=None, *args, **kwargs):
        _record(self, cell_index, finished=False)
        return cell_start(self, cell, cell_index, *args, **kwargs)

    def on_notebook_complete(self, *args, **kwargs):
        result = notebook_complete(self, *args, **kwargs)
        _record(self, None, finished=True)
        return result

    Manager.notebook_start = on_notebook_start
    Manager.cell_start = on_cell_start
    Manager.notebook_complete = on_notebook_complete
    _HOOKED = True


def _record(nb_man: Any, cell_index: int | None, *, finished: bool) -> None:
    """Write the status file (a sign of life must never break a run: errors are ignored)."""
    path = _STATUS
    if path is None:
        return
    try:
        cells = nb_man.nb.cells
        code = [i for i, c in enumerate(cells) if c.get("cell_type") == "code"]
        number = sum(1 for i in code if cell_index is not None and i <= cell_index)
        section = None
        for i in code[:number]:
            section = _description(cells[i]) or section
        record = {
            "section": section,
            "cell": number,
            "cells": len(code),
            "finished": finished,
            "started": _STARTED,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, path)
    except Exception:
        pass


def _description(cell: dict) -> str | None:
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    if DESCRIPTION not in source:
        return None
    words = source.split(DESCRIPTION, 1)[1].split()
    return words[0] if words else None


class _Running:
    """The notebooks of one stage: which have started and not finished, and what they do."""

    def __init__(self, label: str, jobs: list[Watched]) -> None:
        self.label = label
        self.total = len(jobs)
        self.since = time.time() - 1.0  # a status older than this is left from an earlier run
        self.pending = {job.name: job for job in jobs}
        self.states: dict[str, NotebookState] = {}
        self._lock = threading.Lock()

    def poll(self) -> None:
        with self._lock:
            for name, job in self.pending.items():
                state = read_status(status_file(job), self.since)
                if state is not None:
                    self.states[name] = state

    def done(self, name: str) -> None:
        with self._lock:
            self.pending.pop(name, None)
            self.states.pop(name, None)

    def running(self) -> list[tuple[str, NotebookState, float]]:
        """(name, state, seconds since it started) of each running notebook."""
        now = time.time()
        with self._lock:
            return [(name, state, now - state.started) for name, state in self.states.items()]

    def summary(self) -> str:
        now = self.running()
        parts = [f"{name} ({seconds:.0f} s, {state})" for name, state, seconds in now]
        done = self.total - len(self.pending)
        waiting = len(self.pending) - len(parts)
        if waiting:
            parts.append(f"{waiting} not started")
        return f"{done}/{self.total} {self.label} done; " + ", ".join(parts)


def _label(jobs: list[Watched]) -> str:
    return "reports" if all(job.name.startswith("90-report.") for job in jobs) else "notebooks"


_STAGE: _Running | None = None  # the stage running now (read by the heartbeat thread)


def as_completed(futures: Mapping[Future, Watched], *, poll: float = POLL_S) -> Iterator[Future]:
    """Like :func:`concurrent.futures.as_completed` over ``futures`` (future -> job), while
    keeping the live display (:func:`live`) or the heartbeat (:func:`heartbeat`) informed of
    which notebooks run and what they are doing."""
    global _STAGE
    jobs = list(futures.values())
    running = _Running(_label(jobs), jobs)
    display = _DISPLAY
    stage = display.stage(running) if display is not None else None
    _STAGE = running
    pending = set(futures)
    try:
        while pending:
            done, pending = wait(pending, timeout=poll, return_when=FIRST_COMPLETED)
            for future in done:
                running.done(futures[future].name)
                if stage is not None:
                    stage.advance()
                yield future
            if stage is not None and pending:
                running.poll()
                stage.show()
    finally:
        _STAGE = None
        if stage is not None:
            stage.close()


class _Stage:
    """One stage in the live display: its bar and a line per running notebook."""

    def __init__(self, display: _Live, running: _Running) -> None:
        self.display = display
        self.running = running
        self.bar = display.bars.add_task(running.label, total=running.total)
        self.lines: dict[str, Any] = {}
        self.done = 0

    def advance(self) -> None:
        self.done += 1
        self.display.bars.advance(self.bar)

    def show(self) -> None:
        steps = self.display.steps
        now = {name: state for name, state, _seconds in self.running.running()}
        for name in [n for n in self.lines if n not in now]:
            steps.remove_task(self.lines.pop(name))
        for name, state in now.items():
            text = f"{name}: {state}"
            if name in self.lines:
                steps.update(self.lines[name], description=text)
            else:
                self.lines[name] = steps.add_task(text, total=None)

    def close(self) -> None:
        for task in self.lines.values():
            self.display.steps.remove_task(task)
        self.display.bars.remove_task(self.bar)
        self.display.stage_over(f"{self.running.label}: {self.done} of {self.running.total} done")


class _Live:
    """The terminal display: the current step, and each stage's bar and running notebooks."""

    def __init__(self, console: Console) -> None:
        from rich.console import Group
        from rich.live import Live
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.steps = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
        )
        self.bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.step = self.steps.add_task("starting", total=None)
        self.in_stage = False
        self.live = Live(
            Group(self.bars, self.steps),
            console=console,
            refresh_per_second=8,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )

    def stage(self, running: _Running) -> _Stage:
        self.in_stage = True
        self.steps.update(self.step, visible=False)
        return _Stage(self, running)

    def stage_over(self, text: str) -> None:
        self.in_stage = False
        self.set_step(text)

    def set_step(self, text: str) -> None:
        self.steps.reset(self.step, description=text, visible=True)


class _StepHandler(logging.Handler):
    """Shows each INFO message of the pipeline (outside a stage) as the live display's step."""

    def __init__(self, display: _Live) -> None:
        super().__init__(logging.INFO)
        self.display = display

    def emit(self, record: logging.LogRecord) -> None:
        if self.display.in_stage or record.levelno > logging.INFO:
            return
        with contextlib.suppress(Exception):
            self.display.set_step(record.getMessage())


_DISPLAY: _Live | None = None


@contextlib.contextmanager
def live(console: Console) -> Iterator[None]:
    """Show the live display on ``console`` (a terminal) while the block runs; log lines printed
    through the same console appear above it. It is removed at the end."""
    global _DISPLAY
    display = _Live(console)
    handler = _StepHandler(display)
    logger = logging.getLogger("evaluation")
    logger.addHandler(handler)
    _DISPLAY = display
    try:
        with display.live:
            yield
    finally:
        _DISPLAY = None
        logger.removeHandler(handler)


class _Heartbeat(logging.Handler):
    """Notes when anything was last logged, and the pipeline's last step."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.last = time.monotonic()
        self.step = "starting"
        self.step_since = self.last

    def emit(self, record: logging.LogRecord) -> None:
        self.last = time.monotonic()
        if record.name.startswith("evaluation") and record.name != __name__ and _STAGE is None:
            self.step = record.getMessage()
            self.step_since = self.last

    def line(self) -> str:
        stage = _STAGE
        if stage is not None:
            stage.poll()
            return f"still running: {stage.summary()}"
        return f"still working ({time.monotonic() - self.step_since:.0f} s): {self.step}"


@contextlib.contextmanager
def heartbeat(interval: float = HEARTBEAT_S) -> Iterator[None]:
    """While the block runs, log a "still ..." line whenever nothing was logged for
    ``interval`` seconds: the running notebooks with their sections, or the current step."""
    beat = _Heartbeat()
    root = logging.getLogger()
    root.addHandler(beat)
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(min(1.0, interval / 2)):
            if time.monotonic() - beat.last >= interval:
                try:
                    log.info("%s", beat.line())
                except Exception:  # a sign of life must never end the run
                    beat.last = time.monotonic()

    thread = threading.Thread(target=loop, name="evaluation-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        root.removeHandler(beat)
