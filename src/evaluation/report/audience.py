"""Who a report is for: the consortium, each actor and each organisation of a study.

Light on purpose (no pandas): ``evaluation run`` lists the audiences to check whether any
report must be written again, and a run with nothing to do imports nothing more. The reports
themselves are :mod:`evaluation.report.audiences`.
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluation.config import Study
from evaluation.safety import short_hash, unique_slugs
from evaluation.safety import slug as _safe_slug

KINDS = ("consortium", "actor", "organisation")


def slug(text: str) -> str:
    """A file-name-safe ASCII slug: "Hyvinvointialue A" -> "hyvinvointialue-a" (a short hash
    when nothing readable is left)."""
    return _safe_slug(text) or short_hash(text)


@dataclass(frozen=True)
class Audience:
    kind: str  # consortium | actor | organisation
    name: str
    file: str = ""  # file-name part, unique among the audiences of its kind (see audiences())

    @property
    def slug(self) -> str:
        """The report's file name (without .html): ``organisation-hoiva-aapa-oy``. Only ASCII
        letters, digits and ``-``: a name never becomes a path."""
        if self.kind == "consortium":
            return "consortium"
        return f"{self.kind}-{self.file or slug(self.name)}"


def audiences(study: Study) -> list[Audience]:
    """Every audience of a study: the consortium, each actor, each organisation (as configured
    in study.yaml ``organisations``), in a stable order. Two names with the same slug ("Org A",
    "org-a") get a short hash each, so no report overwrites another's."""
    orgs = study.organisations
    actors = sorted({org.actor for org in orgs.values() if org.actor})
    actor_files = unique_slugs(str(a) for a in actors)
    org_files = unique_slugs(str(o) for o in sorted(orgs))
    return [
        Audience("consortium", study.name),
        *(Audience("actor", a, actor_files[str(a)]) for a in actors),
        *(Audience("organisation", o, org_files[str(o)]) for o in sorted(orgs)),
    ]
