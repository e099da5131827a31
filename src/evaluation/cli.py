"""The ``evaluation`` command: run, validate, demo, reproduce.

Exit codes: 0 success, 1 invalid input or config, 2 usage error, 3 a notebook failed.
A user error prints a message (and the list of problems), never a traceback.

The module imports only typer at start-up (rich, pandas and the pipeline when a command needs
them), and the help is click's plain text rather than typer's rich panels, so that
``evaluation --help`` answers in about a tenth of a second (``benchmarks/cli_start.py``).
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

from evaluation.config import Study
from evaluation.errors import DataError, EvaluationError

if TYPE_CHECKING:
    from rich.console import Console


class _Group(TyperGroup):
    """typer's group, with the default of its ``--help`` flag a bool: typer then skips its
    pydantic-based coercion of the flag, which would import pydantic (0.1 s) before
    ``evaluation run --help`` can answer."""

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None and option.default is None:
            option.default = False
        return option


app = typer.Typer(
    cls=_Group,
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: typer's rich help costs 0.15 s of start-up
    help="Reproducible impact evaluation: validate, score, analyse and report a study folder.\n\n"
    "Run `evaluation COMMAND --help` for a command's options and examples; the documentation "
    "is in docs/ of the repository.",
    epilog="\b\nExamples:\n"
    "  evaluation demo --study ~/studies/my-study\n"
    "  evaluation validate --study ~/studies/my-study\n"
    "  evaluation run --study ~/studies/my-study --jobs 2 --language both\n"
    "  evaluation reproduce --study ~/studies/my-study",
)
_err: Console | None = None

StudyOpt = Annotated[
    Path,
    typer.Option(
        "--study",
        metavar="FOLDER",
        help="The study folder, which holds config/study.yaml and data/raw/.",
    ),
]
JobsOpt = Annotated[
    int,
    typer.Option(
        "--jobs",
        min=1,
        metavar="N",
        help="How many notebooks run at the same time, each in its own worker process.",
    ),
]
EngineOpt = Annotated[
    str,
    typer.Option(
        metavar="inprocess|kernel",
        help="How notebooks are executed: inprocess runs them in warm worker processes (fast), "
        "kernel starts a fresh Jupyter kernel for each notebook, as JupyterLab would.",
    ),
]
KernelOpt = Annotated[
    str,
    typer.Option(
        metavar="NAME",
        help="The Jupyter kernel recorded in the executed notebooks (and, with --engine kernel, "
        "the one that runs them).",
    ),
]
VerboseOpt = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        help="Also print debug messages (the disclosure audit's rounds, fallbacks in the "
        "statistics), not only the steps, warnings and errors.",
    ),
]


def _version(value: bool) -> None:
    if value:
        from evaluation.version import describe

        typer.echo(describe())
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            help="Print the package version, its git commit (when run from a checkout) and the "
            "Python version, then exit.",
        ),
    ] = False,
) -> None:
    """Answer --version (the commands have their own options)."""


def _console() -> Console:
    """The console for messages (standard error); created on first use."""
    global _err
    if _err is None:
        from rich.console import Console

        # Not a terminal (CI, a log file): lines are never wrapped at 80 columns.
        _err = Console(stderr=True, soft_wrap=not sys.stderr.isatty())
    return _err


class _ConsoleOnUse:
    """The console for messages where standard error is no terminal: rich is imported when
    something is printed, not before (its import is a tenth of a run with nothing to do)."""

    is_terminal = False
    is_dumb_terminal = True

    def __getattr__(self, name: str) -> object:
        return getattr(_console(), name)


def _plain_stderr() -> bool:
    """Standard error is no terminal, as rich judges it (``TTY_COMPATIBLE``, ``FORCE_COLOR``,
    then ``isatty``); False where rich may see a terminal."""
    if os.environ.get("TTY_COMPATIBLE") == "1" or os.environ.get("FORCE_COLOR"):
        return False
    try:
        return not sys.stderr.isatty()
    except ValueError:  # a closed stream
        return True


def _logging(verbose: bool) -> Console:
    """Log to standard error: through rich on a terminal (where the live display of
    :mod:`evaluation.pipeline.progress` shows under the lines), as plain single lines with the time
    elsewhere, so a CI log or file never has a message broken over two lines."""
    global _err
    _err = None
    console = _ConsoleOnUse() if _plain_stderr() else _console()
    if console.is_terminal:
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(console=console, show_path=False, show_time=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
        )
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True
    )
    for noisy in ("traitlets", "papermill", "matplotlib", "fontTools", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return console


def _problems_table(error: DataError, show_all: bool) -> None:
    """Every problem (``--all``), or the first few of each kind with a count of the rest."""
    from rich.table import Table

    from evaluation.io.problems import PER_RULE

    err = _console()

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
            _console().print(f"[bold red]Error:[/] {exc}")
        raise typer.Exit(exc.exit_code) from None
    except EvaluationError as exc:
        _console().print(f"[bold red]Error:[/] {exc}")
        raise typer.Exit(exc.exit_code) from None


def _examples(*lines: str) -> str:
    """A command's epilog: its examples, kept as written (``\\b`` stops click re-wrapping)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def _progress(console: Console):
    """Signs of life while a run works: the live display on a terminal, elsewhere a "still
    working" log line whenever nothing was logged for ten seconds."""
    from evaluation.pipeline import progress

    if console.is_terminal and not console.is_dumb_terminal:
        return progress.live(console)
    return progress.heartbeat()


@app.command(
    short_help="Analyse a study: validate, score, run the notebooks, write the reports.",
    epilog=_examples(
        "evaluation run                                  # the study in this folder",
        "evaluation run --study ~/studies/my-study --jobs 2 --language both",
        "evaluation run --only 20 --only 90 --force      # pre/post and the reports, again",
        "evaluation run --no-reports -v                  # analyses only, with debug messages",
    ),
)
def run(
    study: StudyOpt = Path("."),
    jobs: JobsOpt = 2,
    force: Annotated[
        bool,
        typer.Option(
            help="Run every notebook again, even those whose inputs did not change since the "
            "last run (by default they are kept as they are).",
        ),
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option(
            metavar="PREFIX",
            help="Run only the notebooks whose file name starts with this text (for example "
            "20 for 20-prepost.ipynb); give it more than once for several, and include 90 for "
            "the audience reports.",
        ),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(
            metavar="fi|en|both",
            help="The language of the reports: fi, en or both; by default the languages set "
            "in study.yaml.",
        ),
    ] = None,
    reports: Annotated[
        bool,
        typer.Option(
            help="Whether to write the reports per audience (the consortium, each actor and "
            "each organisation) after the analysis notebooks.",
        ),
    ] = True,
    engine: EngineOpt = "inprocess",
    kernel: KernelOpt = "evaluation",
    verbose: VerboseOpt = False,
) -> None:
    """Analyse a study: validate and score the raw data, run the notebooks, write the reports.

    Validation -> processing (data/processed/) -> the disclosure plan -> the analysis notebooks
    (papermill, in parallel) -> the reports per audience -> reports/html/index.html and
    reports/manifest.json. Notebooks whose inputs did not change are kept. Exit codes: 0
    success, 1 invalid input or configuration, 2 usage error, 3 a notebook failed.
    """
    from evaluation.pipeline.run import run as run_study

    console = _logging(verbose)
    with _progress(console):
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


@app.command(
    short_help="Check the configuration and raw data; list every problem.",
    epilog=_examples(
        "evaluation validate --study ~/studies/my-study",
        "evaluation validate --all > problems.txt        # every problem, not the first few",
    ),
)
def validate(
    study: StudyOpt = Path("."),
    all_problems: Annotated[
        bool,
        typer.Option(
            "--all",
            help="List every problem found; by default the first few of each kind are listed "
            "with a count of the rest.",
        ),
    ] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Check the configuration and the raw data only, list every problem, exit 1 if any.

    Nothing is written: neither data/processed/ nor reports/ are touched.
    """
    from evaluation.config import load_study
    from evaluation.pipeline.process import validate_study

    err = _logging(verbose)
    cfg = _guard(load_study, study)
    data = _guard(validate_study, cfg, show_all=all_problems)
    sizes = ", ".join(f"{k}: {len(v)} rows" for k, v in data.items())
    err.print(f"[green]OK[/] {cfg.paths.study_yaml} and the raw data are valid ({sizes}).")


@app.command(
    short_help="Write the synthetic demo study into a folder.",
    epilog=_examples(
        "evaluation demo --study ~/studies/my-study      # then edit config/study.yaml there",
        "evaluation demo --study /tmp/big --respondents 5000 --seed 1",
    ),
)
def demo(
    study: StudyOpt = Path("."),
    respondents: Annotated[
        int,
        typer.Option(
            min=20,
            metavar="N",
            help="About how many respondents answer in each round of the synthetic study.",
        ),
    ] = 600,
    seed: Annotated[
        int,
        typer.Option(
            metavar="N", help="The random seed; the same seed writes the same files byte for byte."
        ),
    ] = Study.seed,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Overwrite files of an existing study that differ from the demo's."
        ),
    ] = False,
) -> None:
    """Write the deterministic synthetic demo study (config/ and data/raw/) into the folder.

    A complete, fictional example to start from or to try the pipeline on: study.yaml, a
    codebook, survey rounds, codings, open answers, activities and training feedback.
    An existing file with other content is not overwritten unless --force (exit 1); writing
    the same demo again is harmless.
    """
    from evaluation.demo.generate import write_demo

    err = _logging(False)
    files = _guard(write_demo, study, respondents=respondents, seed=seed, force=force)
    err.print(f"Demo study written to {Path(study).resolve()} ({len(files)} files).")


@app.command(
    short_help="Re-run from the inputs and compare every table with the manifest.",
    epilog=_examples(
        "evaluation reproduce --study ~/studies/my-study",
        "evaluation reproduce --engine kernel            # with a fresh Jupyter kernel each",
    ),
)
def reproduce(
    study: StudyOpt = Path("."),
    jobs: JobsOpt = 2,
    engine: EngineOpt = "inprocess",
    kernel: KernelOpt = "evaluation",
) -> None:
    """Re-run from the inputs and compare every table with reports/manifest.json.

    The run happens in a scratch copy of the study, so reports/ is left as it is; exit 1 if a
    table differs or is missing.
    """
    from evaluation.pipeline.run import reproduce as reproduce_study

    console = _logging(False)
    with _progress(console):
        result = _guard(reproduce_study, study, jobs=jobs, kernel=kernel, engine=engine)
    console.print(f"[green]Reproduced[/]: {result['tables']} tables identical to the manifest.")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        _console().print("interrupted")
        sys.exit(130)
    finally:
        # The interpreter's clean-up at exit then skips the objects of the command and of its
        # imports: after a run, 0.3 s of collecting what the process is about to free anyway.
        gc.freeze()


if __name__ == "__main__":
    main()
