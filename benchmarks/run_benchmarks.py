"""Time the pipeline on demo studies of two sizes and write benchmarks/results.md.

Run with `make benchmark`. Measures wall time of: writing the demo, a cold `evaluation run`
(--force) with 1 and 2 parallel notebooks, and a warm re-run where nothing changed (every
notebook is skipped). Speed targets live here, not in the unit tests.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
EVALUATION = [sys.executable, "-m", "evaluation.cli"]


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    rows = []
    for respondents in (600, 5000):
        study = WORK / f"demo-{respondents}"
        shutil.rmtree(study, ignore_errors=True)
        demo = timed(
            [*EVALUATION, "demo", "--study", str(study), "--respondents", str(respondents)]
        )
        cold1 = timed([*EVALUATION, "run", "--study", str(study), "--jobs", "1", "--force"])
        cold2 = timed([*EVALUATION, "run", "--study", str(study), "--jobs", "2", "--force"])
        warm = timed([*EVALUATION, "run", "--study", str(study), "--jobs", "2"])
        rows.append((respondents, demo, cold1, cold2, warm))
        print(
            f"{respondents}: demo {demo:.1f}s, cold {cold1:.1f}s / {cold2:.1f}s, warm {warm:.1f}s"
        )
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, "
        f"{len(__import__('os').sched_getaffinity(0))} cores. Wall seconds.",
        "",
        "| respondents/round | demo | run, cold, --jobs 1 | run, cold, --jobs 2 | run, unchanged |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {r} | {d:.1f} | {c1:.1f} | {c2:.1f} | {w:.1f} |" for r, d, c1, c2, w in rows]
    (HERE / "results.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
