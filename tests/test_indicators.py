"""Indicators vs targets on a small hand-built example whose answers are counted by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.analyse.quant.indicators import (
    INDICATOR_COLUMNS,
    check_targets,
    indicator_status,
    indicators_table,
    wilson_interval,
)

ROUNDS = ["T0", "T1", "T2"]

ACTIVITIES = pd.DataFrame(
    [
        # date, round, actor, organisation, activity, participants, person_ids, creative, reach
        ("2025-11-01", "T0", "Metropolia", "Org A", "training", 10, "p1;p2;p3", 1, 0),
        ("2025-12-01", "T0", "Metropolia", "Org B", "workshop", 5, "p3, p4", 2, 0),
        ("2026-02-01", "T1", "Metropolia", "Org A", "mentoring_meeting", 2, "", 0, 0),
        ("2026-03-01", "T1", "Laurea", "Org C", "training", 8, "q1 q2", 0, 0),
        ("2026-04-01", "T1", "Metropolia", "Org A", "communication", 0, None, 0, 500),
        ("2026-05-01", None, "Metropolia", "Org B", "mentoring_meeting", 3, None, 1, 0),
        ("2027-01-01", "T2", "Laurea", "Org C", "communication", 0, None, 0, 1200),
    ],
    columns=[
        "date",
        "round",
        "actor",
        "organisation",
        "activity",
        "participants",
        "person_ids",
        "creative_methods",
        "reach",
    ],
)

FEEDBACK = pd.DataFrame(
    {
        "date": ["2025-11-01"] * 6 + ["2026-03-01"] * 4,
        "round": ["T0"] * 6 + ["T1"] * 4,
        "actor": ["Metropolia"] * 6 + ["Laurea"] * 4,
        "organisation": ["Org A"] * 6 + ["Org C"] * 4,
        "activity": "training",
        "satisfaction": [4, 5, 4, 3, 5, 4, 5, 5, 4, np.nan],
        "competence_growth": [3, 4, 4, 4, 3, 4, 5, 4, 4, 4],
        "goal_attainment": [4] * 10,
    }
)

ORGANISATIONS = {
    "Org A": {"actor": "Metropolia"},
    "Org B": {"actor": "Metropolia"},
    "Org C": {"actor": "Laurea"},
    "Org D": {"actor": "Laurea"},
}

TARGETS = [
    {
        "id": "participants_metropolia",
        "aggregate": "nunique_person",
        "filter": {"actor": "Metropolia"},
        "target": 100,
        "unit": "persons",
    },
    {
        "id": "trainings",
        "aggregate": "count",
        "filter": {"activity": ["training", "workshop"]},
        "target": 3,
    },
    {
        "id": "training_participants",
        "aggregate": "sum",
        "measure": "participants",
        "filter": {"activity": "training"},
        "target": 20,
    },
    {
        "id": "mentoring_all",
        "aggregate": "share_organisations",
        "filter": {"activity": "mentoring_meeting"},
        "target": 0.8,
    },
    {
        "id": "mentoring_metropolia",
        "aggregate": "share_organisations",
        "filter": {"activity": "mentoring_meeting"},
        "population": {"actor": "Metropolia"},
        "target": 0.8,
    },
    {"id": "creative", "aggregate": "sum", "measure": "creative_methods", "target": 4},
    {
        "id": "reach",
        "aggregate": "sum",
        "measure": "reach",
        "filter": {"activity": "communication"},
        "target": 1000,
    },
    {
        "id": "satisfaction",
        "source": "feedback",
        "aggregate": "mean",
        "measure": "satisfaction",
        "target": 4.0,
    },
    {
        "id": "satisfaction_laurea",
        "source": "feedback",
        "aggregate": "mean",
        "measure": "satisfaction",
        "filter": {"actor": "Laurea"},
        "target": 4.0,
    },
    {
        "id": "communications_at_most_one",
        "aggregate": "count",
        "filter": {"activity": "communication"},
        "target": 1,
        "direction": "at_most",
    },
]


@pytest.fixture
def table() -> pd.DataFrame:
    return indicators_table(
        TARGETS,
        rounds=ROUNDS,
        activities=ACTIVITIES,
        feedback=FEEDBACK,
        organisations=ORGANISATIONS,
        min_n=5,
    )


def achieved(table: pd.DataFrame, indicator: str, group: str = "all") -> list[float]:
    rows = table[(table["indicator"] == indicator) & (table["group"] == group)].set_index("round")
    return [rows.loc[r, "achieved"] for r in [*ROUNDS, "all"]]


def test_layout(table):
    assert list(table.columns) == INDICATOR_COLUMNS
    # one row per round and "all" per target, plus the organisations of the two
    # share_organisations targets (4 and 2 in the denominators)
    assert len(table) == (len(TARGETS) + 4 + 2) * 4
    assert (table.loc[table["group_by"] == "all", "group"] == "all").all()
    assert list(table.loc[table["indicator"] == "trainings", "round"]) == [*ROUNDS, "all"]


def test_distinct_people_with_ids_and_counts_without(table):
    # T0: p1, p2, p3, p4; T1: + 2 people without ids (communication adds 0); all: + 3 (no round)
    assert achieved(table, "participants_metropolia") == [4, 6, 6, 9]
    row = table[(table["indicator"] == "participants_metropolia") & (table["round"] == "all")]
    assert row["status"].item() == "not_met" and row["window"].item() == "all"
    rounds = table[(table["indicator"] == "participants_metropolia") & (table["round"] != "all")]
    assert (rounds["window"] == "cumulative").all()
    assert row["share_of_target"].item() == pytest.approx(0.09)
    assert bool(row["met"].item()) is False
    assert row["unit"].item() == "persons" and row["n_records"].item() == 5


def test_counts_sums_and_cumulation(table):
    assert achieved(table, "trainings") == [2, 3, 3, 3]
    met = table.loc[table["indicator"] == "trainings", "met"].tolist()
    assert met == [False, True, True, True]
    assert achieved(table, "training_participants") == [10, 18, 18, 18]
    assert achieved(table, "creative") == [3, 3, 3, 4]
    assert achieved(table, "reach") == [0, 500, 1700, 1700]


def test_mentoring_model_adoption_share(table):
    assert achieved(table, "mentoring_all") == [0, 0.25, 0.25, 0.5]
    assert achieved(table, "mentoring_metropolia") == [0, 0.5, 0.5, 1.0]
    last = table[
        (table["indicator"] == "mentoring_metropolia")
        & (table["round"] == "all")
        & (table["group"] == "all")
    ]
    assert bool(last["met"].item()) is True
    # 2 of 2 organisations: Wilson 95 % interval (0.342, 1) holds the target 0.8
    assert last["ci_low"].item() == pytest.approx(0.3424, abs=1e-4)
    assert last["status"].item() == "uncertain" and last["interval_method"].item() == "wilson"


def test_feedback_means_and_suppression(table):
    sat = table[table["indicator"] == "satisfaction"].set_index("round")
    assert (sat.loc[ROUNDS, "window"] == "round").all()  # a mean: the round's own answers
    assert sat.loc["T0", "achieved"] == pytest.approx(25 / 6)
    # T1 alone: 3 answers (the empty one is not counted) < min_n; T2: none
    assert sat.loc[["T1", "T2"], "suppressed"].all()
    assert sat.loc["all", "achieved"] == pytest.approx(39 / 9)
    assert sat.loc["all", "n_records"] == 9
    assert not sat.loc[["T0", "all"], "suppressed"].any()
    laurea = table[table["indicator"] == "satisfaction_laurea"]
    assert laurea["suppressed"].all()  # at most 3 answers < min_n = 5
    assert laurea[["achieved", "share_of_target", "n_records"]].isna().all().all()
    assert laurea["met"].isna().all()


def test_at_most_direction(table):
    met = table.loc[table["indicator"] == "communications_at_most_one", "met"].tolist()
    assert met == [True, True, False, False]


def test_inputs_not_modified():
    acts, fb = ACTIVITIES.copy(deep=True), FEEDBACK.copy(deep=True)
    indicators_table(TARGETS, rounds=ROUNDS, activities=ACTIVITIES, feedback=FEEDBACK)
    pd.testing.assert_frame_equal(ACTIVITIES, acts)
    pd.testing.assert_frame_equal(FEEDBACK, fb)


def test_without_organisations_the_denominator_comes_from_the_data():
    out = indicators_table(TARGETS[3:4], rounds=ROUNDS, activities=ACTIVITIES)
    assert achieved(out, "mentoring_all") == [0, 1 / 3, 1 / 3, 2 / 3]  # Org A, B, C appear


def test_missing_source_gives_a_note():
    out = indicators_table(TARGETS[7:8], rounds=ROUNDS, activities=ACTIVITIES)
    assert out["achieved"].isna().all() and (out["note"] == "no feedback data").all()
    assert not out["suppressed"].any()


def test_invalid_targets_list_every_problem():
    bad = [
        {"id": "a", "aggregate": "median", "target": 1},
        {"id": "a", "aggregate": "sum", "target": "many"},
        {"aggregate": "count", "target": 1, "filter": {"nope": 1}},
    ]
    problems = check_targets(bad, columns={"activities": list(ACTIVITIES.columns)})
    text = "\n".join(problems)
    for fragment in ("median", "more than once", "needs a measure", "must be a number",
                     "id is missing", "'nope'"):  # fmt: skip
        assert fragment in text
    with pytest.raises(ValueError, match="invalid targets"):
        indicators_table(bad, rounds=ROUNDS, activities=ACTIVITIES)


# --- intervals, the status rule, per-organisation rows (issue 18, item 6) ---------------------

# Newcombe (1998), Stat Med 17:857-872, Table I, method 3 (score interval without continuity
# correction, Wilson 1927): 95 % limits for the paper's four examples.
NEWCOMBE_TABLE_I = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize(("k", "n", "low", "high"), NEWCOMBE_TABLE_I)
def test_wilson_interval_matches_newcombe_table_i(k, n, low, high):
    got = wilson_interval(k, n, ci=0.95)
    assert got == pytest.approx((low, high), abs=5e-5)
    # and the closed form (Wilson 1927) written out
    z, p = 1.959963984540054, k / n
    centre, half = p + z * z / (2 * n), z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert got == pytest.approx(
        ((centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n))
    )


def test_t_interval_of_a_mean_by_hand(table):
    # T0 satisfaction 4, 5, 4, 3, 5, 4: mean 25/6, sd = sqrt(17/30), t(0.975, 5) = 2.570582
    row = table[(table["indicator"] == "satisfaction") & (table["round"] == "T0")]
    half = 2.570582 * np.sqrt(17 / 30) / np.sqrt(6)
    assert row["ci_low"].item() == pytest.approx(25 / 6 - half, abs=1e-5)
    assert row["ci_high"].item() == pytest.approx(25 / 6 + half, abs=1e-5)
    assert row["interval_method"].item() == "t"
    # the point value 4.17 is above the target 4.0, but 4.0 lies within (3.38, 4.96)
    assert bool(row["met"].item()) is True and row["status"].item() == "uncertain"


def test_a_mean_of_zero_one_answers_gets_a_wilson_interval():
    feedback = FEEDBACK.assign(would_recommend=[1, 1, 1, 0, 1, 1, 1, 1, 0, 1])
    target = {"id": "recommend", "source": "feedback", "aggregate": "mean",
              "measure": "would_recommend", "target": 0.45}  # fmt: skip
    higher = {**target, "id": "recommend_half", "target": 0.5}
    out = indicators_table([target, higher], rounds=ROUNDS, feedback=feedback)
    rows = out[out["round"] == "all"].set_index("indicator")
    assert (rows["interval_method"] == "wilson").all()
    # 8 of 10: Wilson 95 % (0.490, 0.943)
    low, high = wilson_interval(8, 10)
    assert (rows.loc["recommend", "ci_low"], rows.loc["recommend", "ci_high"]) == (low, high)
    assert rows.loc["recommend", "status"] == "met"  # 0.45 below the lower end
    assert rows.loc["recommend_half", "status"] == "uncertain"  # 0.5 within


@pytest.mark.parametrize(
    ("achieved", "target", "direction", "low", "high", "status"),
    [
        (5.0, 5.0, "at_least", np.nan, np.nan, "met"),  # a count: exact, equal is met
        (4.0, 5.0, "at_least", np.nan, np.nan, "not_met"),
        (4.2, 4.0, "at_least", 4.0, 4.4, "met"),  # lower end at the target
        (3.8, 4.0, "at_least", 3.6, 4.0, "uncertain"),  # upper end at the target: within
        (3.7, 4.0, "at_least", 3.5, 3.99, "not_met"),
        (4.1, 4.0, "at_least", 3.9, 4.3, "uncertain"),  # met by the point, not by the interval
        (1.0, 1.0, "at_most", np.nan, np.nan, "met"),
        (2.0, 1.0, "at_most", np.nan, np.nan, "not_met"),
        (0.8, 1.0, "at_most", 0.6, 1.0, "met"),  # upper end at the target
        (1.2, 1.0, "at_most", 1.0, 1.4, "uncertain"),  # lower end at the target: within
        (1.2, 1.0, "at_most", 1.01, 1.4, "not_met"),
        (np.nan, 1.0, "at_least", np.nan, np.nan, None),
    ],
)
def test_status_rule(achieved, target, direction, low, high, status):
    got = indicator_status(achieved, target, direction=direction, ci_low=low, ci_high=high)
    assert got == status


def test_no_raw_booleans_in_status(table):
    assert set(table["status"]) <= {"met", "not_met", "uncertain", ""}
    assert (table.loc[table["suppressed"], "status"] == "").all()


PER_ORG = {
    "id": "people_per_org",
    "aggregate": "nunique_person",
    "filter": {"actor": "Metropolia"},
    "per": "organisation",
    "target": 3,
    "unit": "persons",
}


def rows_of(out: pd.DataFrame, group: str) -> pd.DataFrame:
    return out[out["group"] == group].set_index("round").loc[[*ROUNDS, "all"]]


def test_per_organisation_rows_by_hand():
    # Metropolia's organisations (from the study's organisations): Org A and Org B.
    # Org A: T0 p1 p2 p3; T1 + 2 without ids -> 5. Org B: T0 p3 p4; no round + 3 -> all 5.
    out = indicators_table([PER_ORG], rounds=ROUNDS, activities=ACTIVITIES,
                           organisations=ORGANISATIONS, min_n=1)  # fmt: skip
    assert set(out["group_by"]) == {"organisation"}  # a per-organisation target: no study row
    assert sorted(set(out["group"])) == ["Org A", "Org B"]
    assert list(rows_of(out, "Org A")["achieved"]) == [3, 5, 5, 5]
    assert list(rows_of(out, "Org B")["achieved"]) == [2, 2, 2, 5]
    assert list(rows_of(out, "Org A")["status"]) == ["met"] * 4
    assert list(rows_of(out, "Org B")["status"]) == ["not_met"] * 3 + ["met"]


def test_per_organisation_counts_of_persons_are_suppressed():
    out = indicators_table([PER_ORG], rounds=ROUNDS, activities=ACTIVITIES,
                           organisations=ORGANISATIONS, min_n=5)  # fmt: skip
    a, b = rows_of(out, "Org A"), rows_of(out, "Org B")
    # T0: 3 and 2 persons, both below 5. T1, T2: Org B's 2 is; Org A's 5 is hidden with it,
    # or the Metropolia total minus Org A would give Org B. all: 5 and 5 shown.
    assert list(a["suppressed"]) == [True, True, True, False]
    assert list(b["suppressed"]) == [True, True, True, False]
    assert a.loc["T1", "note"] == "hidden to protect a small organisation"
    hidden = out[out["suppressed"]]
    assert hidden[["achieved", "share_of_target", "n_records", "ci_low"]].isna().all().all()
    assert (hidden["status"] == "").all() and hidden["met"].isna().all()


def test_share_organisations_has_a_row_per_organisation(table):
    # mentoring: Org A from T1, Org B with a record without a round, C and D none
    assert achieved(table, "mentoring_all", "Org A") == [0, 1, 1, 1]
    assert achieved(table, "mentoring_all", "Org B") == [0, 0, 0, 1]
    assert achieved(table, "mentoring_all", "Org D") == [0, 0, 0, 0]
    org_a = table[(table["indicator"] == "mentoring_all") & (table["group"] == "Org A")]
    assert (org_a["target"] == 1).all() and list(org_a["status"])[-1] == "met"
    assert not org_a["suppressed"].any()  # an organisation's adoption is not a person count
    only_metropolia = table[table["indicator"] == "mentoring_metropolia"]
    assert set(only_metropolia["group"]) == {"all", "Org A", "Org B"}


def test_a_filter_on_one_organisation_gives_that_organisations_rows():
    target = {"id": "a_trainings", "aggregate": "count", "target": 1,
              "filter": {"organisation": "Org A", "activity": "training"}}  # fmt: skip
    out = indicators_table([target], rounds=ROUNDS, activities=ACTIVITIES)
    assert set(zip(out["group_by"], out["group"], strict=True)) == {("organisation", "Org A")}
    assert list(out["achieved"]) == [1, 1, 1, 1]


def test_unknown_per_is_a_problem():
    problems = check_targets([{**PER_ORG, "per": "unit"}])
    assert any("per 'unit' is not one of" in p for p in problems)
    problems = check_targets([{**TARGETS[3], "per": "organisation"}])
    assert any("cannot be used with aggregate share_organisations" in p for p in problems)


@pytest.mark.parametrize(
    ("per", "aggregate", "message"),
    [
        ("unit", "count", r"targets\[0\] \(trainings\)\.per: 'unit' is not one of all, organi"),
        ("organisation", "share_organisations",
         r"targets\[0\] \(trainings\)\.per: 'organisation' cannot be used with aggregate"),
    ],
)  # fmt: skip
def test_malformed_per_in_study_yaml_is_a_clear_config_error(tmp_path, per, aggregate, message):
    import yaml

    from evaluation.config import load_study
    from evaluation.errors import ConfigError
    from tests.conftest import STUDY_YAML, row, write_study

    config = yaml.safe_load(STUDY_YAML)
    target = {"id": "trainings", "aggregate": aggregate, "target": 0.5, "per": per}
    config["targets"] = [target]
    study = write_study(tmp_path, [row(resp="R1")], yaml.safe_dump(config, allow_unicode=True))
    with pytest.raises(ConfigError, match=message) as err:
        load_study(study)
    assert str(study / "config" / "study.yaml") in str(err.value)


# --- what a reader sees ------------------------------------------------------------------


@pytest.mark.parametrize("language", ["fi", "en"])
def test_rows_for_readers_have_words_not_booleans(table, language):
    from evaluation.config import load_labels
    from evaluation.report.display import display_table
    from evaluation.report.indicator_view import indicator_rows

    labels = load_labels(language)
    shown = indicator_rows(table, labels)
    assert "met" not in shown.columns and "status" not in shown.columns
    words = {labels[f"ind_status_{s}"] for s in ("met", "not_met", "uncertain")}
    assert set(shown["ind_status"]) <= words | {""}
    windows = {labels[f"ind_window_{w}"] for w in ("cumulative", "round", "all")}
    assert set(shown["ind_window"]) == windows
    html = display_table(shown, labels).to_html()
    for raw in ("True", "False", "not_met", "ind_status", "ind_window"):
        assert raw not in html
    if language == "fi":  # the English words happen to be the ids
        assert "uncertain" not in html and "cumulative" not in html
    rule = labels["ind_rule"].format(level="95", min_n=5)
    assert "95" in rule and "5" in rule


def test_trajectory_figure_draws_values_intervals_and_targets(table):
    from evaluation.report.plots import indicator_trajectory_plot

    study = table[table["group"] == "all"]
    fig = indicator_trajectory_plot(study, rounds=ROUNDS, labels={}, min_n=5)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == study["indicator"].nunique()
    satisfaction = next(ax for ax in axes if ax.get_title(loc="left") == "satisfaction")
    dashed = [line for line in satisfaction.get_lines() if line.get_linestyle() == "--"]
    assert [line.get_ydata()[0] for line in dashed] == [4.0]  # the target
    assert satisfaction.collections  # the error bar of T0's t interval
