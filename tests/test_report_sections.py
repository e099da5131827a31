"""Report sections from configuration: ``reports.sections`` in study.yaml selects the sections of
the audience reports after the cover; the report notebook has one cell per section."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from evaluation.cli import app
from evaluation.config import REPORT_SECTIONS, Reports, load_labels, load_study
from evaluation.errors import ConfigError
from evaluation.report import audiences
from evaluation.report.audiences import SECTIONS, Audience, ReportView, render
from tests.conftest import STUDY_YAML, copy_study, row, write_study

runner = CliRunner()
NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "90-report.ipynb"
# The heading (label key) each section after the cover shows in the demo's consortium report.
SECTION_HEADINGS = {
    "key_results": "rep_key_results",
    "participation": "lmm_did",
    "organisations": "meta_studies",
    "own_change": "rep_own_change",
    "own_qwl": "rep_own_qwl",
    "own_units": "rep_own_units",
    "risks": "rep_risks",
    "qualitative": "rep_qualitative",
    "indicators": "nb_45-indicators",
    "feedback": "nb_47-feedback",
    "hidden_figures": "rep_hidden",
    "proxy": "rep_proxy",
    "technical_appendix": "rep_analyses",
}
# Sections of an actor's or organisation's own rows: checked in an organisation's report.
OWN_SECTIONS = ("own_change", "own_qwl", "own_units")
OWN_REPORT = "reports/html/fi/organisation-hoiva-aapa-oy.html"


def _study(tmp_path: Path, reports: dict | None = None) -> Path:
    config = yaml.safe_load(STUDY_YAML)
    if reports is not None:
        config["reports"] = reports
    rows = [row(resp=f"R{i}") for i in range(6)] + [row(rnd="T1", resp=f"R{i}") for i in range(6)]
    return write_study(tmp_path, rows, yaml.safe_dump(config, allow_unicode=True))


def test_the_sections_are_one_list_in_config_audiences_and_the_notebook():
    assert [s.__name__ for s in SECTIONS] == list(REPORT_SECTIONS) == list(SECTION_HEADINGS)
    assert Reports().sections == REPORT_SECTIONS  # default: all, in the report's order
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    assert cells[0]["cell_type"] == "markdown"  # what the notebook is, first
    assert "parameters" in cells[1]["metadata"]["tags"]
    calls = [(i, "".join(c["source"])) for i, c in enumerate(cells) if c["cell_type"] == "code"]
    sections = [(i, s) for i, s in calls if re.fullmatch(r"\w+\(v\)", s)]
    assert [s for _, s in sections] == [f"{n}(v)" for n in ("cover", *REPORT_SECTIONS)]
    for i, _ in sections:  # a note for the analyst above each section, left out of the HTML
        assert cells[i - 1]["cell_type"] == "markdown"
        assert "analyst-only" in cells[i - 1]["metadata"].get("tags", [])


def _shown(tmp_path: Path, monkeypatch, reports: dict | None) -> list[str]:
    """The headings render() shows in the consortium report of a study with no tables (only
    the technical appendix has something to show then)."""
    shown: list[str] = []
    monkeypatch.setattr(audiences, "heading", lambda text, level=2: shown.append(text))
    monkeypatch.setattr(audiences, "markdown", lambda *a, **k: None)
    study = load_study(_study(tmp_path, reports))
    render(ReportView(study=study, audience=Audience("consortium", study.name), labels={}))
    return shown


def test_a_section_the_study_does_not_select_shows_nothing(tmp_path, monkeypatch):
    assert _shown(tmp_path / "a", monkeypatch, None) == ["rep_analyses"]
    assert _shown(tmp_path / "b", monkeypatch, {"sections": ["key_results"]}) == []
    assert _shown(tmp_path / "c", monkeypatch, {"sections": []}) == []  # the cover only


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        (["key_result"], "'key_result' is not one of key_results, participation"),
        (["key_result"], "(did you mean 'key_results'?)"),
        (["indicators", "indicators"], "lists indicators more than once"),
        (["cover", "key_results"], "lists the cover"),
        ("everything", "'everything' is not one of"),
        ({"key_results": True}, "must be a list"),
    ],
)
def test_a_bad_sections_list_names_file_key_and_value(tmp_path, sections, message):
    study = _study(tmp_path, {"sections": sections})
    with pytest.raises(ConfigError) as err:
        load_study(study)
    text = str(err.value)
    assert str(study / "config" / "study.yaml") in text
    assert "reports.sections:" in text and message in text


def test_an_unknown_section_fails_validation_with_exit_code_1(tmp_path):
    study = _study(tmp_path, {"sections": ["key_results", "apendix"]})
    result = runner.invoke(app, ["validate", "--study", str(study)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "study.yaml" in result.output and "reports.sections" in result.output
    assert "'apendix'" in result.output


def test_a_subset_in_the_reports_order_is_accepted(tmp_path):
    study = load_study(_study(tmp_path, {"sections": ["key_results", "technical_appendix"]}))
    assert study.reports.sections == ("key_results", "technical_appendix")
    one = load_study(_study(tmp_path / "one", {"sections": "indicators"}))
    assert one.reports.sections == ("indicators",)
    # any order selects; the report keeps its own order (a list written for an older order,
    # when the appendix was not last, stays valid)
    other = load_study(
        _study(
            tmp_path / "other", {"sections": ["technical_appendix", "own_change", "key_results"]}
        )
    )
    assert other.reports.sections == ("key_results", "own_change", "technical_appendix")


def _headings(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<h[1-3][^>]*>(.*?)</h", html)]


def test_a_study_with_key_results_only_gets_a_report_without_the_other_sections(
    tmp_path, shared_demo_run
):
    import papermill as pm

    from evaluation.pipeline.run import ENGINE_NAME, register_engine
    from evaluation.report.html import notebook_to_html

    study = copy_study(shared_demo_run, tmp_path / "study")
    config_file = study / "config" / "study.yaml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    config.setdefault("reports", {})["sections"] = ["key_results"]
    config_file.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    labels = load_labels("fi", load_study(study).paths)

    register_engine()
    executed = tmp_path / "consortium.ipynb"
    parameters = {"study_dir": ".", "language": "fi", "audience": "consortium", "group": ""}
    with contextlib.chdir(study):
        pm.execute_notebook(
            str(NOTEBOOK), str(executed), parameters=parameters, engine_name=ENGINE_NAME,
            kernel_name="evaluation", language="python", cwd=".", progress_bar=False,
            log_output=False,
        )  # fmt: skip
    html = notebook_to_html(executed, tmp_path / "consortium.html", labels=labels, provenance={})
    after = _headings(html.read_text(encoding="utf-8"))
    before = _headings((shared_demo_run / "reports/html/fi/consortium.html").read_text("utf-8"))

    own = _headings((shared_demo_run / OWN_REPORT).read_text("utf-8"))

    assert after[0] == before[0]  # the cover's title
    for section, key in SECTION_HEADINGS.items():
        # every section in the demo's own report (own rows: in an organisation's)
        assert labels[key] in (own if section in OWN_SECTIONS else before), section
        assert (labels[key] in after) == (section == "key_results"), section
