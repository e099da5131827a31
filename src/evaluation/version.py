"""Which code is running: the package version, the git commit of its source, and Python.

Light on purpose (no pandas, no YAML): ``evaluation --version`` answers without loading the
pipeline, and the manifest records the same :func:`code_version`.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from typing import Any

from evaluation import __version__
from evaluation.paths import PACKAGE_DIR


def code_version() -> dict[str, Any]:
    """Package version, and the git commit of its source when run from a checkout."""
    info: dict[str, Any] = {"package": "evaluation", "version": __version__}
    try:
        head = subprocess.run(
            ["git", "-C", str(PACKAGE_DIR), "rev-parse", "HEAD"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(PACKAGE_DIR), "status", "--porcelain", "--", "."],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()  # fmt: skip
        info["git_commit"] = head
        info["git_dirty"] = bool(dirty)
    except (OSError, subprocess.SubprocessError):
        info["git_commit"] = None
    return info


def describe() -> str:
    """Two lines for ``evaluation --version``: the package (and its git commit), then Python."""
    info = code_version()
    line = f"evaluation {info['version']}"
    if info.get("git_commit"):
        dirty = ", uncommitted changes" if info.get("git_dirty") else ""
        line += f" (git {info['git_commit'][:12]}{dirty})"
    python = f"Python {platform.python_version()} ({platform.python_implementation()})"
    return f"{line}\n{python} {sys.executable}"
