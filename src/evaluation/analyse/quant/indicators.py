"""The project plan's indicators against their targets (``indicators.csv``).

Targets are data (``targets:`` in ``config/study.yaml``); achieved values are computed from the
activity records (``activities.csv``) and the training feedback (``feedback.csv``).

Target spec
-----------
Each target is a mapping::

    - id: participants_metropolia     # required, unique; the row's `indicator`
      label_key: ind_participants_metropolia   # optional key in config/labels (default: id)
      source: activities              # activities (default) | feedback
      aggregate: nunique_person       # see below (required)
      measure: participants           # column of the source; needed by sum and mean
      filter: {actor: Metropolia}     # optional: column -> value or list of values
      target: 100                     # required number
      direction: at_least             # at_least (default) | at_most
      unit: persons                   # optional text for the report
      population: {actor: Metropolia} # optional, share_organisations only: which
                                      # organisations form the denominator

``aggregate`` over the records that pass ``filter``:

- ``count``: number of records (e.g. trainings held: ``filter: {activity: training}``).
- ``sum``: sum of ``measure`` (participants, ``reach``, ``creative_methods``).
- ``mean``: mean of ``measure`` over non-missing values (feedback 1-5 scales, one row per
  answer); suppressed when based on fewer than ``min_n`` answers.
- ``nunique_person``: distinct people: ids in ``person_ids`` (separated by ``;``, ``,`` or
  white space) are counted once; a record without ids adds its ``participants`` count, which
  cannot be deduplicated (so the value is an upper bound when ids are partly missing).
- ``nunique_organisation``: organisations with at least one record.
- ``share_organisations``: organisations with at least one record divided by the organisations
  in the denominator: the ``organisations`` argument (study config) restricted by
  ``population``; without that argument, every organisation that appears in the source data
  (restricted by ``population`` on the records' own columns). E.g. mentoring model adoption:
  ``{aggregate: share_organisations, filter: {activity: mentoring_meeting}, target: 0.8}``.

The plan's indicators in this form: participants per actor (``nunique_person`` with
``filter: {actor: ...}``, targets 100 / 45 / 60); trainings and workshops (``count`` with
``filter: {activity: [training, workshop]}``) and their participants (``sum`` of
``participants``); feedback means (``source: feedback, aggregate: mean, measure:
satisfaction, target: 4.0``); mentoring adoption (above); creative methods used (``sum`` of
``creative_methods``); communication reach (``sum`` of ``reach`` with ``filter: {activity:
communication}``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from evaluation.config import Target, literal_values

log = logging.getLogger(__name__)

# The spec's allowed values and defaults are those of config.Target (one definition).
SOURCES = literal_values(Target, "source")
AGGREGATES = literal_values(Target, "aggregate")
DIRECTIONS = literal_values(Target, "direction")
OVERALL = "all"

INDICATOR_COLUMNS = [
    "indicator",
    "label_key",
    "round",
    "aggregate",
    "target",
    "direction",
    "achieved",
    "unit",
    "share_of_target",
    "met",
    "n_records",
    "note",
    "suppressed",
]

_ID_SPLIT = re.compile(r"[;,\s]+")


def check_targets(
    targets: Sequence[Mapping[str, Any]],
    *,
    columns: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """Problems in a list of target specs (empty list = valid).

    ``columns`` maps a source name to its available columns; when given, ``measure`` and
    ``filter`` / ``population`` columns are checked against it.
    """
    problems: list[str] = []
    seen: set[str] = set()
    for i, spec in enumerate(targets):
        where = f"targets[{i}]"
        if not isinstance(spec, Mapping):
            problems.append(f"{where}: must be a mapping")
            continue
        tid = spec.get("id")
        if not tid:
            problems.append(f"{where}: id is missing")
        else:
            where = f"targets[{i}] ({tid})"
            if tid in seen:
                problems.append(f"{where}: id appears more than once")
            seen.add(str(tid))
        source = spec.get("source", Target.source)
        if source not in SOURCES:
            problems.append(f"{where}: source {source!r} is not one of {SOURCES}")
        agg = spec.get("aggregate")
        if agg not in AGGREGATES:
            problems.append(f"{where}: aggregate {agg!r} is not one of {AGGREGATES}")
        if agg in ("sum", "mean") and not spec.get("measure"):
            problems.append(f"{where}: aggregate {agg} needs a measure column")
        target = spec.get("target")
        if isinstance(target, bool) or not isinstance(target, int | float):
            problems.append(f"{where}: target must be a number, got {target!r}")
        direction = spec.get("direction", Target.direction)
        if direction not in DIRECTIONS:
            problems.append(f"{where}: direction {direction!r} is not one of {DIRECTIONS}")
        for key in ("filter", "population"):
            if spec.get(key) is not None and not isinstance(spec.get(key), Mapping):
                problems.append(f"{where}: {key} must be a mapping of column -> value(s)")
        if columns is not None and source in columns:
            have = set(columns[source])
            wanted = list((spec.get("filter") or {}).keys())
            if agg in ("sum", "mean") and spec.get("measure"):
                wanted.append(spec["measure"])
            for col in wanted:
                if col not in have:
                    problems.append(f"{where}: column {col!r} is not in {source}")
    return problems


def _wanted(value: Any) -> list[str]:
    values = value if isinstance(value, list | tuple | set) else [value]
    return [str(v) for v in values]


def _match(frame: pd.DataFrame, conditions: Mapping[str, Any] | None) -> np.ndarray:
    """Rows where every column equals the value (or is in the list), compared as text."""
    keep = np.ones(len(frame), dtype=bool)
    for col, wanted in (conditions or {}).items():
        values = frame[col].astype("string").str.strip()
        keep &= values.isin(_wanted(wanted)).fillna(False).to_numpy(dtype=bool)
    return keep


def _attr(org: Any, key: str) -> Any:
    return org.get(key) if isinstance(org, Mapping) else getattr(org, key, None)


def _persons(records: pd.DataFrame) -> float:
    """Distinct person ids, plus the participant counts of records without ids."""
    missing = pd.Series(pd.NA, index=records.index, dtype="object")
    raw_ids = records.get("person_ids", missing)
    counts = (
        pd.to_numeric(records["participants"], errors="coerce")
        if "participants" in records
        else missing
    )
    ids: set[str] = set()
    without = 0.0
    for raw, count in zip(raw_ids, counts, strict=True):
        found = [] if pd.isna(raw) else [p for p in _ID_SPLIT.split(str(raw).strip()) if p]
        if found:
            ids.update(found)
        elif not pd.isna(count):
            without += float(count)
    return float(len(ids)) + without


def _achieve(
    spec: Mapping[str, Any],
    records: pd.DataFrame,
    denominator: set[str] | None,
    min_n: int,
) -> tuple[float, int, bool, str]:
    """(achieved, n_records, suppressed, note) for the records already filtered."""
    agg = spec["aggregate"]
    n = len(records)
    if agg == "count":
        return float(n), n, False, ""
    if agg == "sum":
        values = pd.to_numeric(records[spec["measure"]], errors="coerce")
        return float(values.sum()), n, False, ""
    if agg == "mean":
        values = pd.to_numeric(records[spec["measure"]], errors="coerce").dropna()
        if len(values) < min_n:
            return np.nan, len(values), True, f"fewer than {min_n} answers"
        return float(values.mean()), len(values), False, ""
    if agg == "nunique_person":
        return _persons(records), n, False, ""
    orgs = set(records["organisation"].dropna().astype(str)) if "organisation" in records else set()
    if agg == "nunique_organisation":
        return float(len(orgs)), n, False, ""
    # share_organisations
    if not denominator:
        return np.nan, n, False, "no organisations in the denominator"
    return len(orgs & denominator) / len(denominator), n, False, ""


def indicators_table(
    targets: Sequence[Mapping[str, Any]],
    *,
    rounds: Sequence[str],
    activities: pd.DataFrame | None = None,
    feedback: pd.DataFrame | None = None,
    organisations: Mapping[str, Any] | None = None,
    min_n: int = 5,
) -> pd.DataFrame:
    """Achieved value of every target indicator, cumulative per round and overall.

    For each target (spec in the module docstring) and each round ``r`` of ``rounds``: the
    records with ``round`` among the rounds up to and including ``r`` (cumulative), then one
    row with ``round = "all"`` over every record (also those without a round).
    ``share_of_target = achieved / target``; ``met`` is ``achieved >= target`` (``at_least``)
    or ``achieved <= target`` (``at_most``), empty when nothing was achieved to compare.

    Disclosure control: a ``mean`` based on fewer than ``min_n`` answers keeps its row with
    ``suppressed = True`` and ``achieved``, ``share_of_target``, ``met``, ``n_records`` empty.
    Counts and sums of activities are not person-level statistics and are not suppressed.

    Parameters
    ----------
    targets : list of mapping
        Target specs (``config/study.yaml: targets``).
    rounds : list of str
        Round ids in time order.
    activities : DataFrame, optional
        ``date, round, actor, organisation, activity, participants, person_ids (optional),
        creative_methods, reach``. Not modified.
    feedback : DataFrame, optional
        ``date, round, actor, organisation, activity, satisfaction, competence_growth,
        goal_attainment``, one row per answer. Not modified.
    organisations : mapping, optional
        Organisation id -> attributes (a mapping or an object with ``actor``, ``sector``, ...),
        the denominator of ``share_organisations``.
    min_n : int
        Disclosure threshold for means.

    Returns
    -------
    DataFrame
        ``indicator, label_key, round, aggregate, target, direction, achieved, unit,
        share_of_target, met, n_records, note, suppressed``; ``met`` is nullable boolean.

    Raises
    ------
    ValueError
        Invalid target specs or columns missing from the data (every problem listed).
    """
    frames = {"activities": activities, "feedback": feedback}
    columns = {k: list(v.columns) for k, v in frames.items() if v is not None}
    problems = check_targets(targets, columns=columns)
    if problems:
        raise ValueError("invalid targets:\n" + "\n".join(problems))
    order = {r: i for i, r in enumerate(rounds)}
    rows: list[dict] = []
    for spec in targets:
        source = spec.get("source", Target.source)
        frame = frames[source]
        direction = spec.get("direction", Target.direction)
        target = float(spec["target"])
        base = {
            "indicator": str(spec["id"]),
            "label_key": str(spec.get("label_key", spec["id"])),
            "aggregate": spec["aggregate"],
            "target": target,
            "direction": direction,
            "unit": str(spec.get("unit", Target.unit)),
        }
        if frame is None:
            for rnd in [*rounds, OVERALL]:
                rows.append(
                    base
                    | {
                        "round": rnd,
                        "achieved": np.nan,
                        "n_records": np.nan,
                        "note": f"no {source} data",
                        "suppressed": False,
                    }
                )
            continue
        records = frame[_match(frame, spec.get("filter"))]
        denominator = None
        if spec["aggregate"] == "share_organisations":
            population = spec.get("population") or {}
            if organisations is not None:
                denominator = {
                    str(name)
                    for name, org in organisations.items()
                    if all(str(_attr(org, c)) in _wanted(w) for c, w in population.items())
                }
            else:
                pop = frame[_match(frame, population)]
                denominator = set(pop["organisation"].dropna().astype(str))
        rnd_index = (
            records["round"].astype("string").map(order).astype("float64")
            if "round" in records
            else pd.Series(np.nan, index=records.index)
        )
        unknown = records["round"].notna() & rnd_index.isna() if "round" in records else None
        if unknown is not None and unknown.any():
            log.info("%s: %d records with a round not in the study", spec["id"], unknown.sum())
        for rnd in [*rounds, OVERALL]:
            if rnd == OVERALL:
                subset = records
            else:
                subset = records[(rnd_index <= order[rnd]).fillna(False).to_numpy(dtype=bool)]
            achieved, n, suppressed, note = _achieve(spec, subset, denominator, min_n)
            rows.append(
                base
                | {
                    "round": rnd,
                    "achieved": achieved,
                    "n_records": np.nan if suppressed else float(n),
                    "note": note,
                    "suppressed": suppressed,
                }
            )
    if not rows:
        return pd.DataFrame(columns=INDICATOR_COLUMNS)
    out = pd.DataFrame(rows)
    for col in ("target", "achieved", "n_records"):
        out[col] = out[col].astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        share = out["achieved"] / out["target"].where(out["target"] != 0)
    out["share_of_target"] = share.astype("float64")
    met = np.where(
        out["direction"] == "at_most",
        out["achieved"] <= out["target"],
        out["achieved"] >= out["target"],
    )
    out["met"] = pd.array(met, dtype="boolean")
    out.loc[out["achieved"].isna(), "met"] = pd.NA
    out["suppressed"] = out["suppressed"].astype(bool)
    return out[INDICATOR_COLUMNS]
