"""Disclosure control: no suppressed cell can be recovered from the published tables.

The tests play the attacker: for every total that a grouping adds up to, they subtract the
published cells and check that what remains never belongs to a single suppressed cell.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.analyse.suppression import suppress
from evaluation.config import load_study
from evaluation.demo.generate import write_demo
from evaluation.disclosure.rules import NO_PARTITION, RULES, protect
from evaluation.pipeline.process import process
from tests.notebook_cells import run_cells


def _prepost(groups: dict[str, int], units: dict[str, dict[str, int]]) -> pd.DataFrame:
    rows = [("all", "all", sum(groups.values()))]
    rows += [("organisation", g, n) for g, n in groups.items()]
    rows += [("unit", f"{org} / {u}", n) for org, us in units.items() for u, n in us.items()]
    frame = pd.DataFrame(rows, columns=["group_by", "group", "n_round"])
    frame = frame.assign(
        measure="qwl", round="T1", baseline="T0", design="independent", test="welch_t",
        effect_size_type="hedges_g", correction="holm", family="f", n_baseline=frame["n_round"],
        mean_round=60.0 + np.arange(len(frame)), effect_size=0.3,
    )  # fmt: skip
    return suppress(frame, n_columns=["n_baseline", "n_round"], keep=RULES["prepost"].keep, min_n=5)


def _unknown_cells(frame: pd.DataFrame, name: str) -> pd.Series:
    """Per partition (of the table's rule) of two or more cells: how many are suppressed. (A
    partition of one cell equals its total, so both are suppressed or neither.)"""
    labels = RULES[name].partition(frame)
    counts = frame["suppressed"].groupby(labels).agg(["sum", "count"])
    return counts.loc[counts["count"] > 1, "sum"]


def test_a_lone_small_group_takes_the_next_smallest_with_it():
    frame = protect(_prepost({"A": 3, "B": 40, "C": 12}, {}), "prepost")
    by_group = frame.set_index("group")
    assert by_group.loc["A", "suppressed"] and by_group.loc["C", "suppressed"]
    assert not by_group.loc["B", "suppressed"] and not by_group.loc["all", "suppressed"]
    assert pd.isna(by_group.loc["C", "n_round"]) and pd.isna(by_group.loc["C", "mean_round"])
    # all - B is now the sum of two unknown cells: neither can be recovered.
    assert (_unknown_cells(frame, "prepost") != 1).all()


def test_two_small_groups_need_nothing_more():
    frame = protect(_prepost({"A": 3, "B": 4, "C": 12, "D": 30}, {}), "prepost")
    assert list(frame.loc[frame["suppressed"], "group"]) == ["A", "B"]


def test_ties_are_broken_by_name_deterministically():
    frame = protect(_prepost({"A": 2, "C": 9, "B": 9}, {}), "prepost")
    assert list(frame.loc[frame["suppressed"], "group"]) == ["A", "B"]


def test_a_suppressed_organisation_takes_its_units_with_it():
    units = {"A": {"u1": 2, "u2": 2}, "B": {"v1": 20, "v2": 21}, "C": {"w1": 6, "w2": 7}}
    groups = {org: sum(us.values()) for org, us in units.items()}
    frame = protect(_prepost(groups, units), "prepost")
    hidden = set(frame.loc[frame["suppressed"], "group"])
    # A (4) is primary; C (13) complements it at organisation level; C's units (6 and 7, both
    # large enough on their own) must go too, or C = w1 + w2.
    assert hidden == {"A", "A / u1", "A / u2", "C", "C / w1", "C / w2"}


def test_unit_partitions_are_protected_within_their_organisation():
    units = {"A": {"u1": 3, "u2": 30, "u3": 8}, "B": {"v1": 20}}
    groups = {org: sum(us.values()) for org, us in units.items()}
    frame = protect(_prepost(groups, units), "prepost")
    hidden = set(frame.loc[frame["suppressed"], "group"])
    assert hidden == {"A / u1", "A / u3"}


def test_respondent_counts_per_unit():
    frame = pd.DataFrame(
        {"round": "T0", "organisation": "A", "unit": ["u1", "u2", "u3"], "n": [3, 40, 9]}
    )
    frame = suppress(frame, n_columns=["n"], keep=RULES["respondents"].keep, min_n=5)
    frame = protect(frame, "respondents")
    assert list(frame["suppressed"]) == [True, False, True]


def test_tables_without_a_rule_pass_unchanged():
    frame = pd.DataFrame({"x": [1, 2], "suppressed": [True, False]})
    pd.testing.assert_frame_equal(protect(frame, "meta"), frame)


@pytest.mark.slow
@settings(deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(list("ABCDEFGH")),
        st.dictionaries(st.sampled_from(["u1", "u2", "u3"]), st.integers(0, 30), min_size=1),
        min_size=1,
    )
)
def test_no_partition_is_ever_left_with_one_unknown_cell(units):
    groups = {org: sum(us.values()) for org, us in units.items()}
    frame = protect(_prepost(groups, units), "prepost")
    assert (_unknown_cells(frame, "prepost") != 1).all()
    orgs = frame[frame["group_by"] == "organisation"].set_index("group")["suppressed"]
    for org, hidden in orgs.items():
        if hidden:  # a hidden organisation cannot be rebuilt from its units
            unit_rows = frame[frame["group"].str.startswith(f"{org} / ")]
            assert unit_rows["suppressed"].all()
    # Published rows are untouched by the complementary step.
    published = frame[~frame["suppressed"]]
    assert published["n_round"].notna().all() and published["mean_round"].notna().all()


@pytest.fixture(scope="module")
def demo_tables(tmp_path_factory):
    """The demo's tables of record, computed in-process (no notebooks)."""
    root = tmp_path_factory.mktemp("demo")
    write_demo(root, respondents=300)
    process(load_study(root))
    for notebook in ("10-data-quality", "20-prepost"):  # their code cells, in this process
        run_cells(notebook, root)
    return root / "reports" / "tables"


def test_the_demo_tables_leave_no_suppressed_cell_recoverable(demo_tables):
    for name in ("prepost", "trajectories", "respondents", "bands"):
        frame = pd.read_csv(demo_tables / f"{name}.csv", keep_default_na=False, na_values=[""])
        assert frame["suppressed"].any() or name in ("trajectories", "bands"), name
        unknown = _unknown_cells(frame, name)
        assert (unknown != 1).all(), (name, unknown[unknown == 1].index.tolist()[:5])


def test_the_attack_by_subtraction_fails_on_the_demo(demo_tables):
    """The attack itself: organisation n = total - sum of the other organisations."""
    frame = pd.read_csv(demo_tables / "prepost.csv", keep_default_na=False, na_values=[""])
    keys = ["measure", "round", "design", "test", "effect_size_type"]
    for _, block in frame.groupby(keys):
        total = block.loc[block["group_by"] == "all", "n_round"]
        orgs = block[block["group_by"] == "organisation"]
        if total.empty or pd.isna(total.iloc[0]) or not orgs["suppressed"].any():
            continue
        remainder = total.iloc[0] - orgs["n_round"].sum()  # what the hidden cells hold together
        assert orgs["suppressed"].sum() >= 2 and remainder >= 0


def test_every_table_the_demo_writes_is_covered_by_a_rule_or_listed(demo_tables):
    for path in demo_tables.glob("*.csv"):
        assert path.stem in RULES or path.stem in NO_PARTITION, path.name
