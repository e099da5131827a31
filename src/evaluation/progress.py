"""Signs of life while ``evaluation run`` works.

On a terminal, :func:`live` shows a display under the log lines: the current step (validation
and scoring, the disclosure plan, exports, ...) with a spinner and its elapsed time, and during
each stage a bar of notebooks (or audience reports) done of total with one line per running
notebook: its current section (the ``# papermill_description=...`` of the running cell or the
last one before it), its cell and its elapsed time. Elsewhere (CI, a log file) there is no
display; :func:`heartbeat` logs a "still working" line whenever nothing was logged for
:data:`HEARTBEAT_S` seconds, naming the step or the running notebooks, so a run is never silent
for long.

What a notebook is doing is read from its executed copy, which papermill rewrites as each cell
starts and ends: nothing is sent from the worker processes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping
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
    """What :func:`as_completed` needs of a job (:class:`evaluation.run.NotebookJob` has it)."""

    name: str
    executed: Path


@dataclass(frozen=True)
class NotebookState:
    """Where a notebook that papermill is executing has got to."""

    section: str | None  # papermill_description of the running cell or the last one before it
    cell: int  # the running (or last started) code cell, 1-based; 0 before the first
    cells: int  # code cells in the notebook
    finished: bool  # every cell ran: the worker is writing the HTML
    started: float | None  # wall-clock time papermill started the notebook

    def __str__(self) -> str:
        if self.finished:
            return "writing the HTML"
        where = f"cell {self.cell}/{self.cells}" if self.cell else "starting"
        return f"{self.section}, {where}" if self.section else where


def notebook_state(path: Path, since: float) -> NotebookState | None:
    """The state of the notebook papermill is writing to ``path``; None when it was not written
    since ``since`` (a wall-clock time: the run has not reached it yet) or is being written."""
    try:
        if path.stat().st_mtime < since:
            return None
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    code = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    section, current, finished = None, 0, bool(code)
    for number, cell in enumerate(code, start=1):
        status = cell.get("metadata", {}).get("papermill", {}).get("status")
        if status in (None, "pending"):
            finished = False
            break
        current = number
        section = _description(cell) or section
        if status == "running":
            finished = False
            break
    started = None
    with contextlib.suppress(TypeError, ValueError, AttributeError):
        stamp = nb["metadata"]["papermill"]["start_time"]
        started = dt.datetime.fromisoformat(stamp).timestamp()
    return NotebookState(section, current, len(code), finished, started)


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
        self.since = time.time() - 1.0  # a copy written since the jobs were submitted
        self.pending = {job.name: job for job in jobs}
        self.states: dict[str, NotebookState] = {}
        self.first_seen: dict[str, float] = {}
        self._stamps: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def poll(self) -> None:
        with self._lock:
            for name, job in self.pending.items():
                try:
                    stat = job.executed.stat()
                except OSError:
                    continue
                stamp = (stat.st_mtime_ns, stat.st_size)
                if self._stamps.get(name) == stamp:
                    continue
                state = notebook_state(job.executed, self.since)
                if state is None:
                    continue
                self._stamps[name] = stamp
                self.states[name] = state
                self.first_seen.setdefault(name, time.time())

    def done(self, name: str) -> None:
        with self._lock:
            self.pending.pop(name, None)
            self.states.pop(name, None)

    def running(self) -> list[tuple[str, NotebookState, float]]:
        """(name, state, seconds since it started) of each running notebook."""
        now = time.time()
        with self._lock:
            return [
                (name, state, now - (state.started or self.first_seen[name]))
                for name, state in self.states.items()
            ]

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
