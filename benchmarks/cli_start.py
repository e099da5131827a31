"""How fast the command line answers: `evaluation --help`, `evaluation run --help` and
`evaluation --version`, each the median of several runs (a fresh process each, as a user types
it). The target is under 0.2 s for `--help` on 2 cores. Written to docs/benchmarks.md.

Run with `make bench` or `python benchmarks/cli_start.py --runs 9`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _doc import replace_section  # benchmarks/ is on sys.path when run as a script

START, END = "<!-- cli-start:start -->", "<!-- cli-start:end -->"
TARGET_S = 0.2
COMMANDS = (["--help"], ["run", "--help"], ["--version"])


def executable() -> list[str]:
    """The installed `evaluation` script beside this Python (what `make install` puts in
    .venv/bin), else `python -m evaluation.cli`."""
    script = Path(sys.executable).parent / "evaluation"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "evaluation.cli"]


def measure(args: list[str], runs: int) -> list[float]:
    command = [*executable(), *args]
    subprocess.run(command, capture_output=True, check=True)  # warm the file cache
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="Runs per command (median taken).")
    args = parser.parse_args()
    rows = []
    for command in COMMANDS:
        times = measure(command, args.runs)
        rows.append((" ".join(["evaluation", *command]), times))
        print(f"{rows[-1][0]}: median {statistics.median(times):.3f} s", flush=True)
    help_median = statistics.median(rows[0][1])
    verdict = "met" if help_median < TARGET_S else "NOT met"
    lines = [
        START,
        "## Command-line start-up",
        "",
        f"A fresh process per call, as typed; median of {args.runs} runs (range), after one "
        f"warm-up; {platform.machine()}, {len(os.sched_getaffinity(0))} cores, Python "
        f"{platform.python_version()}. Target for `evaluation --help`: under {TARGET_S} s "
        f"({verdict}). `evaluation.cli` imports only typer at start-up and prints click's plain "
        "help; `tests/test_cli.py` checks that importing it loads neither pandas nor rich. "
        "Produced by `make bench` (`benchmarks/cli_start.py`).",
        "",
        "| command | median | range |",
        "|---|---:|---:|",
    ]
    for name, times in rows:
        lines.append(
            f"| `{name}` | {statistics.median(times):.3f} s | {min(times):.3f}–{max(times):.3f} s |"
        )
    lines.append(END)
    replace_section(START, END, "\n".join(lines))


if __name__ == "__main__":
    main()
