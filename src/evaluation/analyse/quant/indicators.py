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
      per: organisation               # optional: all (default) | organisation: the
                                      # target applies to each organisation

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

Rounds (trajectory)
-------------------
Every aggregate but ``mean`` is **cumulative**: the row of round ``r`` uses the records of
every round up to and including ``r`` (persons reached so far, events so far, organisations
that have adopted so far); ``window = cumulative``. A ``mean`` uses the answers of round ``r``
only (``window = round``): a satisfaction level is not an accumulating quantity. The row
``round = all`` uses every record, also those without a round (``window = all``).

Per organisation
----------------
Rows ``group_by = organisation`` (``group`` = the organisation) are written for

- ``per: organisation``: the target applies to each organisation (e.g. 20 participants per
  organisation); only per-organisation rows are written. The organisations: those of the
  ``organisations`` argument (study config) whose attributes match ``population`` and the
  filter's columns that are organisation attributes (``actor``, ``sector``, ...; the
  ``organisation`` column by name); without that argument, the organisations in the records;
- ``share_organisations``: besides the whole-study rows, one row per organisation of the
  denominator: achieved 1 when it has a record (up to the round), else 0, against 1;
- a ``filter`` that names exactly one ``organisation``: the target's rows are that
  organisation's (``group_by = organisation``) instead of the whole study's.

Intervals and the status rule
-----------------------------
Rates carry a confidence interval (level ``ci``): ``share_organisations`` and a ``mean`` of a
measure whose answers are all 0 or 1 a Wilson score interval (Wilson 1927; Newcombe 1998,
method 3; ``statsmodels.stats.proportion.proportion_confint(method="wilson")``), any other
``mean`` a t interval (mean ± t(1 - (1 - ci)/2, n - 1) · sd / √n). Counts and sums are
records of what happened, with no sampling error: no interval. ``status`` (for
``direction: at_least``; ``at_most`` mirrors it):

- ``met``: the interval's lower end is at or above the target (no interval: the value is);
- ``not_met``: the interval's upper end is below the target (no interval: the value is);
- ``uncertain``: the target lies within the interval (ends included).

Disclosure control
------------------
A ``mean`` over fewer than ``min_n`` answers is suppressed (every row). Per-organisation rows
of a count of persons (``nunique_person``, or ``sum`` of ``participants`` or with ``unit:
persons``) with 1 to ``min_n - 1`` persons are suppressed, the rule of the respondent tables;
when exactly one organisation of a target and round is suppressed, the smallest other
non-zero organisation is suppressed too, so that the whole-study value minus the shown ones
cannot give it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from evaluation.analyse.quant.descriptives import t_interval, wilson_interval
from evaluation.config import ORGANISATION_AGGREGATES, Target, literal_values

log = logging.getLogger(__name__)

# The spec's allowed values and defaults are those of config.Target (one definition).
SOURCES = literal_values(Target, "source")
AGGREGATES = literal_values(Target, "aggregate")
DIRECTIONS = literal_values(Target, "direction")
PERS = literal_values(Target, "per")
OVERALL = "all"
STATUSES = ("met", "not_met", "uncertain")

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
    # added for the trajectory, per-organisation rows and intervals (issue 18, item 6)
    "group_by",
    "group",
    "window",
    "ci_low",
    "ci_high",
    "interval_method",
    "status",
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
        per = spec.get("per", Target.per)
        if per not in PERS:
            problems.append(f"{where}: per {per!r} is not one of {PERS}")
        elif per == "organisation" and agg in ORGANISATION_AGGREGATES:
            problems.append(f"{where}: per organisation cannot be used with aggregate {agg}")
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


def indicator_status(
    achieved: float,
    target: float,
    *,
    direction: str = "at_least",
    ci_low: float = np.nan,
    ci_high: float = np.nan,
) -> str | None:
    """``met``, ``not_met`` or ``uncertain`` (None without a value or target).

    ``at_least``: met when the interval's lower end (no interval: the value) is at or above
    the target, not met when its upper end is below it, uncertain when the target lies within
    the interval (ends included). ``at_most`` mirrors it.
    """
    if pd.isna(achieved) or pd.isna(target):
        return None
    low, high = (ci_low, ci_high) if pd.notna(ci_low) and pd.notna(ci_high) else (achieved,) * 2
    if direction == "at_most":
        return "met" if high <= target else "not_met" if low > target else "uncertain"
    return "met" if low >= target else "not_met" if high < target else "uncertain"


def _persons_count(spec: Mapping[str, Any]) -> bool:
    """Whether the target's value is a count of persons (disclosure control per organisation)."""
    agg = spec["aggregate"]
    if agg == "nunique_person":
        return True
    return agg == "sum" and (
        spec.get("measure") == "participants" or str(spec.get("unit", "")) == "persons"
    )


def _achieve(
    spec: Mapping[str, Any],
    records: pd.DataFrame,
    denominator: set[str] | None,
    min_n: int,
    ci: float,
) -> dict[str, Any]:
    """achieved, n_records, suppressed, note and the interval for the records already
    filtered."""
    agg = spec["aggregate"]
    n = len(records)
    out = {"n_records": float(n), "suppressed": False, "note": "", "ci_low": np.nan,
           "ci_high": np.nan, "interval_method": ""}  # fmt: skip
    if agg == "count":
        return out | {"achieved": float(n)}
    if agg == "sum":
        values = pd.to_numeric(records[spec["measure"]], errors="coerce")
        return out | {"achieved": float(values.sum())}
    if agg == "mean":
        values = pd.to_numeric(records[spec["measure"]], errors="coerce").dropna()
        if len(values) < min_n:
            note = f"fewer than {min_n} answers"
            return out | {"achieved": np.nan, "n_records": np.nan, "suppressed": True, "note": note}
        if values.isin([0, 1]).all():  # a share of yes answers
            low, high = wilson_interval(int(values.sum()), len(values), ci=ci)
            method = "wilson"
        else:
            r = t_interval(values.to_numpy(dtype=float), ci=ci)
            low, high, method = r["ci_low"], r["ci_high"], "t"
        return out | {"achieved": float(values.mean()), "n_records": float(len(values)),
                      "ci_low": low, "ci_high": high, "interval_method": method}  # fmt: skip
    if agg == "nunique_person":
        return out | {"achieved": _persons(records)}
    orgs = set(records["organisation"].dropna().astype(str)) if "organisation" in records else set()
    if agg == "nunique_organisation":
        return out | {"achieved": float(len(orgs))}
    # share_organisations
    if not denominator:
        return out | {"achieved": np.nan, "note": "no organisations in the denominator"}
    k = len(orgs & denominator)
    low, high = wilson_interval(k, len(denominator), ci=ci)
    return out | {"achieved": k / len(denominator), "ci_low": low, "ci_high": high,
                  "interval_method": "wilson"}  # fmt: skip


def _org_matches(name: str, org: Any, conditions: Mapping[str, Any] | None) -> bool:
    """Whether an organisation (name and attributes) matches the conditions on the columns it
    has: ``organisation`` by name, any other column by the attribute of that name (a column
    that is not an attribute, such as ``activity``, is left to the records)."""
    for col, wanted in (conditions or {}).items():
        value = name if col == "organisation" else _attr(org, col)
        if value is not None and str(value) not in _wanted(wanted):
            return False
    return True


def _per_organisation(
    spec: Mapping[str, Any],
    records: pd.DataFrame,
    organisations: Mapping[str, Any] | None,
) -> list[str]:
    """The organisations of a ``per: organisation`` target (sorted)."""
    if organisations is not None:
        conditions = {**(spec.get("filter") or {}), **(spec.get("population") or {})}
        return sorted(
            str(name) for name, org in organisations.items()
            if _org_matches(str(name), org, conditions)
        )  # fmt: skip
    if "organisation" not in records:
        return []
    return sorted(set(records["organisation"].dropna().astype(str)))


def _protect(rows: list[dict], min_n: int) -> None:
    """Per-organisation counts of persons: 1 to min_n - 1 hidden, and when exactly one is
    hidden (per round), the smallest other non-zero one too (in place)."""
    by_round: dict[str, list[dict]] = {}
    for row in rows:
        by_round.setdefault(row["round"], []).append(row)
    for block in by_round.values():
        small = [r for r in block if pd.notna(r["achieved"]) and 0 < r["achieved"] < min_n]
        for row in small:
            row.update(suppressed=True, note=f"fewer than {min_n} persons")
        if len(small) == 1:
            others = [
                r for r in block
                if not r["suppressed"] and pd.notna(r["achieved"]) and r["achieved"] > 0
            ]  # fmt: skip
            if others:
                min(others, key=lambda r: (r["achieved"], r["group"])).update(
                    suppressed=True, note="hidden to protect a small organisation"
                )


def indicators_table(
    targets: Sequence[Mapping[str, Any]],
    *,
    rounds: Sequence[str],
    activities: pd.DataFrame | None = None,
    feedback: pd.DataFrame | None = None,
    organisations: Mapping[str, Any] | None = None,
    min_n: int = 5,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Achieved value of every target indicator per round (a trajectory) and overall, for the
    whole study and, where the target is per organisation, for each organisation.

    For each target (spec, windows, per-organisation rows, intervals, the status rule and
    disclosure control in the module docstring) and each round ``r`` of ``rounds``: one row,
    then one row with ``round = "all"`` over every record (also those without a round).
    ``share_of_target = achieved / target``; ``met`` is the value's own comparison
    (``achieved >= target`` for ``at_least``, ``<=`` for ``at_most``), ``status`` the rule
    with the interval (``met`` / ``not_met`` / ``uncertain``); both empty when nothing was
    achieved to compare.

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
        the denominator of ``share_organisations`` and the organisations of ``per:
        organisation``.
    min_n : int
        Disclosure threshold for means and per-organisation counts of persons.
    ci : float
        Confidence level of the intervals.

    Returns
    -------
    DataFrame
        :data:`INDICATOR_COLUMNS`: ``indicator, label_key, round, aggregate, target,
        direction, achieved, unit, share_of_target, met, n_records, note, suppressed,
        group_by, group, window, ci_low, ci_high, interval_method, status``; ``met`` is
        nullable boolean; a suppressed row has every statistic empty.

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
        agg = spec["aggregate"]
        per = spec.get("per", Target.per)
        named = _wanted((spec.get("filter") or {}).get("organisation", []))
        own = named[0] if len(named) == 1 and per != "organisation" else None
        base = {
            "indicator": str(spec["id"]),
            "label_key": str(spec.get("label_key", spec["id"])),
            "aggregate": agg,
            "target": float(spec["target"]),
            "direction": direction,
            "unit": str(spec.get("unit", Target.unit)),
            "group_by": "organisation" if own else OVERALL,
            "group": own or OVERALL,
            "window": "round" if agg == "mean" else "cumulative",
        }
        if frame is None:
            for rnd in [*rounds, OVERALL]:
                rows.append(
                    base
                    | {"round": rnd, "achieved": np.nan, "n_records": np.nan,
                       "note": f"no {source} data", "suppressed": False, "ci_low": np.nan,
                       "ci_high": np.nan, "interval_method": ""}
                )  # fmt: skip
            continue
        records = frame[_match(frame, spec.get("filter"))]
        denominator = None
        if agg == "share_organisations":
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

        def subsets(of: pd.DataFrame, index: pd.Series, *, agg: str = agg):
            """(round, records of the round's window), then ("all", every record)."""
            for rnd in [*rounds, OVERALL]:
                if rnd == OVERALL:
                    yield rnd, of
                    continue
                keep = index == order[rnd] if agg == "mean" else index <= order[rnd]
                yield rnd, of[keep.fillna(False).to_numpy(dtype=bool)]

        if per != "organisation":
            for rnd, subset in subsets(records, rnd_index):
                rows.append(base | {"round": rnd} | _achieve(spec, subset, denominator, min_n, ci))
        if per != "organisation" and agg != "share_organisations":
            continue
        names = (
            sorted(denominator or ())
            if agg == "share_organisations"
            else _per_organisation(spec, records, organisations)
        )
        text = records["organisation"].astype("string") if "organisation" in records else None
        org_rows: list[dict] = []
        for name in names:
            mine = (
                (text == name).fillna(False).to_numpy(dtype=bool)
                if text is not None
                else np.zeros(len(records), dtype=bool)
            )
            for rnd, subset in subsets(records[mine], rnd_index[mine]):
                org_base = base | {"round": rnd, "group_by": "organisation", "group": name}
                if agg == "share_organisations":  # adopted (1) or not (0), against 1
                    value = {"achieved": float(len(subset) > 0), "n_records": float(len(subset)),
                             "suppressed": False, "note": "", "ci_low": np.nan,
                             "ci_high": np.nan, "interval_method": "", "target": 1.0}  # fmt: skip
                else:
                    value = _achieve(spec, subset, None, min_n, ci)
                org_rows.append(org_base | value)
        if _persons_count(spec):
            _protect(org_rows, min_n)
        rows.extend(org_rows)
    if not rows:
        return pd.DataFrame(columns=INDICATOR_COLUMNS)
    out = pd.DataFrame(rows)
    hidden = out["suppressed"].astype(bool)
    out.loc[hidden, ["achieved", "n_records", "ci_low", "ci_high"]] = np.nan
    for col in ("target", "achieved", "n_records", "ci_low", "ci_high"):
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
    out["status"] = [
        indicator_status(a, t, direction=d, ci_low=lo, ci_high=hi) or ""
        for a, t, d, lo, hi in zip(
            out["achieved"], out["target"], out["direction"], out["ci_low"], out["ci_high"],
            strict=True,
        )
    ]  # fmt: skip
    out["suppressed"] = hidden
    out.loc[out["round"] == OVERALL, "window"] = OVERALL  # every record
    return out[INDICATOR_COLUMNS]
