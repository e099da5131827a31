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
  pages show it too, so they run again);
- one round added: on a second copy of the demo study without its last round (its rows of
  every raw file and its line in study.yaml held back), a cold run, then the round put back
  and `evaluation run` again: everything that reads the survey data runs again; the ratio is
  to that study's own cold run.

Each as a ratio to the cold run of the same repetition (medians reported), with what ran (from
the manifest). The result replaces the "Incremental runs" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _doc import replace_section  # benchmarks/ is on sys.path when run as a script

from evaluation.demo.changes import add_training_participant

HERE = Path(__file__).resolve().parent
START, END = "<!-- incremental:start -->", "<!-- incremental:end -->"
EVALUATION = [sys.executable, "-m", "evaluation.cli"]
CASES = ("nochange", "activity", "label_en", "label_fi", "round")
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


def kept(study: Path) -> list[str]:
    """The notebooks and reports the last run kept (unchanged)."""
    notebooks = json.loads((study / "reports" / "manifest.json").read_text())["notebooks"]
    return sorted(n for n, r in notebooks.items() if r.get("status") == "unchanged")


def hold_back_last_round(study: Path) -> dict[Path, bytes]:
    """Remove the study's last round: its line in config/study.yaml and its rows in every raw
    CSV file with a ``round`` column. Returns the files' original bytes (to put it back)."""
    config = study / "config" / "study.yaml"
    lines = config.read_text(encoding="utf-8").splitlines(keepends=True)
    rounds = [i for i, line in enumerate(lines) if line.startswith("- {id: ")]
    last = lines[rounds[-1]].split("id: ", 1)[1].split(",", 1)[0].strip()
    originals = {config: config.read_bytes()}
    config.write_text("".join(lines[: rounds[-1]] + lines[rounds[-1] + 1 :]), encoding="utf-8")
    for path in sorted((study / "data" / "raw").glob("*.csv")):
        rows = path.read_text(encoding="utf-8").splitlines(keepends=True)
        header = next(csv.reader(rows[:1]))
        if "round" not in header:
            continue
        at = header.index("round")
        originals[path] = path.read_bytes()
        kept = [rows[0]] + [row for row in rows[1:] if next(csv.reader([row]))[at] != last]
        path.write_text("".join(kept), encoding="utf-8")
    return originals


def change_label(study: Path, language: str, rep: int) -> None:
    folder = study / "config" / "labels"
    folder.mkdir(parents=True, exist_ok=True)
    text = f'rep_analyses: "rep_analyses {language} {rep}"\n'
    (folder / f"{language}.yaml").write_text(text, encoding="utf-8")


def measure(study: Path, reps: int) -> tuple[dict[str, list[float]], dict]:
    series: dict[str, list[float]] = {}
    what: dict = {}
    for rep in range(1, reps + 1):
        row = {"cold": run(study, "--force")}
        what["cold"] = ran(study)
        row["nochange"] = run(study)
        what["nochange"] = ran(study)
        add_training_participant(study)
        row["activity"] = run(study)
        what["activity"] = ran(study)
        change_label(study, "en", rep)
        row["label_en"] = run(study)
        what["label_en"] = ran(study)
        change_label(study, "fi", rep)
        row["label_fi"] = run(study)
        what["label_fi"] = ran(study)
        # One round added, on a copy of the demo study as generated, without its last round.
        fewer = study.parent / "fewer-rounds"
        shutil.rmtree(fewer, ignore_errors=True)
        shutil.copytree(study.parent / "generated", fewer)
        originals = hold_back_last_round(fewer)
        row["round_cold"] = run(fewer, "--force")
        for path, data in originals.items():
            path.write_bytes(data)
        row["round"] = run(fewer)
        what["round"] = ran(fewer)
        what["round_kept"] = kept(fewer)
        for case in CASES:
            cold = row["round_cold"] if case == "round" else row["cold"]
            row[f"{case}/cold"] = row[case] / cold
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
        "round": "one round added (its rows in every raw file; / the cold run without it)",
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
            "",
            "Kept when a round was added (neither executed nor rendered again): "
            + (", ".join(f"`{n}`" for n in what["round_kept"]) or "nothing")
            + ".",
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
    shutil.copytree(study, work / "generated")  # the demo as generated (the round case)
    run(study)  # warm-up: font cache, .pyc files; not timed
    series, what = measure(study, args.reps)
    text = section(series, what, args.reps, args.respondents)
    replace_section(START, END, text)
    print(text)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
