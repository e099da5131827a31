"""Scores per respondent and instrument, derived only from validated raw data + config."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from evaluation.config import Instrument, Study

log = logging.getLogger(__name__)

META_COLUMNS = ["round", "organisation", "unit", "respondent", "participant", "role"]
ORG_COLUMNS = ["actor", "sector", "size"]


def reverse_items(items: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Reverse-key the instrument's reverse items: x -> min + max - x (returns a new frame)."""
    out = items.copy()
    for col in instrument.reverse:
        out[col] = instrument.range_min + instrument.range_max - out[col]
    return out


def instrument_score(data: pd.DataFrame, instrument: Instrument) -> pd.Series:
    """The instrument's score per row, by its configured rule.

    - ``column``: the vendor's value as delivered (e.g. the QWL index);
    - ``mean``: mean of the answered (reverse-keyed) items when at least ``min_answered`` are
      answered, else missing;
    - ``sum``: the prorated sum, ``k * mean``, under the same minimum-answered rule (equal to the
      plain sum when every item is answered).
    """
    if instrument.score_method == "column":
        return data[instrument.score_column].astype("float64").rename(instrument.id)
    items = reverse_items(data[list(instrument.items)].astype("float64"), instrument)
    answered = items.notna().sum(axis=1)
    score = items.mean(axis=1)
    if instrument.score_method == "sum":
        score = score * len(instrument.items)
    score = score.where(answered >= instrument.min_answered)
    return score.astype("float64").rename(instrument.id)


def proxy_score(data: pd.DataFrame, instrument: Instrument) -> pd.Series | None:
    """The instrument's proxy per row (``proxy:`` in its definition), or None when it has none.

    ``mean`` of ``parts``: the mean of the area columns when at least ``min_answered`` are
    answered, else missing. When the data lack any area column the proxy is missing for every
    row (no proxy, no error): a mean of fewer areas than defined is a different measure.
    """
    proxy = instrument.proxy
    if proxy is None:
        return None
    columns = list(instrument.parts.values())
    if not all(col in data for col in columns):
        log.info("%s: the data lack area columns; no %s", instrument.id, proxy.id)
        return pd.Series(np.nan, index=data.index, dtype="float64", name=proxy.id)
    areas = data[columns].astype("float64")
    answered = areas.notna().sum(axis=1)
    value = areas.mean(axis=1).where(answered >= proxy.min_answered)
    return value.astype("float64").rename(proxy.id)


def band(values: pd.Series, instrument: Instrument) -> pd.Series:
    """The instrument's band id per value (upper bounds exclusive); missing stays missing."""
    if not instrument.bands:
        raise ValueError(f"instrument {instrument.id} defines no bands")
    edges = [-np.inf] + [b.upper if b.upper is not None else np.inf for b in instrument.bands]
    labels = [b.id for b in instrument.bands]
    cut = pd.cut(values, bins=edges, labels=labels, right=False)
    return cut.astype("string").rename(f"{instrument.id}_band")


def score_responses(responses: pd.DataFrame, study: Study) -> pd.DataFrame:
    """One row per respondent and round: identifiers, organisation attributes, every measure.

    Measures are named by instrument id, area sub-scores ``<instrument>_<part>``; an instrument
    with bands also gets ``<instrument>_band``. ``participant`` is 0/1 (nullable Int8).
    """
    out = pd.DataFrame(index=responses.index)
    for col in META_COLUMNS:
        out[col] = responses[col] if col in responses else pd.Series(pd.NA, index=out.index)
    out = out.astype({c: "string" for c in META_COLUMNS if c != "participant"})
    out["participant"] = pd.to_numeric(out["participant"], errors="coerce").astype("Int8")
    orgs = study.organisations
    for attr in ORG_COLUMNS:
        mapping = {name: getattr(o, attr) for name, o in orgs.items()}
        out[attr] = out["organisation"].map(mapping).astype("string")
    for inst in study.instruments.values():
        if inst.file != "responses":
            continue
        out[inst.id] = instrument_score(responses, inst)
        for part, col in inst.parts.items():
            name = f"{inst.id}_{part}"
            if col in responses:
                out[name] = responses[col].astype("float64")
            else:
                out[name] = np.nan
        proxy = proxy_score(responses, inst)
        if proxy is not None:
            out[proxy.name] = proxy
        if inst.bands:
            out[f"{inst.id}_band"] = band(out[inst.id], inst)
        n_missing = int(out[inst.id].isna().sum())
        if n_missing:
            log.info("%s: %d of %d scores missing", inst.id, n_missing, len(out))
    order = {r: i for i, r in enumerate(study.round_ids)}
    out = out.assign(_o=out["round"].map(order)).sort_values(
        ["_o", "organisation", "unit", "respondent"], kind="stable", na_position="last"
    )
    return out.drop(columns="_o").reset_index(drop=True)
