"""Bad input: every file of the corpus gives its message, no traceback, raw bytes unchanged;
config errors name the file and line; a failed run leaves the previous outputs in place."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from evaluation.cli import app
from evaluation.config import load_study
from evaluation.errors import ConfigError, DataError
from evaluation.pipeline.process import validate_study
from tests.conftest import STUDY_YAML, write_study

CORPUS = Path(__file__).parent / "data" / "bad"
CASES = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))
runner = CliRunner()


def _study_with(tmp_path: Path, name: str) -> Path:
    root = write_study(tmp_path, [])
    raw = root / "data" / "raw"
    (raw / "responses.csv").unlink()
    shutil.copy(CORPUS / name, raw / name)
    text = (root / "config" / "study.yaml").read_text(encoding="utf-8")
    text = text.replace("data/raw/responses.csv", f"data/raw/{name}")
    (root / "config" / "study.yaml").write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_file_gives_its_message(tmp_path, name):
    """The command exits with the case's code and no traceback; the error message (what
    `evaluation validate` and `run` report) holds every expected string."""
    case = CASES[name]
    root = _study_with(tmp_path, name)
    raw = root / "data" / "raw" / name
    before = hashlib.sha256(raw.read_bytes()).hexdigest()
    result = runner.invoke(
        app, ["validate", "--study", str(root)], env={"COLUMNS": "200"}, catch_exceptions=False
    )
    assert result.exit_code == case["exit"], result.output
    assert "traceback" not in result.output.lower()
    if case["exit"] == 0:
        message = result.output
    else:
        with pytest.raises(DataError) as info:
            validate_study(load_study(root))
        message = str(info.value)
        assert name in result.output  # the command names the file too
    for expected in case["expect"]:
        assert expected.lower() in message.lower(), (expected, message)
    assert hashlib.sha256(raw.read_bytes()).hexdigest() == before  # raw data never modified


def test_problem_lists_are_capped_per_rule_with_counts(tmp_path):
    from tests.conftest import row

    rows = [row(resp=f"R{i}", esis=["9"] * 10) for i in range(40)]
    root = write_study(tmp_path, rows)
    with pytest.raises(DataError) as info:
        validate_study(load_study(root))
    assert len(info.value.problems) == 400  # every problem is kept in the frame
    message = str(info.value)
    assert "400 problem(s)" in message and "more of this kind" in message
    assert message.count("outside 1-5") < 60


def test_likert_labels_and_missing_codes_are_read_as_numbers(tmp_path):
    root = _study_with(tmp_path, "ok_likert_labels_and_missing_codes.csv")
    data = validate_study(load_study(root))["responses"]
    last = data.iloc[-1]
    assert last["esis_1"] == 5 and last["esis_2"] == 4
    assert pd.isna(last["esis_3"]) and pd.isna(last["esis_4"])


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    root = write_study(tmp_path, [], STUDY_YAML.replace("baseline: T0", "baseline: [T0"))
    result = runner.invoke(app, ["validate", "--study", str(root)], env={"COLUMNS": "400"})
    output = "".join(result.output.split())  # long paths wrap on narrow consoles
    assert result.exit_code == 1 and "study.yaml,line7" in output
    assert "notvalidYAML" in output and "Traceback" not in output


def test_unknown_instrument_is_a_config_error(tmp_path):
    root = write_study(tmp_path, [], STUDY_YAML.replace("[qwl, esis]", "[qwl, esiss]"))
    with pytest.raises(ConfigError, match=r"esiss.*no definition"):
        load_study(root)


def test_xlsx_with_question_headers_and_summary_rows(tmp_path):
    """A Webropol-style export: question texts as headers (mapped by study.yaml `columns`),
    a respondent number and a timestamp column, and summary rows at the bottom."""
    from tests.conftest import HEADER

    root = write_study(tmp_path, [])
    columns = HEADER.split(",")
    header = ["Vastaaja", "Aika", "Kierros", *columns[1:]]
    rows = [[i + 1, "2025-10-15 10:00", "T0", "Org A", "Ward 1", f"R{i}", "1", "staff", "61.5",
             *["4"] * 10] for i in range(6)]  # fmt: skip
    rows.append(["Keskiarvo", None, None, None, None, None, None, None, "61.5", *["4"] * 10])
    rows.append(["Yhteensä", None, None, None, None, None, None, None, None, *[None] * 10])
    pd.DataFrame(rows, columns=header).to_excel(root / "data" / "raw" / "export.xlsx", index=False)
    text = (root / "config" / "study.yaml").read_text(encoding="utf-8")
    text = text.replace("data/raw/responses.csv", "data/raw/export.xlsx")
    text += "columns: {Kierros: round}\n"
    (root / "config" / "study.yaml").write_text(text, encoding="utf-8")
    data = validate_study(load_study(root))["responses"]
    assert len(data) == 6 and data["qwl"].eq(61.5).all()


def test_sav_value_labels_and_user_missing_values(tmp_path):
    """A Questback-style SPSS file: organisation stored as labelled codes, ESIS with a
    user-missing code 9 ("en osaa sanoa")."""
    import pyreadstat

    root = write_study(tmp_path, [])
    frame = pd.DataFrame(
        {
            "round": ["T0"] * 6, "organisation": [1.0] * 6, "unit": ["Ward 1"] * 6,
            "respondent": [f"R{i}" for i in range(6)], "participant": [1.0] * 6,
            "role": ["staff"] * 6, "qwl": [60.0, 61, 62, 63, 64, 65],
            **{f"esis_{i}": [4.0, 4, 4, 4, 4, 9] for i in range(1, 11)},
        }
    )  # fmt: skip
    path = root / "data" / "raw" / "export.sav"
    pyreadstat.write_sav(
        frame, str(path),
        variable_value_labels={"organisation": {1.0: "Org A"},
                               **{f"esis_{i}": {9.0: "en osaa sanoa"} for i in range(1, 11)}},
        missing_ranges={f"esis_{i}": [9.0] for i in range(1, 11)},
    )  # fmt: skip
    text = (root / "config" / "study.yaml").read_text(encoding="utf-8")
    (root / "config" / "study.yaml").write_text(
        text.replace("data/raw/responses.csv", "data/raw/export.sav"), encoding="utf-8"
    )
    data = validate_study(load_study(root))["responses"]
    assert set(data["organisation"]) == {"Org A"}
    assert data["esis_1"].isna().sum() == 1 and data["esis_1"].dropna().eq(4).all()


def test_a_failed_run_leaves_the_previous_outputs_in_place(tmp_path):
    from evaluation.pipeline.run import run
    from tests.conftest import row

    root = write_study(tmp_path, [row(resp=f"R{i}") for i in range(6)])
    reports = root / "reports"
    (reports / "tables").mkdir(parents=True)
    (root / "data" / "processed").mkdir(parents=True)
    previous = {
        reports / "tables" / "prepost.csv": b"measure\nqwl\n",
        reports / "manifest.json": b'{"tables": {}}\n',
        reports / "html" / "index.html": b"<html></html>\n",
        root / "data" / "processed" / "scores.parquet": b"PAR1 previous",
    }
    for path, content in previous.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    raw = root / "data" / "raw" / "responses.csv"
    raw.write_text(raw.read_text(encoding="utf-8") + row(esis=["8"] * 10) + "\n", "utf-8")
    with pytest.raises(DataError):
        run(root, jobs=1)
    for path, content in previous.items():
        assert path.read_bytes() == content, path
