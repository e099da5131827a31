"""Validation: each rule has a failing example that names file, row and column."""

from __future__ import annotations

import pandas as pd
import pytest

from evaluation.config import load_study
from evaluation.errors import ConfigError, DataError
from evaluation.pipeline.process import validate_study
from tests.conftest import HEADER, STUDY_YAML, row, write_study


def problems_of(root) -> pd.DataFrame:
    with pytest.raises(DataError) as info:
        validate_study(load_study(root))
    return info.value.problems


def test_valid_study_passes(tiny_study):
    data = validate_study(load_study(tiny_study))
    assert len(data["responses"]) == 12
    assert data["responses"]["qwl"].dtype == "float64"


def test_out_of_range_item_names_file_row_and_column(tmp_path):
    esis = ["4"] * 10
    esis[3] = "7"
    write_study(tmp_path, [row(), row(resp="R2", esis=esis)])
    p = problems_of(tmp_path)
    assert len(p) == 1
    rec = p.iloc[0]
    assert (rec["file"], rec["row"], rec["column"]) == ("responses.csv", 3, "esis_4")
    assert "outside 1-5" in rec["problem"] and "esis.yaml" in rec["problem"]
    assert str(rec["value"]) in ("7", "7.0")


def test_every_problem_is_listed_not_only_the_first(tmp_path):
    write_study(
        tmp_path,
        [
            row(rnd="T9"),  # unknown round
            row(qwl="101"),  # out of range
            row(part="yes"),  # bad participant code
            row(role="boss"),  # bad role
            row(unit=""),  # unit missing
            row(esis=["4"] * 9 + ["x"]),  # not a number
            row(esis=["4"] * 9 + ["2.5"]),  # not a whole number
        ],
    )
    p = problems_of(tmp_path)
    found = set(zip(p["row"], p["column"], strict=True))
    assert found == {
        (2, "round"),
        (3, "qwl"),
        (4, "participant"),
        (5, "role"),
        (6, "unit"),
        (7, "esis_10"),
        (8, "esis_10"),
    }


def test_duplicate_respondent_code_within_a_round(tmp_path):
    write_study(tmp_path, [row(resp="A1"), row(resp="A1"), row(rnd="T1", resp="A1")])
    p = problems_of(tmp_path)
    assert list(p["row"]) == [2, 3]
    assert set(p["column"]) == {"respondent"}


def test_missing_required_column(tmp_path):
    write_study(tmp_path, [])
    path = tmp_path / "data" / "raw" / "responses.csv"
    header = HEADER.replace(",esis_3", "")
    body = ",".join(["T0", "Org A", "Ward 1", "", "1", "staff", "60"] + ["4"] * 9)
    path.write_text(header + "\n" + body + "\n", encoding="utf-8")
    p = problems_of(tmp_path)
    assert ("esis_3", "required column is missing") in set(
        zip(p["column"], p["problem"], strict=True)
    )


def test_semicolon_csv_with_decimal_commas_and_cp1252(tmp_path):
    write_study(
        tmp_path, [], STUDY_YAML.replace("  Org A:", "  Hämeen Org: {actor: Actor 1}\n  Org A:")
    )
    lines = [
        HEADER.replace(",", ";"),
        ";".join(["T0", "Hämeen Org", "Ward 1", "", "1", "staff", "60,5"] + ["4"] * 10),
    ]
    path = tmp_path / "data" / "raw" / "responses.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("cp1252"))
    data = validate_study(load_study(tmp_path))["responses"]
    assert data["qwl"].iloc[0] == pytest.approx(60.5)
    assert data["organisation"].iloc[0] == "Hämeen Org"


def test_xlsx_input(tmp_path, tiny_study):
    frame = pd.read_csv(tiny_study / "data" / "raw" / "responses.csv", dtype=str)
    xlsx = tiny_study / "data" / "raw" / "responses.xlsx"
    frame.to_excel(xlsx, index=False)
    yaml_path = tiny_study / "config" / "study.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("responses.csv", "responses.xlsx"))
    data = validate_study(load_study(tiny_study))["responses"]
    assert len(data) == 12


def test_column_mapping_from_config(tmp_path):
    write_study(tmp_path, [row()])
    path = tmp_path / "data" / "raw" / "responses.csv"
    path.write_text(path.read_text().replace("round,", "Kierros,", 1))
    yaml_path = tmp_path / "config" / "study.yaml"
    yaml_path.write_text(yaml_path.read_text() + "columns: {Kierros: round}\n")
    assert len(validate_study(load_study(tmp_path))["responses"]) == 1


def test_raw_files_are_not_modified(tiny_study):
    path = tiny_study / "data" / "raw" / "responses.csv"
    before = path.read_bytes()
    validate_study(load_study(tiny_study))
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        (("baseline: T0", "baseline: T5"), "baseline 'T5'"),
        (("design: auto", "design: sometimes"), "design: 'sometimes'"),
        (("instruments: [qwl, esis]", "instruments: [qwl, nope]"), "instrument 'nope'"),
        (("rounds:", "rounds: [\n  oops"), "not valid YAML"),
    ],
)
def test_config_errors_name_the_problem(tiny_study, replace, message):
    path = tiny_study / "config" / "study.yaml"
    path.write_text(path.read_text().replace(*replace))
    with pytest.raises(ConfigError, match=message):
        load_study(tiny_study)


def test_sav_input(tiny_study):
    import pyreadstat

    frame = pd.read_csv(tiny_study / "data" / "raw" / "responses.csv", dtype=str)
    numeric = ["participant", "qwl", *[f"esis_{i}" for i in range(1, 11)]]
    frame[numeric] = frame[numeric].astype(float)
    frame["respondent"] = ""  # SPSS stores an empty string for a missing text value
    pyreadstat.write_sav(frame, str(tiny_study / "data" / "raw" / "responses.sav"))
    yaml_path = tiny_study / "config" / "study.yaml"
    yaml_path.write_text(yaml_path.read_text().replace("responses.csv", "responses.sav"))
    data = validate_study(load_study(tiny_study))["responses"]
    assert len(data) == 12
    assert data["participant"].iloc[0] == "1" and data["qwl"].iloc[0] == 55.0
    assert data["role"].notna().all() and data["respondent"].isna().all()
