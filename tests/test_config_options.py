"""study.yaml options: typed, checked when read, every mistake a ConfigError that names the file,
the key and the value (exit code 1 from the CLI, no traceback); answer labels of the identifying
columns (a Webropol export with Kyllä/Ei and Esihenkilö/Työntekijä)."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from evaluation.cli import app
from evaluation.config import Analysis, Disclosure, Limits, Study, load_study
from evaluation.errors import ConfigError, DataError
from evaluation.pipeline.process import validate_study
from tests.conftest import STUDY_YAML, row, write_study

runner = CliRunner()


def _study(tmp_path, **changes):
    """The tiny study with top-level keys replaced (``None`` removes a key)."""
    config = yaml.safe_load(STUDY_YAML)
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    rows = [row(resp=f"R{i}") for i in range(6)] + [row(rnd="T1", resp=f"R{i}") for i in range(6)]
    return write_study(tmp_path, rows, yaml.safe_dump(config, allow_unicode=True))


ONE = {"id": "trainings", "aggregate": "count", "target": 3}

# (changes to study.yaml, the key the message names, the value it names)
BAD = [
    ({"disclosure": {"min_n": "five"}}, "disclosure.min_n", "'five'"),
    ({"disclosure": {"min_n": 0}}, "disclosure.min_n", "0"),
    ({"disclosure": "five"}, "disclosure", "'five'"),
    ({"analysis": {"ci": 1.5}}, "analysis.ci", "1.5"),
    ({"analysis": {"ci": "wide"}}, "analysis.ci", "'wide'"),
    ({"analysis": {"alpha": 0}}, "analysis.alpha", "0"),
    ({"analysis": {"bootstrap_reps": "many"}}, "analysis.bootstrap_reps", "'many'"),
    ({"analysis": {"bootstrap_reps": 0}}, "analysis.bootstrap_reps", "0"),
    ({"analysis": {"correction": "bonferroni"}}, "analysis.correction", "'bonferroni'"),
    ({"analysis": {"group_by": ["all", "team"]}}, "analysis.group_by", "'team'"),
    ({"analysis": {"group_by": []}}, "analysis.group_by", "[]"),
    ({"analysis": {"covariates": ["age"]}}, "analysis.covariates", "'age'"),
    ({"analysis": {"meta_methods": ["reml", "reml"]}}, "analysis.meta_methods", "'reml'"),
    (
        {"analysis": {"qualitative": {"include_suggestions": "maybe"}}},
        "analysis.qualitative.include_suggestions",
        "'maybe'",
    ),
    ({"language": "sv"}, "language", "'sv'"),
    ({"design": "sometimes"}, "design", "'sometimes'"),
    ({"seed": "abc"}, "seed", "'abc'"),
    ({"seed": -1}, "seed", "-1"),
    ({"targets": {"id": "x"}}, "targets", "'id'"),
    ({"targets": [{**ONE, "aggregate": "counts"}]}, "targets[0] (trainings).aggregate", "'counts'"),
    ({"targets": [{**ONE, "target": "lots"}]}, "targets[0] (trainings).target", "'lots'"),
    ({"targets": [{**ONE, "direction": "above"}]}, "targets[0] (trainings).direction", "'above'"),
    ({"targets": [{**ONE, "source": "survey"}]}, "targets[0] (trainings).source", "'survey'"),
    ({"targets": [{**ONE, "filter": ["training"]}]}, "targets[0] (trainings).filter", "training"),
    ({"targets": [ONE, ONE]}, "targets[1] (trainings).id", "'trainings'"),
    ({"targets": [{**ONE, "per": "unit"}]}, "targets[0] (trainings).per", "'unit'"),
    (
        {"targets": [{**ONE, "aggregate": "share_organisations", "target": 80}]},
        "targets[0] (trainings).target",
        "80",
    ),
    ({"reports": {"languages": ["sv"]}}, "reports.languages", "'sv'"),
    ({"limits": {"qdpx_max_bytes": "lots"}}, "limits.qdpx_max_bytes", "'lots'"),
    ({"redaction": {"names": "Mervi", "keep": [{"a": 1}]}}, "redaction.keep", "'a'"),
    (
        {"organisations": {"Org A": {"units": {"Ward 1": "many"}}}},
        "organisations.Org A.units.Ward 1",
        "'many'",
    ),
    (
        {"answer_labels": {"participant": {"Kyllä": "yes please"}}},
        "answer_labels.participant.Kyllä",
        "'yes please'",
    ),
    (
        {"answer_labels": {"role": {"Esihenkilö": "boss"}}},
        "answer_labels.role.Esihenkilö",
        "'boss'",
    ),
]


@pytest.mark.parametrize(("changes", "key", "value"), BAD, ids=[b[1] for b in BAD])
def test_a_bad_option_names_file_key_and_value(tmp_path, changes, key, value):
    study = _study(tmp_path, **changes)
    with pytest.raises(ConfigError) as err:
        load_study(study)
    message = str(err.value)
    assert str(study / "config" / "study.yaml") in message
    assert f"{key}:" in message
    assert value in message.split(f"{key}:", 1)[1]


@pytest.mark.parametrize(("changes", "key", "value"), BAD, ids=[b[1] for b in BAD])
def test_the_cli_exits_1_without_a_traceback(tmp_path, changes, key, value):
    study = _study(tmp_path, **changes)
    result = runner.invoke(app, ["validate", "--study", str(study)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "study.yaml" in result.output and key in result.output and value in result.output


def test_missing_target_keys_are_named(tmp_path):
    for key in ("id", "aggregate", "target"):
        spec = {k: v for k, v in ONE.items() if k != key}
        with pytest.raises(ConfigError, match=rf"targets\[0\].*{key}: required"):
            load_study(_study(tmp_path, targets=[spec]))
    with pytest.raises(ConfigError, match=r"measure: required by aggregate sum"):
        load_study(_study(tmp_path, targets=[{**ONE, "aggregate": "sum"}]))


@pytest.mark.parametrize(
    ("changes", "wrong", "meant"),
    [
        ({"disclosure": {"minn": 3}}, "disclosure.minn", "min_n"),
        ({"analysis": {"bootstrap_rep": 99}}, "analysis.bootstrap_rep", "bootstrap_reps"),
        (
            {"analysis": {"qualitative": {"include_suggestion": True}}},
            "include_suggestion",
            "include_suggestions",
        ),
        ({"analysis": {"correction": "fdr"}}, "analysis.correction", "fdr_bh"),
        ({"analysis": {"group_by": ["organization"]}}, "analysis.group_by", "organisation"),
        ({"targets": [{**ONE, "filtr": {"activity": "training"}}]}, "filtr", "filter"),
        ({"targets": [{**ONE, "aggregate": "counts"}]}, "aggregate", "count"),
        ({"answer_labels": {"rol": {"Esihenkilö": "supervisor"}}}, "answer_labels.rol", "role"),
        ({"disclosre": {"min_n": 10}}, "disclosre", "disclosure"),
        (
            {"organisations": {"Org A": {"unit": {"Ward 1": 3}}}},
            "organisations.Org A.unit",
            "units",
        ),
        ({"reports": {"language": ["fi"]}}, "reports.language", "languages"),
    ],
)
def test_unknown_keys_and_values_suggest_the_near_one(tmp_path, changes, wrong, meant):
    with pytest.raises(ConfigError, match="did you mean") as err:
        load_study(_study(tmp_path, **changes))
    assert wrong in str(err.value) and f"did you mean '{meant}'?" in str(err.value)


def test_an_unknown_top_level_key_unlike_any_option_is_ignored_with_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="evaluation.config"):
        study = load_study(_study(tmp_path, notes="fieldwork by Webropol"))
    assert study.min_n == 5
    assert "notes" in caplog.text


def test_defaults_live_in_the_dataclasses(tmp_path):
    study = load_study(_study(tmp_path, disclosure=None, design=None, language=None))
    assert study.analysis == Analysis()
    assert study.disclosure == Disclosure()
    assert study.limits == Limits()
    assert (study.seed, study.language, study.design) == (Study.seed, Study.language, "auto")
    assert study.targets == () and study.reports.languages == ()


def test_valid_options_are_typed(tmp_path):
    study = load_study(
        _study(
            tmp_path,
            disclosure={"min_n": "3"},  # a quoted number is still a number
            analysis={
                "ci": 0.9,
                "group_by": "organisation",
                "covariates": ["role"],
                "meta_methods": ["dl"],
                "qualitative": {"include_suggestions": True},
            },
            targets=[{**ONE, "filter": {"activity": ["training", "workshop"]}}],
        )
    )
    assert study.min_n == 3
    assert study.analysis.ci == 0.9 and study.analysis.group_by == ("organisation",)
    assert study.analysis.covariates == ("role",) and study.analysis.meta_methods == ("dl",)
    assert study.analysis.qualitative.include_suggestions is True
    assert study.analysis.bootstrap_reps == Analysis.bootstrap_reps
    spec = study.targets[0].spec()
    assert spec == {
        "id": "trainings",
        "aggregate": "count",
        "target": 3.0,
        "source": "activities",
        "filter": {"activity": ["training", "workshop"]},
        "direction": "at_least",
        "label_key": "trainings",
        "unit": "",
        "per": "all",
    }


# --------------------------------------------------------------------------- answer labels

WEBROPOL_LABELS = {
    "participant": {"Kyllä": 1, "Ei": 0},
    "role": {"Esihenkilö": "supervisor", "Työntekijä": "staff"},
}


def _webropol(tmp_path, labels=WEBROPOL_LABELS):
    """Participation as Kyllä/Ei and role as Esihenkilö/Työntekijä, in mixed letter case."""
    rows = []
    answers = [("Kyllä", "Esihenkilö"), ("ei", "työntekijä"), (" KYLLÄ ", "Työntekijä"), ("", "")]
    for rnd in ("T0", "T1"):
        for i in range(8):
            part, role = answers[i % len(answers)]
            rows.append(row(rnd=rnd, resp=f"R{i}", part=part, role=role, qwl=str(50 + i)))
    return _write(tmp_path, rows, labels)


def _write(tmp_path, rows, labels):
    config = yaml.safe_load(STUDY_YAML)
    if labels is not None:
        config["answer_labels"] = labels
    return write_study(tmp_path, rows, yaml.safe_dump(config, allow_unicode=True))


def test_webropol_labels_of_identifying_columns_are_mapped(tmp_path):
    from evaluation.pipeline.process import process

    study_dir = _webropol(tmp_path)
    raw = (study_dir / "data" / "raw" / "responses.csv").read_bytes()
    study = load_study(study_dir)
    responses = validate_study(study)["responses"]
    assert responses["participant"].tolist()[:4] == ["1", "0", "1", pd.NA]
    assert responses["role"].tolist()[:4] == ["supervisor", "staff", "staff", pd.NA]
    process(study)
    scores = pd.read_parquet(study.paths.processed / "scores.parquet")
    assert scores["participant"].tolist()[:4] == [1, 0, 1, pd.NA]
    assert set(scores["role"].dropna()) == {"supervisor", "staff"}
    assert (study_dir / "data" / "raw" / "responses.csv").read_bytes() == raw  # never written


def test_without_answer_labels_the_texts_are_named_as_problems(tmp_path):
    with pytest.raises(DataError) as err:
        validate_study(load_study(_webropol(tmp_path, labels=None)))
    problems = err.value.problems
    assert {"Kyllä", "ei"} <= set(problems.loc[problems["column"] == "participant", "value"])
    assert "Esihenkilö" in set(problems.loc[problems["column"] == "role", "value"])


def test_a_label_not_in_answer_labels_is_still_a_problem(tmp_path):
    rows = [row(resp="R1", part="Kyllä"), row(resp="R2", part="Ehkä")]
    with pytest.raises(DataError, match=r"row 3, column participant: 'Ehkä'"):
        validate_study(load_study(_write(tmp_path, rows, WEBROPOL_LABELS)))


def test_answer_labels_accept_yes_no_booleans_and_text_codes(tmp_path):
    labels = {"participant": {"Kyllä": True, "Ei": "0"}, "role": {"Esimies": "Supervisor"}}
    study = load_study(_write(tmp_path, [row()], labels))
    assert study.answer_labels.participant == {"kyllä": "1", "ei": "0"}
    assert study.answer_labels.role == {"esimies": "supervisor"}


def test_a_data_entry_that_is_not_a_path_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.responses: \{'file': 'x.csv'\} is not a path"):
        load_study(_study(tmp_path, data={"responses": [{"file": "x.csv"}]}))


def test_a_target_column_missing_from_its_records_is_named_when_validating(tmp_path):
    targets = [{**ONE, "filter": {"activty": "training"}}]
    study_dir = _study(
        tmp_path,
        targets=targets,
        data={"responses": "data/raw/responses.csv", "activities": "data/raw/activities.csv"},
    )
    (study_dir / "data" / "raw" / "activities.csv").write_text(
        "round,organisation,activity,participants\nT0,Org A,training,12\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as err:
        validate_study(load_study(study_dir))
    message = str(err.value)
    assert "study.yaml: targets[0] (trainings).filter.activty: 'activty'" in message
    assert "activities.csv" in message and "did you mean 'activity'?" in message
    result = runner.invoke(app, ["validate", "--study", str(study_dir)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    targets[0]["filter"] = {"activity": "training"}
    _study(
        tmp_path,
        targets=targets,
        data={"responses": "data/raw/responses.csv", "activities": "data/raw/activities.csv"},
    )
    assert len(validate_study(load_study(study_dir))["activities"]) == 1


# An instrument of the study's own (config/instruments/<id>.yaml): (definition, what the
# message names). Each was a traceback or, worse, silently ignored (a misspelt `reverse`).
GOOD_INSTRUMENT = {
    "id": "scale", "items": ["s1", "s2", "s3"], "range": {"min": 1, "max": 5},
    "integer": True, "reverse": ["s2"], "score": {"method": "mean", "min_answered": 2},
}  # fmt: skip
BAD_INSTRUMENTS = [
    ({"range": {"min": "low", "max": 5}}, "range.min: 'low' is not a number"),
    ({"range": {"min": 5, "max": 1}}, "needs min < max"),
    ({"revrese": ["s2"]}, "revrese: unknown key (did you mean 'reverse'?)"),
    ({"score": {"method": "median"}}, "score.method: 'median' is not one of mean, sum, column"),
    ({"score": {"method": "mean", "min_answred": 2}}, "score.min_answred: unknown key"),
    ({"score": {"method": "mean", "min_answered": "two"}}, "score.min_answered: 'two'"),
    ({"integer": "yes"}, "integer: 'yes' is not true or false"),
    ({"file": "respones"}, "file: 'respones' is not one of responses, feedback"),
    ({"bands": [{"id": "low", "upper": 3}, {"id": "high", "upper": 2}]}, "bands[1]"),
    ({"bands": [{"id": "low", "upper": "three"}]}, "bands[0].upper: 'three' is not a number"),
]


@pytest.mark.parametrize(("change", "message"), BAD_INSTRUMENTS)
def test_an_instrument_definition_is_checked_key_by_key(tmp_path, change, message):
    from evaluation.config import load_instrument

    path = tmp_path / "scale.yaml"
    path.write_text(yaml.safe_dump({**GOOD_INSTRUMENT, **change}), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_instrument(path)
    assert str(path) in str(error.value) and message in str(error.value), str(error.value)


def test_a_good_instrument_definition_loads_with_its_types(tmp_path):
    from evaluation.config import load_instrument

    path = tmp_path / "scale.yaml"
    bands = [{"id": "low", "upper": 3}, {"id": "high", "upper": None}]
    path.write_text(yaml.safe_dump({**GOOD_INSTRUMENT, "bands": bands}), encoding="utf-8")
    inst = load_instrument(path)
    assert inst.items == ("s1", "s2", "s3") and inst.reverse == ("s2",)
    assert (inst.range_min, inst.range_max, inst.min_answered) == (1.0, 5.0, 2)
    assert [(b.id, b.upper) for b in inst.bands] == [("low", 3.0), ("high", None)]


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        ({"a": {"id": "a"}}, "`codes` must be a list"),
        ([{"id": "a"}, {"id": "a"}], "id 'a' appears more than once"),
        ([{"id": "a", "tone": "good"}], "tone 'good' is not one of resource, problem"),
        ([{"id": "a", "keywords": [{"x": 1}]}], "`keywords` must be a list of texts"),
    ],
)
def test_a_codebook_is_checked(tmp_path, codes, message):
    from evaluation.io.codings import load_codebook

    study = load_study(_study(tmp_path))
    (study.paths.config_dir / "codebook.yaml").write_text(
        yaml.safe_dump({"codes": codes}), encoding="utf-8"
    )
    with pytest.raises(DataError, match=message.replace("(", r"\(")):
        load_codebook(study)


def test_a_codebook_keyword_given_as_one_text_is_one_keyword_not_its_letters(tmp_path):
    from evaluation.io.codings import load_codebook

    study = load_study(_study(tmp_path))
    (study.paths.config_dir / "codebook.yaml").write_text(
        yaml.safe_dump({"codes": [{"id": "a", "keywords": "turvalli"}]}), encoding="utf-8"
    )
    assert load_codebook(study)["keywords"].tolist() == [["turvalli"]]


def test_headline_measures_come_from_the_configuration(tmp_path):
    default = load_study(_study(tmp_path / "default"))
    assert default.headline_measures == [m for m in ("qwl", "esis") if m in default.measures]
    chosen = default.measures[-1]
    study = load_study(_study(tmp_path / "chosen", reports={"headline_measures": [chosen]}))
    assert study.headline_measures == [chosen]


@pytest.mark.parametrize(
    ("listed", "expected"),
    [(["qwll"], "did you mean 'qwl'"), (["qwl", "qwl"], "names a measure twice")],
)
def test_unknown_or_repeated_headline_measures_are_named(tmp_path, listed, expected):
    root = _study(tmp_path, reports={"headline_measures": listed})
    with pytest.raises(ConfigError, match=r"reports\.headline_measures") as err:
        load_study(root)
    assert expected in str(err.value)
