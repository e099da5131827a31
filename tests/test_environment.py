"""environment.yml gives conda users the environment of requirements.lock: every locked package
pinned to the same version (conda-forge or pip section), nothing left to the solver."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ENV = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)=([0-9][^=\s<>!*,|]*)$")
PIP_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][^=\s<>!*,;]*)$")


def _tool():
    spec = importlib.util.spec_from_file_location("conda_env", ROOT / "tools" / "conda_env.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOOL = _tool()


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[_normalise(name)] = version.strip()
    return pins


def _sections() -> tuple[dict[str, str], dict[str, str]]:
    conda, pip = {}, {}
    for dep in ENV["dependencies"]:
        if isinstance(dep, dict):
            for line in dep["pip"]:
                match = PIP_PIN.match(line)
                assert match, f"pip entry not pinned with ==: {line!r}"
                pip[_normalise(match[1])] = match[2]
            continue
        match = PIN.match(dep)
        assert match, f"conda dependency not pinned to a version: {dep!r}"
        conda[match[1].lower()] = match[2]
    return conda, pip


def test_every_locked_package_is_pinned_to_the_same_version():
    conda, pip = _sections()
    lock = _lock()
    assert len(lock) > 100
    for name, version in lock.items():
        if name in pip:
            assert pip[name] == version, (name, pip[name], version)
        else:
            cname = TOOL.conda_name(name)
            assert cname in conda, f"{name}=={version} of the lock is not in environment.yml"
            assert conda[cname] == version, (name, conda[cname], version)


def test_nothing_else_is_installed_and_nothing_is_unpinned():
    conda, pip = _sections()
    lock = _lock()
    expected = {TOOL.conda_name(n) for n in lock if n not in pip} | {"python", "pip"}
    assert set(conda) == expected
    assert set(pip) <= set(lock)
    assert conda["python"] == TOOL.PYTHON and conda["pip"] == TOOL.PIP
    assert ENV["channels"] == ["conda-forge"] and ENV["name"] == "evaluation"


def test_environment_yml_is_what_the_generator_writes_from_the_lock():
    """Editing requirements.lock without `make env` fails here."""
    current = (ROOT / "environment.yml").read_text(encoding="utf-8")
    assert current == TOOL.render(TOOL.read_lock()), "environment.yml is stale: run `make env`"


def test_conda_names_map_only_locked_packages():
    lock = _lock()
    stale = sorted(set(TOOL.CONDA_NAMES) - set(lock))
    assert not stale, f"CONDA_NAMES lists packages the lock no longer has: {stale}"
    assert set(lock) >= TOOL.PIP_ONLY


@pytest.mark.parametrize("line", ["pandas>=2", "numpy", "-e ."])
def test_a_line_that_is_not_a_pin_is_refused(tmp_path, line):
    lock = tmp_path / "requirements.lock"
    lock.write_text(f"rich==15.0.0\n{line}\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="line 2"):
        TOOL.read_lock(lock)


def test_readme_conda_steps_activate_and_install_the_package():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    steps = [
        "conda env create -f environment.yml",
        "conda activate evaluation",
        "pip install --no-deps -e .",
        "python -m ipykernel install --sys-prefix --name evaluation",
    ]
    positions = [readme.find(step) for step in steps]
    assert -1 not in positions, dict(zip(steps, positions, strict=True))
    assert positions == sorted(positions)
