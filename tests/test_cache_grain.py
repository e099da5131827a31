"""The run's cache at the grain of the work (issue 17, item 2): each notebook's key holds what
it reads, so a changed activity re-runs the indicators and the reports that show them, a changed
label of a report-only language re-renders only that language's reports, and changed survey
answers re-run every analysis."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from evaluation.config import load_study
from evaluation.demo.changes import add_training_participant
from evaluation.paths import DEFAULT_NOTEBOOKS
from evaluation.pipeline.manifest import input_hashes, relative
from evaluation.pipeline.run import (
    REPORT_NOTEBOOK,
    _analyses_reading_changes,
    _one_report_per_language_first,
    notebook_reads,
    run,
)
from tests.conftest import copy_study


def _executed(study: Path) -> dict[str, str]:
    """name -> reason of each notebook the last run executed (from the manifest)."""
    notebooks = json.loads((study / "reports" / "manifest.json").read_text())["notebooks"]
    return {n: r.get("reason", "") for n, r in notebooks.items() if r["status"] == "executed"}


def test_every_shipped_analysis_notebook_declares_its_reads():
    for nb in sorted(DEFAULT_NOTEBOOKS.glob("[0-8]*.ipynb")):
        reads = notebook_reads(nb)
        assert reads, nb.name
        assert "disclosure" in reads, nb.name  # write_table applies the plan
    assert notebook_reads(DEFAULT_NOTEBOOKS / "45-indicators.ipynb") is not None
    assert "activities" in notebook_reads(DEFAULT_NOTEBOOKS / "45-indicators.ipynb")


def test_a_notebook_that_declares_nothing_depends_on_everything(tmp_path):
    nb = tmp_path / "70-own.ipynb"
    nb.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert notebook_reads(nb) is None
    nb.write_text(json.dumps({"cells": [], "metadata": {"evaluation": {"reads": ["scores"]}}}))
    assert notebook_reads(nb) == ["scores"]


def test_only_what_reads_a_change_runs_again(shared_demo_run, tmp_path):
    study = copy_study(shared_demo_run, tmp_path / "study")
    analyses = {nb.stem for nb in load_study(study).paths.notebooks} - {REPORT_NOTEBOOK}

    run(study, jobs=2, language="both")  # nothing changed: nothing runs
    assert _executed(study) == {}

    add_training_participant(study)
    run(study, jobs=2, language="both")
    ran = _executed(study)
    assert "activities" in ran.pop("45-indicators")
    # the reports that show the changed indicators, in both languages: consortium and actors;
    # never another analysis. The organisation reports read only their own rows of
    # indicators.csv (the mentoring adoption per organisation), which a training's
    # participants do not change: they are not rendered again.
    assert ran, "no report showed the changed indicators"
    assert {n.split(".")[2].split("-")[0] for n in ran} == {"consortium", "actor"}
    assert {n.split(".")[1] for n in ran} == {"fi", "en"}
    assert all(r == "indicators.csv changed" for r in ran.values()), ran

    # a label of a report-only language (the study's analyses are rendered in Finnish)
    assert load_study(study).language == "fi"
    labels = study / "config" / "labels"
    labels.mkdir(parents=True, exist_ok=True)
    (labels / "en.yaml").write_text('rep_analyses: "All the analyses"\n', encoding="utf-8")
    run(study, jobs=2, language="both")
    ran = _executed(study)
    assert ran and all(n.startswith(f"{REPORT_NOTEBOOK}.en.") for n in ran), sorted(ran)
    assert all(r == "the en labels changed" for r in ran.values())

    # a changed answer: every analysis runs again
    path = study / "data" / "raw" / "responses.csv"
    text = path.read_text(encoding="utf-8").splitlines(keepends=True)
    header = text[0].rstrip("\n").split(",")
    col = next(i for i, name in enumerate(header) if re.fullmatch(r"esis_\d+", name))
    row = text[1].rstrip("\n").split(",")
    row[col] = "1" if row[col] != "1" else "2"
    text[1] = ",".join(row) + "\n"
    path.write_text("".join(text), encoding="utf-8")
    run(study, jobs=2, language="both", reports=False)
    assert analyses <= set(_executed(study))


def test_a_run_with_nothing_to_do_imports_neither_pandas_nor_the_analyses(
    shared_demo_run, tmp_path
):
    """A rerun only hashes its inputs (docs/benchmarks.md): importing pandas alone would
    double its time. With reports too: the organisation reports' reads of their own rows are
    checked without pandas. Nor does it start a process (no worker, no fork server, not even
    the resource tracker a worker pool's queues start)."""
    study = copy_study(shared_demo_run, tmp_path / "study")
    code = (
        "import os, sys; sys.argv = ['evaluation', 'run', '--study', *sys.argv[1:]]\n"
        "from evaluation.cli import main\n"
        "try:\n    main()\nexcept SystemExit as stop:\n    assert not stop.code, stop.code\n"
        "heavy = ('pandas', 'numpy', 'statsmodels', 'nbconvert', 'openpyxl')\n"
        "print('LOADED', ' '.join(m for m in heavy if m in sys.modules))\n"
        "from pathlib import Path\n"
        "stat = [p.read_text().rsplit(')', 1)[1].split()\n"
        "        for p in Path('/proc').glob('[0-9]*/stat')]\n"
        "print('CHILDREN', sum(s[1] == str(os.getpid()) for s in stat))"
    )
    for flags in (["--no-reports"], ["--language", "both"]):
        done = subprocess.run(
            [sys.executable, "-c", code, str(study), *flags],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert _executed(study) == {}
        said = dict(line.split(" ", 1) for line in done.stdout.splitlines()[-2:])
        assert said["LOADED"] == "", (flags, said)
        if sys.platform.startswith("linux"):  # /proc
            assert said["CHILDREN"] == "0", (flags, said)


def test_the_indicators_notebook_fits_no_model(shared_demo_run, tmp_path):
    """After a changed activity only `45-indicators` runs, in a worker forked from a server
    that, in a run that is not cold, preloads neither scipy.stats nor statsmodels' model API
    (`_pool(statistics=False)`): the notebook itself must not import them (0.4 s of the
    changed-activity run, docs/benchmarks.md). Its code cells run here as in a worker."""
    study = copy_study(shared_demo_run, tmp_path / "study")
    code = (
        "import json, sys\n"
        "nb = json.load(open(sys.argv[1], encoding='utf-8'))\n"
        "cells = [''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'code']\n"
        "scope = {'study_dir': sys.argv[2], 'language': ''}\n"
        "for cell in cells[1:]:\n    exec(cell, scope)\n"
        "heavy = ('scipy.stats', 'statsmodels.api', 'statsmodels.formula.api')\n"
        "print('LOADED', ' '.join(m for m in heavy if m in sys.modules))"
    )
    notebook = DEFAULT_NOTEBOOKS / "45-indicators.ipynb"
    done = subprocess.run(
        [sys.executable, "-c", code, str(notebook), str(study)],
        capture_output=True, text=True, check=True, env={**os.environ, "MPLBACKEND": "Agg"},
    )  # fmt: skip
    assert done.stdout.splitlines()[-1] == "LOADED ", done.stdout[-500:]


def test_the_analyses_a_change_reaches_are_counted_before_processing(shared_demo_run, tmp_path):
    """What the workers preload is chosen before processing, from which input files changed
    since the last processing: a changed activity reaches one analysis (the indicators: the
    workers then leave out the model libraries), changed codings two more, changed documents or
    configuration all."""
    study_dir = copy_study(shared_demo_run, tmp_path / "study")
    study = load_study(study_dir)
    raw = frozenset(relative(p, study.paths.root) for ps in study.data.values() for p in ps)
    analyses = sum(1 for nb in study.paths.notebooks if nb.stem != REPORT_NOTEBOOK)

    def reached() -> int:
        return _analyses_reading_changes(study, input_hashes(study), raw)

    assert reached() == analyses  # nothing changed: the key did because the code did
    add_training_participant(study_dir)
    assert reached() == 1
    with (study_dir / "data" / "raw" / "codings.csv").open("a", encoding="utf-8") as f:
        f.write("\n")
    assert reached() == 3  # and the qualitative analysis and the joint display
    with (study_dir / "data" / "raw" / "documents.csv").open("a", encoding="utf-8") as f:
        f.write("\n")
    assert reached() == analyses  # read as segments: which analyses is not known before
    (study_dir / "config" / "study.yaml").write_text(
        (study_dir / "config" / "study.yaml").read_text(encoding="utf-8") + "\n", encoding="utf-8"
    )
    assert reached() == analyses
    (study_dir / "reports" / ".cache" / "processed.json").unlink()
    assert reached() == analyses


def test_each_language_s_first_report_runs_first():
    """The reports that run again, longest first by their last times, start with the longest
    of each language (it draws that language's figures, which the others wait for and copy),
    then the rest, those of the language whose first report is quickest first: the second
    worker writes reports whose figures are ready while the first draws."""
    last = {"en.a": 0.9, "en.b": 0.9, "fi.a": 0.3, "fi.b": 0.2, "en.c": 0.1, "fi.c": 0.1}
    jobs = [SimpleNamespace(name=n, language=n.split(".")[0]) for n in last]
    order = [job.name for job in _one_report_per_language_first(jobs, last)]
    assert order == ["en.a", "fi.a", "fi.b", "fi.c", "en.b", "en.c"]
    one_language = [job for job in jobs if job.language == "fi"]
    assert _one_report_per_language_first(one_language, last) == one_language


def _outputs(study: Path) -> dict[str, bytes]:
    """The results of a run: tables of record, figures and exports (path -> bytes)."""
    reports = study / "reports"
    folders = [reports / "tables", reports / "figures", reports / "exports"]
    return {
        p.relative_to(reports).as_posix(): p.read_bytes()
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_an_incremental_run_writes_what_a_cold_run_writes(shared_demo_run, tmp_path):
    """After a changed activity only the indicators, the tables' exports and the reports that
    show them are made again; every table, figure and export is then byte for byte what a cold
    run on the same inputs writes."""
    study = copy_study(shared_demo_run, tmp_path / "study")
    add_training_participant(study)
    run(study, jobs=2, language="both")
    exports = json.loads((study / "reports" / ".cache" / "exports.json").read_text())
    assert exports["tables"]["indicators.csv"]
    figures = Path("reports") / ".cache" / "figures"  # the reports' figures, drawn once
    assert any((study / figures).glob("*.svg"))
    cold = copy_study(study, tmp_path / "cold")
    started = time.time()
    run(cold, jobs=2, language="both", use_cache=False, reports=False)
    # --force empties the figure cache first, so every figure is drawn again: what it holds
    # now is only what this run drew (45-indicators' figure, which the reports would copy)
    drawn = list((cold / figures).iterdir())
    assert drawn and all(p.stat().st_mtime >= started for p in drawn)
    incremental, fresh = _outputs(study), _outputs(cold)
    assert sorted(incremental) == sorted(fresh)
    differ = [name for name in fresh if incremental[name] != fresh[name]]
    assert not differ, differ


def test_a_read_of_some_rows_depends_on_those_rows_only(tmp_path):
    from evaluation.io.files import read_digest, read_key, read_table_name

    table = tmp_path / "indicators.csv"
    rows = "indicator,group_by,group,achieved\n"
    table.write_text(rows + "a,all,all,10\na,organisation,Org A,1\na,organisation,Org B,0\n")
    own = read_key("indicators", {"group_by": "organisation", "group": "Org A"})
    assert read_table_name(own) == "indicators.csv" == read_key("indicators")
    whole, mine = read_digest(tmp_path, "indicators.csv"), read_digest(tmp_path, own)
    # another organisation's row and the whole study's change: Org A's rows do not
    table.write_text(rows + "a,all,all,11\na,organisation,Org A,1\na,organisation,Org B,1\n")
    assert read_digest(tmp_path, "indicators.csv") != whole
    assert read_digest(tmp_path, own) == mine
    # Org A's own row changes
    table.write_text(rows + "a,all,all,11\na,organisation,Org A,0\na,organisation,Org B,1\n")
    assert read_digest(tmp_path, own) != mine
    table.unlink()
    assert read_digest(tmp_path, own) is None and read_digest(tmp_path, "indicators.csv") is None


# --- the cache at the grain of a report's sections (evaluation.pipeline.cells) ---------------


def _section_run(tmp_path: Path, monkeypatch, *, replay: bool = True, key: str = "k"):
    """A CellCache as a report run opens it: tables of record, a staging folder, a file of
    traced reads (the environment ``execute_notebook`` sets)."""
    from evaluation.io.files import READS_ENV, STAGING_ENV
    from evaluation.pipeline.cells import CellCache

    reports = tmp_path / "reports"
    stage = reports / ".staging" / "report"
    stage.mkdir(parents=True, exist_ok=True)
    traced = reports / ".cache" / ".report.reads"
    traced.parent.mkdir(parents=True, exist_ok=True)
    traced.write_text("")
    monkeypatch.setenv(STAGING_ENV, json.dumps({"reports": str(reports), "stage": str(stage)}))
    monkeypatch.setenv(READS_ENV, str(traced))
    record = reports / ".cache" / ".report.cells.json"
    cache = CellCache.open(record, key, reports=reports, tables=reports / "tables", replay=replay)
    return cache, stage, traced


def _run_section(cache, position: int, source: str, stage: Path, figure: str | None) -> None:
    """What the engine does for a cell that runs: it reads a table, may save a figure."""
    from evaluation.io.files import record_read

    mark = cache.start()
    record_read("indicators", {"group_by": "all"})
    if figure:
        (stage / figure).parent.mkdir(parents=True, exist_ok=True)
        (stage / figure).write_text("<svg>a</svg>")
    cache.ran(position, source, [{"output_type": "stream", "name": "stdout", "text": "7"}], mark)


def _publish(stage: Path, reports: Path) -> None:
    for path in [p for p in stage.rglob("*") if p.is_file()]:
        target = reports / path.relative_to(stage)
        target.parent.mkdir(parents=True, exist_ok=True)
        path.replace(target)


def test_an_unchanged_section_shows_its_last_outputs_again(tmp_path, monkeypatch):
    tables = tmp_path / "reports" / "tables"
    tables.mkdir(parents=True)
    indicators = tables / "indicators.csv"
    indicators.write_text("indicator,group_by,group\na,all,all\na,organisation,Org A\n")
    figure = "figures/reports/fi/consortium/indicators.svg"

    cache, stage, traced = _section_run(tmp_path, monkeypatch)
    assert cache.replay(0, "setup()") is None and cache.replay(1, "indicators(v)") is None
    cache.ran(0, "setup()", [], cache.start())  # reads nothing: always runs
    _run_section(cache, 1, "indicators(v)", stage, figure)
    cache.save()
    _publish(stage, tmp_path / "reports")

    cache, stage, traced = _section_run(tmp_path, monkeypatch)
    assert cache.replay(0, "setup()") is None
    outputs = cache.replay(1, "indicators(v)")
    assert outputs == [{"output_type": "stream", "name": "stdout", "text": "7"}]
    assert cache.replayed == 1
    # its reads are traced as if it had run: the report's own cache record stays complete
    assert traced.read_text().splitlines() == [
        '{"rows": {"group_by": "all"}, "table": "indicators.csv"}'
    ]
    cache.ran(0, "setup()", [], cache.start())
    cache.save()
    assert _section_run(tmp_path, monkeypatch)[0].replay(1, "indicators(v)") == outputs

    # another section source, another notebook key, --force: it runs
    assert _section_run(tmp_path, monkeypatch)[0].replay(1, "indicators(v, 2)") is None
    assert _section_run(tmp_path, monkeypatch, key="other")[0].replay(1, "indicators(v)") is None
    assert _section_run(tmp_path, monkeypatch, replay=False)[0].replay(1, "indicators(v)") is None

    # a row it did not read changes: still shown again; a row it read changes: it runs
    indicators.write_text("indicator,group_by,group\na,all,all\nb,organisation,Org A\n")
    assert _section_run(tmp_path, monkeypatch)[0].replay(1, "indicators(v)") == outputs
    indicators.write_text("indicator,group_by,group\nb,all,all\nb,organisation,Org A\n")
    assert _section_run(tmp_path, monkeypatch)[0].replay(1, "indicators(v)") is None


def test_a_section_whose_figure_is_gone_or_changed_runs_again(tmp_path, monkeypatch):
    tables = tmp_path / "reports" / "tables"
    tables.mkdir(parents=True)
    (tables / "indicators.csv").write_text("indicator,group_by,group\na,all,all\n")
    figure = "figures/reports/fi/consortium/indicators.svg"
    cache, stage, _ = _section_run(tmp_path, monkeypatch)
    _run_section(cache, 0, "indicators(v)", stage, figure)
    cache.save()
    _publish(stage, tmp_path / "reports")
    published = tmp_path / "reports" / figure
    assert _section_run(tmp_path, monkeypatch)[0].replay(0, "indicators(v)") is not None
    published.write_text("<svg>edited</svg>")
    assert _section_run(tmp_path, monkeypatch)[0].replay(0, "indicators(v)") is None
    published.unlink()
    assert _section_run(tmp_path, monkeypatch)[0].replay(0, "indicators(v)") is None


def test_a_report_with_one_changed_section_is_the_page_a_fresh_report_writes(
    shared_demo_run, tmp_path
):
    """A changed activity runs the indicators section of the consortium and actor reports
    again and shows their other sections from the last run: each page is byte for byte the
    page the same report writes when every section runs."""
    study = copy_study(shared_demo_run, tmp_path / "study")
    add_training_participant(study)
    run(study, jobs=2, language="both")
    notebooks = json.loads((study / "reports" / "manifest.json").read_text())["notebooks"]
    consortium = notebooks[f"{REPORT_NOTEBOOK}.fi.consortium"]
    assert consortium["status"] == "executed"
    assert consortium["cells_replayed"] >= 8, consortium  # every section but the indicators
    page = study / "reports" / "html" / "fi" / "consortium.html"
    incremental = _without_run_time(page.read_bytes())

    # the same report with nothing to show again: every section runs
    cache = study / "reports" / ".cache"
    (cache / f"{REPORT_NOTEBOOK}.fi.consortium.json").unlink()
    (cache / f".{REPORT_NOTEBOOK}.fi.consortium.cells.json").unlink()
    run(study, jobs=1, language="fi")
    fresh = json.loads((study / "reports" / "manifest.json").read_text())["notebooks"]
    assert fresh[f"{REPORT_NOTEBOOK}.fi.consortium"]["cells_replayed"] == 0
    assert _without_run_time(page.read_bytes()) == incremental


def _without_run_time(page: bytes) -> bytes:
    """A page without the footer's time of the run (to the minute: two runs may differ)."""
    stamp = rb"<td>\d{4}-\d\d-\d\d \d\d:\d\d UTC</td>"
    out, found = re.subn(stamp, b"<td>(time)</td>", page)
    assert found == 1
    return out
