"""Training feedback analysed (issue 18, item 4): t and Wilson intervals against published
values, reliability of the feedback items by simulation, disclosure control of
``feedback_summary`` (primary and complementary), a malformed feedback file, and the demo's
Kykyviisari measures and feedback section."""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from evaluation.analyse.quant.feedback import (
    _relations,
    complementary_suppression,
    feedback_reliability,
    feedback_summary,
    t_interval,
    wilson_interval,
)
from evaluation.config import load_labels, load_study
from evaluation.errors import DataError
from evaluation.pipeline.process import validate_study
from tests.conftest import STUDY_YAML, row, write_study

ITEMS = ["satisfaction", "competence_growth", "goal_attainment"]


# --------------------------------------------------------------------------- intervals


def test_t_interval_matches_students_sleep_data():
    """Student (1908), the sleep data (R ``datasets::sleep``): the ten differences between
    the two drugs; R's ``t.test(extra ~ group, data = sleep, paired = TRUE)`` prints the 95 %
    interval -2.4598858 to -0.7001142 for group 1 minus group 2, here reversed."""
    d = [1.2, 2.4, 1.3, 1.3, 0.0, 1.0, 1.8, 0.8, 4.6, 1.4]
    r = t_interval(d, ci=0.95)
    assert r["n"] == 10
    assert r["mean"] == pytest.approx(1.58)
    assert r["ci_low"] == pytest.approx(0.7001142, abs=5e-7)
    assert r["ci_high"] == pytest.approx(2.4598858, abs=5e-7)
    assert r["sd"] == pytest.approx(1.229995, abs=5e-6)


def test_t_interval_of_too_few_values_is_empty():
    r = t_interval([3.0, np.nan])
    assert r["n"] == 1 and r["mean"] == 3.0 and np.isnan(r["ci_low"]) and np.isnan(r["sd"])
    with pytest.raises(ValueError, match="ci"):
        t_interval([1, 2, 3], ci=1.5)


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [  # Newcombe (1998), Statistics in Medicine 17: 857-872, Table I, method 3 (Wilson score)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_newcombe_1998(k, n, low, high):
    lo, hi = wilson_interval(k, n, ci=0.95)
    assert lo == pytest.approx(low, abs=5e-5)
    assert hi == pytest.approx(high, abs=5e-5)


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(1, 100_000),
    share=st.floats(0, 1),
    ci=st.sampled_from([0.8, 0.9, 0.95, 0.99]) | st.floats(0.01, 0.999),
)
def test_wilson_interval_is_statsmodels_to_the_bit(n, share, ci):
    """The interval is computed by statsmodels' formula without importing statsmodels (the
    indicators notebook then imports no scipy.stats): the very same floats as its reference,
    ``proportion_confint(method="wilson")``, clipped to [0, 1]."""
    k = round(share * n)
    low, high = proportion_confint(k, n, alpha=1 - ci, method="wilson")
    assert wilson_interval(k, n, ci=ci) == (max(0.0, float(low)), min(1.0, float(high)))


def test_wilson_interval_edge_cases():
    assert all(np.isnan(wilson_interval(0, 0)))
    lo, hi = wilson_interval(10, 10)
    assert hi == pytest.approx(1.0) and 0.6 < lo < 0.75  # within [0, 1], never empty
    with pytest.raises(ValueError):
        wilson_interval(5, 3)


def test_t_interval_covers_the_mean_at_its_level():
    """Simulation: 2000 samples of 1-5 answers; the 95 % t interval covers the true mean
    in about 95 % of them (binomial SE 0.5 %)."""
    rng = np.random.default_rng(7)
    p = np.array([0.02, 0.05, 0.2, 0.45, 0.28])
    true = float((np.arange(1, 6) * p).sum())
    hits = 0
    for _ in range(2000):
        r = t_interval(rng.choice(5, 60, p=p) + 1, ci=0.95)
        hits += r["ci_low"] <= true <= r["ci_high"]
    assert 0.93 < hits / 2000 < 0.97


# --------------------------------------------------------------------------- the table


def _answers(rng: np.random.Generator, groups: dict[tuple[str, str, str, str], int]):
    """Feedback answers: (round, actor, organisation, activity) -> number of answers, items
    from a common factor (correlation 0.5)."""
    frames = []
    for (rnd, actor, org, act), n in groups.items():
        common = rng.normal(size=n)
        data = {"round": rnd, "actor": actor, "organisation": org, "activity": act}
        for item in ITEMS:
            latent = np.sqrt(0.5) * common + np.sqrt(0.5) * rng.normal(size=n)
            data[item] = np.clip(np.round(3.9 + 0.9 * latent), 1, 5)
        frames.append(pd.DataFrame(data))
    out = pd.concat(frames, ignore_index=True)
    out["feedback"] = out[ITEMS].mean(axis=1)
    return out


NESTING = {"Org A": "Actor 1", "Org B": "Actor 1", "Org C": "Actor 2", "Org D": "Actor 2"}


def test_summary_values_and_columns():
    data = _answers(
        np.random.default_rng(1),
        {("T1", "Actor 1", "Org A", "training"): 40, ("T1", "Actor 2", "Org C", "workshop"): 30},
    )
    out = feedback_summary(data, scales=[*ITEMS, "feedback"], rounds=["T1"], nesting=NESTING)
    assert list(out.columns[:4]) == ["scale", "round", "group_by", "group"]
    whole = out[(out["group_by"] == "all") & (out["scale"] == "satisfaction")].iloc[0]
    x = data["satisfaction"]
    assert whole["n"] == 70 and whole["mean"] == pytest.approx(x.mean())
    assert whole["sd"] == pytest.approx(x.std(ddof=1))
    k = int((x >= 4).sum())
    assert whole["share_high"] == pytest.approx(k / 70)
    assert (whole["share_ci_low"], whole["share_ci_high"]) == pytest.approx(wilson_interval(k, 70))
    assert set(out["group_by"]) == {"all", "actor", "activity", "organisation"}
    assert not out["suppressed"].any()


def _hidden_per_relation(out: pd.DataFrame, nesting) -> list[int]:
    cells = out.drop_duplicates(["round", "group_by", "group"])
    hidden = {
        (r.round, r.group_by, r.group): bool(r.suppressed) for r in cells.itertuples(index=False)
    }
    return [
        sum(hidden[m] for m in [parent, *children]) for parent, children in _relations(out, nesting)
    ]


def test_a_small_group_and_its_complement_are_hidden():
    """Org A has 3 answers: hidden; Org B (its actor's other organisation, the smallest other
    organisation) is hidden with it, so neither Actor 1 - Org B nor all - the others gives
    Org A; no relation is left with exactly one hidden member."""
    data = _answers(
        np.random.default_rng(2),
        {
            ("T1", "Actor 1", "Org A", "training"): 3,
            ("T1", "Actor 1", "Org B", "training"): 12,
            ("T1", "Actor 2", "Org C", "workshop"): 20,
            ("T1", "Actor 2", "Org D", "workshop"): 25,
        },
    )
    out = feedback_summary(data, scales=[*ITEMS, "feedback"], rounds=["T1"], nesting=NESTING)
    hidden = set(out.loc[out["suppressed"], "group"])
    assert {"Org A", "Org B"} <= hidden
    assert "all" not in hidden
    assert out.loc[out["suppressed"], ["n", "mean", "ci_low", "share_high"]].isna().all().all()
    assert 1 not in _hidden_per_relation(out, NESTING)
    # what an attacker can subtract: the whole round minus the shown organisations
    whole = out[(out["group_by"] == "all") & (out["scale"] == "feedback")]["n"].iloc[0]
    shown = out[(out["group_by"] == "organisation") & (out["scale"] == "feedback")]
    assert whole - shown["n"].sum() == 15  # Org A + Org B together, never Org A alone


def test_a_hidden_parent_takes_a_child_with_it():
    """An actor with one organisation: hiding the organisation hides the actor too."""
    data = _answers(
        np.random.default_rng(3),
        {
            ("T1", "Actor 1", "Org A", "training"): 4,
            ("T1", "Actor 2", "Org C", "training"): 30,
            ("T1", "Actor 2", "Org D", "workshop"): 30,
        },
    )
    out = feedback_summary(data, scales=["feedback"], rounds=["T1"], nesting=NESTING)
    hidden = set(out.loc[out["suppressed"], "group"])
    assert {"Org A", "Actor 1"} <= hidden
    assert 1 not in _hidden_per_relation(out, NESTING)


def test_an_empty_group_is_shown_as_empty_and_never_protects():
    """A round without seminars: the seminar row has n = 0 (nothing to hide), and a small
    group's complement is a group with answers, not the empty one."""
    data = _answers(
        np.random.default_rng(4),
        {
            ("T1", "Actor 1", "Org A", "training"): 2,
            ("T1", "Actor 1", "Org B", "workshop"): 30,
            ("T1", "Actor 2", "Org C", "workshop"): 30,
            ("T2", "Actor 2", "Org C", "seminar"): 10,
        },
    )
    out = feedback_summary(data, scales=["feedback"], rounds=["T1", "T2"], nesting=NESTING)
    seminar = out[(out["group"] == "seminar") & (out["round"] == "T1")].iloc[0]
    assert seminar["n"] == 0 and not seminar["suppressed"]
    t1 = out[(out["round"] == "T1") & (out["group_by"] == "activity")]
    assert t1.set_index("group")["suppressed"].to_dict() == {
        "seminar": False, "training": True, "workshop": True
    }  # fmt: skip


def test_complementary_suppression_on_random_tables():
    """Whatever the sizes, no relation is left with exactly one hidden member and every group
    below min_n is hidden."""
    rng = np.random.default_rng(5)
    for _ in range(30):
        sizes = {
            ("T1", NESTING[o], o, a): int(rng.integers(0, 12))
            for o in NESTING
            for a in ("training", "workshop")
        }
        sizes = {k: v for k, v in sizes.items() if v}
        if not sizes:
            continue
        data = _answers(rng, sizes)
        out = feedback_summary(data, scales=["feedback"], rounds=["T1"], nesting=NESTING)
        assert 1 not in _hidden_per_relation(out, NESTING)
        n = data.groupby("organisation").size()
        for org, size in n.items():
            if size < 5:
                assert out.loc[out["group"] == org, "suppressed"].all(), org


def test_complementary_suppression_is_pure():
    hidden = {("T1", "organisation", "a"): True}
    out = complementary_suppression(
        hidden,
        {("T1", "organisation", "a"): 2, ("T1", "organisation", "b"): 9, ("T1", "all", "all"): 11},
        [(("T1", "all", "all"), [("T1", "organisation", "a"), ("T1", "organisation", "b")])],
    )
    assert out[("T1", "organisation", "b")] and hidden == {("T1", "organisation", "a"): True}


# --------------------------------------------------------------------------- reliability


def test_reliability_of_the_feedback_items_by_simulation():
    """Three tau-equivalent items with inter-item correlation 0.5: population alpha =
    3 * 0.5 / (1 + 2 * 0.5) = 0.75 (Cronbach 1951; continuous items) and omega = alpha. The
    estimates from 3000 answers lie near it and the intervals cover it."""
    rng = np.random.default_rng(11)
    n = 3000
    common = rng.normal(size=n)
    data = pd.DataFrame(
        {i: np.sqrt(0.5) * common + np.sqrt(0.5) * rng.normal(size=n) for i in ITEMS}
    ).assign(round=np.where(np.arange(n) < n // 2, "T1", "T2"))
    out = feedback_reliability(
        data, instrument="feedback", items=ITEMS, rounds=["T1", "T2"], reps=99, seed=1
    )
    assert list(out["round"]) == ["T1", "T2"] and (out["k_items"] == 3).all()
    assert out["cronbach_alpha"].between(0.72, 0.78).all()
    assert out["omega"].between(0.72, 0.78).all()
    assert ((out["alpha_ci_low"] < 0.75) & (out["alpha_ci_high"] > 0.75)).all()


def test_reliability_of_unrelated_items_is_near_zero():
    rng = np.random.default_rng(12)
    data = pd.DataFrame({i: rng.normal(size=2000) for i in ITEMS}).assign(round="T1")
    out = feedback_reliability(data, instrument="feedback", items=ITEMS, rounds=["T1"], reps=0)
    assert abs(out["cronbach_alpha"].iloc[0]) < 0.1


# --------------------------------------------------------------------------- bad input


def _study_with_feedback(tmp_path, text: str):
    config = STUDY_YAML.replace(
        "  responses: data/raw/responses.csv\n",
        "  responses: data/raw/responses.csv\n  feedback: data/raw/feedback.csv\n",
    )
    rows = [row(resp=f"R{i}") for i in range(6)]
    root = write_study(tmp_path, rows, config)
    (root / "data" / "raw" / "feedback.csv").write_text(textwrap.dedent(text), encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("value", "column", "problem"),
    [
        ("paljon", "competence_growth", "must be a number in 1-5"),
        ("7", "competence_growth", "must be a number in 1-5"),
        ("4.5", "competence_growth", "(whole)"),
    ],
)
def test_a_malformed_feedback_file_names_file_row_and_column(tmp_path, value, column, problem):
    root = _study_with_feedback(
        tmp_path,
        f"""\
        round,organisation,activity,satisfaction,competence_growth,goal_attainment
        T1,Org A,training,4,4,5
        T1,Org A,training,5,{value},4
        """,
    )
    with pytest.raises(DataError) as info:
        validate_study(load_study(root))
    message = str(info.value)
    assert re.search(rf"feedback\.csv, row 3, column {column}\b", message), message
    assert problem in message


def test_a_feedback_file_without_an_item_column_is_refused(tmp_path):
    root = _study_with_feedback(
        tmp_path,
        """\
        round,organisation,activity,satisfaction,goal_attainment
        T1,Org A,training,4,5
        """,
    )
    with pytest.raises(DataError, match=r"feedback\.csv.*competence_growth.*missing"):
        validate_study(load_study(root))


# --------------------------------------------------------------------------- the demo


def test_kykyviisari_areas_are_measures_of_the_demo(shared_demo_raw):
    from evaluation.demo.generate import RESPONSE_COLUMNS

    study = load_study(shared_demo_raw)
    kyky = study.instruments["kykyviisari"]
    assert len(kyky.parts) >= 5
    assert set(kyky.measures) <= set(study.measures)
    assert set(kyky.value_columns) <= set(RESPONSE_COLUMNS)
    for language in ("fi", "en"):
        labels = load_labels(language, study.paths)
        assert all(m in labels for m in kyky.measures), language


def test_demo_kykyviisari_scores(shared_demo_raw):
    responses = pd.read_csv(shared_demo_raw / "data" / "raw" / "responses.csv")
    kyky = [c for c in responses if c.startswith("kykyviisari")]
    assert len(kyky) == 7
    values = responses[kyky]
    assert values.stack().dropna().between(0, 10).all()
    assert 0.03 < values["kykyviisari"].isna().mean() < 0.15  # some skip the tool
    assert 0.3 < responses["qwl"].corr(responses["kykyviisari"]) < 0.6
    means = responses.groupby(["participant", "round"])["kykyviisari"].mean()
    gain = means.loc[1, "T3"] - means.loc[1, "T0"]
    assert 0.4 < gain < 1.6  # participants improve a little
    assert abs(means.loc[0, "T3"] - means.loc[0, "T0"]) < 0.4


def test_demo_feedback_items_hang_together(shared_demo_raw):
    fb = pd.read_csv(shared_demo_raw / "data" / "raw" / "feedback.csv")
    corr = fb[ITEMS].corr().to_numpy()[np.triu_indices(3, 1)]
    assert (corr > 0.3).all() and (corr < 0.7).all()


def test_demo_run_has_kykyviisari_and_feedback(shared_demo_run):
    tables = shared_demo_run / "reports" / "tables"
    prepost = pd.read_csv(tables / "prepost.csv")
    measures = set(prepost["measure"])
    assert {"kykyviisari", "kykyviisari_mental_wellbeing", "kykyviisari_competence"} <= measures
    summary = pd.read_csv(tables / "feedback_summary.csv")
    assert set(summary["scale"]) == {*ITEMS, "feedback"}
    assert {"all", "actor", "activity", "organisation"} <= set(summary["group_by"])
    assert summary["suppressed"].any() and not summary["suppressed"].all()
    rel = pd.read_csv(tables / "feedback_reliability.csv")
    assert rel["cronbach_alpha"].between(0.6, 0.9).all()
    for language in ("fi", "en"):
        labels = load_labels(language)
        html = (shared_demo_run / "reports" / "html" / language / "consortium.html").read_text(
            encoding="utf-8"
        )
        assert labels["nb_47-feedback"] in html, language
        assert labels["fb_all_activities"] in html
        actor = (shared_demo_run / "reports" / "html" / language / "actor-xamk.html").read_text(
            encoding="utf-8"
        )
        assert labels["nb_47-feedback"] in actor
        assert "Hyvinvointialue A" not in actor  # another actor's organisation
