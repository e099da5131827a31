"""The whole path on the demo study: demo -> run -> tables, HTML, manifest -> reproduce."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from evaluation.demo.generate import write_demo
from evaluation.io.files import sha256_file
from evaluation.pipeline.run import run
from tests.conftest import copy_study

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("end_to_end")]

CLI = [sys.executable, "-m", "evaluation.cli"]

CONTRACT_COLUMNS = {
    "reliability": [
        "instrument", "round", "n", "k_items", "cronbach_alpha", "alpha_ci_low",
        "alpha_ci_high", "omega",
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, shared_demo_run) -> Path:
    """The demo study run in both languages; this module's own copy (a test runs it again)."""
    return copy_study(shared_demo_run, tmp_path_factory.mktemp("demo"))


def test_one_report_per_audience_in_both_languages(demo_run):
    from evaluation.config import load_study
    from evaluation.report.audiences import audiences

    found = audiences(load_study(demo_run))
    kinds = [a.kind for a in found]
    assert kinds.count("consortium") == 1 and kinds.count("actor") == 3
    assert kinds.count("organisation") == 17
    html_dir = demo_run / "reports" / "html"
    for lang, title in (("fi", "Keskeiset tulokset"), ("en", "Key results")):
        for aud in found:
            page = (html_dir / lang / f"{aud.slug}.html").read_text(encoding="utf-8")
            assert title in page and aud.name in page, (lang, aud.slug)
            assert "import audience" not in page  # code hidden
    index = (html_dir / "index.html").read_text(encoding="utf-8")
    assert "fi/consortium.html" in index and "en/organisation-hoiva-aapa-oy.html" in index


def test_an_organisation_report_never_names_another_organisation(demo_run):
    from evaluation.config import load_study
    from evaluation.report.audiences import audiences

    study = load_study(demo_run)
    names = sorted(study.organisations)
    for aud in (a for a in audiences(study) if a.kind == "organisation"):
        for lang in ("fi", "en"):
            page = (demo_run / "reports" / "html" / lang / f"{aud.slug}.html").read_text(
                encoding="utf-8"
            )
            others = [n for n in names if n != aud.name and n in page]
            assert not others, (aud.name, lang, others)


def test_no_planted_personal_data_reaches_any_report_file(demo_run):
    from evaluation.demo.generate import PLANTED_PII

    planted = [value for values in PLANTED_PII.values() for value in values]
    for path in (demo_run / "reports").rglob("*"):
        if path.is_file() and path.suffix in {".csv", ".html", ".ipynb", ".json", ".svg", ".tex"}:
            text = path.read_text(encoding="utf-8", errors="replace")
            leaked = [value for value in planted if value in text]
            assert not leaked, (path, leaked)


def test_tables_of_record_have_the_contract_columns(demo_run):
    tables = demo_run / "reports" / "tables"
    for name, columns in CONTRACT_COLUMNS.items():
        frame = pd.read_csv(tables / f"{name}.csv")
        assert list(frame.columns[: len(columns)]) == columns, name
    rel = pd.read_csv(tables / "reliability.csv")
    esis = rel[(rel["instrument"] == "esis") & ~rel["suppressed"]]
    assert len(esis) == 4 and esis["cronbach_alpha"].between(0.8, 0.97).all()


def test_html_reports_hide_code_and_carry_provenance(demo_run):
    html_dir = demo_run / "reports" / "html"
    page = (html_dir / "10-data-quality.html").read_text(encoding="utf-8")
    assert "open_study(" not in page and "import steps" not in page  # code cells hidden
    assert "Cronbach" in page or "Cronbachin" in page
    assert "data/raw/responses.csv" in page  # provenance footer names the inputs
    index = (html_dir / "index.html").read_text(encoding="utf-8")
    assert "10-data-quality.html" in index


def test_manifest_records_inputs_and_table_hashes(demo_run):
    manifest = json.loads((demo_run / "reports" / "manifest.json").read_text())
    raw = demo_run / "data" / "raw" / "responses.csv"
    assert manifest["inputs"]["data/raw/responses.csv"] == sha256_file(raw)
    for name, digest in manifest["tables"].items():
        assert sha256_file(demo_run / "reports" / "tables" / name) == digest
    assert manifest["seeds"]["study"] == 20251015
    assert manifest["packages"]["pandas"] == pd.__version__


def test_second_run_skips_unchanged_notebooks_and_reproduces(demo_run):
    before = {p.name: sha256_file(p) for p in (demo_run / "reports" / "tables").glob("*.csv")}
    records = run(demo_run, jobs=2)
    assert {r["status"] for r in records.values()} == {"unchanged"}
    after = {p.name: sha256_file(p) for p in (demo_run / "reports" / "tables").glob("*.csv")}
    assert before == after


def test_reproduce_command_passes_then_catches_a_changed_table(demo_run, tmp_path):
    study = tmp_path / "study"
    shutil.copytree(demo_run, study)
    ok = subprocess.run([*CLI, "reproduce", "--study", str(study)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    manifest_path = study / "reports" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["tables"]["reliability.csv"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    bad = subprocess.run([*CLI, "reproduce", "--study", str(study)], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "reliability.csv" in bad.stderr and "Traceback" not in bad.stderr


def test_validate_names_file_row_and_column_and_exits_1(tmp_path):
    write_demo(tmp_path, respondents=100)
    raw = tmp_path / "data" / "raw" / "responses.csv"
    lines = raw.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    cells = lines[4].split(",")
    cells[header.index("esis_4")] = "7"
    lines[4] = ",".join(cells)
    raw.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = subprocess.run(
        [*CLI, "validate", "--study", str(tmp_path)], capture_output=True, text=True
    )
    assert res.returncode == 1
    assert "responses.csv" in res.stderr and "esis_4" in res.stderr and "5" in res.stderr
    assert "Traceback" not in res.stderr
    res = subprocess.run([*CLI, "run", "--study", str(tmp_path)], capture_output=True, text=True)
    assert res.returncode == 1 and "esis_4" in res.stderr
    assert not (tmp_path / "reports" / "tables").exists()


def test_failed_notebook_exits_3_and_keeps_partial_output(tmp_path):
    write_demo(tmp_path, respondents=100)
    nb_dir = tmp_path / "notebooks"
    nb_dir.mkdir()
    shipped = Path(__file__).parents[1] / "notebooks" / "10-data-quality.ipynb"
    nb = json.loads(shipped.read_text(encoding="utf-8"))
    nb["cells"][-1]["source"] = "raise RuntimeError('planted failure')"
    (nb_dir / "10-data-quality.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    shutil.copy(shipped.with_name("45-indicators.ipynb"), nb_dir)
    res = subprocess.run([*CLI, "run", "--study", str(tmp_path)], capture_output=True, text=True)
    assert res.returncode == 3
    partial = tmp_path / "reports" / "notebooks" / "10-data-quality.ipynb"
    assert partial.is_file() and "planted failure" in partial.read_text(encoding="utf-8")
    assert "10-data-quality.ipynb" in res.stderr and "Traceback" not in res.stderr
    assert "cell [" in res.stderr and "planted failure" in res.stderr  # names the failing cell
    # The independent notebook still ran and has its report and table.
    assert (tmp_path / "reports" / "html" / "45-indicators.html").is_file()
    assert (tmp_path / "reports" / "tables" / "indicators.csv").is_file()


def test_summary_statistics_mode_runs_what_is_valid_and_says_what_was_skipped(tmp_path):
    write_demo(tmp_path, respondents=200)
    raw = pd.read_csv(tmp_path / "data" / "raw" / "responses.csv")
    summaries = (
        raw.groupby(["round", "organisation", "unit"])["qwl"]
        .agg(n="count", mean="mean", sd="std")
        .reset_index()
        .assign(measure="qwl")
    )
    summaries = summaries[summaries["n"] > 0]
    summaries.to_csv(tmp_path / "data" / "raw" / "summaries.csv", index=False)
    (tmp_path / "data" / "raw" / "responses.csv").unlink()
    config = tmp_path / "config" / "study.yaml"
    text = config.read_text(encoding="utf-8")
    text = text.replace("responses: data/raw/responses.csv", "summaries: data/raw/summaries.csv")
    text = text.replace("instruments: [qwl, esis, kykyviisari]", "instruments: [qwl]")
    config.write_text(text, encoding="utf-8")
    stale = tmp_path / "reports" / "tables" / "lmm.csv"  # left by an earlier run on responses
    stale.parent.mkdir(parents=True)
    stale.write_text("measure\nqwl\n", encoding="utf-8")
    run(tmp_path, jobs=2)
    tables = tmp_path / "reports" / "tables"
    prepost = pd.read_csv(tables / "prepost.csv")
    assert set(prepost["test"]) == {"welch_t"} and set(prepost["effect_size_type"]) == {"hedges_g"}
    # the configured groupings: organisations' actor, sector and size come from study.yaml
    assert set(prepost["group_by"]) == {"all", "actor", "organisation", "unit", "sector", "size"}
    meta = pd.read_csv(tables / "meta.csv")
    assert (meta["row_type"] == "pooled").any() and meta["effect_size"].notna().any()
    skipped = pd.read_csv(tables / "skipped.csv")
    assert skipped["tables"].str.contains("lmm.csv").any()
    assert not (tables / "lmm.csv").exists() and not (tables / "reliability.csv").exists()
    page = (tmp_path / "reports" / "html" / "30-longitudinal.html").read_text(encoding="utf-8")
    assert "yhteenvetoja" in page  # the report says why the mixed model was skipped


def test_reproduce_fails_after_a_raw_value_is_changed(demo_run, tmp_path):
    study = tmp_path / "study"
    shutil.copytree(demo_run, study)
    raw = study / "data" / "raw" / "responses.csv"
    frame = pd.read_csv(raw, dtype=str, keep_default_na=False)
    first = frame.index[frame["qwl"] != ""][0]
    frame.loc[first, "qwl"] = str(round(100 - float(frame.loc[first, "qwl"]), 1))
    frame.to_csv(raw, index=False)
    res = subprocess.run([*CLI, "reproduce", "--study", str(study)], capture_output=True, text=True)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert "prepost.csv" in res.stderr and "differs" in res.stderr


def test_kernel_engine_gives_the_same_tables_as_the_in_process_engine(demo_run, tmp_path):
    study = tmp_path / "study"
    shutil.copytree(demo_run, study)
    run(study, jobs=1, engine="kernel", only=["45"], use_cache=False, reports=False)
    name = "indicators.csv"
    assert sha256_file(study / "reports" / "tables" / name) == sha256_file(
        demo_run / "reports" / "tables" / name
    )
    executed = json.loads((study / "reports" / "notebooks" / "45-indicators.ipynb").read_text())
    assert executed["metadata"]["papermill"]["parameters"]["study_dir"] == "."  # portable


def test_a_notebook_that_kills_its_worker_fails_cleanly(tmp_path):
    """A worker process that dies (here: os._exit, as after running out of memory) fails its
    notebook and the ones that could not run; the run exits 3 without a traceback."""
    write_demo(tmp_path, respondents=100)
    nb_dir = tmp_path / "notebooks"
    shipped = Path(__file__).parents[1] / "notebooks"
    nb_dir.mkdir()
    for name in ("10-data-quality.ipynb", "90-report.ipynb"):
        shutil.copy(shipped / name, nb_dir)
    nb = json.loads((nb_dir / "10-data-quality.ipynb").read_text(encoding="utf-8"))
    nb["cells"][-1]["source"] = "import os\nos._exit(1)"
    (nb_dir / "10-data-quality.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    res = subprocess.run(
        [*CLI, "run", "--study", str(tmp_path), "--jobs", "1", "--language", "fi"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 3, res.stderr
    assert "Traceback" not in res.stderr and "worker process died" in res.stderr
    assert "not run" in res.stderr  # the reports after it are reported, not crashed on
