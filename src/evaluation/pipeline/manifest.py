"""The run manifest: what went in, with which code and packages, and what came out."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from evaluation import __version__
from evaluation.config import Study
from evaluation.disclosure.redact import public_config
from evaluation.io.files import sha256_file, write_text
from evaluation.paths import PACKAGE_DIR
from evaluation.version import code_version

KEY_PACKAGES = (
    "pandas", "numpy", "scipy", "statsmodels", "pingouin", "seaborn", "matplotlib", "pandera",
    "pyarrow", "papermill", "nbconvert", "nbformat", "ipykernel", "krippendorff",
    "snowballstemmer", "pyreadstat", "openpyxl", "pyyaml",
)  # fmt: skip


def package_versions() -> dict[str, str]:
    """The installed versions of :data:`KEY_PACKAGES` (a copy of this process's one lookup)."""
    return dict(_package_versions())


@functools.cache
def _package_versions() -> dict[str, str]:
    out = {}
    for name in KEY_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def input_files(study: Study) -> list[Path]:
    """Every file that determines the results: config, instrument definitions, raw data."""
    files = [study.paths.study_yaml]
    files += [i.path for i in study.instruments.values()]
    codebook = study.codebook
    if codebook:
        files.append(study.paths.resolve(codebook))
    for paths in study.data.values():
        files.extend(paths)
    return [f for f in dict.fromkeys(files) if f.is_file()]


def relative(path: Path, root: Path) -> str:
    """``path`` relative to the study folder; a shipped file by the package's name and version
    (``evaluation 1.2.0: resources/instruments/qwl.yaml``), so a copied or moved study records
    the same names and no absolute path."""
    path = Path(path)
    with contextlib.suppress(ValueError):
        return path.resolve().relative_to(root.resolve()).as_posix()
    for candidate, base in (
        (path.absolute(), PACKAGE_DIR),
        (path.resolve(), PACKAGE_DIR.resolve()),
    ):
        with contextlib.suppress(ValueError):
            return f"evaluation {__version__}: {candidate.relative_to(base).as_posix()}"
    return str(path)


def input_hashes(study: Study) -> dict[str, str]:
    return {relative(p, study.paths.root): sha256_file(p) for p in input_files(study)}


def table_hashes(study: Study) -> dict[str, str]:
    tables = study.paths.tables
    return {p.name: sha256_file(p) for p in sorted(tables.glob("*.csv"))} if tables.is_dir() else {}


def run_id(fingerprint: dict[str, Any]) -> str:
    """A short id of what a run's numbers come from (inputs, processed data, code, packages):
    shown in every report's footer and stored in the manifest, so a printed table can be traced
    back to its manifest."""
    payload = {**fingerprint, "packages": package_versions()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def write_manifest(
    study: Study,
    *,
    notebooks: dict[str, dict],
    seconds: float,
    inputs: dict[str, str],
    run_id: str | None = None,
    code: dict | None = None,
) -> Path:
    """Write reports/manifest.json; ``inputs`` are the input sha256s the run already computed,
    ``code`` the :func:`~evaluation.version.code_version` it already asked for."""
    manifest = {
        "study": study.name,
        "run_id": run_id,
        "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "code": code if code is not None else code_version(),
        "python": platform.python_version(),
        "packages": package_versions(),
        "config": public_config(study.raw),  # redaction.names as a count and sha256 only
        "seeds": {"study": study.seed},
        "inputs": inputs,
        "notebooks": notebooks,
        "tables": table_hashes(study),
        # The disclosure audit of this run's plan: cells, primary and secondary cells, and
        # how far the attacker's best upper bound stays above the smallest group.
        "disclosure": _disclosure_summary(study),
        "seconds": round(seconds, 1),
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False, default=str, sort_keys=False)
    return write_text(study.paths.manifest, text + "\n")


def _disclosure_summary(study: Study) -> dict[str, Any] | None:
    path = study.paths.processed / "disclosure-audit.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get("summary")


def read_manifest(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))
