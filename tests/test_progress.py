"""Signs of life during a run: what a running notebook is doing (read from the copy papermill
writes), a "still ..." line when nothing was logged for a while, and the live display."""

from __future__ import annotations

import io
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from evaluation import progress
from evaluation.progress import as_completed, heartbeat, notebook_state


def _notebook(path: Path, statuses: list[str], descriptions: dict[int, str] | None = None) -> None:
    """A notebook as papermill writes it during execution: code cells with a status each."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# Title"))
    for i, status in enumerate(statuses):
        source = (
            f"# papermill_description={descriptions[i]}\nx = 1"
            if descriptions and i in (descriptions)
            else "x = 1"
        )
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["papermill"] = {"status": status}
        nb.cells.append(cell)
    nb.metadata["papermill"] = {"start_time": "2026-01-01T10:00:00+00:00"}
    path.write_text(nbformat.writes(nb), encoding="utf-8")


def test_state_names_the_section_and_cell_of_a_running_notebook(tmp_path):
    path = tmp_path / "20-prepost.ipynb"
    _notebook(path, ["completed", "completed", "running", "pending"], {1: "prepost"})
    state = notebook_state(path, since=0)
    assert (state.section, state.cell, state.cells, state.finished) == ("prepost", 3, 4, False)
    assert str(state) == "prepost, cell 3/4"
    assert state.started == pytest.approx(1767261600.0)


def test_state_when_every_cell_ran_is_writing_the_html(tmp_path):
    path = tmp_path / "nb.ipynb"
    _notebook(path, ["completed", "completed"])
    assert str(notebook_state(path, since=0)) == "writing the HTML"


def test_state_of_a_notebook_from_an_earlier_run_or_half_written_is_none(tmp_path):
    path = tmp_path / "nb.ipynb"
    _notebook(path, ["completed"])
    os.utime(path, (time.time() - 3600, time.time() - 3600))
    assert notebook_state(path, since=time.time() - 60) is None  # last run's copy
    path.write_text('{"cells": [', encoding="utf-8")
    assert notebook_state(path, since=0) is None  # being written right now
    assert notebook_state(tmp_path / "missing.ipynb", since=0) is None


@dataclass(frozen=True)
class Job:
    name: str
    executed: Path


def _slow_job(job: Job, release: threading.Event) -> str:
    _notebook(job.executed, ["completed", "running", "pending"], {1: "mixed-models"})
    release.wait(10)
    return job.name


def test_as_completed_yields_every_future_once(tmp_path):
    jobs = [Job(f"{i}0-nb", tmp_path / f"{i}0-nb.ipynb") for i in range(1, 6)]
    with ThreadPoolExecutor(2) as pool:
        futures = {pool.submit(lambda j: j.name, job): job for job in jobs}
        names = [f.result() for f in as_completed(futures, poll=0.01)]
    assert sorted(names) == sorted(j.name for j in jobs)


def test_heartbeat_names_running_notebooks_and_their_section(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    release = threading.Event()
    job = Job("30-longitudinal", tmp_path / "30-longitudinal.ipynb")
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
        logging.getLogger("evaluation.run").info("study demo: disclosure plan")
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
    job = Job("20-prepost", tmp_path / "20-prepost.ipynb")
    logger = logging.getLogger("evaluation.run")
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
    jobs = [Job("90-report.en.consortium", tmp_path / "a.ipynb")]
    assert progress._label(jobs) == "reports"
    assert progress._label([*jobs, Job("20-prepost", tmp_path / "b.ipynb")]) == "notebooks"
