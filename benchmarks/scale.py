"""The scale curve: wall time and peak memory of `evaluation demo` + `evaluation run` at growing
numbers of respondents per round (4 rounds), written to docs/benchmarks.md with a plot.

Run with `make bench` or `python benchmarks/scale.py 1000 10000 100000 400000`. Peak memory is
the largest total resident set size of the whole process tree (the command and its worker
processes), sampled every 0.2 s with psutil. The run writes every report (fi + en).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
from _doc import replace_section  # benchmarks/ is on sys.path when run as a script

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PLOT = ROOT / "docs" / "img" / "scale.png"
START, END = "<!-- scale:start -->", "<!-- scale:end -->"
EVALUATION = [sys.executable, "-m", "evaluation.cli"]


def measured(args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak total RSS in GB of the process tree) of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        parent = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                tree = [parent, *parent.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                pass
            time.sleep(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    _out, err = proc.communicate()
    done.set()
    thread.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{err.decode()[-2000:]}")
    return time.perf_counter() - start, peak / 1e9


def stage_seconds(study: Path) -> dict[str, float]:
    import json

    manifest = json.loads((study / "reports" / "manifest.json").read_text(encoding="utf-8"))
    return {k: v.get("seconds", 0.0) for k, v in manifest["notebooks"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 10000, 100000, 400000])
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        study = HERE / ".work" / f"scale-{n}"
        shutil.rmtree(study, ignore_errors=True)
        demo_s, demo_gb = measured([*EVALUATION, "demo", "--study", str(study),
                                    "--respondents", str(n)])  # fmt: skip
        run_s, run_gb = measured([*EVALUATION, "run", "--study", str(study), "--jobs", "2"])
        stages = stage_seconds(study)
        slowest = sorted(((s, k) for k, s in stages.items() if not k.startswith("90")),
                         reverse=True)[:3]  # fmt: skip
        rows.append((n, demo_s, demo_gb, run_s, run_gb, slowest))
        print(f"{n}: demo {demo_s:.1f} s {demo_gb:.2f} GB; run {run_s:.1f} s {run_gb:.2f} GB; "
              f"slowest {slowest}", flush=True)  # fmt: skip
        shutil.rmtree(study, ignore_errors=True)
    _plot(rows)
    _write(rows)


def _plot(rows) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3), layout="constrained")
    left, right = fig.subplots(1, 2)
    ns = [r[0] for r in rows]
    left.plot(ns, [r[3] for r in rows], marker="o", label="run")
    left.plot(ns, [r[1] for r in rows], marker="s", label="demo")
    left.axhline(300, color="#c0504d", linestyle="--", linewidth=1, label="target 5 min")
    right.plot(ns, [r[4] for r in rows], marker="o", label="run")
    right.plot(ns, [r[2] for r in rows], marker="s", label="demo")
    right.axhline(4, color="#c0504d", linestyle="--", linewidth=1, label="target 4 GB")
    for ax, label in ((left, "wall seconds"), (right, "peak memory, GB")):
        ax.set_xscale("log")
        ax.set_xlabel("respondents per round (4 rounds)")
        ax.set_ylabel(label)
        ax.legend(frameon=False, fontsize=8)
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(PLOT, dpi=150, metadata={"Software": None})


def _write(rows) -> None:
    lines = [
        START,
        "## Scale: a national-size study on one machine",
        "",
        f"`evaluation demo --respondents N` (4 rounds) then `evaluation run --jobs 2` (every "
        f"analysis notebook and every audience report, fi + en); {platform.machine()}, "
        f"{len(os.sched_getaffinity(0))} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB. "
        "Peak memory = largest total RSS of the process tree. Produced by `make bench` "
        "(`benchmarks/scale.py`).",
        "",
        "| respondents per round | rows | demo | demo peak | run | run peak | slowest notebooks |",
        "|---|---|---|---|---|---|---|",
    ]
    for n, demo_s, demo_gb, run_s, run_gb, slowest in rows:
        slow = ", ".join(f"{k} {s:.0f} s" for s, k in slowest)
        lines.append(
            f"| {n:,} | {4 * n:,} | {demo_s:.0f} s | {demo_gb:.1f} GB | {run_s:.0f} s | "
            f"{run_gb:.1f} GB | {slow} |"
        )
    lines += ["", "![Scale curve](img/scale.png)", END]
    text = "\n".join(lines)
    replace_section(START, END, text)
    print(text)


if __name__ == "__main__":
    main()
