"""Ordinary study shapes the contract allows run end to end (issue 13): a study at its first
round, two rounds with an organisation in one round only, plain codings of other material
(segments that are not answer ids, codes outside the codebook, no open answers), open answers
without codings, a ``.qdpx`` project only, and summary-statistics mode with a unit the vendor
suppressed and the configured actor / sector / size groupings.

Each study is small (two organisations, a few dozen answers) so a whole run stays short."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation.pipeline.run import run

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("study_shapes")]

ESIS = [f"esis_{i}" for i in range(1, 11)]

STUDY = """\
study: Shapes
language: fi
reports: {{languages: [fi, en]}}
rounds:
{rounds}
baseline: T0
instruments: [qwl, esis]
data:
{data}
disclosure: {{min_n: 5}}
analysis: {{bootstrap_reps: 99, group_by: [all, actor, organisation, sector, size]}}
redaction: {{names: [Matti Meikäläinen]}}
organisations:
  Org A: {{actor: Actor 1, sector: public, size: large, units: {{Ward 1: 20, Ward 2: 20}}}}
  Org B: {{actor: Actor 2, sector: private, size: small, units: {{Team: 20}}}}
"""

ROUNDS = {
    "T0": '  - {id: T0, label: "Baseline 2025", date: 2025-10-15}',
    "T1": '  - {id: T1, label: "2026", date: 2026-10-15}',
}


def responses(rounds: dict[str, list[tuple[str, str]]], per_unit: int = 8, seed: int = 1):
    """``rounds``: round id -> the (organisation, unit) cells answering in that round."""
    rng = np.random.default_rng(seed)
    rows = []
    for rnd, cells in rounds.items():
        for org, unit in cells:
            for i in range(per_unit):
                row = {
                    "round": rnd,
                    "organisation": org,
                    "unit": unit,
                    "respondent": "",
                    "participant": int(i % 2),
                    "role": "staff",
                    "qwl": round(float(rng.normal(60, 10)), 1),
                }
                row.update({c: int(rng.integers(2, 6)) for c in ESIS})
                rows.append(row)
    return pd.DataFrame(rows)


def write(
    root: Path,
    rounds: list[str],
    frames: dict[str, pd.DataFrame],
    extra_data: dict[str, str] | None = None,
) -> Path:
    (root / "config").mkdir(parents=True)
    (root / "data" / "raw").mkdir(parents=True)
    data = {}
    for name, frame in frames.items():
        frame.to_csv(root / "data" / "raw" / f"{name}.csv", index=False)
        data[name] = f"data/raw/{name}.csv"
    data.update(extra_data or {})
    text = STUDY.format(
        rounds="\n".join(ROUNDS[r] for r in rounds),
        data="\n".join(f"  {k}: {v}" for k, v in data.items()),
    )
    (root / "config" / "study.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    (root / "config" / "codebook.yaml").write_text(
        "codes:\n"
        "  - {id: dialogue, label_fi: Dialogi, label_en: Dialogue, tone: resource}\n"
        "  - {id: workload, label_fi: Työkuorma, label_en: Workload, tone: problem}\n",
        encoding="utf-8",
    )
    return root


def table(study: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(study / "reports" / "tables" / f"{name}.csv")


def page(study: Path, name: str) -> str:
    return (study / "reports" / "html" / f"{name}.html").read_text(encoding="utf-8")


CELLS = [("Org A", "Ward 1"), ("Org A", "Ward 2"), ("Org B", "Team")]


@pytest.mark.parametrize("declared", [["T0"], ["T0", "T1"]], ids=["baseline_only", "T1_not_yet"])
def test_a_study_at_its_first_round_reports_what_it_can_and_says_what_needs_a_second(
    tmp_path, declared
):
    study = write(tmp_path, declared, {"responses": responses({"T0": CELLS})})
    run(study, jobs=2, language="both")
    assert len(table(study, "reliability")) and len(table(study, "distributions"))
    assert len(table(study, "power"))  # the next round's minimum detectable effect
    for name in ("prepost", "lmm", "meta"):
        assert table(study, name).empty, name  # written, with the contract's columns
    assert "measure" in table(study, "lmm").columns
    needs = {"fi": "toisen kierroksen", "en": "a second round"}
    for lang, words in needs.items():
        report = page(study, f"{lang}/consortium")
        assert words in report and "Baseline 2025" in report
    assert needs["fi"] in page(study, "30-longitudinal")
    assert needs["fi"] in page(study, "20-prepost") and needs["fi"] in page(study, "40-pooling")


def test_two_rounds_with_an_organisation_in_one_round_only(tmp_path):
    # Org B answered in T1 only; Org A's Ward 2 in the baseline only.
    answers = responses({"T0": CELLS[:2], "T1": [CELLS[0], CELLS[2]]})
    study = write(tmp_path, ["T0", "T1"], {"responses": answers})
    run(study, jobs=2, language="fi")
    prepost = table(study, "prepost")
    assert set(prepost["round"]) == {"T1"} and (prepost["group_by"] == "all").any()
    assert not (prepost["group"] == "Org B").any()  # nothing to compare Org B with
    meta = table(study, "meta")
    assert meta.loc[meta["organisation"] == "Org B", "effect_size"].isna().all()
    assert meta.loc[meta["organisation"] == "Org A", "effect_size"].notna().any()
    assert (table(study, "lmm")["term"] == "did").any()
    assert "toisen kierroksen" not in page(study, "fi/consortium")


CODINGS = pd.DataFrame(
    [
        ("S1", "anna", "dialogue", "Keskustelemme nykyään avoimemmin kuin ennen."),
        ("S1", "ben", "dialogue", "Keskustelemme nykyään avoimemmin kuin ennen."),
        ("S2", "anna", "kiire", "Kiire vie voimat. Terveisin Matti Meikäläinen."),
        ("S2", "ben", "workload", "Kiire vie voimat. Terveisin Matti Meikäläinen."),
        ("S3", "anna", "dialogue", "Puhumme enemmän yhdessä."),
        ("S3", "ben", "dialogue", "Puhumme enemmän yhdessä."),
        ("S4", "anna", "dialogue", "Avoimuus on lisääntynyt."),
        ("S4", "ben", "workload", "Avoimuus on lisääntynyt."),
        ("S5", "anna", "dialogue", "Kuuntelemme toisiamme."),
        ("S5", "ben", "dialogue", "Kuuntelemme toisiamme."),
        ("S6", "anna", "dialogue", "Kiire, mutta keskustelu auttaa."),
        ("S6", "ben", "dialogue", "Kiire, mutta keskustelu auttaa."),
    ],
    columns=["segment", "coder", "code", "text"],
)


def test_plain_codings_of_other_material_without_open_answers(tmp_path):
    frames = {"responses": responses({"T0": CELLS, "T1": CELLS}), "codings": CODINGS}
    study = write(tmp_path, ["T0", "T1"], frames)
    records = run(study, jobs=2, language="fi", only=["50", "60"])
    assert all(r["status"] != "failed" for r in records.values())
    icr = table(study, "icr")
    assert {"all", "dialogue", "kiire", "workload"} <= set(icr["code"])
    assert icr["value"].notna().any() and set(icr["n_coders"]) == {2}
    themes = table(study, "themes")
    assert set(themes["round"]) == {"no_round"} and (themes["group_by"] == "all").any()
    quotes = table(study, "quotes")
    assert len(quotes) and not quotes["quote"].str.contains("Meikäläinen").any()
    assert "Kierros ei tiedossa" in page(study, "50-qualitative")


def test_open_answers_without_codings(tmp_path):
    answers = pd.DataFrame(
        {
            "answer_id": [f"A{i}" for i in range(6)],
            "round": "T0",
            "organisation": "Org A",
            "text": CODINGS["text"].iloc[::2].to_list(),
        }
    )
    frames = {"responses": responses({"T0": CELLS, "T1": CELLS}), "open_answers": answers}
    uncoded = write(tmp_path, ["T0", "T1"], frames)
    records = run(uncoded, jobs=2, language="fi", only=["50", "60"])
    assert all(r["status"] != "failed" for r in records.values())
    assert "Koodattuja avovastauksia ei ole" in page(uncoded, "50-qualitative")


def test_a_qdpx_project_only(tmp_path):
    from evaluation.config import load_study
    from evaluation.io.codings import load_codebook
    from evaluation.io.qdpx import export_qdpx

    frames = {"responses": responses({"T0": CELLS, "T1": CELLS})}
    qdpx = {"codings": "data/raw/project.qdpx"}
    study = write(tmp_path, ["T0", "T1"], frames, qdpx)

    texts = CODINGS.drop_duplicates("segment")[["segment", "text"]]
    export_qdpx(
        study / "data" / "raw" / "project.qdpx", load_codebook(load_study(study)), texts, CODINGS
    )
    records = run(study, jobs=2, language="fi", only=["50", "60"])
    assert all(r["status"] != "failed" for r in records.values())
    assert {"dialogue", "workload"} <= set(table(study, "icr")["code"])


def test_summary_mode_logs_a_suppressed_unit_and_uses_the_configured_groupings(tmp_path, caplog):
    raw = responses({"T0": CELLS, "T1": CELLS}, per_unit=10)
    summaries = (
        raw.groupby(["round", "organisation", "unit"])["qwl"]
        .agg(n="count", mean="mean", sd="std")
        .reset_index()
        .assign(measure="qwl")
    )
    extra = pd.DataFrame(
        [
            {"round": r, "organisation": "Org A", "unit": "Ward 3", "n": 3, "mean": None,
             "sd": None, "measure": "qwl"}
            for r in ("T0", "T1")
        ]
    )  # fmt: skip
    summaries = pd.concat([summaries, extra], ignore_index=True)
    study = write(tmp_path, ["T0", "T1"], {"summaries": summaries})
    text = (study / "config" / "study.yaml").read_text(encoding="utf-8")
    text = text.replace("instruments: [qwl, esis]", "instruments: [qwl]")
    text = text.replace("Ward 2: 20}", "Ward 2: 20, Ward 3: 5}")
    (study / "config" / "study.yaml").write_text(text, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="evaluation"):
        run(study, jobs=2, language="fi")
    logged = [r.getMessage() for r in caplog.records if "Ward 3" in r.getMessage()]
    assert logged and "n = 3" in logged[0] and "left out" in logged[0]
    prepost = table(study, "prepost")
    assert {"all", "actor", "organisation", "sector", "size"} <= set(prepost["group_by"])
    org_a = prepost[(prepost["group"] == "Org A") & ~prepost["suppressed"]]
    assert set(org_a["n_baseline"]) == {20}  # the suppressed unit is not counted
    assert set(prepost.loc[prepost["group_by"] == "actor", "group"]) == {"Actor 1", "Actor 2"}
