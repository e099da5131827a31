"""Signs of life during a run: what a running notebook is doing (read from the copy papermill
writes), a "still ..." line when nothing was logged for a while, and the live display."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat

from evaluation.pipeline import progress
from evaluation.pipeline.progress import as_completed, heartbeat


def _notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# Title"))
    nb.cells.append(nbformat.v4.new_code_cell("study_dir = '.'"))
    nb.cells.append(nbformat.v4.new_code_cell("# papermill_description=mixed-models\nx = 1"))
    nb.cells.append(nbformat.v4.new_code_cell("x"))
    nb.metadata["papermill"] = {}
    for cell in nb.cells:
        cell.metadata["papermill"] = {}
    return nb


@dataclass(frozen=True)
class Job:
    name: str
    cache_dir: Path


def _job(tmp_path: Path, name: str) -> Job:
    return Job(name, tmp_path / ".cache")


def _run_cells(job: Job, upto: int, release: threading.Event | None = None) -> str:
    """What papermill does in a worker: notebook start, then a start per cell (the hooks of
    :func:`progress.tracked` record each), optionally stopping at cell ``upto`` until released."""
    from papermill.engines import NotebookExecutionManager

    nb_man = NotebookExecutionManager(_notebook(), progress_bar=False)
    nb_man.notebook_start()
    for index, cell in enumerate(nb_man.nb.cells):
        if cell.cell_type != "code":
            continue
        nb_man.cell_start(cell, index)
        if index == upto and release is not None:
            release.wait(10)
        nb_man.cell_complete(cell, index)
    nb_man.notebook_complete()
    return job.name


def test_the_worker_records_section_and_cell_and_removes_the_record(tmp_path):
    job = _job(tmp_path, "30-longitudinal")
    seen = []

    def run(job):
        from papermill.engines import NotebookExecutionManager

        nb_man = NotebookExecutionManager(_notebook(), progress_bar=False)
        nb_man.notebook_start()
        seen.append(str(progress.read_status(progress.status_file(job), since=0)))
        for index, cell in enumerate(nb_man.nb.cells):
            if cell.cell_type == "code":
                nb_man.cell_start(cell, index)
                seen.append(str(progress.read_status(progress.status_file(job), since=0)))
                nb_man.cell_complete(cell, index)
        nb_man.notebook_complete()
        seen.append(str(progress.read_status(progress.status_file(job), since=0)))
        return "ok"

    assert progress.tracked(run, job) == "ok"
    assert seen == [
        "starting",
        "cell 1/3",
        "mixed-models, cell 2/3",
        "mixed-models, cell 3/3",
        "writing the HTML",
    ]
    assert not progress.status_file(job).exists()  # removed when the job ends
    assert progress._STATUS is None


def test_status_left_from_an_earlier_run_or_half_written_is_ignored(tmp_path):
    path = tmp_path / "nb.progress"
    record = {"section": None, "cell": 1, "cells": 2, "finished": False, "started": 100.0}
    path.write_text(json.dumps(record), encoding="utf-8")
    assert progress.read_status(path, since=50.0).cell == 1
    assert progress.read_status(path, since=time.time()) is None  # an earlier run's
    path.write_text('{"cell": ', encoding="utf-8")
    assert progress.read_status(path, since=0) is None  # being written
    assert progress.read_status(tmp_path / "missing.progress", since=0) is None


def _slow_job(job: Job, release: threading.Event) -> str:
    return progress.tracked(lambda j: _run_cells(j, upto=2, release=release), job)


def test_as_completed_yields_every_future_once(tmp_path):
    jobs = [_job(tmp_path, f"{i}0-nb") for i in range(1, 6)]
    with ThreadPoolExecutor(2) as pool:
        futures = {pool.submit(lambda j: j.name, job): job for job in jobs}
        names = [f.result() for f in as_completed(futures, poll=0.01)]
    assert sorted(names) == sorted(j.name for j in jobs)


def test_heartbeat_names_running_notebooks_and_their_section(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    release = threading.Event()
    job = _job(tmp_path, "30-longitudinal")
    with heartbeat(interval=0.3), ThreadPoolExecutor(1) as pool:
        futures = {pool.submit(_slow_job, job, release): job}
        threading.Timer(1.2, release.set).start()
        assert [f.result() for f in as_completed(futures, poll=0.05)] == [job.name]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("still")]
    assert lines, caplog.text
    assert any("30-longitudinal" in ln and "mixed-models, cell 2/3" in ln for ln in lines)
    assert all("\n" not in ln for ln in lines)


def test_heartbeat_names_the_current_step_between_stages(caplog):
    caplog.set_level(logging.INFO)
    with heartbeat(interval=0.2):
        logging.getLogger("evaluation.pipeline.run").info("study demo: disclosure plan")
        time.sleep(0.7)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("still")]
    assert lines and all(ln.endswith("study demo: disclosure plan") for ln in lines)
    assert progress._STAGE is None


def test_live_display_shows_steps_stage_and_running_notebooks(tmp_path, caplog):
    from rich.console import Console

    caplog.set_level(logging.INFO)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    release = threading.Event()
    job = _job(tmp_path, "20-prepost")
    logger = logging.getLogger("evaluation.pipeline.run")
    with progress.live(console):
        display = progress._DISPLAY
        logger.info("study demo: validating and scoring")
        assert display.steps.tasks[0].description == "study demo: validating and scoring"
        with ThreadPoolExecutor(1) as pool:
            futures = {pool.submit(_slow_job, job, release): job}
            seen = []
            threading.Timer(1.0, release.set).start()
            for future in as_completed(futures, poll=0.05):
                seen.append(future.result())
                assert display.bars.tasks[0].description == "notebooks"
        assert seen == ["20-prepost"]
        assert display.steps.tasks[0].description == "notebooks: 1 of 1 done"
        assert not display.bars.tasks and len(display.steps.tasks) == 1
    assert progress._DISPLAY is None
    assert "20-prepost: mixed-models, cell 2/3" in out.getvalue()


def test_reports_stage_is_labelled_reports(tmp_path):
    jobs = [_job(tmp_path, "90-report.en.consortium")]
    assert progress._label(jobs) == "reports"
    assert progress._label([*jobs, _job(tmp_path, "20-prepost")]) == "notebooks"
