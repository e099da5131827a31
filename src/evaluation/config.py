"""Study configuration: YAML -> frozen dataclasses.

Nothing study-specific lives in Python: rounds, instruments, item lists, cut-offs, targets and
options all come from ``config/study.yaml`` and the instrument definitions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from evaluation.errors import ConfigError
from evaluation.paths import DEFAULT_INSTRUMENTS, DEFAULT_LABELS, StudyPaths
from evaluation.safety import unsafe_id_reason

DATA_KEYS = ("responses", "summaries", "codings", "activities", "feedback", "open_answers")
GROUP_BYS = ("all", "actor", "organisation", "unit", "sector", "size", "role", "participant")


@dataclass(frozen=True)
class Round:
    id: str
    label: str
    date: str | None = None


@dataclass(frozen=True)
class Band:
    id: str
    upper: float | None  # exclusive upper bound; None = no upper bound


@dataclass(frozen=True)
class Instrument:
    """One instrument definition (``config/instruments/<id>.yaml``)."""

    id: str
    items: tuple[str, ...]
    range_min: float
    range_max: float
    integer: bool
    reverse: tuple[str, ...]
    score_method: Literal["mean", "sum", "column"]
    score_column: str | None
    min_answered: int
    parts: dict[str, str]
    bands: tuple[Band, ...]
    file: str
    source: str
    path: Path
    # Text answers read as numbers ("täysin samaa mieltä" -> 5), lower case, and codes that
    # mean "no answer" ("EOS", "en osaa sanoa", 9); both from the definition, see the docs.
    answer_labels: dict[str, float] = field(default_factory=dict)
    missing_codes: tuple[str, ...] = ()

    @property
    def value_columns(self) -> tuple[str, ...]:
        """Every raw column this instrument reads: items, the vendor score, area columns."""
        cols = list(self.items)
        if self.score_column:
            cols.append(self.score_column)
        cols.extend(self.parts.values())
        return tuple(dict.fromkeys(cols))

    @property
    def measures(self) -> tuple[str, ...]:
        """Measure names: the instrument id, then ``<id>_<part>`` for each area."""
        return (self.id, *(f"{self.id}_{p}" for p in self.parts))


@dataclass(frozen=True)
class Organisation:
    id: str
    actor: str | None = None
    sector: str | None = None
    size: str | None = None
    headcount: dict[str, int] = field(default_factory=dict)  # unit -> headcount


@dataclass(frozen=True)
class Study:
    """A study folder's configuration, with the instrument definitions it uses resolved."""

    name: str
    language: Literal["fi", "en"]
    rounds: tuple[Round, ...]
    baseline: str
    design: Literal["auto", "independent", "paired"]
    instruments: dict[str, Instrument]
    data: dict[str, tuple[Path, ...]]
    min_n: int
    seed: int
    columns: dict[str, str]
    organisations: dict[str, Organisation]
    analysis: dict[str, Any]
    targets: tuple[dict[str, Any], ...]
    paths: StudyPaths
    raw: dict[str, Any]

    @property
    def round_ids(self) -> list[str]:
        return [r.id for r in self.rounds]

    @property
    def measures(self) -> list[str]:
        """Measures scored from the responses file (not feedback), in config order."""
        return [m for i in self.instruments.values() if i.file == "responses" for m in i.measures]

    @property
    def correction(self) -> str:
        return self.analysis.get("correction", "holm")

    @property
    def group_bys(self) -> list[str]:
        return list(self.analysis.get("group_by", GROUP_BYS))

    def files(self, key: str) -> tuple[Path, ...]:
        return self.data.get(key, ())


def _fail(path: Path, message: str) -> ConfigError:
    return ConfigError(f"{path}: {message}")


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, with a clear error naming the file (and line) when it is broken."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    try:
        content = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise ConfigError(
            f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from None
    if not isinstance(content, dict):
        raise _fail(path, "expected a mapping of keys to values at the top level")
    return content


def instrument_file(instrument_id: str, paths: StudyPaths) -> Path:
    """The study's own definition if it has one, else the shipped default."""
    own = paths.instruments_dir / f"{instrument_id}.yaml"
    if own.is_file():
        return own
    shipped = DEFAULT_INSTRUMENTS / f"{instrument_id}.yaml"
    if shipped.is_file():
        return shipped
    known = sorted(p.stem for p in DEFAULT_INSTRUMENTS.glob("*.yaml"))
    raise ConfigError(
        f"{paths.study_yaml}: instrument '{instrument_id}' has no definition in "
        f"{paths.instruments_dir} and is not shipped (shipped: {', '.join(known)})"
    )


def load_instrument(path: Path) -> Instrument:
    raw = read_yaml(path)
    iid = raw.get("id") or path.stem
    _check_id(str(iid), path, "id")
    score = raw.get("score") or {}
    method = score.get("method", "mean")
    if method not in ("mean", "sum", "column"):
        raise _fail(path, f"score.method '{method}' is not one of mean, sum, column")
    items = tuple(str(i) for i in raw.get("items") or ())
    if method in ("mean", "sum") and not items:
        raise _fail(path, f"score.method '{method}' needs a non-empty `items` list")
    if method == "column" and not score.get("column"):
        raise _fail(path, "score.method 'column' needs score.column")
    rng = raw.get("range") or {}
    if "min" not in rng or "max" not in rng or rng["min"] >= rng["max"]:
        raise _fail(path, "`range` needs min < max, e.g. {min: 1, max: 5}")
    reverse = tuple(str(i) for i in raw.get("reverse") or ())
    unknown = sorted(set(reverse) - set(items))
    if unknown:
        raise _fail(path, f"reverse items not in `items`: {', '.join(unknown)}")
    min_answered = int(score.get("min_answered", len(items) or 1))
    if items and not 1 <= min_answered <= len(items):
        raise _fail(path, f"score.min_answered must be between 1 and {len(items)}")
    bands = tuple(Band(str(b["id"]), b.get("upper")) for b in raw.get("bands") or ())
    return Instrument(
        id=str(iid),
        items=items,
        range_min=float(rng["min"]),
        range_max=float(rng["max"]),
        integer=bool(raw.get("integer", False)),
        reverse=reverse,
        score_method=method,
        score_column=score.get("column"),
        min_answered=min_answered,
        parts={str(k): str(v) for k, v in (raw.get("parts") or {}).items()},
        bands=bands,
        file=str(raw.get("file", "responses")),
        source=str(raw.get("source", "")),
        path=path,
        answer_labels=_answer_labels(raw.get("answer_labels"), path),
        missing_codes=tuple(
            dict.fromkeys(
                [
                    *DEFAULT_MISSING_CODES,
                    *(str(c).strip().lower() for c in raw.get("missing") or ()),
                ]
            )
        ),
    )


# Answers that mean "no answer" in Finnish survey exports, in every instrument.
DEFAULT_MISSING_CODES = ("eos", "en osaa sanoa", "ei osaa sanoa", "en halua vastata")


def _answer_labels(raw: object, path: Path) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _fail(path, "`answer_labels` must map answer texts to numbers")
    out = {}
    for text, value in raw.items():
        try:
            out[str(text).strip().lower()] = float(value)
        except (TypeError, ValueError):
            message = f"answer_labels: {text!r} must map to a number, not {value!r}"
            raise _fail(path, message) from None
    return out


def _rounds(raw: list[Any], path: Path) -> tuple[Round, ...]:
    if not raw:
        raise _fail(path, "`rounds` must list at least two rounds, e.g. - {id: T0, label: ...}")
    out = []
    for i, r in enumerate(raw, start=1):
        if isinstance(r, str):
            r = {"id": r}
        if not isinstance(r, dict) or "id" not in r:
            raise _fail(path, f"rounds entry {i} needs an `id`")
        date = r.get("date")
        if isinstance(date, dt.date):
            date = date.isoformat()
        _check_id(str(r["id"]), path, f"rounds entry {i} `id`")
        out.append(Round(str(r["id"]), str(r.get("label", r["id"])), date))
    ids = [r.id for r in out]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise _fail(path, f"round ids appear twice: {', '.join(dupes)}")
    return tuple(out)


def _check_id(value: str, path: Path, key: str) -> None:
    """Ids name files (figures, reports): no path separators, ``..`` or control characters."""
    reason = unsafe_id_reason(value)
    if reason:
        raise _fail(
            path, f"{key}: {value!r} {reason}; an id names files, so use a plain name such as T1"
        )


def _organisations(raw: dict[str, Any] | None, path: Path) -> dict[str, Organisation]:
    out = {}
    for name, spec in (raw or {}).items():
        spec = spec or {}
        units = spec.get("units") or {}
        if not isinstance(units, dict):
            raise _fail(path, f"organisations.{name}.units must map unit name to headcount")
        out[str(name)] = Organisation(
            id=str(name),
            actor=spec.get("actor"),
            sector=spec.get("sector"),
            size=spec.get("size"),
            headcount={str(u): int(h) for u, h in units.items() if h is not None},
        )
    return out


def load_study(study_dir: str | Path = ".") -> Study:
    """Read ``config/study.yaml`` of a study folder and the instrument definitions it names."""
    paths = StudyPaths.of(study_dir)
    path = paths.study_yaml
    if not path.is_file():
        raise ConfigError(
            f"{path}: file not found. Is {paths.root} a study folder? "
            "(`evaluation demo --study DIR` writes an example)"
        )
    raw = read_yaml(path)
    for key in ("rounds", "baseline", "instruments", "data"):
        if key not in raw:
            raise _fail(path, f"missing required key `{key}` (see docs/data-contract.md)")
    rounds = _rounds(raw["rounds"], path)
    baseline = str(raw["baseline"])
    if baseline not in {r.id for r in rounds}:
        raise _fail(path, f"baseline '{baseline}' is not one of the rounds")
    design = raw.get("design", "auto")
    if design not in ("auto", "independent", "paired"):
        raise _fail(path, f"design '{design}' is not one of auto, independent, paired")
    language = raw.get("language", "fi")
    if language not in ("fi", "en"):
        raise _fail(path, f"language '{language}' is not one of fi, en")
    instruments = {}
    for iid in raw["instruments"] or []:
        _check_id(str(iid), path, "instruments")
        inst = load_instrument(instrument_file(str(iid), paths))
        instruments[inst.id] = inst
    data_raw = raw["data"] or {}
    unknown = sorted(set(data_raw) - set(DATA_KEYS))
    if unknown:
        raise _fail(path, f"unknown data keys {', '.join(unknown)} (known: {', '.join(DATA_KEYS)})")
    data = {}
    for key, value in data_raw.items():
        files = value if isinstance(value, list) else [value]
        data[key] = tuple(paths.resolve(f) for f in files if f)
    if not data.get("responses") and not data.get("summaries"):
        raise _fail(path, "`data` needs `responses` or `summaries`")
    disclosure = raw.get("disclosure") or {}
    min_n = int(disclosure.get("min_n", 5))
    if min_n < 1:
        raise _fail(path, "disclosure.min_n must be at least 1")
    analysis = dict(raw.get("analysis") or {})
    if analysis.get("correction", "holm") not in ("holm", "fdr_bh"):
        raise _fail(path, "analysis.correction must be holm or fdr_bh")
    bad = sorted(set(analysis.get("group_by", [])) - set(GROUP_BYS))
    if bad:
        raise _fail(path, f"analysis.group_by: unknown {', '.join(bad)} (known: {GROUP_BYS})")
    return Study(
        name=str(raw.get("study", paths.root.name)),
        language=language,
        rounds=rounds,
        baseline=baseline,
        design=design,
        instruments=instruments,
        data=data,
        min_n=min_n,
        seed=int(raw.get("seed", 20251015)),
        columns={str(k): str(v) for k, v in (raw.get("columns") or {}).items()},
        organisations=_organisations(raw.get("organisations"), path),
        analysis=analysis,
        targets=tuple(raw.get("targets") or ()),
        paths=paths,
        raw=raw,
    )


def load_labels(language: str, paths: StudyPaths | None = None) -> dict[str, str]:
    """Report labels: the shipped file, overridden key by key by the study's own."""
    labels = read_yaml(DEFAULT_LABELS / f"{language}.yaml")
    if paths is not None:
        own = paths.labels_dir / f"{language}.yaml"
        if own.is_file() and own.resolve() != (DEFAULT_LABELS / f"{language}.yaml").resolve():
            labels.update(read_yaml(own))
    return {str(k): str(v) for k, v in labels.items()}
