"""Processing: derived files, activity/feedback checks, summary mode, labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from evaluation.config import load_study
from evaluation.errors import DataError
from evaluation.paths import DEFAULT_LABELS
from evaluation.pipeline.process import process
from tests.conftest import STUDY_YAML


def test_process_writes_scores_and_removes_stale_files(tiny_study):
    processed = tiny_study / "data" / "processed"
    processed.mkdir(parents=True)
    (processed / "activities.parquet").write_bytes(b"old")
    written = process(load_study(tiny_study))
    assert set(written) == {"responses", "scores"}
    assert not (processed / "activities.parquet").exists()
    scores = pd.read_parquet(processed / "scores.parquet")
    assert list(scores["round"].unique()) == ["T0", "T1"]
    assert scores["actor"].eq("Actor 1").all() and scores["qwl_band"].notna().all()
    assert scores["esis"].eq(4.0).all()


def _with(root, **files):
    extra = "\n".join(f"  {k}: data/raw/{k}.csv" for k in files)
    text = STUDY_YAML.replace(
        "  responses: data/raw/responses.csv", f"  responses: data/raw/responses.csv\n{extra}"
    )
    (root / "config" / "study.yaml").write_text(text, encoding="utf-8")
    for key, body in files.items():
        (root / "data" / "raw" / f"{key}.csv").write_text(body, encoding="utf-8")
    return load_study(root)


def test_activity_counts_must_be_non_negative_whole_numbers(tiny_study):
    study = _with(
        tiny_study,
        activities=(
            "round,organisation,activity,participants\n"
            "T1,Org A,training,12\nT1,Org A,workshop,-3\nT7,Org A,seminar,2.5\n"
        ),
    )
    with pytest.raises(DataError) as info:
        process(study)
    p = info.value.problems
    assert set(zip(p["row"], p["column"], strict=True)) == {
        (3, "participants"),
        (4, "participants"),
        (4, "round"),
    }


def test_the_responses_error_comes_first_though_they_are_read_beside_the_other_files(
    tiny_study,
):
    """validate_study reads the responses in a second thread: with the responses and the
    activities both bad, the responses' problem is raised (as when the files were read in
    turn), and each file alone still gives its own."""
    bad_activities = "round,organisation,activity,participants\nT1,Org A,workshop,-3\n"
    responses = tiny_study / "data" / "raw" / "responses.csv"
    good = responses.read_text(encoding="utf-8")
    study = _with(tiny_study, activities=bad_activities)
    with pytest.raises(DataError) as info:
        process(study)
    assert info.value.problems["column"].tolist() == ["participants"]  # activities alone
    lines = good.splitlines(keepends=True)
    lines[1] = lines[1].replace("T0", "T9", 1)
    responses.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(DataError) as info:
        process(study)
    assert "responses.csv" in str(info.value)
    assert info.value.problems["column"].tolist() == ["round"]


def test_feedback_items_are_checked_against_the_instrument(tiny_study):
    study = _with(
        tiny_study,
        feedback=(
            "round,organisation,satisfaction,competence_growth,goal_attainment\nT1,Org A,5,4,6\n"
        ),
    )
    with pytest.raises(DataError) as info:
        process(study)
    p = info.value.problems
    assert list(p["column"]) == ["goal_attainment"] and list(p["row"]) == [2]


def test_summary_mode_validates_aggregates(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "data" / "raw").mkdir(parents=True)
    text = STUDY_YAML.replace(
        "responses: data/raw/responses.csv", "summaries: data/raw/summaries.csv"
    )
    (tmp_path / "config" / "study.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "data" / "raw" / "summaries.csv").write_text(
        "round,organisation,unit,measure,n,mean,sd\n"
        "T0,Org A,Ward 1,qwl,12,60.1,10.2\n"
        "T1,Org A,Ward 1,qwl,11.5,66.0,9.8\n"
        "T1,Org A,Ward 1,nope,11,66.0,9.8\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError) as info:
        process(load_study(tmp_path))
    p = info.value.problems
    assert set(zip(p["row"], p["column"], strict=True)) == {(3, "n"), (4, "measure")}


def test_finnish_and_english_labels_have_the_same_keys():
    fi = yaml.safe_load((DEFAULT_LABELS / "fi.yaml").read_text(encoding="utf-8"))
    en = yaml.safe_load((DEFAULT_LABELS / "en.yaml").read_text(encoding="utf-8"))
    assert set(fi) == set(en)
    assert all(isinstance(v, str) and v for v in [*fi.values(), *en.values()])


def test_reliability_uses_reverse_keyed_items(tmp_path):
    # A study instrument with one reverse-worded item: alpha is computed after reverse-keying.
    from tests.notebook_cells import run_cells

    rng = np.random.default_rng(5)
    latent = rng.normal(size=60)
    items = [np.clip(np.round(3 + latent + rng.normal(0, 0.5, 60)), 1, 5) for _ in range(3)]
    items[2] = 6 - items[2]  # worded the other way round
    root = tmp_path
    (root / "config" / "instruments").mkdir(parents=True)
    (root / "data" / "raw").mkdir(parents=True)
    (root / "config" / "instruments" / "mini.yaml").write_text(
        "id: mini\nitems: [m1, m2, m3]\nrange: {min: 1, max: 5}\ninteger: true\n"
        "reverse: [m3]\nscore: {method: mean, min_answered: 2}\n",
        encoding="utf-8",
    )
    text = STUDY_YAML.replace("instruments: [qwl, esis]", "instruments: [mini]")
    (root / "config" / "study.yaml").write_text(text, encoding="utf-8")
    frame = pd.DataFrame(
        {"round": ["T0"] * 60, "organisation": "Org A", "unit": "Ward 1"}
        | {f"m{i + 1}": v.astype(int) for i, v in enumerate(items)}
    )
    frame.to_csv(root / "data" / "raw" / "responses.csv", index=False)
    process(load_study(root))
    rel = run_cells("10-data-quality", root)["reliability"]
    assert rel.loc[rel["round"] == "T0", "cronbach_alpha"].item() > 0.8
