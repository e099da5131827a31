"""Deterministic synthetic demo study shaped like the "Luova suunta" project (2025-2028).

:func:`write_demo` writes a complete study folder: ``config/study.yaml``,
``config/codebook.yaml`` and ``data/raw/{responses, codings, open_answers, activities,
feedback, risks}.csv``. Every name in it is fictional; no real person or organisation is described.

This module holds only the logic. What it draws from is data, in two places:

* the study's configuration: the repository's hand-edited ``config/study.yaml`` and
  ``config/codebook.yaml`` (shipped in the package as ``resources/demo/``, symlinks to them).
  They are copied into the demo study byte for byte; for another ``seed`` or ``respondents``
  only the seed, the size (header comment, ``demo:``) and the unit headcounts of
  ``organisations:`` are rewritten. The organisations, units, rounds, targets and themes of
  the simulation are read from them, so the study configuration and the data always agree.
  The headcounts in ``study.yaml`` are those of the default size (``demo: {respondents}``);
  other sizes scale all but micro companies' headcounts.
* ``data.yaml`` beside this module: participants per actor, model parameters (QWL, ESIS,
  turnover, response rate), activity and feedback parameters, the Finnish open-answer
  sentences per theme and the planted fake personal data.

The design follows the project plan (``MISSION.md``): three actors (Metropolia with three
wellbeing services counties, Xamk with three small and three medium companies, Lapland UAS with
one micro, five small and two medium companies), units with headcounts, four annual QWL rounds
(T0 = baseline), about 60 % response rates, programme participants (about 100 / 45 / 60 per
actor at the default size) and non-participants, supervisors and staff. QWL starts near the
InnOKE baseline of 60.1 and rises about 13 points among participants by T3 (about 3 among
non-participants); the participation scale (ESIS) follows a one-factor model. Three
organisations carry pseudonymous respondent codes that link people across rounds (a stable
panel with attrition and newcomers); elsewhere answers are anonymous.

Determinism
-----------
One ``numpy.random.default_rng(seed)`` is split with ``Generator.spawn`` into one child
generator per file (population, responses, open answers, codings, activities, feedback, the
coders' tones of the answers, the Kykyviisari scores), so a change to one part does not shift
the random numbers of another. Output is sorted, numbers are written with fixed formats, lines
end in ``\\n`` and nothing carries a timestamp: the same ``seed`` and ``respondents`` give
byte-identical files.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import functools
import logging
import math
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from evaluation.config import Study
from evaluation.errors import ConfigError, OverwriteError, UsageError
from evaluation.io.files import write_text
from evaluation.paths import RESOURCES
from evaluation.processes import spawn_context

log = logging.getLogger(__name__)

__all__ = ["PLANTED_PII", "codebook_yaml", "study_yaml", "write_demo"]

# The demo study's configuration (symlinks to the repository's config/) and the generator's data.
SOURCE_DIR = RESOURCES / "demo"
DATA_FILE = Path(__file__).with_name("data.yaml")


def _read(path: Path) -> tuple[str, dict[str, Any]]:
    """A YAML file's text and its content (a mapping), read once at import."""
    try:
        text = path.read_text(encoding="utf-8")
        content = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the demo's data ({exc})") from None
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: must be a YAML mapping")
    return text, content


_STUDY_TEXT, _STUDY = _read(SOURCE_DIR / "study.yaml")
_CODEBOOK_TEXT, _CODEBOOK = _read(SOURCE_DIR / "codebook.yaml")
_, _DATA = _read(DATA_FILE)

DEFAULT_RESPONDENTS: int = int(_STUDY["demo"]["respondents"])  # the size study.yaml describes
DEFAULT_SEED = Study.seed  # the one default seed: config.Study
MIN_RESPONDENTS = 20

# (id, label in the study's language, date); a label may be given per language ({fi:, en:}).
ROUNDS: tuple[tuple[str, str, dt.date], ...] = tuple(
    (
        str(r["id"]),
        str(
            r["label"].get(_STUDY["language"], r["id"])
            if isinstance(r["label"], dict)
            else r["label"]
        ),
        r["date"],
    )
    for r in _STUDY["rounds"]
)

_POPULATION = _DATA["population"]
RESPONSE_RATE: float = _POPULATION["response_rate"]
TURNOVER: float = _POPULATION["turnover"]
SUPERVISOR_SHARE: dict[str, float] = _POPULATION["supervisor_share"]  # participant / other
NEWCOMER_PARTICIPANT: float = _POPULATION["newcomer_participant"]
INITIAL_PARTICIPANT_SHARE: float = _POPULATION["initial_participant_share"]

# Programme participants per actor at the default size.
ACTORS: dict[str, int] = {str(k): int(v) for k, v in _DATA["participants"].items()}

# (organisation, actor, sector, size, {unit: headcount at the default size}), from study.yaml.
# Micro companies keep their headcount at every size: small groups exercise disclosure control.
ORGANISATIONS: tuple[tuple[str, str, str, str, dict[str, int]], ...] = tuple(
    (str(name), spec["actor"], spec["sector"], spec["size"], dict(spec["units"]))
    for name, spec in _STUDY["organisations"].items()
)
CODED_ORGANISATIONS: tuple[str, ...] = tuple(_DATA["coded_organisations"])

_QWL = _DATA["qwl"]
QWL_BASELINE: float = _QWL["baseline"]
QWL_GAIN_PARTICIPANT: tuple[float, ...] = tuple(_QWL["gain_participant"])
QWL_GAIN_OTHER: tuple[float, ...] = tuple(_QWL["gain_other"])
QWL_SD: dict[str, float] = _QWL["sd"]
QWL_ORG_DRIFT: float = _QWL["organisation_drift"]
QWL_AREAS: dict[str, float] = _QWL["areas"]
QWL_AREA_NOISE: float = _QWL["area_noise"]
QWL_MISSING: float = _QWL["missing"]
QWL_AREA_MISSING: float = _QWL["area_missing"]

_ESIS = _DATA["esis"]
ESIS_LOADINGS: tuple[float, ...] = tuple(_ESIS["loadings"])
ESIS_ITEMS = tuple(f"esis_{i}" for i in range(1, len(ESIS_LOADINGS) + 1))
ESIS_CUTS: tuple[float, ...] = tuple(_ESIS["cuts"])
ESIS_SHIFT_PARTICIPANT: tuple[float, ...] = tuple(_ESIS["shift_participant"])
ESIS_SHIFT_OTHER: tuple[float, ...] = tuple(_ESIS["shift_other"])
ESIS_ITEM_MISSING: float = _ESIS["item_missing"]
ESIS_PARTIAL: float = _ESIS["partial"]

_KYKY = _DATA["kykyviisari"]
KYKY_AREAS: dict[str, float] = _KYKY["areas"]
FEEDBACK_CORRELATION: float = _DATA["feedback_correlation"]

RESPONSE_COLUMNS = [
    "round",
    "organisation",
    "unit",
    "respondent",
    "participant",
    "role",
    "qwl",
    *QWL_AREAS,
    *ESIS_ITEMS,
    "kykyviisari",
    *KYKY_AREAS,
]
OPEN_ANSWER_COLUMNS = [
    "answer_id",
    "round",
    "organisation",
    "unit",
    "participant",
    "role",
    "question",
    "text",
]
CODING_COLUMNS = [
    "segment", "coder", "code", "text", "document", "round", "organisation", "tone",
]  # fmt: skip
ACTIVITY_COLUMNS = [
    "date",
    "round",
    "actor",
    "organisation",
    "activity",
    "participants",
    "person_ids",
    "creative_methods",
    "reach",
]
FEEDBACK_COLUMNS = [
    "date",
    "round",
    "actor",
    "organisation",
    "activity",
    "satisfaction",
    "competence_growth",
    "goal_attainment",
]
FEEDBACK_ITEMS = ("satisfaction", "competence_growth", "goal_attainment")
FEEDBACK_PROBS: dict[str, tuple[float, ...]] = {  # P(1..5) per item
    item: tuple(_DATA["feedback"][item]) for item in FEEDBACK_ITEMS
}

# The codebook's themes (ids as in config/codebook.yaml) and their open-answer sentences:
# (positive sentences, negative sentences).
THEMES: tuple[str, ...] = tuple(str(c["id"]) for c in _CODEBOOK["codes"])
TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    theme: (tuple(s["positive"]), tuple(s["negative"])) for theme, s in _DATA["templates"].items()
}
OPENERS: tuple[str, ...] = tuple(_DATA["openers"])
CLOSERS_POSITIVE: tuple[str, ...] = tuple(_DATA["closers"]["positive"])
CLOSERS_NEGATIVE: tuple[str, ...] = tuple(_DATA["closers"]["negative"])
QUESTIONS: tuple[str, ...] = tuple(_DATA["questions"])
# Themes a second coder mixes up with the true one (adjacent in meaning).
NEIGHBOURS: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _DATA["neighbours"].items()}

_HETU_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def _identity_code(birth: str, century: str, individual: str) -> str:
    """A Finnish personal identity code ``ddmmyy C nnn X`` with a valid check character."""
    return f"{birth}{century}{individual}{_HETU_CHECK[int(birth + individual) % 31]}"


# Fake personal data planted in open answers so redaction gets exercised (data.yaml).
_PII = _DATA["planted_pii"]
PLANTED_PII: dict[str, tuple[str, ...]] = {
    "email": tuple(_PII["email"]),
    "phone": tuple(_PII["phone"]),
    "identity_code": tuple(_identity_code(*map(str, parts)) for parts in _PII["identity_code"]),
    "name": tuple(_PII["name"]),
}
_PII_SENTENCES: tuple[str, ...] = tuple(s.format(**PLANTED_PII) for s in _PII["sentences"])

_ACTIVITIES = _DATA["activities"]
TRAININGS_PER_YEAR: tuple[int, ...] = tuple(_ACTIVITIES["trainings_per_year"])
WORKSHOPS_PER_YEAR: tuple[int, ...] = tuple(_ACTIVITIES["workshops_per_year"])
TRAINING_COHORT: int = _ACTIVITIES["training_cohort"]
WORKSHOP_GROUP: int = _ACTIVITIES["workshop_group"]
MENTORING_GROUP: int = _ACTIVITIES["mentoring_group"]
MENTORING_ADOPTION_YEAR3: float = _ACTIVITIES["mentoring_adoption_year3"]


# --------------------------------------------------------------------------------------------
# The study's configuration: copies of config/study.yaml and config/codebook.yaml
# --------------------------------------------------------------------------------------------


def codebook_yaml() -> str:
    """The text of the demo's ``config/codebook.yaml``: the repository's, byte for byte."""
    return _CODEBOOK_TEXT


def _replace_once(text: str, pattern: str, replace: Callable[[re.Match], str], what: str) -> str:
    out, n = re.subn(pattern, replace, text, count=1, flags=re.MULTILINE)
    if n != 1:
        raise ConfigError(
            f"{SOURCE_DIR / 'study.yaml'}: cannot rewrite {what} for another demo size or seed "
            f"(expected a line matching {pattern!r})"
        )
    return out


def study_yaml(*, seed: int = DEFAULT_SEED, respondents: int = DEFAULT_RESPONDENTS) -> str:
    """The text of the demo's ``config/study.yaml``.

    The repository's ``config/study.yaml`` byte for byte when ``seed`` and ``respondents`` are
    the ones it was written for; otherwise with the seed and size in the header comment, the
    ``seed:`` and ``demo:`` lines and the headcounts of ``organisations:`` rewritten (that
    section is written anew, without comments of its own); the rest keeps its text.
    """
    base_seed = int(_STUDY["seed"])
    if seed == base_seed and respondents == DEFAULT_RESPONDENTS:
        return _STUDY_TEXT
    lines = _STUDY_TEXT.splitlines(keepends=True)
    n_header = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    header, body = "".join(lines[:n_header]), "".join(lines[n_header:])
    header = re.sub(rf"\b{base_seed}\b", str(seed), header)
    header = re.sub(rf"\b{DEFAULT_RESPONDENTS}\b", str(respondents), header)
    body = _replace_once(body, r"^seed:.*$", lambda _m: f"seed: {seed}", "seed:")
    if respondents != DEFAULT_RESPONDENTS:
        body = _replace_once(
            body,
            r"^(demo:.*\brespondents: )\d+",
            lambda m: f"{m.group(1)}{respondents}",
            "demo: {respondents: ...}",
        )
        organisations: dict[str, Any] = {}
        for u in _units(respondents):
            spec = _STUDY["organisations"][u.organisation]
            organisations.setdefault(u.organisation, dict(spec, units={}))["units"][u.unit] = (
                u.headcount
            )
        section = yaml.safe_dump(
            {"organisations": organisations},
            sort_keys=False,
            allow_unicode=True,
            width=100,
            default_flow_style=None,
        )
        body = _replace_once(
            body, r"^organisations:.*\n(?:[ \t].*\n|\n)*", lambda _m: section, "organisations:"
        )
    return header + body


# --------------------------------------------------------------------------------------------
# Structure: organisations, units, headcounts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    organisation: str
    actor: str
    sector: str
    size: str
    unit: str
    headcount: int
    coded: bool


def _units(respondents: int) -> list[_Unit]:
    """Units with headcounts scaled from study.yaml's (the default size) to ``respondents``:
    micro companies keep theirs, the others share the rest of the total in proportion."""
    total = sum(sum(u.values()) for *_, u in ORGANISATIONS)
    fixed = sum(sum(u.values()) for *_, size, u in ORGANISATIONS if size == "micro")
    factor = max(total * respondents / DEFAULT_RESPONDENTS - fixed, 1.0) / (total - fixed)
    out = []
    for org, actor, sector, size, units in ORGANISATIONS:
        for name, base in units.items():
            head = base if size == "micro" else max(2, round(base * factor))
            out.append(_Unit(org, actor, sector, size, name, head, org in CODED_ORGANISATIONS))
    return out


# --------------------------------------------------------------------------------------------
# Population and survey responses
# --------------------------------------------------------------------------------------------


@dataclass
class _Population:
    units: list[_Unit]
    slot_unit: np.ndarray  # (S,) unit index of each position
    occupant: np.ndarray  # (S, R) person id holding the position in each round
    participant: np.ndarray  # (P,) bool
    supervisor: np.ndarray  # (P,) bool
    qwl_person: np.ndarray  # (P,) person effect on QWL
    esis_person: np.ndarray  # (P,) person effect on the ESIS latent
    code: np.ndarray  # (P,) int: pseudonymous respondent code number (unique)
    project_id: np.ndarray  # (P,) int: programme participant id number (unique)


def _unique_codes(rng: np.random.Generator, n: int, space: int) -> np.ndarray:
    return rng.choice(space, size=n, replace=False)


def _population(rng: np.random.Generator, units: list[_Unit], respondents: int) -> _Population:
    n_rounds = len(ROUNDS)
    heads = np.array([u.headcount for u in units])
    slot_unit = np.repeat(np.arange(len(units)), heads)
    n_slots = len(slot_unit)
    occupant = np.empty((n_slots, n_rounds), dtype=np.int64)
    occupant[:, 0] = np.arange(n_slots)
    next_id = n_slots
    for r in range(1, n_rounds):
        leave = rng.random(n_slots) < TURNOVER
        occupant[:, r] = occupant[:, r - 1]
        occupant[leave, r] = np.arange(next_id, next_id + leave.sum())
        next_id += int(leave.sum())
    n_persons = next_id

    # Programme participants: a fixed number among the people there at T0, per actor,
    # plus a few newcomers who join later.
    scale = respondents / DEFAULT_RESPONDENTS
    participant = np.zeros(n_persons, dtype=bool)
    slot_actor = np.array([units[i].actor for i in slot_unit])
    for actor, target in ACTORS.items():
        slots = np.flatnonzero(slot_actor == actor)
        k = min(len(slots), max(2, round(target * scale * INITIAL_PARTICIPANT_SHARE)))
        participant[rng.choice(slots, size=k, replace=False)] = True
    participant[n_slots:] = rng.random(n_persons - n_slots) < NEWCOMER_PARTICIPANT

    p_super = np.where(participant, SUPERVISOR_SHARE["participant"], SUPERVISOR_SHARE["other"])
    supervisor = rng.random(n_persons) < p_super
    qwl_person = rng.normal(0.0, QWL_SD["person"], n_persons)
    esis_person = rng.normal(0.0, 0.65, n_persons)
    code = _unique_codes(rng, n_persons, 16**6)
    project_id = _unique_codes(rng, n_persons, 16**5)
    return _Population(
        units,
        slot_unit,
        occupant,
        participant,
        supervisor,
        qwl_person,
        esis_person,
        code,
        project_id,
    )


def _responses(rng: np.random.Generator, pop: _Population) -> pd.DataFrame:
    """One row per respondent per round, typed (floats, nullable integers), sorted."""
    units = pop.units
    n_units, n_rounds = len(units), len(ROUNDS)
    orgs = list(dict.fromkeys(u.organisation for u in units))
    unit_org = np.array([orgs.index(u.organisation) for u in units])

    org_effect = rng.normal(0.0, QWL_SD["organisation"], len(orgs))
    org_gain = np.clip(rng.normal(1.0, 0.3, len(orgs)), 0.2, None)  # heterogeneity of effects
    org_drift = rng.normal(0.0, QWL_ORG_DRIFT, len(orgs))  # everyone's yearly change, per org
    unit_effect = rng.normal(0.0, QWL_SD["unit"], n_units)
    rate = np.clip(rng.normal(RESPONSE_RATE, 0.06, (n_units, n_rounds)), 0.35, 0.85)

    answered = rng.random(pop.occupant.shape) < rate[pop.slot_unit]
    slot_idx, round_idx = np.nonzero(answered)
    person = pop.occupant[slot_idx, round_idx]
    unit_idx = pop.slot_unit[slot_idx]
    org_idx = unit_org[unit_idx]
    part = pop.participant[person]
    n = len(person)

    gain = np.where(
        part,
        np.asarray(QWL_GAIN_PARTICIPANT)[round_idx] * org_gain[org_idx],
        np.asarray(QWL_GAIN_OTHER)[round_idx],
    )
    qwl = (
        QWL_BASELINE
        + org_effect[org_idx]
        + unit_effect[unit_idx]
        + pop.qwl_person[person]
        + 2.0 * pop.supervisor[person]
        + 0.5 * part
        + gain
        + org_drift[org_idx] * round_idx
        + rng.normal(0.0, QWL_SD["occasion"], n)
    )
    qwl = np.round(np.clip(qwl, 0.0, 100.0), 1)
    areas = {}
    for col, offset in QWL_AREAS.items():
        value = np.clip(qwl + offset + rng.normal(0.0, QWL_AREA_NOISE, n), 0.0, 100.0)
        areas[col] = np.round(value, 1)
    qwl_missing = rng.random(n) < QWL_MISSING
    qwl[qwl_missing] = np.nan
    for col in QWL_AREAS:
        areas[col][qwl_missing | (rng.random(n) < QWL_AREA_MISSING)] = np.nan

    # ESIS: one factor; items = loading * latent + unique part, cut into 1..5.
    shift = np.where(
        part,
        np.asarray(ESIS_SHIFT_PARTICIPANT)[round_idx],
        np.asarray(ESIS_SHIFT_OTHER)[round_idx],
    )
    latent = (
        shift
        + 0.35 * pop.qwl_person[person] / QWL_SD["person"]
        + pop.esis_person[person]
        + rng.normal(0.0, 0.66, n)
    )
    loadings = np.asarray(ESIS_LOADINGS)
    unique = np.sqrt(1.0 - loadings**2)
    cuts = np.asarray(ESIS_CUTS)[None, :] + rng.normal(0.0, 0.1, (len(loadings), 1))
    y = latent[:, None] * loadings + rng.normal(0.0, 1.0, (n, len(loadings))) * unique
    items = 1.0 + (y[:, :, None] > cuts[None, :, :]).sum(axis=2)
    missing = rng.random(items.shape) < ESIS_ITEM_MISSING
    partial = np.flatnonzero(rng.random(n) < ESIS_PARTIAL)
    for row in partial:  # a few answer fewer than 8 items: no ESIS score for them
        k = int(rng.integers(3, 7))
        missing[row, rng.choice(len(loadings), size=k, replace=False)] = True
    items[missing] = np.nan

    role = np.where(pop.supervisor[person], "supervisor", "staff").astype(object)
    role[rng.random(n) < 0.01] = None
    coded = np.array([units[i].coded for i in unit_idx])
    respondent = np.full(n, None, dtype=object)
    respondent[coded] = [f"R-{c:06X}" for c in pop.code[person[coded]]]

    frame = pd.DataFrame(
        {
            "round": np.array([r[0] for r in ROUNDS])[round_idx],
            "organisation": np.array(orgs, dtype=object)[org_idx],
            "unit": np.array([u.unit for u in units], dtype=object)[unit_idx],
            "respondent": respondent,
            "participant": part.astype(int),
            "role": role,
            "qwl": qwl,
            **areas,
        }
    )
    for j, col in enumerate(ESIS_ITEMS):
        frame[col] = pd.array(items[:, j], dtype="Float64").astype("Int64")
    # Hidden helpers for the open answers; the row order within a unit is shuffled so that
    # anonymous rows cannot be matched across rounds by position.
    frame["_round_idx"] = round_idx
    frame["_order"] = rng.permutation(n)
    frame = frame.sort_values(
        ["_round_idx", "organisation", "unit", "respondent", "_order"],
        kind="mergesort",
        na_position="last",
    ).reset_index(drop=True)
    return frame


# --------------------------------------------------------------------------------------------
# Open answers and codings
# --------------------------------------------------------------------------------------------


def _theme_weights(round_idx: np.ndarray, part: np.ndarray) -> np.ndarray:
    """(n, themes) probabilities: positive themes grow among participants in later rounds."""
    r = round_idx.astype(float)
    p = part.astype(float)
    w = np.ones((len(r), len(THEMES)))
    for j, theme in enumerate(THEMES):
        if theme == "workload":
            w[:, j] = 1.8 - 0.15 * r * p
        elif theme == "change_fatigue":
            w[:, j] = np.where(r <= 1, 1.5, 1.0) - 0.1 * r * p
        elif theme in ("mentoring", "peer_learning"):
            w[:, j] = 0.25 + 1.0 * p * (r > 0)
        else:
            w[:, j] = 1.0 + 0.2 * r * p
    return w / w.sum(axis=1, keepdims=True)


def _draw(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row from row-wise probabilities."""
    cum = probs.cumsum(axis=1)
    u = rng.random(len(probs))[:, None] * cum[:, -1:]
    return (u > cum).sum(axis=1)


def _sentence(rng: np.random.Generator, theme: str, positive: bool) -> str:
    options = TEMPLATES[theme][0 if positive else 1]
    return options[int(rng.integers(len(options)))]


def _open_answers(
    rng: np.random.Generator, responses: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Finnish open answers (public columns) and their true themes (for the coders)."""
    part = responses["participant"].to_numpy()
    round_idx = responses["_round_idx"].to_numpy()
    writes = rng.random(len(responses)) < np.where(part == 1, 0.28, 0.16)
    src = responses[writes].reset_index(drop=True)
    r_idx, p = round_idx[writes], part[writes]
    n = len(src)
    weights = _theme_weights(r_idx, p)
    primary = _draw(rng, weights)
    second_w = weights.copy()
    second_w[np.arange(n), primary] = 0.0
    secondary = np.where(rng.random(n) < 0.15, _draw(rng, second_w), -1)
    neg_theme = np.isin(np.asarray(THEMES), ("workload", "change_fatigue"))
    p_pos = np.where(
        neg_theme[primary], 0.1 + 0.05 * r_idx * p, 0.4 + 0.1 * r_idx * p + 0.03 * r_idx
    )
    positive = rng.random(n) < p_pos
    texts, second_positive = [], np.zeros(n, dtype=bool)
    for i in range(n):
        theme = THEMES[primary[i]]
        opener = OPENERS[int(rng.integers(len(OPENERS)))]
        first = _sentence(rng, theme, bool(positive[i]))
        text = opener + (first[0].lower() + first[1:] if opener else first)
        if secondary[i] >= 0:
            second_positive[i] = bool(rng.random() < p_pos[i])
            text += " " + _sentence(rng, THEMES[secondary[i]], bool(second_positive[i]))
        closers = CLOSERS_POSITIVE if positive[i] else CLOSERS_NEGATIVE
        text += closers[int(rng.integers(len(closers)))]
        texts.append(text)
    if n:  # plant fake personal data (several sentences share an answer if there are few)
        hosts = rng.choice(n, size=min(n, len(_PII_SENTENCES)), replace=False)
        for k, sentence in enumerate(_PII_SENTENCES):
            host = int(hosts[k % len(hosts)])
            texts[host] = f"{texts[host]} {sentence}"
    question = np.asarray(QUESTIONS, dtype=object)[rng.integers(len(QUESTIONS), size=n)]
    answers = pd.DataFrame(
        {
            "round": src["round"],
            "organisation": src["organisation"],
            "unit": src["unit"],
            "participant": src["participant"],
            "role": src["role"],
            "question": question,
            "text": texts,
            "_round_idx": r_idx,
            "_order": rng.permutation(n),
            "_primary": primary,
            "_secondary": secondary,
            "_tone": _true_tones(positive, second_positive, secondary >= 0),
        }
    )
    answers = answers.sort_values(
        ["_round_idx", "organisation", "unit", "question", "_order"], kind="mergesort"
    ).reset_index(drop=True)
    width = max(5, len(str(n)))
    answers.insert(0, "answer_id", [f"A{i:0{width}d}" for i in range(1, n + 1)])
    return answers[OPEN_ANSWER_COLUMNS], answers


def _true_tones(first: np.ndarray, second: np.ndarray, has_second: np.ndarray) -> np.ndarray:
    """The tone of each answer as written: the tone of its sentence(s) (the closer follows the
    first), ``mixed`` when a second sentence goes the other way."""
    tone = np.where(first, "positive", "negative").astype(object)
    return np.where(has_second & (first != second), "mixed", tone)


# How often a coder reads an answer's tone as written (else as the nearest other tone).
TONE_AGREEMENT = {"coder_a": 0.92, "coder_b": 0.85}


def _coder_tone(rng: np.random.Generator, true: str, coder: str) -> str:
    """A coder's reading of an answer's tone: as written, or mixed / neutral (a positive or
    negative answer) or one of its two sides (a mixed answer)."""
    if rng.random() < TONE_AGREEMENT[coder]:
        return true
    options = ("positive", "negative") if true == "mixed" else ("mixed", "neutral")
    return options[int(rng.integers(len(options)))]


def _neighbour(rng: np.random.Generator, theme: str) -> str:
    options = NEIGHBOURS[theme]
    return options[int(rng.integers(len(options)))]


def _codings(
    rng: np.random.Generator,
    answers: pd.DataFrame,
    respondents: int,
    tone_rng: np.random.Generator,
) -> pd.DataFrame:
    """coder_a codes every answer; coder_b double-codes a subset (for inter-coder reliability)
    and disagrees realistically. Each coder also gives each answer a tone (``tone_rng``, its own
    stream: the codes are those drawn without tones), mostly as written (:func:`_coder_tone`)."""
    n_segments = min(len(answers), max(10, round(150 * respondents / DEFAULT_RESPONDENTS)))
    chosen = set(np.sort(rng.choice(len(answers), size=n_segments, replace=False)).tolist())
    rows = []
    # column lists, not answers.iloc[i]: a row lookup per answer was most of the demo's time
    # at national size; the draws are the same, in the same order
    for i, rec in enumerate(answers.to_dict("records")):
        true = THEMES[int(rec["_primary"])]
        second = THEMES[int(rec["_secondary"])] if rec["_secondary"] >= 0 else None
        codes: dict[str, list[str]] = {"coder_a": [], "coder_b": []}
        double = i in chosen
        u = rng.random()
        codes["coder_a"].append(true if u < 0.92 else _neighbour(rng, true))
        u = rng.random()
        if u < 0.76:
            codes["coder_b"].append(true)
        elif u < 0.93:
            codes["coder_b"].append(_neighbour(rng, true))
        if second is not None:
            if rng.random() < 0.75:
                codes["coder_a"].append(second)
            if rng.random() < 0.5:
                codes["coder_b"].append(second)
        if not double:
            codes["coder_b"].clear()
        for coder, applied in codes.items():
            tone = _coder_tone(tone_rng, str(rec["_tone"]), coder) if applied else ""
            for code in dict.fromkeys(applied):
                rows.append(
                    {
                        "segment": rec["answer_id"],
                        "coder": coder,
                        "code": code,
                        "text": rec["text"],
                        "document": "open_answers",
                        "round": rec["round"],
                        "organisation": rec["organisation"],
                        "tone": tone,
                    }
                )
    frame = pd.DataFrame(rows, columns=CODING_COLUMNS)
    return frame.sort_values(["segment", "coder", "code"], kind="mergesort")


# --------------------------------------------------------------------------------------------
# Activity records and training feedback
# --------------------------------------------------------------------------------------------


def _day(start: dt.date, offset: int) -> str:
    return (start + dt.timedelta(days=int(offset))).isoformat()


def _split(ids: list[str], size: int) -> list[list[str]]:
    if not ids:
        return []
    k = math.ceil(len(ids) / size)
    return [list(chunk) for chunk in np.array_split(np.asarray(ids, dtype=object), k)]


@functools.cache
def _cdf(probs: tuple[float, ...]) -> list[float]:
    """The cumulative probabilities ``Generator.choice`` looks a uniform draw up in."""
    cdf = np.cumsum(probs)
    return (cdf / cdf[-1]).tolist()


def _activities(rng: np.random.Generator, pop: _Population) -> pd.DataFrame:
    """Trainings, workshops, mentoring meetings, seminars and communication per project year."""
    units = pop.units
    orgs = list(dict.fromkeys(u.organisation for u in units))
    org_actor = {u.organisation: u.actor for u in units}
    slot_org = np.array([units[i].organisation for i in pop.slot_unit])
    ids = np.array([f"P-{c:05X}" for c in pop.project_id], dtype=object)
    rows: list[dict[str, Any]] = []

    def add(
        date: str,
        rnd: str,
        actor: str,
        org: str | None,
        activity: str,
        people: list[str] | tuple = (),
        *,
        extra: int = 0,
        creative: int | None = None,
        reach: int | None = None,
        group_end: int = 0,
    ) -> None:
        people = sorted(people)
        rows.append(
            {
                "date": date,
                "round": rnd,
                "actor": actor,
                "organisation": org,
                "activity": activity,
                "participants": None if activity == "communication" else len(people) + extra,
                "person_ids": ";".join(people) or None,
                "creative_methods": creative,
                "reach": reach,
                "_group_end": group_end,  # members of a mentoring group, at its last meeting
            }
        )

    actor_of_slot = np.array([org_actor[o] for o in slot_org], dtype=object)

    def present(round_index: int, *, org: str | None = None, actor: str | None = None) -> list:
        persons = pop.occupant[:, round_index]
        mask = pop.participant[persons].copy()
        if org is not None:
            mask &= slot_org == org
        if actor is not None:
            mask &= actor_of_slot == actor
        return sorted(ids[persons[mask]])

    def attend(people: list[str], share: float) -> list[str]:
        keep = rng.random(len(people)) < share
        return [p for p, k in zip(people, keep, strict=True) if k]

    def creative(probs: tuple[float, ...]) -> int:
        # rng.choice(len(probs), p=probs) by hand: the same one uniform draw and the same
        # cumulative-probability lookup, without choice's checks (2.6 s at national size)
        cdf = _cdf(probs)
        return bisect.bisect_right(cdf, rng.random())

    kickoff = (ROUNDS[0][2] - dt.timedelta(days=7)).isoformat()
    for actor in ACTORS:
        people = attend(present(0, actor=actor), 0.4)
        extra = int(rng.integers(10, 40))
        add(kickoff, ROUNDS[0][0], actor, None, "seminar", people, extra=extra, creative=1)

    adopt_year3 = {org: bool(rng.random() < MENTORING_ADOPTION_YEAR3) for org in orgs}
    for year in (1, 2, 3):
        rid, start = ROUNDS[year][0], ROUNDS[year - 1][2] + dt.timedelta(days=1)
        for org in orgs:
            actor = org_actor[org]
            people = list(rng.permutation(np.asarray(present(year, org=org), dtype=object)))
            for cohort in _split(people, TRAINING_COHORT):
                for _ in range(TRAININGS_PER_YEAR[year - 1]):
                    date = _day(start, rng.integers(20, 340))
                    attendees = attend(cohort, 0.8)
                    methods = creative((0.2, 0.35, 0.3, 0.15))
                    add(date, rid, actor, org, "training", attendees, creative=methods)
            for group in _split(people, WORKSHOP_GROUP):
                for _ in range(WORKSHOPS_PER_YEAR[year - 1]):
                    date = _day(start, rng.integers(20, 340))
                    attendees = attend(group, 0.75)
                    methods = creative((0.1, 0.3, 0.35, 0.25))
                    add(date, rid, actor, org, "workshop", attendees, creative=methods)
            if year < 3 or adopt_year3[org]:
                for group in _split(people, MENTORING_GROUP):
                    meetings = int(rng.integers(6, 9))  # 6-8 x 1.5 h per group per year
                    first, gap = int(rng.integers(15, 60)), int(rng.integers(21, 36))
                    for m in range(meetings):
                        date = _day(start, first + m * gap)
                        attendees = attend(group, 0.85)
                        methods = creative((0.4, 0.4, 0.2))
                        end = len(group) if m == meetings - 1 else 0
                        add(
                            date,
                            rid,
                            actor,
                            org,
                            "mentoring_meeting",
                            attendees,
                            creative=methods,
                            group_end=end,
                        )
        for actor in ACTORS:
            date = _day(start, rng.integers(150, 250))
            people = attend(present(year, actor=actor), 0.3)
            extra = int(rng.integers(30, 150))
            add(
                date,
                rid,
                actor,
                None,
                "seminar",
                people,
                extra=extra,
                creative=int(rng.integers(0, 3)),
            )
            for _ in range(int(rng.integers(6, 11))):
                date = _day(start, rng.integers(0, 365))
                add(date, rid, actor, None, "communication", reach=int(rng.integers(50, 2500)))
    frame = pd.DataFrame(rows, columns=[*ACTIVITY_COLUMNS, "_group_end"])
    for col in ("participants", "creative_methods", "reach"):
        frame[col] = frame[col].astype("Int64")
    return frame.sort_values(
        ["date", "actor", "organisation", "activity", "person_ids"],
        kind="mergesort",
        na_position="first",
    ).reset_index(drop=True)


def _feedback(rng: np.random.Generator, activities: pd.DataFrame) -> pd.DataFrame:
    """One row per feedback answer after trainings, workshops, seminars and mentoring groups."""
    share = {"training": 0.7, "workshop": 0.6, "seminar": 0.3}
    acts = activities[activities["activity"].isin(list(share))]
    n_answers = rng.binomial(
        acts["participants"].to_numpy(dtype=np.int64),
        acts["activity"].map(share).to_numpy(dtype=float),
    )
    base = acts.loc[acts.index.repeat(n_answers), ["date", "round", "actor", "organisation"]]
    base["activity"] = acts["activity"].repeat(n_answers).to_numpy()
    # Mentoring groups give feedback once a year, at their last meeting.
    last = activities[activities["_group_end"] > 0]
    n_ment = rng.binomial(last["_group_end"].to_numpy(dtype=np.int64), 0.6)
    ment_rows = last.loc[last.index.repeat(n_ment), ["date", "round", "actor", "organisation"]]
    ment_rows["activity"] = "mentoring_meeting"
    frame = pd.concat([base, ment_rows], ignore_index=True)
    n = len(frame)
    answers = _feedback_answers(rng, n)
    for item in FEEDBACK_ITEMS:
        values = pd.array(answers[item], dtype="Int64")
        values[rng.random(n) < 0.015] = pd.NA
        frame[item] = values
    return frame[FEEDBACK_COLUMNS].sort_values(FEEDBACK_COLUMNS, kind="mergesort")


def _feedback_answers(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """1..5 answers of ``n`` feedback forms: a common factor (the answer's general view of the
    activity, weight ``FEEDBACK_CORRELATION``) plus an item's own part, cut at the normal
    quantiles of the item's ``FEEDBACK_PROBS`` (a Gaussian copula: each item keeps its
    distribution, and the items correlate, as real feedback scales do)."""
    from scipy import stats

    common = rng.normal(0.0, 1.0, n)
    w = math.sqrt(FEEDBACK_CORRELATION)
    out = {}
    for item in FEEDBACK_ITEMS:
        latent = w * common + math.sqrt(1.0 - w * w) * rng.normal(0.0, 1.0, n)
        cuts = stats.norm.ppf(np.cumsum(FEEDBACK_PROBS[item])[:-1])
        out[item] = 1 + np.searchsorted(cuts, latent)
    return out


def _kykyviisari(rng: np.random.Generator, responses: pd.DataFrame) -> pd.DataFrame:
    """Kykyviisari scores (0-10) of each response row: work ability (whole numbers, as the
    tool asks it) correlated with the row's QWL and rising a little among participants, and
    the tool's areas following work ability; some respondents skip the tool. Its own random
    stream, so the other columns keep their numbers."""
    n = len(responses)
    qwl = responses["qwl"].to_numpy(dtype=float)
    z = np.nan_to_num((qwl - np.nanmean(qwl)) / np.nanstd(qwl))  # no QWL: average
    r = _KYKY["qwl_correlation"]
    round_idx = responses["_round_idx"].to_numpy()
    part = responses["participant"].to_numpy() == 1
    gain = np.where(
        part,
        np.asarray(_KYKY["gain_participant"])[round_idx],
        np.asarray(_KYKY["gain_other"])[round_idx],
    )
    sd = _KYKY["sd"]
    ability = _KYKY["baseline"] + gain + sd * (r * z + math.sqrt(1 - r * r) * rng.normal(size=n))
    ability = np.clip(np.round(ability), 0.0, 10.0)
    skipped = rng.random(n) < _KYKY["missing"]
    out = {"kykyviisari": np.where(skipped, np.nan, ability)}
    for col, mean in KYKY_AREAS.items():
        value = mean + _KYKY["area_loading"] * (ability - _KYKY["baseline"])
        value = np.round(np.clip(value + rng.normal(0.0, _KYKY["area_noise"], n), 0.0, 10.0), 1)
        value[skipped | (rng.random(n) < _KYKY["area_missing"])] = np.nan
        out[col] = value
    return pd.DataFrame(out, index=responses.index)


# --------------------------------------------------------------------------------------------
# Workshop notes (documents) and feedback comments
# --------------------------------------------------------------------------------------------

# Two fictional workshop notes, fixed text (deterministic without a random stream): one .md with
# YAML front matter (its documents.csv row gives only the file), one .txt described in
# documents.csv. One planted e-mail address and phone number show the redaction.
DOCUMENTS_CSV_COLUMNS = ["file", "round", "organisation", "kind", "title", "date"]
DEMO_DOCUMENTS: tuple[dict[str, Any], ...] = (
    {
        "file": "documents/tyopaja-hyvinvointialue-a-t1.md",
        "meta": {
            "round": "T1",
            "organisation": "Hyvinvointialue A",
            "kind": "workshop_notes",
            "title": "Kehittämistyöpaja, kotihoito",
            "date": "2026-03-12",
        },
        "front_matter": True,
        "paragraphs": (
            ("# Kehittämistyöpaja: kotihoito", None),
            (
                "Työpajaan osallistui kahdeksan työntekijää kahdesta tiimistä. Aloitimme "
                "kuvakorteilla: jokainen valitsi kortin, joka kuvaa tiimin arkea nyt.",
                ("dialogue", "dialogue", "neutral"),
            ),
            (
                "Moni kertoi, että ongelmista uskaltaa puhua aiempaa avoimemmin ja että virheistä "
                "keskustellaan ilman syyllistämistä.",
                ("psychological_safety", "psychological_safety", "positive"),
            ),
            ("## Kuormitus", None),
            (
                "Kiire ja työkuormitus nousivat esiin: iltavuoroissa käyntejä on liikaa, eikä "
                "taukoja ehdi pitää. Tiimi toivoi, että käyntien suunnitteluun otettaisiin "
                "mukaan hoitajat.",
                ("workload", "workload", "negative"),
            ),
            (
                "Sovimme kokeilusta: tiimi ideoi itse uuden vuorolistan mallin ja testaa sitä "
                "kuukauden. Lisätietoja antaa kehittäjä (kehittaja.demo@example.org).",
                ("co_development", "creativity", "positive"),
            ),
        ),
    },
    {
        "file": "documents/tyopaja-hoivakoti-kaarna-t2.txt",
        "meta": {
            "round": "T2",
            "organisation": "Hoivakoti Kaarna Oy",
            "kind": "workshop_notes",
            "title": "Vertaisoppimisen työpaja",
            "date": "2027-02-08",
        },
        "front_matter": False,
        "paragraphs": (
            (
                "Työpajassa jaettiin kokemuksia vertaisryhmistä. Vuoron vaihteessa pidettävät "
                "lyhyet palaverit ovat auttaneet oppimaan toisilta.",
                ("peer_learning", "peer_learning", "positive"),
            ),
            (
                "Esihenkilö kertoi kuuntelevansa tiimiä enemmän, ja työntekijät kokivat, että "
                "heidän äänensä kuuluu päätöksissä.",
                ("being_heard", "leadership", "positive"),
            ),
            (
                "Osa koki muutokset raskaiksi: uusia käytäntöjä tulee liian tiuhaan. "
                "Yhteyshenkilön numero palautetta varten on 040 123 4567.",
                ("change_fatigue", "change_fatigue", "negative"),
            ),
        ),
    },
)
COMMENTS: tuple[str, ...] = (
    "Hyvä ja käytännöllinen päivä, sain ideoita omaan tiimiin.",
    "Keskustelu oli avointa, ja kaikki pääsivät ääneen.",
    "Liian kiireinen aikataulu, olisin kaivannut enemmän aikaa harjoituksiin.",
    "Vertaisten kokemukset olivat antoisimpia.",
    "Luovat menetelmät tuntuivat aluksi oudoilta, mutta toimivat hyvin.",
    "Toivoisin jatkoa ja seurantaa siihen, miten ideat viedään käytäntöön.",
)


def document_text(doc: dict[str, Any]) -> str:
    """A demo document's file content (front matter first for the .md)."""
    body = "\n\n".join(text for text, _ in doc["paragraphs"]) + "\n"
    if not doc["front_matter"]:
        return body
    meta = yaml.safe_dump(doc["meta"], sort_keys=False, allow_unicode=True, width=100)
    return f"---\n{meta}---\n\n{body}"


def _documents_csv() -> pd.DataFrame:
    rows = []
    for doc in DEMO_DOCUMENTS:
        meta = {} if doc["front_matter"] else doc["meta"]
        rows.append({"file": doc["file"], **meta})
    return pd.DataFrame(rows, columns=DOCUMENTS_CSV_COLUMNS)


def _document_codings() -> pd.DataFrame:
    """Both coders code every paragraph of the demo documents (ids ``<file>#p<k>``, as
    :mod:`evaluation.io.documents` segments them; headings are not segments)."""
    rows = []
    for doc in DEMO_DOCUMENTS:
        document = doc["file"]
        k = 0
        for text, codes in doc["paragraphs"]:
            if codes is None:
                continue
            k += 1
            code_a, code_b, tone = codes
            for coder, code in (("coder_a", code_a), ("coder_b", code_b)):
                meta = doc["meta"]
                rows.append({"segment": f"{document}#p{k}", "coder": coder, "code": code,
                             "text": text, "document": document, "round": meta["round"],
                             "organisation": meta["organisation"], "tone": tone})  # fmt: skip
    return pd.DataFrame(rows, columns=CODING_COLUMNS)


def _feedback_comments(rng: np.random.Generator, feedback: pd.DataFrame) -> pd.DataFrame:
    """About one feedback answer in eight gets a free-text comment (column ``comment``)."""
    out = feedback.copy()
    has = rng.random(len(out)) < 0.125
    picks = rng.integers(0, len(COMMENTS), size=len(out))
    out["comment"] = [COMMENTS[i] if h else "" for h, i in zip(has, picks, strict=True)]
    return out


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


RISK_COLUMNS = ["round", "organisation", "unit", "indicator", "value"]


def _risks(rng: np.random.Generator, responses: pd.DataFrame) -> pd.DataFrame:
    """The QWL vendor's unit risk indicators (``data/raw/risks.csv``): per round, unit and
    indicator of ``data.yaml`` ``risks:``, the share of staff at risk (%), higher where the
    unit's mean QWL that round is lower, a little lower every round, clipped to 0-100 and
    rounded to 0.1 (as a vendor reports it). Units with no QWL answer that round have no row."""
    params = _DATA["risks"]
    round_pos = {r[0]: i for i, r in enumerate(ROUNDS)}
    means = (
        responses.groupby(["round", "organisation", "unit"], sort=False)["qwl"]
        .mean()
        .dropna()
        .reset_index()
    )
    means["position"] = means["round"].map(round_pos)
    means = means.sort_values(["position", "organisation", "unit"], kind="mergesort")
    rows = []
    for rec in means.itertuples(index=False):
        for indicator, p in params.items():
            value = (
                p["at_qwl_60"]
                + p["per_qwl_point"] * (60.0 - rec.qwl)
                + p["per_round"] * rec.position
                + rng.normal(0.0, p["sd"])
            )
            rows.append({"round": rec.round, "organisation": rec.organisation,
                         "unit": rec.unit, "indicator": indicator,
                         "value": round(float(np.clip(value, 0.0, 100.0)), 1)})  # fmt: skip
    return pd.DataFrame(rows, columns=RISK_COLUMNS)


def _as_text(column: pd.Series) -> pd.Series:
    """A number column as the text ``to_csv`` writes for it (floats ``%.1f``, integers as they
    are, missing empty), each distinct value formatted once: ``to_csv`` formats every cell in
    Python, which was most of the demo's time at national size. Other columns as they are."""
    kind = column.dtype.kind
    if kind not in "fiu":
        return column
    if kind == "f":
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        keys, fmt = values.view(np.int64), "%.1f".__mod__  # by bits: -0.0 prints as -0.0
    else:
        values = keys = column.to_numpy(dtype="int64", na_value=0)
        fmt = str
    codes, distinct = pd.factorize(keys)
    text = np.array([fmt(v) for v in distinct.view(values.dtype).tolist()], dtype=object)[codes]
    text[column.isna().to_numpy()] = ""
    return pd.Series(text, index=column.index, name=column.name, dtype=object)


def _csv(frame: pd.DataFrame, columns: list[str]) -> str:
    return frame[columns].apply(_as_text).to_csv(index=False, lineterminator="\n", na_rep="")


# From this many respondents a round on, the CSV files are formatted in a second process while
# the rest of the study is drawn (to_csv holds the GIL): at 400,000 the responses alone are
# 10 s of formatting. Below, the process's start would cost more than it saves.
PARALLEL_RESPONDENTS = 50_000


@contextlib.contextmanager
def _csv_writer(respondents: int) -> Iterator[Callable[[pd.DataFrame, list[str]], Future]]:
    """A function that starts formatting a frame's CSV text (:func:`_csv`) and returns its
    future: in a second process for a big demo, else at once."""
    if respondents < PARALLEL_RESPONDENTS:

        def now(frame: pd.DataFrame, columns: list[str]) -> Future:
            done: Future = Future()
            done.set_result(_csv(frame, columns))
            return done

        yield now
        return
    pool = ProcessPoolExecutor(max_workers=1, mp_context=spawn_context())
    try:
        yield lambda frame, columns: pool.submit(_csv, frame[columns], columns)
    finally:
        pool.shutdown(cancel_futures=True)


def _differs(path: Path, text: str) -> bool:
    """Whether something is at ``path`` with other content than ``text``."""
    if not path.exists() and not path.is_symlink():
        return False
    try:
        return path.read_bytes() != text.encode("utf-8")
    except OSError:  # a folder, a dangling link, unreadable: not ours to replace
        return True


def write_demo(
    study_dir: Path,
    *,
    respondents: int = DEFAULT_RESPONDENTS,
    seed: int = DEFAULT_SEED,
    force: bool = False,
) -> list[Path]:
    """Write the deterministic synthetic Luova suunta study into ``study_dir``.

    Writes ``config/study.yaml``, ``config/codebook.yaml`` and ``data/raw/responses.csv``,
    ``codings.csv``, ``open_answers.csv``, ``activities.csv``, ``feedback.csv``, ``risks.csv``;
    each file
    atomically (temporary file beside it, then ``os.replace``). Nothing else in ``study_dir``
    is touched. The same ``seed`` and ``respondents`` give byte-identical files. A file that
    is already there with other content (an existing study) is not overwritten unless
    ``force``: :class:`~evaluation.errors.OverwriteError` and nothing is written. A file with
    exactly the content it would get is accepted (writing the demo twice is harmless).

    Parameters
    ----------
    study_dir : Path
        The study folder (created if missing).
    respondents : int
        About this many respondents per round (at least 20); headcounts, participants,
        open answers, coded segments and activities scale with it.
    seed : int
        Seed of ``numpy.random.default_rng``; recorded in ``study.yaml``.
    force : bool
        Overwrite files whose content differs from the demo's.

    Returns
    -------
    list of Path
        The files written, in the order above.

    Examples
    --------
    >>> files = write_demo(Path("demo-study"), respondents=300)  # doctest: +SKIP
    """
    if respondents < MIN_RESPONDENTS:
        raise UsageError(f"--respondents must be at least {MIN_RESPONDENTS} (got {respondents})")
    root = Path(study_dir).expanduser().resolve()
    streams = dict(
        zip(
            (
                "population",
                "responses",
                "open_answers",
                "codings",
                "activities",
                "feedback",
                "tones",
                "risks",
                "comments",
                "kykyviisari",
            ),
            # spawned children are numbered: adding one last ("tones", then "risks",
            # "comments", "kykyviisari") leaves the others' numbers
            np.random.default_rng(seed).spawn(10),
            strict=True,
        )
    )
    raw = root / "data" / "raw"
    with _csv_writer(respondents) as csv:
        units = _units(respondents)
        pop = _population(streams["population"], units, respondents)
        responses = _responses(streams["responses"], pop)
        responses = responses.join(_kykyviisari(streams["kykyviisari"], responses))
        # each file's text is started as soon as its frame is drawn
        texts = {"responses": csv(responses, RESPONSE_COLUMNS)}
        open_answers, answers_full = _open_answers(streams["open_answers"], responses)
        texts["open_answers"] = csv(open_answers, OPEN_ANSWER_COLUMNS)
        codings = _codings(streams["codings"], answers_full, respondents, streams["tones"])
        codings = pd.concat([codings, _document_codings()], ignore_index=True).sort_values(
            ["segment", "coder", "code"], kind="mergesort"
        )
        texts["codings"] = csv(codings, CODING_COLUMNS)
        activities = _activities(streams["activities"], pop)
        texts["activities"] = csv(activities, ACTIVITY_COLUMNS)
        feedback = _feedback_comments(
            streams["comments"], _feedback(streams["feedback"], activities)
        )
        texts["feedback"] = csv(feedback, [*FEEDBACK_COLUMNS, "comment"])
        risks = _risks(streams["risks"], responses)
        texts["risks"] = csv(risks, RISK_COLUMNS)
        names = ("responses", "codings", "open_answers", "activities", "feedback", "risks")
        contents = {
            root / "config" / "study.yaml": study_yaml(seed=seed, respondents=respondents),
            root / "config" / "codebook.yaml": codebook_yaml(),
            **{raw / f"{name}.csv": texts[name].result() for name in names},
            raw / "documents.csv": _csv(_documents_csv(), DOCUMENTS_CSV_COLUMNS),
            **{raw / d["file"]: document_text(d) for d in DEMO_DOCUMENTS},
        }
    differ = [path for path, text in contents.items() if _differs(path, text)]
    if differ and not force:
        names = ", ".join(str(p.relative_to(root)) for p in differ)
        raise OverwriteError(
            f"{root} already holds a study: {names} would be overwritten by the demo's. "
            "Nothing was written; use another folder, or --force to overwrite them."
        )
    written = [write_text(path, text) for path, text in contents.items()]
    log.info(
        "demo study in %s: %d responses over %d rounds, %d open answers, %d codings, "
        "%d activities, %d feedback answers",
        root,
        len(responses),
        len(ROUNDS),
        len(open_answers),
        len(codings),
        len(activities),
        len(feedback),
    )
    return written
