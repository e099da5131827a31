"""Which code is running: the package version, the git commit of its source, and Python.

Light on purpose (no pandas, no YAML): ``evaluation --version`` answers without loading the
pipeline, and the manifest records the same :func:`code_version`.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from typing import Any

from evaluation import __version__
from evaluation.paths import PACKAGE_DIR


def _git(*args: str) -> str | None:
    """Output of one git command run on the package's source, or None when it cannot answer.

    ``--no-optional-locks``: ``git status`` would otherwise refresh the index under
    ``index.lock``; a run killed by the timeout then leaves a stale lock that blocks the user's
    next commit.
    """
    try:
        done = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(PACKAGE_DIR), *args],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _head_from_files() -> str | None:
    """The checked-out commit read from ``.git`` itself, for when the git command cannot answer
    (not installed, or refusing a checkout owned by another user)."""
    for folder in (PACKAGE_DIR, *PACKAGE_DIR.parents):
        git_dir = folder / ".git"
        if not git_dir.is_dir():
            continue
        try:
            head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
            if not head.startswith("ref: "):
                return head or None
            ref = head.removeprefix("ref: ")
            if (git_dir / ref).is_file():
                return (git_dir / ref).read_text(encoding="utf-8").strip() or None
            for line in (git_dir / "packed-refs").read_text(encoding="utf-8").splitlines():
                if line.endswith(" " + ref):
                    return line.split()[0]
        except OSError:
            return None
        return None
    return None


def code_version() -> dict[str, Any]:
    """Package version, and the git commit of its source when run from a checkout.

    The commit and the "uncommitted changes" flag are asked separately: a working tree whose
    status git cannot read (a lock, a slow disk) still names its commit, with ``git_dirty`` None.
    """
    info: dict[str, Any] = {"package": "evaluation", "version": __version__}
    head = _git("rev-parse", "HEAD") or _head_from_files()
    info["git_commit"] = head or None
    if head:
        status = _git("status", "--porcelain", "--", ".")
        info["git_dirty"] = None if status is None else bool(status)
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


def source_hash() -> str:
    """One sha256 over the package's Python source and shipped resources (cache key part)."""

    h = hashlib.sha256()
    files = sorted(PACKAGE_DIR.rglob("*.py")) + sorted((PACKAGE_DIR / "resources").rglob("*.y*ml"))
    for path in files:
        h.update(str(path.relative_to(PACKAGE_DIR)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()
