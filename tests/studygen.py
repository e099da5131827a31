"""Whole studies drawn across the space the data contract allows (a hypothesis strategy).

``studies()`` draws a :class:`StudySpec`; :func:`write_study` writes it as a study folder that
`evaluation validate` should accept: 1-5 rounds (baseline only included), 1-20 organisations
with 1-4 units each (declared in study.yaml with their groupings, or not declared at all), any
subset of the optional inputs (open answers, plain codings with segments that are not answer
ids and codes outside the codebook, a ``.qdpx`` project only, summaries only or beside the
responses, activities, feedback), anonymous / fully linked / mixed respondent codes,
participant and role columns present or absent, any non-empty subset of the answer-level
instruments, and names with quotes, commas, markup, Unicode and great length.

The answers themselves come from a seeded numpy generator (the spec carries the seed), so a
spec is a complete, reproducible description of a study: hypothesis shrinks specs, not files.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from hypothesis import strategies as st

from evaluation.safety import unsafe_id_reason

INSTRUMENTS = ("qwl", "esis", "kykyviisari")
QWL_AREAS = ("leadership", "line_management", "operating_culture", "competence", "processes")
CODES = ("dialogue", "creativity", "workload", "psychological_safety")
SENTENCES = (
    "Keskustelemme nykyään avoimemmin ja kuuntelemme toisiamme.",
    "Kiire ja resurssipula vievät voimat, ei aikaa kehittämiselle.",
    "Olemme kokeilleet luovia menetelmiä, kuten kuvakortteja.",
    "Ota yhteyttä: matti.meikalainen@example.fi tai 040 123 4567, t. Matti Meikäläinen.",
    "<script>alert('x')</script> =HYPERLINK(\"http://evil\") **lihavoitu** [linkki](x)",
    "Hetu 131052-308T ei kuulu tänne.",
)

# Characters that make names hard for files, CSV, YAML, HTML, LaTeX and spreadsheets alike.
_AWKWARD = " ,;'\"&<>%$#_{}~^=+-()[]äöåÄÖÅéß€—“”‘’"
NAME_CHARS = st.sampled_from(string.ascii_letters + string.digits + _AWKWARD + "ŁžЖ中あ🙂")


def _clean(text: str) -> str:
    return " ".join(text.split())


# A name: mostly short and readable, sometimes awkward, sometimes very long.
names = (
    st.one_of(
        st.text(NAME_CHARS, min_size=1, max_size=24),
        st.builds(
            lambda a, b: f"{a} {b}", st.sampled_from(["Hoiva", "Koti", "Sote"]), st.integers(1, 99)
        ),
        st.text(NAME_CHARS, min_size=100, max_size=160),
    )
    .map(_clean)
    .filter(lambda s: bool(s) and unsafe_id_reason(s) is None and s[0] not in "-#")
)


@dataclass(frozen=True)
class UnitSpec:
    name: str
    headcount: int | None
    size: int  # respondents per round (before drop-out)


@dataclass(frozen=True)
class OrgSpec:
    name: str
    actor: str | None
    sector: str | None
    size_class: str | None
    units: tuple[UnitSpec, ...]


@dataclass(frozen=True)
class StudySpec:
    rounds: tuple[str, ...]
    organisations: tuple[OrgSpec, ...]
    declare_organisations: bool
    design: str  # linked | anonymous | mixed
    study_design: str  # the study.yaml `design`
    participant: bool
    role: bool
    instruments: tuple[str, ...]
    mode: str  # responses | summaries | both
    open_answers: bool
    codings: str  # none | plain | qdpx
    activities: bool
    feedback: bool
    language: str
    min_n: int
    seed: int
    notes: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        units = sum(len(o.units) for o in self.organisations)
        return (
            f"{len(self.rounds)} rounds, {len(self.organisations)} organisations, {units} units, "
            f"{self.design}/{self.study_design}, instruments {','.join(self.instruments)}, "
            f"mode {self.mode}, open answers {self.open_answers}, codings {self.codings}, "
            f"activities {self.activities}, feedback {self.feedback}, participant "
            f"{self.participant}, role {self.role}, min_n {self.min_n}, seed {self.seed}"
        )


@st.composite
def _units(draw: st.DrawFn) -> tuple[UnitSpec, ...]:
    unit_names = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    return tuple(
        UnitSpec(
            name=name,
            headcount=draw(st.one_of(st.none(), st.integers(1, 80))),
            size=draw(st.sampled_from([0, 1, 2, 3, 4, 6, 9, 15, 30])),
        )
        for name in unit_names
    )


@st.composite
def studies(draw: st.DrawFn, max_organisations: int = 20) -> StudySpec:
    """A contract-valid study, drawn across the space of the data contract."""
    rounds = tuple(
        draw(st.lists(names.filter(lambda s: len(s) < 30), min_size=1, max_size=5, unique=True))
    )
    org_names = draw(
        st.lists(names, min_size=1, max_size=max_organisations, unique_by=str.casefold)
    )
    actors = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    organisations = tuple(
        OrgSpec(
            name=name,
            actor=draw(st.one_of(st.none(), st.sampled_from(actors))),
            sector=draw(st.one_of(st.none(), st.sampled_from(["public", "private", "third"]))),
            size_class=draw(st.one_of(st.none(), st.sampled_from(["small", "medium", "large"]))),
            units=draw(_units()),
        )
        for name in org_names
    )
    if not any(u.size for o in organisations for u in o.units):  # nobody answered at all
        first = organisations[0]
        unit = first.units[0]
        organisations = (
            OrgSpec(first.name, first.actor, first.sector, first.size_class,
                    (UnitSpec(unit.name, unit.headcount, 6), *first.units[1:])),
            *organisations[1:],
        )  # fmt: skip
    mode = draw(st.sampled_from(["responses", "responses", "summaries", "both"]))
    codings = draw(st.sampled_from(["none", "plain", "qdpx"]))
    return StudySpec(
        rounds=rounds,
        organisations=organisations,
        declare_organisations=draw(st.booleans()),
        design=draw(st.sampled_from(["linked", "anonymous", "mixed"])),
        study_design=draw(st.sampled_from(["auto", "auto", "independent", "paired"])),
        participant=draw(st.booleans()),
        role=draw(st.booleans()),
        instruments=tuple(
            draw(st.lists(st.sampled_from(INSTRUMENTS), min_size=1, max_size=3, unique=True))
        ),
        mode=mode,
        open_answers=draw(st.booleans()),
        codings=codings,
        activities=draw(st.booleans()),
        feedback=draw(st.booleans()),
        language=draw(st.sampled_from(["fi", "en"])),
        min_n=draw(st.sampled_from([1, 3, 5, 5, 10])),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


# ---------------------------------------------------------------------------------------------
# Writing a spec as a study folder
# ---------------------------------------------------------------------------------------------


def _responses(spec: StudySpec, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for o_index, o in enumerate(spec.organisations):
        for u_index, u in enumerate(o.units):
            people = [f"P{o_index}-{u_index}-{i}" for i in range(u.size)]
            for r_index, round_id in enumerate(spec.rounds):
                for i, person in enumerate(people):
                    if r_index and rng.random() < 0.25:
                        continue  # drop-out: not seen this round
                    linked = spec.design == "linked" or (spec.design == "mixed" and i % 2 == 0)
                    row = {
                        "round": round_id,
                        "organisation": o.name,
                        "unit": u.name,
                        "respondent": f"R{rng.integers(10**9)}" if not linked else person,
                    }
                    if spec.design == "anonymous":
                        row["respondent"] = ""
                    if spec.participant:
                        row["participant"] = rng.choice(["1", "0", ""], p=[0.45, 0.45, 0.1])
                    if spec.role:
                        row["role"] = rng.choice(["supervisor", "staff", ""], p=[0.2, 0.7, 0.1])
                    shift = 4.0 * r_index
                    if "qwl" in spec.instruments:
                        row["qwl"] = round(float(np.clip(rng.normal(62 + shift, 12), 0, 100)), 1)
                        for area in QWL_AREAS:
                            value = np.clip(rng.normal(60 + shift, 14), 0, 100)
                            row[f"qwl_{area}"] = round(float(value), 1)
                    if "esis" in spec.instruments:
                        level = rng.normal(0.1 * r_index, 1)
                        for k in range(1, 11):
                            value = int(np.clip(np.rint(3.5 + level + rng.normal(0, 0.8)), 1, 5))
                            row[f"esis_{k}"] = "" if rng.random() < 0.03 else value
                    if "kykyviisari" in spec.instruments:
                        value = np.clip(rng.normal(7 + 0.2 * r_index, 1.5), 0, 10)
                        row["kykyviisari"] = round(float(value), 1)
                    rows.append(row)
    return pd.DataFrame(rows)


def _summaries(spec: StudySpec, responses: pd.DataFrame) -> pd.DataFrame:
    """Per round x organisation x unit x measure: n, mean, sd as a vendor reports them
    (the vendor hides the mean of a unit with fewer than 5 answers)."""
    measures = []
    if "qwl" in spec.instruments:
        measures += ["qwl", *(f"qwl_{a}" for a in QWL_AREAS)]
    if "kykyviisari" in spec.instruments:
        measures.append("kykyviisari")
    if "esis" in spec.instruments:
        items = responses[[f"esis_{k}" for k in range(1, 11)]].apply(pd.to_numeric, errors="coerce")
        responses = responses.assign(esis=items.mean(axis=1).where(items.notna().sum(axis=1) >= 8))
        measures.append("esis")
    rows = []
    if not measures or responses.empty:
        return pd.DataFrame(columns=["round", "organisation", "unit", "measure", "n", "mean", "sd"])
    for (r, o, u), group in responses.groupby(["round", "organisation", "unit"], sort=False):
        for m in measures:
            values = pd.to_numeric(group[m], errors="coerce").dropna()
            hidden = len(values) < 5
            rows.append(
                {
                    "round": r, "organisation": o, "unit": u, "measure": m, "n": len(values),
                    "mean": "" if hidden else round(values.mean(), 3),
                    "sd": "" if hidden or len(values) < 2 else round(values.std(), 3),
                }
            )  # fmt: skip
    return pd.DataFrame(rows)


def _open_answers(spec: StudySpec, responses: pd.DataFrame, rng: np.random.Generator):
    rows = []
    for i, r in enumerate(responses.head(400).itertuples(index=False)):
        if rng.random() < 0.4:
            continue
        rows.append(
            {
                "answer_id": f"A{i}",
                "round": r.round,
                "organisation": r.organisation,
                "unit": r.unit,
                "participant": getattr(r, "participant", ""),
                "role": getattr(r, "role", ""),
                "question": "mika_muuttui",
                "text": SENTENCES[int(rng.integers(len(SENTENCES)))],
            }
        )
    columns = ["answer_id", "round", "organisation", "unit", "participant", "role"]
    return pd.DataFrame(rows, columns=[*columns, "question", "text"])


def _codings(
    spec: StudySpec, answers: pd.DataFrame, rng: np.random.Generator, plain: bool
) -> pd.DataFrame:
    """Two or three coders; plain codings use segment ids of their own and codes that are not
    in the codebook besides those that are."""
    texts = list(answers["text"]) if not answers.empty else list(SENTENCES)
    segments = [f'seg {i}, "{i % 7}"' if plain else str(a) for i, a in enumerate(texts)]
    if not plain and not answers.empty:
        segments = list(answers["answer_id"])
    coders = ["Anna", "Ben", "Cecilia"][: int(rng.integers(2, 4))]
    codes = (*CODES, "oma koodi", "Ei koodikirjassa") if plain else CODES
    rows = []
    for segment, text in zip(segments, texts, strict=True):
        for coder in coders:
            if rng.random() < 0.15:
                continue
            rows.append(
                {"segment": segment, "coder": coder, "code": codes[int(rng.integers(len(codes)))],
                 "text": text}
            )  # fmt: skip
    return pd.DataFrame(rows, columns=["segment", "coder", "code", "text"])


def _activities(spec: StudySpec, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for o in spec.organisations:
        for r in spec.rounds:
            for kind in ("training", "workshop", "mentoring_meeting"):
                if rng.random() < 0.5:
                    continue
                rows.append(
                    {"date": "2026-03-01", "round": r, "actor": o.actor or "",
                     "organisation": o.name, "activity": kind,
                     "participants": int(rng.integers(1, 25)), "person_ids": "",
                     "creative_methods": int(rng.integers(0, 4)), "reach": ""}
                )  # fmt: skip
    columns = ["date", "round", "actor", "organisation", "activity", "participants"]
    return pd.DataFrame(rows, columns=[*columns, "person_ids", "creative_methods", "reach"])


def _feedback(spec: StudySpec, rng: np.random.Generator) -> pd.DataFrame:
    rows = [
        {"date": "2026-03-01", "round": r, "actor": o.actor or "", "organisation": o.name,
         "activity": "training", **{k: int(rng.integers(1, 6)) for k in
                                    ("satisfaction", "competence_growth", "goal_attainment")}}
        for o in spec.organisations
        for r in spec.rounds
        for _ in range(int(rng.integers(0, 4)))
    ]  # fmt: skip
    columns = ["date", "round", "actor", "organisation", "activity"]
    return pd.DataFrame(
        rows, columns=[*columns, "satisfaction", "competence_growth", "goal_attainment"]
    )


def _csv(frame: pd.DataFrame, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")
    return f"data/raw/{path.name}"


def write_study(spec: StudySpec, root: Path) -> Path:
    """Write ``spec`` as a study folder under ``root`` and return the folder."""
    rng = np.random.default_rng(spec.seed)
    raw = root / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    data: dict[str, object] = {}
    responses = _responses(spec, rng)
    instruments = list(spec.instruments)
    if spec.mode in ("responses", "both"):
        data["responses"] = _csv(responses, raw / "responses.csv")
    if spec.mode in ("summaries", "both"):
        data["summaries"] = _csv(_summaries(spec, responses), raw / "summaries.csv")
    answers = _open_answers(spec, responses, rng)
    if spec.open_answers and not answers.empty:
        data["open_answers"] = _csv(answers, raw / "open_answers.csv")
    if spec.codings == "plain":
        coded = answers if spec.open_answers else answers.iloc[:0]
        data["codings"] = _csv(_codings(spec, coded, rng, True), raw / "codings.csv")
    elif spec.codings == "qdpx":
        from evaluation.io.qdpx import export_qdpx

        texts = answers.rename(columns={"answer_id": "segment"})[["segment", "text"]]
        if texts.empty:
            texts = pd.DataFrame({"segment": ["S1"], "text": [SENTENCES[0]]})
        codebook = pd.DataFrame(
            {"id": list(CODES), "label_fi": list(CODES), "label_en": list(CODES)}
        )
        codings = _codings(spec, texts.rename(columns={"segment": "answer_id"}), rng, False)
        export_qdpx(raw / "project.qdpx", codebook, texts, codings)
        data["codings"] = "data/raw/project.qdpx"
    # a declared file must have data rows (validation refuses a header alone)
    activities = _activities(spec, rng) if spec.activities else None
    if activities is not None and not activities.empty:
        data["activities"] = _csv(activities, raw / "activities.csv")
    feedback = _feedback(spec, rng) if spec.feedback else None
    if feedback is not None and not feedback.empty:
        data["feedback"] = _csv(feedback, raw / "feedback.csv")
        instruments.append("feedback")
    config: dict[str, object] = {
        "study": "Generated: " + spec.organisations[0].name,
        "language": spec.language,
        "seed": spec.seed % 100_000,
        "rounds": [{"id": r, "label": f"Kierros {r}"} for r in spec.rounds],
        "baseline": spec.rounds[0],
        "design": spec.study_design,
        "instruments": instruments,
        "data": data,
        "disclosure": {"min_n": spec.min_n},
        "analysis": {"bootstrap_reps": 199},
    }
    if spec.declare_organisations:
        config["organisations"] = {
            o.name: {
                **({"actor": o.actor} if o.actor else {}),
                **({"sector": o.sector} if o.sector else {}),
                **({"size": o.size_class} if o.size_class else {}),
                "units": {u.name: u.headcount for u in o.units if u.headcount},
            }
            for o in spec.organisations
        }
    (root / "config").mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
    (root / "config" / "study.yaml").write_text(text, encoding="utf-8")
    return root
