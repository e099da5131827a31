"""Unit risk indicators (issue 18, item 1): the definition in the QWL instrument file, the
``data.risks`` input and its validation, ``risks.csv`` (n-weighted means, levels, change,
suppression and the subtraction attack), summary mode and the demo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.analyse.quant.risks import risk_table
from evaluation.config import Band, Risk, load_instrument, load_study, risk_definitions
from evaluation.errors import ConfigError, DataError
from evaluation.paths import DEFAULT_INSTRUMENTS
from evaluation.pipeline.process import process
from tests.conftest import STUDY_YAML, row, write_study

BURNOUT = Risk(
    "burnout",
    0.0,
    100.0,
    "percent",
    "higher_is_worse",
    (Band("low", 10.0), Band("elevated", 20.0), Band("high", None)),
)


def _risks(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["round", "organisation", "unit", "indicator", "value"])


def _counts(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["round", "organisation", "unit", "n"])


def _at(table: pd.DataFrame, rnd: str, by: str, group: str) -> pd.Series:
    hit = table[table["round"].eq(rnd) & table["group_by"].eq(by) & table["group"].eq(group)]
    assert len(hit) == 1, (rnd, by, group)
    return hit.iloc[0]


# --------------------------------------------------------------------------- the definition


def test_shipped_qwl_definition_has_the_four_vendor_risks():
    risks = load_instrument(DEFAULT_INSTRUMENTS / "qwl.yaml").risks
    assert [r.id for r in risks] == ["work_disability", "sickness_absence", "burnout", "turnover"]
    for r in risks:
        assert (r.scale_min, r.scale_max, r.direction) == (0, 100, "higher_is_worse")
        uppers = [b.upper for b in r.thresholds]
        assert uppers[-1] is None and uppers[:-1] == sorted(uppers[:-1])
        # Upper bounds are exclusive: a value at a bound is in the next level.
        assert r.level(uppers[0]) == r.thresholds[1].id
        assert r.level(uppers[0] - 0.01) == r.thresholds[0].id


@pytest.mark.parametrize(
    ("thresholds", "key"),
    [
        ("[{id: low, upper: 10}, {id: high, upper: 20}]", "risks[0].thresholds"),
        (
            "[{id: low, upper: 10}, {id: high, upper: 5}, {id: x, upper: null}]",
            "risks[0].thresholds[1]",
        ),
        ("[{id: low, uper: 10}, {id: high, upper: null}]", "risks[0].thresholds[0].uper"),
    ],
)
def test_a_broken_risk_definition_names_the_file_and_key(tiny_study, thresholds, key):
    own = tiny_study / "config" / "instruments"
    own.mkdir(parents=True)
    text = (DEFAULT_INSTRUMENTS / "qwl.yaml").read_text(encoding="utf-8")
    text = text.split("risks:")[0] + (
        f"risks:\n  - id: burnout\n    scale: {{min: 0, max: 100}}\n    thresholds: {thresholds}\n"
    )
    (own / "qwl.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_study(tiny_study)
    assert "qwl.yaml" in str(info.value) and key in str(info.value)


def test_a_study_may_override_the_risks(tiny_study):
    own = tiny_study / "config" / "instruments"
    own.mkdir(parents=True)
    text = (DEFAULT_INSTRUMENTS / "qwl.yaml").read_text(encoding="utf-8").split("risks:")[0]
    text += (
        "risks:\n  - {id: strain, scale: {min: 0, max: 10, unit: points}, thresholds: "
        "[{id: low, upper: 4}, {id: high, upper: null}]}\n"
    )
    (own / "qwl.yaml").write_text(text, encoding="utf-8")
    (strain,) = risk_definitions(load_study(tiny_study))
    assert (strain.id, strain.scale_max, strain.scale_unit, strain.level(4)) == (
        "strain",
        10,
        "points",
        "high",
    )


# --------------------------------------------------------------------------- the input


def _study_with_risks(root, body: str, study_yaml: str = STUDY_YAML):
    rows = [row(resp=f"R{i}", qwl=str(55 + i)) for i in range(6)]
    rows += [row(rnd="T1", unit="Ward 2", resp=f"S{i}", qwl=str(60 + i)) for i in range(6)]
    text = study_yaml.replace("data:\n", "data:\n  risks: data/raw/risks.csv\n")
    write_study(root, rows, text)
    (root / "data" / "raw" / "risks.csv").write_text(body, encoding="utf-8")
    return load_study(root)


def test_risks_are_read_with_the_package_readers(tmp_path):
    body = "round;organisation;unit;indicator;value;n\nT0;Org A;Ward 1;burnout;12,5;6\n"
    study = _study_with_risks(tmp_path, body)
    written = process(study)
    risks = pd.read_parquet(written["risks"])
    assert risks.to_dict("records") == [
        {
            "round": "T0",
            "organisation": "Org A",
            "unit": "Ward 1",
            "indicator": "burnout",
            "value": 12.5,
            "n": 6.0,
        }
    ]


def test_a_malformed_risks_file_names_file_row_and_column_never_the_value(tmp_path):
    body = (
        "round,organisation,unit,indicator,value\n"
        "T0,Org A,Ward 1,burnout,12.5\n"  # row 2: fine
        "T0,Org A,Ward 1,stress,13.25\n"  # row 3: unknown indicator
        "T0,Org A,Ward 1,turnover,150.75\n"  # row 4: outside 0-100
        "T0,Org A,Ward 1,burnout,11.0\n"  # row 5: a second burnout for the unit and round
        "T1,Org A,Ward 2,burnout,lots\n"  # row 6: text in value
        "T1,Org A,Ward 9,burnout,10\n"  # row 7: unknown unit
        "T5,Org A,Ward 1,burnout,10\n"  # row 8: unknown round
        "T1,Org Q,Ward 2,burnout,10\n"  # row 9: unknown organisation
    )
    study = _study_with_risks(tmp_path, body)
    with pytest.raises(DataError) as info:
        process(study)
    p = info.value.problems
    found = set(zip(p["row"], p["column"], strict=True))
    assert {
        (3, "indicator"),
        (4, "value"),
        (5, "indicator"),
        (6, "value"),
        (7, "unit"),
        (8, "round"),
        (9, "organisation"),
    } <= found
    assert (2, "value") not in found and (2, "indicator") not in found
    assert set(p["file"]) == {"risks.csv"}
    message = str(info.value)
    for value in ("13.25", "150.75", "lots", "stress"):
        assert value not in message
    assert "risks.csv, row 4, column value" in message


# --------------------------------------------------------------------------- the table


def test_organisation_and_study_values_are_n_weighted_means_of_units():
    risks = _risks(
        [
            ("T0", "A", "u1", "burnout", 10.0),
            ("T0", "A", "u2", "burnout", 20.0),
            ("T0", "B", "v1", "burnout", 30.0),
            ("T1", "A", "u1", "burnout", 8.0),
            ("T1", "A", "u2", "burnout", 16.0),
            ("T1", "B", "v1", "burnout", 28.0),
        ]
    )
    counts = _counts(
        [
            ("T0", "A", "u1", 10),
            ("T0", "A", "u2", 30),
            ("T0", "B", "v1", 8),
            ("T1", "A", "u1", 20),
            ("T1", "A", "u2", 20),
            ("T1", "B", "v1", 8),
        ]
    )
    t = risk_table(risks, counts, definitions=[BURNOUT], rounds=["T0", "T1"], min_n=5)
    # By hand: A at T0 = (10*10 + 30*20) / 40 = 17.5; all = (700 + 8*30) / 48 = 19.5833...
    a0, all0 = _at(t, "T0", "organisation", "A"), _at(t, "T0", "all", "all")
    assert (a0["n"], a0["value"], a0["level"]) == (40, pytest.approx(17.5), "elevated")
    assert (all0["n"], all0["value"]) == (48, pytest.approx(940 / 48))
    a1 = _at(t, "T1", "organisation", "A")
    assert a1["value"] == pytest.approx(12.0) and a1["change"] == pytest.approx(12.0 - 17.5)
    assert a1["previous_round"] == "T0" and a1["level"] == "elevated"
    u = _at(t, "T1", "unit", "A / u1")
    assert (u["value"], u["level"], u["change"]) == (8.0, "low", pytest.approx(-2.0))
    assert not t["suppressed"].any()


def test_the_files_n_is_the_weight_where_given():
    risks = _risks([("T0", "A", "u1", "burnout", 10.0), ("T0", "A", "u2", "burnout", 40.0)])
    risks["n"] = [30.0, np.nan]  # the second unit: its respondents that round
    counts = _counts([("T0", "A", "u1", 6), ("T0", "A", "u2", 10)])
    t = risk_table(risks, counts, definitions=[BURNOUT], rounds=["T0"], min_n=5)
    a = _at(t, "T0", "organisation", "A")
    assert (a["n"], a["value"]) == (40, pytest.approx((300 + 400) / 40))


def _hierarchy(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, counts = [], []
    for o in range(rng.integers(1, 5)):
        for u in range(rng.integers(1, 5)):
            n = int(rng.choice([1, 2, 3, 4, 6, 9, 15, 30]))
            rows.append(("T0", f"O{o}", f"u{u}", "burnout", round(float(rng.uniform(0, 60)), 1)))
            counts.append(("T0", f"O{o}", f"u{u}", n))
    return _risks(rows), _counts(counts)


def _determined(table: pd.DataFrame) -> list[str]:
    """The hidden rows whose sum n * value an attacker can compute from the shown rows and the
    relations (organisation = its units, all = its organisations): a row is determined when its
    unit vector lies in the row space of the relations over the hidden rows."""
    hidden = list(table.index[table["suppressed"]])
    if not hidden:
        return []
    col = {i: k for k, i in enumerate(hidden)}
    relations = []
    by = table["group_by"]
    orgs = table[by.eq("organisation")]
    for i, r in orgs.iterrows():
        kids = table.index[by.eq("unit") & table["group"].str.startswith(f"{r['group']} / ")]
        relations.append([i, *kids])
    relations.append([*table.index[by.eq("all")], *orgs.index])
    a = np.zeros((len(relations), len(hidden)))
    for k, members in enumerate(relations):
        for j, i in enumerate(members):
            if i in col:
                a[k, col[i]] = 1.0 if j == 0 else -1.0
    rank = np.linalg.matrix_rank(a)
    out = []
    for i in hidden:
        e = np.zeros(len(hidden))
        e[col[i]] = 1.0
        if np.linalg.matrix_rank(np.vstack([a, e])) == rank:
            out.append(table.loc[i, "group"])
    return out


def test_one_small_unit_cannot_be_recovered_by_subtraction():
    # Org A: units of 10, 12 and 3 respondents. The small unit is hidden; shown, the
    # organisation's n and value and the other units' would give it away:
    # v3 = (N * V - n1 * v1 - n2 * v2) / n3.
    risks = _risks(
        [
            ("T0", "A", "u1", "burnout", 10.0),
            ("T0", "A", "u2", "burnout", 20.0),
            ("T0", "A", "u3", "burnout", 50.0),
            ("T0", "B", "v1", "burnout", 5.0),
        ]
    )
    counts = _counts(
        [("T0", "A", "u1", 10), ("T0", "A", "u2", 12), ("T0", "A", "u3", 3), ("T0", "B", "v1", 20)]
    )
    t = risk_table(risks, counts, definitions=[BURNOUT], rounds=["T0"], min_n=5)
    assert _at(t, "T0", "unit", "A / u3")["suppressed"]
    shown = t[~t["suppressed"]]
    org = shown[shown["group"].eq("A")]
    units = shown[shown["group"].str.startswith("A / ")]
    if not org.empty:  # the attack needs the organisation and every other unit
        recovered = (
            org["n"].iloc[0] * org["value"].iloc[0] - (units["n"] * units["value"]).sum()
        ) / 3
        assert len(units) < 2 and recovered != pytest.approx(50.0)
    # The complement is the smallest other unit (u1, n = 10): one more hidden, no more.
    assert list(t.loc[t["suppressed"], "group"]) == ["A / u1", "A / u3"]
    assert _determined(t) == []


def test_a_hidden_organisation_is_not_the_whole_study_minus_the_others():
    # Org B has one unit of 3: B is hidden, so the whole study minus A would give it; the
    # complement hides A as well (and then one of A's units, so A is not its units' sum).
    risks = _risks(
        [
            ("T0", "A", "u1", "burnout", 10.0),
            ("T0", "A", "u2", "burnout", 20.0),
            ("T0", "B", "v1", "burnout", 50.0),
        ]
    )
    counts = _counts([("T0", "A", "u1", 10), ("T0", "A", "u2", 12), ("T0", "B", "v1", 3)])
    t = risk_table(risks, counts, definitions=[BURNOUT], rounds=["T0"], min_n=5)
    assert _at(t, "T0", "organisation", "B")["suppressed"]
    assert _determined(t) == []
    assert not _at(t, "T0", "all", "all")["suppressed"]


@pytest.mark.parametrize("seed", range(40))
def test_no_hidden_value_is_determined_in_random_hierarchies(seed):
    risks, counts = _hierarchy(np.random.default_rng(seed))
    t = risk_table(risks, counts, definitions=[BURNOUT], rounds=["T0"], min_n=5)
    small = t["group_by"].eq("unit") & t["group"].isin(
        [
            f"{o} / {u}"
            for o, u, n in zip(counts["organisation"], counts["unit"], counts["n"], strict=True)
            if n < 5
        ]
    )
    assert t.loc[small, "suppressed"].all()
    assert t.loc[t["suppressed"], ["n", "value", "level", "change"]].isna().all().all()
    assert _determined(t) == []


def test_a_unit_the_disclosure_plan_hides_is_hidden_with_its_complement():
    risks = _risks(
        [
            ("T0", "A", "u1", "burnout", 10.0),
            ("T0", "A", "u2", "burnout", 20.0),
            ("T0", "A", "u3", "burnout", 30.0),
        ]
    )
    counts = _counts([("T0", "A", "u1", 10), ("T0", "A", "u2", 12), ("T0", "A", "u3", 40)])
    t = risk_table(
        risks,
        counts,
        definitions=[BURNOUT],
        rounds=["T0"],
        min_n=5,
        hidden={("T0", "unit", "A / u3")},
    )
    assert list(t.loc[t["suppressed"], "group"]) == ["A / u1", "A / u3"]


def test_change_is_empty_where_the_previous_round_is_hidden():
    risks = _risks([("T0", "A", "u1", "burnout", 10.0), ("T1", "A", "u1", "burnout", 12.0)])
    counts = _counts([("T0", "A", "u1", 3), ("T1", "A", "u1", 9)])
    t = risk_table(risks, counts, definitions=[BURNOUT], rounds=["T0", "T1"], min_n=5)
    u1 = _at(t, "T1", "unit", "A / u1")
    assert not u1["suppressed"] and u1["value"] == 12.0 and pd.isna(u1["change"])


# --------------------------------------------------------------------------- the study


def _table_of(study) -> pd.DataFrame:
    from evaluation.disclosure.plan import make_plan
    from evaluation.pipeline.session import open_study, study_risk_table

    process(study)
    make_plan(study)
    return study_risk_table(open_study(study.paths.root))


def test_risks_with_responses_weight_units_by_their_respondents(tmp_path):
    body = (
        "round,organisation,unit,indicator,value\n"
        "T0,Org A,Ward 1,burnout,12\nT1,Org A,Ward 2,burnout,9\n"
    )
    t = _table_of(_study_with_risks(tmp_path, body))
    unit = _at(t, "T0", "unit", "Org A / Ward 1")
    assert (unit["n"], unit["value"], unit["level"]) == (6, 12.0, "elevated")
    assert _at(t, "T1", "all", "all")["value"] == 9.0


def test_risks_in_summary_mode(tmp_path):
    text = STUDY_YAML.replace(
        "responses: data/raw/responses.csv",
        "summaries: data/raw/summaries.csv\n  risks: data/raw/risks.csv",
    )
    (tmp_path / "config").mkdir()
    (tmp_path / "data" / "raw").mkdir(parents=True)
    (tmp_path / "config" / "study.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "data" / "raw" / "summaries.csv").write_text(
        "round,organisation,unit,measure,n,mean,sd\n"
        "T0,Org A,Ward 1,qwl,12,60.1,10.2\nT0,Org A,Ward 2,qwl,8,58.0,9.0\n"
        "T1,Org A,Ward 1,qwl,11,66.0,9.8\nT1,Org A,Ward 2,qwl,3,61.0,9.0\n",
        encoding="utf-8",
    )
    (tmp_path / "data" / "raw" / "risks.csv").write_text(
        "round,organisation,unit,indicator,value\n"
        "T0,Org A,Ward 1,burnout,10\nT0,Org A,Ward 2,burnout,20\n"
        "T1,Org A,Ward 1,burnout,8\nT1,Org A,Ward 2,burnout,30\n"
        "T1,Org A,Ward 3,burnout,30\n",  # not a unit of the summaries
        encoding="utf-8",
    )
    with pytest.raises(DataError) as info:
        process(load_study(tmp_path))
    assert list(info.value.problems["row"]) == [6]
    body = (tmp_path / "data" / "raw" / "risks.csv").read_text(encoding="utf-8")
    (tmp_path / "data" / "raw" / "risks.csv").write_text(
        body.replace("T1,Org A,Ward 3,burnout,30\n", ""), encoding="utf-8"
    )
    t = _table_of(load_study(tmp_path))
    org0 = _at(t, "T0", "organisation", "Org A")
    assert (org0["n"], org0["value"]) == (20, pytest.approx((120 + 160) / 20))
    # T1: Ward 2 has 3 respondents; Ward 1 goes with it (else Org A minus Ward 1 gives it);
    # Org A is shown: only the sum of the two hidden units follows from it.
    t1 = t[t["round"].eq("T1")].set_index("group")
    assert t1.loc[["Org A / Ward 1", "Org A / Ward 2"], "suppressed"].all()
    assert t1.loc["Org A", "value"] == pytest.approx((11 * 8 + 3 * 30) / 14)


# --------------------------------------------------------------------------- the demo


def test_demo_writes_risks_deterministically_and_against_qwl(tmp_path):
    from evaluation.demo.generate import write_demo

    write_demo(tmp_path / "a", respondents=200, seed=7)
    write_demo(tmp_path / "b", respondents=200, seed=7)
    a = (tmp_path / "a" / "data" / "raw" / "risks.csv").read_bytes()
    assert a == (tmp_path / "b" / "data" / "raw" / "risks.csv").read_bytes()
    study = load_study(tmp_path / "a")
    assert study.files("risks")
    data = process(study)
    risks = pd.read_parquet(data["risks"])
    scores = pd.read_parquet(data["scores"])
    qwl = scores.groupby(["round", "organisation", "unit"])["qwl"].mean().rename("qwl")
    both = risks.join(qwl, on=["round", "organisation", "unit"])
    for indicator, part in both.groupby("indicator"):
        assert part["value"].corr(part["qwl"]) < -0.2, indicator
    order = {r: i for i, r in enumerate(study.round_ids)}
    by_round = risks.groupby(risks["round"].map(order))["value"].mean()
    assert by_round.iloc[-1] < by_round.iloc[0]  # improving over the rounds


@pytest.mark.slow
def test_demo_run_has_the_risk_table_and_section(shared_demo_run):
    table = pd.read_csv(shared_demo_run / "reports" / "tables" / "risks.csv")
    assert set(table["group_by"]) == {"all", "organisation", "unit"}
    assert table.loc[table["suppressed"], ["value", "n"]].isna().all().all()
    for lang, word in (("fi", "Yksiköiden riskit"), ("en", "Unit risks")):
        html = (shared_demo_run / "reports" / "html" / lang / "consortium.html").read_text(
            encoding="utf-8"
        )
        assert word in html


class _View:
    """What risk_unit_columns reads of a report view: the language and its labels."""

    def __init__(self, language: str) -> None:
        from evaluation.config import load_labels

        self.language = language
        self.labels = load_labels(language)

    def label(self, key: str) -> str:
        return self.labels.get(key, key)


def test_the_report_shows_one_row_per_unit_with_value_level_and_change_in_the_locale():
    from evaluation.report.audiences import risk_unit_columns

    shipped = load_instrument(DEFAULT_INSTRUMENTS / "qwl.yaml").risks
    definitions = [r for r in shipped if r.id in ("burnout", "turnover")]
    assert len(definitions) == 2, "the shipped QWL definition has burnout and turnover"
    units = pd.DataFrame(
        {
            "indicator": ["burnout", "turnover", "burnout", "turnover"],
            "group": ["A / Tiimi 1", "A / Tiimi 1", "A / Tiimi 2", "A / Tiimi 2"],
            "n": [12, 12, np.nan, np.nan],
            "value": [10.5, 1234.0, np.nan, np.nan],
            "level": ["elevated", "high", None, None],
            "change": [-0.1, 2.0, np.nan, np.nan],
        }
    )
    fi = risk_unit_columns(_View("fi"), units, definitions)
    v = _View("fi")
    assert list(fi["group"]) == ["A / Tiimi 1", "A / Tiimi 2"]
    burnout, turnover = v.label("risk_burnout"), v.label("risk_turnover")
    assert fi.loc[0, burnout] == f"10,5 {v.label('risk_level_elevated')} (−0,1)"
    assert fi.loc[0, turnover] == f"1\u00a0234,0 {v.label('risk_level_high')} (+2,0)"
    assert fi.loc[1, [burnout, turnover]].isna().all() and bool(fi.loc[1, "suppressed"])
    assert not fi.loc[0, "suppressed"] and fi.loc[0, "n"] == 12
    en = risk_unit_columns(_View("en"), units, definitions)
    assert en.iloc[0, 2].startswith("10.5 ")
