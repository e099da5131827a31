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
    def notebooks(self) -> Path:
        """The study's own notebooks if it has a notebooks/ folder, else the shipped ones."""
        own = self.root / "notebooks"
        return own if own.is_dir() and any(own.glob("*.ipynb")) else DEFAULT_NOTEBOOKS

    def resolve(self, relative: str | Path) -> Path:
        """A path from study.yaml, relative to the study folder."""
        p = Path(relative)
        return p if p.is_absolute() else self.root / p
