"""Write environment.yml from requirements.lock: conda users get the environment the tests ran in.

Every package pinned in requirements.lock is pinned to the same version in environment.yml,
under its conda-forge name (``CONDA_NAMES`` where that differs from the PyPI name); packages
that conda-forge does not carry go in the ``pip:`` section (``PIP_ONLY``). Python and pip,
which the lock does not list, are pinned here. tests/test_environment.py checks the result.

Run with `make env` (or `python3 tools/conda_env.py`) after changing requirements.lock;
`python3 tools/conda_env.py --check` exits 1 if environment.yml is out of date.
Standard library only: it runs before any environment exists.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
ENV = ROOT / "environment.yml"

PYTHON = "3.11"  # the version the lock was resolved and tested with (conda: 3.11.*)
PIP = "26.3"

# PyPI name (PEP 503 normalised) -> conda-forge name, where they differ. conda-forge keeps
# underscores in some names, splits some packages (matplotlib-base is matplotlib without Qt,
# nbconvert-core is nbconvert without pandoc, as pip installs them) and prefixes a few.
CONDA_NAMES = {
    "et-xmlfile": "et_xmlfile",
    "fastjsonschema": "python-fastjsonschema",
    "interface-meta": "interface_meta",
    "ipython-pygments-lexers": "ipython_pygments_lexers",
    "jupyter-client": "jupyter_client",
    "jupyter-core": "jupyter_core",
    "jupyter-events": "jupyter_events",
    "jupyter-server": "jupyter_server",
    "jupyter-server-terminals": "jupyter_server_terminals",
    "jupyterlab-pygments": "jupyterlab_pygments",
    "jupyterlab-server": "jupyterlab_server",
    "matplotlib": "matplotlib-base",
    "mypy-extensions": "mypy_extensions",
    "nbconvert": "nbconvert-core",
    "prometheus-client": "prometheus_client",
    "pure-eval": "pure_eval",
    "stack-data": "stack_data",
    "typing-extensions": "typing_extensions",
    "typing-inspect": "typing_inspect",
    "tzdata": "python-tzdata",  # conda-forge's tzdata is the system time-zone database
}

# Packages conda-forge does not carry (PEP 503 names): installed by pip inside the environment.
PIP_ONLY: set[str] = set()

HEADER = """\
# Generated from requirements.lock by tools/conda_env.py (`make env`): do not edit by hand.
# Every package of the lock, pinned to the same version (conda-forge names); what conda-forge
# lacks comes from pip. tests/test_environment.py checks that the two agree.
#
#   conda env create -f environment.yml
#   conda activate evaluation
#   pip install --no-deps -e .
#   python -m ipykernel install --sys-prefix --name evaluation
"""


def normalise(name: str) -> str:
    """PEP 503: lower case, runs of ``-``, ``_`` and ``.`` become one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: Path = LOCK) -> dict[str, str]:
    """``{normalised name: version}`` of every ``name==version`` line of the lock."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;]+)", line)
        if match is None:
            raise SystemExit(f"{path}, line {number}: not a `name==version` pin: {raw!r}")
        pins[normalise(match[1])] = match[2]
    return pins


def conda_name(name: str) -> str:
    return CONDA_NAMES.get(name, name)


def render(pins: dict[str, str]) -> str:
    conda = sorted((conda_name(n), v) for n, v in pins.items() if n not in PIP_ONLY)
    pip = sorted((n, v) for n, v in pins.items() if n in PIP_ONLY)
    lines = [HEADER, "name: evaluation", "channels:", "  - conda-forge", "dependencies:"]
    lines.append(f"  - python={PYTHON}")
    lines.append(f"  - pip={PIP}")
    lines += [f"  - {name}={version}" for name, version in conda]
    if pip:
        lines.append("  - pip:")
        lines += [f"      - {name}=={version}" for name, version in pip]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="Exit 1 if environment.yml differs.")
    args = parser.parse_args(argv)
    pins = read_lock()
    text = render(pins)
    if args.check:
        current = ENV.read_text(encoding="utf-8") if ENV.is_file() else ""
        if current != text:
            print(f"{ENV.name} is out of date: run `make env`", file=sys.stderr)
            return 1
        return 0
    ENV.write_text(text, encoding="utf-8")
    print(f"{ENV.name}: the {len(pins)} packages of {LOCK.name}, pinned")
    return 0


if __name__ == "__main__":
    sys.exit(main())
