"""`evaluation run` against the naive loop a researcher would write, on the demo study.

Run with `make bench` (or `python benchmarks/pipeline.py --reps 3`). On one demo study it times,
in each repetition and in the same order:

(d) the naive baseline: for each analysis notebook, the `papermill` command line with the same
    parameters and the project kernel, then `jupyter nbconvert --to html`, one after another;
(a) `evaluation run --force --jobs 1 --no-reports` (cold: every notebook executes);
(c) `evaluation run --force --jobs 2 --no-reports`;
(b) `evaluation run --jobs 2 --no-reports` right after (no input changed: every notebook is kept);
and, for the whole product, `evaluation run --force --jobs 2 --language both` (analyses plus a
report per audience and language) and its no-change rerun.

Ratios are computed within each repetition (these machines are noisy) and the medians reported.
The result replaces the "Pipeline vs naive papermill" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _doc import replace_section  # benchmarks/ is on sys.path when run as a script

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
START, END = "<!-- pipeline:start -->", "<!-- pipeline:end -->"
BIN = Path(sys.executable).parent
EVALUATION = [sys.executable, "-m", "evaluation.cli"]


def timed(args: list[str], **kwargs) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, **kwargs)
    return time.perf_counter() - start


def naive_loop(study: Path, out: Path) -> float:
    """What a researcher would script: papermill CLI, then nbconvert CLI, per notebook."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    start = time.perf_counter()
    for nb in sorted((ROOT / "notebooks").glob("[0-8]*.ipynb")):
        executed = out / nb.name
        subprocess.run(
            [str(BIN / "papermill"), str(nb), str(executed), "-k", "evaluation",
             "-p", "study_dir", str(study), "--cwd", str(study), "--no-progress-bar"],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(
            [str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(executed)],
            check=True, capture_output=True,
        )  # fmt: skip
    return time.perf_counter() - start


def run(study: Path, *flags: str) -> float:
    return timed([*EVALUATION, "run", "--study", str(study), *flags])


def measure(study: Path, reps: int) -> dict[str, list[float]]:
    series: dict[str, list[float]] = {}
    for rep in range(1, reps + 1):
        row = {
            "naive": naive_loop(study, HERE / ".work" / "naive"),
            "cold_j1": run(study, "--force", "--jobs", "1", "--no-reports"),
            "cold_j2": run(study, "--force", "--jobs", "2", "--no-reports"),
            "rerun": run(study, "--jobs", "2", "--no-reports"),
            "full_cold": run(study, "--force", "--jobs", "2", "--language", "both"),
            "full_rerun": run(study, "--jobs", "2", "--language", "both"),
        }
        row["cold_j2/naive"] = row["cold_j2"] / row["naive"]
        row["cold_j1/naive"] = row["cold_j1"] / row["naive"]
        row["rerun/cold_j2"] = row["rerun"] / row["cold_j2"]
        row["full_rerun/full_cold"] = row["full_rerun"] / row["full_cold"]
        print(f"rep {rep}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)
        for key, value in row.items():
            series.setdefault(key, []).append(value)
    return series


def versions() -> str:
    import nbconvert
    import pandas
    import papermill
    import statsmodels

    return (
        f"Python {platform.python_version()}, pandas {pandas.__version__}, statsmodels "
        f"{statsmodels.__version__}, papermill {papermill.__version__}, nbconvert "
        f"{nbconvert.__version__}"
    )


def section(series: dict[str, list[float]], reps: int, respondents: int, notebooks: int) -> str:
    med = {k: statistics.median(v) for k, v in series.items()}
    rng = {k: (min(v), max(v)) for k, v in series.items()}

    def cell(key: str, unit: str = " s", digits: int = 2) -> str:
        lo, hi = rng[key]
        return f"{med[key]:.{digits}f}{unit} ({lo:.{digits}f}–{hi:.{digits}f})"

    html = HERE / ".work" / "study" / "reports" / "html"
    reports = sum(1 for lang in ("fi", "en") for _ in (html / lang).glob("*.html"))
    return "\n".join(
        [
            START,
            "## Pipeline vs naive papermill",
            "",
            f"Demo study, {respondents} respondents per round, {notebooks} analysis notebooks; "
            f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores; {versions()}. "
            f"Median of {reps} repetitions (range); wall seconds; ratios within each "
            "repetition. Produced by `make bench` (`benchmarks/pipeline.py`).",
            "",
            "| what | time |",
            "|---|---|",
            f"| (d) naive loop: `papermill` CLI + `jupyter nbconvert` per notebook | "
            f"{cell('naive')} |",
            f"| (a) `evaluation run --force --jobs 1 --no-reports` (cold) | {cell('cold_j1')} |",
            f"| (c) `evaluation run --force --jobs 2 --no-reports` (cold) | {cell('cold_j2')} |",
            f"| (b) `evaluation run --jobs 2 --no-reports`, nothing changed | {cell('rerun')} |",
            f"| whole product, cold: analyses + {reports} audience reports (fi + en) | "
            f"{cell('full_cold')} |",
            f"| whole product, nothing changed | {cell('full_rerun')} |",
            "",
            "| ratio | median (range) | target |",
            "|---|---|---|",
            f"| cold, --jobs 2 / naive | {cell('cold_j2/naive', '', 3)} | ≤ 0.2 |",
            f"| cold, --jobs 1 / naive | {cell('cold_j1/naive', '', 3)} | |",
            f"| no-change rerun / cold (--jobs 2) | {cell('rerun/cold_j2', '', 3)} | ≤ 0.02 |",
            f"| whole product: no-change rerun / cold | {cell('full_rerun/full_cold', '', 3)} | "
            "≤ 0.02 |",
            END,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--respondents", type=int, default=600)
    args = parser.parse_args()
    study = HERE / ".work" / "study"
    shutil.rmtree(study, ignore_errors=True)
    timed([*EVALUATION, "demo", "--study", str(study), "--respondents", str(args.respondents)])
    run(study, "--jobs", "2")  # warm-up: font cache, .pyc files; not timed
    series = measure(study, args.reps)
    notebooks = len(list((ROOT / "notebooks").glob("[0-8]*.ipynb")))
    text = section(series, args.reps, args.respondents, notebooks)
    replace_section(START, END, text)
    print(text)
    shutil.rmtree(HERE / ".work", ignore_errors=True)


if __name__ == "__main__":
    main()
