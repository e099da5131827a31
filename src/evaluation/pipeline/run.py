"""Orchestration: validate -> process -> analysis notebooks -> audience reports -> manifest.

Two stages, each in parallel ``jobs`` at a time over one pool of warm worker processes:

1. the analysis notebooks (``notebooks/[0-8]*.ipynb``, shipped and the study's own): each
   reads ``data/processed`` and writes its own tables of record, so they are independent of
   each other; those named ``8*`` (80-89, the second wave) read the tables of the others and
   run after them (not at all when one of them failed);
2. the audience reports (``notebooks/90-report.ipynb``), one per audience (consortium, each
   actor, each organisation) and language: they only read the tables of stage 1.

Workers import pandas, statsmodels, matplotlib and nbconvert once (statsmodels' model API only
when every notebook runs: ``--force`` or a first run) and run every notebook with
the in-process papermill engine (:mod:`evaluation.engine`), so no notebook pays for a kernel
start or for imports; ``engine="kernel"`` runs each notebook in a fresh Jupyter kernel instead.
A notebook whose inputs did not change since the last run (same notebook, parameters, processed
data, configuration, package source and, for reports, tables) and whose outputs are still in
place is not executed again.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from evaluation.config import Study, load_labels, load_study
from evaluation.errors import NotebookError, ReproduceError, UsageError
from evaluation.io.files import (
    FIGURES_ENV,
    PLAN_WAIT_ENV,
    READS_ENV,
    STAGING_ENV,
    ReadDigests,
    read_table_name,
    sha256_file,
    write_text,
)
from evaluation.pipeline import progress
from evaluation.pipeline.child import die_with_run, in_child, started_in_child
from evaluation.pipeline.manifest import (
    code_version,
    input_hashes,
    read_manifest,
    relative,
    run_id,
    table_hashes,
    write_manifest,
)
from evaluation.processes import one_thread_math, spawn_context, worker_context
from evaluation.report.audience import audiences
from evaluation.report.html import IndexLink, IndexSection, index_html, notebook_to_html
from evaluation.safety import check_output_folders, check_output_path, is_plain_folder
from evaluation.version import source_hash

log = logging.getLogger(__name__)

KERNEL = "evaluation"
ENGINES = ("inprocess", "kernel")
REPORT_NOTEBOOK = "90-report"
STAGING = ".staging"  # reports/.staging/<notebook>/: its outputs until it succeeds
FIGURES = "figures"  # reports/.cache/figures/: evaluation.report.plot_cache
LANGUAGES = ("fi", "en")


@dataclass(frozen=True)
class NotebookJob:
    name: str  # record name: notebook stem, or "90-report.<language>.<audience slug>"
    source: Path
    executed: Path
    html: Path
    cache_dir: Path  # reports/.cache: the worker's progress file goes there
    parameters: dict
    kernel: str
    engine: str
    cwd: Path
    labels: dict
    provenance: dict
    depends: dict = field(default_factory=dict)  # extra cache inputs (reports: table hashes)
    # The processed files it reads (data/processed/<name>.parquet stems); None: every processed
    # and every input file (a notebook that declares nothing, see notebook_reads).
    reads: tuple[str, ...] | None = None
    title: str = ""  # the HTML page's <title>, in the page's language
    # A report: its cells are cached one by one (evaluation.pipeline.cells). ``cell_key``: the
    # job's key (set by RunState.todo); ``replay``: unchanged cells show their last outputs.
    by_cell: bool = False
    cell_key: str = ""
    replay: bool = False
    # While the run makes the disclosure plan beside it: the file its reads of the plan wait
    # for (PLAN_WAIT_ENV); its outputs are published only once the plan is made.
    plan_wait: str = ""

    @property
    def language(self) -> str:
        """The language of the page (its labels): ``parameters["language"]``."""
        return str(self.parameters.get("language", "en"))

    @property
    def reports(self) -> Path:
        return self.cwd / "reports"

    @property
    def tables(self) -> Path:
        return self.reports / "tables"


def _cache_file(study: Study, name: str) -> Path:
    return study.paths.reports / ".cache" / f"{name}.json"


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _cache_key(job: NotebookJob, inputs: dict[str, str]) -> str:
    """The hash of exactly what ``job`` reads: ``inputs`` (component -> sha256, see
    :meth:`_Run.inputs`) and the job's own notebook, parameters and kernel."""
    return _digest({"job": _job_inputs(job), "inputs": inputs})


def _job_inputs(job: NotebookJob) -> dict[str, str]:
    return {
        "notebook": sha256_file(job.source),
        "parameters": _digest(job.parameters),
        # The engine does not change results; the kernel name is what the notebook records.
        "kernel": job.kernel,
    }


def notebook_reads(notebook: Path) -> list[str] | None:
    """The processed files (``data/processed/<name>.parquet`` stems) an analysis notebook
    declares it reads, in its metadata ``evaluation: {reads: [...]}``; None when it declares
    nothing (it then depends on every processed file and every input file)."""
    try:
        meta = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return None
    reads = (meta.get("evaluation") or {}).get("reads") if isinstance(meta, dict) else None
    if not isinstance(reads, list) or not all(isinstance(r, str) for r in reads):
        return None
    return sorted(set(reads))


def _recorded_inputs(cache: Path) -> dict:
    """The inputs a job's cache record says its last run read ({} without a readable one)."""
    try:
        inputs = json.loads(cache.read_text(encoding="utf-8")).get("inputs")
    except (OSError, ValueError, AttributeError):
        return {}
    return inputs if isinstance(inputs, dict) else {}


def _stale_reason(
    cache: Path,
    key: str,
    study: Study,
    digests: ReadDigests | None = None,
    inputs: dict[str, str] | None = None,
) -> str | None:
    """None when the cached outputs of a job with ``key`` still stand; else why not, in words
    (``activities.parquet changed``). ``digests``: the tables of record now, against which the
    tables the job read in its last run (``reads``) are checked."""
    if not cache.is_file():
        return "no earlier run"
    try:
        record = json.loads(cache.read_text(encoding="utf-8"))
    except ValueError:
        return "its cache record is unreadable"
    html = record.get("html")  # relative to the study folder (absolute in older records)
    if record.get("key") != key:
        return _changed(record.get("inputs"), inputs, study)
    if not html or not (study.paths.root / html).is_file():
        return "its page is missing"
    for name, digest in record.get("tables", {}).items():
        path = study.paths.tables / name
        if not path.is_file() or sha256_file(path) != digest:
            return f"its table {name} changed or is missing"
    reads = record.get("reads") or {}
    if reads:
        now = digests or ReadDigests(study.paths.tables)
        changed = sorted(
            {read_table_name(key) for key, digest in reads.items() if now(key) != digest}
        )
        if changed:
            return _said(changed, "changed")
    return None


def _said(names: list[str], what: str, most: int = 4) -> str:
    more = f" and {len(names) - most} more" if len(names) > most else ""
    shown = ", ".join(names[:most]) + more
    return f"{shown} {what}"


def _changed(before: dict | None, now: dict | None, study: Study) -> str:
    """Which inputs differ between a job's last run (``before``) and this one, in words."""
    if not isinstance(before, dict) or now is None:
        return "its inputs changed"
    names = sorted(n for n in set(before) | set(now) if before.get(n) != now.get(n))
    if not names:
        return "its inputs changed"
    words = []
    for name in names:
        if name == "source":
            words.append("the package code")
        elif name.startswith("processed:"):
            stem = name.split(":", 1)[1]
            raw = [p.name for p in study.data.get(stem, ())]
            words.append(f"{stem}.parquet" + (f" ({', '.join(raw)})" if raw else ""))
        elif name.startswith(("table:", "input:")):
            words.append(name.split(":", 1)[1])
        elif name.startswith("labels:"):
            words.append(f"the {name.split(':', 1)[1]} labels")
        else:
            words.append(f"its {name}")
    return _said(words, "changed")


def warm_worker(
    parent: int | None = None, statistics: bool = True, environment: dict | None = None
) -> None:
    """Worker start-up: stop with the parent, and pay for the heavy imports once, not once per
    notebook (a worker forked from the fork server has them already: see :func:`_pool`).
    ``statistics=False`` leaves out scipy.stats and statsmodels' model API (0.7-0.8 s), which
    only the analyses that test and fit models import: after a small change, the one notebook
    that runs again (the indicators after a changed activity; or the reports, which read
    tables) starts that much sooner. ``environment``: the run's
    environment variables, which a worker forked from a server started earlier (by another
    run in the same process) would not otherwise have."""
    if parent is not None:
        die_with_run(parent)
    if environment is not None:
        os.environ.clear()
        os.environ.update(environment)
    one_thread_math()
    worker_imports(statistics)
    from evaluation.pipeline import engine

    register_engine()
    engine.shell()
    if parent is not None:  # a pool's worker; registered last, so it runs first at exit
        atexit.register(_quick_exit)


def worker_imports(statistics: bool = True) -> None:
    """The modules a worker imports: pandas, matplotlib, nbconvert, the package's session and
    report modules, and with ``statistics`` scipy.stats and statsmodels' model API."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    _skip_unused_imports()
    import matplotlib  # noqa: F401
    import nbconvert  # noqa: F401
    import pandas  # noqa: F401

    if statistics:
        import scipy.stats  # noqa: F401
        import statsmodels.api  # noqa: F401
    from evaluation.pipeline import engine, session  # noqa: F401
    from evaluation.report import display, html, plots  # noqa: F401


def _quick_exit() -> None:
    """A worker's exit, without the interpreter's clean-up of its modules and objects (about
    0.5 s per worker, paid at the end of every run). Exit handlers run after multiprocessing
    has finished the worker: its last task done, its results sent, its queues and threads
    joined, its standard streams flushed. The status is 0: the pool watches its workers by
    their process sentinels, and a failed task comes back as its exception, not as a status."""
    os._exit(0)


# Optional modules that libraries of a worker import when present but a run never uses: not
# imported in a worker. rfc3987_syntax builds a Lark grammar on import (about 2 s of CPU, a
# third of a worker's start-up); jsonschema imports it, when installed, only to check the
# "iri" string format, which no notebook schema (nbformat) uses.
UNUSED_IMPORTS = ("rfc3987_syntax",)


def _skip_unused_imports() -> None:
    """Make ``import`` of :data:`UNUSED_IMPORTS` fail (an ImportError, which the importing
    library expects of an optional module) in this worker process, unless already imported."""
    for name in UNUSED_IMPORTS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


ENGINE_NAME = "evaluation"


def register_engine() -> None:
    """Make the in-process engine known to papermill in this process (the entry point does it
    for the papermill command line). Papermill first: it loads its entry points on import."""
    from papermill.engines import papermill_engines

    from evaluation.pipeline.papermill_engine import InProcessEngine

    papermill_engines.register(ENGINE_NAME, InProcessEngine)


def execute_notebook(job: NotebookJob) -> dict:
    """Run one notebook with papermill and convert it to HTML (in a worker process)."""
    import papermill as pm

    job.cache_dir.mkdir(parents=True, exist_ok=True)
    # Everything the notebook writes under reports/ goes to its staging folder first and is
    # published (file by file, os.replace) only if the notebook succeeds.
    stage = _stage_dir(job)
    shutil.rmtree(stage, ignore_errors=True)
    executed = stage / job.executed.relative_to(job.reports)
    executed.parent.mkdir(parents=True, exist_ok=True)
    os.environ[STAGING_ENV] = json.dumps({"reports": str(job.reports), "stage": str(stage)})
    # The tables of record the notebook reads (ReportView.table, table_of_record) are traced
    # here: its cache record checks them next time (see _stale_reason).
    traced = job.cache_dir / f".{job.name}.reads"
    traced.unlink(missing_ok=True)
    os.environ[READS_ENV] = str(traced)
    # figures drawn before from the same function and arguments are copied from there
    os.environ[FIGURES_ENV] = str(job.cache_dir / FIGURES)
    if job.plan_wait:
        os.environ[PLAN_WAIT_ENV] = job.plan_wait
    os.environ.setdefault("MPLBACKEND", "Agg")
    start = time.perf_counter()
    cells = None
    if job.engine == "inprocess":
        register_engine()
        if job.cell_key:
            from evaluation.pipeline.cells import CellCache

            cells = CellCache.open(
                job.cache_dir / f".{job.name}.cells.json",
                job.cell_key,
                reports=job.reports,
                tables=job.tables,
                replay=job.replay,
            )
    try:
        # Paths relative to the study folder, so the executed notebook's papermill metadata
        # names no absolute path of the study (a copied or moved study reads its own files).
        with contextlib.chdir(job.cwd):
            pm.execute_notebook(
                _study_relative(job.source, job.cwd),
                _study_relative(executed, job.cwd),
                parameters=job.parameters,
                engine_name=ENGINE_NAME if job.engine == "inprocess" else None,
                kernel_name=job.kernel,
                language="python",
                cwd=".",
                progress_bar=False,
                log_output=False,
                request_save_on_cell_execute=False,
                **({"cell_cache": cells} if cells is not None else {}),
            )
    except pm.PapermillExecutionError as exc:
        # An error message may quote a raw value (an open answer with an identity code): what
        # reaches reports/ (the record, the partial notebook) names the cell and the exception
        # type, never the value.
        scrub = _error_scrubber(job)
        where = f"cell [{exc.exec_count}]" if exc.exec_count else f"cell #{exc.cell_index}"
        error = f"{where} failed with {exc.ename}: {scrub(exc.evalue)}"
    except Exception as exc:  # kernel died, missing kernel, ...: report, never hide
        scrub = _error_scrubber(job)
        error = f"{type(exc).__name__}: {scrub(str(exc))}"
    else:
        error = None
    finally:
        os.environ.pop(STAGING_ENV, None)
        os.environ.pop(READS_ENV, None)
        os.environ.pop(FIGURES_ENV, None)
        os.environ.pop(PLAN_WAIT_ENV, None)
    reads = (
        sorted(set(traced.read_text(encoding="utf-8").splitlines()) - {""})
        if traced.is_file()
        else []
    )
    traced.unlink(missing_ok=True)
    if job.plan_wait:
        from evaluation.disclosure.plan import plan_made

        if not plan_made(job.plan_wait):  # refused: reports/ stays as it was, all of it
            _drop_stage(stage)
            return {"ok": False, "error": "not published: the disclosure plan was not made",
                    "unpublished": True}  # fmt: skip
    executed_s = time.perf_counter() - start
    if error is None:
        # The page is rendered into the staging folder too: it appears with its tables.
        try:
            _record_paths(executed, job)
            html = stage / job.html.relative_to(job.reports)
            notebook_to_html(
                executed,
                html,
                labels=job.labels,
                provenance=job.provenance,
                language=job.language,
                title=job.title,
            )
            if cells is not None:
                cells.save()  # before the staged figures move: their digests are taken there
        except Exception as exc:
            scrub = _error_scrubber(job)
            error = f"the HTML page could not be written: {type(exc).__name__}: {scrub(str(exc))}"
    if error is not None:
        # Only the partial notebook (scrubbed, so the user can read the error) is published;
        # the tables and figures it wrote are dropped: the earlier ones stay in place.
        if executed.is_file():
            _scrub_notebook(executed, scrub)
        if executed.is_file():
            _record_paths(executed, job)
            check_output_path(job.executed).parent.mkdir(parents=True, exist_ok=True)
            os.replace(executed, job.executed)
        _drop_stage(stage)
        return {"ok": False, "error": error}
    # The tables the notebook wrote are the ones in its staging folder (write_table writes
    # there while the run stages the notebook, under either engine).
    staged_tables = stage / job.tables.relative_to(job.reports)
    tables = sorted(p.name for p in staged_tables.glob("*.csv")) if staged_tables.is_dir() else []
    _publish(stage, job.reports)
    return {
        "ok": True,
        "seconds": round(time.perf_counter() - start, 1),
        "execute_seconds": round(executed_s, 1),
        "cells_replayed": cells.replayed if cells is not None else 0,
        "tables": tables,
        "reads": reads,  # read_key: a whole table's file name, or some rows of it
    }


def _study_relative(path: Path, root: Path) -> str:
    """``path`` relative to the study folder (a shipped notebook keeps its package path)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _record_paths(notebook: Path, job: NotebookJob) -> None:
    """Papermill records the path it wrote (the staging folder) and, for a shipped notebook,
    its place in the installed package: record where the executed notebook is published, and
    a shipped notebook by the package's name and version. The parameters cell papermill
    injects gets a fixed id instead of a random one, so the same run writes the same page."""
    from evaluation.pipeline.manifest import relative

    try:
        nb = json.loads(notebook.read_text(encoding="utf-8"))
        meta = nb.setdefault("metadata", {}).setdefault("papermill", {})
        meta["input_path"] = relative(job.source, job.cwd)
        meta["output_path"] = _study_relative(job.executed, job.cwd)
        for cell in nb.get("cells", []):
            if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
                cell["id"] = "injected-parameters"
        text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    except (OSError, ValueError, AttributeError):
        return  # a notebook papermill could not finish: published as it is
    write_text(notebook, text)


def _stage_dir(job: NotebookJob) -> Path:
    return job.reports / STAGING / job.name


def _publish(stage: Path, reports: Path) -> None:
    """Move every staged file onto its place in ``reports/`` (each an atomic os.replace), then
    remove the staging folder."""
    # SIGTERM / SIGINT wait until the notebook's files are all in place (a few renames).
    blocked = {signal.SIGTERM, signal.SIGINT}
    masked = hasattr(signal, "pthread_sigmask")
    if masked:
        signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        for path in sorted(p for p in stage.rglob("*") if p.is_file()):
            target = check_output_path(reports / path.relative_to(stage))
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    finally:
        if masked:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, blocked)
    _drop_stage(stage)


def _drop_stage(stage: Path) -> None:
    """Remove a notebook's staging folder, and reports/.staging/ once it is empty."""
    shutil.rmtree(stage, ignore_errors=True)
    with contextlib.suppress(OSError):
        stage.parent.rmdir()


def _error_scrubber(job: NotebookJob) -> Callable[[object], str]:
    """:func:`evaluation.disclosure.redact.scrub_error` with the study's redactor (or, if the study
    cannot be read, the redactor without configured names)."""
    from evaluation.disclosure.redact import Redactor, scrub_error, study_redactor

    try:
        redactor = study_redactor(load_study(job.cwd), job.labels)
    except Exception:  # the error text must be scrubbed whatever else went wrong
        redactor = Redactor()
    return lambda text: scrub_error(text, redactor)


def _scrub_notebook(path: Path, scrub: Callable[[object], str]) -> None:
    """Scrub a failed notebook's error outputs (value and traceback) and the streams of the cell
    that failed; the rest of its partial output stays as it was. If that fails, the notebook is
    removed rather than kept with the raw error."""
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            failed = cell.get("metadata", {}).get("papermill", {}).get("exception") is True
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    out["evalue"] = scrub(out.get("evalue", ""))
                    out["traceback"] = [scrub(line) for line in out.get("traceback", [])]
                elif failed and out.get("output_type") == "stream":
                    out["text"] = scrub(out.get("text", ""))
        write_text(path, nbformat.writes(nb))
    except Exception:
        log.error("%s: the error output could not be scrubbed; notebook removed", path.name)
        path.unlink(missing_ok=True)


def _check_kernel(kernel: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    if kernel not in KernelSpecManager().find_kernel_specs():
        raise UsageError(
            f"Jupyter kernel '{kernel}' is not installed. Run `make install`, or "
            f"`python -m ipykernel install --sys-prefix --name {kernel}` in this environment."
        )


def report_languages(study: Study, language: str | None) -> list[str]:
    """The report languages: ``language`` (fi, en or both), or else study.yaml's
    ``reports: {languages: [...]}``, or else its ``language``. The study's own language comes
    first: the analysis notebooks are rendered in it."""
    if language is None:
        # reports.languages is checked when study.yaml is read (config.Reports)
        wanted = list(study.reports.languages or [study.language])
    elif language == "both":
        wanted = list(LANGUAGES)
    elif language in LANGUAGES:
        wanted = [language]
    else:
        raise UsageError(f"--language must be one of fi, en, both, not '{language}'")
    first = study.language if study.language in wanted else wanted[0]
    return [first, *(lang for lang in dict.fromkeys(wanted) if lang != first)]


@dataclass
class _Run:
    """What one ``evaluation run`` shares between its stages."""

    study: Study
    kernel: str
    engine: str
    use_cache: bool
    shared_inputs: dict  # processed (name -> sha256), config (input file -> sha256), source
    provenance: dict
    raw: frozenset[str] = frozenset()  # the input files that are raw data (data/raw/...)
    records: dict[str, dict] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    # Jobs left by todo(plan_wait=...) to be judged once the disclosure plan is made.
    waiting: list[NotebookJob] = field(default_factory=list)

    def job(
        self,
        nb: Path,
        name: str,
        parameters: dict,
        labels: dict,
        title: str | None = None,
        by_cell: bool = False,
        **paths,
    ) -> NotebookJob:
        """A notebook's job; its page's ``title`` defaults to the notebook's label
        (``nb_<stem>``)."""
        reports = self.study.paths.reports
        return NotebookJob(
            name=name,
            source=nb,
            executed=paths.get("executed", self.study.paths.executed_notebooks / nb.name),
            html=paths.get("html", self.study.paths.html / f"{nb.stem}.html"),
            cache_dir=reports / ".cache",
            # The notebook runs in the study folder: "." keeps executed notebooks portable.
            parameters={"study_dir": ".", **parameters},
            kernel=self.kernel,
            engine=self.engine,
            cwd=self.study.paths.root,
            labels=labels,
            provenance={labels.get(k, k): v for k, v in self.provenance.items()},
            depends=paths.get("depends", {}),
            reads=paths["reads"] if "reads" in paths else notebook_reads(nb),
            title=title or labels.get(f"nb_{nb.stem}", nb.stem),
            by_cell=by_cell,
        )

    def inputs(self, job: NotebookJob) -> dict[str, str]:
        """What ``job`` reads, component -> sha256: the package code, its page's labels, the
        configuration files (study.yaml, instruments, codebook), the processed files it
        declares (:func:`notebook_reads`; with none declared, every processed file and every
        raw file too) and the tables in ``job.depends``."""
        shared = self.shared_inputs
        out = {"source": shared["source"], f"labels:{job.language}": _digest(job.labels)}
        for path, digest in shared["config"].items():
            if job.reads is None or path not in self.raw:
                out[f"input:{path}"] = digest
        for name, digest in shared["processed"].items():
            if job.reads is None or name in job.reads:
                out[f"processed:{name}"] = digest
        for name, digest in job.depends.get("tables", {}).items():
            out[f"table:{name}"] = digest
        return out

    def todo(self, jobs: list[NotebookJob], plan_wait: str = "") -> list[NotebookJob]:
        """The jobs whose inputs changed (the others are recorded as unchanged).

        With ``plan_wait`` (the disclosure plan is being made beside them: the processed files
        have no ``disclosure`` yet), a job that reads the plan is judged with the plan of its
        last run: when other inputs of it changed, it runs now (its key is completed by
        :meth:`complete`); otherwise it is left in ``waiting``, to be judged when the plan is
        made. Every job that runs now waits for the plan where it reads it and before it
        publishes anything, whether it declares the plan among its reads or not (a study's own
        notebook may not, and still write tables, which the plan protects)."""
        out = []
        # every report checks its reads against the same few tables: hash and parse each once
        digests = ReadDigests(self.study.paths.tables, table_hashes(self.study))
        for job in jobs:
            inputs = {**_job_inputs(job), **self.inputs(job)}
            cache = _cache_file(self.study, job.name)
            pending = bool(plan_wait) and (job.reads is None or PLAN in job.reads)
            if pending and (last := _recorded_inputs(cache).get(f"processed:{PLAN}")):
                inputs[f"processed:{PLAN}"] = last
            key = _digest(inputs)
            why = (
                _stale_reason(cache, key, self.study, digests, inputs)
                if self.use_cache
                else "--force"
            )
            if why is None and pending:
                self.waiting.append(job)
                continue
            if why is None:
                self.records[job.name] = {"status": "unchanged", "seconds": 0.0}
                continue
            if job.by_cell:
                job = dataclasses.replace(job, cell_key=key, replay=self.use_cache)
            if plan_wait:
                job = dataclasses.replace(job, plan_wait=plan_wait)
            out.append(job)
            self.records[job.name] = {"status": "pending", "key": key, "inputs": inputs}
            self.records[job.name]["reason"] = why
            if why not in ("--force", "no earlier run"):
                log.info("%s: runs again: %s", job.name, why)
        kept = len(jobs) - len(out)
        if kept:
            log.info("%d of %d notebook(s) unchanged since the last run: kept", kept, len(jobs))
        if out:  # longest first (by the last run's times) keeps every worker busy to the end
            last = _last_seconds(self.study)
            out.sort(key=lambda j: -last.get(j.name, 0.0))
            if all(job.by_cell for job in out):  # reports
                out = _one_report_per_language_first(out, last)
        return out

    def complete(self, jobs: list[NotebookJob]) -> None:
        """The keys of ``jobs`` run while the plan was made (``todo(plan_wait=...)``), now
        that ``shared_inputs`` has it."""
        for job in jobs:
            if job.plan_wait:
                inputs = {**_job_inputs(job), **self.inputs(job)}
                self.records[job.name].update(key=_digest(inputs), inputs=inputs)

    def execute(
        self,
        pool: Executor | None,
        jobs: list[NotebookJob],
        warm: int = 0,
        languages: tuple[str, ...] = (),
        then: Callable[[dict], object] | None = None,
    ) -> None:
        """Run ``jobs`` on ``pool``. ``warm``: workers the pool may have: those the jobs leave
        idle start now (their imports) and prepare for the reports in ``languages``. ``then``
        is called with the result of each job done (its ``tables`` published)."""
        if not jobs:
            return
        assert pool is not None
        try:
            # tracked: the worker records each notebook's current cell for the progress display
            futures = {pool.submit(progress.tracked, execute_notebook, job): job for job in jobs}
            if isinstance(pool, ProcessPoolExecutor):
                _prestart(pool, warm - len(jobs), languages)
        except BrokenProcessPool as exc:  # a worker died in an earlier stage
            for job in jobs:
                self.records[job.name].update(status="failed", error=f"not run: {exc}")
                self.failures.append((job.name, f"{job.executed}: not run ({exc})"))
            return
        # A live display on a terminal, else a line every few seconds while notebooks run.
        for done, future in enumerate(progress.as_completed(futures), start=1):
            job = futures[future]
            try:
                result = future.result()
            except BrokenProcessPool as exc:  # a worker died (e.g. out of memory)
                result = {"ok": False, "error": f"worker process died: {exc}"}
            if result.pop("ok"):
                self.records[job.name].update(status="executed", **result)
                replayed = result.get("cells_replayed", 0)
                log.info(
                    "[%d/%d] %s: done in %.1f s%s",
                    done,
                    len(jobs),
                    job.name,
                    result["seconds"],
                    f" ({replayed} unchanged section(s) shown again)" if replayed else "",
                )
                if then is not None:
                    then(result)
            else:
                self.records[job.name].update(status="failed", error=result["error"])
                self.failures.append((job.name, f"{job.executed}: {result['error']}"))
                # the run ends with the plan's own error: this is no failure of the notebook
                say = log.info if result.get("unpublished") else log.error
                say("[%d/%d] %s: FAILED (%s)", done, len(jobs), job.name, result["error"])

    def settle(self, names: list[str]) -> set[str]:
        """Write the cache records of executed jobs; return the tables these jobs stand behind."""
        current: set[str] = set()
        digests = ReadDigests(self.study.paths.tables)
        for name in names:
            rec = self.records[name]
            key = rec.pop("key", None)
            inputs = rec.pop("inputs", None)
            status = rec.get("status")
            if status == "executed":
                tables = {
                    t: sha256_file(self.study.paths.tables / t) for t in rec.get("tables", [])
                }
                read = {t: digests(t) for t in rec.get("reads", [])}
                cache = {
                    "key": key,
                    "html": Path(rec.pop("html")).relative_to(self.study.paths.root).as_posix(),
                    "tables": tables,
                    "reads": read,  # the tables of record it read (None: looked for, absent)
                    "inputs": inputs,  # what the key is made of: says what changed next time
                    "seconds": rec["seconds"],
                }
                write_text(_cache_file(self.study, name), json.dumps(cache, indent=1) + "\n")
            elif status == "unchanged":
                cache = json.loads(_cache_file(self.study, name).read_text(encoding="utf-8"))
                tables = cache["tables"]
                rec.pop("html", None)
            else:  # failed: nothing it wrote was published; its earlier outputs stay
                rec.pop("html", None)
                # Its executed notebook is now the partial one: run it again next time.
                _cache_file(self.study, name).unlink(missing_ok=True)
                tables = []
            current |= set(tables)
        return current


class _Stopped(SystemExit):
    """The run got SIGTERM (or SIGHUP): unwind, stop the workers, exit 128 + signal."""


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """While notebooks run, SIGTERM and SIGHUP raise :class:`_Stopped` in the main thread (so
    the workers are stopped on the way out) instead of killing the run outright."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        raise _Stopped(128 + signum)

    wanted = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {sig: signal.signal(sig, stop) for sig in wanted}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop_pool(pool: ProcessPoolExecutor, study: Study, *, quiet: bool = False) -> None:
    """Stop the workers now (a notebook half run is abandoned) and drop what they staged and
    the temporary files they left; published outputs are whole files (os.replace).
    ``quiet``: workers that ran nothing yet (an error before the notebooks) end unannounced."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.terminate()
    deadline = time.monotonic() + 5.0
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(1.0)
    with contextlib.suppress(Exception):
        pool.shutdown(wait=False, cancel_futures=True)
    _sweep(study)
    if not quiet:
        log.warning("run stopped: %d worker process(es) ended", len(processes))


def _sweep(study: Study) -> None:
    """Remove what an interrupted run left: reports/.staging/ (never published) and the
    temporary files of atomic writes (``.<name>.*.tmp``) under reports/."""
    reports = study.paths.reports
    if not is_plain_folder(reports):
        return
    shutil.rmtree(reports / STAGING, ignore_errors=True)
    for tmp in reports.rglob(".*.tmp"):
        with contextlib.suppress(OSError):
            if tmp.is_file() and not tmp.is_symlink():
                tmp.unlink()


def _ready() -> None:
    """A task that does nothing: submitted to start a worker (its initializer imports)."""


def _warm_for_reports(languages: tuple[str, ...]) -> None:
    """A task for a worker that would wait idle for the reports: what its first report pays
    once is paid now (the report's modules, and each language's HTML exporter and templates:
    0.2-0.3 s of the first report on a fresh worker)."""
    from evaluation.pipeline import cells  # noqa: F401
    from evaluation.report import audiences  # noqa: F401
    from evaluation.report.html import warm_html

    warm_html(languages)


def _prestart(pool: ProcessPoolExecutor, count: int, languages: tuple[str, ...] = ()) -> None:
    """Start ``count`` workers of ``pool`` now (a spawned pool starts one per task submitted
    while none is idle), so their imports overlap with what the run does meanwhile; with
    ``languages``, they then prepare for the reports in those languages."""
    for _ in range(count):
        if languages:
            pool.submit(_warm_for_reports, languages)
        else:
            pool.submit(_ready)


_SERVER_SOURCE: list[str] = []  # the package source of this process's first forked workers


def _same_source_as_server(source: str) -> bool:
    """Whether the fork server, started once per process, holds the package code ``source``
    (:func:`evaluation.version.source_hash`): a second run in the same process (a notebook's
    ``run()``) after the package's code was edited spawns its workers, which import it anew."""
    if not _SERVER_SOURCE:
        _SERVER_SOURCE.append(source)
    return _SERVER_SOURCE[0] == source


def _prestart_beside(pool: ProcessPoolExecutor, count: int) -> None:
    """:func:`_prestart` in a thread: starting a worker forked from the fork server waits for
    the server's imports (1.5 s), which this process does not wait for. A pool stopped
    meanwhile (an error before the notebooks) takes no more work: nothing is started."""

    def start() -> None:
        with contextlib.suppress(RuntimeError, BrokenProcessPool):
            _prestart(pool, count)

    threading.Thread(target=start, name="evaluation-workers-start", daemon=True).start()


class _PoolOnFirstTask(ProcessPoolExecutor):
    """A :class:`ProcessPoolExecutor` set up at its first task: a run that keeps every
    notebook and export starts no process. (Setting up a pool starts multiprocessing's
    resource tracker, a process of its own that a caller reading the run's output waits for:
    a tenth of a run with nothing to do.)"""

    def __init__(self, **kwargs) -> None:  # the pool's own arguments, kept for its first task
        self._arguments, self._set_up, self._setting_up = kwargs, False, threading.Lock()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        with self._setting_up:
            if not self._set_up:
                super().__init__(**self._arguments)
                self._set_up = True
        return super().submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._setting_up:
            if self._set_up:
                super().shutdown(wait, cancel_futures=cancel_futures)


def _pool(
    workers: int, statistics: bool = True, *, fork: bool = True, on_first_task: bool = False
) -> ProcessPoolExecutor:
    """``workers`` worker processes, started as work is submitted (see :func:`warm_worker` for
    ``statistics``). With ``fork`` (below national size), on Linux the workers are forked from
    a server that imported their modules once (:func:`evaluation.processes.worker_context`):
    the second worker does not pay its 1.5 s of imports again. At national size each worker is
    spawned: the server's own memory (0.3 GB) would stay beside the analyses' for the run.
    ``on_first_task``: set up at its first task (:class:`_PoolOnFirstTask`)."""
    preload = ["evaluation.pipeline.preload"]
    preload += ["scipy.stats", "statsmodels.api"] if statistics else []
    preload.append("evaluation.pipeline.preloaded")
    return (_PoolOnFirstTask if on_first_task else ProcessPoolExecutor)(
        max_workers=workers,
        mp_context=worker_context(preload) if fork else spawn_context(),
        initializer=warm_worker,
        initargs=(os.getpid(), statistics, dict(os.environ)),
    )


def run(
    study_dir: str | Path = ".",
    *,
    jobs: int = 2,
    kernel: str = KERNEL,
    engine: str = "inprocess",
    use_cache: bool = True,
    only: list[str] | None = None,
    language: str | None = None,
    reports: bool = True,
) -> dict:
    """Analyse a study end to end; return the manifest's notebook records.

    ``only``: run only the notebooks whose names start with one of these (no audience reports
    unless ``90`` is among them). ``language``: fi, en or both (default: study.yaml's).
    ``reports=False`` skips the audience reports.
    """
    t0 = time.perf_counter()
    if engine not in ENGINES:
        raise UsageError(f"--engine must be one of {', '.join(ENGINES)}, not '{engine}'")
    study = load_study(study_dir)
    # Before anything is written or removed: no output folder may be a link out of the study.
    check_output_folders(study.paths)
    with _one_run_at_a_time(study):
        return _run(study, t0, jobs, kernel, engine, use_cache, only, language, reports)


@contextlib.contextmanager
def _one_run_at_a_time(study: Study) -> Iterator[None]:
    """Hold an exclusive lock on ``reports/.run.lock`` for the run: a second run of the same
    study (another terminal, a scheduled job) would sweep this one's staged outputs and
    interleave the tables, so it stops at once with a clear message instead. The lock is the
    operating system's (``flock``): it goes with the process, so a killed run leaves none."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; runs are not guarded there
        yield
        return
    study.paths.reports.mkdir(parents=True, exist_ok=True)
    with open(study.paths.reports / ".run.lock", "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(
                f"another `evaluation run` of {study.paths.root} is in progress; "
                "wait for it to finish (or stop it) and run again"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(
    study: Study,
    t0: float,
    jobs: int,
    kernel: str,
    engine: str,
    use_cache: bool,
    only: list[str] | None,
    language: str | None,
    reports: bool,
) -> dict:
    languages = report_languages(study, language)
    # Outputs staged by an interrupted run were never published: drop them.
    _sweep(study)
    if not use_cache and is_plain_folder(study.paths.reports):
        # --force: every figure is drawn again (once: reports of this run still share them)
        shutil.rmtree(study.paths.reports / ".cache" / FIGURES, ignore_errors=True)
    config = input_hashes(study)
    source = source_hash()
    # The raw data files among the inputs: the notebooks read them as processed files.
    raw = frozenset(relative(p, study.paths.root) for paths in study.data.values() for p in paths)
    workers = max(1, jobs)
    early: list[ProcessPoolExecutor] = []
    # Every notebook runs (--force, or a first run): workers import the model API at start-up
    # (after a change, when more than one analysis is to run again: see start_workers).
    cold = not use_cache or not _processed_record(study).is_file()

    # Below national size the workers are forked from a server that imports their modules once
    national = _raw_bytes(study) >= CHILD_PROCESSING_BYTES
    fork = not national and _same_source_as_server(source)

    def start_workers() -> None:
        # Processing runs: the workers start (their imports) meanwhile. A cold run will keep
        # them all busy; after a change, at first one (more start when there is more work).
        several = cold or _analyses_reading_changes(study, config, raw) > 1
        early.append(_pool(workers, statistics=several, fork=fork))
        _prestart_beside(early[0], workers if not use_cache else 1)

    planned: Future | None = None  # the plan made beside the analyses
    try:
        processed, planning = _process(study, config, source, use_cache, raw,
                                       starting=start_workers, plan_beside=True)  # fmt: skip
        # A plan to make: in a thread of this process, while the workers run the analyses (a
        # notebook's reads of the plan wait for it, and it publishes nothing before it).
        plan_wait, planned = _plan_beside(study, planning) if planning else ("", None)
        if engine == "kernel":
            _check_kernel(kernel)
        # What every notebook depends on, hashed once: derived data, inputs, the package's code.
        shared_inputs = {"processed": processed, "config": config, "source": source}
        main_labels = load_labels(languages[0], study.paths)
        code = code_version()
        # the plan is made from the rest (and may still be in the making): not in the run's id
        rid = run_id({**shared_inputs, "processed": {n: d for n, d in processed.items()
                                                     if n != PLAN}})  # fmt: skip
        provenance = {  # keys are label keys
            "run_id": f"{rid} (reports/manifest.json)",
            "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "generated_from": ", ".join(
                f"{name} ({digest[:12]})" for name, digest in config.items()
            ),
            "code_version": f"evaluation {code['version']}"
            + (f", git {code['git_commit'][:12]}" if code.get("git_commit") else "")
            + (" (uncommitted changes)" if code.get("git_dirty") else ""),
        }
        state = _Run(study, kernel, engine, use_cache, shared_inputs, provenance, raw=raw)

        notebooks = study.paths.notebooks  # shipped, plus the study's own notebooks/[0-8]*
        analyses = [nb for nb in notebooks if nb.stem != REPORT_NOTEBOOK]
        report_nb = next((nb for nb in notebooks if nb.stem == REPORT_NOTEBOOK), None)
        if only:
            analyses = [nb for nb in analyses if any(nb.stem.startswith(o) for o in only)]
            if not any(REPORT_NOTEBOOK.startswith(o) for o in only):
                report_nb = None
        if not reports:
            report_nb = None
        if not analyses and report_nb is None:
            raise UsageError(f"no notebooks to run in {study.paths.root}")

        # The second wave (notebooks/8*) reads the tables of record of the first: it runs after.
        later = [nb for nb in analyses if _second_wave(nb)]
        stage1 = [
            state.job(nb, nb.stem, {"language": languages[0]}, main_labels)
            for nb in analyses
            if not _second_wave(nb)
        ]
        todo1 = state.todo(stage1, plan_wait=plan_wait)
        report_jobs: list[NotebookJob] = []
        # Workers are started as work is submitted (spawn), never more than there are notebooks
        # to run at once; those started while processing ran are used first.
        pool = early[0] if early else None
        if pool is None and (todo1 or state.waiting or later or report_nb is not None):
            several = cold or len(todo1) + len(state.waiting) > 1
            pool = _pool(workers, statistics=several, fork=fork, on_first_task=True)
    except BaseException:  # an error before the notebooks run: no worker outlives it
        _stop_plan(planned)
        for started in early:
            _stop_pool(started, study, quiet=True)
        raise
    try:
        with _stop_on_signals():
            if todo1:
                log.info("running %d analysis notebook(s), %d at a time", len(todo1), workers)
            # After a change, one or two analyses often run before the reports: the workers
            # they leave idle start meanwhile, ready for the reports.
            # The workbook sheets of the bigger tables are written as soon as their notebook is
            # done, beside the analyses still running (not at national size: see _EarlySheets).
            sheets = _EarlySheets(study, main_labels, use_cache, active=not national)
            warm = {"warm": workers, "languages": tuple(languages)} if report_nb is not None else {}
            state.execute(pool, todo1, then=sheets, **warm)
            if planned is not None:
                # The plan (a DisclosureError if refused): the keys of the analyses now hold
                # it, and those that waited for it to be judged run if it changed.
                state.shared_inputs["processed"] = planned.result()
                state.complete(todo1)
                late, state.waiting = state.todo(state.waiting), []
                if late:
                    log.info("running %d analysis notebook(s) that read the plan", len(late))
                state.execute(pool, late, then=sheets, **warm)
            for job in stage1:
                state.records[job.name]["html"] = job.html
            current = state.settle([job.name for job in stage1])
            if later and not state.failures and not only:
                # The second wave reads the first wave's tables: a table no first-wave
                # notebook stands behind any more (e.g. lmm.csv of an earlier run on
                # individual answers, now on summaries) must be gone before it reads them.
                kept = set(_first_wave_tables(study, [nb.stem for nb in later]))
                _remove_stale_tables(study, current | kept)
            current |= _second_wave_run(state, pool, later, notebooks, languages[0], main_labels,
                                        sheets)  # fmt: skip
            if state.failures:
                # What a failed notebook would have replaced is unknown: nothing is removed.
                log.info("a notebook failed: the tables of earlier runs are all kept")
            elif not only:
                _remove_stale_tables(study, current)
            todo2: list[NotebookJob] = []
            if report_nb is not None:
                for lang in languages:
                    labels = load_labels(lang, study.paths)
                    for aud in audiences(study):
                        name = f"{REPORT_NOTEBOOK}.{lang}.{aud.slug}"
                        report_jobs.append(
                            state.job(
                                report_nb,
                                name,
                                {"language": lang, "audience": aud.kind, "group": aud.name},
                                labels,
                                title=f"{labels.get('report_title', '')}: {aud.name}",
                                executed=study.paths.executed_notebooks
                                / REPORT_NOTEBOOK
                                / lang
                                / f"{aud.slug}.ipynb",
                                html=study.paths.html / lang / f"{aud.slug}.html",
                                # it reads tables of record only: those it read are traced
                                # and checked (_stale_reason), not every table; and each
                                # section only those it shows (evaluation.pipeline.cells)
                                reads=(),
                                by_cell=True,
                            )
                        )
                # judged before the exports' thread starts: it would slow this down, and the
                # reports wait for it
                todo2 = state.todo(report_jobs)
            exports = _Exports(study, table_hashes(study), main_labels, source, use_cache,
                               languages[0])  # fmt: skip
            # The exports read the tables of record only, as the reports do: they are written
            # in a thread of this process while the workers write the reports (without
            # reports, the LaTeX in a worker while this process writes the workbook). The
            # biggest tables' sheets go to the workers first, before the reports.
            ahead = [] if exports.current else sheets.futures
            ahead += exports.ahead(pool, skip=sheets.tables) if pool is not None else []
            exporting = _in_background(_export, exports, ahead, pool if report_nb is None else None)
            if report_nb is not None:
                if todo2:
                    log.info("writing %d report(s), %d at a time", len(todo2), workers)
                state.execute(pool, todo2)
                for job in report_jobs:
                    state.records[job.name]["html"] = job.html
                state.settle([job.name for job in report_jobs])
                if todo2:
                    from evaluation.report.plot_cache import prune

                    prune(study.paths.reports / ".cache" / FIGURES)  # of tables long changed
            exporting.result()
    except BaseException:  # SIGTERM, Ctrl-C, an error: no worker outlives the run
        _stop_plan(planned)
        if pool is not None:
            _stop_pool(pool, study)
            pool = None
        raise
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    _write_index(study, languages, analyses, report_jobs, main_labels, provenance)
    write_manifest(
        study,
        notebooks=state.records,
        seconds=time.perf_counter() - t0,
        inputs=config,
        run_id=rid,
        code=code,
    )
    if state.failures:
        raise NotebookError(
            "notebook(s) failed; partial output kept:\n"
            + "\n".join(f"  {error}" for _name, error in state.failures)
        )
    log.info("reports in %s (%.1f s)", study.paths.html, time.perf_counter() - t0)
    return state.records


SECOND_WAVE = "8"  # analysis notebooks named 8* (80-89) read the first wave's tables


def _second_wave(nb: Path) -> bool:
    return nb.stem.startswith(SECOND_WAVE)


def _second_wave_run(
    state: _Run,
    pool: Executor | None,
    later: list[Path],
    notebooks: list[Path],
    language: str,
    labels: dict,
    then: Callable[[dict], object] | None = None,
) -> set[str]:
    """Run the second-wave notebooks (``notebooks/8*``, in parallel among themselves) after the
    first wave, unless a notebook of the first wave failed (then they are not run: they would
    read tables the failed notebook did not replace). A notebook that declares its reads
    (:func:`notebook_reads`) runs again when a table it read changed (traced); one that declares
    nothing, when any table the first-wave notebooks wrote changed (their cache records).
    Returns the tables they stand behind."""
    if not later:
        return set()
    if state.failures:
        names = ", ".join(nb.stem for nb in later)
        log.warning("a first-wave notebook failed: the second wave (%s) is not run", names)
        for nb in later:
            state.records[nb.stem] = {"status": "not run", "error": "a first-wave notebook failed"}
        return set()
    first = [nb.stem for nb in notebooks if nb.stem != REPORT_NOTEBOOK and not _second_wave(nb)]
    every = {"tables": _first_wave_tables(state.study, first)}
    # A notebook that declares its reads reads the tables of record with table_of_record:
    # those it read are traced and checked (_stale_reason); one that declares nothing
    # depends on every table of the first wave.
    wave = [
        state.job(
            nb,
            nb.stem,
            {"language": language},
            labels,
            depends=every if notebook_reads(nb) is None else {},
        )
        for nb in later
    ]
    todo = state.todo(wave)
    if todo:
        log.info("running %d second-wave notebook(s) (8*) on the first wave's tables", len(todo))
    state.execute(pool, todo, then=then)
    for job in wave:
        state.records[job.name]["html"] = job.html
    return state.settle([job.name for job in wave])


def _first_wave_tables(study: Study, names: list[str]) -> dict[str, str]:
    """sha256 of each table the first-wave notebooks ``names`` stand behind (from their cache
    records, written or kept in this run or an earlier one), as it is on disk now."""
    tables: set[str] = set()
    for name in names:
        cache = _cache_file(study, name)
        if cache.is_file():
            tables |= set(json.loads(cache.read_text(encoding="utf-8")).get("tables", {}))
    return {
        t: sha256_file(study.paths.tables / t)
        for t in sorted(tables)
        if (study.paths.tables / t).is_file()
    }


def _process(
    study: Study,
    inputs: dict[str, str],
    source: str,
    use_cache: bool,
    raw: frozenset[str] = frozenset(),
    starting: Callable[[], None] | None = None,
    plan_beside: bool = False,
) -> tuple[dict, Callable[[], dict] | None]:
    """Validate and score the raw data into data/processed/, unless neither the inputs nor the
    code changed since the parquet files there were written (then they are reused as they are).
    ``starting`` is called when processing does run (before it). Returns the processed files'
    sha256s, and None; or, with ``plan_beside`` when processing runs in this process and the
    disclosure plan must be made again, the files without the plan and the function that
    makes it (and returns them with it): the caller makes it beside the analyses."""
    record_path = _processed_record(study)
    key = hashlib.sha256(json.dumps([inputs, source], sort_keys=True).encode()).hexdigest()
    if use_cache and record_path.is_file():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        files = record.get("files", {})
        on_disk = sorted(p.name for p in study.paths.processed.glob("*.parquet"))
        if (
            record.get("key") == key
            and on_disk == sorted(f"{name}.parquet" for name in files)
            and all(
                sha256_file(study.paths.processed / f"{name}.parquet") == digest
                for name, digest in files.items()
            )
        ):
            log.info("study %s: raw data and code unchanged, processed data kept", study.name)
            return files, None
    if starting is not None:
        starting()
    if _raw_bytes(study) >= CHILD_PROCESSING_BYTES:
        # National size: the plan too is made in the child, before the analyses (their memory
        # beside the plan's would pass the run's bound).
        what = "processing the raw data"
        args = (study, inputs, source, use_cache, raw, key, True)
        return in_child(_process_data, *args, what=what), None
    return _process_data(study, inputs, source, use_cache, raw, key, plan_beside=plan_beside)


# From this size of raw data on, processing runs in a child process (evaluation.pipeline.child):
# its peak (gigabytes at national size) leaves with the child instead of staying in the run
# process while the notebooks run. Below it (the demo: 1 MB), the child's start would cost more
# than the memory it gives back.
CHILD_PROCESSING_BYTES = 64 * 2**20


def _analyses_reading_changes(study: Study, inputs: dict[str, str], raw: frozenset[str]) -> int:
    """How many analysis notebooks read what changed since the last processing (``inputs``:
    the input files' sha256s now; ``raw``: the raw data files among them), as far as is known
    before processing: a changed raw file counts for the notebooks that read its processed
    file (for every notebook if none reads it by its name: documents.csv becomes segments);
    any other change (configuration, the package's code), or no record of the last
    processing, for every notebook."""
    notebooks = [nb for nb in study.paths.notebooks if nb.stem != REPORT_NOTEBOOK]
    try:
        last = json.loads(_processed_record(study).read_text(encoding="utf-8"))["inputs"]
    except (OSError, ValueError, KeyError, TypeError):
        return len(notebooks)
    changed = {p for p in set(inputs) | set(last) if inputs.get(p) != last.get(p)}
    if not changed or not changed <= raw:
        return len(notebooks)
    stems = {stem for stem, paths in study.data.items()
             if any(relative(p, study.paths.root) in changed for p in paths)}  # fmt: skip
    reads = [notebook_reads(nb) for nb in notebooks]
    if not stems <= {stem for read in reads if read is not None for stem in read}:
        return len(notebooks)
    return sum(1 for read in reads if read is None or stems & set(read))


def _raw_bytes(study: Study) -> int:
    """The size of the study's raw data files (a missing one counts 0: validation names it)."""
    return sum(path.stat().st_size for paths in study.data.values() for path in paths
               if path.is_file())  # fmt: skip


def _process_data(
    study: Study,
    inputs: dict[str, str],
    source: str,
    use_cache: bool,
    raw: frozenset[str],
    key: str,
    themes_beside: bool = False,
    plan_beside: bool = False,
) -> dict | tuple[dict, Callable[[], dict] | None]:
    """The processing of :func:`_process` (``key``: its cache key), then the disclosure plan,
    unless the plan's own inputs did not change. With ``themes_beside`` (a national-size
    study), the themes the plan protects are computed in a child process while the survey
    tables' plan is made here. Returns the processed files' sha256s; with ``plan_beside``,
    those and None, or (a plan to make) those without the plan and the function that makes
    it (see :func:`_process`)."""
    from evaluation.disclosure import AUDIT_FILE, PLAN_FILE
    from evaluation.pipeline.process import process

    record_path = _processed_record(study)
    log.info("study %s: validating and scoring", study.name)
    written = process(study)
    files = {name: sha256_file(path) for name, path in sorted(written.items())}
    # The plan is made from the survey data and the codings only (never the activities or the
    # feedback) and the configuration: unchanged, the plan of the last run stands.
    plan_key = _digest(
        [
            {n: d for n, d in files.items() if n in PLAN_READS},
            {p: d for p, d in inputs.items() if p not in raw},
            source,
        ]
    )
    plan = study.paths.processed / PLAN_FILE
    last = json.loads(record_path.read_text(encoding="utf-8")) if record_path.is_file() else {}
    kept = (
        use_cache
        and last.get("plan_key") == plan_key
        and plan.is_file()
        and (study.paths.processed / AUDIT_FILE).is_file()
        and sha256_file(plan) == last.get("files", {}).get(PLAN)
    )

    def finish() -> dict:
        if not kept:
            _make_plan(study, themes_beside)
        done = dict(sorted({**files, PLAN: sha256_file(plan)}.items()))
        from evaluation.pipeline.memory import release_memory

        release_memory()  # the frames of processing and of the plan: not held for the whole run
        record = {"key": key, "plan_key": plan_key, "files": done, "inputs": inputs}
        write_text(record_path, json.dumps(record, indent=1) + "\n")
        return done

    if kept:
        log.info("study %s: survey data and codings unchanged, disclosure plan kept", study.name)
    else:
        # Disclosure control over every published table at once, audited before anything is
        # published: a DisclosureError here leaves reports/ as it was.
        log.info("study %s: disclosure plan (suppressed cells chosen and audited)", study.name)
        # The old plan belongs to the old data: gone before the new one is made, so a refused
        # plan never leaves it beside data it does not describe.
        plan.unlink(missing_ok=True)
        if plan_beside:
            return files, finish
    return (finish(), None) if plan_beside else finish()


def _make_plan(study: Study, themes_beside: bool) -> None:
    """The study's disclosure plan (:func:`evaluation.disclosure.plan.make_plan`); with
    ``themes_beside``, the themes it protects computed in a child process meanwhile."""
    from evaluation.disclosure.plan import make_plan  # the model and its solver: only here
    from evaluation.pipeline.session import study_themes

    if themes_beside:
        what = "computing the themes for the disclosure plan"
        with started_in_child(study_themes, study, what=what) as themes:
            make_plan(study, themes=themes)
    else:
        make_plan(study, themes=lambda: study_themes(study))


def _processed_record(study: Study) -> Path:
    """What the last processing wrote (its key and the processed files' sha256s)."""
    return study.paths.reports / ".cache" / "processed.json"


PLAN = "disclosure"  # the plan among the processed files (disclosure.parquet)
# The processed files the disclosure plan is made from (make_plan and study_themes).
PLAN_READS = frozenset({"scores", "responses", "summaries", "codings", "open_answers", "segments"})


@dataclass
class _Exports:
    """What the LaTeX and xlsx exports of the tables of record (in ``language``, the run's first
    report language) are made from, and whether they must be made again: not when neither the
    tables nor what the exports say about them changed since the last run (``current``)."""

    study: Study
    tables: dict
    labels: dict
    source: str
    use_cache: bool
    language: str

    def __post_init__(self) -> None:
        self.record = self.study.paths.reports / ".cache" / "exports.json"
        self.said = {  # what the exports say besides the tables: ExportContext's fields
            "ci": self.study.analysis.ci,
            "min_n": self.study.min_n,
            "rounds": {r.id: r.label_in(self.language) for r in self.study.rounds},
            "language": self.language,
        }
        payload = [self.tables, self.labels, self.source, self.said]
        self.key = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        # What each table's export says besides the table itself: unchanged, a table whose CSV
        # is unchanged keeps its LaTeX file (export_tables(unchanged=...)).
        self.base = _digest([self.labels, self.source, self.said])
        self.last: dict = {}
        if self.use_cache and self.record.is_file():
            with contextlib.suppress(ValueError):
                self.last = json.loads(self.record.read_text(encoding="utf-8"))
        workbook = self.study.paths.reports / "exports" / "tables.xlsx"
        self.current = self.last.get("key") == self.key and workbook.is_file()

    def ahead(self, pool: Executor, skip: Iterable[str] = ()) -> list[Future]:
        """The sheets of the biggest tables (but those in ``skip``) written in ``pool``'s
        workers, ahead of the workbook (:func:`evaluation.report.exports.write_sheet_ahead`);
        their keys are the futures' results; none when the exports are current."""
        if self.current:
            return []
        from evaluation.report.exports import sheets_to_write_ahead, write_sheet_ahead

        paths, labels, reuse = self.study.paths, self.labels, self.use_cache
        tables = [t for t in sheets_to_write_ahead(paths) if t not in set(skip)]
        return [pool.submit(write_sheet_ahead, paths, labels, t, reuse=reuse) for t in tables]


def _stop_plan(planned: Future | None) -> None:
    """A run that stops (a signal, an error) while the plan is made beside the analyses ends
    the plan's solves and waits for its thread (at most one solve more): the interpreter must
    not exit while HiGHS solves in another thread (see ``sdc.STOP_SOLVES``)."""
    if planned is None or planned.done():
        return
    from evaluation.disclosure.sdc import STOP_SOLVES

    STOP_SOLVES.set()
    try:
        with contextlib.suppress(BaseException):
            planned.exception()  # waits for the thread; its error is the run's no more
    finally:
        STOP_SOLVES.clear()  # a plan made later in this process (a notebook's) solves again


def _plan_beside(study: Study, planning: Callable[[], dict]) -> tuple[str, Future]:
    """``planning`` (:func:`_process`: it makes the disclosure plan and returns the processed
    files with it) in a thread of this process. Returns the file its end is written to
    (``made`` or ``failed``: the workers' reads of the plan wait for it, ``PLAN_WAIT_ENV``)
    and the future of the processed files."""
    from evaluation.disclosure.plan import PLAN_FAILED, PLAN_MADE
    from evaluation.disclosure.sdc import STOP_SOLVES

    marker = study.paths.reports / ".cache" / "plan.state"
    marker.unlink(missing_ok=True)
    STOP_SOLVES.clear()

    def make() -> dict:
        try:
            files = planning()
        except BaseException:
            write_text(marker, PLAN_FAILED + "\n")
            raise
        write_text(marker, PLAN_MADE + "\n")
        return files

    return str(marker), _in_background(make)


@dataclass
class _EarlySheets:
    """Called with each analysis notebook's result (:meth:`_Run.execute`): the workbook sheets
    of the tables it wrote that are big enough to be written early
    (:func:`evaluation.report.exports.sheets_to_write_ahead` with ``early``) are written at
    once, one after another in a thread of this process (idle while the workers run the
    analyses; a worker would reach them only after every notebook queued); ``futures`` give
    their keys. Not ``active`` at national size: processing runs in a child there, so this
    process holds no pandas, and importing it for a sheet would add 0.1 GB to the run's
    memory peak while the analyses run; the sheets are then written with the exports, beside
    the reports, as before."""

    study: Study
    labels: dict
    use_cache: bool
    active: bool = True
    futures: list[Future] = field(default_factory=list)
    tables: set[str] = field(default_factory=set)  # the names of the tables submitted
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, result: dict) -> None:
        if not self.active:
            return
        from evaluation.report.exports import sheets_to_write_ahead

        for table in sheets_to_write_ahead(self.study.paths, result.get("tables", ()), early=True):
            self.tables.add(table)
            self.futures.append(_in_background(self._write, table))

    def _write(self, table: str) -> str | None:
        from evaluation.report.exports import write_sheet_ahead

        with self.lock:  # one workbook at a time
            return write_sheet_ahead(self.study.paths, self.labels, table, reuse=self.use_cache)


def _export(exports: _Exports, ahead: list[Future], pool: Executor | None = None) -> None:
    """The exports (:class:`_Exports`), unless they are current; the sheets written ``ahead``
    are copied into the workbook. With ``pool`` (idle workers: a run without reports), the
    LaTeX is written in a worker while this process writes the workbook."""
    if exports.current:
        return
    # imported only now: pandas and openpyxl are not needed for a run with nothing to do
    from evaluation.report.exports import (
        ExportContext,
        export_latex,
        export_workbook,
    )

    study, labels, tables, last = exports.study, exports.labels, exports.tables, exports.last
    context = ExportContext(**exports.said)
    kept = last.get("tables", {}) if last.get("base") == exports.base else {}
    unchanged = {
        name.removesuffix(".csv"): digest
        for name, digest in kept.items()
        if isinstance(digest, str) and tables.get(name) == digest
    }
    args = (study.paths, labels, context)
    latex = None if pool is None else pool.submit(export_latex, *args, unchanged=unchanged)
    written = export_latex(*args, unchanged=unchanged) if latex is None else []
    fresh = frozenset(key for future in ahead if (key := future.result()) is not None)
    written += export_workbook(study.paths, labels, context, reuse=exports.use_cache, fresh=fresh)
    if latex is not None:
        written += latex.result()
    log.info(
        "exports: %d file(s) in %s (%d table(s) unchanged, kept)",
        len(written),
        study.paths.reports / "exports",
        len(unchanged),
    )
    record = {"key": exports.key, "base": exports.base, "tables": tables}
    write_text(exports.record, json.dumps(record) + "\n")


def _in_background(function: Callable[..., object], *args: object) -> Future:
    """``function(*args)`` in a thread of this process; its result (or exception) in the
    future. A daemon thread: a run that is stopped does not wait for it (the temporary file
    of a write it leaves is swept by the next run)."""

    future: Future = Future()

    def work() -> None:
        try:
            future.set_result(function(*args))
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=work, name="evaluation-background", daemon=True).start()
    return future


AUDIENCE_KINDS = ("consortium", "actor", "organisation")  # the index's sections, in order
EXPORT_LINKS = (  # (path below reports/, label key) of the index's exports section
    ("exports/latex/main_results.tex", "index_export_main_results"),
    ("exports/latex/supplement.tex", "index_export_supplement"),
    ("exports/tables.xlsx", "index_export_workbook"),
)


def index_sections(
    study: Study,
    languages: list[str],
    analyses: list[Path],
    report_jobs: list[NotebookJob],
    labels: dict,
) -> list[IndexSection]:
    """The index page's sections: per report language the consortium, actor and organisation
    reports (headings in that language, each link naming its kind), then the analyses and the
    exports, each only where its files exist."""
    html_dir = study.paths.html
    sections: list[IndexSection] = []
    several = len(languages) > 1
    for lang in languages:
        other = "" if lang == languages[0] else lang
        jobs = [
            job for job in report_jobs if job.parameters["language"] == lang and job.html.is_file()
        ]
        if not jobs:
            continue
        lang_labels = load_labels(lang, study.paths) if other else labels
        heading = lang_labels.get("rep_by_audience", "Reports")
        if several:
            heading = f"{heading} ({lang_labels.get('index_in_language', lang)})"
        sections.append(IndexSection(heading, lang=other))
        for kind in AUDIENCE_KINDS:
            links = tuple(
                IndexLink(
                    str(job.html.relative_to(html_dir).as_posix()),
                    str(job.parameters["group"]),
                    lang_labels.get(f"rep_audience_{kind}", kind),
                )
                for job in jobs
                if job.parameters["audience"] == kind
            )
            if links:
                sections.append(
                    IndexSection(
                        lang_labels.get(f"index_section_{kind}", kind),
                        links,
                        intro=lang_labels.get(f"index_intro_{kind}", ""),
                        level=3,
                        lang=other,
                    )
                )
    analysis_links = tuple(
        IndexLink(
            f"{nb.stem}.html",
            labels.get(f"nb_{nb.stem}", nb.stem),
            labels.get("index_analysis", ""),
        )
        for nb in analyses
        if (html_dir / f"{nb.stem}.html").is_file()
    )
    if analysis_links:
        sections.append(
            IndexSection(
                labels.get("rep_analyses", "Analyses"),
                analysis_links,
                intro=labels.get("index_intro_analyses", ""),
            )
        )
    export_links = tuple(
        IndexLink(f"../{path}", labels.get(key, path))
        for path, key in EXPORT_LINKS
        if (study.paths.reports / path).is_file()
    )
    if export_links:
        sections.append(
            IndexSection(
                labels.get("index_exports", "Exports"),
                export_links,
                intro=labels.get("index_intro_exports", ""),
            )
        )
    return sections


def _write_index(
    study: Study,
    languages: list[str],
    analyses: list[Path],
    report_jobs: list[NotebookJob],
    labels: dict,
    provenance: dict,
) -> None:
    index_html(
        study.paths.html / "index.html",
        title=f"{labels.get('report_title', 'Report')}: {study.name}",
        sections=index_sections(study, languages, analyses, report_jobs, labels),
        footer=" · ".join(f"{labels.get(k, k)}: {v}" for k, v in provenance.items()),
        lang=languages[0],
    )


def _one_report_per_language_first(
    reports: list[NotebookJob], last: dict[str, float]
) -> list[NotebookJob]:
    """``reports`` (longest first) reordered for the figures they share: the longest report of
    each language first (it draws that language's figures, which the reports of the
    analyses' language mostly copy), then the others, those of the languages whose first
    report is quickest first. The reports of a language started while its figures are still
    being drawn would wait for them (:func:`evaluation.report.plot_cache.drawing`); this way
    the other worker writes the reports whose figures are ready meanwhile."""
    first: dict[str, NotebookJob] = {}
    for job in reports:
        first.setdefault(job.language, job)
    rest = [job for job in reports if first[job.language] is not job]
    quickest = sorted(first, key=lambda language: last.get(first[language].name, 0.0))
    rest.sort(key=lambda job: quickest.index(job.language))  # stable: longest first within
    return [*first.values(), *rest]


def _last_seconds(study: Study) -> dict[str, float]:
    """Each notebook's run time when it last executed (from its cache record)."""
    out = {}
    for path in (study.paths.reports / ".cache").glob("*.json"):
        try:
            out[path.stem] = float(json.loads(path.read_text(encoding="utf-8"))["seconds"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return out


def _remove_stale_tables(study: Study, current: set[str]) -> None:
    """Remove tables no notebook of this run wrote (e.g. lmm.csv after a switch to summary
    mode), so the manifest and reports/tables/ list only what this run stands behind."""
    tables = study.paths.tables
    for path in sorted(tables.glob("*.csv")) if is_plain_folder(tables) else []:
        if path.name not in current:
            log.info("removing %s: no notebook wrote it in this run", path.name)
            path.unlink()


def reproduce(
    study_dir: str | Path = ".", *, jobs: int = 2, kernel: str = KERNEL, engine: str = "inprocess"
) -> dict:
    """Re-run the study from its inputs in a scratch copy and compare every table with the
    manifest; raise ReproduceError listing any table that differs or is missing."""
    study = load_study(study_dir)
    if not study.paths.manifest.is_file():
        raise UsageError(f"{study.paths.manifest}: no manifest; run `evaluation run` first")
    recorded = read_manifest(study.paths.manifest)
    with tempfile.TemporaryDirectory(prefix="evaluation-reproduce-") as tmp:
        copy = Path(tmp) / "study"
        ignore = shutil.ignore_patterns("reports", "processed", ".venv", ".git", "*.egg-info")
        shutil.copytree(study.paths.root, copy, ignore=ignore, symlinks=True)
        run(copy, jobs=jobs, kernel=kernel, engine=engine, use_cache=False, reports=False)
        fresh = table_hashes(load_study(copy))
    expected = recorded.get("tables", {})
    differ = sorted(n for n in expected if fresh.get(n) != expected[n])
    extra = sorted(set(fresh) - set(expected))
    if recorded.get("inputs") != input_hashes(study):
        log.warning("inputs differ from the manifest's: the comparison may fail for that reason")
    if differ or extra:
        lines = [f"  {n}: {'missing' if n not in fresh else 'differs'}" for n in differ]
        lines += [f"  {n}: not in the manifest" for n in extra]
        raise ReproduceError("tables do not reproduce the manifest:\n" + "\n".join(lines))
    log.info("all %d tables reproduce the manifest byte for byte", len(expected))
    return {"tables": len(expected)}
