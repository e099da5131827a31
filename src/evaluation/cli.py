"""The ``evaluation`` command: run, validate, demo, reproduce.

Exit codes: 0 success, 1 invalid input or config, 2 usage error, 3 a notebook failed.
A user error prints a message (and the list of problems), never a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from evaluation.errors import DataError, EvaluationError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Reproducible impact evaluation: validate, score, analyse and report a study folder.",
)
err = Console(stderr=True)

StudyOpt = Annotated[Path, typer.Option("--study", help="Study folder (config/, data/raw/).")]
JobsOpt = Annotated[int, typer.Option("--jobs", min=1, help="Notebooks run in parallel.")]
EngineOpt = Annotated[
    str,
    typer.Option(
        help="inprocess: notebooks run in warm worker processes (fast); "
        "kernel: a fresh Jupyter kernel per notebook."
    ),
]
KernelOpt = Annotated[
    str,
    typer.Option(
        help="Jupyter kernel recorded in (and, with --engine kernel, used to run) the notebooks."
    ),
]


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, show_time=False)],
        force=True,
    )
    for noisy in ("traitlets", "papermill", "matplotlib", "fontTools", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _problems_table(error: DataError, show_all: bool) -> None:
    """Every problem (``--all``), or the first few of each kind with a count of the rest."""
    from evaluation.validate import PER_RULE

    problems = error.problems
    table = Table("file", "row", "column", "value", "problem", title="Problems in the raw data")
    for (_column, rule), group in problems.groupby(["column", "problem"], sort=False):
        shown = group if show_all else group.head(PER_RULE)
        for _, p in shown.iterrows():
            value = "" if p["value"] is None or str(p["value"]) in ("nan", "<NA>") else p["value"]
            table.add_row(str(p["file"]), str(p["row"]), str(p["column"]), str(value), str(rule))
        if len(group) > len(shown):
            more = len(group) - len(shown)
            table.add_row("", "", "", "", f"... {more} more of this kind (--all lists them)")
    err.print(table)
    err.print(f"[bold red]{len(problems)} problem(s) found.[/]")


def _guard(func, *args, show_all: bool = False, **kwargs):
    try:
        return func(*args, **kwargs)
    except DataError as exc:
        if exc.problems is not None and not exc.problems.empty:
            _problems_table(exc, show_all)
        else:
            err.print(f"[bold red]Error:[/] {exc}")
        raise typer.Exit(exc.exit_code) from None
    except EvaluationError as exc:
        err.print(f"[bold red]Error:[/] {exc}")
        raise typer.Exit(exc.exit_code) from None


@app.command()
def run(
    study: StudyOpt = Path("."),
    jobs: JobsOpt = 2,
    force: Annotated[
        bool, typer.Option(help="Re-run notebooks even if inputs are unchanged.")
    ] = False,
    only: Annotated[
        list[str] | None, typer.Option(help="Run only notebooks starting with this.")
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="Report language: fi, en or both (default: study.yaml).")
    ] = None,
    reports: Annotated[
        bool,
        typer.Option(help="Write the reports per audience (consortium, actors, organisations)."),
    ] = True,
    engine: EngineOpt = "inprocess",
    kernel: KernelOpt = "evaluation",
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Validate -> process -> run the notebooks (papermill) -> HTML reports (nbconvert)."""
    from evaluation.run import run as run_study

    _logging(verbose)
    _guard(
        run_study,
        study,
        jobs=jobs,
        kernel=kernel,
        engine=engine,
        use_cache=not force,
        only=only,
        language=language,
        reports=reports,
    )


@app.command()
def validate(
    study: StudyOpt = Path("."),
    all_problems: Annotated[bool, typer.Option("--all", help="List every problem.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Check the configuration and raw data only; list every problem; exit 1 if any."""
    from evaluation.config import load_study
    from evaluation.process import validate_study

    _logging(verbose)
    cfg = _guard(load_study, study)
    data = _guard(validate_study, cfg, show_all=all_problems)
    sizes = ", ".join(f"{k}: {len(v)} rows" for k, v in data.items())
    err.print(f"[green]OK[/] {cfg.paths.study_yaml} and the raw data are valid ({sizes}).")


@app.command()
def demo(
    study: StudyOpt = Path("."),
    respondents: Annotated[int, typer.Option(min=20, help="About N respondents per round.")] = 600,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 20251015,
) -> None:
    """Write the deterministic synthetic demo study (config + data/raw) into the folder."""
    from evaluation.demo import write_demo

    _logging(False)
    files = _guard(write_demo, study, respondents=respondents, seed=seed)
    err.print(f"Demo study written to {Path(study).resolve()} ({len(files)} files).")


@app.command()
def reproduce(
    study: StudyOpt = Path("."),
    jobs: JobsOpt = 2,
    engine: EngineOpt = "inprocess",
    kernel: KernelOpt = "evaluation",
) -> None:
    """Re-run from the inputs and compare every table with reports/manifest.json."""
    from evaluation.run import reproduce as reproduce_study

    _logging(False)
    result = _guard(reproduce_study, study, jobs=jobs, kernel=kernel, engine=engine)
    err.print(f"[green]Reproduced[/]: {result['tables']} tables identical to the manifest.")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
