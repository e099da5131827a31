"""The synthetic demo study: deterministic, loadable, and shaped like Luova suunta."""

from __future__ import annotations

import bisect
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from evaluation.config import load_study
from evaluation.demo import generate as demo
from evaluation.demo.generate import PLANTED_PII, codebook_yaml, write_demo
from evaluation.errors import UsageError
from evaluation.pipeline.process import validate_study

REPO = Path(__file__).resolve().parents[1]
FILES = [
    "config/study.yaml",
    "config/codebook.yaml",
    "data/raw/responses.csv",
    "data/raw/codings.csv",
    "data/raw/open_answers.csv",
    "data/raw/activities.csv",
    "data/raw/feedback.csv",
    "data/raw/risks.csv",
    "data/raw/documents.csv",
    "data/raw/documents/tyopaja-hyvinvointialue-a-t1.md",
    "data/raw/documents/tyopaja-hoivakoti-kaarna-t2.txt",
]
ESIS = [f"esis_{i}" for i in range(1, 11)]
RESPONSE_COLUMNS = [
    "round", "organisation", "unit", "respondent", "participant", "role", "qwl",
    "qwl_leadership", "qwl_line_management", "qwl_operating_culture", "qwl_competence",
    "qwl_processes", *ESIS, "kykyviisari", "kykyviisari_functional_capacity",
    "kykyviisari_mental_wellbeing", "kykyviisari_social_participation",
    "kykyviisari_physical_functioning", "kykyviisari_competence", "kykyviisari_everyday_life",
]  # fmt: skip
TOP_LEVEL_KEYS = [
    "study", "language", "reports", "seed", "rounds", "baseline", "design", "instruments", "data",
    "codebook", "disclosure", "analysis", "organisations", "targets", "demo",
]  # fmt: skip


@pytest.fixture(scope="module")
def study(shared_demo_raw) -> Path:
    """The demo study at its default size (built once per test run: read only)."""
    return shared_demo_raw


def read(root: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(root / "data" / "raw" / f"{name}.csv", keep_default_na=False, na_values=[""])


def headcount(root: Path) -> int:
    cfg = yaml.safe_load((root / "config" / "study.yaml").read_text(encoding="utf-8"))
    return sum(sum(o["units"].values()) for o in cfg["organisations"].values())


def test_same_seed_gives_byte_identical_files(tmp_path):
    first = write_demo(tmp_path / "a", respondents=200, seed=7)
    second = write_demo(tmp_path / "b", respondents=200, seed=7)
    assert [p.relative_to(tmp_path / "a").as_posix() for p in first] == FILES
    assert [p.relative_to(tmp_path / "b").as_posix() for p in second] == FILES
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


finite_or_missing = st.one_of(
    st.floats(allow_nan=True, allow_infinity=False, width=64),
    st.sampled_from([-0.0, 0.0, 0.05, 0.15, 0.25, -0.05, 2.675, 1e16, -1e-300]),
)


@given(
    floats=st.lists(finite_or_missing, min_size=0, max_size=40),
    integers=st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), max_size=40),
)
def test_demo_csv_writes_numbers_exactly_as_pandas_to_csv_would(floats, integers):
    """``_csv`` formats each distinct number once; the text must be what ``to_csv`` with
    ``float_format="%.1f"`` writes cell by cell, -0.0, halves and missing values included."""
    n = min(len(floats), len(integers))
    frame = pd.DataFrame(
        {
            "float64": pd.Series(floats[:n], dtype="float64"),
            "Float64": pd.Series(floats[:n], dtype="Float64"),
            "Int64": pd.Series(integers[:n], dtype="Int64"),
            "int64": pd.Series([i or 0 for i in integers[:n]], dtype="int64"),
            "text": pd.Series(["a,b", None, "c"] * n, dtype="str")[:n],
        }
    )
    expected = frame.to_csv(index=False, lineterminator="\n", float_format="%.1f", na_rep="")
    assert demo._csv(frame, list(frame.columns)) == expected


def test_demo_s_categorical_draw_is_generator_choice_with_the_same_draws():
    """The activities' creative-methods count is drawn by a cumulative lookup of one uniform;
    it must give what ``Generator.choice(k, p=...)`` gives from the same stream."""
    for probs in [(0.2, 0.35, 0.3, 0.15), (0.1, 0.3, 0.35, 0.25), (0.4, 0.4, 0.2)]:
        by_choice = np.random.default_rng(5)
        by_lookup = np.random.default_rng(5)
        cdf = demo._cdf(probs)
        for _ in range(2000):
            expected = int(by_choice.choice(len(probs), p=probs))
            assert bisect.bisect_right(cdf, by_lookup.random()) == expected


def test_a_big_demo_formats_its_files_in_a_second_process_with_the_same_bytes(
    tmp_path, monkeypatch
):
    """From PARALLEL_RESPONDENTS on, the CSV text is formatted in a second process while the
    rest is drawn (forced here for a small demo): the same files, byte for byte."""
    here = write_demo(tmp_path / "here", respondents=200, seed=7)
    monkeypatch.setattr(demo, "PARALLEL_RESPONDENTS", 20)
    started = []
    real = demo.ProcessPoolExecutor
    monkeypatch.setattr(demo, "ProcessPoolExecutor", lambda **kw: started.append(kw) or real(**kw))
    there = write_demo(tmp_path / "there", respondents=200, seed=7)
    assert len(started) == 1
    for a, b in zip(here, there, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_different_seed_gives_different_responses(tmp_path):
    write_demo(tmp_path / "a", respondents=200, seed=1)
    write_demo(tmp_path / "b", respondents=200, seed=2)
    raw = "data/raw/responses.csv"
    assert (tmp_path / "a" / raw).read_bytes() != (tmp_path / "b" / raw).read_bytes()


def test_study_loads_and_validates(study):
    cfg = load_study(study)
    assert cfg.name == "Luova suunta (demo)"
    assert cfg.round_ids == ["T0", "T1", "T2", "T3"] and cfg.baseline == "T0"
    assert cfg.rounds[0].label == "Lähtötaso 2025" and cfg.rounds[0].date == "2025-10-15"
    assert (
        set(cfg.instruments) == {"qwl", "esis", "kykyviisari"}
        and cfg.min_n == 5
        and cfg.seed == 20251015
    )
    for key in ("responses", "codings", "open_answers", "activities", "feedback"):
        assert cfg.files(key)[0].is_file(), key
    actors = pd.Series({o.id: o.actor for o in cfg.organisations.values()}).value_counts()
    assert actors.to_dict() == {"Lapin AMK": 8, "Xamk": 6, "Metropolia": 3}
    sizes = pd.Series([o.size for o in cfg.organisations.values()]).value_counts().to_dict()
    assert sizes == {"small": 8, "medium": 5, "large": 3, "micro": 1}
    micro = [o for o in cfg.organisations.values() if o.size == "micro"]
    assert all(h < 10 for o in micro for h in o.headcount.values())
    raw = yaml.safe_load(cfg.paths.study_yaml.read_text(encoding="utf-8"))
    assert list(raw) == TOP_LEVEL_KEYS
    assert raw["demo"] == {"respondents": 600, "generator": "evaluation.demo.generate"}
    data = validate_study(cfg)  # raises DataError on any contract violation
    assert len(data["responses"]) == len(read(study, "responses"))


def test_responses_follow_the_contract(study):
    r = read(study, "responses")
    assert list(r.columns) == RESPONSE_COLUMNS
    assert set(r["participant"]) == {0, 1}
    assert set(r["role"].dropna()) == {"supervisor", "staff"} and r["role"].isna().any()
    assert r["qwl"].dropna().between(0, 100).all() and r["qwl"].isna().any()
    items = r[ESIS]
    assert pd.Series(items.to_numpy().ravel()).dropna().isin([1, 2, 3, 4, 5]).all()
    assert 0.02 < items.isna().to_numpy().mean() < 0.06
    answered = items.notna().sum(axis=1)
    assert (answered < 8).sum() >= 3  # the minimum-answered rule gets exercised
    assert 0.08 < (r["role"] == "supervisor").mean() < 0.16
    order = r["round"].map({"T0": 0, "T1": 1, "T2": 2, "T3": 3})
    assert order.is_monotonic_increasing


def test_response_rate_is_about_60_percent(study):
    rate = len(read(study, "responses")) / (4 * headcount(study))
    assert 0.5 < rate < 0.7


def test_esis_reliability_is_high(study):
    alpha, _ci = pg.cronbach_alpha(data=read(study, "responses")[ESIS])
    assert 0.85 < alpha < 0.95


def test_participants_gain_more_qwl_than_non_participants(study):
    r = read(study, "responses")
    means = r.groupby(["round", "participant"])["qwl"].mean().unstack()
    gain = means.loc["T3"] - means.loc["T0"]
    assert 8 < gain[1] < 20
    assert 0 < gain[0] < 6
    assert gain[1] - gain[0] > 5
    assert 57 < r.loc[r["round"] == "T0", "qwl"].mean() < 63


def test_respondent_codes_are_unique_per_round_and_link_rounds(study):
    r = read(study, "responses")
    coded = r.dropna(subset=["respondent"])
    assert coded["respondent"].str.fullmatch(r"R-[0-9A-F]{6}").all()
    assert not coded.duplicated(["round", "respondent"]).any()
    assert coded["organisation"].nunique() == 3
    orgs = r.groupby("organisation")["respondent"].apply(lambda s: s.notna().mean())
    assert set(orgs.unique()) == {0.0, 1.0}  # an organisation is coded or anonymous throughout
    t0 = set(coded.loc[coded["round"] == "T0", "respondent"])
    t3 = set(coded.loc[coded["round"] == "T3", "respondent"])
    assert len(t0 & t3) >= 20  # a panel ...
    assert t3 - t0  # ... with newcomers


def _identity_code_is_valid(code: str) -> bool:
    digits, century, individual, check = code[:6], code[6], code[7:10], code[10]
    table = "0123456789ABCDEFHJKLMNPRSTUVWXY"
    return century in "-+A" and table[int(digits + individual) % 31] == check


def test_planted_personal_data_is_in_the_open_answers(study):
    text = (study / "data" / "raw" / "open_answers.csv").read_text(encoding="utf-8")
    for kind, values in PLANTED_PII.items():
        for value in values:
            assert value in text, (kind, value)
    assert "131052-308T" in PLANTED_PII["identity_code"]
    assert all(_identity_code_is_valid(c) for c in PLANTED_PII["identity_code"])


def test_open_answers_carry_the_project_themes(study):
    answers = read(study, "open_answers")
    assert list(answers.columns) == demo.OPEN_ANSWER_COLUMNS
    assert 250 < len(answers) < 800 and answers["answer_id"].is_unique
    text = " ".join(answers["text"]).lower()
    for stem in ("turvalli", "dialog", "luov", "yhteiskehit", "vertais", "kuul", "monimuotoi",
                 "kiire", "muutos", "mentor", "johtami"):  # fmt: skip
        assert stem in text, stem
    # Mentoring (TP3) is planted for participants: a higher share of their answers mention it.
    mentions = answers["text"].str.contains("entor")
    rate = mentions.groupby(answers["participant"]).mean()
    assert rate[1] > 2 * rate[0]


def test_two_coders_disagree_realistically(study):
    codings = read(study, "codings")
    answers = read(study, "open_answers")
    assert list(codings.columns) == demo.CODING_COLUMNS
    # the workshop notes' paragraphs are coded by both coders; the rest is about open answers
    of_documents = codings["segment"].str.contains("#p", regex=False)
    assert set(codings.loc[of_documents, "document"]) == {d["file"] for d in demo.DEMO_DOCUMENTS}
    assert (codings[of_documents].groupby("segment")["coder"].nunique() == 2).all()
    codings = codings[~of_documents]
    assert set(codings["coder"]) == {"coder_a", "coder_b"}
    assert set(codings.loc[codings["coder"] == "coder_a", "segment"]) == set(answers["answer_id"])
    assert 120 <= codings.loc[codings["coder"] == "coder_b", "segment"].nunique() <= 180
    assert set(codings["segment"]) <= set(answers["answer_id"])
    assert set(codings["code"]) <= set(demo.THEMES)
    per = codings.groupby(["segment", "coder"]).size()
    assert (per > 1).any()  # occasional second codes
    first = codings.groupby(["segment", "coder"])["code"].first().unstack().dropna()
    observed = (first["coder_a"] == first["coder_b"]).mean()
    pa = first["coder_a"].value_counts(normalize=True)
    pb = first["coder_b"].value_counts(normalize=True).reindex(pa.index, fill_value=0)
    expected = float((pa * pb).sum())
    kappa = (observed - expected) / (1 - expected)
    assert 0.55 < kappa < 0.85


def test_activities_and_feedback_match_the_plan(study):
    act = read(study, "activities")
    assert list(act.columns) == demo.ACTIVITY_COLUMNS
    assert set(act["activity"]) == {
        "training", "workshop", "mentoring_meeting", "seminar", "communication"
    }  # fmt: skip
    assert set(act["round"]) == {"T0", "T1", "T2", "T3"}
    comm = act[act["activity"] == "communication"]
    assert comm["person_ids"].isna().all() and comm["reach"].notna().all()
    assert act.loc[act["activity"] != "communication", "reach"].isna().all()
    assert act["creative_methods"].dropna().between(0, 3).all()
    ids = act.dropna(subset=["person_ids"]).assign(p=lambda f: f["person_ids"].str.split(";"))
    persons = ids.explode("p").groupby("actor")["p"].nunique()
    for actor, target in {"Metropolia": 100, "Xamk": 45, "Lapin AMK": 60}.items():
        assert 0.7 * target < persons[actor] < 1.3 * target, actor
    meetings = act[act["activity"] == "mentoring_meeting"]
    per_org_year = meetings.groupby(["round", "organisation"]).size()
    assert per_org_year.min() >= 6
    fb = read(study, "feedback")
    assert list(fb.columns) == [*demo.FEEDBACK_COLUMNS, "comment"]
    values = fb[list(demo.FEEDBACK_ITEMS)]
    assert pd.Series(values.to_numpy().ravel()).dropna().isin([1, 2, 3, 4, 5]).all()
    assert values.mean().between(3.6, 4.4).all()


def test_respondents_scales_the_data(tmp_path):
    write_demo(tmp_path / "small", respondents=300)
    write_demo(tmp_path / "large", respondents=1200)
    small, large = read(tmp_path / "small", "responses"), read(tmp_path / "large", "responses")
    assert 250 < len(small) / 4 < 360
    assert 1000 < len(large) / 4 < 1400
    assert 3.3 < len(large) / len(small) < 4.7


def test_write_demo_keeps_unrelated_files(tmp_path):
    (tmp_path / "data" / "raw").mkdir(parents=True)
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    (tmp_path / "data" / "raw" / "extra.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    write_demo(tmp_path, respondents=100)
    write_demo(tmp_path, respondents=100)  # overwriting its own files is fine
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (tmp_path / "data" / "raw" / "extra.csv").read_text(encoding="utf-8") == "a,b\n1,2\n"
    found = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert found == sorted([*FILES, "notes.txt", "data/raw/extra.csv"])  # no temp files left


def test_other_size_and_seed_rewrite_only_seed_size_and_headcounts(tmp_path):
    # config/study.yaml is the source: another size or seed changes the seed, the size and the
    # headcounts; every other line (targets, rounds, analysis, comments) is copied as it is.
    write_demo(tmp_path, respondents=100, seed=7)
    shipped = yaml.safe_load((REPO / "config" / "study.yaml").read_text(encoding="utf-8"))
    text = (tmp_path / "config" / "study.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    assert list(raw) == TOP_LEVEL_KEYS
    assert raw["seed"] == 7 and raw["demo"] == {**shipped["demo"], "respondents": 100}
    assert "seed 7, about 100 respondents" in text and "--respondents 100 --seed 7" in text
    for key in set(TOP_LEVEL_KEYS) - {"seed", "demo", "organisations"}:
        assert raw[key] == shipped[key], key
    for name, org in raw["organisations"].items():
        assert {**org, "units": None} == {**shipped["organisations"][name], "units": None}
        assert list(org["units"]) == list(shipped["organisations"][name]["units"])
    assert 0.5 < len(read(tmp_path, "responses")) / (4 * headcount(tmp_path)) < 0.7
    assert load_study(tmp_path).seed == 7


def test_generator_data_agrees_with_the_study_config():
    codes = yaml.safe_load(codebook_yaml())["codes"]
    assert set(demo.TEMPLATES) == set(demo.THEMES) == set(demo.NEIGHBOURS)
    for code in codes:  # the codebook's example is the theme's first positive sentence
        assert code["examples"] == [demo.TEMPLATES[code["id"]][0][0]]
    shipped = yaml.safe_load((REPO / "config" / "study.yaml").read_text(encoding="utf-8"))
    per_actor = {
        t["filter"]["actor"]: t["target"]
        for t in shipped["targets"]
        if t["aggregate"] == "nunique_person"
    }
    assert per_actor == demo.ACTORS  # participants drawn = the plan's targets
    assert set(demo.CODED_ORGANISATIONS) <= set(shipped["organisations"])
    assert shipped["seed"] == demo.DEFAULT_SEED and demo.DEFAULT_RESPONDENTS == 600


def test_demo_config_is_shipped_in_the_package():
    from evaluation.paths import RESOURCES

    for name in ("study.yaml", "codebook.yaml"):
        shipped = RESOURCES / "demo" / name
        assert shipped.read_bytes() == (REPO / "config" / name).read_bytes()


def test_repository_codebook_is_the_demo_codebook(study):
    shipped = (REPO / "config" / "codebook.yaml").read_text(encoding="utf-8")
    assert shipped == codebook_yaml()
    assert (study / "config" / "codebook.yaml").read_text(encoding="utf-8") == shipped
    codes = yaml.safe_load(shipped)["codes"]
    assert [c["id"] for c in codes] == list(demo.THEMES)
    assert all({"id", "label_fi", "label_en", "description", "keywords"} <= set(c) for c in codes)


def test_too_few_respondents_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError):
        write_demo(tmp_path, respondents=5)
    assert not any(tmp_path.iterdir())


def test_repository_study_yaml_is_the_default_demo_config(study):
    # The repository root is the demo study: its committed config is what `demo` writes.
    shipped = (REPO / "config" / "study.yaml").read_text(encoding="utf-8")
    assert shipped == (study / "config" / "study.yaml").read_text(encoding="utf-8")


def test_every_target_has_labels_in_both_languages(study):
    from evaluation.config import load_labels

    targets = load_study(study).targets
    assert {t.id for t in targets} >= {"participants_metropolia", "mentoring_adoption"}
    for language in ("fi", "en"):
        labels = load_labels(language)
        assert all(t.spec()["label_key"] in labels for t in targets)
