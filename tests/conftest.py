"""Shared fixtures: a tiny hand-written study folder, independent of the demo generator; the
demo study, built once per test run; the hypothesis profiles."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import textwrap
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

STUDY_YAML = """\
study: Tiny
language: en
rounds:
  - {id: T0, label: "Baseline", date: 2025-10-15}
  - {id: T1, label: "2026", date: 2026-10-15}
baseline: T0
design: auto
instruments: [qwl, esis]
data:
  responses: data/raw/responses.csv
disclosure: {min_n: 5}
organisations:
  Org A: {actor: Actor 1, sector: public, size: large, units: {Ward 1: 10, Ward 2: 8}}
"""

HEADER = "round,organisation,unit,respondent,participant,role,qwl," + ",".join(
    f"esis_{i}" for i in range(1, 11)
)


def row(
    rnd: str = "T0",
    org: str = "Org A",
    unit: str = "Ward 1",
    resp: str = "",
    part: str = "1",
    role: str = "staff",
    qwl: str = "60.5",
    esis: list[str] | None = None,
) -> str:
    esis = esis if esis is not None else ["4"] * 10
    return ",".join([rnd, org, unit, resp, part, role, qwl, *esis])


def write_study(root: Path, rows: list[str], study_yaml: str = STUDY_YAML) -> Path:
    (root / "config").mkdir(parents=True, exist_ok=True)
    (root / "data" / "raw").mkdir(parents=True, exist_ok=True)
    (root / "config" / "study.yaml").write_text(textwrap.dedent(study_yaml), encoding="utf-8")
    (root / "data" / "raw" / "responses.csv").write_text(
        "\n".join([HEADER, *rows]) + "\n", encoding="utf-8"
    )
    return root


@pytest.fixture
def tiny_study(tmp_path: Path) -> Path:
    rows = [row(resp=f"R{i}", qwl=str(55 + i)) for i in range(6)]
    rows += [row(rnd="T1", resp=f"R{i}", qwl=str(60 + i)) for i in range(6)]
    return write_study(tmp_path, rows)


# --------------------------------------------------------------------------- hypothesis profiles

# `make test` runs the ci profile, `make test-fast` the dev one (HYPOTHESIS_PROFILE); a plain
# `pytest` gets ci, the suite's full strength. A test that needs a specific number of examples
# (each one a whole generated study, say) sets max_examples itself; the others take the profile's.
settings.register_profile("ci", max_examples=200, deadline=None, print_blob=True, derandomize=True)
settings.register_profile("dev", max_examples=20, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# --------------------------------------------------------------------------- the demo study

# The default demo study (600 respondents a round) is built once per test run, in two stages:
# "raw" (`write_demo`: config/ and data/raw/) and "run" (a copy of raw + `run`, both languages,
# every report). Each stage is built by the first test process that needs it, in a folder that
# every pytest-xdist worker of the run shares, under a file lock; the other workers wait for it
# and use it. The shared folders are read only: a test that changes its study copies it first
# (`copy_study`), and a session finaliser checks that no test wrote into them. A test that uses
# the run stage is marked `slow` (the run takes a minute or two), so `make test-fast` skips it.


def _build_raw(study: Path) -> None:
    from evaluation.demo.generate import write_demo

    write_demo(study)


def _build_run(study: Path, raw: Path) -> None:
    from evaluation.pipeline.run import run

    copy_study(raw, study)
    run(study, jobs=2, language="both")


def copy_study(source: Path, target: Path) -> Path:
    """A private copy of a (shared) study folder, for a test that changes its study."""
    shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    return target


def _shared_folder(factory: pytest.TempPathFactory) -> Path:
    """A folder of this test run that every xdist worker sees: the base temp of the run (a
    worker's own base temp is ``<run's base temp>/popen-gwN``)."""
    base = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    folder = base / "shared-demo"
    folder.mkdir(exist_ok=True)
    return folder


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        if fcntl is not None:  # no flock on Windows: each process then builds its own folders
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _fingerprint(folder: Path) -> list[tuple[str, int, int]]:
    return sorted(
        (p.relative_to(folder).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    )


def _shared_stage(
    factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    stage: str,
    build: Callable[[Path], None],
) -> Path:
    """The folder of one stage, built by whichever process comes first."""
    shared = _shared_folder(factory)
    if fcntl is None:
        shared = factory.mktemp("demo")
    study, done, failed = (shared / stage, shared / f"{stage}.done", shared / f"{stage}.failed")
    with _locked(shared / f"{stage}.lock"):
        if failed.is_file():
            raise RuntimeError(f"the demo study's {stage!r} stage failed:\n{failed.read_text()}")
        if not done.is_file():
            shutil.rmtree(study, ignore_errors=True)  # a build cut short
            study.mkdir()
            try:
                build(study)
            except BaseException:
                failed.write_text(traceback.format_exc(), encoding="utf-8")
                raise
            done.touch()
    before = _fingerprint(study)

    def check_untouched() -> None:
        after = _fingerprint(study)
        if after != before:
            changed = sorted(set(before) ^ set(after))[:5]
            pytest.fail(f"a test changed the shared demo study ({stage}): {changed}: copy it")

    request.addfinalizer(check_untouched)
    return study


@pytest.fixture(scope="session")
def shared_demo_raw(tmp_path_factory: pytest.TempPathFactory, request) -> Path:
    """The default demo study as `evaluation demo` writes it (config/, data/raw/). Read only."""
    return _shared_stage(tmp_path_factory, request, "raw", _build_raw)


@pytest.fixture(scope="session")
def shared_demo_run(tmp_path_factory: pytest.TempPathFactory, request, shared_demo_raw):
    """The demo study after `evaluation run --language both`: every table, figure, report and
    the manifest. Read only; a test that uses it is marked `slow`."""
    build = functools.partial(_build_run, raw=shared_demo_raw)
    return _shared_stage(tmp_path_factory, request, "run", build)


@pytest.hookimpl(tryfirst=True)  # before `-m "not slow"` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "shared_demo_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
