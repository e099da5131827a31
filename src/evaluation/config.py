"""Study configuration: YAML -> frozen dataclasses.

Nothing study-specific lives in Python: rounds, instruments, item lists, cut-offs, targets and
options all come from ``config/study.yaml`` and the instrument definitions.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from evaluation.errors import ConfigError
from evaluation.paths import DEFAULT_INSTRUMENTS, DEFAULT_LABELS, StudyPaths
from evaluation.safety import unsafe_id_reason
from evaluation.vocabulary import vocabulary

log = logging.getLogger(__name__)

DATA_KEYS = ("responses", "summaries", "codings", "activities", "feedback", "open_answers",
             "risks", "documents")  # fmt: skip
GROUP_BYS = ("all", "actor", "organisation", "unit", "sector", "size", "role", "participant")
CORRECTIONS = ("holm", "fdr_bh")
META_METHODS = ("reml", "dl", "pm")
HEADLINE_MEASURES = ("qwl", "esis")  # the project's two outcome measures, when a study has them
COVARIATES = ("role", "actor", "sector", "size")  # columns of scores.parquet a model may adjust for
# The codes of the identifying columns that `answer_labels:` may map answer texts onto.
IDENTIFYING_CODES = {"participant": ("1", "0"), "role": ("supervisor", "staff")}


def literal_values(cls: type, name: str) -> tuple[str, ...]:
    """The allowed values of a ``Literal[...]`` field (the annotation is the one list)."""
    import typing

    hints = typing.get_type_hints(cls)
    return tuple(typing.get_args(hints[name]))


@dataclass(frozen=True)
class Round:
    """One round of ``rounds:``. ``label`` is its label in the study's language; ``labels``
    holds the label per report language when study.yaml gives one
    (``label: {fi: Lähtötaso 2025, en: Baseline 2025}``); see :meth:`label_in`."""

    id: str
    label: str
    date: str | None = None
    labels: dict[str, str] = field(default_factory=dict, hash=False)

    def label_in(self, language: str) -> str:
        """The round's label in ``language``: its own for that language, else ``label`` (a
        plain-string label is the same in every language)."""
        return self.labels.get(language, self.label)


@dataclass(frozen=True)
class Band:
    id: str
    upper: float | None  # exclusive upper bound; None = no upper bound


@dataclass(frozen=True)
class Proxy:
    """``proxy:`` of an instrument: a transparent secondary measure computed from its areas
    (e.g. QWL's proxy, the mean of the five area scores), never the instrument's own score.

    id : text, the measure's name (e.g. ``qwl_proxy``)
    method : ``mean`` (the only rule so far)
    of : ``parts`` (the instrument's area columns)
    min_answered : int, 1 .. number of parts; default all parts
    """

    id: str
    method: Literal["mean"]
    of: Literal["parts"]
    min_answered: int


@dataclass(frozen=True)
class Risk:
    """One unit risk indicator of an instrument's ``risks:`` (the QWL vendor's per unit and
    round, ``data.risks``): its scale, which way is worse, and its levels (``thresholds``,
    rising ``upper`` bounds, exclusive; the last has none)."""

    id: str
    scale_min: float
    scale_max: float
    scale_unit: str  # one of RISK_UNITS
    direction: str  # one of RISK_DIRECTIONS
    thresholds: tuple[Band, ...]
    source: str = ""

    def level(self, value: float) -> str | None:
        """The id of the level ``value`` falls in (None for a missing value)."""
        if value != value:  # NaN
            return None
        for band in self.thresholds:
            if band.upper is None or value < band.upper:
                return band.id
        return None


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
    # A labelled proxy computed from the areas (``proxy:``), a measure of its own; None = none.
    proxy: Proxy | None = None
    risks: tuple[Risk, ...] = ()  # unit risk indicators (data.risks), see Risk

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
        """Measure names: the instrument id, then ``<id>_<part>`` for each area, then the
        proxy's id when the definition has one (a secondary measure, never the headline)."""
        proxy = (self.proxy.id,) if self.proxy is not None else ()
        return (self.id, *(f"{self.id}_{p}" for p in self.parts), *proxy)


@dataclass(frozen=True)
class Organisation:
    id: str
    actor: str | None = None
    sector: str | None = None
    size: str | None = None
    headcount: dict[str, int] = field(default_factory=dict)  # unit -> headcount


@dataclass(frozen=True)
class Disclosure:
    """``disclosure:`` statistical disclosure control.

    min_n : int >= 1, default 5
        The smallest group shown in any table, figure or report; smaller groups keep their
        row with every statistic empty (``suppressed`` = true).
    """

    min_n: int = 5


@dataclass(frozen=True)
class QualitativeOptions:
    """``analysis.qualitative:``.

    include_suggestions : bool, default false
        Whether the keyword suggestions count as codes (else they are only listed).
    """

    include_suggestions: bool = False


PRIMARY_COMPARISONS = ("change", "did")  # analysis.primary.comparisons
PRIMARY_CORRECTIONS = ("holm", "bonferroni")  # analysis.primary.correction


@dataclass(frozen=True)
class PrimaryOptions:
    """``analysis.primary:`` the declared primary family (``primary.csv``).

    measures : list of the study's measure ids, no repeats; default: ``qwl`` and ``esis``
        where the study has them (:data:`HEADLINE_MEASURES`)
        The primary outcomes.
    comparisons : non-empty list from ``change``, ``did``; default both
        ``change``: each round against the baseline (``prepost.csv``, whole study);
        ``did``: the difference in differences of each round (``lmm.csv``).
    correction : ``holm`` | ``bonferroni``, default ``holm``
        Family-wise correction over all the primary family's tests at once.
    """

    measures: tuple[str, ...] = ()
    comparisons: tuple[str, ...] = PRIMARY_COMPARISONS
    correction: Literal["holm", "bonferroni"] = "holm"


@dataclass(frozen=True)
class PowerOptions:
    """``analysis.power:`` the next round of ``power.csv``.

    response_rate : float in (0, 1], default none
        Expected response rate of the next round: its n per unit is the unit's headcount
        (``organisations: ... units:``) times this rate. Without it (or without headcounts)
        the next round is assumed as large as the latest one (``n_source`` says which).
    """

    response_rate: float | None = None


@dataclass(frozen=True)
class Analysis:
    """``analysis:`` options of the statistics.

    correction : ``holm`` | ``fdr_bh``, default ``fdr_bh``
        Multiple-comparison correction of the sensitivity and exploratory families of
        ``prepost.csv`` (Benjamini-Hochberg by default); the primary family is always Holm,
        adjusted jointly with the DiD tests in ``primary.csv``.
    ci : float in (0, 1), default 0.95
        Confidence level of every interval.
    alpha : float in (0, 1), default 0.05
        Significance level (the power table's minimum detectable effects).
    group_by : non-empty list from ``GROUP_BYS``, default all of them
        The groupings of the pre/post comparisons.
    bootstrap_reps : int >= 1, default 999
        Replicates of every bootstrap (wild cluster bootstrap, inter-coder reliability).
    covariates : list from ``COVARIATES``, default none
        Extra fixed effects of the mixed model.
    meta_methods : non-empty list from ``META_METHODS`` without repeats, default
        ``[reml, dl, pm]``. The first gives the study weights.
    qualitative : :class:`QualitativeOptions`
    power : :class:`PowerOptions`
    meta_test : ``knha`` | ``z``, default ``knha``
        CI and prediction interval of the pooled rows of ``meta.csv``:
        Hartung-Knapp-Sidik-Jonkman (t, k - 1 df) or normal.
    primary : :class:`PrimaryOptions`
    """

    correction: Literal["holm", "fdr_bh"] = "fdr_bh"
    ci: float = 0.95
    alpha: float = 0.05
    group_by: tuple[str, ...] = GROUP_BYS
    bootstrap_reps: int = 999
    covariates: tuple[str, ...] = ()
    meta_methods: tuple[str, ...] = META_METHODS
    qualitative: QualitativeOptions = field(default_factory=QualitativeOptions)
    power: PowerOptions = field(default_factory=PowerOptions)
    meta_test: Literal["knha", "z"] = "knha"
    primary: PrimaryOptions = field(default_factory=PrimaryOptions)


@dataclass(frozen=True)
class Target:
    """One entry of ``targets:``: an indicator of the project plan and its target.

    The fields are what :func:`evaluation.analyse.quant.indicators.indicators_table` reads; see that
    module for what each ``aggregate`` computes.
    """

    id: str
    aggregate: Literal[
        "count", "sum", "mean", "nunique_person", "nunique_organisation", "share_organisations"
    ]
    target: float
    source: Literal["activities", "feedback"] = "activities"
    measure: str | None = None  # column of the source; required by sum and mean
    filter: dict[str, Any] | None = None  # column -> value or list of values
    direction: Literal["at_least", "at_most"] = "at_least"
    label_key: str | None = None  # key in the label files; None = the id
    unit: str = ""
    population: dict[str, Any] | None = None  # share_organisations: the denominator
    # all: one value for the study (default); organisation: the target applies to each
    # organisation (rows group_by = organisation in indicators.csv)
    per: Literal["all", "organisation"] = "all"

    def spec(self) -> dict[str, Any]:
        """The target as the mapping ``indicators_table`` takes, every default filled in."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["label_key"] = self.label_key or self.id
        return {k: v for k, v in out.items() if v is not None}


# Aggregates that count organisations: a per-organisation target of them makes no sense (the
# per-organisation rows of share_organisations are built anyway: adopted or not).
ORGANISATION_AGGREGATES = ("nunique_organisation", "share_organisations")


# The audience reports' sections after the cover, in the order the report shows them: one
# function of each name in evaluation.report.audiences, one cell each in notebooks/90-report.
REPORT_SECTIONS = ("key_results", "participation", "organisations", "own_change", "own_qwl",
                   "own_units", "risks", "qualitative", "indicators", "feedback",
                   "hidden_figures", "proxy", "technical_appendix")  # fmt: skip


@dataclass(frozen=True)
class Reports:
    """``reports:``.

    languages : list from ``fi``, ``en``; default: the study's ``language``
        The report languages; ``evaluation run --language`` overrides them.
    sections : list from :data:`REPORT_SECTIONS`, in that order, no repeats; default: all
        The sections of the audience reports after the cover (always shown, first). The list
        selects; the order is the report's own.
    headline_measures : list of the study's measure ids, no repeats; default: ``qwl`` and
        ``esis`` where the study has them (:data:`HEADLINE_MEASURES`), else the scores of
        its first two instruments
        The measures the reports lead with (key results, trends, the joint display).
    """

    languages: tuple[str, ...] = ()
    sections: tuple[str, ...] = REPORT_SECTIONS
    headline_measures: tuple[str, ...] = ()


@dataclass(frozen=True)
class Redaction:
    """``redaction:`` of quoted texts.

    names : list of text, default none
        Names removed from every quoted text (any letter case).
    keep : list of text, default none
        Capitalised phrases that are not names and stay.
    """

    names: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()


@dataclass(frozen=True)
class Limits:
    """``limits:`` on imported files.

    qdpx_max_bytes : int >= 1, default 200 MiB
        Largest unpacked size of a ``.qdpx`` project.
    qdpx_max_depth : int >= 1, default 50
        Deepest XML nesting in a ``.qdpx`` project.
    """

    qdpx_max_bytes: int = 200 * 2**20
    qdpx_max_depth: int = 50


@dataclass(frozen=True)
class AnswerLabels:
    """``answer_labels:`` answer texts of the identifying columns -> the contract's codes.

    Keys are lower case (a cell matches ignoring case and surrounding spaces); values are
    ``1`` / ``0`` for ``participant`` and ``supervisor`` / ``staff`` for ``role``.
    """

    participant: dict[str, str] = field(default_factory=dict)
    role: dict[str, str] = field(default_factory=dict)

    def of(self, column: str) -> dict[str, str]:
        return getattr(self, column, None) or {}


@dataclass(frozen=True)
class Study:
    """A study folder's configuration, with the instrument definitions it uses resolved.

    One field per top-level key of ``config/study.yaml``; the defaults here and in the section
    classes (:class:`Disclosure`, :class:`Analysis`, :class:`Target`, :class:`Reports`,
    :class:`Redaction`, :class:`Limits`, :class:`AnswerLabels`) are the only ones. Documented
    key by key in ``docs/data-contract.md``.
    """

    rounds: tuple[Round, ...]
    baseline: str
    instruments: dict[str, Instrument]
    data: dict[str, tuple[Path, ...]]
    paths: StudyPaths
    raw: dict[str, Any]  # study.yaml as read (the manifest records it)
    name: str = ""  # `study:`; default: the folder's name
    language: Literal["fi", "en"] = "fi"
    design: Literal["auto", "independent", "paired"] = "auto"
    seed: int = 20251015  # the seed of every random step (bootstrap, quote sampling)
    columns: dict[str, str] = field(default_factory=dict)
    answer_labels: AnswerLabels = field(default_factory=AnswerLabels)
    organisations: dict[str, Organisation] = field(default_factory=dict)
    disclosure: Disclosure = field(default_factory=Disclosure)
    analysis: Analysis = field(default_factory=Analysis)
    targets: tuple[Target, ...] = ()
    codebook: str | None = None  # path relative to the study folder; None = the default
    reports: Reports = field(default_factory=Reports)
    redaction: Redaction = field(default_factory=Redaction)
    limits: Limits = field(default_factory=Limits)

    @property
    def min_n(self) -> int:
        """``disclosure.min_n``."""
        return self.disclosure.min_n

    @property
    def round_ids(self) -> list[str]:
        return [r.id for r in self.rounds]

    @property
    def measures(self) -> list[str]:
        """Measures scored from the responses file (not feedback), in config order."""
        return [m for i in self.instruments.values() if i.file == "responses" for m in i.measures]

    @property
    def headline_measures(self) -> list[str]:
        """The measures the reports lead with (key results, trends, joint display):
        ``reports.headline_measures``, by default QWL and ESIS where the study has them, else
        the scores of its first two instruments (never an area: ``<instrument>_<part>``)."""
        if self.reports.headline_measures:
            return list(self.reports.headline_measures)
        scores = [i.id for i in self.instruments.values() if i.file == "responses"]
        return [m for m in HEADLINE_MEASURES if m in self.measures] or scores[:2]

    @property
    def correction(self) -> str:
        return self.analysis.correction

    @property
    def group_bys(self) -> list[str]:
        return list(self.analysis.group_by)

    def files(self, key: str) -> tuple[Path, ...]:
        return self.data.get(key, ())


# A coder's reading of a coded segment (optional column ``tone`` of the codings, read by
# evaluation.io.codings): what the joint display takes its qualitative direction from
# (evaluation.analyse.qual.joint).
SEGMENT_TONES = ("positive", "negative", "neutral", "mixed")
LANGUAGES = literal_values(Study, "language")
DESIGNS = literal_values(Study, "design")


def _fail(path: Path, message: str) -> ConfigError:
    return ConfigError(f"{path}: {message}")


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, with a clear error naming the file (and line) when it is broken."""
    import yaml  # here, not at the top: the CLI imports this module and starts fast

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    try:
        # libyaml's safe loader where PyYAML has it (the wheels do): the same documents, parsed
        # about 15 times faster (every notebook and report reads the label files and config)
        content = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
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


INSTRUMENT_KEYS = (
    "id", "items", "range", "integer", "reverse", "score", "parts", "bands", "file", "source",
    "answer_labels", "missing", "description", "reference", "proxy", "risks",
)  # fmt: skip
PROXY_METHODS = ("mean",)
PROXY_OF = ("parts",)
SCORE_METHODS = ("mean", "sum", "column")
INSTRUMENT_FILES = ("responses", "feedback")


def load_instrument(path: Path) -> Instrument:
    """Read and check one instrument definition: every key typed, unknown keys refused with a
    "did you mean" (a misspelt ``reverse`` would otherwise silently score items the wrong way
    round), each error a :class:`ConfigError` naming the file, key and value."""
    raw = read_yaml(path)
    c = _Checks(path)
    c.known(raw, INSTRUMENT_KEYS, "")
    iid = c.text(raw.get("id") or path.stem, "id")
    _check_id(iid, path, "id")
    score = c.mapping(raw.get("score"), "score")
    c.known(score, ("method", "min_answered", "column"), "score")
    method = c.choice(SCORE_METHODS)(score.get("method", "mean"), "score.method")
    items = c.texts(raw.get("items") or (), "items")
    if method in ("mean", "sum") and not items:
        raise _fail(path, f"score.method '{method}' needs a non-empty `items` list")
    column = score.get("column")
    if method == "column" and not column:
        raise _fail(path, "score.method 'column' needs score.column")
    rng = c.mapping(raw.get("range"), "range")
    c.known(rng, ("min", "max"), "range")
    if "min" not in rng or "max" not in rng:
        raise _fail(path, "`range` needs min < max, e.g. {min: 1, max: 5}")
    low, high = c.number()(rng["min"], "range.min"), c.number()(rng["max"], "range.max")
    if low >= high:
        raise c.fail("range", raw["range"], "needs min < max, e.g. {min: 1, max: 5}")
    reverse = c.texts(raw.get("reverse") or (), "reverse")
    unknown = sorted(set(reverse) - set(items))
    if unknown:
        raise _fail(path, f"reverse items not in `items`: {', '.join(unknown)}")
    min_answered = c.whole(1)(score.get("min_answered", len(items) or 1), "score.min_answered")
    if items and min_answered > len(items):
        raise _fail(path, f"score.min_answered must be between 1 and {len(items)}")
    parts = c.mapping(raw.get("parts"), "parts")
    proxy = _proxy(raw.get("proxy"), iid, parts, c)
    return Instrument(
        id=iid,
        items=items,
        range_min=low,
        range_max=high,
        integer=c.flag(raw.get("integer", False), "integer"),
        reverse=reverse,
        score_method=method,
        score_column=c.text(column, "score.column") if column else None,
        min_answered=min_answered,
        parts={str(k): c.text(v, f"parts.{k}") for k, v in parts.items()},
        bands=_bands(raw.get("bands"), c),
        file=c.choice(INSTRUMENT_FILES)(raw.get("file", "responses"), "file"),
        source=c.text(raw.get("source", ""), "source"),
        path=path,
        answer_labels=_answer_labels(raw.get("answer_labels"), path),
        missing_codes=tuple(
            dict.fromkeys(
                [
                    *vocabulary().missing_codes,  # resources/vocabulary.yaml
                    *(v.strip().lower() for v in c.texts(raw.get("missing") or (), "missing")),
                ]
            )
        ),
        proxy=proxy,
        risks=_risks(raw.get("risks"), c),
    )


def _proxy(raw: Any, iid: str, parts: dict, c: _Checks) -> Proxy | None:
    """``proxy: {id, method: mean, of: parts, min_answered}``: a measure computed from the
    instrument's areas; its id must not be another measure's name."""
    if raw is None:
        return None
    spec = c.mapping(raw, "proxy")
    c.known(spec, ("id", "method", "of", "min_answered"), "proxy")
    if not parts:
        raise c.fail("proxy", raw, "needs `parts` (the areas it is computed from)")
    pid = c.text(spec.get("id") or f"{iid}_proxy", "proxy.id")
    _check_id(pid, c.path, "proxy.id")
    if pid == iid or pid in {f"{iid}_{p}" for p in parts}:
        raise c.fail("proxy.id", pid, "is already a measure of this instrument")
    min_answered = c.whole(1)(spec.get("min_answered", len(parts)), "proxy.min_answered")
    if min_answered > len(parts):
        raise c.fail("proxy.min_answered", min_answered, f"must be between 1 and {len(parts)}")
    return Proxy(
        id=pid,
        method=c.choice(PROXY_METHODS)(spec.get("method", "mean"), "proxy.method"),
        of=c.choice(PROXY_OF)(spec.get("of", "parts"), "proxy.of"),
        min_answered=min_answered,
    )


def _bands(raw: Any, c: _Checks, name: str = "bands") -> tuple[Band, ...]:
    """``bands:``: ``{id, upper}`` in rising order; ``upper`` exclusive, null = no bound (last)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise c.fail(name, raw, "must be a list of {id, upper}")
    bands: list[Band] = []
    for i, band in enumerate(raw):
        key = f"{name}[{i}]"
        given = c.mapping(band, key)
        c.known(given, ("id", "upper"), key)
        if "id" not in given:
            raise c.fail(key, band, "needs an id")
        upper = given.get("upper")
        upper = None if upper is None else c.number()(upper, f"{key}.upper")
        if bands and (bands[-1].upper is None or (upper is not None and upper <= bands[-1].upper)):
            raise c.fail(key, band, "must come after a band with a lower upper bound")
        bands.append(Band(c.text(given["id"], f"{key}.id"), upper))
    return tuple(bands)


RISK_DIRECTIONS = ("higher_is_worse", "lower_is_worse")
RISK_UNITS = ("percent", "points")
RISK_KEYS = ("id", "scale", "direction", "thresholds", "source", "description")


def _risks(raw: Any, c: _Checks) -> tuple[Risk, ...]:
    """``risks:`` of an instrument: ``[{id, scale: {min, max, unit}, direction, thresholds:
    [{id, upper}], source}]``; each error names the file and the key (``risks[1].scale.max``)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise c.fail("risks", raw, "must be a list of {id, scale, direction, thresholds}")
    out: list[Risk] = []
    for i, entry in enumerate(raw):
        key = f"risks[{i}]"
        given = c.mapping(entry, key)
        c.known(given, RISK_KEYS, key)
        for required in ("id", "scale", "thresholds"):
            if given.get(required) in (None, "", [], {}):
                raise _fail(c.path, f"{key}.{required}: required (see docs/data-contract.md)")
        rid = c.text(given["id"], f"{key}.id")
        _check_id(rid, c.path, f"{key}.id")
        if rid in {r.id for r in out}:
            raise c.fail(f"{key}.id", rid, "appears more than once")
        scale = c.mapping(given["scale"], f"{key}.scale")
        c.known(scale, ("min", "max", "unit"), f"{key}.scale")
        if "min" not in scale or "max" not in scale:
            raise _fail(c.path, f"{key}.scale: needs min < max, e.g. {{min: 0, max: 100}}")
        low = c.number()(scale["min"], f"{key}.scale.min")
        high = c.number()(scale["max"], f"{key}.scale.max")
        if low >= high:
            raise c.fail(f"{key}.scale", given["scale"], "needs min < max")
        unit = c.choice(RISK_UNITS)(scale.get("unit", "percent"), f"{key}.scale.unit")
        direction = c.choice(RISK_DIRECTIONS)(
            given.get("direction", "higher_is_worse"), f"{key}.direction"
        )
        thresholds = _bands(given["thresholds"], _Checks(c.path), f"{key}.thresholds")
        if thresholds[-1].upper is not None:
            raise _fail(
                c.path, f"{key}.thresholds: the last level needs `upper: null` (no upper bound)"
            )
        ids = [t.id for t in thresholds]
        if len(set(ids)) != len(ids):
            raise c.fail(f"{key}.thresholds", ids, "names a level twice")
        out.append(
            Risk(rid, low, high, unit, direction, thresholds,
                 c.text(given.get("source", ""), f"{key}.source"))
        )  # fmt: skip
    return tuple(out)


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


def _round_label(value: Any, rid: str, language: Any, path: Path, key: str) -> Round:
    """A round's ``label``: a plain string (the same in every language) or a mapping of
    language to text (``{fi: Lähtötaso 2025, en: Baseline 2025}``)."""
    if value is None:
        return Round(rid, rid)
    if not isinstance(value, Mapping):
        return Round(rid, str(value))
    languages = LANGUAGES
    if not value:
        raise _fail(path, f"{key}: give the label as text or as {{fi: ..., en: ...}}, not {{}}")
    for lang, text in value.items():
        if lang not in languages:
            raise _fail(
                path,
                f"{key}.{lang}: unknown language{did_you_mean(str(lang), languages)}; "
                f"the languages are {', '.join(languages)}",
            )
        if not isinstance(text, str) or not text.strip():
            raise _fail(path, f"{key}.{lang}: {text!r} must be text (quote it: '{text}')")
    labels = {str(k): v for k, v in value.items()}
    main = labels.get(language) if isinstance(language, str) else None
    return Round(rid, main or next(iter(labels.values())), labels=labels)


def _rounds(raw: list[Any], path: Path, language: Any = "fi") -> tuple[Round, ...]:
    if not raw:
        raise _fail(path, "`rounds` must list at least two rounds, e.g. - {id: T0, label: ...}")
    out = []
    for i, r in enumerate(raw, start=1):
        if isinstance(r, str):
            r = {"id": r}
        if not isinstance(r, dict) or "id" not in r:
            raise _fail(path, f"rounds entry {i} needs an `id`")
        _Checks(path).known(r, ("id", "label", "date"), f"rounds entry {i}")
        date = r.get("date")
        if isinstance(date, dt.date):
            date = date.isoformat()
        _check_id(str(r["id"]), path, f"rounds entry {i} `id`")
        rid = str(r["id"])
        label = _round_label(r.get("label"), rid, language, path, f"rounds entry {i} `label`")
        out.append(Round(rid, label.label, date, labels=label.labels))
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


def _organisations(raw: Any, c: _Checks) -> dict[str, Organisation]:
    out = {}
    for name, spec in c.mapping(raw, "organisations").items():
        key = f"organisations.{name}"
        spec = c.mapping(spec, key)
        c.known(spec, ("actor", "sector", "size", "units"), key)
        units = spec.get("units") or {}
        if not isinstance(units, dict):
            raise c.fail(f"{key}.units", units, "must map unit name to headcount")
        headcount = c.whole(0)
        out[str(name)] = Organisation(
            id=str(name),
            actor=spec.get("actor"),
            sector=spec.get("sector"),
            size=spec.get("size"),
            headcount={
                str(u): headcount(h, f"{key}.units.{u}") for u, h in units.items() if h is not None
            },
        )
    return out


# -------------------------------------------------------------------------------------------
# study.yaml sections -> the option dataclasses above. Each check names the file, the key and
# the value; a default lives only in its dataclass (a key that is not given is not passed).
# -------------------------------------------------------------------------------------------

TOP_LEVEL_KEYS = ("study", "language", "seed", "rounds", "baseline", "design", "instruments",
                  "data", "columns", "answer_labels", "disclosure", "analysis", "organisations",
                  "targets", "codebook", "reports", "redaction", "limits", "demo")  # fmt: skip

Check = Any  # (value, key) -> parsed value


def did_you_mean(name: str, known: Iterable[str], cutoff: float = 0.6) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known``, or nothing."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=cutoff)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Checks:
    """Value checks of one study.yaml: each raises a ConfigError naming file, key and value."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, value: Any, what: str) -> ConfigError:
        return _fail(self.path, f"{key}: {value!r} {what}")

    def mapping(self, value: Any, key: str) -> dict:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(key, value, "must be a mapping of keys to values")
        return dict(value)

    def known(self, given: Mapping, known: Iterable[str], key: str) -> None:
        known = list(known)
        for k in given:
            if k not in known:
                where = f"{key}.{k}" if key else str(k)
                raise _fail(
                    self.path,
                    f"{where}: unknown key{did_you_mean(str(k), known)}; known keys: "
                    f"{', '.join(known)}",
                )

    def section(self, cls: type, value: Any, key: str, checks: dict[str, Check]) -> Any:
        """``cls`` from the mapping at ``key``; keys not given (or null) keep their default."""
        given = self.mapping(value, key)
        self.known(given, [f.name for f in fields(cls)], key)
        return cls(**{k: checks[k](v, f"{key}.{k}") for k, v in given.items() if v is not None})

    def whole(self, low: int | None = None) -> Check:
        def check(value: Any, key: str) -> int:
            number = None
            if isinstance(value, int) and not isinstance(value, bool):
                number = value
            elif (isinstance(value, float) and value.is_integer()) or (
                isinstance(value, str) and value.strip().lstrip("+-").isdigit()
            ):
                number = int(value)
            what = "a whole number" + (f" of at least {low}" if low is not None else "")
            if number is None:
                raise self.fail(key, value, f"is not {what}")
            if low is not None and number < low:
                raise self.fail(key, value, f"must be {what}")
            return number

        return check

    def number(self, low: float | None = None, high: float | None = None) -> Check:
        """A number; ``low`` < value < ``high`` (open interval) when given."""

        def check(value: Any, key: str) -> float:
            number = None
            if isinstance(value, int | float) and not isinstance(value, bool):
                number = float(value)
            elif isinstance(value, str):
                try:
                    number = float(value.replace(",", "."))
                except ValueError:
                    number = None
            if number is None or number != number:  # None or NaN
                raise self.fail(key, value, "is not a number")
            if (low is not None and number <= low) or (high is not None and number >= high):
                raise self.fail(key, value, f"must be between {low:g} and {high:g} (exclusive)")
            return number

        return check

    def choice(self, choices: Iterable[str]) -> Check:
        choices = tuple(choices)

        def check(value: Any, key: str) -> str:
            if value not in choices:
                raise self.fail(
                    key,
                    value,
                    f"is not one of {', '.join(choices)}{did_you_mean(str(value), choices)}",
                )
            return value

        return check

    def subset(self, choices: Iterable[str], *, empty: bool = True) -> Check:
        """A list from ``choices`` without repeats (a single value is a list of one)."""
        one = self.choice(choices)

        def check(value: Any, key: str) -> tuple[str, ...]:
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, list | tuple):
                raise self.fail(key, value, "must be a list")
            out = tuple(one(v, key) for v in values)
            repeated = sorted({v for v in out if out.count(v) > 1})
            if repeated:
                raise self.fail(key, value, f"lists {', '.join(repeated)} more than once")
            if not out and not empty:
                raise self.fail(key, value, "must not be empty")
            return out

        return check

    def texts(self, value: Any, key: str) -> tuple[str, ...]:
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list | tuple) or any(
            isinstance(v, dict | list) or v is None for v in values
        ):
            raise self.fail(key, value, "must be a list of texts")
        return tuple(str(v) for v in values)

    def text(self, value: Any, key: str) -> str:
        if isinstance(value, dict | list):
            raise self.fail(key, value, "must be a text")
        return str(value)

    def flag(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, value, "is not true or false")
        return value


def _analysis(raw: Any, c: _Checks) -> Analysis:
    qualitative = {"include_suggestions": c.flag}
    checks = {
        "correction": c.choice(CORRECTIONS),
        "ci": c.number(0, 1),
        "alpha": c.number(0, 1),
        "group_by": c.subset(GROUP_BYS, empty=False),
        "bootstrap_reps": c.whole(1),
        "covariates": c.subset(COVARIATES),
        "meta_methods": c.subset(META_METHODS, empty=False),
        "qualitative": lambda v, k: c.section(QualitativeOptions, v, k, qualitative),
        "power": lambda v, k: c.section(PowerOptions, v, k, {"response_rate": _rate(c)}),
        "meta_test": c.choice(("knha", "z")),
        "primary": lambda v, k: c.section(PrimaryOptions, v, k, _primary_checks(c)),
    }
    return c.section(Analysis, raw, "analysis", checks)


def _rate(c: _Checks) -> Check:
    """A proportion in (0, 1] (a response rate)."""
    number = c.number()

    def check(value: Any, key: str) -> float:
        rate = number(value, key)
        if not 0 < rate <= 1:
            raise c.fail(key, value, "must be a proportion above 0 and at most 1 (e.g. 0.6)")
        return rate

    return check


def _primary_checks(c: _Checks) -> dict[str, Check]:
    """``analysis.primary``: the measures are checked against the study's once it is read
    (:func:`_check_primary_measures`)."""

    def measures(value: Any, key: str) -> tuple[str, ...]:
        out = c.texts(value, key)
        if not out:
            raise c.fail(key, value, "must list at least one measure (or leave the key out)")
        return out

    return {
        "measures": measures,
        "comparisons": c.subset(PRIMARY_COMPARISONS, empty=False),
        "correction": c.choice(PRIMARY_CORRECTIONS),
    }


def _scalar_or_list(c: _Checks) -> Check:
    def check(value: Any, key: str) -> dict[str, Any]:
        given = c.mapping(value, key)
        for col, want in given.items():
            wanted = want if isinstance(want, list) else [want]
            if any(isinstance(w, dict | list) for w in wanted):
                raise c.fail(f"{key}.{col}", want, "must be a value or a list of values")
        return {str(k): v for k, v in given.items()}

    return check


def _targets(raw: Any, c: _Checks) -> tuple[Target, ...]:
    """``targets:``: checked against what :mod:`evaluation.analyse.quant.indicators` reads."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise c.fail("targets", raw, "must be a list of targets (- id: ..., aggregate: ...)")
    names = [f.name for f in fields(Target)]
    sources, aggregates, directions = (
        literal_values(Target, "source"),
        literal_values(Target, "aggregate"),
        literal_values(Target, "direction"),
    )
    checks = {
        "id": c.text,
        "aggregate": c.choice(aggregates),
        "target": c.number(),
        "source": c.choice(sources),
        "measure": c.text,
        "filter": _scalar_or_list(c),
        "direction": c.choice(directions),
        "label_key": c.text,
        "unit": c.text,
        "population": _scalar_or_list(c),
        "per": c.choice(literal_values(Target, "per")),
    }
    out: list[Target] = []
    for i, entry in enumerate(raw):
        where = f"targets[{i}]"
        given = c.mapping(entry, where)
        if given.get("id") not in (None, ""):
            where = f"targets[{i}] ({given['id']})"
        c.known(given, names, where)
        for key in ("id", "aggregate", "target"):
            if given.get(key) in (None, ""):
                raise _fail(c.path, f"{where}.{key}: required (see docs/data-contract.md)")
        target = Target(
            **{k: checks[k](v, f"{where}.{k}") for k, v in given.items() if v is not None}
        )
        if target.aggregate in ("sum", "mean") and not target.measure:
            raise _fail(c.path, f"{where}.measure: required by aggregate {target.aggregate}")
        if target.aggregate == "share_organisations" and not 0 <= target.target <= 1:
            raise c.fail(
                f"{where}.target", given["target"], "must be a share between 0 and 1 (e.g. 0.8)"
            )
        if target.per == "organisation" and target.aggregate in ORGANISATION_AGGREGATES:
            raise c.fail(
                f"{where}.per", given["per"], f"cannot be used with aggregate {target.aggregate}"
            )
        if target.id in {t.id for t in out}:
            raise c.fail(f"{where}.id", target.id, "appears more than once")
        out.append(target)
    return tuple(out)


def _answer_labels_of_ids(raw: Any, c: _Checks) -> AnswerLabels:
    """``answer_labels: {participant: {Kyllä: 1, Ei: 0}, role: {Esihenkilö: supervisor}}``."""
    given = c.mapping(raw, "answer_labels")
    c.known(given, list(IDENTIFYING_CODES), "answer_labels")
    out: dict[str, dict[str, str]] = {}
    for column, labels in given.items():
        codes = IDENTIFYING_CODES[column]
        mapped = {}
        for label, code in c.mapping(labels, f"answer_labels.{column}").items():
            key = f"answer_labels.{column}.{label}"
            if column == "participant" and isinstance(code, bool):
                code = int(code)
            text = str(code).strip().lower() if code is not None else ""
            if text not in codes:
                raise c.fail(key, code, f"is not one of {', '.join(codes)}")
            mapped[str(label).strip().lower()] = text
        out[column] = mapped
    return AnswerLabels(**out)


def _reports(raw: Any, c: _Checks) -> Reports:
    checks = {
        "languages": c.subset(LANGUAGES),
        "sections": _report_sections(c),
        "headline_measures": c.texts,
    }
    return c.section(Reports, raw, "reports", checks)


def _report_sections(c: _Checks) -> Check:
    """Section ids from :data:`REPORT_SECTIONS`, no repeats, in any order, returned in the
    report's order (the report notebook has one cell per section in that order); never the
    cover (always shown first). The order is not the user's: a list written for an older
    order stays valid."""
    listed = c.subset(REPORT_SECTIONS)

    def check(value: Any, key: str) -> tuple[str, ...]:
        values = [value] if isinstance(value, str) else value
        if isinstance(values, list | tuple) and "cover" in values:
            what = "lists the cover: every report has it, first; list only the sections after it"
            raise c.fail(key, value, f"{what} ({', '.join(REPORT_SECTIONS)})")
        return tuple(sorted(listed(value, key), key=REPORT_SECTIONS.index))

    return check


def _redaction(raw: Any, c: _Checks) -> Redaction:
    return c.section(Redaction, raw, "redaction", {"names": c.texts, "keep": c.texts})


def _limits(raw: Any, c: _Checks) -> Limits:
    checks = {"qdpx_max_bytes": c.whole(1), "qdpx_max_depth": c.whole(1)}
    return c.section(Limits, raw, "limits", checks)


def _top_level_keys(raw: Mapping, path: Path) -> None:
    """An unknown key that looks like a known one is a typo (its setting would be silently
    lost): an error. Any other unknown key is the study's own note: logged and ignored."""
    for key in raw:
        if key in TOP_LEVEL_KEYS:
            continue
        hint = did_you_mean(str(key), TOP_LEVEL_KEYS, cutoff=0.75)
        if hint:
            raise _fail(path, f"{key}: unknown key{hint}")
        log.warning("%s: unknown key %r ignored", path, key)


def load_study(study_dir: str | Path = ".") -> Study:
    """Read ``config/study.yaml`` of a study folder and the instrument definitions it names.

    Every section is checked here (types, ranges, allowed values, unknown keys): a study that
    loads runs, and a mistake is a :class:`ConfigError` naming the file, the key and the value.
    """
    paths = StudyPaths.of(study_dir)
    path = paths.study_yaml
    if not path.is_file():
        raise ConfigError(
            f"{path}: file not found. Is {paths.root} a study folder? "
            "(`evaluation demo --study DIR` writes an example)"
        )
    raw = read_yaml(path)
    c = _Checks(path)
    _top_level_keys(raw, path)
    for key in ("rounds", "baseline", "instruments", "data"):
        if key not in raw:
            raise _fail(path, f"missing required key `{key}` (see docs/data-contract.md)")
    if not isinstance(raw["rounds"], list):
        raise c.fail("rounds", raw["rounds"], "must be a list, e.g. - {id: T0, label: ...}")
    rounds = _rounds(raw["rounds"], path, raw.get("language") or Study.language)
    baseline = str(raw["baseline"])
    if baseline not in {r.id for r in rounds}:
        raise _fail(path, f"baseline '{baseline}' is not one of the rounds")
    top = {
        "name": ("study", c.text),
        "language": ("language", c.choice(LANGUAGES)),
        "design": ("design", c.choice(DESIGNS)),
        "seed": ("seed", c.whole(0)),
        "codebook": ("codebook", c.text),
    }
    options = {
        name: check(raw[key], key) for name, (key, check) in top.items() if raw.get(key) is not None
    }
    instrument_ids = raw["instruments"] or []
    if not isinstance(instrument_ids, list):
        raise c.fail("instruments", instrument_ids, "must be a list of instrument ids")
    instruments = {}
    for iid in instrument_ids:
        _check_id(str(iid), path, "instruments")
        inst = load_instrument(instrument_file(str(iid), paths))
        instruments[inst.id] = inst
    data_raw = c.mapping(raw["data"], "data")
    unknown = sorted(set(data_raw) - set(DATA_KEYS))
    if unknown:
        hint = did_you_mean(unknown[0], DATA_KEYS)
        raise _fail(
            path, f"unknown data keys {', '.join(unknown)}{hint} (known: {', '.join(DATA_KEYS)})"
        )
    data = {}
    for key, value in data_raw.items():
        files = value if isinstance(value, list) else [value]
        for f in files:
            if f and not isinstance(f, str):
                raise c.fail(f"data.{key}", f, "is not a path (a path or a list of paths)")
        data[key] = tuple(paths.resolve(f) for f in files if f)
    if not data.get("responses") and not data.get("summaries"):
        raise _fail(path, "`data` needs `responses` or `summaries`")
    columns = c.mapping(raw.get("columns"), "columns")
    for vendor, ours in columns.items():
        c.text(ours, f"columns.{vendor}")
    study = Study(
        rounds=rounds,
        baseline=baseline,
        instruments=instruments,
        data=data,
        paths=paths,
        raw=raw,
        **{"name": paths.root.name, **options},
        columns={str(k): str(v) for k, v in columns.items()},
        answer_labels=_answer_labels_of_ids(raw.get("answer_labels"), c),
        organisations=_organisations(raw.get("organisations"), c),
        disclosure=c.section(
            Disclosure, raw.get("disclosure"), "disclosure", {"min_n": c.whole(1)}
        ),
        analysis=_analysis(raw.get("analysis"), c),
        targets=_targets(raw.get("targets"), c),
        reports=_reports(raw.get("reports"), c),
        redaction=_redaction(raw.get("redaction"), c),
        limits=_limits(raw.get("limits"), c),
    )
    _check_headline_measures(study, c)
    _check_primary_measures(study, c)
    return study


def _check_headline_measures(study: Study, c: _Checks) -> None:
    """``reports.headline_measures`` names measures the study scores, each once."""
    listed = study.reports.headline_measures
    for measure in listed:
        if measure not in study.measures:
            known = ", ".join(study.measures)
            raise c.fail(
                "reports.headline_measures",
                list(listed),
                f"names '{measure}', which is not one of the study's measures ({known})"
                + did_you_mean(measure, study.measures),
            )
    if len(set(listed)) != len(listed):
        raise c.fail("reports.headline_measures", list(listed), "names a measure twice")


def _check_primary_measures(study: Study, c: _Checks) -> None:
    """``analysis.primary.measures`` names measures the study scores, each once."""
    key = "analysis.primary.measures"
    listed = study.analysis.primary.measures
    for measure in listed:
        if measure not in study.measures:
            raise c.fail(
                key,
                list(listed),
                f"names '{measure}', which is not one of the study's measures "
                f"({', '.join(study.measures)})" + did_you_mean(measure, study.measures),
            )
    if len(set(listed)) != len(listed):
        raise c.fail(key, list(listed), "names a measure twice")


def primary_measures(study: Study) -> list[str]:
    """The declared primary outcomes: ``analysis.primary.measures``, by default ``qwl`` and
    ``esis`` where the study scores them (none when it scores neither)."""
    listed = study.analysis.primary.measures
    return list(listed) if listed else [m for m in HEADLINE_MEASURES if m in study.measures]


def load_labels(language: str, paths: StudyPaths | None = None) -> dict[str, str]:
    """Report labels: the shipped file, overridden key by key by the study's own."""
    labels = read_yaml(DEFAULT_LABELS / f"{language}.yaml")
    if paths is not None:
        own = paths.labels_dir / f"{language}.yaml"
        if own.is_file() and own.resolve() != (DEFAULT_LABELS / f"{language}.yaml").resolve():
            labels.update(read_yaml(own))
    return {str(k): str(v) for k, v in labels.items()}


def risk_definitions(study: Study) -> tuple[Risk, ...]:
    """The unit risk indicators of ``data.risks``: ``risks:`` of the QWL instrument (the study's
    own ``config/instruments/qwl.yaml`` over the shipped one), whether or not the study scores
    QWL from its responses."""
    inst = study.instruments.get("qwl") or load_instrument(instrument_file("qwl", study.paths))
    return inst.risks
