"""The disclosure plan made beside the analyses (issue 17): below national size, `evaluation run`
makes the plan in a thread while the workers start the analyses. A notebook's read of the plan
waits for it, nothing is published before it is made, a refused plan publishes nothing, and the
outputs are byte for byte those of a run that makes the plan first."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import pytest

from evaluation.demo.generate import write_demo
from evaluation.disclosure import plan as plans
from evaluation.errors import DisclosureError
from evaluation.io.files import PLAN_WAIT_ENV
from evaluation.pipeline import run as pipeline
from evaluation.pipeline.run import run

slow = pytest.mark.slow


def _later(path: Path, text: str, seconds: float) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(seconds), path.write_text(text)))
    thread.start()
    return thread


def test_a_read_of_the_plan_waits_while_the_run_makes_it(tmp_path, monkeypatch):
    """With ``PLAN_WAIT_ENV`` set, every read of the plan (``load_plan``, ``load_record``,
    ``read_plan``) waits until the run says the plan is made, and raises if it could not be
    made; without it, a read does not wait."""
    processed = tmp_path / "processed"
    processed.mkdir()
    marker = tmp_path / "plan.state"
    assert plans.plan_made() is True  # not in such a run
    monkeypatch.setenv(PLAN_WAIT_ENV, str(marker))
    thread = _later(marker, "made\n", 0.3)
    start = time.perf_counter()
    assert plans.load_plan(processed) is None  # this study has none: after the wait
    assert time.perf_counter() - start >= 0.25
    thread.join()
    for read in (plans.load_plan, plans.load_record, plans.read_plan):
        read(processed)  # made: at once
    marker.unlink()
    thread = _later(marker, "failed\n", 0.1)
    for read in (plans.load_plan, plans.load_record, plans.read_plan):
        with pytest.raises(DisclosureError, match="could not be made"):
            read(processed)
    thread.join()
    assert plans.plan_made(str(marker)) is False


def _outputs(study: Path) -> dict[str, bytes]:
    """The processed data, the tables of record and the workbook, by path."""
    folders = [study / "data" / "processed", study / "reports" / "tables"]
    files = [p for folder in folders for p in sorted(folder.iterdir()) if p.is_file()]
    files.append(study / "reports" / "exports" / "tables.xlsx")
    return {p.relative_to(study).as_posix(): p.read_bytes() for p in files}


@slow
def test_the_plan_made_beside_the_analyses_changes_no_output(tmp_path, monkeypatch, caplog):
    """The analyses start before the plan is made (the log says so), and every processed
    file, table of record and the workbook are byte for byte those of a run that makes the
    plan before any analysis starts."""
    beside, first = tmp_path / "beside", tmp_path / "first"
    write_demo(beside, respondents=60)
    shutil.copytree(beside, first)
    real = plans.make_plan

    def slower(*args, **kwargs):  # a small study's plan can be quicker than the log's order
        time.sleep(1.0)
        return real(*args, **kwargs)

    monkeypatch.setattr(plans, "make_plan", slower)
    with caplog.at_level(logging.INFO):
        run(beside, jobs=2, only=["20", "45", "50"], reports=False)
    said = [r.getMessage() for r in caplog.records]
    started = next(i for i, m in enumerate(said) if m.startswith("running 3 analysis"))
    made = next(i for i, m in enumerate(said) if m.startswith("disclosure:"))
    assert started < made  # the analyses started while the plan was made

    def plan_first(study, planning):
        done: Future = Future()
        done.set_result(planning())
        return "", done

    monkeypatch.setattr(pipeline, "_plan_beside", plan_first)
    run(first, jobs=2, only=["20", "45", "50"], reports=False)
    a, b = _outputs(beside), _outputs(first)
    assert sorted(a) == sorted(b) and "data/processed/disclosure.parquet" in a
    assert [name for name in a if a[name] != b[name]] == []


@slow
def test_a_plan_refused_beside_the_analyses_publishes_nothing(tmp_path, monkeypatch):
    """When the plan made beside the analyses is refused, the run raises its DisclosureError
    (no notebook's error instead) and reports/ is as it was: the analyses that ran meanwhile,
    read the plan or not, publish no table, figure, page or executed notebook."""
    study = tmp_path / "study"
    write_demo(study, respondents=60)
    run(study, jobs=2, only=["20", "45"], reports=False)
    reports = study / "reports"
    before = {
        p.relative_to(reports).as_posix(): p.read_bytes()
        for p in reports.rglob("*")
        if p.is_file() and ".cache" not in p.parts and p.name != "manifest.json"
    }

    def refused(study, themes=None):
        time.sleep(1.0)  # the analyses are under way
        raise DisclosureError("themes.csv: a group below min_n would be exposed")

    monkeypatch.setattr(plans, "make_plan", refused)
    with pytest.raises(DisclosureError, match="would be exposed"):
        run(study, jobs=2, only=["20", "45"], reports=False, use_cache=False)
    after = {
        p.relative_to(reports).as_posix(): p.read_bytes()
        for p in reports.rglob("*")
        if p.is_file() and ".cache" not in p.parts and p.name != "manifest.json"
    }
    assert sorted(after) == sorted(before)
    assert [name for name in after if after[name] != before[name]] == []


@slow
def test_changed_codings_judge_the_other_analyses_by_the_new_plan(tmp_path):
    """Changed codings remake the plan: the analyses that read them run at once, beside it;
    those that read only the plan are judged when it is made (and run, since its themes
    changed); the outputs are then those of a cold run on the same inputs."""
    import json

    study = tmp_path / "study"
    write_demo(study, respondents=60)
    run(study, jobs=2, only=["20", "50"], reports=False)
    codings = study / "data" / "raw" / "codings.csv"
    lines = codings.read_text(encoding="utf-8").splitlines(keepends=True)
    codings.write_text("".join(lines[:3] + lines[4:]), encoding="utf-8")  # one coding less
    run(study, jobs=2, only=["20", "50"], reports=False)
    notebooks = json.loads((study / "reports" / "manifest.json").read_text())["notebooks"]
    assert "codings" in notebooks["50-qualitative"]["reason"]
    assert notebooks["20-prepost"]["reason"] == "disclosure.parquet changed"
    cold = tmp_path / "cold"
    shutil.copytree(study, cold)
    run(cold, jobs=2, only=["20", "50"], reports=False, use_cache=False)
    a, b = _outputs(study), _outputs(cold)
    assert sorted(a) == sorted(b)
    assert [name for name in a if a[name] != b[name]] == []
    run(study, jobs=2, only=["20", "50"], reports=False)  # and then nothing is left to do
    notebooks = json.loads((study / "reports" / "manifest.json").read_text())["notebooks"]
    assert {r["status"] for r in notebooks.values()} == {"unchanged"}


def test_every_analysis_that_runs_beside_the_plan_waits_for_it(tmp_path):
    """While the plan is made, an analysis whose other inputs changed runs at once and waits
    for the plan, also a study's own notebook that does not declare the plan among its reads
    (it may still write tables, which the plan protects); one whose inputs, with its last
    plan, did not change waits to be judged when the plan is made."""
    import json

    from evaluation.config import load_study

    study_dir = tmp_path / "study"
    write_demo(study_dir, respondents=60)
    study = load_study(study_dir)
    processed = {"scores": "s1", "responses": "r1"}  # the plan not made yet
    state = pipeline._Run(study, "evaluation", "inprocess", True,
                          {"processed": processed, "config": {}, "source": "code"}, {})  # fmt: skip
    own = tmp_path / "70-own.ipynb"
    own.write_text(json.dumps({"cells": [], "metadata": {"evaluation": {"reads": ["scores"]}},
                               "nbformat": 4, "nbformat_minor": 5}))  # fmt: skip
    shipped = study.paths.notebooks[0]
    jobs = [state.job(nb, nb.stem, {"language": "fi"}, {}) for nb in (own, shipped)]
    # the shipped notebook ran last time with the same inputs and the plan "old"
    job = jobs[1]
    inputs = {**pipeline._job_inputs(job), **state.inputs(job), "processed:disclosure": "old"}
    page = study_dir / "page.html"
    page.write_text("<html></html>")
    cache = pipeline._cache_file(study, job.name)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"key": pipeline._digest(inputs), "inputs": inputs,
                                 "html": "page.html", "tables": {}}))  # fmt: skip

    run_now = state.todo(jobs, plan_wait="/run/plan.state")
    assert [j.name for j in run_now] == ["70-own"]
    assert run_now[0].plan_wait == "/run/plan.state"  # though it does not declare the plan
    assert [j.name for j in state.waiting] == [job.name]
    assert job.name not in state.records  # judged once the plan is made

    state.shared_inputs["processed"] = {**processed, "disclosure": "old"}  # the plan: the same
    state.waiting = []
    assert state.todo([job]) == [] and state.records[job.name]["status"] == "unchanged"
    state.shared_inputs["processed"] = {**processed, "disclosure": "new"}  # a changed plan
    assert [j.name for j in state.todo([job])] == [job.name]
