"""Orchestration: validate -> process -> notebooks (papermill) -> HTML (nbconvert) -> manifest.

Notebooks are independent of each other (each reads ``data/processed`` and writes its own
tables), so they run in parallel, ``jobs`` at a time. A notebook whose inputs did not change
since the last run (same notebook, parameters, processed data, configuration and package
source) and whose tables and HTML are still in place is not executed again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from evaluation.config import Study, load_labels, load_study
from evaluation.errors import NotebookError, ReproduceError, UsageError
from evaluation.io import sha256_file, write_text
from evaluation.manifest import (
    code_version,
    input_hashes,
    read_manifest,
    source_hash,
    table_hashes,
    write_manifest,
)
from evaluation.process import process
from evaluation.report import index_html, notebook_to_html

log = logging.getLogger(__name__)

KERNEL = "evaluation"
TABLE_LOG_ENV = "EVALUATION_TABLE_LOG"


@dataclass(frozen=True)
class NotebookJob:
    source: Path
    executed: Path
    html: Path
    table_log: Path
    parameters: dict
    kernel: str
    cwd: Path
    labels: dict
    provenance: dict


def _cache_file(study: Study, name: str) -> Path:
    return study.paths.reports / ".cache" / f"{name}.json"


def _cache_key(job: NotebookJob, inputs: dict[str, object]) -> str:
    payload = {
        "notebook": sha256_file(job.source),
        "parameters": job.parameters,
        "kernel": job.kernel,
        **inputs,
        "labels": job.labels,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _still_valid(cache: Path, key: str, study: Study) -> bool:
    if not cache.is_file():
        return False
    record = json.loads(cache.read_text(encoding="utf-8"))
    if record.get("key") != key or not Path(record.get("html", "")).is_file():
        return False
    for name, digest in record.get("tables", {}).items():
        path = study.paths.tables / name
        if not path.is_file() or sha256_file(path) != digest:
            return False
    return True


def execute_notebook(job: NotebookJob) -> dict:
    """Run one notebook with papermill and convert it to HTML (in a worker process)."""
    import papermill as pm

    job.table_log.parent.mkdir(parents=True, exist_ok=True)
    job.table_log.unlink(missing_ok=True)
    os.environ[TABLE_LOG_ENV] = str(job.table_log)
    os.environ.setdefault("MPLBACKEND", "Agg")
    start = time.perf_counter()
    job.executed.parent.mkdir(parents=True, exist_ok=True)
    try:
        pm.execute_notebook(
            str(job.source),
            str(job.executed),
            parameters=job.parameters,
            kernel_name=job.kernel,
            cwd=str(job.cwd),
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
        )
    except pm.PapermillExecutionError as exc:
        return {"ok": False, "error": f"{exc.ename}: {exc.evalue}", "cell": exc.exec_count}
    except Exception as exc:  # kernel died, missing kernel, ...: report, never hide
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "cell": None}
    executed_s = time.perf_counter() - start
    notebook_to_html(job.executed, job.html, labels=job.labels, provenance=job.provenance)
    tables = []
    if job.table_log.is_file():
        tables = sorted(set(job.table_log.read_text(encoding="utf-8").split()))
    return {
        "ok": True,
        "seconds": round(time.perf_counter() - start, 1),
        "execute_seconds": round(executed_s, 1),
        "tables": tables,
    }


def _check_kernel(kernel: str) -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    if kernel not in KernelSpecManager().find_kernel_specs():
        raise UsageError(
            f"Jupyter kernel '{kernel}' is not installed. Run `make install`, or "
            f"`python -m ipykernel install --sys-prefix --name {kernel}` in this environment."
        )


def run(
    study_dir: str | Path = ".",
    *,
    jobs: int = 2,
    kernel: str = KERNEL,
    use_cache: bool = True,
    only: list[str] | None = None,
) -> dict:
    """Analyse a study end to end; return the manifest's notebook records."""
    t0 = time.perf_counter()
    study = load_study(study_dir)
    log.info("study %s: validating and scoring", study.name)
    written = process(study)
    _check_kernel(kernel)
    processed = {k: sha256_file(p) for k, p in sorted(written.items())}
    config = input_hashes(study)
    # What every notebook depends on, hashed once: derived data, inputs, the package's code.
    shared_inputs = {"processed": processed, "config": config, "source": source_hash()}
    labels = load_labels(study.language, study.paths)
    code = code_version()
    provenance = {
        labels.get("generated_from", "inputs"): ", ".join(
            f"{name} ({digest[:12]})" for name, digest in config.items()
        ),
        labels.get("code_version", "code"): f"evaluation {code['version']}"
        + (f", git {code['git_commit'][:12]}" if code.get("git_commit") else ""),
    }
    notebooks = sorted(study.paths.notebooks.glob("[0-9]*.ipynb"))
    if only:
        notebooks = [nb for nb in notebooks if any(nb.stem.startswith(o) for o in only)]
    if not notebooks:
        raise UsageError(f"no notebooks to run in {study.paths.notebooks}")
    reports = study.paths.reports
    jobs_todo: list[NotebookJob] = []
    records: dict[str, dict] = {}
    for nb in notebooks:
        job = NotebookJob(
            source=nb,
            executed=study.paths.executed_notebooks / nb.name,
            html=study.paths.html / f"{nb.stem}.html",
            table_log=reports / ".cache" / f"{nb.stem}.tables",
            parameters={"study_dir": str(study.paths.root)},
            kernel=kernel,
            cwd=study.paths.root,
            labels=labels,
            provenance=provenance,
        )
        key = _cache_key(job, shared_inputs)
        if use_cache and _still_valid(_cache_file(study, nb.stem), key, study):
            log.info("%s: inputs unchanged, kept from the last run", nb.stem)
            records[nb.stem] = {"status": "unchanged", "seconds": 0.0}
            continue
        jobs_todo.append(job)
        records[nb.stem] = {"status": "pending", "key": key}
    # Longest first (by the last run's times) keeps both workers busy to the end.
    last = _last_seconds(study)
    jobs_todo.sort(key=lambda j: -last.get(j.source.stem, 0.0))
    failures = _execute_all(jobs_todo, jobs, records, study)
    current: set[str] = set()  # the tables this run stands behind
    for name, rec in records.items():
        key = rec.pop("key", None)
        status = rec.get("status")
        if status == "executed":
            tables = {t: sha256_file(study.paths.tables / t) for t in rec.get("tables", [])}
            cache = {
                "key": key,
                "html": str(study.paths.html / f"{name}.html"),
                "tables": tables,
                "seconds": rec["seconds"],
            }
            write_text(_cache_file(study, name), json.dumps(cache, indent=1) + "\n")
        elif status == "unchanged":
            tables = json.loads(_cache_file(study, name).read_text(encoding="utf-8"))["tables"]
        else:  # failed: what it wrote before failing stays, beside its partial notebook
            written = reports / ".cache" / f"{name}.tables"
            tables = written.read_text(encoding="utf-8").split() if written.is_file() else []
        current |= set(tables)
    if not only:
        _remove_stale_tables(study, current)
    index_html(
        study.paths.html / "index.html",
        title=f"{labels.get('report_title', 'Report')}: {study.name}",
        reports=[
            (f"{nb.stem}.html", labels.get(f"nb_{nb.stem}", nb.stem))
            for nb in notebooks
            if (study.paths.html / f"{nb.stem}.html").is_file()
        ],
        footer=" · ".join(f"{k}: {v}" for k, v in provenance.items()),
    )
    write_manifest(study, notebooks=records, seconds=time.perf_counter() - t0, inputs=config)
    if failures:
        raise NotebookError(
            "notebook(s) failed; partial output kept:\n"
            + "\n".join(
                f"  {study.paths.executed_notebooks / (n + '.ipynb')}: {e}" for n, e in failures
            )
        )
    log.info("reports in %s (%.1f s)", study.paths.html, time.perf_counter() - t0)
    return records


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
    for path in sorted(study.paths.tables.glob("*.csv")) if study.paths.tables.is_dir() else []:
        if path.name not in current:
            log.info("removing %s: no notebook wrote it in this run", path.name)
            path.unlink()


def _execute_all(
    jobs_todo: list[NotebookJob], jobs: int, records: dict[str, dict], study: Study
) -> list[tuple[str, str]]:
    failures: list[tuple[str, str]] = []
    if not jobs_todo:
        return failures
    workers = max(1, min(jobs, len(jobs_todo)))
    log.info("running %d notebook(s), %d at a time", len(jobs_todo), workers)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {pool.submit(execute_notebook, job): job for job in jobs_todo}
        for done, future in enumerate(as_completed(futures), start=1):
            job = futures[future]
            result = future.result()
            name = job.source.stem
            if result.pop("ok"):
                records[name].update(status="executed", **result)
                log.info(
                    "[%d/%d] %s: done in %.1f s", done, len(jobs_todo), name, result["seconds"]
                )
            else:
                records[name].update(status="failed", error=result["error"])
                failures.append((name, result["error"]))
                log.error("[%d/%d] %s: FAILED (%s)", done, len(jobs_todo), name, result["error"])
    return failures


def reproduce(study_dir: str | Path = ".", *, jobs: int = 2, kernel: str = KERNEL) -> dict:
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
        run(copy, jobs=jobs, kernel=kernel, use_cache=False)
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
