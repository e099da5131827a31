"""Safe failures: a failing notebook leaves every earlier output in place, a killed run stops
its workers, a study folder can be copied or moved."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from evaluation.demo.generate import write_demo
from evaluation.errors import DataError, NotebookError
from evaluation.pipeline.run import run

slow = pytest.mark.slow
end_to_end = pytest.mark.xdist_group("end_to_end")

SHIPPED = Path(__file__).parents[1] / "notebooks"


def _study(root: Path, *notebooks: str) -> Path:
    write_demo(root, respondents=60)
    (root / "notebooks").mkdir()
    for name in notebooks:
        shutil.copy(SHIPPED / f"{name}.ipynb", root / "notebooks")
    return root


def _plant_failure(notebook: Path) -> None:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    failing = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
               "source": "raise RuntimeError('planted failure')"}  # fmt: skip
    nb["cells"].append(failing)
    notebook.write_text(json.dumps(nb), encoding="utf-8")


@slow
@end_to_end
def test_a_failing_notebook_keeps_every_earlier_output(tmp_path):
    study = _study(tmp_path / "s", "45-indicators")
    run(study, jobs=1, reports=False)
    reports = study / "reports"
    kept = [
        reports / "tables" / "indicators.csv",
        reports / "exports" / "latex" / "supplement" / "indicators.tex",
        reports / "exports" / "tables.xlsx",
        reports / "html" / "45-indicators.html",
    ]
    figures = sorted(p for p in (reports / "figures").rglob("*") if p.is_file())
    before = {p: p.read_bytes() for p in [*kept, *figures]}
    assert figures and all(before.values())
    # A new target value would change indicators.csv, but the notebook fails after writing it.
    config = study / "config" / "study.yaml"
    text = config.read_text(encoding="utf-8")
    assert "  target: 100\n" in text
    config.write_text(text.replace("  target: 100\n", "  target: 101\n"), encoding="utf-8")
    notebook = study / "notebooks" / "45-indicators.ipynb"
    original = notebook.read_bytes()
    _plant_failure(notebook)
    with pytest.raises(NotebookError, match="45-indicators") as caught:
        run(study, jobs=1, reports=False)
    assert caught.value.exit_code == 3 and "planted failure" in str(caught.value)
    assert {p: p.read_bytes() for p in before} == before  # nothing replaced or removed
    partial = reports / "notebooks" / "45-indicators.ipynb"
    assert "planted failure" in partial.read_text(encoding="utf-8")  # the error, to read
    assert not (reports / ".staging").exists()
    manifest = json.loads((reports / "manifest.json").read_text(encoding="utf-8"))
    assert "indicators.csv" in manifest["tables"]
    assert manifest["notebooks"]["45-indicators"]["status"] == "failed"
    # Fixed: the run publishes the new table (so the failed run really held it back).
    notebook.write_bytes(original)
    run(study, jobs=1, reports=False)
    table = (reports / "tables" / "indicators.csv").read_bytes()
    assert table != before[kept[0]] and b",101," in table
    assert "planted failure" not in partial.read_text(encoding="utf-8")


def _workers(pid: int) -> list[int]:
    """The pool's worker processes of the run ``pid``: spawned (``spawn_main`` in the command)
    or forked from the run's fork server (the server's command, a child of the server)."""
    import psutil

    try:
        descendants = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    out = []
    for child in descendants:
        try:
            command = " ".join(child.cmdline())
            if "spawn_main" in command or ("forkserver" in command and child.ppid() != pid):
                out.append(child.pid)
        except psutil.Error:
            continue
    return out


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@slow
@end_to_end
def test_sigterm_stops_the_run_and_its_workers(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    study = tmp_path / "s"
    write_demo(study, respondents=60)
    cmd = [sys.executable, "-m", "evaluation.cli", "run", "--study", str(study), "--jobs", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    staging = study / "reports" / ".staging"
    workers: list[int] = []
    deadline = time.monotonic() + 240
    try:
        # Wait until both workers are executing notebooks (their staging folders exist).
        while time.monotonic() < deadline and proc.poll() is None:
            workers = _workers(proc.pid) or workers
            if len(workers) == 2 and staging.is_dir() and len(list(staging.iterdir())) >= 1:
                break
            time.sleep(0.2)
        assert proc.poll() is None and len(workers) == 2, "the run never started its workers"
        os.kill(proc.pid, signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    time.sleep(0.5)
    assert not [pid for pid in workers if _alive(pid)], "a worker outlived the run"
    reports = study / "reports"
    assert not staging.exists()
    assert not [p for p in reports.rglob("*.tmp")], "a temporary file was left"
    for table in (reports / "tables").glob("*.csv"):
        pd.read_csv(table)  # whatever was published is a whole table
    assert "Traceback" not in err


@slow
@end_to_end
def test_a_copied_or_moved_study_runs_from_its_own_folder(tmp_path):
    original = _study(tmp_path / "a", "10-data-quality", "45-indicators")
    run(original, jobs=1, reports=False)
    copy = tmp_path / "elsewhere" / "b"
    shutil.copytree(original, copy)
    moved = tmp_path / "gone"
    original.rename(moved)  # whatever still pointed at the original folder now fails
    run(copy, jobs=1, reports=False, use_cache=False)
    for sub in ("reports/tables", "data/processed"):
        before = {p.name: p.read_bytes() for p in (moved / sub).iterdir() if p.is_file()}
        after = {p.name: p.read_bytes() for p in (copy / sub).iterdir() if p.is_file()}
        assert before and after == before, sub
    reports = copy / "reports"
    manifest = (reports / "manifest.json").read_text(encoding="utf-8")
    for folder in (original, copy, tmp_path):
        assert str(folder) not in manifest
    assert '"config/study.yaml"' in manifest
    for page in [*(reports / "notebooks").rglob("*.ipynb"), *(reports / "html").rglob("*.html")]:
        text = page.read_text(encoding="utf-8")
        assert str(original) not in text and str(copy) not in text, page.name
    executed = json.loads((reports / "notebooks" / "45-indicators.ipynb").read_text("utf-8"))
    recorded = executed["metadata"]["papermill"]
    assert recorded["parameters"]["study_dir"] == "."
    assert recorded["output_path"] == "reports/notebooks/45-indicators.ipynb"
    assert recorded["input_path"] == "notebooks/45-indicators.ipynb"  # the study's own


def _orphan(parent: int) -> None:  # a worker: stops when its parent dies, else sleeps
    import time

    from evaluation.pipeline.child import die_with_parent

    die_with_parent(parent)
    time.sleep(120)


def _child_dies_with_killed_parent(parent: str, settle: float = 0.0) -> None:
    """Run the script ``parent``, which prints the pid of a process it started (directly or
    through a fork server) and sleeps; kill it outright (no handler runs) and assert that the
    child stops within 10 s. ``settle``: seconds the child needs to set up its watch."""
    import os
    import signal
    import subprocess
    import sys
    import time

    root = Path(__file__).parents[1]
    proc = subprocess.Popen([sys.executable, "-c", parent], cwd=root, stdout=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        child = int(proc.stdout.readline())
        time.sleep(settle)
        assert _alive(child)
        if "_pool(" in parent and sys.platform.startswith("linux"):
            assert child in _workers(proc.pid), "the worker is not forked from the fork server"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child), "the child outlived its killed parent"
    finally:
        proc.kill()


def test_a_worker_dies_with_its_parent_even_when_the_parent_is_killed():
    """The run killed outright (no handler runs): its workers still stop."""
    _child_dies_with_killed_parent(
        "import multiprocessing as mp, os, sys, time\n"
        "from tests.test_safe_failures import _orphan\n"
        "if __name__ == '__main__':\n"
        "    p = mp.get_context('spawn').Process(target=_orphan, args=(os.getpid(),))\n"
        "    p.start(); print(p.pid, flush=True); time.sleep(120)\n",
        settle=1.5,  # the child has set up its watch
    )


def _worker_pid() -> int:
    import os

    return os.getpid()


def test_a_worker_forked_from_the_fork_server_dies_with_the_killed_run():
    """The run's workers are forked from a fork server, which outlives the run as long as
    any of its workers does: a worker watches the run itself, and stops when the run is
    killed outright. (Its watch is set up before it takes its first task.)"""
    _child_dies_with_killed_parent(
        "import time\n"
        "from evaluation.pipeline.run import _pool\n"
        "from tests.test_safe_failures import _worker_pid\n"
        "if __name__ == '__main__':\n"
        "    pool = _pool(1, statistics=False)\n"
        "    print(pool.submit(_worker_pid).result(), flush=True); time.sleep(120)\n"
    )


def test_a_second_run_of_the_same_study_stops_at_once_with_a_clear_message(tmp_path):
    import fcntl

    from evaluation.errors import UsageError

    root = tmp_path / "study"
    write_demo(root, respondents=60)
    (root / "reports").mkdir(exist_ok=True)
    with open(root / "reports" / ".run.lock", "a+b") as held:  # the first run holds the lock
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(UsageError, match=r"another `evaluation run` .* is in progress"):
            run(root, jobs=1)
        assert not (root / "data" / "processed" / "scores.parquet").exists()  # nothing written


def _output_of(parent: str) -> str:
    """What the script ``parent`` prints, run by this Python from the repository's root."""
    import subprocess

    root = Path(__file__).parents[1]
    return subprocess.run([sys.executable, "-c", parent], cwd=root, capture_output=True,
                          text=True, timeout=120, check=True).stdout  # fmt: skip


def _imported(module: str) -> bool:
    import sys

    return module in sys.modules


def test_a_worker_s_quick_exit_loses_no_result_or_printed_line_and_imports_only_what_it_needs():
    """Workers exit without the interpreter's clean-up (run._quick_exit): the pool still gets
    every result, shuts down cleanly, and what a task printed to a buffered stdout arrives. A
    worker started for a small change (statistics=False) leaves statsmodels' model API to the
    notebooks that fit models."""

    parent = (
        "from evaluation.pipeline.run import _pool\n"
        "from tests.test_safe_failures import _imported\n"
        "if __name__ == '__main__':\n"
        "    for statistics in (False, True):\n"
        "        pool = _pool(1, statistics=statistics)\n"
        "        pool.submit(print, 'written-by-the-worker', end=';').result()\n"
        "        loaded = pool.submit(_imported, 'statsmodels.api').result()\n"
        "        pool.shutdown()\n"
        "        print(f'statistics={statistics}: model API loaded={loaded}', flush=True)\n"
    )
    out = _output_of(parent)
    assert out.count("written-by-the-worker;") == 2  # from a pipe: block-buffered, not lost
    assert "statistics=False: model API loaded=False" in out
    assert "statistics=True: model API loaded=True" in out


def _frozen() -> int:
    import gc

    return gc.get_freeze_count()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server is Linux's")
def test_the_fork_server_s_and_the_run_s_objects_are_out_of_the_collector_s_reach_at_exit():
    """The fork server freezes what it preloaded (its exit, and a worker's collections, skip
    those objects), and the command line freezes its objects before the interpreter's
    clean-up (each was 0.3 s at the end of a run, which a caller reading the output waits
    for)."""

    parent = (
        "import atexit, gc, sys\n"
        "from evaluation.cli import main\n"
        "from evaluation.pipeline.run import _pool\n"
        "from tests.test_safe_failures import _frozen\n"
        "if __name__ == '__main__':\n"
        "    pool = _pool(1, statistics=False)\n"
        "    print('worker', pool.submit(_frozen).result(), flush=True)\n"
        "    pool.shutdown()\n"
        "    print('run', gc.get_freeze_count(), flush=True)\n"
        "    atexit.register(lambda: print('exit', gc.get_freeze_count(), flush=True))\n"
        "    sys.argv = ['evaluation', '--help']\n"
        "    main()\n"
    )
    words = [line.split() for line in _output_of(parent).splitlines()]
    counts = {w[0]: int(w[1]) for w in words if len(w) == 2 and w[0] in {"worker", "run", "exit"}}
    assert counts["worker"] > 100_000  # pandas, scipy, matplotlib, nbconvert, the package
    assert counts["run"] == 0  # nothing is frozen while the command runs
    assert counts["exit"] > 10_000  # the command line and what it imported


@slow
@end_to_end
def test_a_large_study_is_processed_in_a_child_that_keeps_its_errors_logs_and_results(
    tmp_path, monkeypatch
):
    """From CHILD_PROCESSING_BYTES of raw data on, validation, scoring and the disclosure plan
    run in a child process (its memory leaves with it). Forced here for a small study: bad
    input still exits 1 with the file, row and column and no traceback; the child's log lines
    are the run's; and the processed data are byte for byte those of processing in-process."""
    import csv
    import io

    from typer.testing import CliRunner

    from evaluation.cli import app
    from evaluation.pipeline import run as pipeline

    child, here = tmp_path / "child", tmp_path / "here"
    write_demo(child, respondents=60)
    shutil.copytree(child, here)
    monkeypatch.setattr(pipeline, "CHILD_PROCESSING_BYTES", 0)
    children = []  # the runs that processed in a child

    def in_child(*args, **kwargs):
        children.append(kwargs["what"])
        return real_in_child(*args, **kwargs)

    real_in_child = pipeline.in_child
    monkeypatch.setattr(pipeline, "in_child", in_child)

    responses = child / "data" / "raw" / "responses.csv"
    good = responses.read_bytes()
    rows = list(csv.reader(io.StringIO(good.decode("utf-8"))))
    rows[2][rows[0].index("esis_2")] = "9"  # outside 1-5, on the file's row 3
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    responses.write_text(out.getvalue(), encoding="utf-8")
    result = CliRunner().invoke(app, ["run", "--study", str(child), "--only", "45"],
                                env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "traceback" not in result.output.lower()
    assert "validating and scoring" in result.output  # logged in the child, shown by the run
    assert "responses.csv" in result.output and "esis_2" in result.output
    assert "outside 1-5" in result.output
    assert not (child / "data" / "processed" / "scores.parquet").exists()

    responses.write_bytes(good)
    run(child, jobs=1, only=["45"])
    assert children == ["processing the raw data"] * 2
    monkeypatch.setattr(pipeline, "CHILD_PROCESSING_BYTES", 2**62)
    run(here, jobs=1, only=["45"])
    assert len(children) == 2  # this one in the run's own process
    made = sorted(p.name for p in (child / "data" / "processed").iterdir())
    assert made == sorted(p.name for p in (here / "data" / "processed").iterdir())
    assert "scores.parquet" in made and "disclosure.parquet" in made
    # the themes were planned too, computed in a second child beside the survey tables' plan
    audit = json.loads((child / "data" / "processed" / "disclosure-audit.json").read_text())
    assert audit["themes"]["cells"] > 0
    for name in made:
        assert (child / "data" / "processed" / name).read_bytes() == (
            here / "data" / "processed" / name
        ).read_bytes(), name


def test_a_declared_raw_file_that_is_missing_is_named_by_run_not_a_traceback(tmp_path):
    """`run` sizes the raw data (to choose where processing runs) before validating it: a
    file that study.yaml declares but that is not there is still validation's clear error."""
    root = tmp_path / "study"
    write_demo(root, respondents=60)
    (root / "data" / "raw" / "activities.csv").unlink()
    with pytest.raises(DataError, match=r"activities\.csv: file not found"):
        run(root, jobs=1, only=["45"])


def _logs_then_returns_its_pid(value: int) -> int:
    import logging
    import os

    logging.getLogger("evaluation.tests").warning("logged in the child: %d", value)
    return os.getpid()


def test_in_child_returns_forwards_its_logs_and_names_a_child_that_died(caplog):
    import os

    from evaluation.errors import EvaluationError
    from evaluation.pipeline.child import in_child

    pid = in_child(_logs_then_returns_its_pid, 7, what="the test's stage")
    assert pid != os.getpid()
    forwarded = [r for r in caplog.records if r.getMessage() == "logged in the child: 7"]
    assert [r.process for r in forwarded] == [pid]  # once, as the child's record
    with pytest.raises(EvaluationError, match="the test's stage stopped: its process ended"):
        in_child(os.abort, what="the test's stage")  # SIGABRT: the child dies mid-task


def test_a_stopped_run_ends_the_plan_s_solves_and_waits_for_them():
    """A run stopped while the disclosure plan is made in its thread (a signal, an error)
    stops the plan's solves and waits for the thread before it goes on: an interpreter that
    exits while HiGHS solves in another thread aborts (exit -6, "terminate called"), where the
    run must exit 143. A plan made afterwards in the same process solves again."""
    import threading

    import numpy as np
    from scipy import sparse

    from evaluation.disclosure import sdc
    from evaluation.pipeline.run import _in_background, _stop_plan

    def program() -> sdc._Program:  # x0 + x1 = 10, x >= 0
        return sdc._Program(sparse.csr_matrix([[1.0, 1.0]]), np.array([10.0]),
                            sparse.csr_matrix((0, 2)), np.zeros(0), np.zeros(2))  # fmt: skip

    solving = threading.Event()

    def plan() -> None:  # a plan's loop of solves, as long as it is let run
        lp = program()
        while True:
            lp.minimise(np.array([1.0, 0.0]))
            solving.set()

    planned = _in_background(plan)
    assert solving.wait(30)
    _in_background(_stop_plan, planned).result(timeout=30)  # a plan not stopped: TimeoutError
    assert planned.done()
    assert isinstance(planned.exception(), sdc.SolvesStopped)
    assert not sdc.STOP_SOLVES.is_set()
    assert program().minimise(np.array([1.0, 0.0])).tolist() == [0.0, 10.0]


def test_a_run_after_the_package_code_changed_spawns_its_workers(monkeypatch):
    """The fork server holds the package code it imported when it started (once per
    process): a later run in the same process with other code must not fork from it."""
    from evaluation.pipeline import run as pipeline

    monkeypatch.setattr(pipeline, "_SERVER_SOURCE", [])
    assert pipeline._same_source_as_server("code-1")
    assert pipeline._same_source_as_server("code-1")
    assert not pipeline._same_source_as_server("code-2")
