"""Indicators vs targets on a small hand-built example whose answers are counted by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.analyse.quant.indicators import INDICATOR_COLUMNS, check_targets, indicators_table

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


def achieved(table: pd.DataFrame, indicator: str) -> list[float]:
    rows = table[table["indicator"] == indicator].set_index("round")
    return [rows.loc[r, "achieved"] for r in [*ROUNDS, "all"]]


def test_layout(table):
    assert list(table.columns) == INDICATOR_COLUMNS
    assert len(table) == len(TARGETS) * 4
    assert list(table.loc[table["indicator"] == "trainings", "round"]) == [*ROUNDS, "all"]


def test_distinct_people_with_ids_and_counts_without(table):
    # T0: p1, p2, p3, p4; T1: + 2 people without ids (communication adds 0); all: + 3 (no round)
    assert achieved(table, "participants_metropolia") == [4, 6, 6, 9]
    row = table[(table["indicator"] == "participants_metropolia") & (table["round"] == "all")]
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
    last = table[(table["indicator"] == "mentoring_metropolia") & (table["round"] == "all")]
    assert bool(last["met"].item()) is True


def test_feedback_means_and_suppression(table):
    sat = table[table["indicator"] == "satisfaction"].set_index("round")
    assert sat.loc["T0", "achieved"] == pytest.approx(25 / 6)
    assert sat.loc["T1", "achieved"] == pytest.approx(39 / 9)  # the empty answer is not counted
    assert sat.loc["T1", "n_records"] == 9
    assert not sat["suppressed"].any()
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
