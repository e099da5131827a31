"""Figures drawn once for what they show (issue 17): while ``evaluation run`` runs a notebook, a
figure whose plot function, arguments, language and code were drawn before in this study is
copied from ``reports/.cache/figures/`` instead of being drawn again.

The consortium and actor reports show the same indicator, risk and feedback figures; after a
changed activity the eight reports that show indicators draw two figures (one per language)
instead of eight. Drawing and saving a 12-panel figure takes about 2 s; copying it 2 ms.

The key is the plot function's module and name, a fingerprint of every argument it is called
with (:func:`fingerprint`: tables by their exact CSV text and dtypes), the tick language, the
package's source hash and matplotlib's version; a figure's files are kept one per format. A
figure therefore comes from the cache only when the function would receive exactly the same
values and run the same code. `45-indicators` draws the whole study's indicator figure from
the rows the reports read, so the consortium report in the study's language copies it too.
A figure being drawn is held (:func:`drawing`): a notebook that asks for it meanwhile waits for
it instead of drawing it too. Outside a run (a notebook opened in Jupyter) nothing is cached;
``evaluation run --force`` empties the cache first, so every figure is drawn again (once: its
reports still share it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.io.files import FIGURES_ENV, atomic_path


def fingerprint(value: object) -> str:
    """A sha256 of ``value``'s content: tables and series by their dtypes and exact CSV text
    (index included), mappings by their sorted items, sequences item by item, dataclasses by
    their type and fields, numbers, text, booleans and None by type and ``repr``. Anything
    else is refused (TypeError), so no argument is ever keyed by its identity."""
    h = hashlib.sha256()
    _feed(h, value)
    return h.hexdigest()


def _feed(h: hashlib._Hash, value: object) -> None:
    if isinstance(value, pd.DataFrame | pd.Series):
        frame = value.to_frame() if isinstance(value, pd.Series) else value
        h.update(f"frame:{[str(t) for t in frame.dtypes]}:".encode())
        h.update(frame.to_csv(lineterminator="\n").encode())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        h.update(f"{type(value).__module__}.{type(value).__qualname__}:".encode())
        _feed(h, {f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    elif isinstance(value, Mapping):
        items = sorted(value.items(), key=lambda kv: repr(kv[0]))
        h.update(f"map:{len(items)}:".encode())
        for key, item in items:
            _feed(h, key)
            _feed(h, item)
    elif isinstance(value, list | tuple | np.ndarray):
        values = value.tolist() if isinstance(value, np.ndarray) else value
        h.update(f"seq:{len(values)}:".encode())
        for item in values:
            _feed(h, item)
    elif value is None or isinstance(value, str | bool | int | float | np.generic):
        h.update(f"{type(value).__name__}:{value!r};".encode())
    else:
        raise TypeError(f"a figure's argument of type {type(value).__name__} has no fingerprint")


@functools.cache
def _code() -> str:
    import matplotlib

    from evaluation.version import source_hash

    return f"{source_hash()}:{matplotlib.__version__}"


def cache_folder() -> Path | None:
    """The figure cache of the study whose notebook ``evaluation run`` is running now
    (``reports/.cache/figures``, :data:`evaluation.io.files.FIGURES_ENV`); None outside a
    run. (``--force`` empties it first: every figure is drawn again, once.)"""
    folder = os.environ.get(FIGURES_ENV)
    return Path(folder) if folder else None


def figure_key(plot: Callable, arguments: Mapping[str, object], language: str | None) -> str:
    """The cache key of ``plot(**arguments)`` with ticks in ``language``. Its files are kept
    one per format (``<key>.svg``, ``<key>.png``): the SVG of a figure saved as SVG and PNG is
    byte for byte the SVG of the figure saved alone (it is written first), so a report that
    shows only the SVG copies it from an analysis that saved both."""
    name = f"{plot.__module__}.{plot.__qualname__}"
    return fingerprint([name, arguments, language or "", _code()])


def fetch(folder: Path, key: str, targets: list[Path]) -> bool:
    """Copy the cached files of ``key`` (one per target, in the targets' formats) onto
    ``targets`` (atomically, staged); False, copying nothing, unless all are cached."""
    cached = [folder / f"{key}{target.suffix}" for target in targets]
    if not all(path.is_file() for path in cached):
        return False
    for path, target in zip(cached, targets, strict=True):
        with atomic_path(target) as tmp:
            shutil.copyfile(path, tmp)
        os.utime(path)  # used now: pruning keeps it (prune)
    return True


@contextlib.contextmanager
def drawing(folder: Path, key: str) -> Iterator[None]:
    """Hold the figure ``key`` while it is looked up, drawn and stored: a notebook in another
    worker that asks for the same figure meanwhile waits, then copies it, instead of drawing it
    too at the same time (after a change, the first reports in a language all draw the same
    indicator figure). The lock is the operating system's (``flock``), released with the
    process; on a system or file system without it, figures are not held (at worst drawn twice,
    the same figure)."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f".{key}.lock", "a+b") as handle:
        with contextlib.suppress(OSError):  # e.g. ENOLCK on a network file system
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def store(folder: Path, key: str, written: list[Path]) -> None:
    """Keep copies of the files just written for ``key`` (atomically: workers may store the
    same key at once; either copy is the same figure)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in written:
        with atomic_path(folder / f"{key}{path.suffix}") as tmp:
            shutil.copyfile(path, tmp)


def prune(folder: Path, days: float = 14) -> int:
    """Remove the cached figures in ``folder`` that no notebook has drawn or copied for
    ``days`` days; the number removed. (A figure of a table that changed is never asked for
    again.)"""
    if not folder.is_dir():
        return 0
    before = time.time() - days * 86400
    removed = 0
    for path in folder.iterdir():
        if path.is_file() and path.stat().st_mtime < before:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
