"""Incremental runs: what one small change costs against the cold run, on the demo study.

Run with `make bench` (or `python benchmarks/incremental.py --reps 2`). In each repetition, on
one demo study, in this order:

- cold: `evaluation run --force --jobs 2 --language both` (every notebook and report);
- no change: the same without `--force`;
- one activity changed: one more participant in one training of `data/raw/activities.csv`
  (the indicators count them);
- one label changed, report-only language: a key of the study's own `config/labels/en.yaml`
  (the analyses are rendered in the study's language, fi);
- one label changed, the study's language: a key of `config/labels/fi.yaml` (the analysis
  pages show it too, so they run again).

Each as a ratio to the cold run of the same repetition (medians reported), with what ran (from
the manifest). The result replaces the "Incremental runs" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _doc import replace_section  # benchmarks/ is on sys.path when run as a script

HERE = Path(__file__).resolve().parent
START, END = "<!-- incremental:start -->", "<!-- incremental:end -->"
EVALUATION = [sys.executable, "-m", "evaluation.cli"]
CASES = ("nochange", "activity", "label_en", "label_fi")
REPORT = "90-report"


def run(study: Path, *flags: str) -> float:
    start = time.perf_counter()
    args = [*EVALUATION, "run", "--study", str(study), "--jobs", "2", "--language", "both"]
    subprocess.run([*args, *flags], check=True, capture_output=True)
    return time.perf_counter() - start


def ran(study: Path) -> tuple[int, int]:
    """(analysis notebooks, reports) the last run executed."""
    notebooks = json.loads((study / "reports" / "manifest.json").read_text())["notebooks"]
    done = [n for n, r in notebooks.items() if r.get("status") == "executed"]
    reports = sum(n.startswith(f"{REPORT}.") for n in done)
    return len(done) - reports, reports


def change_activity(study: Path) -> None:
    path = study / "data" / "raw" / "activities.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if ",training," in line)
    lines[at] = re.sub(r",training,(\d+),", lambda m: f",training,{int(m[1]) + 1},", lines[at])
    path.write_text("".join(lines), encoding="utf-8")


def change_label(study: Path, language: str, rep: int) -> None:
    folder = study / "config" / "labels"
    folder.mkdir(parents=True, exist_ok=True)
    text = f'rep_analyses: "rep_analyses {language} {rep}"\n'
    (folder / f"{language}.yaml").write_text(text, encoding="utf-8")


def measure(study: Path, reps: int) -> tuple[dict[str, list[float]], dict[str, tuple[int, int]]]:
    series: dict[str, list[float]] = {}
    what: dict[str, tuple[int, int]] = {}
    for rep in range(1, reps + 1):
        row = {"cold": run(study, "--force")}
        what["cold"] = ran(study)
        row["nochange"] = run(study)
        what["nochange"] = ran(study)
        change_activity(study)
        row["activity"] = run(study)
        what["activity"] = ran(study)
        change_label(study, "en", rep)
        row["label_en"] = run(study)
        what["label_en"] = ran(study)
        change_label(study, "fi", rep)
        row["label_fi"] = run(study)
        what["label_fi"] = ran(study)
        for case in CASES:
            row[f"{case}/cold"] = row[case] / row["cold"]
        print(f"rep {rep}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)
        for key, value in row.items():
            series.setdefault(key, []).append(value)
    return series, what


def section(series: dict, what: dict, reps: int, respondents: int) -> str:
    med = {k: statistics.median(v) for k, v in series.items()}
    rng = {k: (min(v), max(v)) for k, v in series.items()}

    def cell(key: str, unit: str = " s", digits: int = 2) -> str:
        lo, hi = rng[key]
        return f"{med[key]:.{digits}f}{unit} ({lo:.{digits}f}–{hi:.{digits}f})"

    names = {
        "cold": "cold: `run --force --jobs 2 --language both`",
        "nochange": "nothing changed",
        "activity": "one training's participants changed (`activities.csv`)",
        "label_en": "one label changed, report-only language (`config/labels/en.yaml`)",
        "label_fi": "one label changed, the study's language (`config/labels/fi.yaml`)",
    }
    targets = {"nochange": "≤ 0.02", "activity": "≤ 0.15", "label_en": "no statistics"}
    rows = [
        f"| {names[case]} | {cell(case)} | "
        + (f"{cell(f'{case}/cold', '', 3)} | " if case != "cold" else "1 | ")
        + f"{what[case][0]} + {what[case][1]} | {targets.get(case, '')} |"
        for case in ("cold", *CASES)
    ]
    return "\n".join(
        [
            START,
            "## Incremental runs",
            "",
            f"Demo study, {respondents} respondents per round; {platform.machine()}, "
            f"{len(os.sched_getaffinity(0))} cores. Median of {reps} repetitions (range); wall "
            "seconds of the whole `evaluation run` command; ratios to the cold run of the same "
            "repetition. *Ran*: analysis notebooks + audience reports executed (of 8 + 42). "
            "Produced by `make bench` (`benchmarks/incremental.py`).",
            "",
            "| change | time | / cold | ran | target |",
            "|---|---|---|---|---|",
            *rows,
            END,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--respondents", type=int, default=600)
    args = parser.parse_args()
    work = HERE / ".work-incremental"
    study = work / "study"
    shutil.rmtree(work, ignore_errors=True)
    subprocess.run(
        [*EVALUATION, "demo", "--study", str(study), "--respondents", str(args.respondents)],
        check=True,
        capture_output=True,
    )
    run(study)  # warm-up: font cache, .pyc files; not timed
    series, what = measure(study, args.reps)
    text = section(series, what, args.reps, args.respondents)
    replace_section(START, END, text)
    print(text)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
