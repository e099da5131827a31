"""Where things live: every path comes from here, never from the current directory."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

PACKAGE_DIR = Path(str(resources.files("evaluation")))
RESOURCES = PACKAGE_DIR / "resources"
# Shipped defaults. In the repository these are the demo study's own config/ and notebooks/
# (resources/* are symlinks to them), so there is a single copy of each file.
DEFAULT_INSTRUMENTS = RESOURCES / "instruments"
DEFAULT_LABELS = RESOURCES / "labels"
DEFAULT_NOTEBOOKS = RESOURCES / "notebooks"


@dataclass(frozen=True)
class StudyPaths:
    """The folders of one study (see CONTRACT.md: config/, data/raw/, data/processed/, reports/)."""

    root: Path

    @classmethod
    def of(cls, study_dir: str | Path) -> StudyPaths:
        return cls(Path(study_dir).expanduser().resolve())

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def study_yaml(self) -> Path:
        return self.config_dir / "study.yaml"

    @property
    def instruments_dir(self) -> Path:
        return self.config_dir / "instruments"

    @property
    def labels_dir(self) -> Path:
        return self.config_dir / "labels"

    @property
    def raw(self) -> Path:
        return self.root / "data" / "raw"

    @property
    def processed(self) -> Path:
        return self.root / "data" / "processed"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def tables(self) -> Path:
        return self.reports / "tables"

    @property
    def figures(self) -> Path:
        return self.reports / "figures"

    @property
    def html(self) -> Path:
        return self.reports / "html"

    @property
    def executed_notebooks(self) -> Path:
        return self.reports / "notebooks"

    @property
    def manifest(self) -> Path:
        return self.reports / "manifest.json"

    @property
    def own_notebooks(self) -> Path:
        """The study's own notebooks folder (``notebooks/``; it need not exist)."""
        return self.root / "notebooks"

    @property
    def notebooks(self) -> list[Path]:
        """The notebooks a run executes, by file name: the shipped ones (``[0-9]*.ipynb``)
        plus the study's own analysis notebooks (``notebooks/[0-8]*.ipynb``); a study notebook
        with the same file name as a shipped one replaces it. In the repository the shipped
        notebooks are the demo study's own folder: each is listed once."""
        chosen = {nb.name: nb for nb in DEFAULT_NOTEBOOKS.glob("[0-9]*.ipynb")}
        own = self.own_notebooks
        if own.is_dir():
            chosen.update({nb.name: nb for nb in own.glob("[0-8]*.ipynb") if nb.is_file()})
        return [chosen[name] for name in sorted(chosen)]

    def resolve(self, relative: str | Path) -> Path:
        """A path from study.yaml, relative to the study folder."""
        p = Path(relative)
        return p if p.is_absolute() else self.root / p
