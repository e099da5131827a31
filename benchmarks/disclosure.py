"""The cost of linked-table disclosure control: building the model of everything published,
choosing the secondary cells and auditing them (`evaluation.disclosure.plan.make_plan`), and the
themes model (`evaluation.disclosure.rules.protect(..., "themes")`), at growing numbers of
respondents per round of the demo study. Written to docs/benchmarks.md.

Run with `make bench` or `python benchmarks/disclosure.py 600 100000`.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from _doc import replace_section  # benchmarks/ is on sys.path when run as a script

START, END = "<!-- disclosure:start -->", "<!-- disclosure:end -->"


def measure(respondents: int) -> dict:
    from evaluation.config import load_study
    from evaluation.demo.generate import write_demo
    from evaluation.disclosure import sdc
    from evaluation.disclosure.plan import build_model, make_plan
    from evaluation.disclosure.rules import protect
    from evaluation.pipeline.process import process
    from evaluation.pipeline.session import study_themes

    with tempfile.TemporaryDirectory(prefix="bench-disclosure-") as tmp:
        study_dir = Path(tmp)
        write_demo(study_dir, respondents=respondents)
        study = load_study(study_dir)
        process(study)
        import pandas as pd

        scores = pd.read_parquet(study.paths.processed / "scores.parquet")
        t0 = time.perf_counter()
        model = build_model(study, scores)
        t_build = time.perf_counter() - t0
        t0 = time.perf_counter()
        hidden = sdc.secondary_suppression(model, study.min_n)
        t_greedy = time.perf_counter() - t0
        t0 = time.perf_counter()
        audit = sdc.audit(model, hidden, study.min_n)
        t_audit = time.perf_counter() - t0
        summary = sdc.summary(model, hidden, audit, study.min_n)
        t0 = time.perf_counter()
        make_plan(study, themes=lambda: study_themes(study))
        t_plan = time.perf_counter() - t0
        themes = study_themes(study)
        t0 = time.perf_counter()
        protect(themes, "themes", study.paths.processed)
        t_themes = time.perf_counter() - t0
    return {
        "respondents": respondents,
        "rows": len(scores),
        "build": t_build,
        "greedy": t_greedy,
        "audit": t_audit,
        "plan": t_plan,
        "themes": t_themes,
        "theme_rows": len(themes),
        **summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sizes", nargs="*", type=int, default=[600, 100_000])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = []
    for n in args.sizes:
        r = measure(n)
        print(r, flush=True)
        rows.append(r)
    lines = [
        START,
        "## Disclosure control: the cost of the model and the audit",
        "",
        "The demo study at N respondents per round (4 rounds, 17 organisations, 40 units, "
        "`design: auto`, 7 measures): the model of every published respondent count "
        "(`disclosure.plan.build_model`), the greedy secondary suppression, the attacker's audit "
        "(both by HiGHS linear programs), the whole plan as `evaluation run` makes it "
        "(`make_plan`), and the themes model when `themes.csv` is written. One core. Produced "
        "by `make bench` (`benchmarks/disclosure.py`).",
        "",
        "| respondents / round | rows | cells | primary | secondary | build | secondary "
        "suppression | audit | plan in all | themes (rows) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['respondents']:,} | {r['rows']:,} | {r['cells']:,} | {r['primary']:,} | "
            f"{r['secondary']:,} | {r['build']:.1f} s | {r['greedy']:.1f} s | {r['audit']:.1f} s"
            f" | {r['plan']:.1f} s | {r['themes']:.1f} s ({r['theme_rows']:,}) |"
        )
    lines.append(END)
    replace_section(START, END, "\n".join(lines))


if __name__ == "__main__":
    main()
