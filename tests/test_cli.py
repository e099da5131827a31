"""The command line: --version, help that describes every option and shows examples, a light
import (no pandas at start-up), and log lines that are never wrapped when not on a terminal."""

from __future__ import annotations

import logging
import platform
import subprocess
import sys

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from evaluation import __version__
from evaluation.cli import app
from evaluation.paths import PACKAGE_DIR

runner = CliRunner()
COMMAND = get_command(app)
SUBCOMMANDS = sorted(COMMAND.commands)  # type: ignore[attr-defined]


def test_version_names_package_commit_and_python():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert f"evaluation {__version__}" in result.output
    assert f"Python {platform.python_version()}" in result.output
    # from a git checkout the commit is named too: ask git about the package's own folder
    head = subprocess.run(
        ["git", "-C", str(PACKAGE_DIR), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    if head.returncode == 0:
        assert f"(git {head.stdout.strip()[:12]}" in result.output, result.output


@pytest.mark.parametrize("name", ["", *SUBCOMMANDS])
def test_help_describes_every_option_in_a_sentence_and_shows_examples(name):
    command = COMMAND if not name else COMMAND.commands[name]  # type: ignore[attr-defined]
    for param in command.params:
        if param.param_type_name != "option" or param.name == "help":
            continue
        text = (param.help or "").strip()
        assert text[:1].isupper() and text.endswith("."), (name, param.name, text)
        assert len(text.split()) >= 5, (name, param.name, text)  # a sentence, not a label
    args = [name, "--help"] if name else ["--help"]
    result = runner.invoke(app, args, env={"COLUMNS": "100"})
    assert result.exit_code == 0
    assert "Examples:" in result.output
    assert f"evaluation {name}".strip() in result.output.split("Examples:")[1]


def test_verbose_is_described():
    result = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "100"})
    line = next(ln for ln in result.output.splitlines() if "--verbose" in ln)
    assert "-v" in line and "debug" in result.output


def test_importing_the_cli_does_not_import_the_pipeline():
    """`evaluation --help` stays fast: no pandas, numpy, YAML, papermill or rich at start-up."""
    code = (
        "import sys, evaluation, evaluation.cli; "
        "heavy = ('pandas', 'numpy', 'scipy', 'yaml', 'papermill', 'nbformat', 'rich'); "
        "print(' '.join(sorted(m for m in heavy if m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_help_runs_without_importing_rich_or_pandas():
    code = (
        "import sys; sys.argv = ['evaluation', '--help']\n"
        "from evaluation.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('LOADED', ' '.join(m for m in ('pandas', 'rich') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Usage: evaluation" in done.stdout
    assert done.stdout.strip().endswith("LOADED")


def test_log_lines_are_plain_and_unwrapped_when_not_a_terminal(tmp_path):
    """CI and log files get one line per message, whatever its length (no rich wrapping)."""
    long = "done in " + "x" * 300 + " 4.7 s"
    code = (
        "import logging\n"
        "from evaluation.cli import _logging\n"
        "_logging(False)\n"
        f"logging.getLogger('evaluation.pipeline.run').info({long!r})\n"
        "logging.getLogger('evaluation.pipeline.run').debug('hidden')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "80", "PATH": "/usr/bin:/bin"},
    )
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].endswith(long) and " INFO " in lines[0]
    assert "hidden" not in done.stderr


def test_verbose_logging_shows_debug(capsys):
    from evaluation.cli import _logging

    try:
        _logging(True)
        logging.getLogger("evaluation.pipeline.run").debug("a debug line")
        assert "a debug line" in capsys.readouterr().err
    finally:
        logging.basicConfig(handlers=[logging.NullHandler()], force=True, level=logging.WARNING)


def test_version_reads_the_commit_from_git_files_when_git_cannot_answer(tmp_path, monkeypatch):
    from evaluation import version

    package = tmp_path / "src" / "evaluation"
    package.mkdir(parents=True)
    git_dir = tmp_path / ".git"
    (git_dir / "refs" / "heads").mkdir(parents=True)
    (git_dir / "HEAD").write_text("ref: refs/heads/main\n")
    (git_dir / "packed-refs").write_text(
        "# pack-refs with: peeled\n" + "ab" * 20 + " refs/heads/main\n"
    )
    monkeypatch.setattr(version, "PACKAGE_DIR", package)
    monkeypatch.setattr(version, "_git", lambda *args: None)
    assert version.code_version()["git_commit"] == "ab" * 20
    (git_dir / "refs" / "heads" / "main").write_text("cd" * 20 + "\n")
    assert version.code_version()["git_commit"] == "cd" * 20
    assert "(git cdcdcdcdcdcd" in version.describe()


def test_demo_refuses_to_overwrite_a_study_unless_forced_and_is_idempotent(tmp_path):
    study = tmp_path / "s"
    args = ["demo", "--study", str(study), "--respondents", "40"]
    assert runner.invoke(app, args).exit_code == 0
    yaml_path = study / "config" / "study.yaml"
    responses = study / "data" / "raw" / "responses.csv"
    first = {p: p.read_bytes() for p in (yaml_path, responses)}
    # The same demo again: identical files, accepted silently (`make report` twice).
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "Error" not in again.output
    assert {p: p.read_bytes() for p in first} == first
    # An edited study: refused, named, nothing written.
    yaml_path.write_text(yaml_path.read_text(encoding="utf-8") + "# mine\n", encoding="utf-8")
    mine = yaml_path.read_bytes()
    refused = runner.invoke(app, [*args[:-1], "50"])
    assert refused.exit_code == 1
    assert "config/study.yaml" in refused.output and "--force" in refused.output
    assert "data/raw/responses.csv" in refused.output
    assert yaml_path.read_bytes() == mine and responses.read_bytes() == first[responses]
    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0 and yaml_path.read_bytes() == first[yaml_path]


def test_demo_in_the_repository_accepts_the_committed_config(tmp_path):
    """`make report` runs `evaluation demo --study .` where config/study.yaml and
    config/codebook.yaml are committed copies of what the demo writes."""
    repo = PACKAGE_DIR.parents[1]
    study = tmp_path / "clone"
    (study / "config").mkdir(parents=True)
    for name in ("study.yaml", "codebook.yaml"):
        (study / "config" / name).write_bytes((repo / "config" / name).read_bytes())
    assert runner.invoke(app, ["demo", "--study", str(study)]).exit_code == 0
    assert runner.invoke(app, ["demo", "--study", str(study)]).exit_code == 0
